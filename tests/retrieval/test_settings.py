"""Retrieval's variables: relative paths from the project root, bad values named."""

from __future__ import annotations

from pathlib import Path

import pytest

from envvars import ROOT, SettingsError
from retrieval import facts
from retrieval.settings import DEFAULT_MODEL, RetrievalSettings
from retrieval.vector_cache import PRODUCT_MODEL, product_embedder


def test_the_defaults() -> None:
    settings = RetrievalSettings.from_env({})
    assert (settings.docs_dir, settings.index_dir) == (
        ROOT / "data" / "docs",
        ROOT / "var" / "index",
    )
    assert (settings.model, settings.index_kind, settings.mode) == (DEFAULT_MODEL, None, "hybrid")
    assert (settings.alpha, settings.alpha_zh) == (0.8, 0.3)
    assert (settings.min_similarity, settings.min_keyword_zh) == (0.40, 3.0)
    assert settings.docs_url == "/docs"


def test_relative_folders_are_read_from_the_project_root() -> None:
    settings = RetrievalSettings.from_env(
        {"RETRIEVAL_DOCS_DIR": "company/docs", "RETRIEVAL_INDEX_DIR": "/srv/index"}
    )
    assert (settings.docs_dir, settings.index_dir) == (
        ROOT / "company" / "docs",
        Path("/srv/index"),
    )
    vectors = product_embedder({"PRODUCT_VECTORS_DIR": "cache/vectors"})
    assert vectors.path == ROOT / "cache" / "vectors" / f"{PRODUCT_MODEL}.npz"


def test_the_facts_file_is_read_from_the_project_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COMPANY_FACTS_FILE", "data/company.yml")
    assert facts.facts_path() == ROOT / "data" / "company.yml"


def test_choices_in_any_case_and_a_blank_link_prefix() -> None:
    settings = RetrievalSettings.from_env(
        {"RETRIEVAL_SEARCH": "BM25", "RETRIEVAL_INDEX_KIND": "HNSW", "RETRIEVAL_DOCS_URL": " "}
    )
    assert (settings.mode, settings.index_kind, settings.docs_url) == ("bm25", "hnsw", "")
    assert RetrievalSettings.from_env({"RETRIEVAL_INDEX_KIND": "auto"}).index_kind is None


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"RETRIEVAL_SEARCH": "fuzzy"}, "RETRIEVAL_SEARCH must be one of hybrid, dense, bm25"),
        ({"RETRIEVAL_INDEX_KIND": "tree"}, "RETRIEVAL_INDEX_KIND must be one of auto, flat"),
        ({"RETRIEVAL_HYBRID_ALPHA": "1.5"}, "RETRIEVAL_HYBRID_ALPHA must be between 0 and 1"),
        ({"RETRIEVAL_MIN_SIMILARITY": "high"}, "RETRIEVAL_MIN_SIMILARITY must be a number"),
    ],
    ids=["search", "index-kind", "alpha", "min-similarity"],
)
def test_a_bad_value_names_the_variable(env: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        RetrievalSettings.from_env(env)
