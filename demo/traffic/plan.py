"""The demo conversations: who says what, decided up front and the same for the same seed.

Customers are real demo-ERP customers (``benchmarks.load.cast``: their own orders and invoices,
proved with their email or postcode) and real products; the turns reuse the load test's
scripts (``benchmarks.load.scripts``) and add what the analytics page is about: questions the
documents cannot answer, messages the bot cannot place, people asking for a person, and
the rating they give the agent who answered.

Example:
    >>> plan = plan_traffic(cast, count=300, seed=17)
    >>> plan[0].sender, [step.kind for step in plan[0].steps]
    ('demo-17-0000', ['ask_identity', 'order'])
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

from benchmarks.load.cast import Cast
from benchmarks.load.scripts import (
    CHITCHAT,
    GOODBYES,
    GREETINGS,
    THANKS,
    Step,
    chitchat_steps,
    document_steps,
    invoice_steps,
    order_steps,
    stock_steps,
)

UNANSWERED = "doc_unanswered"
FALLBACK = "fallback"
HANDOFF = "handoff"

# Conversation kinds and how often each comes.
KINDS: tuple[tuple[str, int], ...] = (
    ("order", 22),
    ("invoice", 12),
    ("stock", 20),
    ("document", 14),
    ("unanswered", 10),
    ("fallback", 7),
    ("handoff", 10),
    ("chitchat", 5),
)
# Questions the company documents (data/docs) do not answer: what to write next.
UNANSWERABLE = (
    "do you sell gift cards?",
    "can I pay with bitcoin",
    "do you have a loyalty scheme with points",
    "is there a student discount",
    "can you engrave our logo on the widgets",
    "do you price match other suppliers",
    "are you hiring in the warehouse",
    "is your packaging plastic free",
    "do you sponsor local football teams",
    "can I bring my dog when I collect an order",
)
# Messages the bot cannot place: nonsense and things outside its job.
NONSENSE = (
    "asdfgh jkl",
    "????",
    "blorp zzz",
    "k",
    "what's the weather like tomorrow",
    "tell me a joke",
    "who won the football last night",
    "can you book me a taxi",
)
ASK_FOR_PERSON = (
    "I want to talk to a person",
    "can I speak to someone real please",
    "get me a human",
    "I need to speak to customer service",
    "this isn't helping, put me through to an agent",
    "can a member of staff call me back",
)
AGENT_REPLIES = (
    "Hi, thanks for waiting. I've looked into this and sorted it for you; you'll get an "
    "email confirmation shortly.",
    "Hello! I've checked with the warehouse and everything is on track. Anything else?",
    "Thanks for your patience. I've passed this to our accounts team, who will call you "
    "back today.",
    "Hi, I'm from the support team. That's done now; let me know if there's anything else.",
)
# How customers rate the help they got: mostly well, sometimes not.
RATINGS = (1, 2, 3, 4, 5)
RATING_WEIGHTS = (1, 1, 2, 4, 5)
# Share of customers who leave without rating.
NO_RATING = 0.2


@dataclass(frozen=True)
class DemoConversation:
    """One customer's conversation, and what happens if a person takes it over.

    ``expects_handoff``: the plan asks for a person (or two unanswerable questions in a row
    make the bot hand over); any conversation the gateway escalates is answered the same way.
    ``agent_reply`` is what the demo agent writes after ``agent_delay`` seconds; ``rating``
    what the customer rates that help (None: they leave without rating).
    """

    sender: str
    kind: str
    steps: tuple[Step, ...]
    expects_handoff: bool
    agent_reply: str
    agent_delay: float
    rating: int | None


def plan_traffic(
    cast: Cast,
    *,
    count: int,
    seed: int,
    agent_delay: tuple[float, float] = (2.0, 15.0),
) -> list[DemoConversation]:
    """``count`` conversations of customers from ``cast``, the same for the same ``seed``.

    Raises:
        ValueError: ``count`` is not positive, or the delay range is not MIN <= MAX.
    """
    if count < 1:
        raise ValueError(f"count must be at least 1, got {count}")
    if not 0 <= agent_delay[0] <= agent_delay[1]:
        raise ValueError(f"agent delay must be 0 <= MIN <= MAX, got {agent_delay}")
    rng = random.Random(seed)
    names = [name for name, _ in KINDS]
    weights = [weight for _, weight in KINDS]
    plan = []
    for number in range(count):
        kind = rng.choices(names, weights=weights)[0]
        steps, expects_handoff = _steps(kind, cast, rng)
        plan.append(
            DemoConversation(
                sender=f"demo-{seed}-{number:04d}",
                kind=kind,
                steps=tuple(steps),
                expects_handoff=expects_handoff,
                agent_reply=rng.choice(AGENT_REPLIES),
                agent_delay=round(rng.uniform(*agent_delay), 1),
                rating=None
                if rng.random() < NO_RATING
                else rng.choices(RATINGS, weights=RATING_WEIGHTS)[0],
            )
        )
    return plan


def _steps(kind: str, cast: Cast, rng: random.Random) -> tuple[list[Step], bool]:
    """The turns of one conversation of ``kind``, and whether it asks for a person."""
    person = rng.choice(cast.people)
    makers: dict[str, Callable[[], list[Step]]] = {
        "order": lambda: order_steps(person, rng),
        "invoice": lambda: invoice_steps(person, rng),
        "stock": lambda: stock_steps(cast.products, rng),
        "document": lambda: document_steps(rng),
        "chitchat": lambda: chitchat_steps(rng),
    }
    if kind in makers:
        steps = makers[kind]()
        expects_handoff = False
    elif kind == "unanswered":
        # Two in a row: the bot's second "I don't know" hands over to a person.
        asked = rng.sample(UNANSWERABLE, rng.choice((1, 1, 2)))
        steps = [Step(UNANSWERED, text) for text in asked]
        expects_handoff = len(asked) == 2
    elif kind == "fallback":
        steps = [Step(FALLBACK, rng.choice(NONSENSE))]
        if rng.random() < 0.5:  # then says what they meant
            steps += (
                order_steps(person, rng) if rng.random() < 0.5 else stock_steps(cast.products, rng)
            )
        expects_handoff = False
    elif kind == "handoff":
        steps = order_steps(person, rng) if rng.random() < 0.5 else []
        steps.append(Step(HANDOFF, rng.choice(ASK_FOR_PERSON)))
        expects_handoff = True
    else:
        raise ValueError(f"no such conversation kind: {kind!r}")
    if kind != "chitchat":
        if rng.random() < 0.4:
            steps.insert(0, Step(CHITCHAT, rng.choice(GREETINGS)))
        if not expects_handoff and rng.random() < 0.4:
            steps.append(Step(CHITCHAT, rng.choice(THANKS + GOODBYES)))
    return steps, expects_handoff
