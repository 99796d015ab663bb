"""A tiny randomly initialised Gemma-3 causal LM and tokenizer, built locally for the tests."""

from __future__ import annotations

from pathlib import Path

from models.examples import REFUSAL, ContextItem, Example
from models.prompt import INSTRUCTIONS

CORPUS = [
    INSTRUCTIONS,
    "Question: Answer: <context> </context> [1] [2] [3] (no context)",
    "Refunds are paid within 5 working days of the return arriving at our warehouse.",
    "Order SO-100123 shipped on 2026-03-02 with DHL, tracking 00340434161234567890.",
    "The Atlas Drill 18V costs 129.00 GBP and 14 are in stock in Leeds.",
    "Invoice INV-200456 of 1,250.00 GBP is due on 2026-04-30.",
    "Returns policy › Refund timing. ERP order SO-100123. Product catalogue.",
    "How long do refunds take? When will my order arrive? Is the drill in stock?",
    REFUSAL,
    "0 1 2 3 4 5 6 7 8 9 abcdefghijklmnopqrstuvwxyz ABCDEFGHIJKLMNOPQRSTUVWXYZ .,:;!?-'/()",
]


def build_tiny_model(folder: Path, *, seed: int = 0, layers: int = 2) -> Path:
    """Write a 2-layer Gemma-3 text model (random weights) and a BPE tokenizer to ``folder``."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import Gemma3ForCausalLM, Gemma3TextConfig, PreTrainedTokenizerFast

    specials = ["<pad>", "<eos>", "<bos>", "<unk>"]
    core = Tokenizer(models.BPE(unk_token="<unk>"))
    core.pre_tokenizer = pre_tokenizers.Metaspace()
    core.decoder = decoders.Metaspace()
    core.train_from_iterator(
        CORPUS * 3,
        trainers.BpeTrainer(vocab_size=400, special_tokens=specials, show_progress=False),
    )
    bos = core.token_to_id("<bos>")
    core.post_processor = processors.TemplateProcessing(
        single="<bos> $A", special_tokens=[("<bos>", bos)]
    )
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=core,
        bos_token="<bos>",
        eos_token="<eos>",
        pad_token="<pad>",
        unk_token="<unk>",
    )
    torch.manual_seed(seed)
    config = Gemma3TextConfig(
        vocab_size=core.get_vocab_size(),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=layers,
        num_attention_heads=2,
        num_key_value_heads=1,
        head_dim=16,
        max_position_embeddings=2048,
        sliding_window=64,
        initializer_range=0.2,  # room for the logits to move, so a few steps show learning
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=bos,
        eos_token_id=tokenizer.eos_token_id,
    )
    model = Gemma3ForCausalLM(config)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def examples(count: int = 8) -> list[Example]:
    """A few (question, context, answer) examples in the shape training.dataset writes."""
    refund = ContextItem(
        "Returns policy › Refund timing",
        "Refunds are paid within 5 working days of the return arriving at our warehouse.",
        "doc:returns#1",
    )
    order = ContextItem(
        "ERP order SO-100123",
        "Order SO-100123 shipped on 2026-03-02 with DHL, tracking 00340434161234567890.",
        "erp:order:SO-100123",
    )
    made = [
        Example(
            id="refund",
            kind="document",
            question="How long do refunds take?",
            context=(refund,),
            answer="Refunds are paid within 5 working days of the return arriving.",
            facts=("5 working days",),
        ),
        Example(
            id="order",
            kind="erp",
            question="When did order SO-100123 ship?",
            context=(order,),
            answer="Order SO-100123 shipped on 2026-03-02 with DHL.",
            facts=("SO-100123", "2026-03-02"),
        ),
        Example(
            id="none",
            kind="refusal",
            question="Is the drill in stock?",
            context=(refund,),
            answer=REFUSAL,
        ),
    ]
    return [made[i % len(made)] for i in range(count)]
