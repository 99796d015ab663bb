"""`make run`: seed the demo ERP if needed, train if needed, start everything, stop on Ctrl-C."""

from __future__ import annotations

import os
import signal
import socket
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

from bot import paths, training
from bot.balancer import BalancerMissing
from bot.generator_build import GeneratorBuild, llama_installed
from bot.processes import (
    Service,
    ServiceFailed,
    Supervisor,
    build_services,
    stop_all,
    wait_until_healthy,
)
from bot.profile import ACCOUNT_SECRETS, Production, ProfileError, profile_name, replica_count
from bot.progress import Board, duration_text
from bot.provision import ProvisionError, provision
from bot.secrets import SecretsError, shared_secrets
from bot.settings import Ports
from bot.training import TrainingFailed
from envvars import SettingsError

STARTUP_TIMEOUT_S = 300.0


def ensure_seeded() -> str:
    """Seed the demo ERP when its database has no tables yet; with another company's mapping
    (``ERP_MAPPING``), check that it resolves on ``ERP_DATABASE_URL`` and seed nothing.

    Returns:
        What was done, in a few words.
    """
    from sqlalchemy import inspect
    from sqlalchemy.exc import SQLAlchemyError

    from demo.seed import seed
    from erp.db import make_engine
    from erp.mapping.resolve import check_mapping
    from erp.mapping.spec import load_mapping
    from erp.schema import DEFAULT_MAPPING, mapping_path

    mapping = mapping_path()
    if mapping.resolve() != DEFAULT_MAPPING.resolve():
        engine = make_engine(read_only=True)
        where = engine.url.render_as_string(hide_password=True)
        try:
            report = check_mapping(load_mapping(mapping), engine, probe=False)
        except SQLAlchemyError as error:
            raise SystemExit(f"Cannot read the ERP database {where}: {error}") from error
        finally:
            engine.dispose()
        if not report.resolved:
            raise SystemExit(
                f"ERP mapping {mapping} does not resolve on "
                f"{engine.url.render_as_string(hide_password=True)}: "
                + "; ".join(report.problems)
                + f"\nSee: .venv/bin/python -m erp check-mapping {mapping} --url ..."
            )
        return f"mapping {mapping.name} resolves on {where}"
    engine = make_engine()
    where = engine.url.render_as_string(hide_password=True)
    try:
        again = ""
        if "sales_orders" in inspect(engine).get_table_names():
            if check_mapping(load_mapping(mapping), engine, probe=False).resolved:
                return f"ready ({where})"
            # Seeded by an older version (the demo schema gained columns): generated data,
            # so it is made again rather than migrated.
            again = "its schema changed since it was seeded: seeded again, "
        summary = seed(engine, progress=False)
        return (
            f"{again}{summary.customers:,} customers, {summary.products:,} products, "
            f"{summary.sales_orders:,} orders ({where})"
        )
    finally:
        engine.dispose()


def ensure_index(status: Callable[[str], None] | None = None) -> str:
    """Build the document index, or update it for changed documents (fast when none changed)."""
    from retrieval.indexer import update_index

    summary = update_index(progress=False, status=status).summary()
    return summary.removeprefix("Document index is ").removeprefix("Document index: ").rstrip(".")


def ensure_product_vectors() -> str:
    """Embed the catalogue's product texts not embedded yet (var/vectors), so the action
    server offers out-of-stock alternatives from the first question without loading a model."""
    from erp.alternatives import catalogue_products
    from erp.db import get_engine, session_scope
    from erp.product_vectors import product_vectors
    from retrieval.vector_cache import product_embedder

    encoder = product_embedder()
    with session_scope(get_engine()) as session:
        products = catalogue_products(session=session)
    product_vectors(products, encoder)
    return (
        f"{len(products)} products, {encoder.embedded} texts embedded now (the rest kept in "
        f"{_shown(encoder.path)})"
    )


@dataclass(frozen=True)
class GeneratorPlan:
    """What the launcher does about the generator: ``start`` its server here (``build``:
    once llama.cpp, not installed yet, is built in the background), and why (``note``)."""

    start: bool
    note: str
    build: bool = False


def ensure_generator() -> GeneratorPlan:
    """Join the packaged base model once and check the adapter, so the first answer is quick.

    A missing or broken generator is not fatal: the bot then answers from the passages and
    the ERP templates, and says so. llama.cpp missing (a first `make run`) is not either: it
    is built in the background (`bot.generator_build`) and the server starts after.
    """
    from models.base import base_path
    from models.errors import GeneratorError
    from models.generator import LORA_GGUF
    from models.settings import GeneratorSettings

    settings = GeneratorSettings.from_env()
    if not settings.enabled:
        return GeneratorPlan(False, "off (GENERATOR_BACKEND=off): extractive and templated answers")
    if settings.url:
        return GeneratorPlan(False, f"served at {settings.url} (GENERATOR_URL): none started here")
    try:
        base = base_path(settings)
    except GeneratorError as error:
        return GeneratorPlan(False, f"unavailable, answering without it: {error}")
    adapter = settings.adapter_dir
    if (
        settings.backend == "llama_cpp"
        and adapter is not None
        and not (adapter / LORA_GGUF).is_file()
    ):
        return GeneratorPlan(
            False, f"unavailable: no {LORA_GGUF} in {adapter} (run `make train-generator`)"
        )
    policy = ", idle CPU policy" if settings.idle else ""
    note = (
        f"{settings.backend}, base {base.name}, adapter {adapter or 'none'}; served by its own "
        f"process on port {settings.port} (nice {settings.nice}{policy})"
    )
    build = settings.backend == "llama_cpp" and not llama_installed()
    return GeneratorPlan(True, note, build=build)


def _shown(path: Path) -> str:
    try:
        return str(path.relative_to(paths.ROOT))
    except ValueError:
        return str(path)


def _raise_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def setup(board: Board | None = None) -> GeneratorPlan:
    """Everything `run` needs before it starts processes: a seeded ERP, an index, product
    vectors, the Rasa model (and its encoder); each a line on ``board``.

    One after the other: on 2 cores the document index and Rasa's training side by side took
    2 min 38 s against 2 min apart (each already uses both cores; docs/benchmarks.md).

    Returns:
        What to do about the generator (see `ensure_generator`).
    """
    # The models' "Loading weights" bars would break the steps' lines (and mean nothing here).
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    with _opened(board) as shown:
        _step(shown, "erp", "demo ERP", ensure_seeded)
        _step(shown, "index", "document index",
              lambda: ensure_index(lambda text: shown.update("index", text)))  # fmt: skip
        _step(shown, "vectors", "product vectors", ensure_product_vectors)
        _step(shown, "train", "Rasa model", lambda: _train(shown))
        plan = ensure_generator()
        shown.note(f"generator: {plan.note}")
        return plan


@contextmanager
def _opened(board: Board | None) -> Iterator[Board]:
    if board is not None:
        yield board
        return
    with Board() as own:
        yield own


def _step(board: Board, key: str, title: str, work: Callable[[], str]) -> None:
    board.start(key, title)
    try:
        note = work()
    except BaseException:
        board.failed(key, "see the error below")
        raise
    board.done(key, note)


def _train(board: Board) -> str:
    seconds = training.train(status=lambda text: board.update("train", text))
    if seconds is None:
        return f"up to date ({_shown(paths.MODEL_FILE)})"
    return f"trained ({_shown(paths.MODEL_FILE)}; log {_shown(training.TRAIN_LOG)})"


def prepare_profile(
    env: Mapping[str, str] | None = None,
    *,
    secrets_file: Path | None = None,
    say: Callable[[str], None] = print,
) -> dict[str, str]:
    """The environment of the chosen PROFILE (from ``env``, default os.environ): nothing for
    ``embedded``; for ``production`` its accounts created or brought up to date
    (`bot.provision`) and their settings, passwords kept in ``secrets_file``
    (var/secrets.json).

    Raises:
        ProfileError: a profile setting cannot be used.
        ProvisionError: a service is unreachable or refused the administrator account.
        SecretsError: the accounts' passwords cannot be read or stored.
    """
    if profile_name(env) == "embedded":
        return {}
    settings = Production.from_env(env)
    passwords = shared_secrets(secrets_file, environ=env, names=ACCOUNT_SECRETS)
    for line in provision(settings, passwords).done:
        say(line)
    return {
        **settings.rasa_environment(passwords),
        **settings.gateway_environment(passwords),
        **settings.actions_environment(passwords),
    }


def run() -> int:
    """Start the assistant and keep it running until Ctrl-C (or SIGTERM)."""
    with Board() as board:
        return _run(board)


def _run(board: Board) -> int:
    try:
        ports = Ports.from_env(os.environ)
    except SettingsError as error:
        raise SystemExit(str(error)) from None
    plan = ensure_generator()
    busy = ports_in_use(ports, generator=plan.start)
    if busy:
        board.note(
            f"Cannot start: {busy} in use on this machine: is another `make run` still running? "
            "Stop it (Ctrl-C there), or move this one (PORT=, RASA_PORT=, ACTIONS_PORT=, "
            "GENERATOR_PORT=)."
        )
        return 1
    try:
        secrets = shared_secrets()
        replicas = replica_count()
        profile = prepare_profile(env=None, say=board.note)
    except (SecretsError, ProfileError, ProvisionError) as error:
        board.note(f"Cannot start: {error}")
        return 1
    board.note(f"profile: {profile_name()}" + (f", {replicas} replicas of the gateway, Rasa "
               "and the action server behind HAProxy" if replicas > 1 else ""))  # fmt: skip
    build = _begin_build(board, plan)
    prepared = False
    try:
        # setup looks at the generator again: a build that ended during the steps (minutes)
        # then starts the server with the others instead of after them.
        plan = setup(board)
        from connectors.agents.cli import demo_agent

        # In the gateway's own store: PostgreSQL on the production profile, not var/gateway.db.
        agents = demo_agent({**os.environ, **profile})
        services = build_services(
            ports, secrets=secrets, generator=plan.start, profile=profile, replicas=replicas
        )
        prepared = True
    except (BalancerMissing, TrainingFailed) as error:
        board.note(f"Cannot start: {error}")
        return 1
    finally:
        if build is not None and not prepared:  # from here on, the stop below ends it
            build.stop()
    # The generator's server waits for its build; the others already point at its URL.
    waiting = [s for s in services if s.name == GENERATOR and plan.build]
    started = [s for s in services if s not in waiting]
    signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        board.start("start", "starting " + ", ".join(s.name for s in started))
        for service in started:
            service.start()
        wait_until_healthy(started, timeout=STARTUP_TIMEOUT_S)
        board.done("start")
        board.note(
            f"Ready in {duration_text(board.elapsed())}.\n"
            f"  Chat:    http://localhost:{ports.gateway}/\n"
            f"  API:     POST http://localhost:{ports.gateway}/api/messages\n"
            f"  Agents:  http://localhost:{ports.gateway}/agent ({agents})\n"
            f"  Health:  http://localhost:{ports.gateway}/healthz\n"
            f"  Logs:    {_shown(paths.LOGS_DIR)}/\n"
            f"  Answers: {_answer_mode(plan, waiting, build)}\n"
            "Press Ctrl-C to stop."
        )
        supervisor = Supervisor(started, report=board.note)
        while True:
            supervisor.check()
            if waiting and build and _build_progress(board, build, waiting[0], supervisor):
                waiting = []
            time.sleep(1)
    except KeyboardInterrupt:
        board.note("Stopping...")
        return 0
    except ServiceFailed as error:
        board.note(f"{error}\nStopping everything.")
        return 1
    finally:
        # A second Ctrl-C while stopping must not leave children running.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        if build is not None:
            build.stop()
        stop_all(services)
        board.note("Stopped.")


def ports_in_use(ports: Ports, *, generator: bool = True) -> str:
    """The ports of ours that something already listens on, named (empty when none): with an
    earlier `make run` still up, its processes would answer the health checks of this one's,
    which would exit at once. The generator's counts only when one is started here."""
    named = {"gateway": ports.gateway, "Rasa": ports.rasa, "action server": ports.actions}
    if generator:
        named["generator"] = ports.generator
    busy = [f"port {port} ({name})" for name, port in named.items() if listening(port)]
    return ", ".join(busy)


def listening(port: int, host: str = "127.0.0.1") -> bool:
    """Whether something accepts connections on ``host``:``port``."""
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


GENERATOR = "generator"
BUILD_KEY = "generator-build"
BUILD_TITLE = "generator: building llama.cpp in the background"


def _begin_build(board: Board, plan: GeneratorPlan) -> GeneratorBuild | None:
    """Start building llama.cpp when the generator needs it and it is missing (a first run)."""
    if not plan.build:
        return None
    build = GeneratorBuild.begin()
    board.start(BUILD_KEY, BUILD_TITLE, "starting")

    def follow() -> None:  # its progress on the board while the other steps run
        while build.finished() is None:
            board.update(BUILD_KEY, build.status())
            time.sleep(2)

    threading.Thread(target=follow, name="generator-build", daemon=True).start()
    return build


def _answer_mode(plan: GeneratorPlan, waiting: list[Service], build: GeneratorBuild | None) -> str:
    if not plan.start:
        return f"templates and passages (generator {plan.note})"
    if waiting and build is not None:
        return (
            "templates and passages for now; generated wording comes on by itself when the "
            f"generator is built ({build.status()}; log {_shown(build.pip_log)})"
        )
    return "generated from the ERP's facts and the documents, checked before they are sent"


def _build_progress(
    board: Board, build: GeneratorBuild, service: Service, supervisor: Supervisor
) -> bool:
    """One look at the background build: report it, start the generator when it is done.

    Returns:
        Whether the build is over (the generator started, or it failed and the assistant
        stays on templates and passages).
    """
    code = build.finished()
    if code is None:
        return False
    if code != 0 or not llama_installed():
        board.failed(BUILD_KEY, f"the build exited with {code}", [
            *build.failure(), "the assistant goes on with templates and passages; "
            "`make install` builds it again (and says why it fails)",
        ])  # fmt: skip
        return True
    board.done(BUILD_KEY, "built; starting the generator's server")
    service.start()
    supervisor.add(service, on_healthy=lambda: board.note(
        "Generator ready: answers are generated from now on (no restart needed)."))  # fmt: skip
    return True
