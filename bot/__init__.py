"""The assistant as a whole: settings, CLI, process launcher and the Rasa domain (bot/domain)."""
