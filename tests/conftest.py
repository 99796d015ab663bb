"""Fixtures for the whole suite."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from envvars import forget_current


@pytest.fixture(autouse=True)
def _settings_read_afresh() -> Iterator[None]:
    """Each test reads the settings a process keeps (`Variable.current`) from its own
    environment: what an earlier test set is forgotten with its monkeypatch."""
    forget_current()
    yield
    forget_current()
