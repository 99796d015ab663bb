"""When the gateway escalates a conversation, and the rule and score it records for it.

Rules checked on the user's message before Rasa sees it (so Rasa never sees a message that
starts a handoff): a "Talk to a person" button or /human (``user_request``), a sensitive
topic from data/handoff/sensitive_topics.yml (``sensitive_topic:<name>``), frustration
(``frustration``). Rules Rasa reports in its reply, as a custom message
``{"handoff": {"rule": ..., "score": ..., "slots": {...}}}`` sent by actions/handoff.py
and read with contracts/handoff.py: any phrasing of asking for a person (``user_request``,
score = intent confidence) and two consecutive turns the bot could not answer
(``repeated_fallback``; counted in the action server, which sees every fallback and the NLU
confidence, see actions/handoff.py), and a change the ERP has no write for, which a colleague
makes instead (``write_not_supported``, actions/changes.py).
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import yaml

from connectors.handoff.errors import InvalidHandoffInput
from connectors.handoff.queue import Trigger
from connectors.messages import OutgoingMessage
from contracts.handoff import HANDOFF, USER_REQUEST, WRITE_NOT_SUPPORTED, parse_handoff
from i18n.currencies import currency_code

logger = logging.getLogger("connectors")

REQUEST_HUMAN_PAYLOAD = "/request_human"
USER_REQUEST_PRIORITY = 1
FALLBACK_PRIORITY = 1
FRUSTRATION_PRIORITY = 2
QUOTE_CHARS = 60


@dataclass(frozen=True)
class Escalation:
    """A trigger that fired, with the queue and priority of the handoff it opens."""

    trigger: Trigger
    queue: str = "customers"
    priority: int = 0
    slots: dict[str, Any] | None = None


# Chinese characters (CJK unified ideographs, extension A, compatibility ideographs).
_HAN = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_HAN_CHAR = re.compile(f"[{_HAN}]")
# Where a Chinese character meets a letter or digit: "根据GDPR" reads "根据 GDPR" to ``\b``
# (Chinese characters are word characters, so no ``\b`` falls between them and Latin text).
_SCRIPT_BOUNDARY = re.compile(rf"(?<=[{_HAN}])(?=[^\W{_HAN}])|(?<=[^\W{_HAN}])(?=[{_HAN}])")
# ``\b`` for Latin words, with a Chinese character counting as a space beside them.
_START = rf"(?<![^\W{_HAN}])"
_END = rf"(?![^\W{_HAN}])"

# Money in a message: "£1,250", "€600.50", "GBP 700", "1.5k euros", "900 quid", and the
# Chinese ways: "800英镑", "600 欧元", "1,200美元", "¥5000", "人民币5000", "5000元", "5000块",
# "5千英镑" (千 = 1,000), "1.5万欧元" (万 = 10,000); full-width "８００英镑" is read after NFKC.
# i18n/currencies.py reads the symbols and words as ISO codes. "块" is also the measure word
# for pieces ("3块钢板"), so it is money only before 钱, a particle, punctuation or the end
# ("退5000块", "5000块钱", "5000块吧").
_MULTIPLIERS = {"k": 1_000, "千": 1_000, "万": 10_000, "千万": 10_000_000}
_NUMBER = (
    r"(?P<num>\d{1,3}(?:,\d{3})+(?:\.\d{1,2})?|\d+(?:\.\d{1,2})?)"
    rf"\s?(?P<k>k{_END}|千万|千|万)?"
)
_MONEY = re.compile(
    rf"(?P<sym>[£€$¥])\s?{_NUMBER}"
    rf"|{_START}(?P<code>GBP|EUR|USD|CNY|RMB|人民币)\s?"
    rf"{_NUMBER.replace('num', 'num2').replace('<k>', '<k2>')}"
    rf"|{_START}(?<!-){_NUMBER.replace('num', 'num3').replace('<k>', '<k3>')}\s?"
    rf"(?P<word>(?:gbp|pounds?|quid|eur|euros?|usd|dollars?|cny|rmb){_END}"
    r"|英镑|镑|欧元|美元|美金|人民币|元|块钱|块(?=$|[^\w]|[的了吧吗呢啊呀哈给]))",
    re.IGNORECASE,
)
# A full-width comma between full-width digits groups thousands ("１，２００"); any other
# separates clauses ("退800，200美元是运费"), so it is not read as a thousands separator.
_FULL_WIDTH_THOUSANDS = re.compile("(?<=[０-９])，(?=[０-９]{3})")


def folded(text: str) -> str:
    """``text`` NFKC-folded (full-width letters, digits and punctuation as ASCII), with a space
    where Chinese characters meet letters or digits ("根据GDPR" reads "根据 GDPR"), so the
    topics' ``\\b`` patterns work inside Chinese sentences. Text without Chinese is only
    NFKC-folded."""
    text = unicodedata.normalize("NFKC", text)
    return _SCRIPT_BOUNDARY.sub(" ", text) if _HAN_CHAR.search(text) else text


@dataclass(frozen=True)
class Money:
    """An amount of money named in a message."""

    amount: Decimal
    currency: str
    text: str


def parse_money(text: str) -> list[Money]:
    """Every amount of money in ``text`` that carries a currency (bare numbers are ids).

    Example:
        >>> [(m.amount, m.currency) for m in parse_money("refund £1,250.50 or 2k euros")]
        [(Decimal('1250.50'), 'GBP'), (Decimal('2000'), 'EUR')]
        >>> [(m.amount, m.currency) for m in parse_money("退款８００英镑，另外1.5万欧元")]
        [(Decimal('800'), 'GBP'), (Decimal('15000.0'), 'EUR')]
    """
    text = _FULL_WIDTH_THOUSANDS.sub(",", text).replace("，", "， ")
    text = unicodedata.normalize("NFKC", text)
    found = []
    for match in _MONEY.finditer(text):
        groups = match.groupdict()
        number = groups["num"] or groups["num2"] or groups["num3"]
        thousands = groups["k"] or groups["k2"] or groups["k3"]
        if groups["sym"]:
            currency = currency_code(groups["sym"])
        elif groups["code"]:
            currency = currency_code(groups["code"])  # RMB and 人民币 are CNY
        else:
            currency = currency_code(groups["word"])
        try:
            amount = Decimal(number.replace(",", ""))
        except InvalidOperation:
            continue
        if thousands:
            amount *= _MULTIPLIERS[thousands.lower()]
        found.append(Money(amount, currency, match.group(0).strip()))
    return found


@dataclass(frozen=True)
class Topic:
    """One sensitive topic from the company's configuration."""

    name: str
    description: str
    queue: str
    priority: int
    patterns: tuple[re.Pattern[str], ...] = ()
    refund_above: dict[str, Decimal] = field(default_factory=dict)
    refund_words: tuple[str, ...] = ()

    def match(self, text: str) -> Escalation | None:
        """An escalation when ``text`` is about this topic, else None.

        Patterns see ``folded(text)``: full-width forms as ASCII, and Latin words inside
        Chinese sentences spaced off, so "根据GDPR删除" matches ``\\bgdpr\\b``.
        """
        seen = folded(text)
        for pattern in self.patterns:
            found = pattern.search(seen)
            if found:
                detail = f"{self.description} Matched {found.group(0)!r}."
                return self._escalation(1.0, detail)
        if self.refund_above and self._asks_refund(seen):
            for money in parse_money(text):
                limit = self.refund_above.get(money.currency)
                if limit is not None and money.amount > limit:
                    over = (money.amount - limit) / limit
                    score = float(min(Decimal(1), Decimal("0.5") + over / 2))
                    detail = (
                        f"{self.description} Refund of {money.text} is above "
                        f"{limit:,.2f} {money.currency}."
                    )
                    return self._escalation(round(score, 3), detail)
        return None

    def _asks_refund(self, text: str) -> bool:
        lowered = text.lower()
        # No \b before a Chinese word: there is none between two Chinese characters ("我要退款").
        return any(
            re.search(("" if _HAN_CHAR.match(word) else r"\b") + re.escape(word), lowered)
            for word in self.refund_words
        )

    def _escalation(self, score: float, detail: str) -> Escalation:
        trigger = Trigger(rule=f"sensitive_topic:{self.name}", score=score, detail=detail)
        return Escalation(trigger, queue=self.queue, priority=self.priority)


def load_topics(path: Path) -> list[Topic]:
    """Read the sensitive topics.

    Raises:
        InvalidHandoffInput: the file is missing or malformed; the message names the topic
            and the field.
    """
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise InvalidHandoffInput(f"cannot read sensitive topics {path}: {error}") from None
    except yaml.YAMLError as error:
        raise InvalidHandoffInput(f"{path} is not valid YAML: {error}") from None
    topics = data.get("topics") if isinstance(data, dict) else None
    if not isinstance(topics, dict):
        raise InvalidHandoffInput(f"{path} must have a 'topics' mapping")
    return [_topic(path, name, spec) for name, spec in topics.items()]


def _topic(path: Path, name: str, spec: Any) -> Topic:
    where = f"{path}: topic {name!r}"
    if not isinstance(spec, dict):
        raise InvalidHandoffInput(f"{where} must be a mapping")
    priority = spec.get("priority", 1)
    if not isinstance(priority, int):
        raise InvalidHandoffInput(f"{where}: priority must be an integer, got {priority!r}")
    patterns = []
    for raw in spec.get("patterns") or []:
        try:
            patterns.append(re.compile(str(raw), re.IGNORECASE))
        except re.error as error:
            raise InvalidHandoffInput(f"{where}: bad pattern {raw!r}: {error}") from None
    limits: dict[str, Decimal] = {}
    for currency, amount in (spec.get("refund_above") or {}).items():
        try:
            limits[str(currency).upper()] = Decimal(str(amount))
        except InvalidOperation:
            raise InvalidHandoffInput(
                f"{where}: refund_above.{currency} must be a number, got {amount!r}"
            ) from None
    if not patterns and not limits:
        raise InvalidHandoffInput(f"{where} needs patterns or refund_above")
    words = tuple(str(w).lower() for w in spec.get("refund_words") or ["refund"])
    return Topic(
        name=str(name),
        description=str(spec.get("description") or name).rstrip(".") + ".",
        queue=str(spec.get("queue") or "customers"),
        priority=priority,
        patterns=tuple(patterns),
        refund_above=limits,
        refund_words=words,
    )


class TriggerDetector:
    """The gateway's side of the triggers.

    Args:
        topics: the company's sensitive topics.
        frustration: scores a message 0-1 (``FrustrationClassifier.score``); None disables
            the rule.
        threshold: one message scoring at least this escalates.
        streak_threshold: two consecutive messages both scoring at least this escalate.

    Example:
        >>> detector = TriggerDetector(load_topics(Path("data/handoff/sensitive_topics.yml")))
        >>> detector.before_rasa("My solicitor will be in touch", previous=None).trigger.rule
        'sensitive_topic:legal_threat'
    """

    def __init__(
        self,
        topics: Sequence[Topic] = (),
        *,
        frustration: Callable[[str], float] | None = None,
        threshold: float = 0.65,
        streak_threshold: float = 0.5,
    ) -> None:
        self.topics = list(topics)
        self.frustration = frustration
        self.threshold = threshold
        self.streak_threshold = streak_threshold

    def before_rasa(self, text: str, *, previous: str | None) -> Escalation | None:
        """The escalation a user message starts, checked before Rasa; blocking (the model).

        ``previous`` is the user's message before this one, for the frustration streak.
        """
        if text.strip() == REQUEST_HUMAN_PAYLOAD:
            trigger = Trigger("user_request", 1.0, "clicked 'Talk to a person' or sent /human")
            return Escalation(trigger, priority=USER_REQUEST_PRIORITY)
        if text.startswith("/"):
            return None  # other button payloads carry no feeling and no topic
        for topic in self.topics:
            found = topic.match(text)
            if found is not None:
                return found
        if self.frustration is None:
            return None
        score = self.frustration(text)
        quote = _quote(text)
        if score >= self.threshold:
            detail = f"frustration {score:.2f} >= {self.threshold:.2f} on {quote}"
            return Escalation(Trigger("frustration", round(score, 3), detail),
                              priority=FRUSTRATION_PRIORITY)  # fmt: skip
        if score >= self.streak_threshold and previous and not previous.startswith("/"):
            before = self.frustration(previous)
            if before >= self.streak_threshold:
                detail = (
                    f"frustration {before:.2f} then {score:.2f}, both >= "
                    f"{self.streak_threshold:.2f}, on {_quote(previous)} and {quote}"
                )
                return Escalation(Trigger("frustration", round(score, 3), detail),
                                  priority=FRUSTRATION_PRIORITY)  # fmt: skip
        return None


def from_replies(
    replies: Sequence[OutgoingMessage],
) -> tuple[Escalation | None, list[OutgoingMessage]]:
    """Find the handoff request an action put in Rasa's reply; return it and the other replies.

    The reply carrying ``{"handoff": ...}`` is removed: the gateway tells the user itself,
    knowing whether anyone is there to answer. A malformed request is logged and ignored.
    """
    escalation = None
    kept = []
    for reply in replies:
        request = reply.custom.get(HANDOFF) if reply.custom else None
        if request is None:
            kept.append(reply)
            continue
        parsed = _parse_request(request)
        if parsed is None:
            logger.warning("ignoring a malformed handoff request from Rasa: %r", request)
            kept.append(OutgoingMessage(text=reply.text, buttons=reply.buttons, image=reply.image))
            continue
        escalation = escalation or parsed
    return escalation, kept


def _parse_request(request: Any) -> Escalation | None:
    requested = parse_handoff(request)
    if requested is None:
        return None
    trigger = Trigger(rule=requested.rule, score=requested.score, detail=requested.detail)
    # A change a colleague must make was asked for as plainly as a person.
    asked = requested.rule in (USER_REQUEST, WRITE_NOT_SUPPORTED)
    priority = USER_REQUEST_PRIORITY if asked else FALLBACK_PRIORITY
    return Escalation(trigger, priority=priority, slots=requested.slots)


def _quote(text: str) -> str:
    text = " ".join(text.split())
    return repr(text if len(text) <= QUOTE_CHARS else text[: QUOTE_CHARS - 3] + "...")
