"""What may reach the logs, the same in the gateway and the action server: personal data
redacted, conversation ids as short stable hashes (so one conversation can be followed through
both processes)."""

from __future__ import annotations

import hashlib
import re

_EMAIL = re.compile(r"[\w.!#$%&'*+/=?^`{|}~-]+@[\w-]+(?:\.[\w-]+)+")

# A run of digits with common separators. Whether it is a phone number is decided in
# _phone_or_keep, so that order numbers, amounts and ISO dates survive.
_DIGIT_RUN = re.compile(r"(?<![\w+-])\+?\(?\d[\d ().-]{5,}\d(?![\w-])")
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")

_US_STATES = (
    "AL|AK|AZ|AR|CA|CO|CT|DE|DC|FL|GA|HI|ID|IL|IN|IA|KS|KY|LA|ME|MD|MA|MI|MN|MS|MO|MT|NE|NV|NH|"
    "NJ|NM|NY|NC|ND|OH|OK|OR|PA|RI|SC|SD|TN|TX|UT|VT|VA|WA|WV|WI|WY|PR"
)

_POSTCODES = [
    # United Kingdom: "SW1A 1AA", "M1 1AE", "EC1A1BB".
    re.compile(r"\b[A-Z]{1,2}\d[A-Z\d]? ?\d[A-Z]{2}\b", re.IGNORECASE),
    # Canada: "K1A 0B1".
    re.compile(r"\b[A-Z]\d[A-Z] ?\d[A-Z]\d\b", re.IGNORECASE),
    # Netherlands: "1012 AB".
    re.compile(r"\b[1-9]\d{3} ?[A-Z]{2}\b"),
    # United States ZIP+4: "90210-1234".
    re.compile(r"\b\d{5}-\d{4}\b"),
    # Bare 4-5 digit codes only where the context says they are postcodes, since order
    # and invoice numbers look the same: "postcode 10115", "zip: 90210".
    re.compile(r"\b(?:post ?code|postal code|zip(?: code)?|plz)\b:?\s*\d{4,5}\b", re.IGNORECASE),
    # A US state code followed by a ZIP: "TX 78701" (case-sensitive, so "no 12345" survives).
    re.compile(rf"\b(?:{_US_STATES}),? \d{{5}}\b"),
]


def redact(text: str) -> str:
    """Replace emails, phone numbers and postcodes in ``text`` with placeholders.

    Meant for log lines, so it errs towards redacting: a false positive costs a little
    debugging context, a false negative leaks personal data.

    Example:
        >>> redact("mail jo@example.com or call +44 20 7946 0958")
        'mail [email] or call [phone]'
    """
    text = _EMAIL.sub("[email]", text)
    # Postcodes before phones, so a ZIP+4 is not mistaken for a phone number.
    for pattern in _POSTCODES:
        text = pattern.sub("[postcode]", text)
    return _DIGIT_RUN.sub(_phone_or_keep, text)


def conversation_tag(conversation_id: str) -> str:
    """A short stable stand-in for a conversation id in log lines.

    Conversation ids carry web session keys, REST client ids (often emails) and chat ids;
    the tag lets one follow a conversation through the logs without revealing any of them.

    Example:
        >>> conversation_tag("web:abc")
        'c-c607a5c811'
    """
    digest = hashlib.sha256(conversation_id.encode("utf-8", "surrogatepass")).hexdigest()
    return "c-" + digest[:10]


def _phone_or_keep(match: re.Match[str]) -> str:
    candidate = match.group()
    digits = sum(char.isdigit() for char in candidate)
    if _ISO_DATE.fullmatch(candidate) or digits > 15:
        return candidate
    # Seven digits is a local number only when written like one ("555-1234", "+1 555 1234");
    # a bare seven-digit run is more likely an order number.
    written_as_phone = candidate.startswith("+") or not candidate.isdigit()
    if digits >= 9 or (written_as_phone and digits >= 7):
        return "[phone]"
    return candidate
