"""The public answering pipeline: question -> retrieve -> select evidence -> generate -> verify citations.

``stream()`` yields events in the order a reader wants them: the evidence first (as soon as retrieval is
done), then answer text as it is generated, then the final, verified ``Answer``. ``answer()`` is the same
pipeline run to completion. Heavy objects (embedder, store, LLM) are created once per process and shared.
"""

from __future__ import annotations

import threading
import time
import unicodedata
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from qa.admission import evidence_work, model_wait, rerank_depth
from qa.backends.base import Backend, BackendError, PromptTimer
from qa.backends.extractive import ExtractiveBackend
from qa.citations import CheckedAnswer, strip_markers, verify_citations
from qa.context import ARTICLE_TEXTS, llm_evidence, select_evidence, trim_evidence, within_deadline
from qa.dates import (
    TimeScope,
    anchor_day,
    format_day,
    format_range,
    parse_day,
    question_scope,
    without_date,
)
from qa.followup import standalone_question
from qa.grounding import missing_names
from qa.language import answer_language, detect_language
from qa.refusal import Verdict, decide, model_declined, notice
from qa.retrieval import ArticleFilter, HybridSearcher
from qa.scorer import QueryVectors, load_scorer
from qa.settings import Settings, get_settings
from qa.timeline import Event as TimelineEvent
from qa.timeline import (
    is_timeline_question,
    question_for_event,
    timeline_entry,
    timeline_events,
    timeline_line,
    timeline_text,
)
from qa.types import Answer, Citation, Evidence, Language, Passage
from vectorstore.service import open_store, settings_embedder
from vectorstore.store import NewsStore

if TYPE_CHECKING:
    from qa.cross_encoder import CrossEncoder, OnnxCrossEncoder

REFUSAL: dict[Language, str] = {
    "id": "Maaf, artikel yang tersedia tidak memuat jawaban untuk pertanyaan ini.",
    "en": "Sorry, the available articles do not contain the answer to this question.",
}
FALLBACK_NOTICE: dict[Language, str] = {
    "id": "Model bahasa tidak dapat dihubungi ({reason}); jawaban ini berupa kutipan langsung dari artikel.",
    "en": "The language model is unavailable ({reason}); this answer quotes the articles directly.",
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
DATE_NOTICE: dict[Language, str] = {
    "id": "Tanggal dalam pertanyaan: {scope}{anchor}; hanya artikel yang terbit {window} yang dipakai.",
    "en": "Date in the question: {scope}{anchor}; only articles published {window} were used.",
}
ANCHOR_NOTE: dict[str, dict[Language, str]] = {
    "today": {"id": " (dihitung dari hari ini, {day})", "en": " (counted from today, {day})"},
    "newest": {
        "id": " (dihitung dari artikel terbaru, {day})",
        "en": " (counted from the newest article, {day})",
    },
    "given": {"id": " (dihitung dari {day})", "en": " (counted from {day})"},
}
BUSY_NOTICE: dict[Language, str] = {
    "id": "Model bahasa sedang sibuk (antrean sekitar {wait} detik); jawaban ini berupa kutipan langsung "
    "dari artikel. Pilih «Tanya model» untuk menunggu jawabannya.",
    "en": "The language model is busy (about {wait} s queue); this answer quotes the articles directly. "
    "Choose “Ask the model” to wait for its answer.",
}


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
    # The days the question asks about (None: it names none, or the caller set the range) and the filter
    # retrieval ran with.
    scope: TimeScope | None = None
    where: ArticleFilter = field(default_factory=ArticleFilter)
    timeline: bool = False  # the question asks how something developed (qa.timeline)
    events: list[TimelineEvent] = field(default_factory=list)  # its dated events, in date order
    reason: str = ""  # why it is refused before generation (qa.refusal.Decision.reason)
    best_score: float | None = None  # the strongest evidence sentence's score (None: no evidence)


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


def date_notice(scope: TimeScope | None, language: Language) -> str:
    """What the answer says about the dates it used: the question's range as read and the articles' window
    (and, for a relative date, what it was counted from). Empty when the question names no date."""
    if scope is None or not scope.filtered:
        return ""
    anchor = ""
    if scope.relative and scope.anchor and scope.anchor_kind in ANCHOR_NOTE:
        anchor = ANCHOR_NOTE[scope.anchor_kind][language].format(day=format_day(scope.anchor, language))
    window = format_range(*scope.publication_window(), language, between=True)
    return DATE_NOTICE[language].format(
        scope=format_range(scope.since, scope.until, language), anchor=anchor, window=window
    )


@dataclass
class QAService:
    settings: Settings
    _store: NewsStore | None = None
    _backends: dict[str, Backend] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _anchor: tuple[tuple[int, int], date | None] | None = None
    _outlets: dict[str, str] = field(default_factory=dict)  # casefolded -> as stored
    _dated_share: float = 0.0  # share of the store's articles with a publication date
    _cross_encoder: CrossEncoder | OnnxCrossEncoder | None = None
    _reader: Any = None

    # --- shared components -------------------------------------------------------------------
    @property
    def embedder(self) -> Any:
        return settings_embedder(self.settings)

    @property
    def store(self) -> NewsStore:
        with self._lock:
            if self._store is None:
                self._store = open_store(self.settings, create=False)
            return self._store

    @property
    def cross_encoder(self) -> CrossEncoder | OnnxCrossEncoder | None:
        """The scorer's second stage (qa/cross_encoder.py), loaded once; None when switched off or when the
        embedder is not e5 (the adapter was trained on e5's weights)."""
        s = self.settings
        if not s.evidence_cross_encoder or s.embedding_model != "multilingual-e5-small":
            return None
        with self._lock:
            if self._cross_encoder is None:
                from qa.cross_encoder import load_cross_encoder

                self._cross_encoder = load_cross_encoder(
                    s.model_cache, onnx=s.encoder != "torch", threads=s.encoder_threads
                )
            return self._cross_encoder

    @property
    def reader(self) -> Any:
        """The extractive reader (qa/reader.py) that scores every evidence sentence, loaded once; None when
        switched off (the feature scorer then decides, for same-run baselines) or when the embedder is not
        e5 (the reader's lower layers are e5's own)."""
        s = self.settings
        if not s.reader_on:
            return None
        with self._lock:
            if self._reader is None:
                from qa.reader import load_reader

                self._reader = load_reader(s.model_cache, threads=s.encoder_threads)
            return self._reader

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
            records = self.store.article_records().values()
            days = [r.published for r in records if r.published]
            newest = max(days) if days else ""
            self._anchor = (revision, parse_day(newest) if newest else None)
            self._dated_share = len(days) / len(records) if records else 0.0
            self._outlets = {r.outlet.casefold(): r.outlet for r in records if r.outlet}
        return self._anchor[1]

    def _synced(self) -> None:
        """The store facts below as of the last sync: ``gather`` syncs once per question (two store calls),
        so the helpers it calls read them without syncing again; syncs only if never synced."""
        if self._anchor is None:
            self.newest_article_day()

    def store_is_dated(self) -> bool:
        """Whether dates in questions filter articles by publication: only in a store where enough articles
        carry a publication date (``Settings.dated_store_min_share``). In a store of undated text (Wikipedia
        passages) "tahun 2010" qualifies a fact, and filtering on publication would leave nothing to read."""
        self._synced()
        return self._dated_share >= self.settings.dated_store_min_share

    def known_outlets(self) -> list[str]:
        """The outlets the store's articles come from, for pickers (empty when there is no store yet)."""
        try:
            self.newest_article_day()
        except Exception:  # noqa: BLE001 - a missing or unreachable store offers no outlets, and says so elsewhere
            return []
        return sorted(self._outlets.values(), key=str.casefold)

    def outlet_names(self, outlets: Sequence[str] | str | None) -> tuple[str, ...]:
        """The store's spelling of each outlet asked for (any case); a clear error for one it lacks."""
        if not outlets:
            return ()
        self._synced()
        wanted = [outlets] if isinstance(outlets, str) else list(outlets)
        unknown = [o for o in wanted if o.strip().casefold() not in self._outlets]
        if unknown:
            known = ", ".join(sorted(self._outlets.values())) or "none"
            raise QuestionError(
                f"unknown outlet {', '.join(map(repr, unknown))}; the articles are from: {known}"
            )
        return tuple(dict.fromkeys(self._outlets[o.strip().casefold()] for o in wanted))

    def time_scope(
        self, question: str, since: date | None, until: date | None, as_of: date | None
    ) -> TimeScope | None:
        """The days a question asks about: the caller's range when given, else the dates the question names
        (qa.dates), relative ones counted from ``as_of`` or the configured anchor."""
        if since or until:
            return TimeScope(since, until, "", "range")
        if not self.settings.date_handling:
            return None
        self._synced()
        newest = self._anchor[1] if self._anchor else None
        anchor, kind = (
            (as_of, "given") if as_of else anchor_day(self.settings.date_anchor, newest, date.today())
        )
        return question_scope(question, anchor, kind) if anchor else None

    def article_filter(
        self,
        question: str,
        since: date | None,
        until: date | None,
        as_of: date | None,
        outlets: Sequence[str] | str | None,
    ) -> tuple[TimeScope | None, ArticleFilter]:
        """The days the question asks about and the filter retrieval runs with: the caller's range, else the
        question's dates as a publication window (only in a dated store; in undated text the date is part of
        the fact asked, not a filter), and the outlets asked for."""
        scope = self.time_scope(question, since, until, as_of)
        window: tuple[date | None, date | None] = (None, None)
        if since or until:
            window = (since, until)
        elif scope and self.store_is_dated():
            window = scope.publication_window()
        elif scope:
            scope = replace(scope, filtered=False)
        return scope, ArticleFilter(*window, outlets=self.outlet_names(outlets))

    # --- the pipeline -----------------------------------------------------------------------
    def gather(
        self,
        question: str,
        history: Sequence[Any] | None = None,
        *,
        k: int | None = None,
        since: str | date | None = None,
        until: str | date | None = None,
        outlets: Sequence[str] | str | None = None,
        as_of: str | date | None = None,
    ) -> EvidenceEvent:
        """Everything before generation: clean, detect the language, rewrite a follow-up, retrieve, select
        the evidence sentences and judge whether they are strong enough to answer from.

        ``since``/``until`` (ISO days) and ``outlets`` filter the articles; without a range, dates named in
        the question set it (``as_of``: the day relative ones count from, instead of the configured anchor).
        Public because evaluation measures this step on its own (evidence recall) without paying for an LLM.
        """
        s = self.settings
        started = time.perf_counter()
        question = clean_question(question, s.max_question_chars)
        language = detect_language(question)
        standalone = standalone_question(question, history, language)
        since_d, until_d = parse_day(since), parse_day(until)
        self.newest_article_day()  # drops cached article texts when the store changed
        scope, where = self.article_filter(standalone, since_d, until_d, parse_day(as_of), outlets)
        timeline = is_timeline_question(standalone, scope)
        # A timeline reads more articles and sentences than one answer: its events are spread over them.
        k = max(k or s.k, 2 * s.timeline_events) if timeline else k or s.k
        sentences = max(s.context_sentences, 2 * s.timeline_events) if timeline else s.context_sentences
        embedder = self.embedder
        # A date that filters is taken out of what is searched and scored; one that does not stays in.
        searched = without_date(standalone, scope) if scope and scope.filtered else standalone
        query = QueryVectors(*embedder.encode_query_with_tokens(searched))
        qvec = query.vector
        # Within a date or outlet filter the few articles it admits are the candidates, all their chunks too.
        k = 2 * k if where else k
        per_article = k if where else None
        passages = self.searcher().search(
            searched, language, k, where, query_vector=qvec, per_article=per_article
        )
        feature_scorer = s.evidence_scorer and not s.reader_on  # the baseline the reader replaces
        evidence = select_evidence(
            self.store,
            embedder,
            searched,
            language,
            query,
            passages,
            sentences,
            scorer=replace(load_scorer(), rerank_k=rerank_depth(s)) if feature_scorer else None,
            rank_weight=s.evidence_rank_weight,
            reranker=self.cross_encoder if feature_scorer else None,
            reader=self.reader,
            scope=scope,
            date_weight=s.date_mention_weight if scope and scope.filtered else 0.0,
            dated_first=timeline,
        )
        missing: list[str] = []
        if s.refuse_missing_names and language == "id" and passages:
            texts = [
                ARTICLE_TEXTS.get(self.store, doc_id) for doc_id in dict.fromkeys(p.doc_id for p in passages)
            ]
            missing = missing_names(searched, texts)  # the date's digits are the filter's, not names
        events = timeline_events(evidence, embedder.encode_symmetric, scope, language, s) if timeline else []
        if timeline and len(events) < 2:  # answered like any question: its best sentences, best first
            best_first = sorted(evidence, key=lambda ev: ev.score, reverse=True)[: s.context_sentences]
            evidence = [replace(ev, n=n) for n, ev in enumerate(best_first, start=1)]
        best = max((ev.score for ev in evidence), default=None)
        decision = decide(
            language,
            s,
            best,
            missing_names=missing,
            timeline_events=len(events),
            date_filtered=bool(scope and scope.filtered),
        )
        return EvidenceEvent(
            language,
            standalone,
            passages,
            evidence,
            decision.verdict == Verdict.REFUSE,
            time.perf_counter() - started,
            query_vector=qvec,
            missing_names=missing,
            scope=scope if scope and scope.expression else None,
            where=where,
            timeline=timeline,
            events=events,
            reason=decision.reason if decision.verdict == Verdict.REFUSE else "",
            best_score=best,
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
        outlets: Sequence[str] | str | None = None,
        as_of: str | date | None = None,
        wait_for_model: bool = False,
    ) -> Iterator[Event]:
        """The pipeline's events for one question (module docstring). ``wait_for_model``: queue for the
        language model even when it is busy (qa/admission.py), instead of answering from quotes at once."""
        s = self.settings
        started = time.perf_counter()
        with evidence_work():  # the local model computes with fewer threads meanwhile
            gathered = self.gather(
                question, history, k=k, since=since, until=until, outlets=outlets, as_of=as_of
            )
        yield gathered
        question = clean_question(question, s.max_question_chars)
        language, standalone, evidence = gathered.language, gathered.standalone_question, gathered.evidence
        weak, retrieve_s = gathered.weak, gathered.retrieve_s

        timings = {"retrieve_s": retrieve_s}
        name = self.backend_name(backend)
        base = Answer(text="", language=language, refused=False, backend=name, question=question)
        base.standalone_question = standalone
        base.notice = date_notice(gathered.scope, language)
        base.best_score = gathered.best_score
        if weak or not evidence:
            reason = gathered.reason or "weak-evidence"
            yield AnswerEvent(self._refusal(base, evidence, timings, started, reason, gathered.missing_names))
            return
        name = self._admit(base, name, wait_for_model)
        if len(gathered.events) >= 2:
            answered = yield from self._timeline(base, gathered, name, timings, started)
            if answered is not None:
                yield AnswerEvent(answered)
                return

        pieces: list[str] = []
        given = evidence
        first_token: float | None = None
        try:
            engine = self.backend(name)
            if name != "extractive":
                given = self._model_sources(engine, gathered, started)
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
        checked = self._check_draft("".join(pieces).strip(), base, gathered, given, name)
        if not checked.text:
            reason = base.refusal_reason or "unsupported"
            yield AnswerEvent(self._refusal(base, evidence, timings, started, reason))
            return
        base.text = checked.text
        base.citations = checked.citations
        cited = {(c.doc_id, c.start) for c in checked.citations}
        base.related = [Citation.from_evidence(ev) for ev in evidence if (ev.doc_id, ev.start) not in cited]
        timings["total_s"] = time.perf_counter() - started
        base.timings = timings
        yield AnswerEvent(base)

    def _check_draft(
        self, raw: str, base: Answer, gathered: EvidenceEvent, given: Sequence[Evidence], name: str
    ) -> CheckedAnswer:
        """The generated text as it may be shown: checked against its sources, or replaced by quotes (a
        reply in the wrong language; one the refusal policy says to quote instead), or empty (refuse)."""
        s, language, standalone, evidence = (
            self.settings, gathered.language, gathered.standalone_question, gathered.evidence
        )  # fmt: skip
        model_refused = model_declined(raw, extractive=base.backend == "extractive")
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
                language,
                s,
                max(ev.score for ev in evidence),
                model_no_answer=model_refused,
                claims_left=False,
            )
            if decision.verdict == Verdict.QUOTE:
                base.backend = "extractive"
                base.notice = base.notice or QUOTED_NOTICE[decision.reason][language]
                checked = self._quoted(standalone, evidence[:1], language)
            else:
                base.refusal_reason = decision.reason
        return checked

    def _admit(self, base: Answer, name: str, wait_for_model: bool) -> str:
        """The backend that answers: ``name``, or the extractive one when the model is busy
        (qa/admission.py; the answer then says so and can be asked again with ``wait_for_model``)."""
        if name == "extractive":
            return name
        wait = model_wait(self.backend(name), self.settings, wait_for_model)
        if wait is None:
            return name
        base.backend, base.model_busy = "extractive", True
        busy = BUSY_NOTICE[base.language].format(wait=f"{wait:.0f}")
        base.notice = f"{busy} {base.notice}".strip()
        return "extractive"

    def _model_sources(self, engine: Backend, gathered: EvidenceEvent, started: float) -> list[Evidence]:
        """What a language model reads: a local LLM reads 45-90 prompt tokens/s on 2 cores, so only the
        strongest sentences, within a character budget and, when it can predict its own speed, within the
        first-token budget."""
        s, language, question = self.settings, gathered.language, gathered.standalone_question
        given = gathered.evidence[: s.llm_context_sentences]
        if s.llm_sentence_chars:
            given = trim_evidence(given, self.embedder, gathered.query_vector, s.llm_sentence_chars)
        given = llm_evidence(given, s.llm_context_sentences, s.llm_context_chars)
        if s.llm_first_token_s > 0 and isinstance(engine, PromptTimer):
            remaining = s.llm_first_token_s - (time.perf_counter() - started)
            timer = engine
            given = within_deadline(
                given, lambda head: timer.first_token_s(question, head, language), remaining
            )
        return given

    def _timeline(
        self, base: Answer, gathered: EvidenceEvent, name: str, timings: dict[str, float], started: float
    ) -> Iterator[Event]:
        """A timeline answer (qa.timeline), or None when fewer than two dated events answer the question
        (then it is answered like any other). Each event line is worded by the backend from its one sentence
        (quoted by the extractive backend, or where the model's line fails the check) and checked against it.
        Returns the Answer (a generator's return value) after streaming the lines."""
        language, events = gathered.language, gathered.events
        engine = self.backend(name)
        lines: list[str] = []
        quoted = name == "extractive"
        for event in events:
            body, own = "", replace(event.evidence, n=1)
            if name != "extractive":
                try:
                    raw = "".join(engine.generate(question_for_event(event, language), [own], language))
                except BackendError as exc:
                    base.notice, name = FALLBACK_NOTICE[language].format(reason=str(exc)), "extractive"
                    raw = ""
                worded = self._verify_event(raw, own, language) if raw else None
                if worded and worded.text and answer_language(worded.text, language) == language:
                    body = strip_markers(worded.text)
            if not body:
                quote = " ".join(event.evidence.quote.split())
                checked = self._verify_event(f"«{quote}» [1]", own, language)
                if not checked.text:
                    continue
                body, quoted = f"«{quote}»", True
            lines.append(timeline_line(event, body, language))
            if "first_token_s" not in timings:
                timings["first_token_s"] = time.perf_counter() - started
            yield TokenEvent(lines[-1] + "\n")
        kept = [e for e in events if any(line.endswith(f"[{e.evidence.n}]") for line in lines)]
        if len(kept) < 2:
            return None
        base.backend = name if not quoted or name == "extractive" else base.backend
        base.text = timeline_text(lines, language, quoted)
        base.citations = [Citation.from_evidence(e.evidence) for e in kept]
        base.timeline = [timeline_entry(e) for e in kept]
        cited = {(c.doc_id, c.start) for c in base.citations}
        base.related = [
            Citation.from_evidence(ev) for ev in gathered.evidence if (ev.doc_id, ev.start) not in cited
        ]
        timings["total_s"] = time.perf_counter() - started
        base.timings = timings
        return base

    def _verify_event(self, text: str, event: Evidence, language: Language) -> CheckedAnswer:
        """A timeline line checked against its one event sentence (that it answers the question is what
        made it an event: qa.refusal.timeline_event)."""
        s = self.settings
        return verify_citations(
            text,
            [event],
            self.embedder,
            language,
            s.support_threshold,
            question="",
            settings=s,
            answers_question=False,
        )

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
        self,
        base: Answer,
        evidence: Sequence[Evidence],
        timings: dict[str, float],
        started: float,
        reason: str,
        names: Sequence[str] = (),
    ) -> Answer:
        """The refusal, with why (qa.refusal ``notice``, after any date notice) and the closest
        sentences as related sources."""
        base.text = REFUSAL[base.language]
        base.refused = True
        base.refusal_reason = reason
        base.notice = " ".join(x for x in (notice(reason, base.language, names), base.notice) if x)
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
    outlets: Sequence[str] | str | None = None,
    as_of: str | date | None = None,
    backend: str | None = None,
    wait_for_model: bool = False,
) -> Iterator[Event]:
    """Evidence first, then answer text pieces, then the final verified ``Answer``.

    ``since``/``until``: ISO days of publication; ``outlets``: only these outlets; ``as_of``: the day relative
    dates count from; ``wait_for_model``: queue for the language model even when it is busy."""
    return get_service(store).stream(
        question, history, k=k, since=since, until=until, outlets=outlets, as_of=as_of, backend=backend,
        wait_for_model=wait_for_model,
    )  # fmt: skip


def answer(
    question: str,
    history: Sequence[Any] | None = None,
    *,
    store: str | Path | None = None,
    k: int | None = None,
    since: str | date | None = None,
    until: str | date | None = None,
    outlets: Sequence[str] | str | None = None,
    as_of: str | date | None = None,
    backend: str | None = None,
    wait_for_model: bool = False,
) -> Answer:
    """Answer ``question`` from the ingested articles, in its language, with verified [n] citations (the
    options as for ``stream``)."""
    return get_service(store).answer(
        question, history, k=k, since=since, until=until, outlets=outlets, as_of=as_of, backend=backend,
        wait_for_model=wait_for_model,
    )  # fmt: skip
