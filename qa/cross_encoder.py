"""A cross-encoder (CE) evidence scorer: multilingual-e5-small read over the question and a candidate sentence
together, with a LoRA adapter and a one-logit head fine-tuned to say whether the sentence answers.

Why a cross-encoder: the e5 bi-encoder embeds the question and the sentence apart, so it can only tell that a
sentence is *about* the question. Reading both in one pass lets attention match "dibubarkan" against
"didirikan", or the asked-for role against the person in the sentence.

How it is made (see ``benchmarks/ce_pack.py`` and ``benchmarks/ce_train_device.py``): the training pairs are
tokenised by :func:`encode_question` / :func:`encode_pair` below, so training and inference share one input
format; the adapter is trained on a GPU machine against an int8 copy of the base model whose word embeddings
hold only the tokens of the training data. LoRA never touches the word embeddings, so the saved adapter (LoRA
A/B per linear layer plus the head, float16) applies unchanged to the full-vocabulary fp32 model loaded here.

The input, for question Q and candidate sentence S followed by its next sentence N in the same passage::

    <s> query: Q </s></s> passage: S | N </s>

(`` | N`` is left out for a passage's last sentence; whitespace in Q, S and N is collapsed to single spaces;
token_type_ids are all 0). The question part is capped at :data:`MAX_QUERY_TOKENS` tokens and the passage part
is cut at the end so that the whole is at most :data:`MAX_LENGTH` tokens: S comes first, so N is what is lost.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file
from tokenizers import Tokenizer

INPUT_FORMAT = "<s> query: {question} </s></s> passage: {sentence} | {next_sentence} </s>"
QUERY_PREFIX = "query: "
PASSAGE_PREFIX = "passage: "
NEIGHBOUR_SEPARATOR = " | "
MAX_LENGTH = 128
MAX_QUERY_TOKENS = 64
BOS_ID, PAD_ID, EOS_ID = 0, 1, 2
ADAPTER_FILE = "ce_adapter.safetensors"
CONFIG_FILE = "ce_config.json"


def _clean(text: str) -> str:
    return " ".join(text.split())


def build_context(sentence: str, next_sentence: str | None) -> str:
    """The passage part for one candidate: the sentence, then `` | `` and its following neighbour if any.

    Why the neighbour: a sentence often names its subject only in the next one ("Ia lahir di ...") and the
    answer to "who" sits across the boundary; one neighbour keeps pairs short (<= 128 tokens).
    """
    sentence = _clean(sentence)
    nxt = _clean(next_sentence or "")
    return f"{sentence}{NEIGHBOUR_SEPARATOR}{nxt}" if nxt else sentence


def passage_contexts(sentences: Sequence[str]) -> list[str]:
    """:func:`build_context` for every sentence of one passage, in order (empty sentences dropped first)."""
    kept = [s for s in (_clean(s) for s in sentences) if s]
    return [build_context(s, kept[i + 1] if i + 1 < len(kept) else None) for i, s in enumerate(kept)]


def encode_question(tokenizer: Tokenizer, question: str) -> list[int]:
    """Token ids of ``query: Q`` without special tokens, capped at :data:`MAX_QUERY_TOKENS`."""
    return tokenizer.encode(QUERY_PREFIX + _clean(question), add_special_tokens=False).ids[:MAX_QUERY_TOKENS]


def encode_pair(question_ids: Sequence[int], context_ids: Sequence[int]) -> list[int]:
    """``<s> question </s></s> passage: context </s>`` (XLM-R pair layout), context cut to fit MAX_LENGTH.

    ``context_ids`` are the ids of ``passage: `` + context without special tokens; this is exactly what the
    tokenizer's own pair template produces, assembled by hand so the truncation is ours.
    """
    budget = MAX_LENGTH - 4 - len(question_ids)
    return [BOS_ID, *question_ids, EOS_ID, EOS_ID, *context_ids[:budget], EOS_ID]


def encode_contexts(tokenizer: Tokenizer, contexts: Sequence[str]) -> list[list[int]]:
    """Token ids of ``passage: `` + each context, without special tokens (batched in the Rust tokenizer)."""
    encodings = tokenizer.encode_batch([PASSAGE_PREFIX + c for c in contexts], add_special_tokens=False)
    return [e.ids for e in encodings]


def pool(hidden: torch.Tensor, mask: torch.Tensor, pooling: str) -> torch.Tensor:
    """``mean``: average of the non-pad tokens (how e5 was pre-trained); ``cls``: the ``<s>`` token."""
    if pooling == "cls":
        return hidden[:, 0]
    weights = mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * weights).sum(1) / weights.sum(1).clamp(min=1.0)


def round_like_pack(model: torch.nn.Module) -> None:
    """Round the base weights exactly as ``benchmarks/ce_pack.py`` stored them for training: 2-D tensors to
    int8 per row with a float16 scale (max|row| / 127), 1-D tensors to float16; compute stays float32.

    Why: the adapter was trained on that rounded base. Measured on 146 dev pairs with a head fitted to a
    logit spread of ~3 (std), the plain fp32 base gives logits 0.08 off on average and up to 0.28 (the
    int8 noise in the pooled state is ~4% of its spread across inputs); with the same rounding the CPU
    model is the training model and logits agree to float noise. Per-row rounding does not depend on which
    rows are kept, so the full 250k-row word-embedding matrix rounds to the same rows as the pack's subset.
    """
    with torch.no_grad():
        for p in model.parameters():
            if p.ndim == 1:
                p.copy_(p.half().float())
                continue
            scale = (p.abs().amax(dim=1) / 127.0).half()
            scale = torch.where(scale == 0, torch.ones_like(scale), scale).float()[:, None]
            p.copy_(torch.clamp(torch.round(p / scale), -127, 127) * scale)


def merge_lora(model: torch.nn.Module, tensors: dict[str, torch.Tensor], scaling: float) -> int:
    """Fold each saved LoRA pair into its linear layer: ``W += (B @ A) * alpha / r``. Returns layers merged.

    Why merge rather than run peft: after the merge the model is a plain BertModel, as fast as the base and
    with no extra dependency.
    """
    merged = 0
    for name, a in tensors.items():
        if not name.endswith(".lora_A.weight"):
            continue
        module_name = name.removesuffix(".lora_A.weight")
        b = tensors[f"{module_name}.lora_B.weight"]
        linear = model.get_submodule(module_name)
        linear.weight.data += (b.float() @ a.float()) * scaling
        merged += 1
    return merged


@dataclass
class CrossEncoder:
    """The fine-tuned CE on CPU: a BertModel with the LoRA merged, its pooling and a Linear(384, 1) head."""

    model: torch.nn.Module
    tokenizer: Tokenizer
    head: torch.nn.Linear
    pooling: str

    @classmethod
    def load(cls, model_dir: Path, adapter_dir: Path, round_base: bool = True) -> CrossEncoder:
        """Full-vocabulary fp32 e5 from ``model_dir`` plus the adapter in ``adapter_dir``
        (``ce_adapter.safetensors``, ``ce_config.json``). ``round_base`` (default) first rounds the base
        weights as the training pack did (see :func:`round_like_pack`); False keeps the exact fp32 weights.

        Refuses an adapter trained with another input format or max length: its scores would be meaningless.
        """
        from transformers import AutoModel

        config = json.loads((adapter_dir / CONFIG_FILE).read_text(encoding="utf-8"))
        if config["input_format"] != INPUT_FORMAT or config["max_length"] != MAX_LENGTH:
            raise ValueError(f"{adapter_dir}: adapter built for another input format or max length")
        model = AutoModel.from_pretrained(model_dir, add_pooling_layer=False, dtype=torch.float32)
        model.eval()
        if round_base:
            round_like_pack(model)
        tensors = load_file(str(adapter_dir / ADAPTER_FILE))
        expected = len(config["lora_modules"])
        with torch.no_grad():
            merged = merge_lora(model, tensors, config["lora_alpha"] / config["r"])
            head = torch.nn.Linear(model.config.hidden_size, 1)
            head.weight.copy_(tensors["head.weight"].float())
            head.bias.copy_(tensors["head.bias"].float())
        if merged != expected:
            raise ValueError(f"{adapter_dir}: merged {merged} LoRA layers, config lists {expected}")
        tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        return cls(model=model, tokenizer=tokenizer, head=head.eval(), pooling=config["pooling"])

    def score(self, question: str, contexts: list[str]) -> np.ndarray:
        """Logits (higher = answers the question) for each context, built with :func:`build_context`.

        All contexts of one question go through the model as one batch padded to its longest pair.
        """
        if not contexts:
            return np.zeros(0, dtype=np.float32)
        ids, mask = pair_batch(self.tokenizer, question, contexts)
        with torch.inference_mode():
            return self.logits(torch.from_numpy(ids), torch.from_numpy(mask)).float().numpy()

    def logits(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """The whole model on a padded batch: what the ONNX export traces."""
        hidden = self.model(input_ids=ids, attention_mask=mask, token_type_ids=torch.zeros_like(ids))
        return self.head(pool(hidden.last_hidden_state, mask, self.pooling)).squeeze(-1)


def pair_batch(tokenizer: Tokenizer, question: str, contexts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Input ids and attention mask (int64) of every (question, context) pair, padded to the longest."""
    q_ids = encode_question(tokenizer, question)
    rows = [encode_pair(q_ids, c) for c in encode_contexts(tokenizer, contexts)]
    ids = np.full((len(rows), max(len(r) for r in rows)), PAD_ID, dtype=np.int64)
    for i, r in enumerate(rows):
        ids[i, : len(r)] = r
    return ids, (ids != PAD_ID).astype(np.int64)


class OnnxCrossEncoder:
    """The same cross-encoder (rounded base, LoRA merged, head) exported to ONNX and run in fp32 by ONNX
    Runtime: the same logits to float noise (~1e-6), about 3x faster on two cores (docs/benchmarks.md,
    "Encoder: torch vs ONNX Runtime"). Not quantised: the refusal and quote thresholds are calibrated on
    these logits."""

    def __init__(self, model_file: Path, tokenizer: Tokenizer, threads: int) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        self.session = ort.InferenceSession(str(model_file), options, providers=["CPUExecutionProvider"])
        self.tokenizer = tokenizer

    def score(self, question: str, contexts: list[str]) -> np.ndarray:
        """As :meth:`CrossEncoder.score`."""
        if not contexts:
            return np.zeros(0, dtype=np.float32)
        ids, mask = pair_batch(self.tokenizer, question, contexts)
        return self.session.run(None, {"input_ids": ids, "attention_mask": mask})[0].astype(np.float32)


def export_onnx(ce: CrossEncoder, out: Path) -> None:
    """Trace ``ce.logits`` into ``out`` (eager attention, so the mask is kept)."""

    class _Logits(torch.nn.Module):
        def __init__(self, inner: CrossEncoder) -> None:
            super().__init__()
            self.model, self.head, self.inner = inner.model, inner.head, inner

        def forward(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
            return self.inner.logits(ids, mask)

    from vectorstore.onnx_encoder import trace_to_onnx

    ce.model.config._attn_implementation = "eager"
    trace_to_onnx(_Logits(ce), out, "logits", {0: "batch"}, pad_id=PAD_ID)


MODELS_DIR = Path(__file__).resolve().parent / "models"
_LOADED: dict[tuple[Path, bool, int], CrossEncoder | OnnxCrossEncoder] = {}
ONNX_EXPORT_VERSION = 1


def load_cross_encoder(
    model_cache: Path, onnx: bool = True, threads: int = 0
) -> CrossEncoder | OnnxCrossEncoder:
    """The committed adapter (qa/models/) on the e5 weights materialised in ``model_cache``, once per process
    (it is a second model: every service and evaluation in the process shares it). ``onnx``: run the ONNX
    export (built into ``model_cache`` on first use, or by ``make install``), else PyTorch. ``threads``:
    ONNX Runtime intra-op threads, 0 for one per core."""
    from vectorstore.e5_conversion import materialise_e5

    base = materialise_e5(Path(model_cache))
    key = (base, onnx, threads or os.cpu_count() or 1)
    if key not in _LOADED:
        if onnx:
            tokenizer = Tokenizer.from_file(str(base / "tokenizer.json"))
            _LOADED[key] = OnnxCrossEncoder(onnx_file(Path(model_cache), base), tokenizer, key[2])
        else:
            _LOADED[key] = CrossEncoder.load(base, MODELS_DIR)
    return _LOADED[key]


def onnx_file(model_cache: Path, base: Path) -> Path:
    """The ONNX export of the committed adapter on ``base``, built first if missing or stale."""
    from vectorstore.e5_conversion import MARKER
    from vectorstore.onnx_encoder import cached_export

    return cached_export(
        model_cache,
        "newsqa-cross-encoder-onnx",
        (MODELS_DIR / ADAPTER_FILE, MODELS_DIR / CONFIG_FILE, base / MARKER),
        ONNX_EXPORT_VERSION,
        lambda out: export_onnx(CrossEncoder.load(base, MODELS_DIR), out),
    )


if __name__ == "__main__":
    import sys

    from vectorstore.e5_conversion import materialise_e5
    from vectorstore.embeddings import default_cache_dir

    cache = Path(sys.argv[1]) if len(sys.argv) > 1 else default_cache_dir()
    print(f"cross-encoder: {onnx_file(cache, materialise_e5(cache))}")
