"""Shared fixtures: a real Chroma store with the sample articles, built once per test session."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

ROOT = Path(__file__).resolve().parent.parent
ARTICLES = ROOT / "data" / "articles"
INDOSUM = ROOT / "data" / "indosum-news" / "articles.jsonl"


def model_cache() -> Path:
    return Path(os.environ.get("NEWSQA_MODEL_CACHE", Path.home() / ".cache" / "newsqa"))


@pytest.fixture(scope="session")
def embedder():
    from vectorstore.embeddings import get_embedder

    return get_embedder("multilingual-e5-small", model_cache())


def make_settings(store: Path, **overrides):
    from qa.settings import Settings

    values = {"backend": "extractive", **overrides}
    return Settings(store=store, model_cache=model_cache(), **values)


@pytest.fixture(scope="session")
def sample_store_dir(tmp_path_factory, embedder) -> Path:
    """A store with the five sample articles; tests must not modify it (copy it first)."""
    from vectorstore.service import ingest_paths

    store = tmp_path_factory.mktemp("sample") / "store"
    report = ingest_paths(make_settings(store), [ARTICLES], progress=False)
    assert report.new == 5
    return store


@pytest.fixture()
def store_copy(sample_store_dir, tmp_path) -> Path:
    target = tmp_path / "store"
    shutil.copytree(sample_store_dir, target)
    return target


@pytest.fixture(scope="session")
def sample_service(sample_store_dir):
    from qa.pipeline import QAService

    return QAService(make_settings(sample_store_dir))


@pytest.fixture(scope="session")
def smollm2_server(tmp_path_factory):
    """A real OpenAI-compatible `python -m llama_cpp.server` with SmolLM2-135M; yields its /v1 base URL.

    The model writes nonsense but starts in seconds: tests use it for transport, streaming and errors."""
    pytest.importorskip("llama_cpp.server.app", reason="llama-cpp-python[server] is not installed")
    from tests.servers import free_port, llama_server_command, process, smollm2_gguf

    port = free_port()
    base_url = f"http://127.0.0.1:{port}/v1"
    log = tmp_path_factory.mktemp("llama-server") / "server.log"
    with process(llama_server_command(smollm2_gguf(), port), f"{base_url}/models", log):
        yield base_url
