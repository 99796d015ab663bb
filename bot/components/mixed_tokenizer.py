"""A tokenizer for English, Chinese and both mixed: Rasa's whitespace rules, then Chinese
runs cut into words.

Chinese has no spaces, so a whitespace tokenizer reads "订单SO-100123到哪了" as one token and
no entity extractor can find the order number inside it. This one tokenizes exactly as
Rasa's WhitespaceTokenizer does, then splits every token holding Chinese characters at the
boundaries between Chinese and Latin/digit runs, and cuts each Chinese run into words
(jieba, or single characters: ``segmentation: chars``; docs/benchmarks.md compares them).
Full-width forms are read as their ASCII ones (ＳＯ－１００１２３ as SO-100123) and Chinese
punctuation as spaces ("状态，SO-127703"), character by character, so offsets still point
into the text the user wrote and an entity's value is what they typed. Text without Chinese
characters gets the same tokens as the WhitespaceTokenizer, so English understanding does not
change.

    - name: bot.components.mixed_tokenizer.MixedScriptTokenizer
      segmentation: jieba        # or chars
"""

from __future__ import annotations

import re
import threading
import unicodedata
from typing import Any

from rasa.engine.graph import ExecutionContext
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.tokenizers.tokenizer import Token
from rasa.nlu.tokenizers.whitespace_tokenizer import WhitespaceTokenizer
from rasa.shared.nlu.training_data.message import Message

SEGMENTATIONS = ("jieba", "chars")
_HAN = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_HAN_RUN = re.compile(f"[{_HAN}]+")
# Within a token: Chinese runs, then runs of anything else that is a letter or digit.
_RUNS = re.compile(f"[{_HAN}]+|[^{_HAN}]+")
_jieba_lock = threading.Lock()


# Chinese punctuation that separates words, written without a space after it: read as a space
# ("状态，SO-127703" is two words). Full-width forms that can be part of an id or an email
# (－ ＃ ． ／ ＠ ＿) are read as their ASCII characters instead.
_SEPARATORS = frozenset(
    "\u3000、。〈〉《》「」『』【】〔〕〖〗〘〙〚〛〜〝〞〟"
    "！＂＇（），：；＜＝＞？［］｛｝～｟｠｡｢｣､"
)


def width_folded(text: str) -> str:
    """``text`` read as ASCII where it can be, character by character, so its length and
    offsets stay the same: full-width letters and digits as ASCII (NFKC), Chinese
    punctuation as spaces."""
    folded = []
    for char in text:
        if char in _SEPARATORS:
            folded.append(" ")
            continue
        normal = unicodedata.normalize("NFKC", char)
        folded.append(normal if len(normal) == 1 else char)
    return "".join(folded)


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.MESSAGE_TOKENIZER, is_trainable=False)
class MixedScriptTokenizer(WhitespaceTokenizer):
    """WhitespaceTokenizer for English; Chinese runs inside tokens cut into words."""

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {**WhitespaceTokenizer.get_default_config(), "segmentation": "jieba"}

    @staticmethod
    def required_packages() -> list[str]:
        return ["jieba"]

    @staticmethod
    def not_supported_languages() -> list[str] | None:
        return None

    def __init__(self, config: dict[str, Any]) -> None:
        super().__init__(config)
        segmentation = self._config.get("segmentation", "jieba")
        if segmentation not in SEGMENTATIONS:
            raise ValueError(
                f"segmentation must be one of {', '.join(SEGMENTATIONS)}, got {segmentation!r}"
            )
        self.segmentation = segmentation
        self._jieba: Any = None
        if segmentation == "jieba":
            self._jieba = _loaded_jieba()

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> MixedScriptTokenizer:
        return cls(config)

    def remove_emoji(self, text: str) -> str:
        """Rasa's emoji pattern spans the Chinese block (U+24C2 to U+1F251): a word of
        Chinese characters is a word, not an emoji."""
        return text if _HAN_RUN.search(text) else super().remove_emoji(text)

    def tokenize(self, message: Message, attribute: str) -> list[Token]:
        text = message.get(attribute)
        if not isinstance(text, str) or not text:
            return super().tokenize(message, attribute)
        folded = width_folded(text)
        tokens = super().tokenize(Message(data={attribute: folded}), attribute)
        if not _HAN_RUN.search(folded):
            return tokens
        split: list[Token] = []
        for token in tokens:
            if token.end - token.start != len(token.text) or not _HAN_RUN.search(token.text):
                split.append(token)
                continue
            split.extend(self._split(token))
        return split

    def _split(self, token: Token) -> list[Token]:
        pieces: list[Token] = []
        for run in _RUNS.finditer(token.text):
            start = token.start + run.start()
            if _HAN_RUN.fullmatch(run.group()):
                for word, offset in self._words(run.group()):
                    pieces.append(Token(word, start + offset))
            else:
                stripped = run.group().strip(" -_.,:;!?'\"()[]{}~")
                if stripped:
                    lead = run.group().index(stripped)
                    pieces.append(Token(stripped, start + lead))
        return pieces

    def _words(self, run: str) -> list[tuple[str, int]]:
        if self._jieba is None:
            return [(char, i) for i, char in enumerate(run)]
        return [(word, begin) for word, begin, _ in self._jieba.tokenize(run)]


def _loaded_jieba() -> Any:
    """jieba with its dictionary loaded (once per process; about a second)."""
    import jieba

    with _jieba_lock:
        jieba.setLogLevel(60)  # its start-up lines are not ours to show
        jieba.initialize()
    return jieba
