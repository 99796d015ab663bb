"""The load test's parts: conversation scripts, turn timing over Socket.IO, percentiles, the
table, the wording counter; and one quick run of `make bench-load` against the real stack."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import random
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import socketio

from benchmarks.fake_platforms import serve
from benchmarks.load import run as bench_load
from benchmarks.load.cast import Cast, Item, Person, read_cast, write_cast
from benchmarks.load.records import Turn, read_turns, write_turn
from benchmarks.load.report import (
    kind_stats,
    markdown_table,
    percentile,
    summarise,
    throughput_ratio,
)
from benchmarks.load.scripts import (
    ASK_IDENTITY,
    INVOICE,
    ORDER,
    STOCK_NAME,
    STOCK_SKU,
    Step,
    asks_identity,
    conversation,
    odd_sku,
    on_script,
    think_range,
    written_name,
)
from benchmarks.load.stack import LoadStack
from benchmarks.load.webchat import WebChat, error_reply
from benchmarks.load.wording import count_since, count_wording, share_text
from bot.processes import Service, stop_all

ALICE = Person("alice@acme.example", "SW1A 1AA", ("SO-100001", "SO-100007"), ("INV-200003",))
BOB = Person("bob@bolt.example", "1012 AB", ("SO-100002",), ("INV-200004", "INV-200009"))
CAST = Cast(
    (ALICE, BOB),
    (Item("WID-1001", "Blue Widget"), Item("WID-1002", "Red Steel Widget Pro")),
)


def turn(kind: str = ORDER, first: float | None = 0.1, final: float | None = 0.2,
         error: str | None = None, on_script: bool = True) -> Turn:  # fmt: skip
    return Turn(kind, 0.0, first, final, error, on_script)


# --- conversation scripts -------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(60))
def test_a_conversation_asks_only_about_the_customers_own_records(seed: int) -> None:
    steps = conversation(ALICE, CAST, random.Random(seed))
    everyone_elses = (*BOB.orders, *BOB.invoices)
    for step in steps:
        assert not any(number in step.text for number in everyone_elses), step
        if step.kind in (ORDER, INVOICE):
            assert step.text in (ALICE.email, ALICE.postcode) and step.if_asked
            assert step.expect[0] in (*ALICE.orders, *ALICE.invoices)
    for ask, answer in zip(steps, steps[1:], strict=False):
        if ask.kind == ASK_IDENTITY:
            # The record asked about is the one the answer must name.
            assert answer.kind in (ORDER, INVOICE)
            digits = answer.expect[0].split("-")[1]
            assert digits in ask.text


def test_the_topics_mix_covers_every_kind_of_turn() -> None:
    rng = random.Random(7)
    kinds = {step.kind for _ in range(300) for step in conversation(BOB, CAST, rng)}
    assert kinds == {"chitchat", ASK_IDENTITY, ORDER, INVOICE, STOCK_NAME, STOCK_SKU, "doc"}


def test_stock_steps_expect_the_named_products_sku() -> None:
    rng = random.Random(3)
    stock = [s for _ in range(300) for s in conversation(BOB, CAST, rng) if s.kind == STOCK_SKU]
    assert stock
    for step in stock:
        sku = step.expect[0]
        assert sku.split("-")[1] in step.text and sku in ("WID-1001", "WID-1002")


@pytest.mark.parametrize("seed", range(40))
def test_written_names_keep_enough_of_the_name(seed: int) -> None:
    name = "Red Steel Widget Pro"
    written = written_name(name, random.Random(seed))
    assert written in (name, name.lower(), "Steel Widget Pro") or (
        # one typo: two neighbouring letters swapped in one long word
        len(written) == len(name) and sorted(written) == sorted(name) and written != name
    )


def test_odd_skus_keep_letters_and_digits() -> None:
    rng = random.Random(1)
    seen = {odd_sku("WID-1001", rng) for _ in range(100)}
    assert seen <= {"WID-1001", "WID 1001", "WID1001", "wid-1001", "wid 1001", "wid1001"}
    assert len(seen) > 3


def test_on_script_and_identity_prompt() -> None:
    step = Step(ORDER, "alice@acme.example", ("SO-100001",))
    assert on_script(step, "Order SO-100001 was shipped on 2 Dec 2026")
    assert not on_script(step, "Sorry, I didn't get that.")
    assert on_script(Step("doc", "returns?"), "anything at all")
    assert asks_identity("please tell me the email address or the postcode")
    assert not asks_identity("Your order has shipped")


@pytest.mark.parametrize(
    ("text", "expected"), [("5-10", (5.0, 10.0)), ("7", (7.0, 7.0)), (" 0-0.5 ", (0.0, 0.5))]
)
def test_think_range(text: str, expected: tuple[float, float]) -> None:
    assert think_range(text) == expected


@pytest.mark.parametrize("text", ["10-5", "a-b", "", "-1"])
def test_think_range_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="think time"):
        think_range(text)


def test_cast_round_trips_through_json(tmp_path: Path) -> None:
    write_cast(CAST, tmp_path / "cast.json")
    assert read_cast(tmp_path / "cast.json") == CAST


def test_a_file_that_is_not_a_cast_is_refused(tmp_path: Path) -> None:
    (tmp_path / "cast.json").write_text('{"people": []}')
    with pytest.raises(ValueError, match="not a load-test cast|no people"):
        read_cast(tmp_path / "cast.json")


# --- figures --------------------------------------------------------------------------------


def test_percentile_is_nearest_rank() -> None:
    values = [float(v) for v in range(100, 0, -1)]
    assert [percentile(values, q) for q in (50, 95, 99, 100)] == [50.0, 95.0, 99.0, 100.0]
    assert percentile([3.0], 99) == 3.0
    assert percentile([], 50) is None
    with pytest.raises(ValueError, match="within 0..100"):
        percentile(values, 101)


def test_errors_count_but_never_make_a_final_time() -> None:
    stats = kind_stats(ORDER, [
        turn(first=0.1, final=0.3),
        turn(first=0.2, final=0.4, on_script=False),
        turn(first=None, final=None, error="no end of turn within 60 s"),
        turn(first=0.5, final=9.0, error="error reply: Sorry, something went wrong"),
    ])  # fmt: skip
    assert (stats.turns, stats.errors, stats.off_script) == (4, 2, 1)
    assert stats.final[99] == 0.4
    assert stats.first[99] == 0.5


def test_summary_keeps_the_kinds_order_and_counts_answered_turns_per_second() -> None:
    turns = [turn("doc"), turn(ORDER), turn(ORDER, error="disconnected"), turn("connect")]
    run = summarise(turns, generator="off", users=10, seconds=2.0)
    assert [k.kind for k in run.kinds] == [ORDER, "doc", "connect"]
    assert (run.turns, run.errors, run.answered_per_s) == (4, 1, 1.5)


def test_throughput_ratio_is_on_over_off_at_the_same_users() -> None:
    on = summarise([turn()] * 6, generator="on", users=10, seconds=2.0)
    off = summarise([turn()] * 8, generator="off", users=10, seconds=2.0)
    other = summarise([turn()] * 8, generator="off", users=50, seconds=2.0)
    assert throughput_ratio([on, off, other], 10) == 0.75
    assert throughput_ratio([on, off, other], 50) is None


def test_the_table_has_a_row_per_kind_and_run_and_the_ratio_on_the_on_row() -> None:
    on = summarise([turn(ORDER, 0.05, 1.25), turn("doc", 0.9, 2.0)], generator="on", users=10,
                   seconds=1.0)  # fmt: skip
    off = summarise([turn(ORDER, 0.05, 0.1)] * 4, generator="off", users=10, seconds=1.0)
    lines = markdown_table([on, off]).splitlines()
    widths = {line.count("|") for line in lines}
    # A row per kind, then each run's ERP answers together and all its turns.
    assert len(widths) == 1 and len(lines) == 2 + 3 + 2 + 2
    assert lines[2].startswith("| on | 10 | order | 1 | 50 ms | 50 ms | 50 ms | 1.2 s |")
    on_erp = next(line for line in lines if line.startswith("| on | 10 | **erp answers**"))
    assert on_erp.startswith("| on | 10 | **erp answers** | 1 | 50 ms |")
    on_all = next(line for line in lines if line.startswith("| on | 10 | **all**"))
    assert on_all.endswith("| 2.00 | 50% |")
    off_all = next(line for line in lines if line.startswith("| off | 10 | **all**"))
    assert off_all.endswith("| 4.00 |  |")


def test_turns_round_trip_and_a_torn_line_is_skipped(tmp_path: Path) -> None:
    path = tmp_path / "turns.jsonl"
    with path.open("a") as file:
        write_turn(turn(), file)
        failed = Turn("doc", 1.5, None, None, "disconnected", False, "do you ship to Norway")
        write_turn(failed, file)
        file.write('{"kind": "order", "at"')
    assert read_turns(path) == [turn(), failed]
    assert read_turns(tmp_path / "missing.jsonl") == []


def test_error_replies_are_recognised() -> None:
    assert error_reply(["Sorry, the assistant is temporarily unavailable, please try again."])
    assert error_reply(["ok", "Sorry, something went wrong on our side. Please try again."])
    assert error_reply(["Your order SO-100001 has shipped."]) is None


# --- wording shares -------------------------------------------------------------------------


def test_wording_counts_only_answer_lines_in_key_value_form() -> None:
    counts = count_wording([
        "2026-12-05 10:00:01 INFO actions.orders - answer kind=erp wording=generated ms=212",
        "INFO answer kind=erp wording=template",
        "INFO answer kind=doc wording=extractive reason=busy",
        "INFO answer kind=doc wording=generated",
        "INFO kind=erp wording=generated",  # not an answer line
        "INFO answer kind=erp",  # no wording
        "INFO answer kind=handoff wording=generated",  # not a kind reported
        "INFO the answer was kind of generated",
    ])  # fmt: skip
    assert counts == {
        "erp": {"generated": 1, "template": 1, "extractive": 0},
        "doc": {"generated": 1, "template": 0, "extractive": 1},
    }
    assert share_text(counts) == "erp 1/2 generated (50%), doc 1/2 generated (50%)"


def test_wording_is_counted_from_where_the_run_began(tmp_path: Path) -> None:
    log = tmp_path / "actions.log"
    log.write_text("INFO answer kind=erp wording=generated\n")
    offset = log.stat().st_size
    assert count_since(log, offset) is None
    with log.open("a") as file:
        file.write("INFO answer kind=erp wording=template\n")
    assert count_since(log, offset) == {
        "erp": {"generated": 0, "template": 1, "extractive": 0},
        "doc": {"generated": 0, "template": 0, "extractive": 0},
    }
    assert share_text(count_since(log, offset)) == "erp 0/1 generated (0%), doc –"
    assert share_text(None) == "n/a"
    assert count_since(tmp_path / "none.log", 0) is None


# --- one chat window against a scripted Socket.IO server -------------------------------------


def scripted_server() -> socketio.ASGIApp:
    """Answers as the gateway does, in the way the message asks for."""
    sio = socketio.AsyncServer(async_mode="asgi")

    async def session_request(sid: str, data: object = None) -> None:
        await sio.emit("session_confirm", "token-0", to=sid)
        await sio.emit("session_history", {"session_id": "token-0", "messages": []}, to=sid)

    async def user_uttered(sid: str, data: dict) -> None:
        text = data["message"]
        await sio.emit("bot_typing", {"typing": True}, to=sid)
        if text == "silent":
            return
        if text == "echo token":
            await sio.emit("bot_uttered", {"text": f"token {data['session_id']}"}, to=sid)
        elif text == "draft":
            await asyncio.sleep(0.1)
            await sio.emit("bot_streaming", {"text": "Returns are"}, to=sid)
            await asyncio.sleep(0.3)
            await sio.emit("bot_uttered", {"text": "Returns are free within 30 days."}, to=sid)
        elif text == "rotate":
            await sio.emit("session_confirm", "token-1", to=sid)
            await sio.emit("bot_uttered", {"text": "Order SO-100001 has shipped."}, to=sid)
        elif text == "follow-up":
            await sio.emit("bot_uttered", {"text": "template"}, to=sid)
            await sio.emit("bot_typing", {"typing": False}, to=sid)
            await asyncio.sleep(0.3)
            await sio.emit("bot_uttered", {"text": "generated"}, to=sid)
            return
        elif text == "error":
            await sio.emit("bot_uttered", {"text": "Sorry, something went wrong."}, to=sid)
        await sio.emit("bot_typing", {"typing": False}, to=sid)

    sio.on("session_request", session_request)
    sio.on("user_uttered", user_uttered)
    return socketio.ASGIApp(sio)


@pytest.fixture
def chat() -> Iterator[WebChat]:
    with serve(scripted_server(), lifespan=True) as url:
        window = WebChat(url, timeout=1.5, settle=0.6)
        window.new_session()
        yield window
        window.close()


def test_first_text_is_the_draft_and_final_the_reply(chat: WebChat) -> None:
    reply = chat.say("draft")
    assert reply.error is None and reply.texts == ["Returns are free within 30 days."]
    assert reply.first_s is not None and reply.final_s is not None
    assert 0.05 < reply.first_s < reply.final_s - 0.2


def test_an_answer_following_the_end_of_typing_within_settle_is_the_final(chat: WebChat) -> None:
    reply = chat.say("follow-up")
    assert reply.texts == ["template", "generated"] and reply.error is None
    assert reply.first_s is not None and reply.final_s is not None
    assert reply.final_s - reply.first_s > 0.2


def test_a_rotated_session_token_is_sent_with_the_next_message(chat: WebChat) -> None:
    assert chat.say("echo token").text == "token token-0"
    chat.say("rotate")
    assert chat.say("echo token").text == "token token-1"


def test_no_reply_and_error_replies_are_errors(chat: WebChat) -> None:
    silent = chat.say("silent")
    assert silent.error == "no end of turn within 1.5 s" and silent.final_s is None
    assert (chat.say("error").error or "").startswith("error reply: Sorry, something went wrong")
    nothing = chat.say("nothing")
    assert nothing.error == "the turn ended without a reply"


def test_a_closed_window_reports_instead_of_raising(chat: WebChat) -> None:
    chat.close()
    assert chat.say("draft").error == "not connected"


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc (Linux)")
def test_cpu_seconds_count_a_service_and_the_workers_it_started(tmp_path: Path) -> None:
    # The service starts a worker that spins for 0.6 CPU seconds; both then sleep until stopped.
    # (/proc counts whole clock ticks: a worker that stops at exactly 0.5 s may read 0.49.)
    spin = "import time\nwhile time.process_time() < 0.6: pass\ntime.sleep(30)"
    parent = f"import subprocess, sys, time\nsubprocess.Popen([sys.executable, '-c', {spin!r}])\n"
    busy = Service("busy", [sys.executable, "-c", parent + "time.sleep(30)"], health_url="",
                   env=dict(os.environ), log_file=tmp_path / "busy.log")  # fmt: skip
    idle = Service("idle", [sys.executable, "-c", "import time; time.sleep(30)"], health_url="",
                   env=dict(os.environ), log_file=tmp_path / "idle.log")  # fmt: skip
    stack = LoadStack("http://127.0.0.1:9", [busy, idle], tmp_path)
    try:
        busy.start()
        idle.start()
        deadline = time.monotonic() + 20
        while (used := stack.cpu_seconds())["busy"] < 0.5 and time.monotonic() < deadline:
            time.sleep(0.2)
    finally:
        stop_all([busy, idle])
    assert used["busy"] >= 0.5 and used["idle"] < 0.3, used


# --- the command ------------------------------------------------------------------------------


def test_options_are_checked() -> None:
    assert bench_load.positive_ints("10, 50,100") == [10, 50, 100]
    assert bench_load.generator_settings("On,off") == ["on", "off"]
    with pytest.raises(ValueError, match="above 0"):
        bench_load.positive_ints("10,0")
    with pytest.raises(ValueError, match="on and/or off"):
        bench_load.generator_settings("on,maybe")


def test_locust_runs_headless_with_the_locustfile_and_the_run_options(tmp_path: Path) -> None:
    command = bench_load.locust_command(host="http://127.0.0.1:9", users=50, spawn_rate=10,
                                        seconds=60, think="5-10", cast=tmp_path / "c.json",
                                        records=tmp_path / "t.jsonl", csv_prefix=tmp_path / "u",
                                        turn_timeout=60, settle=1)  # fmt: skip
    joined = " ".join(command)
    assert command[1:3] == ["-m", "locust"] and str(bench_load.LOCUSTFILE) in command
    assert Path(bench_load.LOCUSTFILE).exists()
    for part in ("--headless", "--host http://127.0.0.1:9", "-u 50", "-r 10", "-t 60s",
                 "--think 5-10", "--settle 1", f"--records {tmp_path / 't.jsonl'}"):  # fmt: skip
        assert part in joined


def test_the_report_gives_ratios_wording_and_stopped_processes() -> None:
    on = summarise([turn()] * 3, generator="on", users=10, seconds=1.0)
    off = summarise([turn()] * 4, generator="off", users=10, seconds=1.0)
    on = dataclasses.replace(on, down=["actions"], load_average=3.5, cpu_seconds={"rasa": 61.2})
    counts = count_wording(["answer kind=erp wording=generated"])
    off = dataclasses.replace(off, wording=counts)
    text = bench_load.report([on, off], think="5-10")
    assert "| on | 10 | **all** | 3 |" in text
    assert "- throughput with the generator on / off at 10 users: 75%" in text
    assert "- generator on, 10 users: wording of answers n/a; load average 3.5" in text
    assert "- generator off, 10 users: wording of answers erp 1/1 generated (100%), doc –" in text
    assert "processes down after the run: actions" in text
    assert "CPU seconds in the run: rasa 61 (of " in text


# --- end to end ---------------------------------------------------------------------------------


@pytest.mark.e2e
def test_quick_load_run_answers_every_turn(tmp_path: Path) -> None:
    out = tmp_path / "load.json"
    code = bench_load.main(["--users", "2", "--duration", "15", "--generator", "off", "--think",
                            "1-3", "--out", str(out), "--work", str(tmp_path)])  # fmt: skip
    assert code == 0
    (run,) = json.loads(out.read_text())["runs"]
    assert run["generator"] == "off" and run["users"] == 2
    assert run["turns"] >= 3 and run["errors"] == 0, run
    assert run["down"] == []
    assert list(tmp_path.glob("generator-off/users-2_stats.csv"))
