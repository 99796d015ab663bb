"""Channels gateway: every channel (REST, web chat, Telegram, Slack) reaches Rasa through here.

Usage::

    from connectors.gateway import create_app

    app = create_app()  # settings from the environment; serve with uvicorn
"""
