"""`make run`: seed the demo ERP if needed, train if needed, start everything, stop on Ctrl-C."""

from __future__ import annotations

import os
import signal
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from types import FrameType

from bot import paths, training
from bot.balancer import BalancerMissing
from bot.processes import (
    ServiceFailed,
    Supervisor,
    build_services,
    stop_all,
    wait_until_healthy,
)
from bot.profile import ACCOUNT_SECRETS, Production, ProfileError, profile_name, replica_count
from bot.provision import ProvisionError, provision
from bot.secrets import SecretsError, shared_secrets
from bot.settings import Ports

STARTUP_TIMEOUT_S = 300.0


def ensure_seeded() -> None:
    """Seed the demo ERP when its database has no tables yet; with another company's mapping
    (``ERP_MAPPING``), check that it resolves on ``ERP_DATABASE_URL`` and seed nothing."""
    from sqlalchemy import inspect
    from sqlalchemy.exc import SQLAlchemyError

    from erp.db import make_engine
    from erp.mapping.resolve import check_mapping
    from erp.mapping.spec import load_mapping
    from erp.schema import DEFAULT_MAPPING, mapping_path
    from erp.seed import seed

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
        print(
            f"ERP mapping {mapping.name} resolves on "
            f"{engine.url.render_as_string(hide_password=True)}"
        )
        return
    engine = make_engine()
    try:
        if "sales_orders" in inspect(engine).get_table_names():
            if check_mapping(load_mapping(mapping), engine, probe=False).resolved:
                print(f"ERP database ready: {engine.url.render_as_string(hide_password=True)}")
                return
            # Seeded by an older version (the demo schema gained columns): generated data,
            # so it is made again rather than migrated.
            print("The demo ERP's schema changed since it was seeded: seeding it again...")
        else:
            print("Seeding the demo ERP (first run)...", flush=True)
        summary = seed(engine)
        print(f"Seeded: {summary}")
    finally:
        engine.dispose()


def ensure_index() -> None:
    """Build the document index, or update it for changed documents (fast when none changed)."""
    from retrieval.indexer import update_index

    print(update_index(progress=sys.stderr.isatty()).summary(), flush=True)


def ensure_product_vectors() -> None:
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
    print(f"Product vectors: {len(products)} products, {encoder.embedded} texts embedded now "
          f"(the rest kept in {encoder.path})", flush=True)  # fmt: skip


def ensure_generator() -> bool:
    """Join the packaged base model once and check the adapter, so the first answer is quick.

    A missing or broken generator is not fatal: the bot then answers from the passages and
    the ERP templates, and says so here.

    Returns:
        Whether to start the generator's server here: not when it is off, unusable, or
        served elsewhere (GENERATOR_URL).
    """
    from models.base import base_path
    from models.errors import GeneratorError
    from models.generator import LORA_GGUF
    from models.settings import GeneratorSettings

    settings = GeneratorSettings.from_env()
    if not settings.enabled:
        print("Generator off (GENERATOR_BACKEND=off): extractive and templated answers.")
        return False
    if settings.url:
        print(f"Generator served at {settings.url} (GENERATOR_URL): not starting one here.")
        return False
    try:
        base = base_path(settings)
    except GeneratorError as error:
        print(f"Generator unavailable, answering without it: {error}")
        return False
    adapter = settings.adapter_dir
    if (
        settings.backend == "llama_cpp"
        and adapter is not None
        and not (adapter / LORA_GGUF).is_file()
    ):
        print(f"Generator unavailable: no {LORA_GGUF} in {adapter} (run `make train-generator`)")
        return False
    policy = ", idle CPU policy" if settings.idle else ""
    print(
        f"Generator ready: {settings.backend}, base {base.name}, adapter {adapter or 'none'}; "
        f"served by its own process on port {settings.port} (nice {settings.nice}{policy})"
    )
    return True


def _say(line: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {line}", flush=True)


def _raise_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def setup() -> bool:
    """Everything `run` needs before it starts processes: a seeded ERP, an index, a
    generator, a Rasa model.

    Returns:
        Whether the generator's server is to be started (see `ensure_generator`).
    """
    ensure_seeded()
    ensure_index()
    ensure_product_vectors()
    generator = ensure_generator()
    training.train()
    return generator


def prepare_profile(
    env: Mapping[str, str] | None = None, *, secrets_file: Path | None = None
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
        _say(line)
    return {
        **settings.rasa_environment(passwords),
        **settings.gateway_environment(passwords),
        **settings.actions_environment(passwords),
    }


def run() -> int:
    """Start the assistant and keep it running until Ctrl-C (or SIGTERM)."""
    started = time.perf_counter()
    ports = Ports.from_env()
    try:
        secrets = shared_secrets()
        replicas = replica_count()
        profile = prepare_profile()
    except (SecretsError, ProfileError, ProvisionError) as error:
        print(f"Cannot start: {error}", flush=True)
        return 1
    _say(f"profile: {profile_name()}" + (f", {replicas} replicas of the gateway, Rasa and "
         "the action server behind HAProxy" if replicas > 1 else ""))  # fmt: skip
    generator = setup()
    from connectors.agents.cli import demo_agent

    # In the gateway's own store: PostgreSQL on the production profile, not var/gateway.db.
    agents = demo_agent({**os.environ, **profile})
    try:
        services = build_services(
            ports, secrets=secrets, generator=generator, profile=profile, replicas=replicas
        )
    except BalancerMissing as error:
        print(f"Cannot start: {error}", flush=True)
        return 1
    signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        for service in services:
            service.start()
        wait_until_healthy(services, timeout=STARTUP_TIMEOUT_S)
        print(
            f"\nReady in {time.perf_counter() - started:.0f} s.\n"
            f"  Chat:   http://localhost:{ports.gateway}/\n"
            f"  API:    POST http://localhost:{ports.gateway}/api/messages\n"
            f"  Agents: http://localhost:{ports.gateway}/agent ({agents})\n"
            f"  Health: http://localhost:{ports.gateway}/healthz\n"
            f"  Logs:   {paths.LOGS_DIR.relative_to(paths.ROOT)}/\n"
            "Press Ctrl-C to stop.",
            flush=True,
        )
        supervisor = Supervisor(services, report=_say)
        while True:
            supervisor.check()
            time.sleep(1)
    except KeyboardInterrupt:
        print("\nStopping...", flush=True)
        return 0
    except ServiceFailed as error:
        print(f"\n{error}\nStopping everything.", flush=True)
        return 1
    finally:
        # A second Ctrl-C while stopping must not leave children running.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        stop_all(services)
        print("Stopped.", flush=True)
