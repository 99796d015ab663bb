"""The handoff triggers in Simplified Chinese: sensitive topics, money, the frustration model."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest

from connectors.handoff import sentiment
from connectors.handoff.triggers import Escalation, TriggerDetector, load_topics, parse_money

DATA = Path(__file__).resolve().parents[2] / "data" / "handoff"
TOPICS = load_topics(DATA / "sensitive_topics.yml")


def escalation(text: str) -> Escalation | None:
    return TriggerDetector(TOPICS).before_rasa(text, previous=None)


# Sensitive topics.


@pytest.mark.parametrize(
    ("text", "rule", "matched"),
    [
        ("再不给我们解决，我们就找律师了", "legal_threat", "律师"),
        ("我们会起诉你们", "legal_threat", "起诉"),
        ("再拖下去我就告你们", "legal_threat", "告你们"),
        ("咱们法院见", "legal_threat", "法院"),
        ("我们保留通过法律途径解决的权利", "legal_threat", "法律途径"),
        ("大不了打官司", "legal_threat", "打官司"),
        ("我已经向消费者协会反映了", "legal_threat", "消费者协会"),
        ("再不退货我就打12315", "legal_threat", "打 12315"),
        ("律师函下周寄到你们公司", "legal_threat", "律师"),
        ("我要投诉", "complaint", "我要投诉"),
        ("这是正式投诉，请记录", "complaint", "正式投诉"),
        ("我要投诉你们的仓库", "complaint", "我要投诉你们"),
        ("你们的投诉渠道是什么，怎么投诉？", "complaint", "投诉"),
        ("我要向你们的主管反映这件事", "complaint", "向你们的主管反映"),
        ("请帮我删除我的个人数据", "data_deletion", "删除我的个人数据"),
        ("麻烦删掉我们的所有资料", "data_deletion", "删掉我们的所有资料"),
        ("我要注销我的账户", "data_deletion", "注销我的账户"),
        ("根据个人信息保护法，你们必须回复", "data_deletion", "个人信息保护法"),
        ("我要求行使被遗忘权", "data_deletion", "被遗忘权"),
        ("按照GDPR的规定处理", "data_deletion", "GDPR"),
    ],
)
def test_chinese_sensitive_topics_escalate_with_the_rule(
    text: str, rule: str, matched: str
) -> None:
    found = escalation(text)

    assert found is not None and found.trigger.rule == f"sensitive_topic:{rule}"
    assert found.trigger.score == 1.0 and f"Matched {matched!r}." in found.trigger.detail


def test_full_width_text_matches_the_topics() -> None:
    found = escalation("我要打１２３１５投诉你们")

    assert found is not None and found.trigger.rule == "sensitive_topic:legal_threat"


def test_data_deletion_goes_to_the_privacy_queue_in_chinese_too() -> None:
    found = escalation("请删除我的个人信息")

    assert found is not None and (found.queue, found.priority) == ("privacy", 2)


@pytest.mark.parametrize(
    "text",
    [
        "请问退款一般几天到账？",
        "退款200英镑可以吗",
        "退货流程是怎样的",
        "我们的订单能补发吗",
        "请帮我删除这个收货地址",
        "注销这张发票，重新开一张",
        "我没有删除权限",
        "我们是一家律师事务所，想采购一批办公椅",
        "我转告你们的同事了",
        "向你们报告一个好消息，货都收到了",
        "合同里的仲裁条款是什么意思",
        "系统升级以后我登录不了",
        "上个月的投诉率是多少",
        "客户编号12315",
        "12315",
        "退3块钢板",
        "这批货一共5000块，还没到",
    ],
)
def test_calm_chinese_messages_do_not_escalate(text: str) -> None:
    assert escalation(text) is None


# Money.


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("退款800英镑", [(Decimal("800"), "GBP")]),
        ("800镑", [(Decimal("800"), "GBP")]),
        ("600 欧元", [(Decimal("600"), "EUR")]),
        ("1,200美元", [(Decimal("1200"), "USD")]),
        ("500美金", [(Decimal("500"), "USD")]),
        ("¥5000", [(Decimal("5000"), "CNY")]),
        ("￥5000", [(Decimal("5000"), "CNY")]),
        ("5000元", [(Decimal("5000"), "CNY")]),
        ("5000块", [(Decimal("5000"), "CNY")]),
        ("5000块钱", [(Decimal("5000"), "CNY")]),
        ("人民币5000", [(Decimal("5000"), "CNY")]),
        ("RMB 5000", [(Decimal("5000"), "CNY")]),
        ("5千英镑", [(Decimal("5000"), "GBP")]),
        ("1.5万欧元", [(Decimal("15000"), "EUR")]),
        ("€1.5万", [(Decimal("15000"), "EUR")]),
        ("８００英镑", [(Decimal("800"), "GBP")]),
        ("１，２００美元", [(Decimal("1200"), "USD")]),
        ("退款GBP 700", [(Decimal("700"), "GBP")]),
        ("900 quid的退款", [(Decimal("900"), "GBP")]),
        ("退800，200美元是运费", [(Decimal("200"), "USD")]),
        ("订单SO-100800英镑", []),
        ("1万个螺丝", []),
        ("少了3块钢板", []),
        ("5000港元", []),
    ],
    ids=[
        "pounds", "bang", "euros-spaced", "dollars-grouped", "meijin", "yuan-sign",
        "full-width-yuan-sign", "yuan", "kuai", "kuai-qian", "renminbi", "rmb", "qian", "wan",
        "symbol-wan", "full-width-digits", "full-width-grouped", "code-in-chinese",
        "english-word-in-chinese", "clause-comma", "id-is-not-money", "wan-pieces",
        "kuai-pieces", "unknown-currency",
    ],
)  # fmt: skip
def test_chinese_amounts_are_parsed(text: str, found: list[tuple[Decimal, str]]) -> None:
    assert [(m.amount, m.currency) for m in parse_money(text)] == found


def test_english_amounts_are_read_as_before() -> None:
    found = parse_money("refund £1,250.50 or 2k euros, EUR 600 and $75, 900 quid, SO-100123")

    assert [(m.amount, m.currency, m.text) for m in found] == [
        (Decimal("1250.50"), "GBP", "£1,250.50"),
        (Decimal("2000"), "EUR", "2k euros"),
        (Decimal("600"), "EUR", "EUR 600"),
        (Decimal("75"), "USD", "$75"),
        (Decimal("900"), "GBP", "900 quid"),
    ]


@pytest.mark.parametrize(
    ("text", "score"),
    [
        ("请退款800英镑", 0.8),
        ("要求赔偿1,200美元", 0.923),
        ("这批货坏了，要求补偿5千英镑", 1.0),
        ("退款 ８００英镑", 0.8),
        ("请返还货款600欧元", 0.522),
    ],
)
def test_a_large_chinese_refund_escalates(text: str, score: float) -> None:
    found = escalation(text)

    assert found is not None and found.trigger.rule == "sensitive_topic:large_refund"
    assert found.trigger.score == score and "is above" in found.trigger.detail


@pytest.mark.parametrize(
    "text",
    ["请退款400英镑", "退款500英镑", "我们要退款5000元", "赔偿¥50000", "800英镑的货什么时候到"],
    ids=["under-limit", "at-limit", "cny-no-limit", "cny-large-no-limit", "no-refund-word"],
)
def test_a_chinese_refund_under_the_limit_or_in_yuan_does_not(text: str) -> None:
    assert escalation(text) is None


def test_a_yuan_limit_in_the_configuration_applies(tmp_path: Path) -> None:
    topics = tmp_path / "topics.yml"
    topics.write_text(
        "topics:\n  large_refund:\n    refund_above: {CNY: 4000}\n    refund_words: [退款]\n",
        encoding="utf-8",
    )
    detector = TriggerDetector(load_topics(topics))

    over = detector.before_rasa("我们要退款5000元", previous=None)

    assert over is not None and over.trigger.rule == "sensitive_topic:large_refund"
    assert detector.before_rasa("我们要退款3000块", previous=None) is None


# The frustration model.


@pytest.fixture(scope="module")
def classifier(tmp_path_factory: pytest.TempPathFactory) -> sentiment.FrustrationClassifier:
    model = tmp_path_factory.mktemp("model") / "frustration.joblib"
    return sentiment.FrustrationClassifier(DATA / "frustration.yml", model)


ANGRY = [
    "又送错了！！你们到底怎么搞的",
    "这个破系统我真是受够了",
    "等了一个月了还没发货，太离谱了吧",
    "第五次问了，到底有没有人管？",
    "垃圾服务，再也不买了",
    "说好的昨天到，人呢？？",
]
CALM = [
    "请问订单SO-100777什么时候发货？",
    "好的，谢谢您",
    "发票收到了，没问题",
    "麻烦帮我查一下M6螺丝的库存",
    "谢谢！！收到了",
    "货到了，有一箱外包装破了，里面没事",
]


def test_the_test_messages_are_not_in_the_training_data() -> None:
    texts = set(sentiment.load_examples(DATA / "frustration.yml").texts)

    assert texts.isdisjoint(ANGRY + CALM)


@pytest.mark.parametrize("text", ANGRY)
def test_angry_chinese_messages_score_high(
    classifier: sentiment.FrustrationClassifier, text: str
) -> None:
    assert classifier.score(text) >= 0.65


@pytest.mark.parametrize("text", CALM)
def test_calm_chinese_messages_score_low(
    classifier: sentiment.FrustrationClassifier, text: str
) -> None:
    assert classifier.score(text) < 0.5


def test_an_angry_chinese_message_escalates_as_frustration(
    classifier: sentiment.FrustrationClassifier,
) -> None:
    detector = TriggerDetector(TOPICS, frustration=classifier.score)

    angry = detector.before_rasa("怎么又少发了！！到底有没有人在处理？？", previous=None)
    calm = detector.before_rasa("请问退款一般几天到账？谢谢", previous=None)

    assert angry is not None and angry.trigger.rule == "frustration"
    assert calm is None


@pytest.mark.parametrize(
    "text", ["ＳＯ－１０５５２１", "１２３４５６", "＃１００１２３", "SO-100123 a@b.cn"]
)
def test_full_width_and_bare_references_are_not_scored(
    classifier: sentiment.FrustrationClassifier, text: str
) -> None:
    assert classifier.score(text) == 0.0


def test_chinese_has_words_and_english_is_unchanged() -> None:
    assert sentiment.has_words("好的")
    assert not sentiment.has_words("SO-100123 jo@example.com")
    assert sentiment.normalise("订单SO-100123发货了吗") == "订单  REF  发货了吗"


def test_full_width_marks_count_like_ascii_ones() -> None:
    full, ascii_ = sentiment.style_features(["怎么又错了！！？？", "怎么又错了!!??"])

    assert list(full) == list(ascii_)
    assert full[7] == 0.5 and full[8] == 1.0 and full[11] == 1.0  # "!" x2, "??", Chinese


def test_style_features_keep_english_in_its_own_columns() -> None:
    english, chinese = sentiment.style_features(["WHERE THE HELL!!", "为什么还没到!!"])

    assert list(english[6:]) == [0.0] * 6 and english[0] == 1.0 and english[1] == 0.5
    assert list(chinese[:6]) == [0.0] * 6


def test_chinese_is_cut_into_words_for_the_word_ngrams() -> None:
    assert sentiment.tokens("垃圾客服 where is ref") == ["垃圾", "客服", "where", "is", "ref"]


def test_each_language_is_balanced_on_its_own() -> None:
    weights = sentiment.sample_weights(["a", "b", "c", "好", "差"], [0, 0, 1, 0, 1])

    assert np.allclose(weights, [0.75, 0.75, 1.5, 1.0, 1.0])


def test_held_out_figures_per_language() -> None:
    reports = sentiment.evaluate_by_language(thresholds=[0.65])
    [english], [chinese], [both] = reports["en"], reports["zh"], reports["all"]

    assert english.language == "en" and chinese.language == "zh"
    assert chinese.test_size >= 80 and chinese.train_size >= 240
    assert chinese.precision >= 0.85 and chinese.recall >= 0.5
    assert both.test_size == english.test_size + chinese.test_size


def test_the_assistants_chinese_messages_rarely_look_frustrated(
    classifier: sentiment.FrustrationClassifier,
) -> None:
    texts = [text for _, text in sentiment.assistant_messages(
        exclude=sentiment.load_examples(DATA / "frustration.yml").texts
    ) if sentiment.is_chinese(text)]  # fmt: skip
    flagged = [text for text in texts if classifier.score(text) >= 0.65]

    assert len(texts) > 500 and len(flagged) / len(texts) < 0.06
