"""Grounding guard: every number, id, date, price and name in an answer must be in its context.

Facts are pulled out of the answer with normalisation, so a faithful rewording passes
("£1,234.50" for "1234.50 GBP", "20 Nov 2026" for "2026-11-20", "order 100123" for
"SO-100123") while an invented or changed value fails.

Example:
    >>> from models.examples import ContextItem
    >>> item = ContextItem("ERP order SO-100123", "status: shipped\\ntotal: 1234.50 GBP", "x")
    >>> check("Your order SO-100123 came to £1,234.50.", [item]).passed
    True
    >>> check("Your order SO-100123 came to £1,324.50.", [item]).unsupported
    ['£1,324.50']
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING

from i18n.currencies import currency_code
from models.examples import REFUSAL, ContextItem

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

MAX_TEXT_CHARS = 100_000  # longer texts are cut: no answer or context is that long

MONTHS = {
    name: number
    for number, names in enumerate(
        (
            ("january", "jan"),
            ("february", "feb"),
            ("march", "mar"),
            ("april", "apr"),
            ("may",),
            ("june", "jun"),
            ("july", "jul"),
            ("august", "aug"),
            ("september", "sept", "sep"),
            ("october", "oct"),
            ("november", "nov"),
            ("december", "dec"),
        ),
        start=1,
    )
    for name in names
}
NUMBER_WORDS = {
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "fifteen": 15,
    "twenty": 20,
    "thirty": 30,
    "forty": 40,
    "fifty": 50,
    "hundred": 100,
}
# Every dash and minus sign a writer (or a model) may use, read as a plain hyphen.
_DASHES = dict.fromkeys(
    map(ord, "\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe58\ufe63\uff0d"), "-"
)

_CLAUSE_MARKS = {ord("，"): ", ", ord("；"): "; "}
_NUM = r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?"
_MONTH = "|".join(sorted(MONTHS, key=len, reverse=True))
_WEEKDAY = r"(?:mon|tue|tues|wed|thu|thur|thurs|fri|sat|sun)[a-z]{0,6},?\s{1,3}"
# Quantifiers are bounded and patterns anchored at word starts, so a long odd input (a
# 200,000-character word) costs linear time, not quadratic.
_EMAIL = re.compile(
    r"(?<![A-Za-z0-9._%+\-])[A-Za-z0-9._%+\-]{1,64}@[A-Za-z0-9\-]{1,63}"
    r"(?:\.[A-Za-z0-9\-]{1,63}){0,8}\.[A-Za-z]{2,24}(?![A-Za-z])"
)
_URL = re.compile(
    r"(?<![\w@.\-])(?:https?://|www\.)[^\s<>()\"']{1,2000}"
    r"|(?<![\w@.\-])[a-z0-9\-]{1,63}(?:\.[a-z0-9\-]{1,63}){0,8}"
    r"\.(?:example|com|org|net|io|eu|uk|nl|de)(?:/[^\s<>()\"']{0,2000})?(?![\w\-])",
    re.IGNORECASE,
)
_IP = re.compile(r"(?<![\d.])\d{1,3}(?:\.\d{1,3}){3}(?![\d.])")
_ISO_DATE = re.compile(
    r"(?<!\d)(\d{4})-(\d{1,2})-(\d{1,2})(?:[T ](\d{1,2}):(\d{2})(?::\d{2}(?:\.\d{1,9})?)?)?(?!\d)"
)
_NUMERIC_DATE = re.compile(r"(?<![\d.])(\d{1,2})([/.])(\d{1,2})\2(\d{4}|\d{2})(?![\d.])")
_DAY_MONTH = re.compile(
    rf"(?<![\w])(?:{_WEEKDAY})?(\d{{1,2}})(?:st|nd|rd|th)?\s{{1,3}}(?:of\s{{1,3}})?({_MONTH})\.?"
    r"(?:,?\s{1,3}(\d{4}))?(?![\w])",
    re.IGNORECASE,
)
_MONTH_DAY = re.compile(
    rf"(?<![\w])(?:{_WEEKDAY})?({_MONTH})\.?\s{{1,3}}(\d{{1,2}})(?:st|nd|rd|th)?"
    r"(?:,?\s{1,3}(\d{4}))?(?![\w])",
    re.IGNORECASE,
)
# Month and year without a day: capitalised, so "you may 2026" is never a date.
# Chinese dates: 2026年11月3日, 11月3号 (day and month without a year).
_CHINESE_DATE = re.compile(r"(?<!\d)(?:(\d{4})\s?年\s?)?(\d{1,2})\s?月\s?(\d{1,2})\s?[日号](?!\d)")
_MONTH_YEAR = re.compile(
    r"(?<![\w])(January|February|March|April|May|June|July|August|September|October|November"
    r"|December|Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec)\.?\s{1,3}(\d{4})(?![\w])"
)
_TIME = re.compile(
    r"(?<![\d:])(\d{1,2}):(\d{2})(?::\d{2})?(?:\s{0,3}([ap])\.?m\b\.?)?(?![\d:])"
    r"|(?<![\w:])(\d{1,2})\s{0,3}([ap])\.?m\b\.?",
    re.IGNORECASE,
)
_PHONE = re.compile(
    r"(?<![\w+])\+\d{1,3}(?:[ \-]?\(?\d{1,5}\)?){2,5}(?!\d)"
    r"|(?<![\w])\(?0\d{2,4}\)?(?:[ \-]\d{3,4}){1,3}(?![\d])"
)
_PERCENT = re.compile(rf"(?<![\d.,])({_NUM})\s?(?:%|percent\b|per cent\b)", re.IGNORECASE)
_MONEY = re.compile(
    rf"([£€$])\s?({_NUM})"
    rf"|\b(GBP|EUR|USD)\s?({_NUM})"
    rf"|(?<![\d.,])({_NUM})\s?(GBP|EUR|USD|pounds?|euros?|dollars?)\b",
    re.IGNORECASE,
)
# Chinese amounts: ¥5,000 and 600欧元, 800 英镑, 5000元.
_MONEY_ZH = re.compile(rf"(¥)\s?({_NUM})|(?<![\d.,])({_NUM})\s?(英镑|欧元|美元|人民币|元)")
_ORDER_ID = re.compile(r"(?<![A-Za-z0-9])SO[ \-_#]?(\d{6})(?![0-9])", re.IGNORECASE)
_INVOICE_ID = re.compile(r"(?<![A-Za-z0-9])INV[ \-_#]?(\d{6})(?![0-9])", re.IGNORECASE)
_HASH_ID = re.compile(r"(?<![\w#])#\s?(\d{6})(?![0-9])")
_SKU = re.compile(r"(?<![A-Za-z0-9\-])(?:([A-Z]{3})[\-_]?|([a-z]{3})[\-_])(\d{4})(?![0-9])")
# Any word mixing letters and digits: tracking numbers, part and model codes, units.
_MIXED = re.compile(
    r"(?<![A-Za-z0-9])(?=[A-Za-z0-9\-/.]{0,60}\d)(?=[A-Za-z0-9\-/.]{0,60}[A-Za-z])"
    r"[A-Za-z0-9]+(?:[\-/.][A-Za-z0-9]+)*(?![A-Za-z0-9])"
)
_NUMBER_WITH_UNIT = re.compile(r"\d+(?:[.,]\d+)?(?:[\-x/]\d+(?:[.,]\d+)?)*(?:-?[A-Za-z]+)?")
_NUMBER = re.compile(rf"(?<![\d.,])(?:{_NUM})(?![\d])")
_NUMBER_WORD = re.compile(rf"\b({'|'.join(NUMBER_WORDS)})\b", re.IGNORECASE)
_ANY_DIGITS = re.compile(r"\d+")
_SPAN_TRIM = ".,;:!?)]}'\""


@dataclass(frozen=True)
class Fact:
    """One checkable fact found in a text: what kind, as written, and its normalised key."""

    kind: str
    text: str
    key: str


@dataclass(frozen=True)
class GuardResult:
    """Whether every fact in an answer is supported by its context, and which are not."""

    passed: bool
    unsupported: list[str] = field(default_factory=list)
    checked: int = 0


def normalise_text(text: str) -> str:
    """NFKC, ASCII digits for any script's digits, plain hyphens for every dash, a space after
    Chinese full-width commas.

    Raises:
        TypeError: ``text`` is not a string.
    """
    if not isinstance(text, str):
        raise TypeError(f"text must be a string, got {type(text).__name__}")
    # Chinese full-width commas separate clauses: NFKC would glue "5,000，6" into one number.
    text = unicodedata.normalize("NFKC", text[:MAX_TEXT_CHARS].translate(_CLAUSE_MARKS))
    if not text.isascii():
        text = "".join(_ascii_digit(char) for char in text)
    return text.translate(_DASHES)


def _ascii_digit(char: str) -> str:
    value = unicodedata.decimal(char, None)
    return str(value) if value is not None and not char.isascii() else char


def _number_key(raw: str) -> str | None:
    try:
        value = Decimal(raw.replace(",", ""))
    except InvalidOperation:
        return None
    if not value.is_finite():
        return None
    text = format(value.normalize(), "f")
    return f"num:{text}"


def _date_key(year: int | None, month: int, day: int) -> str | None:
    try:
        date(year or 2000, month, day)
    except ValueError:
        return None
    if year is None:
        return f"date:--{month:02d}-{day:02d}"
    return f"date:{year:04d}-{month:02d}-{day:02d}"


def _year(raw: str | None) -> int | None:
    if not raw:
        return None
    year = int(raw)
    return year + 2000 if year < 100 else year


def _time_key(hour: int, minute: int, half: str | None) -> str | None:
    if half:
        if not 1 <= hour <= 12:
            return None
        hour = hour % 12 + (12 if half.lower() == "p" else 0)
    if hour > 24 or minute > 59:
        return None
    return f"time:{hour % 24:02d}:{minute:02d}"


def _url_key(raw: str) -> str:
    text = raw.lower().rstrip(_SPAN_TRIM + "/")
    text = re.sub(r"^https?://", "", text)
    return "url:" + re.sub(r"^www\.", "", text).rstrip("/")


def _phone_key(raw: str) -> str | None:
    digits = "".join(_ANY_DIGITS.findall(raw))
    if len(digits) < 9:
        return None
    return "phone:" + digits[-10:]


def _money_facts(match: re.Match[str]) -> list[tuple[str, str]]:
    symbol = match[1] or match[3] or match[6]
    amount = match[2] or match[4] or match[5]
    number = _number_key(amount)
    if number is None:
        return []
    currency = currency_code(symbol)
    return [("money", f"money:{currency}:{number[4:]}")]


def _money_zh_facts(match: re.Match[str]) -> list[tuple[str, str]]:
    number = _number_key(match[2] or match[3])
    if number is None:
        return []
    return [("money", f"money:{currency_code(match[1] or match[4])}:{number[4:]}")]


def _code_key(raw: str) -> str:
    return "code:" + re.sub(r"[\-/._ ]", "", raw.upper())


# Extractors run in this order on the answer; each masks what it found so that later, looser
# patterns (plain numbers) do not count the same characters twice.
Extractor = Callable[[re.Match[str]], list[tuple[str, str]]]


def _one(kind: str, key: str | None) -> list[tuple[str, str]]:
    return [(kind, key)] if key else []


def _iso(match: re.Match[str]) -> list[tuple[str, str]]:
    found = _one("date", _date_key(int(match[1]), int(match[2]), int(match[3])))
    if found and match[4]:
        found += _one("time", _time_key(int(match[4]), int(match[5]), None))
    return found


def _numeric_date(match: re.Match[str]) -> list[tuple[str, str]]:
    first, second, year = int(match[1]), int(match[3]), _year(match[4])
    # Day first (the company is British); a first part above 12 can only be a day anyway,
    # and a second part above 12 means the writer put the month first.
    key = _date_key(year, second, first) or _date_key(year, first, second)
    return _one("date", key)


def _day_month(match: re.Match[str]) -> list[tuple[str, str]]:
    if _modal(match[2]):
        return []
    return _one("date", _date_key(_year(match[3]), MONTHS[match[2].lower()], int(match[1])))


def _month_day(match: re.Match[str]) -> list[tuple[str, str]]:
    if _modal(match[1]):
        return []
    return _one("date", _date_key(_year(match[3]), MONTHS[match[1].lower()], int(match[2])))


def _modal(month: str) -> bool:
    """Lower-case "may" and "mar" are words ("up to 5 may apply"), not months."""
    return month in ("may", "mar")


def _month_year(match: re.Match[str]) -> list[tuple[str, str]]:
    return [("date", f"month:{int(match[2]):04d}-{MONTHS[match[1].lower()]:02d}")]


def _time(match: re.Match[str]) -> list[tuple[str, str]]:
    if match[1] is not None:
        return _one("time", _time_key(int(match[1]), int(match[2]), match[3]))
    return _one("time", _time_key(int(match[4]), 0, match[5]))


def _sku(match: re.Match[str]) -> list[tuple[str, str]]:
    prefix = (match[1] or match[2]).upper()
    return [("id", f"id:{prefix}-{match[3]}")]


def _hash_id(match: re.Match[str]) -> list[tuple[str, str]]:
    return [("id", key) for key in _six_digit_ids(match[1])] or _one(
        "number", _number_key(match[1])
    )


def _six_digit_ids(digits: str) -> list[str]:
    number = int(digits)
    if 100000 <= number <= 199999:
        return [f"id:SO-{digits}"]
    if 200000 <= number <= 299999:
        return [f"id:INV-{digits}"]
    return []


def _mixed(match: re.Match[str]) -> list[tuple[str, str]]:
    raw = match[0]
    if _NUMBER_WITH_UNIT.fullmatch(raw):
        # "30W", "24-month", "600x600": the numbers are the facts, the unit is wording.
        return [("number", k) for k in map(_number_key, re.findall(r"\d+(?:\.\d+)?", raw)) if k]
    return [("code", _code_key(raw))]


_EXTRACTORS: tuple[tuple[re.Pattern[str], Extractor], ...] = (
    (_EMAIL, lambda m: [("email", "email:" + m[0].lower().rstrip(_SPAN_TRIM))]),
    (_URL, lambda m: [("url", _url_key(m[0]))]),
    (_IP, lambda m: [("ip", "ip:" + m[0])]),
    (_ISO_DATE, _iso),
    (_NUMERIC_DATE, _numeric_date),
    (_DAY_MONTH, _day_month),
    (_MONTH_DAY, _month_day),
    (_CHINESE_DATE, lambda m: _one("date", _date_key(_year(m[1]), int(m[2]), int(m[3])))),
    (_MONTH_YEAR, _month_year),
    (_TIME, _time),
    (_PHONE, lambda m: _one("phone", _phone_key(m[0]))),
    (_PERCENT, lambda m: _one("percent", "pct:" + (_number_key(m[1]) or "")[4:])),
    (_MONEY, _money_facts),
    (_MONEY_ZH, _money_zh_facts),
    (_ORDER_ID, lambda m: [("id", f"id:SO-{m[1]}")]),
    (_INVOICE_ID, lambda m: [("id", f"id:INV-{m[1]}")]),
    (_HASH_ID, _hash_id),
    (_SKU, _sku),
    (_MIXED, _mixed),
    (_NUMBER, lambda m: _one("number", _number_key(m[0]))),
    (_NUMBER_WORD, lambda m: [("number", f"num:{NUMBER_WORDS[m[1].lower()]}")]),
)


def _masked(text: str, regex: re.Pattern[str], extractor: Extractor, facts: list[Fact]) -> str:
    """Add the facts ``regex`` finds to ``facts``; return the text with them blanked out.

    Blanking keeps later, looser patterns (plain numbers) from counting the same characters
    again; the text is rebuilt once per pattern, not once per match.
    """
    pieces: list[str] = []
    last = 0
    for match in regex.finditer(text):
        found = extractor(match)
        if not found:
            continue
        written = match[0].strip().rstrip(_SPAN_TRIM) or match[0]
        facts.extend(Fact(kind, written, key) for kind, key in found)
        pieces += [text[last : match.start()], " " * (match.end() - match.start())]
        last = match.end()
    if not pieces:
        return text
    pieces.append(text[last:])
    return "".join(pieces)


def extract_facts(text: str, *, product_names: Collection[str] = ()) -> list[Fact]:
    """The facts a reader could check in ``text``, each with a normalised key.

    Example:
        >>> [f.key for f in extract_facts("Due 20 Nov 2026: £12.50 on INV-200123")]
        ['date:2026-11-20', 'money:GBP:12.5', 'id:INV-200123']

    Args:
        text: Any text; odd unicode (other scripts' digits, fancy dashes) is normalised.
        product_names: Catalogue names to recognise as facts too.

    Returns:
        Facts in order of kind, then position; a value written twice appears twice.

    Raises:
        TypeError: ``text`` is not a string.
    """
    text = normalise_text(text)
    facts: list[Fact] = []
    pattern = _product_pattern(_frozen(product_names))
    if pattern is not None:
        text = _masked(text, pattern, lambda m: [("product", "product:" + _name_key(m[0]))], facts)
    for regex, extractor in _EXTRACTORS:
        text = _masked(text, regex, extractor, facts)
    return facts


def support_keys(text: str, *, product_names: Collection[str] = ()) -> frozenset[str]:
    """Every key a fact in an answer may match to count as supported by ``text``.

    Generous on purpose: besides the facts themselves it holds every digit run as a number,
    the day and month of each date without its year, the month of each date, the amounts of
    money without their currency, the digits of ids and the ids a bare six-digit number may
    stand for, and the currencies mentioned.
    """
    facts = extract_facts(text, product_names=product_names)
    keys = {fact.key for fact in facts}
    for fact in facts:
        if fact.key.startswith("date:") and len(fact.key) == len("date:2026-11-20"):
            keys.add(f"date:--{fact.key[-5:]}")
            keys.add(f"month:{fact.key[5:12]}")
        elif fact.key.startswith("money:"):
            currency, amount = fact.key[6:].split(":", 1)
            keys.add(f"num:{amount}")
            keys.add(f"currency:{currency}")
    plain = normalise_text(text)
    for match in _NUMBER.finditer(plain):
        keys.update(filter(None, [_number_key(match[0])]))
    for digits in _ANY_DIGITS.findall(plain):
        keys.update(filter(None, [_number_key(digits)]))
        if len(digits) == 6:
            keys.update(_six_digit_ids(digits))
    for match in _NUMBER_WORD.finditer(plain):
        keys.add(f"num:{NUMBER_WORDS[match[1].lower()]}")
    for match in _MIXED.finditer(plain):
        keys.add(_code_key(match[0]))
    for match in _PHONE.finditer(plain):
        keys.update(filter(None, [_phone_key(match[0])]))
    for word in re.findall(r"[£€$]|\b(?:GBP|EUR|USD|pounds?|euros?|dollars?)\b", plain, re.I):
        keys.add(f"currency:{currency_code(word)}")
    return frozenset(keys)


def _supported(fact: Fact, keys: frozenset[str]) -> bool:
    if fact.key in keys:
        return True
    if fact.kind == "money":
        # "£12.50" is supported by "unit price 12.50 ... in GBP": same amount, currency named.
        currency, amount = fact.key[6:].split(":", 1)
        return f"num:{amount}" in keys and f"currency:{currency}" in keys
    if fact.kind == "id":
        # "WID-1001" against a context that wrote "wid1001".
        return _code_key(fact.key[3:]) in keys
    return False


def context_text(context: Sequence[ContextItem] | str) -> str:
    """The text a guard checks against: each item's source line and its text.

    Raises:
        TypeError: ``context`` is neither a string nor a sequence of ContextItem.
    """
    if isinstance(context, str):
        return context
    parts: list[str] = []
    for item in context:
        if not isinstance(item, ContextItem):
            raise TypeError(f"context items must be ContextItem, got {type(item).__name__}")
        parts.append(f"{item.source}\n{item.text}")
    return "\n\n".join(parts)


def check(
    answer: str,
    context: Sequence[ContextItem] | str,
    *,
    product_names: Collection[str] = (),
) -> GuardResult:
    """Check that every number, id, date, time, price, contact and product name is grounded.

    The refusal sentence always passes. Both sides are normalised first (case, digit
    scripts, dashes, thousand separators, currency symbols and codes, date formats), so
    rewording a value is fine and changing it is not.

    Example:
        >>> check("It costs £13.50.", "Price: 12.50 GBP").unsupported
        ['£13.50']

    Args:
        answer: The generated answer.
        context: The passages and ERP facts shown to the model (sources count too), or the
            same as one string.
        product_names: Catalogue product names; one named in the answer must be named in
            the context.

    Returns:
        ``passed`` and the unsupported facts as they were written in the answer.

    Raises:
        TypeError: ``answer`` is not a string, or ``context`` holds something else than
            ContextItem.
    """
    if not isinstance(answer, str):
        raise TypeError(f"answer must be a string, got {type(answer).__name__}")
    reference = context_text(context)
    if answer.strip() == REFUSAL:
        return GuardResult(passed=True)
    facts = extract_facts(answer, product_names=product_names)
    if not facts:
        return GuardResult(passed=True)
    keys = support_keys(reference, product_names=product_names)
    unsupported = list(dict.fromkeys(fact.text for fact in facts if not _supported(fact, keys)))
    return GuardResult(passed=not unsupported, unsupported=unsupported, checked=len(facts))


def product_names_from_erp(*, session: Session) -> frozenset[str]:
    """Every product name in the ERP catalogue, to pass to :func:`check` as ``product_names``.

    Example:
        >>> with session_scope() as session:
        ...     names = product_names_from_erp(session=session)

    Args:
        session: Open ERP database session (the caller owns it).
    """
    from sqlalchemy import select

    from erp.models import Product

    return frozenset(name for name in session.scalars(select(Product.name)) if name.strip())


def _frozen(names: Collection[str]) -> frozenset[str]:
    if isinstance(names, str):
        raise TypeError("product_names must be a collection of names, not one string")
    return names if isinstance(names, frozenset) else frozenset(names)


def _name_key(name: str) -> str:
    return " ".join(name.lower().split())


@functools.lru_cache(maxsize=8)
def _product_pattern(names: frozenset[str]) -> re.Pattern[str] | None:
    """One regex for the catalogue, longest names first so "Blue Widget XL" beats "Blue Widget"."""
    cleaned = sorted(
        {" ".join(normalise_text(n).split()) for n in names if isinstance(n, str) and n.strip()},
        key=lambda n: (-len(n), n),
    )
    if not cleaned:
        return None
    alternatives = "|".join(re.escape(name).replace(r"\ ", r"\s+") for name in cleaned)
    return re.compile(rf"(?<![A-Za-z0-9])(?:{alternatives})(?![A-Za-z0-9])", re.IGNORECASE)
