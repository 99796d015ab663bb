"""LoRA fine-tuning of the generator with peft: seeded, resumable, loss on answer tokens only.

Each example becomes ``prompt + " " + answer + <eos>`` (`models.prompt` renders the prompt,
cut so the whole fits ``max_length`` tokens); only the answer tokens carry loss. Because of
that, the language-model head (Gemma's 262k-word vocabulary, most of the compute) runs only
on answer positions. Checkpoints (adapter, optimiser, scheduler, random state) go to
``var/generator/checkpoints/<fingerprint>/step-N`` every ``checkpoint_every`` steps (the
fingerprint hashes the data and hyper-parameters); ``resume=True`` continues from the newest
checkpoint of the same fingerprint, with the batches a straight run would have seen.

Example:
    >>> result = train(TrainConfig(steps=300), base_dir=Path("var/models/gemma-3-270m-q4_k_m-hf"))
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import random
import re
import shutil
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from models.errors import GeneratorError
from models.examples import ContextItem, Example, read_jsonl
from models.prompt import build_prompt
from models.settings import DEFAULT_ADAPTER_DIR, ROOT
from models.torch_runtime import quiet_peft, select_device

if TYPE_CHECKING:
    import torch
    from peft import PeftModel
    from transformers import PreTrainedTokenizerBase

log = logging.getLogger(__name__)

DATA_DIR = ROOT / "var" / "generator" / "data"
CHECKPOINT_DIR = ROOT / "var" / "generator" / "checkpoints"
ATTENTION_AND_MLP = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
IGNORE = -100
ADAPTER_CONFIG = "adapter_config.json"
ADAPTER_WEIGHTS = "adapter_model.safetensors"
# Checkpoints converted from a packaged GGUF, by the model they hold.
BASE_NAMES = {"gemma-3-270m-q4_k_m-hf": "google/gemma-3-270m"}
_STEP_DIR = re.compile(r"^step-(\d+)$")
PRECISIONS = ("auto", "bf16", "fp32")
# CPU flags of native bfloat16 matrix maths (Intel AMX, AVX-512 BF16 on Intel and AMD Zen 4).
BF16_CPU_FLAGS = frozenset({"amx_bf16", "avx512_bf16"})


@dataclass(frozen=True)
class TrainConfig:
    """Hyper-parameters and paths of one fine-tuning run.

    A step is one optimiser update over ``batch_size * grad_accum`` examples.
    """

    data_dir: Path = DATA_DIR
    out_dir: Path = DEFAULT_ADAPTER_DIR
    checkpoint_dir: Path = CHECKPOINT_DIR
    rank: int = 16
    alpha: int = 32
    dropout: float = 0.05
    learning_rate: float = 3e-4
    steps: int = 240
    batch_size: int = 4
    grad_accum: int = 2
    max_length: int = 384
    warmup_steps: int = 10
    checkpoint_every: int = 20
    seed: int = 0
    target_modules: tuple[str, ...] = ATTENTION_AND_MLP
    threads: int = 0
    # "bf16": forward and backward under bfloat16 autocast (the LoRA weights and the optimiser
    # stay float32); "fp32": all float32; "auto": bf16 where the hardware does it natively.
    precision: str = "auto"

    def __post_init__(self) -> None:
        for name in ("rank", "alpha", "steps", "batch_size", "grad_accum", "checkpoint_every"):
            value = getattr(self, name)
            if value <= 0:
                raise ValueError(f"{name} must be greater than 0, got {value}")
        if self.max_length < 64:
            raise ValueError(f"max_length must be at least 64 tokens, got {self.max_length}")
        if not 0 < self.learning_rate < 1:
            raise ValueError(f"learning_rate must be between 0 and 1, got {self.learning_rate}")
        if not 0 <= self.dropout < 1:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")
        if self.warmup_steps < 0:
            raise ValueError(f"warmup_steps must not be negative, got {self.warmup_steps}")
        if not self.target_modules:
            raise ValueError("target_modules must name at least one module")
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {PRECISIONS}, got {self.precision!r}")

    def hyperparameters(self) -> dict[str, Any]:
        """What determines the result (paths and thread count left out)."""
        skip = {"data_dir", "out_dir", "checkpoint_dir", "threads"}
        values = {f.name: getattr(self, f.name) for f in fields(self) if f.name not in skip}
        values["target_modules"] = list(self.target_modules)
        return values


@dataclass
class TrainResult:
    """What a run did: steps, losses, timings, where the adapter went."""

    adapter_dir: Path
    device: str
    precision: str
    examples: int
    skipped: int
    steps: int
    resumed_from: int
    seconds: float
    seconds_per_step: float
    losses: list[float] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready copy."""
        data = asdict(self)
        data["adapter_dir"] = str(self.adapter_dir)
        return data


@dataclass(frozen=True)
class Encoded:
    """Token ids of one training example; labels are IGNORE on prompt tokens."""

    input_ids: list[int]
    labels: list[int]


def cpu_flags(cpuinfo: Path = Path("/proc/cpuinfo")) -> frozenset[str]:
    """The CPU's feature flags (empty where /proc/cpuinfo does not exist)."""
    try:
        text = cpuinfo.read_text()
    except OSError:
        return frozenset()
    for line in text.splitlines():
        if line.startswith("flags"):
            return frozenset(line.partition(":")[2].split())
    return frozenset()


def resolve_precision(precision: str, device: torch.device, flags: frozenset[str]) -> str:
    """``"bf16"`` or ``"fp32"`` for this run: "auto" picks bf16 on a GPU that supports it and
    on a CPU with native bfloat16 instructions (7.7 s per step instead of 24 s on this
    project's AMD EPYC), float32 elsewhere."""
    import torch

    if precision != "auto":
        return precision
    if device.type == "cuda":
        return "bf16" if torch.cuda.is_bf16_supported() else "fp32"
    return "bf16" if flags & BF16_CPU_FLAGS else "fp32"


def encode(example: Example, tokenizer: PreTrainedTokenizerBase, max_length: int) -> Encoded | None:
    """Tokenise one example within ``max_length`` tokens; None when it cannot be kept whole.

    The context is cut to make room (`models.prompt.build_prompt`); the answer never is. An
    answerable example whose facts were cut out of the context is left out: training on it
    would teach the model to state facts it cannot see.
    """
    answer = tokenizer(" " + example.answer.strip(), add_special_tokens=False)["input_ids"]
    answer = [*answer, tokenizer.eos_token_id]
    specials = len(tokenizer("", add_special_tokens=True)["input_ids"])
    budget = max_length - len(answer) - specials
    for _ in range(4):
        if budget < 32:
            return None
        prompt = build_prompt(
            example.question,
            example.context,
            max_tokens=budget,
            count_tokens=lambda text: len(tokenizer(text, add_special_tokens=False)["input_ids"]),
        )
        ids = tokenizer(prompt.text, add_special_tokens=True)["input_ids"]
        overflow = len(ids) + len(answer) - max_length
        if overflow <= 0:
            if prompt.truncated and not _grounded(example, prompt.items):
                return None  # cutting the context removed what the answer rests on
            return Encoded(input_ids=[*ids, *answer], labels=[IGNORE] * len(ids) + answer)
        budget -= overflow  # pieces tokenise a little differently from the whole
    return None


def _grounded(example: Example, shown: Sequence[ContextItem]) -> bool:
    """Whether the answer's facts are all in the context items the prompt kept."""
    from models import guard

    if example.kind == "refusal":
        return True
    texts = " ".join(item.text for item in shown)
    return (
        all(fact in texts for fact in example.facts)
        and guard.check(example.answer, list(shown)).passed
    )


def train(
    config: TrainConfig,
    *,
    base_dir: Path,
    resume: bool = False,
    progress: bool = True,
    examples: Sequence[Example] | None = None,
) -> TrainResult:
    """Fine-tune a LoRA adapter on ``base_dir`` and save it to ``config.out_dir``.

    Args:
        config: Hyper-parameters and paths.
        base_dir: A Hugging Face causal-LM folder (`models.base.hf_checkpoint`).
        resume: Continue from the newest checkpoint in ``config.checkpoint_dir``.
        progress: Show a tqdm progress bar.
        examples: Training examples; by default ``config.data_dir / "train.jsonl"``.

    Returns:
        Steps, losses and timings.

    Raises:
        GeneratorError: If there is no data, or the checkpoint was made with other settings.
    """
    import torch
    from peft import LoraConfig, get_peft_model
    from tqdm import tqdm
    from transformers import AutoModelForCausalLM, AutoTokenizer

    if examples is None:
        data = config.data_dir / "train.jsonl"
        if not data.is_file():
            raise GeneratorError(f"no training data at {data}: run `python -m training build-data`")
        examples = list(read_jsonl(data))
    if config.threads > 0:
        torch.set_num_threads(config.threads)
    device = select_device()
    precision = resolve_precision(config.precision, device, cpu_flags())
    if precision != config.precision:
        config = replace(config, precision=precision)  # the fingerprint names what ran
    _seed(config.seed)
    tokenizer = AutoTokenizer.from_pretrained(base_dir)
    encoded = [e for e in (encode(x, tokenizer, config.max_length) for x in examples) if e]
    skipped = len(examples) - len(encoded)
    if not encoded:
        raise GeneratorError(
            f"none of the {len(examples)} examples fits {config.max_length} tokens"
        )
    if skipped:
        log.warning("%d examples do not fit %d tokens and are left out", skipped, config.max_length)

    model = AutoModelForCausalLM.from_pretrained(base_dir, dtype=torch.float32)
    lora = LoraConfig(
        r=config.rank,
        lora_alpha=config.alpha,
        lora_dropout=config.dropout,
        target_modules=list(config.target_modules),
        task_type="CAUSAL_LM",
    )
    with quiet_peft():
        peft_model = get_peft_model(model, lora).to(device)
    trainable = [p for p in peft_model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trainable, lr=config.learning_rate, weight_decay=0.0)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, _schedule(config))
    fingerprint = _fingerprint(config, encoded)

    start_step = 0
    losses: list[float] = []
    if resume:
        start_step, losses = _restore(config, fingerprint, peft_model, optimizer, scheduler)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    started = time.perf_counter()
    bar = tqdm(
        total=config.steps, initial=start_step, disable=not progress, desc="LoRA", unit="step"
    )
    peft_model.train()
    for step in range(start_step, config.steps):
        batches = _step_batches(encoded, step, config)
        answer_tokens = sum(sum(1 for t in e.labels if t != IGNORE) for b in batches for e in b)
        total = 0.0
        for batch in batches:
            input_ids, attention, labels = _collate(batch, pad, device)
            with torch.autocast(device.type, torch.bfloat16, enabled=precision == "bf16"):
                loss = _answer_loss_sum(peft_model, input_ids, attention, labels) / answer_tokens
            loss.backward()
            total += float(loss.detach())
        torch.nn.utils.clip_grad_norm_(trainable, 1.0)
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        losses.append(round(total, 4))
        bar.update(1)
        bar.set_postfix(loss=f"{total:.3f}")
        done = step + 1
        if done % config.checkpoint_every == 0 or done == config.steps:
            _checkpoint(config, fingerprint, done, peft_model, optimizer, scheduler, losses)
    bar.close()
    seconds = time.perf_counter() - started
    ran = config.steps - start_step
    save_adapter(peft_model, config.out_dir)
    result = TrainResult(
        adapter_dir=config.out_dir,
        device=str(device),
        precision=precision,
        examples=len(encoded),
        skipped=skipped,
        steps=config.steps,
        resumed_from=start_step,
        seconds=round(seconds, 1),
        seconds_per_step=round(seconds / ran, 3) if ran else 0.0,
        losses=losses,
    )
    return result


def save_adapter(model: PeftModel, out_dir: Path) -> Path:
    """Save the peft adapter, weights in float16 (half the size), keeping the folder's card.

    Only adapter_config.json and adapter_model.safetensors are replaced: peft's own
    README.md would overwrite the model card.
    """
    import torch
    from safetensors.torch import load_file, save_file

    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out_dir.parent) as scratch:
        model.save_pretrained(scratch)
        weights = Path(scratch) / ADAPTER_WEIGHTS
        tensors = {name: t.to(torch.float16).contiguous() for name, t in load_file(weights).items()}
        save_file(tensors, weights, metadata={"format": "pt"})
        config_file = Path(scratch) / ADAPTER_CONFIG
        adapter_config = json.loads(config_file.read_text(encoding="utf-8"))
        # peft records the local path of the base; the card names the model instead.
        base = Path(str(adapter_config.get("base_model_name_or_path") or ""))
        adapter_config["base_model_name_or_path"] = BASE_NAMES.get(base.name, base.name)
        config_file.write_text(json.dumps(adapter_config, indent=2), encoding="utf-8")
        for name in (ADAPTER_CONFIG, ADAPTER_WEIGHTS):
            (Path(scratch) / name).replace(out_dir / name)
    return out_dir


def _seed(seed: int) -> None:
    import numpy as np
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def _schedule(config: TrainConfig) -> Any:
    """Linear warm-up, then cosine decay to a tenth of the peak rate."""

    def factor(step: int) -> float:
        if step < config.warmup_steps:
            return (step + 1) / config.warmup_steps
        span = max(1, config.steps - config.warmup_steps)
        progress = min(1.0, (step - config.warmup_steps) / span)
        return 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress))

    return factor


def _step_batches(
    encoded: Sequence[Encoded], step: int, config: TrainConfig
) -> list[list[Encoded]]:
    """The micro-batches of one step: a fixed function of (seed, step), so resuming repeats it."""
    import numpy as np

    per_step = config.batch_size * config.grad_accum
    first = step * per_step
    picked: list[Encoded] = []
    position = first
    while len(picked) < per_step:
        epoch, offset = divmod(position, len(encoded))
        order = np.random.default_rng([config.seed, epoch]).permutation(len(encoded))
        take = min(per_step - len(picked), len(encoded) - offset)
        picked.extend(encoded[int(i)] for i in order[offset : offset + take])
        position += take
    # Similar lengths in a micro-batch waste less compute on padding.
    picked.sort(key=lambda e: len(e.input_ids))
    size = config.batch_size
    return [picked[i : i + size] for i in range(0, per_step, size)]


def _collate(
    batch: Sequence[Encoded], pad: int, device: torch.device
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    import torch

    width = max(len(e.input_ids) for e in batch)
    ids = torch.full((len(batch), width), pad, dtype=torch.long)
    mask = torch.zeros((len(batch), width), dtype=torch.long)
    labels = torch.full((len(batch), width), IGNORE, dtype=torch.long)
    for row, example in enumerate(batch):
        size = len(example.input_ids)
        ids[row, :size] = torch.tensor(example.input_ids)
        mask[row, :size] = 1
        labels[row, :size] = torch.tensor(example.labels)
    return ids.to(device), mask.to(device), labels.to(device)


def _answer_loss_sum(
    model: PeftModel, input_ids: torch.Tensor, attention: torch.Tensor, labels: torch.Tensor
) -> torch.Tensor:
    """Summed cross-entropy over answer tokens, with the LM head run on those positions only."""
    import torch.nn.functional as F

    base: Any = model.get_base_model()
    hidden = base.get_decoder()(input_ids=input_ids, attention_mask=attention).last_hidden_state
    targets = labels[:, 1:]
    keep = targets != IGNORE
    logits = base.get_output_embeddings()(hidden[:, :-1][keep])
    cap = getattr(base.config, "final_logit_softcapping", None)
    if cap:
        logits = (logits / cap).tanh() * cap
    return F.cross_entropy(logits.float(), targets[keep], reduction="sum")


def _fingerprint(config: TrainConfig, encoded: Sequence[Encoded]) -> str:
    digest = hashlib.sha256(json.dumps(config.hyperparameters(), sort_keys=True).encode())
    for example in encoded:
        digest.update(json.dumps(example.input_ids).encode())
    return digest.hexdigest()[:16]


def checkpoints(checkpoint_dir: Path) -> list[tuple[int, Path]]:
    """The complete checkpoints in a folder as (step, path), oldest first."""
    if not checkpoint_dir.is_dir():
        return []
    found = []
    for path in checkpoint_dir.iterdir():
        match = _STEP_DIR.match(path.name)
        if match and (path / "state.pt").is_file():
            found.append((int(match.group(1)), path))
    return sorted(found)


def _checkpoint(
    config: TrainConfig,
    fingerprint: str,
    step: int,
    model: PeftModel,
    optimizer: Any,
    scheduler: Any,
    losses: list[float],
) -> None:
    import torch

    target = config.checkpoint_dir / fingerprint / f"step-{step:06d}"
    partial = target.with_name(target.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    model.save_pretrained(str(partial))
    state = {
        "step": step,
        "fingerprint": fingerprint,
        "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict(),
        "losses": losses,
        "torch_rng": torch.get_rng_state(),
        "cuda_rng": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
    }
    torch.save(state, partial / "state.pt")
    shutil.rmtree(target, ignore_errors=True)
    partial.replace(target)
    for _, old in checkpoints(target.parent)[:-2]:  # keep the newest two
        shutil.rmtree(old, ignore_errors=True)


def _restore(
    config: TrainConfig, fingerprint: str, model: PeftModel, optimizer: Any, scheduler: Any
) -> tuple[int, list[float]]:
    import torch
    from peft import set_peft_model_state_dict
    from safetensors.torch import load_file

    found = checkpoints(config.checkpoint_dir / fingerprint)
    if not found:
        log.info("No checkpoint of this data and these settings: starting from step 0")
        return 0, []
    step, path = found[-1]
    state = torch.load(path / "state.pt", weights_only=False)
    if state["fingerprint"] != fingerprint:
        raise GeneratorError(f"checkpoint {path} belongs to another run (fingerprint differs)")
    if step > config.steps:
        raise GeneratorError(f"checkpoint {path} is past steps={config.steps}")
    set_peft_model_state_dict(model, load_file(path / "adapter_model.safetensors"))
    optimizer.load_state_dict(state["optimizer"])
    scheduler.load_state_dict(state["scheduler"])
    torch.set_rng_state(state["torch_rng"])
    if state["cuda_rng"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda_rng"])
    log.info("Resuming from %s (step %d)", path, step)
    return step, list(state["losses"])


def training_markdown(config: TrainConfig, result: TrainResult, base: Path) -> str:
    """The training section of the model card: hyper-parameters, time, loss curve."""
    losses = result.losses
    every = max(1, len(losses) // 10)
    curve = []
    for step in range(every, len(losses) + 1, every):
        window = losses[step - every : step]
        curve.append(f"| {step} | {sum(window) / len(window):.3f} |")
    hyper = config.hyperparameters()
    per_step = config.batch_size * config.grad_accum
    resumed = f", resumed from step {result.resumed_from}" if result.resumed_from else ""
    maths = "bfloat16 autocast" if result.precision == "bf16" else "float32 maths"
    return "\n".join(
        [
            f"LoRA (peft) on `{base.name}` converted to float32, {result.device}, {maths}, "
            f"{result.examples} training examples ({result.skipped} left out: their facts did "
            f"not fit {config.max_length} tokens), {config.steps} steps of {per_step} examples "
            f"(~{config.steps * per_step / max(1, result.examples):.2f} epochs), loss on answer "
            "tokens only.",
            "",
            "| hyper-parameter | value |",
            "|---|---|",
            *(f"| {name} | {value} |" for name, value in hyper.items()),
            "",
            f"Time: {result.seconds / 60:.1f} min in this run ({result.seconds_per_step:.1f} s "
            f"per step{resumed}).",
            "",
            "| step | mean training loss (last steps) |",
            "|---:|---:|",
            *curve,
        ]
    )
