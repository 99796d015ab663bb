"""Two costs Rasa 3.6 pays that this assistant does not need (runs in Rasa's env).

Measured with py-spy on the Rasa process while 50 web chat users talked to the assistant
(`make bench-load`, docs/benchmarks.md "Answers under load"):

- Rasa checks every action server response against its JSON schema with
  ``jsonschema.validate``, which checks the schema itself first, every time: 11% of Rasa's
  CPU. The schema is fixed, so it is checked once here and its validator kept.
- The first predictions after a start trace TED's TensorFlow function and allocate the
  sentence encoder's buffers: the first turns took seconds while every later one took
  tenths, and under load every user queued behind them. ``warm_up`` runs the NLU and the
  policies on a few messages before the server accepts a connection (trackers built in
  memory, nothing stored), so the launcher's health check passes only once Rasa is warm.

``apply()`` is called by bot/rasa_server.py before Rasa's own main.
"""

from __future__ import annotations

import functools
import logging
import time
from typing import Any

logger = logging.getLogger(__name__)

# One message per kind of turn: small talk, ERP facts (with an entity), documents.
WARM_UP_TEXTS = (
    "hello",
    "where is my order SO-100123",
    "is WID-1001 in stock",
    "is invoice INV-200045 paid",
    "what is your returns policy",
)
# Predictions per message: enough to reach a form, its validation and listening again.
WARM_UP_STEPS = 4


def apply() -> None:
    """Patch Rasa's action response check and agent loading (idempotent)."""
    import rasa.core.run as rasa_run
    from rasa.core.actions.action import RemoteAction

    RemoteAction._validate_action_result = validate_action_result
    if getattr(rasa_run.load_agent_on_start, "warms_up", False):
        return
    load = rasa_run.load_agent_on_start

    @functools.wraps(load)
    async def load_and_warm_up(*args: Any, **kwargs: Any) -> Any:
        agent = await load(*args, **kwargs)
        await warm_up(agent)
        return agent

    load_and_warm_up.warms_up = True  # type: ignore[attr-defined]
    rasa_run.load_agent_on_start = load_and_warm_up


@functools.cache
def response_validator() -> Any:
    """A validator of Rasa's action response schema, the schema checked once."""
    from jsonschema.validators import validator_for
    from rasa.core.actions.action import RemoteAction

    schema = RemoteAction.action_response_format_spec()
    cls = validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


def validate_action_result(self: Any, result: dict[str, Any]) -> bool:
    """``RemoteAction._validate_action_result`` with the same error, without the schema check.

    Raises:
        jsonschema.ValidationError: the response does not fit the schema (the error
            ``jsonschema.validate`` would have raised, with Rasa's advice appended).
    """
    from jsonschema.exceptions import best_match
    from rasa.shared.constants import DOCS_BASE_URL

    error = best_match(response_validator().iter_errors(result))
    if error is None:
        return True
    error.message += (
        ". Failed to validate Action server response from API, make sure your response "
        "from the Action endpoint is valid. For more information about the format visit "
        f"{DOCS_BASE_URL}/custom-actions"
    )
    raise error


async def warm_up(agent: Any) -> None:
    """Parse each of WARM_UP_TEXTS and predict a few actions after it; never raises."""
    from rasa.shared.core.constants import ACTION_LISTEN_NAME, ACTION_SESSION_START_NAME
    from rasa.shared.core.events import ActionExecuted, SessionStarted, UserUttered
    from rasa.shared.core.trackers import DialogueStateTracker

    processor = agent.processor
    if processor is None:
        return
    started = time.perf_counter()
    predictions = 0
    try:
        for text in WARM_UP_TEXTS:
            parsed = await agent.parse_message(text)
            tracker = DialogueStateTracker.from_events(
                "warm-up",
                [
                    ActionExecuted(ACTION_SESSION_START_NAME),
                    SessionStarted(),
                    ActionExecuted(ACTION_LISTEN_NAME),
                    UserUttered(text, parsed.get("intent"), parsed.get("entities"), parsed),
                ],
                slots=agent.domain.slots,
                domain=agent.domain,
            )
            for _ in range(WARM_UP_STEPS):
                prediction = processor.predict_next_with_tracker(tracker)
                predictions += 1
                if not prediction:
                    break
                action = max(prediction["scores"], key=lambda score: score["score"])["action"]
                if action == ACTION_LISTEN_NAME:
                    break
                tracker.update(ActionExecuted(action), agent.domain)
    except Exception:
        # A server that answers slowly at first is better than one that does not start.
        logger.exception("Rasa's warm-up failed; the first turns will be slower")
        return
    logger.info(
        "Rasa warmed up in %.1f s (%d messages, %d predictions)",
        time.perf_counter() - started,
        len(WARM_UP_TEXTS),
        predictions,
    )
