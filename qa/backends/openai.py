"""Generation through any OpenAI-compatible chat endpoint (llama.cpp server, vLLM, Ollama, OpenAI itself).

Why it is built this way:

- ``langchain_openai.ChatOpenAI`` is the adapter the rest of the LangChain stack already uses; streaming keeps
  the UI responsive on slow CPU servers.
- The pipeline falls back to the extractive answerer when a backend fails, so every transport failure
  (refused connection, DNS, HTTP status, a server that accepts and then stays silent) must surface quickly as
  ``BackendError`` naming the URL, never as a hang or a library-specific exception.
- ``timeout`` is handed to the OpenAI client, where it bounds connecting and every single read; that is what
  catches a server that accepts the TCP connection but never answers. On top, the total time is checked
  between chunks, so a server that trickles tokens cannot hold a request much beyond ``llm_timeout_s``.
- ``max_retries=0``: a retry doubles the wait before the fallback, and the caller can simply ask again.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

from qa.admission import LatencyMeter
from qa.backends.base import BackendError
from qa.prompt import chat_messages, prompt_style
from qa.settings import Settings, get_settings
from qa.types import Evidence, Language

if TYPE_CHECKING:
    from langchain_core.messages import BaseMessage
    from langchain_openai import ChatOpenAI


def _to_messages(pairs: Sequence[tuple[str, str]]) -> list[BaseMessage]:
    """Explicit message objects, so braces in news text are never read as template fields."""
    from langchain_core.messages import AIMessage, HumanMessage, SystemMessage

    kinds = {"system": SystemMessage, "user": HumanMessage, "assistant": AIMessage}
    return [kinds[role](content=content) for role, content in pairs]


class OpenAIBackend:
    """Streams answers from ``settings.openai_base_url`` / ``settings.openai_model``."""

    name = "openai"

    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings or get_settings()
        self.base_url = self.settings.openai_base_url
        self.timeout_s = float(self.settings.llm_timeout_s)
        self._client: ChatOpenAI | None = None
        self.latency = LatencyMeter()

    def queue_wait_s(self) -> float | None:
        """``QueueAware``: how long the server's recent answers took to start (its queue is on the server)."""
        return self.latency.predicted_wait_s()

    def _chat(self) -> ChatOpenAI:
        if self._client is None:
            try:
                from langchain_openai import ChatOpenAI
            except ImportError as exc:
                raise BackendError("langchain-openai is not installed") from exc
            self._client = ChatOpenAI(
                base_url=self.base_url,
                model=self.settings.openai_model,
                api_key=self.settings.openai_api_key,
                timeout=self.timeout_s,
                max_retries=0,
                temperature=0,
                streaming=True,
                # Sent as the classic ``max_tokens`` field on purpose: langchain would send
                # ``max_completion_tokens``, which llama-cpp-python's server silently ignores (it then
                # generates up to the context size); ``max_tokens`` is understood by every compatible server.
                extra_body={"max_tokens": int(self.settings.max_new_tokens)},
            )
        return self._client

    def generate(self, question: str, evidence: Sequence[Evidence], language: Language) -> Iterator[str]:
        """Yield answer text pieces; any transport or server failure becomes BackendError."""
        import openai

        messages = _to_messages(chat_messages(question, evidence, language, prompt_style(self.settings)))
        deadline = time.monotonic() + self.timeout_s
        started, first = self.latency.start(), True
        try:
            for chunk in self._chat().stream(messages):
                text = chunk.text
                if text and first:
                    self.latency.first_piece(started)
                    first = False
                if text:
                    yield text
                if time.monotonic() > deadline:
                    raise BackendError(
                        f"OpenAI-compatible server at {self.base_url} did not finish within "
                        f"llm_timeout_s={self.timeout_s:g}s"
                    )
        except BackendError:
            raise
        except openai.APITimeoutError as exc:
            raise BackendError(
                f"OpenAI-compatible server at {self.base_url} timed out after {self.timeout_s:g}s"
            ) from exc
        except openai.APIStatusError as exc:
            raise BackendError(
                f"OpenAI-compatible server at {self.base_url} answered HTTP {exc.status_code}: {exc.message}"
            ) from exc
        except openai.APIConnectionError as exc:
            cause = exc.__cause__ or exc
            raise BackendError(f"cannot reach OpenAI-compatible server at {self.base_url}: {cause}") from exc
        except (openai.OpenAIError, OSError, ValueError) as exc:
            raise BackendError(f"OpenAI-compatible server at {self.base_url} failed: {exc!r}") from exc
        finally:
            self.latency.done()
