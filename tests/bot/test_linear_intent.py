"""The intent classifier, run in the Rasa environment: a second regression for messages with
Chinese characters, and nothing changed for data without Chinese."""

from __future__ import annotations

import json
import subprocess

from bot import paths

SCRIPT = """
import json, tempfile, pathlib
import numpy as np, scipy.sparse
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.nlu.training_data.features import Features
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData
from bot.components.linear_intent import LinearIntentClassifier

rng = np.random.default_rng(0)

def message(text, intent=None):
    data = {"text": text}
    if intent:
        data["intent"] = intent
    m = Message(data=data)
    counts = rng.integers(0, 3, size=(1, 6)).astype(float)
    m.add_features(Features(scipy.sparse.coo_matrix(counts), "sentence", "text", "ngrams"))
    m.add_features(Features(rng.normal(size=(1, 3)), "sentence", "text", "encoder"))
    return m

english = [message(f"order {i}", "order_status") for i in range(6)] + [
    message(f"stock {i}", "check_stock") for i in range(6)]
chinese = [message(f"订单 {i}", "order_status") for i in range(6)] + [
    message(f"库存 {i}", "check_stock") for i in range(6)]
storage = LocalModelStorage(pathlib.Path(tempfile.mkdtemp()))
base = {"sparse_weight": 0.5, "C": 10.0}
routed = {**base, "chinese": {"sparse_weight": 2.0, "C": 30.0}}
out = {}

def trained(config, examples, name):
    classifier = LinearIntentClassifier(config, storage, Resource(name))
    classifier.train(TrainingData(training_examples=examples))
    return classifier

# Data without Chinese: the default regression is the same with or without the block.
plain, with_block = trained(base, english, "a"), trained(routed, english, "b")
out["same_without_chinese"] = bool(np.allclose(plain.default.weights, with_block.default.weights))
# Each language's sparse features get their own weight.
both = trained(routed, english + chinese, "c")
en_row = both.default.features([english[0]])[:, 3:].toarray()
zh_row = both.chinese.features([chinese[0]])[:, 3:].toarray()
out["norms"] = [round(float(np.linalg.norm(en_row)), 3), round(float(np.linalg.norm(zh_row)), 3)]
# Chinese messages are classified by the Chinese regression only.
both.chinese.weights = np.zeros_like(both.chinese.weights)
both.chinese.bias = np.zeros_like(both.chinese.bias)
probabilities = both.probabilities([english[0], chinese[0]])
out["chinese_uniform"] = bool(np.allclose(probabilities[1], 0.5))
out["english_not"] = not bool(np.allclose(probabilities[0], 0.5))
try:
    LinearIntentClassifier({"chinese": {"sparse_weigth": 2}}, storage, Resource("d"))
except ValueError as error:
    out["bad"] = str(error)
print(json.dumps(out))
"""


def test_chinese_messages_get_their_own_regression_and_english_nothing_new() -> None:
    result = subprocess.run(
        [str(paths.rasa_python()), "-c", SCRIPT],
        cwd=paths.ROOT, capture_output=True, text=True, check=True, timeout=300,
    )  # fmt: skip
    out = json.loads(result.stdout.strip().splitlines()[-1])
    assert out == {
        "same_without_chinese": True,
        "norms": [0.5, 2.0],
        "chinese_uniform": True,
        "english_not": True,
        "bad": "LinearIntentClassifier: chinese may set featurizers, sparse_weight, C, "
        "got sparse_weigth",
    }
