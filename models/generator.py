"""Serving the generator: one interface, a transformers and a llama.cpp backend, with limits.

Both backends decode greedily one token at a time, so the same rules apply to each: an
answer ends at the end-of-sequence token, at a stop sequence (never shown), after
``max_new_tokens`` tokens or after ``max_seconds``. `Generator.stream` yields the text as
it is decoded (for channels that show typing); `Generator.generate` returns it whole with
its timings. Nothing is loaded at import: `load_generator` builds the configured backend
once and caches it.

One instance runs one request at a time: neither llama.cpp's context nor a torch model with
its cache survives two threads decoding at once (three concurrent handoff summaries ended
the gateway with SIGABRT). Each backend holds its own lock for a whole answer, a stream
included (released when the stream ends, is closed or raises), and a caller waits at most
``wait_seconds`` for it before a `GeneratorError` says the model is busy. Tokenizing
(`tokenize`, `count_tokens`) never waits for the model: a prompt being built does not queue
behind an answer being decoded.

Example:
    >>> generator = load_generator()  # GENERATOR_* from the environment
    >>> if generator is not None:
    ...     print(generator.generate(prompt).text)
"""

from __future__ import annotations

import codecs
import importlib
import logging
import threading
import time
from collections.abc import Generator as Stepper
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol

from models.base import base_path, hf_checkpoint, model_name
from models.errors import GeneratorError, ModelNotFound, PromptTooLong
from models.prompt import STOP_SEQUENCES
from models.settings import GeneratorSettings

if TYPE_CHECKING:
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

log = logging.getLogger(__name__)

StopReason = Literal["eos", "stop", "max_tokens", "time"]
LORA_GGUF = "adapter_model.gguf"  # the GGUF LoRA inside an adapter folder (training.export)
LLAMA_CONTEXT = 2048
# How long a request waits for a model another thread is using before it gives up.
WAIT_SECONDS = 120.0
CACHE_SIZE = 4


@dataclass(frozen=True)
class Limits:
    """When an answer ends, whatever the model would still say."""

    max_new_tokens: int = 160
    max_seconds: float = 20.0
    stop: tuple[str, ...] = STOP_SEQUENCES

    def __post_init__(self) -> None:
        if self.max_new_tokens <= 0:
            raise ValueError(f"max_new_tokens must be greater than 0, got {self.max_new_tokens}")
        if self.max_seconds <= 0:
            raise ValueError(f"max_seconds must be greater than 0, got {self.max_seconds}")
        if any(not stop for stop in self.stop):
            raise ValueError("stop sequences must not be empty strings")


@dataclass(frozen=True)
class Generation:
    """One answer and how it was made.

    ``seconds`` covers the prompt and every token; ``first_token_seconds`` is the time to
    the first generated token (None when the model ended at once); ``tokens`` counts
    generated tokens, the end-of-sequence token excluded.
    """

    text: str
    tokens: int
    seconds: float
    first_token_seconds: float | None
    stopped_by: StopReason

    @property
    def tokens_per_second(self) -> float:
        """Decoding speed after the first token (prompt processing excluded)."""
        if self.first_token_seconds is None or self.tokens < 2:
            return 0.0
        decoding = self.seconds - self.first_token_seconds
        return (self.tokens - 1) / decoding if decoding > 0 else 0.0


class Generator(Protocol):
    """What callers need from a backend: safe to share between threads, one request at a time."""

    name: str
    limits: Limits

    def count_tokens(self, text: str) -> int:
        """Tokens of ``text`` without special tokens (for `models.prompt.build_prompt`)."""
        ...

    def generate(self, prompt: str) -> Generation:
        """The whole answer to ``prompt`` with its timings."""
        ...

    def stream(self, prompt: str) -> Iterator[str]:
        """The answer to ``prompt`` piece by piece, as it is decoded."""
        ...


class _Decoder:
    """The limits, stop-sequence handling and model lock shared by the backends.

    Subclasses yield the text of each new token from `_token_texts` ("" while a character
    is incomplete) and return when the model emits an end-of-sequence token; whatever
    touches the model runs inside `_exclusive`.
    """

    name = "decoder"

    def __init__(self, limits: Limits, *, wait_seconds: float = WAIT_SECONDS) -> None:
        if wait_seconds <= 0:
            raise ValueError(f"wait_seconds must be greater than 0, got {wait_seconds}")
        self.limits = limits
        self.wait_seconds = wait_seconds
        # A plain Lock, not an RLock: a stream may be resumed from another thread than the
        # one that started it (an event loop's worker threads), and must release from there.
        self._lock = threading.Lock()
        self._holder: int | None = None

    @contextmanager
    def _exclusive(self) -> Iterator[None]:
        """Hold the model for the calling thread; wait at most ``wait_seconds`` for it.

        Raises:
            GeneratorError: The model stayed busy, or this thread already holds it (a
                stream it has not finished): waiting would never end.
        """
        if self._holder == threading.get_ident():
            raise GeneratorError(
                "this thread is already using the model (finish or close its stream first)"
            )
        if not self._lock.acquire(timeout=self.wait_seconds):
            raise GeneratorError(f"the model stayed busy for {self.wait_seconds:g} s")
        self._holder = threading.get_ident()
        try:
            yield
        finally:
            self._holder = None
            self._lock.release()

    def _token_texts(self, prompt: str) -> Stepper[str, None, None]:
        raise NotImplementedError

    def _clock(self) -> float:
        return time.perf_counter()

    def generate(self, prompt: str, *, limits: Limits | None = None) -> Generation:
        """The whole answer to ``prompt`` with its timings (see `Generation`).

        ``limits`` replace the instance's for this answer (a server lowering max_new_tokens).
        """
        run = self._run(prompt, limits)
        while True:
            try:
                next(run)
            except StopIteration as done:
                result: Generation = done.value
                return result

    def stream(self, prompt: str, *, limits: Limits | None = None) -> Stepper[str, None, None]:
        """The answer to ``prompt`` piece by piece; stop sequences are never yielded.

        The model stays held until the stream ends: a consumer that stops early should
        ``close()`` it (dropping the last reference does the same).
        """
        yield from self._run(prompt, limits)

    def pieces(
        self, prompt: str, *, limits: Limits | None = None
    ) -> Stepper[str, None, Generation]:
        """Like `stream`, and the generator's return value is the `Generation` (for servers
        that send the text as it comes and the timings at the end).

        Example:
            >>> steps = generator.pieces(prompt)
            >>> try:
            ...     while True:
            ...         send(next(steps))
            ... except StopIteration as done:
            ...     generation = done.value
        """
        return self._run(prompt, limits)

    def _run(self, prompt: str, limits: Limits | None = None) -> Stepper[str, None, Generation]:
        if not prompt.strip():
            raise GeneratorError("prompt must not be empty")
        # Held across every yield: a consumer that stops early closes this generator,
        # which releases the model (GeneratorExit passes through the ``with``).
        with self._exclusive():
            return (yield from self._decode(prompt, limits or self.limits))

    def _decode(self, prompt: str, limits: Limits) -> Stepper[str, None, Generation]:
        start = self._clock()
        first: float | None = None
        text = ""
        released = 0
        tokens = 0
        reason: StopReason = "eos"
        pieces = self._token_texts(prompt)
        try:
            for piece in pieces:
                tokens += 1
                if first is None:
                    first = self._clock() - start
                text += piece
                lead = len(text) - len(text.lstrip())
                cut = _first_stop(text, lead, limits.stop)
                if cut is not None:
                    text, reason = text[:cut], "stop"
                    break
                safe = len(text) - _partial_stop(text, lead, limits.stop)
                if safe > max(released, lead):
                    yield text[max(released, lead) : safe]
                    released = safe
                if tokens >= limits.max_new_tokens:
                    reason = "max_tokens"
                    break
                if self._clock() - start >= limits.max_seconds:
                    reason = "time"
                    break
        finally:
            pieces.close()
        lead = len(text) - len(text.lstrip())
        if len(text) > max(released, lead):
            yield text[max(released, lead) :]
        return Generation(
            text=text.strip(),
            tokens=tokens,
            seconds=self._clock() - start,
            first_token_seconds=first,
            stopped_by=reason,
        )


def _first_stop(text: str, lead: int, stops: Sequence[str]) -> int | None:
    """Where the earliest stop sequence starts (leading whitespace never counts)."""
    found = [index for stop in stops if (index := text.find(stop, lead)) >= 0]
    return min(found) if found else None


def _partial_stop(text: str, lead: int, stops: Sequence[str]) -> int:
    """How many trailing characters could be the start of a stop sequence (held back)."""
    longest = 0
    for stop in stops:
        for size in range(min(len(stop) - 1, len(text) - lead), longest, -1):
            if text.endswith(stop[:size]):
                longest = size
                break
    return longest


class TransformersGenerator(_Decoder):
    """A Hugging Face causal LM, with a peft adapter merged in, decoding on CPU or GPU.

    Example:
        >>> generator = TransformersGenerator.load(Path("var/models/gemma-3-270m-q4_k_m-hf"),
        ...     Path("models/adapters/gemma-3-270m-erp"), Limits())
    """

    name = "transformers"

    def __init__(
        self,
        model: PreTrainedModel,
        tokenizer: PreTrainedTokenizerBase,
        limits: Limits,
        *,
        wait_seconds: float = WAIT_SECONDS,
    ) -> None:
        super().__init__(limits, wait_seconds=wait_seconds)
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.device = next(model.parameters()).device
        self._eos = _eos_ids(model, tokenizer)
        # Its own lock, not the model's: a fast tokenizer is not safe for two threads at
        # once ("Already borrowed"), yet counting tokens must not wait for an answer.
        self._tokenizer_lock = threading.Lock()

    @classmethod
    def load(
        cls, base_dir: Path, adapter_dir: Path | None, limits: Limits, *, threads: int = 0
    ) -> TransformersGenerator:
        """Load a Hugging Face checkpoint and, when given, merge a peft adapter into it.

        Raises:
            ModelNotFound: If the adapter folder has no adapter_config.json.
        """
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        from models.torch_runtime import select_device

        if threads > 0:
            torch.set_num_threads(threads)
        device = select_device()
        tokenizer = AutoTokenizer.from_pretrained(base_dir)
        model: Any = AutoModelForCausalLM.from_pretrained(base_dir, dtype=torch.float32)
        if adapter_dir is not None:
            if not (adapter_dir / "adapter_config.json").is_file():
                raise ModelNotFound(f"no peft adapter (adapter_config.json) in {adapter_dir}")
            from peft import PeftModel

            from models.torch_runtime import quiet_peft

            with quiet_peft():
                model = PeftModel.from_pretrained(model, adapter_dir).merge_and_unload()
        return cls(model.to(device), tokenizer, limits)

    def count_tokens(self, text: str) -> int:
        """Tokens of ``text`` without special tokens."""
        return len(self.tokenize(text))

    def tokenize(self, text: str) -> list[int]:
        """Token ids of ``text`` without special tokens; never waits for the model."""
        with self._tokenizer_lock:
            ids = self.tokenizer(text, add_special_tokens=False)["input_ids"]
        return [int(token) for token in ids]

    def _token_texts(self, prompt: str) -> Stepper[str, None, None]:
        import torch

        ids = self.tokenizer(prompt, return_tensors="pt")["input_ids"].to(self.device)
        generated: list[int] = []
        shown = ""
        cache: Any = None
        with torch.inference_mode():
            while True:
                output = self.model(input_ids=ids, cache=cache, use_cache=True)
                cache = output.cache
                token = int(output.logits[0, -1].argmax())
                if token in self._eos:
                    return
                generated.append(token)
                text = str(
                    self.tokenizer.decode(
                        generated, skip_special_tokens=True, clean_up_tokenization_spaces=False
                    )
                )
                if text.endswith("\ufffd") or not text.startswith(shown):
                    yield ""  # an incomplete character: wait for the next token
                else:
                    yield text[len(shown) :]
                    shown = text
                ids = torch.tensor([[token]], device=self.device)


def _eos_ids(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase) -> frozenset[int]:
    ids: set[int] = set()
    for value in (tokenizer.eos_token_id, getattr(model.generation_config, "eos_token_id", None)):
        if isinstance(value, int):
            ids.add(value)
        elif isinstance(value, list):
            ids.update(v for v in value if isinstance(v, int))
    return frozenset(ids)


class LlamaCppGenerator(_Decoder):
    """A GGUF model run by llama.cpp (llama-cpp-python), with a GGUF LoRA applied.

    Example:
        >>> generator = LlamaCppGenerator.load(Path("var/models/gemma-3-270m-q4_k_m.gguf"),
        ...     Path("models/adapters/gemma-3-270m-erp/adapter_model.gguf"), Limits())
    """

    name = "llama_cpp"

    def __init__(
        self,
        llama: Any,
        limits: Limits,
        *,
        wait_seconds: float = WAIT_SECONDS,
        vocab: Any = None,
    ) -> None:
        """``vocab``: a vocabulary-only ``Llama`` of the same model, which tokenizes without
        waiting for ``llama`` (None: tokenizing takes the model's lock)."""
        super().__init__(limits, wait_seconds=wait_seconds)
        self.llama = llama
        self.vocab = vocab
        self._vocab_lock = threading.Lock()

    @classmethod
    def load(
        cls,
        model_path: Path,
        lora_path: Path | None,
        limits: Limits,
        *,
        threads: int = 0,
        context: int = LLAMA_CONTEXT,
        gpu_layers: int = 0,
    ) -> LlamaCppGenerator:
        """Load a GGUF model, and a GGUF LoRA adapter on top of it when given.

        ``gpu_layers`` layers are offloaded to a GPU when llama.cpp was built with one
        (-1: all).

        Raises:
            ModelNotFound: If a file is missing.
            GeneratorError: If llama.cpp cannot load them.
        """
        from llama_cpp import Llama

        for path in (model_path, lora_path):
            if path is not None and not path.is_file():
                raise ModelNotFound(f"no such GGUF file: {path}")
        options: dict[str, Any] = {"n_threads": threads, "n_threads_batch": threads}
        _keep_process_output()
        try:
            llama = Llama(
                model_path=str(model_path),
                lora_path=str(lora_path) if lora_path is not None else None,
                n_ctx=context,
                n_gpu_layers=gpu_layers,
                verbose=False,
                **{key: value for key, value in options.items() if value > 0},
            )
            # The vocabulary alone (a few MB, no weights, no context): tokenizing with it never
            # waits for an answer being decoded by the model's own instance.
            vocab = Llama(
                model_path=str(model_path), vocab_only=True, n_ctx=256, n_batch=64, verbose=False
            )
        except (ValueError, RuntimeError) as error:
            raise GeneratorError(f"llama.cpp cannot load {model_path}: {error}") from error
        return cls(llama, limits, vocab=vocab)

    def count_tokens(self, text: str) -> int:
        """Tokens of ``text`` without special tokens."""
        return len(self.tokenize(text))

    def tokenize(self, text: str) -> list[int]:
        """Token ids of ``text`` without special tokens (no BOS); never waits for the model
        when a vocabulary-only instance was loaded."""
        data = text.encode("utf-8")
        if self.vocab is None:
            with self._exclusive():
                return list(self.llama.tokenize(data, add_bos=False, special=False))
        with self._vocab_lock:
            return list(self.vocab.tokenize(data, add_bos=False, special=False))

    def _token_texts(self, prompt: str) -> Stepper[str, None, None]:
        llama = self.llama
        tokens = llama.tokenize(prompt.encode("utf-8"), add_bos=True, special=False)
        room = llama.n_ctx() - len(tokens)
        if room < self.limits.max_new_tokens:
            raise PromptTooLong(
                f"the prompt has {len(tokens)} tokens; with max_new_tokens="
                f"{self.limits.max_new_tokens} it does not fit the context of {llama.n_ctx()}"
            )
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        previous = list(tokens)
        # Reusing a cached prompt prefix re-decodes only the tail, which can flip a greedy
        # choice (seen with Gemma 3's sliding-window cache): every answer starts afresh.
        llama.reset()
        for token in llama.generate(
            tokens, top_k=1, top_p=1.0, min_p=0.0, temp=0.0, repeat_penalty=1.0, reset=True
        ):
            if _is_end(llama, token):
                return
            yield decoder.decode(llama.detokenize([token], prev_tokens=previous))
            previous.append(token)


class _NoRedirection:
    """Stands in for llama-cpp-python's ``suppress_stdout_stderr``: leaves fd 1 and 2 alone."""

    def __init__(self, disable: bool = True) -> None:
        self.disable = disable

    def __enter__(self) -> _NoRedirection:
        return self

    def __exit__(self, *_: object) -> None:
        return None


def _keep_process_output() -> None:
    """Stop llama-cpp-python from pointing the whole process's stdout and stderr at /dev/null.

    With ``verbose=False`` it dup2()s /dev/null over fd 1 and 2 while a model loads: every
    thread's log lines are lost meanwhile, and two overlapping loads restore each other's
    /dev/null, which silenced the gateway's log for good. llama.cpp's own messages already
    go through its log callback (errors only when not verbose); the few lines it prints
    directly while loading are a fair price for a log that keeps working.
    """
    for name in ("llama_cpp.llama", "llama_cpp._internals", "llama_cpp.llama_chat_format"):
        try:
            module: Any = importlib.import_module(name)
        except ImportError:  # another llama-cpp-python layout: nothing of ours to undo there
            continue
        if hasattr(module, "suppress_stdout_stderr"):
            module.suppress_stdout_stderr = _NoRedirection


def _is_end(llama: Any, token: int) -> bool:
    import llama_cpp

    return bool(llama_cpp.llama_vocab_is_eog(llama._model.vocab, token))


_cache: dict[GeneratorSettings, Generator | None] = {}
_cache_lock = threading.Lock()


def load_generator(settings: GeneratorSettings | None = None) -> Generator | None:
    """The configured generator, built on first use and cached; None when it is off.

    Threads asking at once for a generator not loaded yet get the same instance: one loads
    it while the others wait (two instances would double the memory and the load time).
    A failed load is not cached, so the next call tries again.

    Raises:
        ModelNotFound: If the base model or adapter is missing.
        GeneratorError: If the backend cannot load them.
    """
    settings = settings or GeneratorSettings.from_env()
    with _cache_lock:
        if settings not in _cache:
            generator = _load(settings)
            if len(_cache) >= CACHE_SIZE:
                del _cache[next(iter(_cache))]
            _cache[settings] = generator
        return _cache[settings]


def gpu_layers(settings: GeneratorSettings) -> int:
    """The llama.cpp layers to offload: GENERATOR_GPU_LAYERS when set, else all of them when
    llama.cpp was built with GPU offload (CUDA, `GPU=1 make install`), none on a CPU build."""
    if settings.gpu_layers is not None:
        return settings.gpu_layers
    import llama_cpp

    return -1 if llama_cpp.llama_supports_gpu_offload() else 0


def _load(settings: GeneratorSettings) -> Generator | None:
    if not settings.enabled:
        return None
    limits = Limits(max_new_tokens=settings.max_new_tokens, max_seconds=settings.max_seconds)
    base = base_path(settings)
    adapter = settings.adapter_dir
    started = time.perf_counter()
    generator: Generator
    if settings.backend == "transformers":
        checkpoint = hf_checkpoint(base, settings.models_dir)
        generator = TransformersGenerator.load(
            checkpoint, adapter, limits, threads=settings.threads
        )
    else:
        gguf = base if base.suffix == ".gguf" else settings.models_dir / f"{model_name(base)}.gguf"
        if not gguf.is_file():
            raise ModelNotFound(
                f"llama.cpp needs a GGUF of {base}: run `python -m training export --base-gguf`"
            )
        lora = None if adapter is None else adapter / LORA_GGUF
        if lora is not None and not lora.is_file():
            raise ModelNotFound(f"no GGUF LoRA in {adapter}: run `python -m training export`")
        generator = LlamaCppGenerator.load(
            gguf, lora, limits, threads=settings.threads, gpu_layers=gpu_layers(settings)
        )
    log.info("Loaded the %s generator in %.1f s", generator.name, time.perf_counter() - started)
    return generator
