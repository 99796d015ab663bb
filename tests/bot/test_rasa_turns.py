"""bot/rasa_turns.py in Rasa's own env: inside a channel's message a failed custom action
aborts the turn (nothing gathered is answered), a form's rejection does not, and outside a
channel's message Rasa behaves as before. End to end: tests/e2e/test_conversations.py (the
action server down in the middle of a question)."""

from __future__ import annotations

import json
import subprocess

import pytest

from bot import paths

pytestmark = pytest.mark.integration

CHECK = r"""
import asyncio, json, socket, threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from rasa.core.actions.action import ActionExecutionRejection, RemoteAction
from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
from rasa.shared.core.domain import Domain
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.exceptions import RasaException
from rasa.utils.endpoints import EndpointConfig
from bot import rasa_turns

rasa_turns.apply()
rasa_turns.apply()

class Refuse(BaseHTTPRequestHandler):
    def do_POST(self):
        body = json.dumps({"error": "no such slot value", "action_name": "validate_x"}).encode()
        self.send_response(400); self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body))); self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args): pass

refusing = HTTPServer(("127.0.0.1", 0), Refuse)
threading.Thread(target=refusing.serve_forever, daemon=True).start()
with socket.socket() as s:
    s.bind(("127.0.0.1", 0)); closed = s.getsockname()[1]

def action(port):
    return RemoteAction("action_check_order", EndpointConfig(f"http://127.0.0.1:{port}/webhook"))

async def run(port):
    tracker = DialogueStateTracker.from_events("t", [])
    collector = CollectingOutputChannel()
    return await action(port).run(collector, None, tracker, Domain.empty())

async def outcome(port, in_turn):
    async def handler(message):
        message.output_channel.messages.append({"text": "said before the action"})
        await run(port)
    try:
        if in_turn:
            message = UserMessage("hi", CollectingOutputChannel(), "u1")
            await rasa_turns.whole_turns(handler)(message)
            return ["returned", message.output_channel.messages]
        await run(port)
        return ["returned", None]
    except ActionExecutionRejection:
        return ["rejected", None]
    except RasaException:
        return ["rasa exception", None]
    except rasa_turns.TurnAborted:
        return ["aborted", None]

async def main():
    return {
        "down, in a turn": await outcome(closed, True),
        "down, outside": await outcome(closed, False),
        "rejected, in a turn": await outcome(refusing.server_address[1], True),
        "after a turn": await outcome(closed, False),
    }

print(json.dumps(asyncio.run(main())))
"""


@pytest.fixture(scope="module")
def outcomes() -> dict[str, list]:
    done = subprocess.run(
        [str(paths.rasa_python()), "-c", CHECK],
        cwd=paths.ROOT, capture_output=True, text=True, timeout=300, check=True,
    )  # fmt: skip
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_a_failed_action_in_a_channel_turn_drops_the_turn_and_its_replies(
    outcomes: dict[str, list],
) -> None:
    assert outcomes["down, in a turn"] == ["returned", []]


def test_outside_a_channel_turn_rasa_behaves_as_before(outcomes: dict[str, list]) -> None:
    assert outcomes["down, outside"] == ["rasa exception", None]
    assert outcomes["after a turn"] == ["rasa exception", None]  # the turn's mark is reset


def test_a_form_refusing_a_value_is_not_a_failure(outcomes: dict[str, list]) -> None:
    assert outcomes["rejected, in a turn"] == ["rejected", None]
