"""bot/rasa_speedups.py in Rasa's own env: the cached response check raises what Rasa's did,
and the warm-up runs the trained model's NLU and policies without storing anything."""

from __future__ import annotations

import json
import subprocess

import pytest

from bot import paths

pytestmark = pytest.mark.integration

CHECK = r"""
import asyncio, json, sys
import jsonschema
from bot import rasa_speedups
import rasa.core.run as rasa_run
from rasa.core.actions.action import RemoteAction

rasa_speedups.apply()
rasa_speedups.apply()
schema = RemoteAction.action_response_format_spec()
action = RemoteAction.__new__(RemoteAction)
samples = [
    {"events": [{"event": "slot", "name": "sku", "value": "WID-1001"}],
     "responses": [{"text": "Yes, it is in stock."}]},
    {"events": [], "responses": []},
    {"events": "not a list"},
    {"events": [{"no_event_name": 1}]},
    {"events": [{"event": "slot", "name": 5, "timestamp": "yesterday"}]},
]
results = []
for sample in samples:
    try:
        jsonschema.validate(sample, schema)
        expected = None
    except jsonschema.ValidationError as error:
        expected = error.message
    try:
        action._validate_action_result(sample)
        got = None
    except jsonschema.ValidationError as error:
        got = error.message
    results.append([expected, got])

async def warm() -> list:
    from rasa.core.agent import load_agent
    agent = await load_agent(model_path=sys.argv[1])
    seen = []
    original = agent.processor.predict_next_with_tracker
    def predict(tracker, *args, **kwargs):
        seen.append(tracker.latest_message.text)
        return original(tracker, *args, **kwargs)
    agent.processor.predict_next_with_tracker = predict
    await rasa_speedups.warm_up(agent)
    return seen

print(json.dumps({
    "results": results,
    "wraps_loading": getattr(rasa_run.load_agent_on_start, "warms_up", False),
    "predicted_after": asyncio.run(warm()),
}))
"""


@pytest.fixture(scope="module")
def outcome() -> dict:
    if not paths.MODEL_FILE.exists():
        pytest.fail(f"no trained model at {paths.MODEL_FILE}: run `python -m bot setup`")
    done = subprocess.run(
        [str(paths.rasa_python()), "-c", CHECK, str(paths.MODEL_FILE)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=paths.ROOT,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_the_cached_check_accepts_and_refuses_what_rasa_did(outcome: dict) -> None:
    results = outcome["results"]
    assert [expected is None for expected, _ in results] == [True, True, False, False, False]
    for expected, got in results:
        if expected is None:
            assert got is None
        else:
            assert got.startswith(expected + ". Failed to validate Action server response")


def test_loading_the_model_warms_it_up_on_every_kind_of_message(outcome: dict) -> None:
    from bot.rasa_speedups import WARM_UP_TEXTS

    assert outcome["wraps_loading"] is True
    # Every warm-up message reached the policies, each at least once.
    assert set(outcome["predicted_after"]) == set(WARM_UP_TEXTS)
