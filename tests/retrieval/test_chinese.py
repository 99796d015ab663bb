"""Chinese documents: marked by their front matter, cut into words for keyword search, found
by Chinese questions and never shown for English ones."""

from __future__ import annotations

from pathlib import Path

import pytest

from retrieval.chunking import chunk_document
from retrieval.lexical import Bm25Index, segmented
from retrieval.loaders import document_files, load_document
from retrieval.service import Retriever, readable_languages
from retrieval.store import InMemoryStore
from tests.retrieval.conftest import CountingEmbedder

RETURNS_ZH_MD = """---
title: 退货与退款
url: https://help.example/returns
language: zh
translation_of: policies/returns.md
---

# 退货与退款

我们希望您对购买的每一件商品都满意。

## 退货期限

大多数商品可在交货之日起 **30 个自然日**内退货。

## 重新入库费

| 退货原因 | 重新入库费 |
|---|---|
| 商品有缺陷 | 不收费 |
| 不想要的商品，未开封 | 商品价格的 15% |
"""


@pytest.fixture()
def bilingual(docs_dir: Path) -> Path:
    (docs_dir / "policies" / "returns.zh.md").write_text(RETURNS_ZH_MD, encoding="utf-8")
    return docs_dir


def retriever(docs_dir: Path, embedder: CountingEmbedder, **kwargs: object) -> Retriever:
    store = InMemoryStore()
    for path in document_files(docs_dir):
        chunks = chunk_document(load_document(path, docs_dir))
        store.write(
            chunks[0].citation.document,
            "fp",
            chunks,
            embedder.embed([c.embedding_text() for c in chunks]),
        )
    return Retriever(store, embedder, **kwargs)  # type: ignore[arg-type]


def test_the_front_matter_marks_a_chinese_version(bilingual: Path) -> None:
    document = load_document(bilingual / "policies" / "returns.zh.md", bilingual)
    assert (document.language, document.title) == ("zh", "退货与退款")
    citations = {c.citation.language for c in chunk_document(document)}
    assert citations == {"zh"}
    english = load_document(bilingual / "policies" / "returns.md", bilingual)
    assert english.language == "en"


def test_chinese_is_cut_into_words_for_keyword_search() -> None:
    assert segmented("退货期限是多久") == "退货 期限 是 多久"
    assert segmented("returns within 30 days") == "returns within 30 days"
    index = Bm25Index(["大多数商品可在交货之日起30个自然日内退货", "我们只送货到英国"])
    assert list(index.scores("退货期限").round(3) > 0) == [True, False]


def test_a_chinese_question_finds_the_chinese_version(
    bilingual: Path, fake_embedder: CountingEmbedder
) -> None:
    found = retriever(bilingual, fake_embedder, mode="hybrid", alpha=0.3).search(
        "退货期限是多久？", top_k=3
    )
    assert found[0].citation.document == "policies/returns.zh.md"
    assert found[0].citation.section == "退货期限"


def test_an_english_question_never_gets_a_chinese_passage(
    bilingual: Path, fake_embedder: CountingEmbedder
) -> None:
    search = retriever(bilingual, fake_embedder, mode="bm25")
    for question in ("restocking fee for an unwanted item", "30", "returns 15%"):
        passages = search.search(question, top_k=20)
        assert passages and all(p.citation.language == "en" for p in passages)


def test_which_documents_a_question_may_be_answered_from() -> None:
    assert readable_languages("en") == {"en"}
    assert readable_languages("zh") == {"en", "zh"}


def test_chinese_questions_weigh_keywords_by_their_own_alpha(
    bilingual: Path, fake_embedder: CountingEmbedder
) -> None:
    search = retriever(bilingual, fake_embedder, mode="hybrid", alpha=0.8, alphas={"zh": 0.0})
    for passage in search.search("重新入库费是多少", top_k=3):
        assert passage.score == pytest.approx(passage.keyword / search.search(
            "重新入库费是多少", top_k=1)[0].keyword, abs=1e-5)  # fmt: skip
    english = search.search("restocking fee", top_k=1)[0]
    assert english.score == pytest.approx(0.8 * english.similarity + 0.2, abs=1e-5)
