"""The public answering pipeline: question -> retrieve -> select evidence -> generate -> verify citations.

``stream()`` yields events in the order a reader wants them: the evidence first (as soon as retrieval is
done), then answer text as it is generated, then the final, verified ``Answer``. ``answer()`` is the same
pipeline run to completion. Heavy objects (embedder, store, LLM) are created once per process and shared.
"""

from __future__ import annotations

import re
import threading
import time
import unicodedata
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from qa.backends.base import Backend, BackendError, PromptTimer
from qa.backends.extractive import ExtractiveBackend
from qa.citations import MARKER, CheckedAnswer, strip_markers, verify_citations
from qa.context import ARTICLE_TEXTS, llm_evidence, select_evidence, trim_evidence, within_deadline
from qa.dates import parse_day, resolve_relative
from qa.followup import standalone_question
from qa.grounding import missing_names
from qa.language import answer_language, detect_language
from qa.prompt import NO_ANSWER
from qa.refusal import Verdict, decide
from qa.retrieval import HybridSearcher
from qa.scorer import QueryVectors, load_scorer
from qa.settings import Settings, get_settings
from qa.types import Answer, Citation, Evidence, Language, Passage
from vectorstore.embeddings import get_embedder
from vectorstore.service import open_store
from vectorstore.store import NewsStore

if TYPE_CHECKING:
    from qa.cross_encoder import CrossEncoder

REFUSAL: dict[Language, str] = {
    "id": "Maaf, artikel yang tersedia tidak memuat jawaban untuk pertanyaan ini.",
    "en": "Sorry, the available articles do not contain the answer to this question.",
}
FALLBACK_NOTICE: dict[Language, str] = {
    "id": "Model bahasa tidak dapat dihubungi ({reason}); jawaban ini berupa kutipan langsung dari artikel.",
    "en": "The language model is unavailable ({reason}); this answer quotes the articles directly.",
}
UNGROUNDED_NOTICE: dict[Language, str] = {
    "id": "Artikel yang ditemukan tidak menyebut: {names}.",
    "en": "The articles found never mention: {names}.",
}
UNVERIFIED_NOTICE: dict[Language, str] = {
    "id": "Jawaban model tidak dapat diverifikasi; ini kutipan langsung dari sumber yang paling menjawab.",
    "en": "The model's answer could not be verified; this quotes the source that best answers the question.",
}
DECLINED_NOTICE: dict[Language, str] = {
    "id": "Model tidak menjawab; ini kutipan langsung dari sumber yang paling menjawab pertanyaan.",
    "en": "The model gave no answer; this quotes the source that best answers the question.",
}
QUOTED_NOTICE: dict[str, dict[Language, str]] = {
    "unsupported": UNVERIFIED_NOTICE,
    "model-no-answer": DECLINED_NOTICE,
}
WRONG_LANGUAGE_NOTICE: dict[Language, str] = {
    "id": "Model menjawab dalam bahasa lain; ini kutipan langsung dari sumber yang ditunjuknya.",
    "en": "The model answered in another language; these are direct quotes of the sources it pointed to.",
}
_MODEL_REFUSAL = re.compile(
    r"NO_ANSWER|NO ANSWER|tidak (ada|terdapat|memuat|menyebutkan|disebutkan)|"
    r"do(es)? not (contain|mention|say|provide)|cannot (be )?answer|not (mentioned|provided)",
    re.IGNORECASE,
)


class QuestionError(ValueError):
    """The question cannot be asked as given; the message says why and what to do."""


@dataclass
class EvidenceEvent:
    """Retrieval is done: these passages (and numbered sentences) are what the answer may cite."""

    language: Language
    standalone_question: str
    passages: list[Passage]
    evidence: list[Evidence]
    weak: bool
    retrieve_s: float
    query_vector: Any = None
    # Names, acronyms or numbers of the question that the retrieved articles never mention (qa.grounding).
    missing_names: list[str] = field(default_factory=list)


@dataclass
class TokenEvent:
    text: str


@dataclass
class AnswerEvent:
    answer: Answer


Event = EvidenceEvent | TokenEvent | AnswerEvent


def clean_question(question: str, max_chars: int) -> str:
    if not isinstance(question, str):
        raise QuestionError("the question must be text")
    text = "".join(" " if unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") else ch for ch in question)
    text = " ".join(text.split())
    if not text:
        raise QuestionError("the question is empty; type a question about the news articles")
    if len(text) > max_chars:
        raise QuestionError(
            f"the question is {len(text):,} characters long; the limit is {max_chars:,} — shorten it"
        )
    return text


@dataclass
class QAService:
    settings: Settings
    _store: NewsStore | None = None
    _backends: dict[str, Backend] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _anchor: tuple[tuple[int, int], date | None] | None = None
    _cross_encoder: CrossEncoder | None = None

    # --- shared components -------------------------------------------------------------------
    @property
    def embedder(self) -> Any:
        s = self.settings
        return get_embedder(s.embedding_model, s.model_cache, s.embed_batch_size)

    @property
    def store(self) -> NewsStore:
        with self._lock:
            if self._store is None:
                self._store = open_store(self.settings, create=False)
            return self._store

    @property
    def cross_encoder(self) -> CrossEncoder | None:
        """The scorer's second stage (qa/cross_encoder.py), loaded once; None when switched off or when the
        embedder is not e5 (the adapter was trained on e5's weights)."""
        s = self.settings
        if not s.evidence_cross_encoder or s.embedding_model != "multilingual-e5-small":
            return None
        with self._lock:
            if self._cross_encoder is None:
                from qa.cross_encoder import load_cross_encoder

                self._cross_encoder = load_cross_encoder(s.model_cache)
            return self._cross_encoder

    def searcher(self) -> HybridSearcher:
        s = self.settings
        return HybridSearcher(
            self.store,
            self.embedder,
            fetch_k=s.fetch_k,
            bm25_weights={"id": s.bm25_weight_id, "en": s.bm25_weight_en},
            max_per_article=s.max_chunks_per_article,
        )

    def backend_name(self, requested: str | None = None) -> str:
        name = requested or self.settings.backend
        if name == "auto":
            from qa.backends.llamacpp import is_available

            return "llamacpp" if is_available(self.settings) else "extractive"
        return name

    def backend(self, name: str) -> Backend:
        with self._lock:
            if name not in self._backends:
                if name == "extractive":
                    self._backends[name] = ExtractiveBackend()
                elif name == "llamacpp":
                    from qa.backends.llamacpp import LlamaCppBackend

                    self._backends[name] = LlamaCppBackend(self.settings)
                elif name == "openai":
                    from qa.backends.openai import OpenAIBackend

                    self._backends[name] = OpenAIBackend(self.settings)
                else:
                    raise QuestionError(f"unknown backend {name!r}; use extractive, llamacpp or openai")
            return self._backends[name]

    def warm_up(self, backend: str | None = None) -> None:
        """Load the embedder, store, keyword index and the LLM (with its cached prompt prefix) now.

        The service calls this at start and evaluation before timing, so that no question pays for loading:
        latency figures then measure answering, as a user of a running service sees it.
        """
        try:
            for _ in self.stream("berita", None, backend="extractive"):
                pass
        finally:  # the LLM loads even when the store is not there yet (the page must still come up)
            load = getattr(self.backend(self.backend_name(backend)), "load", None)
            if callable(load):
                load()

    def newest_article_day(self) -> date | None:
        """Anchor for relative dates; recomputed only when the store changes (which also drops cached
        article texts: called once per question, before any evidence is cut from them)."""
        revision = self.store.revision()
        ARTICLE_TEXTS.sync(self.store, revision)
        if self._anchor is None or self._anchor[0] != revision:
            days = [r.published for r in self.store.article_records().values() if r.published]
            newest = max(days) if days else ""
            self._anchor = (revision, parse_day(newest) if newest else None)
        return self._anchor[1]

    # --- the pipeline -----------------------------------------------------------------------
    def gather(
        self,
        question: str,
        history: Sequence[Any] | None = None,
        *,
        k: int | None = None,
        since: str | date | None = None,
        until: str | date | None = None,
    ) -> EvidenceEvent:
        """Everything before generation: clean, detect the language, rewrite a follow-up, retrieve, select
        the evidence sentences and judge whether they are strong enough to answer from.

        Public because evaluation measures this step on its own (evidence recall) without paying for an LLM.
        """
        s = self.settings
        started = time.perf_counter()
        question = clean_question(question, s.max_question_chars)
        language = detect_language(question)
        standalone = standalone_question(question, history, language)
        since_d, until_d = parse_day(since), parse_day(until)
        newest = self.newest_article_day()  # also drops cached article texts when the store changed
        if since_d is None and until_d is None:
            resolved = resolve_relative(question, newest)
            if resolved:
                since_d, until_d = resolved
        embedder = self.embedder
        query = QueryVectors(*embedder.encode_query_with_tokens(standalone))
        qvec = query.vector
        passages = self.searcher().search(standalone, language, k or s.k, since_d, until_d, query_vector=qvec)
        evidence = select_evidence(
            self.store,
            embedder,
            standalone,
            language,
            query,
            passages,
            s.context_sentences,
            scorer=load_scorer() if s.evidence_scorer else None,
            rank_weight=s.evidence_rank_weight,
            reranker=self.cross_encoder if s.evidence_scorer else None,
        )
        missing: list[str] = []
        if s.refuse_missing_names and language == "id" and passages:
            texts = [
                ARTICLE_TEXTS.get(self.store, doc_id) for doc_id in dict.fromkeys(p.doc_id for p in passages)
            ]
            missing = missing_names(standalone, texts)
        decision = decide(language, s, evidence[0].score if evidence else None, missing_names=missing)
        return EvidenceEvent(
            language,
            standalone,
            passages,
            evidence,
            decision.verdict == Verdict.REFUSE,
            time.perf_counter() - started,
            query_vector=qvec,
            missing_names=missing,
        )

    def stream(
        self,
        question: str,
        history: Sequence[Any] | None = None,
        *,
        k: int | None = None,
        since: str | date | None = None,
        until: str | date | None = None,
        backend: str | None = None,
    ) -> Iterator[Event]:
        s = self.settings
        started = time.perf_counter()
        gathered = self.gather(question, history, k=k, since=since, until=until)
        yield gathered
        question = clean_question(question, s.max_question_chars)
        language, standalone, evidence = gathered.language, gathered.standalone_question, gathered.evidence
        weak, retrieve_s, embedder = gathered.weak, gathered.retrieve_s, self.embedder

        timings = {"retrieve_s": retrieve_s}
        name = self.backend_name(backend)
        base = Answer(text="", language=language, refused=False, backend=name, question=question)
        base.standalone_question = standalone
        if weak or not evidence:
            if gathered.missing_names:
                base.notice = UNGROUNDED_NOTICE[language].format(names=", ".join(gathered.missing_names))
            yield AnswerEvent(self._refusal(base, evidence, timings, started))
            return

        pieces: list[str] = []
        given = evidence
        first_token: float | None = None
        try:
            # A local LLM reads 45-90 prompt tokens/s on 2 cores: it gets only the strongest sentences, within
            # a character budget and, when it can predict its own speed, within the first-token budget.
            engine = self.backend(name)
            if name != "extractive":
                given = evidence[: s.llm_context_sentences]
                if s.llm_sentence_chars:
                    given = trim_evidence(given, embedder, gathered.query_vector, s.llm_sentence_chars)
                given = llm_evidence(given, s.llm_context_sentences, s.llm_context_chars)
                if s.llm_first_token_s > 0 and isinstance(engine, PromptTimer):
                    remaining = s.llm_first_token_s - (time.perf_counter() - started)
                    given = within_deadline(
                        given, lambda head: engine.first_token_s(standalone, head, language), remaining
                    )
            for piece in engine.generate(standalone, given, language):
                if first_token is None:
                    first_token = time.perf_counter() - started
                pieces.append(piece)
                yield TokenEvent(piece)
        except BackendError as exc:
            base.backend = "extractive"
            base.notice = FALLBACK_NOTICE[language].format(reason=str(exc))
            given = evidence
            pieces = list(ExtractiveBackend().generate(standalone, given, language))
            if first_token is None:
                first_token = time.perf_counter() - started
            yield TokenEvent("".join(pieces))
        timings["first_token_s"] = first_token if first_token is not None else time.perf_counter() - started
        raw = "".join(pieces).strip()
        words = strip_markers(raw)
        model_refused = not raw or NO_ANSWER in raw
        if base.backend != "extractive":
            # Only markers ("[2]"): the model pointed at a source but stated nothing. Seen on unanswerable
            # questions as often as on answerable ones, so it is not taken as an answer.
            model_refused = model_refused or not any(ch.isalnum() for ch in words)
            model_refused = model_refused or (not MARKER.search(raw) and bool(_MODEL_REFUSAL.search(raw)))
        checked = CheckedAnswer("", [])
        if not model_refused:
            checked = self._verify(raw, given, standalone, language)
        llm_answered = checked.text and base.backend != "extractive"
        if llm_answered and s.answer_language_check and answer_language(checked.text, language) != language:
            # The small model sometimes copies a short Indonesian phrase as the whole answer to an English
            # question ("Mantan ekonom [1]."). Quoting the sources it cited, introduced in the question's
            # language, answers in that language without a second, slow generation.
            spans = {(c.doc_id, c.start) for c in checked.citations}
            pointed = [ev for ev in given if (ev.doc_id, ev.start) in spans]
            base.backend, base.notice = "extractive", WRONG_LANGUAGE_NOTICE[language]
            checked = self._quoted(standalone, pointed, language)
        if name != "extractive" and (model_refused or not checked.text):
            # Nothing the model said can be shown: the refusal policy quotes the best evidence sentence when
            # the scorer is confident it answers the question, and refuses otherwise.
            decision = decide(
                language, s, evidence[0].score, model_no_answer=model_refused, claims_left=False
            )
            if decision.verdict == Verdict.QUOTE:
                base.backend = "extractive"
                base.notice = base.notice or QUOTED_NOTICE[decision.reason][language]
                checked = self._quoted(standalone, evidence[:1], language)
        if not checked.text:
            yield AnswerEvent(self._refusal(base, evidence, timings, started))
            return
        base.text = checked.text
        base.citations = checked.citations
        cited = {(c.doc_id, c.start) for c in checked.citations}
        base.related = [Citation.from_evidence(ev) for ev in evidence if (ev.doc_id, ev.start) not in cited]
        timings["total_s"] = time.perf_counter() - started
        base.timings = timings
        yield AnswerEvent(base)

    def _verify(
        self, text: str, evidence: Sequence[Evidence], question: str, language: Language
    ) -> CheckedAnswer:
        s = self.settings
        return verify_citations(
            text, evidence, self.embedder, language, s.support_threshold, question=question, settings=s
        )

    def _quoted(self, question: str, sources: Sequence[Evidence], language: Language) -> CheckedAnswer:
        """The extractive answer from ``sources``, checked like a model's: what replaces a model answer
        that cannot be shown as it is (unverified, declined, or in the wrong language)."""
        if not sources:
            return CheckedAnswer("", [])
        quoted = "".join(ExtractiveBackend().generate(question, sources, language))
        return self._verify(quoted, sources, question, language)

    def _refusal(
        self, base: Answer, evidence: Sequence[Evidence], timings: dict[str, float], started: float
    ) -> Answer:
        base.text = REFUSAL[base.language]
        base.refused = True
        base.citations = []
        base.related = [Citation.from_evidence(ev) for ev in evidence]
        timings.setdefault("first_token_s", time.perf_counter() - started)
        timings["total_s"] = time.perf_counter() - started
        base.timings = timings
        return base

    def answer(self, question: str, history: Sequence[Any] | None = None, **kwargs: Any) -> Answer:
        final: Answer | None = None
        for event in self.stream(question, history, **kwargs):
            if isinstance(event, AnswerEvent):
                final = event.answer
        assert final is not None
        return final


_SERVICES: dict[tuple[str, str | None, int], QAService] = {}
_SERVICES_LOCK = threading.Lock()


def get_service(store: str | Path | None = None, settings: Settings | None = None) -> QAService:
    """One service per store location, so repeated calls reuse the loaded models and indexes."""
    base = settings or get_settings()
    if store is not None:
        base = base.model_copy(update={"store": Path(store)})
    key = (str(base.store.resolve()), base.chroma_host, base.chroma_port)
    with _SERVICES_LOCK:
        if key not in _SERVICES or settings is not None:
            _SERVICES[key] = QAService(base)
        return _SERVICES[key]


def stream(
    question: str,
    history: Sequence[Any] | None = None,
    *,
    store: str | Path | None = None,
    k: int | None = None,
    since: str | date | None = None,
    until: str | date | None = None,
    backend: str | None = None,
) -> Iterator[Event]:
    """Evidence first, then answer text pieces, then the final verified ``Answer``."""
    return get_service(store).stream(question, history, k=k, since=since, until=until, backend=backend)


def answer(
    question: str,
    history: Sequence[Any] | None = None,
    *,
    store: str | Path | None = None,
    k: int | None = None,
    since: str | date | None = None,
    until: str | date | None = None,
    backend: str | None = None,
) -> Answer:
    """Answer ``question`` from the ingested articles, in its language, with verified [n] citations."""
    return get_service(store).answer(question, history, k=k, since=since, until=until, backend=backend)
