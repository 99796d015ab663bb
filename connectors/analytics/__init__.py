"""Conversation analytics for the support lead: figures from Rasa's conversation events and
the gateway's handoffs, ratings and agent replies, shown at /agent/analytics.

The parts, each usable alone:

- ``records``: the typed events and facts the figures are computed from;
- ``compute``: the pure computation of the figures (``compute_report``), in ``report``'s types;
- ``reader``: loads the records with SQLAlchemy Core (date range and channel in SQL);
- ``query``: the page's parameters, validated; ``export`` (CSV) and ``charts`` (SVG);
- ``service``: engines, a short cache and worker threads; ``http``: the console's routes.
"""
