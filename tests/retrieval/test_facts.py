"""Company facts stated once: the returns policy document reads its return window from
data/company.yml, the file the assistant acts on."""

from __future__ import annotations

from pathlib import Path

import pytest

from retrieval import facts
from retrieval.errors import UnreadableDocument
from retrieval.indexer import fingerprint
from retrieval.loaders import load_markdown

ROOT = Path(__file__).resolve().parents[2]
RETURNS = ROOT / "data" / "docs" / "policies" / "returns-and-refunds.md"


def text_of(path: Path) -> str:
    document = load_markdown(path, path.name)
    return "\n".join(block for section in document.sections for block in section.blocks)


def test_the_returns_policy_states_the_configured_window() -> None:
    document = load_markdown(RETURNS, RETURNS.name)
    assert document.url == "https://help.northbridge-supply.example/policies/returns-and-refunds"
    text = text_of(RETURNS)
    assert "within 30 calendar days of the delivery date" in text
    assert "within 14 days of the RMA being issued" in text
    assert "{{" not in text


def test_a_changed_window_changes_the_document_and_its_fingerprint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = fingerprint(RETURNS, docs_url="")
    changed = tmp_path / "company.yml"
    changed.write_text(
        (ROOT / "data" / "company.yml").read_text().replace("window_days: 30", "window_days: 45")
    )
    monkeypatch.setenv(facts.FACTS_ENV, str(changed))
    assert "within 45 calendar days" in text_of(RETURNS)
    assert fingerprint(RETURNS, docs_url="") != before


def test_an_unknown_fact_is_a_clear_error(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text("# Page\n\nReturn within {{ returns.window_weeks }} weeks.\n")
    with pytest.raises(UnreadableDocument, match="no fact 'returns.window_weeks'"):
        load_markdown(page, "page.md")
    assert facts.fill_facts("{{ a.b }} and {{a.c}}", {"a": {"b": 1, "c": "x"}}) == "1 and x"
    with pytest.raises(facts.UnknownFact, match="group of facts"):
        facts.fill_facts("{{ a }}", {"a": {"b": 1}})
