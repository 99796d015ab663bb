"""The NLU tokenizer for English, Chinese and both mixed, run in the Rasa environment."""

from __future__ import annotations

import json
import subprocess
from typing import Any

import pytest

from bot import paths

SCRIPT = """
import json, sys
from rasa.nlu.tokenizers.whitespace_tokenizer import WhitespaceTokenizer
from rasa.shared.nlu.training_data.message import Message
from bot.components.mixed_tokenizer import MixedScriptTokenizer

texts = json.loads(sys.argv[1])
tokenizers = {
    "whitespace": WhitespaceTokenizer(WhitespaceTokenizer.get_default_config()),
    "jieba": MixedScriptTokenizer(MixedScriptTokenizer.get_default_config()),
    "chars": MixedScriptTokenizer({**MixedScriptTokenizer.get_default_config(),
                                   "segmentation": "chars"}),
}
out = {}
for name, tokenizer in tokenizers.items():
    out[name] = [
        [[t.text, t.start, t.end] for t in tokenizer.tokenize(Message(data={"text": text}), "text")]
        for text in texts
    ]
try:
    MixedScriptTokenizer({**MixedScriptTokenizer.get_default_config(), "segmentation": "x"})
except ValueError as error:
    out["bad"] = str(error)

# The regex featurizer on the same folded text: a full-width order number is an order number.
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.nlu.featurizers.sparse_featurizer.regex_featurizer import RegexFeaturizer
from bot.components.folded_regex import FoldedRegexFeaturizer
import tempfile, pathlib
patterns = [{"name": "order_number", "pattern": "(?i)(?<![A-Za-z0-9])(?:so[- ]?|#)?1\\d{5}"}]
storage = LocalModelStorage(pathlib.Path(tempfile.mkdtemp()))
context = ExecutionContext(GraphSchema({}), "test")
matched = {}
for name, cls in (("rasa", RegexFeaturizer), ("folded", FoldedRegexFeaturizer)):
    featurizer = cls({**cls.get_default_config()}, storage, Resource(name), context,
                     known_patterns=patterns)
    message = Message(data={"text": "订单ＳＯ－１４４４１８发货了吗"})
    tokenizers["jieba"].process([message])
    featurizer.process([message])
    matched[name] = [t.text for t in message.get("text_tokens")
                     if t.get("pattern", {}).get("order_number")]
out["regex"] = matched
print(json.dumps(out, ensure_ascii=False))
"""

ENGLISH = [
    "where's my order SO-100123?",
    "is WID-1001 in stock, 200 units pls",
    "my email is jane.doe@acme-supplies.co.uk & postcode M1 4BT",
    "ok :)",
]
MIXED = [
    "订单SO-100123到哪了？",
    "ＳＯ－１０５５２１，到哪了",
    "帮我check一下stock",
    "INV-200045付了吗",
    "麻烦check一下order status，SO-127703",
    "订单 SO-104471 能送到别的地址吗",
]


@pytest.fixture(scope="module")
def tokens() -> dict[str, Any]:
    result = subprocess.run(
        [str(paths.rasa_python()), "-c", SCRIPT, json.dumps(ENGLISH + MIXED)],
        cwd=paths.ROOT, capture_output=True, text=True, check=True, timeout=300,
    )  # fmt: skip
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_english_is_tokenized_exactly_as_rasas_whitespace_tokenizer_does(tokens: dict) -> None:
    count = len(ENGLISH)
    assert tokens["jieba"][:count] == tokens["whitespace"][:count]
    assert tokens["chars"][:count] == tokens["whitespace"][:count]


def test_ids_inside_chinese_are_tokens_of_their_own_pointing_at_what_was_typed(
    tokens: dict,
) -> None:
    texts = ENGLISH + MIXED
    for name in ("jieba", "chars"):
        found = tokens[name][len(ENGLISH) :]
        assert ["SO-100123", 2, 11] in found[0]
        assert ["INV-200045", 0, 10] in found[3]
        # Full-width forms read as ASCII; the offsets still cover what the user typed.
        assert ["SO-105521", 0, 9] in found[1]
        assert texts[len(ENGLISH) + 1][0:9] == "ＳＯ－１０５５２１"
        assert ["check", 2, 7] in found[2] and ["stock", 9, 14] in found[2]
    assert tokens["whitespace"][len(ENGLISH)][0][0] == "订单SO-100123到哪了"  # why it exists


def test_chinese_is_cut_into_words_or_characters(tokens: dict) -> None:
    jieba_words = [t[0] for t in tokens["jieba"][len(ENGLISH)]]
    chars = [t[0] for t in tokens["chars"][len(ENGLISH)]]
    assert jieba_words == ["订单", "SO-100123", "到", "哪", "了"]
    assert [t[0] for t in tokens["jieba"][len(ENGLISH) + 2]] == [
        "帮",
        "我",
        "check",
        "一下",
        "stock",
    ]
    assert chars == ["订", "单", "SO-100123", "到", "哪", "了"]


def test_an_unknown_segmentation_is_refused_naming_it(tokens: dict) -> None:
    assert tokens["bad"] == "segmentation must be one of jieba, chars, got 'x'"


def test_chinese_punctuation_separates_words(tokens: dict) -> None:
    words = [t[0] for t in tokens["jieba"][len(ENGLISH) + 4]]
    assert words[-3:] == ["order", "status", "SO-127703"]


def test_the_regex_featurizer_reads_full_width_ids_as_the_tokenizer_does(tokens: dict) -> None:
    assert tokens["regex"] == {"rasa": [], "folded": ["SO-144418"]}


def test_chinese_words_beside_an_id_are_not_taken_for_emoji(tokens: dict) -> None:
    # Rasa's emoji pattern covers the Chinese block: its whitespace tokenizer drops them.
    assert [t[0] for t in tokens["whitespace"][len(ENGLISH) + 5]] == ["SO-104471"]
    words = [t[0] for t in tokens["jieba"][len(ENGLISH) + 5]]
    assert words[:2] == ["订单", "SO-104471"] and "地址" in words
