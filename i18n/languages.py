"""Which language a message is written in: English or Simplified Chinese, offline.

Detection runs on what is left of a message once identifiers are taken out: "SO-100123",
"WID-1001", an email or a postcode say nothing about the language, so a message of only
those is neutral (None) and the conversation keeps its language. Text with no Chinese
characters is English (the other supported language has its own script); text with them is
decided by lingua (a maintained, offline detector: its models ship in the wheel), limited to
the two languages, so a Chinese question with an English word ("帮我check一下stock") is
Chinese and an English one with a Chinese thank-you is English.

Example:
    >>> detect_language("请问我的订单 SO-100123 状态如何？")
    'zh'
    >>> detect_language("SO-100123") is None
    True
"""

from __future__ import annotations

import re
import threading
from typing import TYPE_CHECKING, Literal, cast

if TYPE_CHECKING:
    from lingua import LanguageDetector

Language = Literal["en", "zh"]
LANGUAGES: tuple[Language, ...] = ("en", "zh")
DEFAULT_LANGUAGE: Language = "en"
# Text past this length says no more about its language; it only costs time.
MAX_DETECT_CHARS = 500

_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
# Identifiers and other language-neutral tokens, in ASCII or full-width forms.
_NEUTRAL = re.compile(
    r"\S+@\S+"  # emails
    r"|https?://\S+"
    # ids, SKUs and numbers, also in full-width forms
    r"|[A-Za-zＡ-Ｚａ-ｚ#＃]{0,8}[\s\-_－＿]?[0-9０-９][0-9０-９A-Za-zＡ-Ｚａ-ｚ\-－]*",
)
_LATIN_WORD = re.compile(r"[A-Za-z]{2,}")
# A button's payload or a chat command ("/request_human", "/csat 5", "/start"): no language.
_COMMAND = re.compile(r"^\s*/[A-Za-z_]+")

_lock = threading.Lock()
_detector: LanguageDetector | None = None


def as_language(value: object) -> Language | None:
    """``value`` if it names a supported language ("en", "zh", "zh-CN", "en_GB"), else None."""
    if not isinstance(value, str):
        return None
    code = value.strip().lower().replace("_", "-").split("-")[0]
    return cast(Language, code) if code in LANGUAGES else None


def is_chinese(text: str) -> bool:
    """Whether ``text`` holds any Chinese character."""
    return _HAN.search(text) is not None


def detect_language(text: str) -> Language | None:
    """The language ``text`` is written in, or None when it is neutral (ids, numbers, emoji,
    a button's payload)."""
    if _COMMAND.match(text):
        return None
    rest = _NEUTRAL.sub(" ", text[:MAX_DETECT_CHARS])
    if not is_chinese(rest):
        return "en" if any(_is_word(w) for w in _LATIN_WORD.findall(rest)) else None
    if not _LATIN_WORD.search(rest):
        return "zh"
    found = _lingua().detect_language_of(rest)
    return "en" if found is not None and found.name == "ENGLISH" else "zh"


def _is_word(letters: str) -> bool:
    """Whether Latin letters are a word of English, not a code: "AB" of the postcode
    "1012 AB", "OK", "UK" or "PO" say nothing of the writer's language."""
    return not (letters.isupper() and len(letters) <= 3)


def _lingua() -> LanguageDetector:
    """lingua's detector for English and Chinese, built on first use (about a second)."""
    global _detector
    with _lock:
        if _detector is None:
            from lingua import Language as LinguaLanguage
            from lingua import LanguageDetectorBuilder

            _detector = LanguageDetectorBuilder.from_languages(
                LinguaLanguage.ENGLISH, LinguaLanguage.CHINESE
            ).build()
        return _detector
