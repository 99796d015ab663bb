"""The records analytics is computed from: Rasa's conversation events and the gateway's
handoffs, agent replies and ratings, as typed values (``reader`` loads them, tests build them).

Which events mean what (bot/domain, actions/handoff.py, actions/documents.py):

- a *fallback* turn: Rasa's core fallback (``action_default_fallback``, "Sorry, I didn't get
  that"), "that's outside what I can help with" (``action_out_of_scope``), the document
  search's "I don't know" (``utter_document_unknown``), or the second of these in a row, which
  the action server answers with a ``repeated_fallback`` handoff request instead;
- a *document question*: a turn ``action_answer_document_question`` answered (intent
  ``ask_document``, and NLU's low-confidence ``nlu_fallback``, which the rules send there);
  it is answered *"I don't know"* when that action said ``utter_document_unknown`` or asked
  for the ``repeated_fallback`` handoff.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# The channels of the gateway, as the first part of its conversation ids (``web:<key>``,
# ``rest:<client>:<id>``, ``telegram:<chat>``, ``slack:<team>:<user>``, ``console:<agent>``).
CHANNELS = ("web", "rest", "telegram", "slack", "console")
OTHER_CHANNEL = "other"

USER = "user"
BOT = "bot"
ACTION = "action"
SESSION_STARTED = "session_started"
EVENT_TYPES = (USER, BOT, ACTION, SESSION_STARTED)

DOCUMENT_ACTION = "action_answer_document_question"
FALLBACK_ACTIONS = ("action_default_fallback", "action_out_of_scope")
# The actions whose rows the reader loads (``action_listen`` and the rest say nothing here).
ACTIONS_READ = (DOCUMENT_ACTION, *FALLBACK_ACTIONS)
DONT_KNOW_RESPONSE = "utter_document_unknown"
FALLBACK_RESPONSES = ("utter_default", "utter_out_of_scope", DONT_KNOW_RESPONSE)
REPEATED_FALLBACK = "repeated_fallback"


def channel_of(conversation_id: str) -> str:
    """The channel of a conversation, from its id's prefix; ``other`` for an id the gateway
    did not make (a client talking to Rasa directly).

    Example:
        >>> channel_of("web:3f9a"), channel_of("rest:local:me"), channel_of("abc")
        ('web', 'rest', 'other')
    """
    prefix, colon, _ = conversation_id.partition(":")
    return prefix if colon and prefix in CHANNELS else OTHER_CHANNEL


@dataclass(frozen=True)
class TrackerEvent:
    """One row of Rasa's tracker store, with what analytics needs from its JSON.

    ``type_name`` is one of EVENT_TYPES; ``intent`` and ``text`` are set on ``user`` events,
    ``action`` on ``action`` events, ``response`` (the ``utter_*`` it came from) and
    ``handoff_rule`` (a handoff request's rule) on ``bot`` events.
    """

    sender_id: str
    type_name: str
    timestamp: float
    intent: str | None = None
    text: str | None = None
    action: str | None = None
    response: str | None = None
    handoff_rule: str | None = None


@dataclass(frozen=True)
class HandoffFact:
    """A handoff as the gateway stored it: why (``rule``, e.g. ``user_request`` or
    ``sensitive_topic:legal``) and when, in seconds since the epoch."""

    id: int
    conversation_id: str
    channel: str
    rule: str
    created_at: float
    resolved_at: float | None = None


@dataclass(frozen=True)
class AgentReply:
    """A message an agent wrote to a customer (the gateway's transcript, role ``agent``)."""

    conversation_id: str
    at: float


@dataclass(frozen=True)
class Rating:
    """A customer's 1-5 rating of the help they got in a handoff."""

    handoff_id: int
    score: int
    at: float


@dataclass(frozen=True)
class GatewayFacts:
    """What only the gateway knows: handoffs, agents' replies and ratings."""

    handoffs: list[HandoffFact] = field(default_factory=list)
    agent_replies: list[AgentReply] = field(default_factory=list)
    ratings: list[Rating] = field(default_factory=list)
