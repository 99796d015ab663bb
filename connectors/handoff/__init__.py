"""Human handoff: triggers, the durable queue, delivery of agent replies, hours and summaries.

Usage::

    from connectors.handoff.queue import HandoffQueue, Trigger

    queue = HandoffQueue(store)
    handoff = await queue.escalate("web:abc", "web", Trigger("user_request", 0.97, "asked"))
"""
