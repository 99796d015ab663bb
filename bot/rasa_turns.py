"""A message's turn is kept whole or not at all (runs in Rasa's env).

When a custom action fails (the action server is down, killed in the middle of the call, or
answers an error), Rasa 3.6 logs it, "continues, but the action's events are lost", and saves
the turn: the user's message, the slots Rasa filled from it and the failed action stay in the
tracker with nothing the action would have added. The gateway tells the user to try again, but
the resent message then follows a half-made turn, and taking the message back (a ``rewind``)
cannot mend it: inside a form, Rasa folds a repeated form execution into the one before it, so
the rewind reverts the whole question (a customer's postcode, resent, came back as the help
menu).

Here a failed custom action ends the turn instead, for messages arriving through the gateway's
channel (bot/rasa_channel.py): nothing of the turn is saved or published (Rasa saves a
tracker only after its last action), the replies gathered so far are dropped, and the channel
answers with no reply, which the gateway turns into "temporarily unavailable, please try
again". The resent message starts the turn again from where the conversation was. Outside a
channel's message (the HTTP API's /execute, training, tests) Rasa behaves as before.

``apply()`` is called by bot/rasa_server.py before Rasa's own main.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from typing import Any

logger = logging.getLogger(__name__)

_IN_CHANNEL_TURN: ContextVar[bool] = ContextVar("in_channel_turn", default=False)


class TurnAborted(BaseException):
    """A custom action failed inside a channel's message: the turn is dropped.

    A BaseException: Rasa's processor catches every Exception an action raises and goes on.
    """


def apply() -> None:
    """Make a failed custom action abort the channel turn it runs in (idempotent)."""
    from rasa.core.actions.action import ActionExecutionRejection, RemoteAction

    if getattr(RemoteAction.run, "aborts_turns", False):
        return
    original = RemoteAction.run

    @functools.wraps(original)
    async def run(self: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return await original(self, *args, **kwargs)
        except ActionExecutionRejection:
            raise  # a form refusing a slot: Rasa's normal unhappy path
        except Exception as error:
            if _IN_CHANNEL_TURN.get():
                raise TurnAborted(f"custom action {self.name()!r} failed: {error}") from error
            raise

    run.aborts_turns = True  # type: ignore[attr-defined]
    RemoteAction.run = run


def whole_turns(
    on_new_message: Callable[[Any], Awaitable[Any]],
) -> Callable[[Any], Awaitable[None]]:
    """``on_new_message`` (Rasa's handler of a channel's message) with its turn kept whole: a
    failed custom action leaves the tracker as it was and the message without replies."""

    @functools.wraps(on_new_message)
    async def handle(message: Any) -> None:
        token = _IN_CHANNEL_TURN.set(True)
        try:
            await on_new_message(message)
        except TurnAborted as aborted:
            logger.warning(
                "turn of %s dropped, nothing kept (the user is asked to try again): %s",
                message.sender_id,
                aborted,
            )
            replies = getattr(message.output_channel, "messages", None)
            if isinstance(replies, list):
                replies.clear()
        finally:
            _IN_CHANNEL_TURN.reset(token)

    return handle
