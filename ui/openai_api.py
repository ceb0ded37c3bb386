"""An OpenAI-compatible chat API (``/v1/models``, ``/v1/chat/completions``) on the web chat's own server.

Why: the tools people already chat with (Open WebUI, LibreChat, the ``openai`` client, LangChain's
``ChatOpenAI``) all speak this protocol; speaking it makes newsqa usable from them with a base URL and a key.

Choices a reader of this protocol should know:

* The last message must be the user's question; earlier user/assistant messages are the history (follow-ups
  are rewritten against them); system and tool messages are ignored, because the pipeline's own prompt and
  its checks decide how to answer.
* The answer text keeps its ``[n]`` markers; the citations (the objects of ``newsqa ask --json``) ride in an
  extra top-level ``citations`` field of the response or the last stream chunk, and the whole answer record in
  ``newsqa``, so plain clients show a readable answer and aware ones can link sources.
* Streaming sends only *verified* text. The model's draft can lose sentences or change citations when it is
  checked against its sources, and a stream cannot take back what it sent, so the stream opens as soon as the
  evidence is found, keeps the connection alive while the model drafts, and then sends the checked answer.
* Options ride as extra body fields (``since``, ``until``, ``outlets``, ``k``, ``backend``,
  ``wait_for_model``; ``extra_body`` in the client).
* Every failure is an OpenAI-style ``{"error": {...}}`` body: 4xx for the request's faults, 503 when the
  article store cannot be read; never a traceback.
"""

from __future__ import annotations

import json
import logging
import re
import secrets
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any, Literal

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.concurrency import run_in_threadpool

from qa.pipeline import AnswerEvent, EvidenceEvent, QAService, QuestionError
from qa.settings import Settings
from qa.types import Answer
from ui.errors import describe_error, is_store_outage

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 1_000_000
KEEPALIVE = b": drafting\n\n"
_PIECE = re.compile(r"\S+\s*")


class ApiError(Exception):
    """A request the API answers with an OpenAI-style error body instead of an answer."""

    def __init__(
        self, status: int, message: str, *, kind: str = "invalid_request_error", param: str | None = None,
        code: str | None = None,
    ) -> None:  # fmt: skip
        super().__init__(message)
        self.status, self.kind, self.param, self.code = status, kind, param, code

    def body(self) -> dict[str, Any]:
        return {"error": {"message": str(self), "type": self.kind, "param": self.param, "code": self.code}}

    def response(self) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if self.status == 401 else None
        return JSONResponse(self.body(), status_code=self.status, headers=headers)


class ContentPart(BaseModel):
    model_config = ConfigDict(extra="allow")
    type: str
    text: str | None = None


class Message(BaseModel):
    model_config = ConfigDict(extra="allow")
    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: str | list[ContentPart] | None = None


class ChatRequest(BaseModel):
    """The fields of OpenAI's chat request that mean something here; others (temperature, ...) are ignored."""

    model_config = ConfigDict(extra="allow")
    model: str
    messages: list[Message] = Field(min_length=1)
    stream: bool = Field(default=False, strict=True)
    n: int = Field(default=1, ge=1, le=1)
    since: str | None = None
    until: str | None = None
    outlets: list[str] | None = Field(default=None, max_length=50)
    # Queue for the local model even when it is busy, instead of an immediate quoted answer (qa/admission.py).
    wait_for_model: bool = Field(default=False, strict=True)
    k: int | None = Field(default=None, ge=1, le=20)
    backend: Literal["auto", "extractive", "llamacpp", "openai"] | None = None


def message_text(message: Message) -> str:
    if isinstance(message.content, str):
        return message.content.strip()
    parts = message.content or []
    return " ".join(p.text.strip() for p in parts if p.type == "text" and p.text and p.text.strip())


def split_conversation(messages: list[Message]) -> tuple[str, list[dict[str, str]]]:
    """(question, history): the last message must be the user's; earlier user/assistant turns are history."""
    last = messages[-1]
    if last.role != "user":
        raise ApiError(400, "the last message must be the user's question", param="messages")
    question = message_text(last)
    if not question:
        raise ApiError(400, "the user's message has no text; ask a question about the news", param="messages")
    history = [
        {"role": m.role, "content": text}
        for m in messages[:-1]
        if m.role in ("user", "assistant") and (text := message_text(m))
    ]
    return question, history


def parse_request(raw: bytes, settings: Settings) -> ChatRequest:
    if len(raw) > MAX_BODY_BYTES:
        raise ApiError(413, f"the request body is over {MAX_BODY_BYTES:,} bytes", code="request_too_large")
    try:
        data = json.loads(raw or b"null")
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ApiError(400, f"the body is not valid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise ApiError(400, "the body must be a JSON object with 'model' and 'messages'")
    try:
        request = ChatRequest.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(x) for x in first["loc"])
        raise ApiError(400, f"{where}: {first['msg']}", param=where or None) from None
    if request.model != settings.api_model:
        raise ApiError(
            404,
            f"the model '{request.model}' does not exist; this service serves '{settings.api_model}'",
            param="model",
            code="model_not_found",
        )
    return request


def failure(exc: BaseException) -> ApiError:
    """What the pipeline raised, as the API's error: the question's fault is 400, a store outage 503."""
    if isinstance(exc, ApiError):
        return exc
    if isinstance(exc, QuestionError):
        return ApiError(400, str(exc), param="messages", code="invalid_question")
    if is_store_outage(exc):
        return ApiError(503, describe_error(exc, "en"), kind="server_error", code="store_unavailable")
    log.error("the chat API failed", exc_info=exc)
    return ApiError(500, describe_error(exc, "en"), kind="server_error")


class ChatAPI:
    """The routes, bound to one service and its settings; ``router`` is what the app includes."""

    def __init__(self, service: QAService, settings: Settings) -> None:
        self.service, self.settings = service, settings
        # The API shares the web chat's limit on answers computed at once (the local model is one).
        self.slots = threading.BoundedSemaphore(settings.concurrency_limit)
        self.router = APIRouter(prefix="/v1")
        self.router.add_api_route("/models", self.models, methods=["GET"])
        self.router.add_api_route("/chat/completions", self.completions, methods=["POST"])

    def check_key(self, request: Request) -> None:
        if not self.settings.api_auth_on:
            return
        if not self.settings.api_key:
            raise ApiError(
                401, "web login is on but no API key is set (NEWSQA_API_KEY)", code="invalid_api_key"
            )
        scheme, _, key = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not secrets.compare_digest(key.strip(), self.settings.api_key):
            raise ApiError(
                401, "missing or wrong API key (Authorization: Bearer KEY)", code="invalid_api_key"
            )

    async def models(self, request: Request) -> JSONResponse:
        try:
            self.check_key(request)
        except ApiError as exc:
            return exc.response()
        model = {"id": self.settings.api_model, "object": "model", "created": 0, "owned_by": "newsqa"}
        return JSONResponse({"object": "list", "data": [model]})

    async def completions(self, request: Request) -> Any:
        try:
            self.check_key(request)
            body = parse_request(await request.body(), self.settings)
            question, history = split_conversation(body.messages)
            options = {
                "k": body.k,
                "since": body.since,
                "until": body.until,
                "outlets": body.outlets,
                "backend": body.backend,
                "wait_for_model": body.wait_for_model,
            }
            reply = Reply(self.settings.api_model)
            if not body.stream:
                answer = await run_in_threadpool(self._answer, question, history, options)
                return JSONResponse(reply.completion(answer))
            events = await run_in_threadpool(self._open_stream, question, history, options)
        except Exception as exc:  # noqa: BLE001 - every failure becomes an OpenAI-style error body
            return failure(exc).response()
        return StreamingResponse(
            self._sse(events, reply), media_type="text/event-stream", headers={"Cache-Control": "no-cache"}
        )

    def _answer(self, question: str, history: list[dict[str, str]], options: dict[str, Any]) -> Answer:
        with self.slots:
            return self.service.answer(question, history, **options)

    def _open_stream(self, question: str, history: list[dict[str, str]], options: dict[str, Any]) -> Any:
        """Start the answer and run it up to the evidence, so a bad question or a dead store is still a
        proper error status rather than an error inside a 200 stream."""
        with self.slots:
            events = self.service.stream(question, history, **options)
            first = next(events)
        assert isinstance(first, EvidenceEvent)
        return events

    def _sse(self, events: Iterator[Any], reply: Reply) -> Iterator[bytes]:
        """The stream body: a role chunk at once, keep-alives while the model drafts, then the verified
        answer in word pieces and a last chunk with the citations; ``[DONE]`` always ends it.

        The slot is taken again here, not held from ``_open_stream``: a client that hangs up before the body
        starts must not keep one forever.
        """
        yield reply.event(reply.chunk({"role": "assistant", "content": ""}))
        try:
            with self.slots:
                for event in events:
                    if not isinstance(event, AnswerEvent):
                        yield KEEPALIVE
                        continue
                    for piece in _PIECE.findall(event.answer.text):
                        yield reply.event(reply.chunk({"content": piece}))
                    yield reply.event(reply.chunk({}, finish="stop", answer=event.answer))
        except Exception as exc:  # noqa: BLE001 - the status is already sent; the error goes in the stream
            yield reply.event(failure(exc).body())
        finally:
            events.close()  # type: ignore[attr-defined]
        yield b"data: [DONE]\n\n"


class Reply:
    """The response objects of one completion, sharing its id and timestamp."""

    def __init__(self, model: str) -> None:
        self.id = f"chatcmpl-{uuid.uuid4().hex[:24]}"
        self.created = int(time.time())
        self.model = model

    def _extras(self, answer: Answer) -> dict[str, Any]:
        record = answer.to_dict()
        return {"citations": record["citations"], "newsqa": record}

    def completion(self, answer: Answer) -> dict[str, Any]:
        choice = {
            "index": 0,
            "message": {"role": "assistant", "content": answer.text},
            "finish_reason": "stop",
        }
        return {
            "id": self.id,
            "object": "chat.completion",
            "created": self.created,
            "model": self.model,
            "choices": [choice],
            **self._extras(answer),
        }

    def chunk(self, delta: dict[str, Any], finish: str | None = None, answer: Answer | None = None) -> dict:  # type: ignore[type-arg]
        out: dict[str, Any] = {
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        }
        return out | self._extras(answer) if answer is not None else out

    @staticmethod
    def event(data: dict[str, Any]) -> bytes:
        return f"data: {json.dumps(data, ensure_ascii=False)}\n\n".encode()
