"""Conversation scripts: what a simulated customer types, turn by turn, and what each turn is.

A script is a list of :class:`Step`. Each step has a *kind*, the row it is reported under:

| kind | the customer | the assistant |
|---|---|---|
| chitchat | says hi, thanks or bye | small talk |
| ask_identity | asks about one of their orders or invoices | asks for email or postcode |
| order / invoice | gives their email or postcode | the ERP's answer |
| stock_name / stock_sku | names a product (partly, with typos) or gives its SKU | stock |
| doc | asks about returns, delivery, warranty... | a cited document answer |

Example:
    >>> steps = conversation(cast.people[0], cast, random.Random(1))
    >>> [step.kind for step in steps]
    ['chitchat', 'ask_identity', 'order', 'chitchat']
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from benchmarks.load.cast import Cast, Item, Person

CHITCHAT = "chitchat"
ASK_IDENTITY = "ask_identity"
ORDER = "order"
INVOICE = "invoice"
STOCK_NAME = "stock_name"
STOCK_SKU = "stock_sku"
DOC = "doc"
# A new session could not be opened (no turn was sent).
CONNECT = "connect"
KINDS = (CHITCHAT, ASK_IDENTITY, ORDER, INVOICE, STOCK_NAME, STOCK_SKU, DOC)
# The answers issue 13 holds to "ERP answers p95 <= 1.5 s".
ERP_KINDS = (ORDER, INVOICE, STOCK_NAME, STOCK_SKU)
# The assistant's question when several products fit (actions/inventory.py).
CHOICE = "which one do you mean"
# Words of the assistant's request for an email address or postcode (bot/domain).
IDENTITY_WORDS = ("email", "postcode")

GREETINGS = ("hi", "hello", "hey there", "good morning", "hiya", "hello, anyone there?")
THANKS = ("thanks", "thank you!", "cheers", "great, thanks a lot", "ok thank you")
GOODBYES = ("bye", "that's all, bye", "goodbye", "ok bye")
ORDER_QUESTIONS = (
    "where is my order {n}",
    "hi, any update on order {n}?",
    "can you check the status of {n} please",
    "has {n} shipped yet",
    "when will order {d} arrive",
    "status of my order #{d}",
    "track my parcel {n}",
)
INVOICE_QUESTIONS = (
    "is invoice {n} paid?",
    "what's the status of invoice {n}",
    "can you check invoice {n} for me",
    "how much is still due on {n}",
    "has my payment for invoice {d} come through?",
)
STOCK_QUESTIONS = (
    "is {x} in stock",
    "got any {x} left?",
    "do you have {x} available",
    "{x} in stock?",
    "how many {x} have you got",
    "can I order 20 {x} today",
    "check stock on {x} pls",
)
# Phrased as customers write them; none is a training example of data/nlu.
DOCUMENT_QUESTIONS = (
    "how many days do I have to send something back?",
    "can I return safety boots that don't fit",
    "do you charge a restocking fee if I return stuff",
    "how long until I get my refund",
    "do you deliver to Norway",
    "what does delivery cost for a small order",
    "can I get my order delivered on a saturday",
    "my parcel arrived damaged, what now?",
    "one box of my delivery is missing",
    "what warranty do power tools come with",
    "is wear and tear covered under warranty",
    "how do I claim on the warranty",
    "what payment methods can I use",
    "do you charge interest if I pay late",
    "how do I reset an X200 controller",
    "how do I add our VAT number",
)


@dataclass(frozen=True)
class Step:
    """One message of a script.

    ``expect`` holds words one of which the reply must contain to be the answer the step asks
    for (empty: any reply will do); ``if_asked`` steps are sent only when the previous reply
    asked for an email address or postcode.
    """

    kind: str
    text: str
    expect: tuple[str, ...] = ()
    if_asked: bool = False


def think_range(text: str) -> tuple[float, float]:
    """Seconds a customer thinks between messages: ``"5-10"`` → (5.0, 10.0), ``"7"`` → (7.0, 7.0).

    Raises:
        ValueError: not one or two non-negative numbers, or MIN above MAX.
    """
    low, _, high = text.strip().partition("-")
    try:
        bounds = (float(low), float(high or low))
    except ValueError:
        raise ValueError(f"think time must be MIN-MAX seconds, got {text!r}") from None
    if not 0 <= bounds[0] <= bounds[1]:
        raise ValueError(f"think time must be MIN-MAX with 0 <= MIN <= MAX, got {text!r}")
    return bounds


def on_script(step: Step, reply: str) -> bool:
    """Whether ``reply`` is the kind of answer ``step`` asked for."""
    lowered = reply.lower()
    return not step.expect or any(word.lower() in lowered for word in step.expect)


def asks_identity(reply: str) -> bool:
    """Whether the assistant asked for an email address or a postcode."""
    lowered = reply.lower()
    return any(word in lowered for word in IDENTITY_WORDS)


def order_steps(person: Person, rng: random.Random) -> list[Step]:
    """Ask about one of the person's own orders, then prove who they are."""
    number = rng.choice(person.orders)
    question = rng.choice(ORDER_QUESTIONS).format(n=number, d=number.removeprefix("SO-"))
    return [
        Step(ASK_IDENTITY, question, IDENTITY_WORDS),
        Step(ORDER, _identity(person, rng), (number,), if_asked=True),
    ]


def invoice_steps(person: Person, rng: random.Random) -> list[Step]:
    """Ask about one of the person's own invoices, then prove who they are."""
    number = rng.choice(person.invoices)
    question = rng.choice(INVOICE_QUESTIONS).format(n=number, d=number.removeprefix("INV-"))
    return [
        Step(ASK_IDENTITY, question, IDENTITY_WORDS),
        Step(INVOICE, _identity(person, rng), (number,), if_asked=True),
    ]


def stock_steps(products: Sequence[Item], rng: random.Random) -> list[Step]:
    """One or two stock questions, by name (whole, partial, with a typo) or by SKU."""
    steps = []
    for _ in range(rng.choice((1, 1, 2))):
        item = rng.choice(products)
        expect: tuple[str, ...]
        if rng.random() < 0.3:
            kind, written, expect = STOCK_SKU, odd_sku(item.sku, rng), (item.sku,)
        else:
            # A partial name may fit several products: asking which one is the right answer.
            kind, written, expect = STOCK_NAME, written_name(item.name, rng), (item.sku, CHOICE)
        steps.append(Step(kind, rng.choice(STOCK_QUESTIONS).format(x=written), expect))
    return steps


def document_steps(rng: random.Random) -> list[Step]:
    """One or two questions the company's documents answer."""
    return [Step(DOC, text) for text in rng.sample(DOCUMENT_QUESTIONS, rng.choice((1, 1, 2)))]


def chitchat_steps(rng: random.Random) -> list[Step]:
    """A visitor who only says hello and goodbye."""
    return [Step(CHITCHAT, rng.choice(GREETINGS)), Step(CHITCHAT, rng.choice(GOODBYES))]


# Conversation topics and how often a visit is about each.
TOPICS: tuple[tuple[str, int], ...] = (
    ("order", 30),
    ("stock", 30),
    ("invoice", 15),
    ("doc", 20),
    ("chitchat", 5),
)


def conversation(person: Person, cast: Cast, rng: random.Random) -> list[Step]:
    """One visit: maybe a greeting, the topic's steps, maybe thanks or bye."""
    topic = rng.choices([name for name, _ in TOPICS], weights=[w for _, w in TOPICS])[0]
    makers: dict[str, Callable[[], list[Step]]] = {
        "order": lambda: order_steps(person, rng),
        "invoice": lambda: invoice_steps(person, rng),
        "stock": lambda: stock_steps(cast.products, rng),
        "doc": lambda: document_steps(rng),
        "chitchat": lambda: chitchat_steps(rng),
    }
    steps = makers[topic]()
    if topic != "chitchat":
        if rng.random() < 0.4:
            steps.insert(0, Step(CHITCHAT, rng.choice(GREETINGS)))
        if rng.random() < 0.5:
            steps.append(Step(CHITCHAT, rng.choice(THANKS + GOODBYES)))
    return steps


def written_name(name: str, rng: random.Random) -> str:
    """A product name as customers type it: whole, lower case, a word short, or one typo."""
    words = name.split()
    way = rng.choice(("whole", "lower", "partial", "typo"))
    if way == "partial" and len(words) >= 3:
        # The first word (a colour or model) dropped: "Steel Widget Pro" for "Blue Steel
        # Widget Pro"; several products may fit, and the assistant then asks which.
        return " ".join(words[1:])
    if way == "typo":
        long = [i for i, word in enumerate(words) if len(word) >= 5 and word.isalpha()]
        if long:
            i = rng.choice(long)
            words[i] = _swap_letters(words[i], rng)
            return " ".join(words)
    return name.lower() if way == "lower" else name


def odd_sku(sku: str, rng: random.Random) -> str:
    """A SKU as typed: ``WID-1001``, ``wid-1001``, ``wid 1001`` or ``WID1001``."""
    letters, digits = sku.split("-", 1)
    letters = rng.choice((letters, letters.lower()))
    return f"{letters}{rng.choice(('-', ' ', ''))}{digits}"


def _swap_letters(word: str, rng: random.Random) -> str:
    """Two neighbouring letters inside the word swapped (``Wdiget``)."""
    i = rng.randrange(1, len(word) - 2)
    return word[:i] + word[i + 1] + word[i] + word[i + 2 :]


def _identity(person: Person, rng: random.Random) -> str:
    return person.email if rng.random() < 0.5 else person.postcode
