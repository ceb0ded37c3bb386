"""Timelines: a question about how something developed, or what happened in a period, answered as dated
events in date order, one line per event, each cited and checked.

Why built from the evidence rather than written by the model: the dates and the order are facts of the
articles (the day a sentence mentions, else its article's publication day; qa.dates), which a small model
gets wrong; the model only words each event in the question's language, and each line is checked against
the one sentence it cites like any other answer sentence. Near-duplicate reports of one event (the same news
from two outlets) are merged into the best-scored report.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import date, timedelta
from typing import Any

import numpy as np

from qa.dates import Mention, TimeScope, mention_label, parse_day
from qa.refusal import timeline_event
from qa.settings import Settings
from qa.types import Evidence, Language

# How people ask for a development or a period, in both languages. The question's own date words ("this
# week", "pada bulan Juni") make it a period question only together with "what happened".
_TIMELINE = re.compile(
    r"\b(perkembangan(?! biak)|kronologi|kronologis|linimasa|lini masa|rangkaian peristiwa|"
    r"apa saja yang (telah |sudah )?terjadi|peristiwa apa saja|"
    r"bagaimana .{0,60}(berkembang(?! biak)|berjalan|bermula)|"
    r"(a|the) timeline of|timeline of events|chronology|chronological|sequence of events|"
    r"how (did|has|have) .{0,80}(develop|unfold|evolve)|latest developments|"
    r"what (has )?happened (this (week|month|year)|last (week|month|year)|since|over the (past|last)))\b",
    re.I,
)
_HOW = re.compile(r"^\s*(bagaimana|how (did|has|have|was|were|is|are))\b", re.I)
_PERIOD_HAPPENED = re.compile(r"\b(apa yang (telah |sudah )?terjadi|what happened)\b", re.I)

# Two reports of one event: near-identical wording, or close wording within a day of each other.
SAME_EVENT_COSINE = 0.95
SAME_DAY_EVENT_COSINE = 0.88


def is_timeline_question(question: str, scope: TimeScope | None) -> bool:
    """Whether ``question`` asks for a development over time: a timeline word, or "what happened" with a
    period (a range of days, not one day: "what happened on 29 November" has a single answer)."""
    if _TIMELINE.search(question):
        return True
    if scope is None or not scope.expression or not scope.filtered or scope.since == scope.until:
        return False  # a period of an undated store qualifies a fact ("how did X go in 1979")
    if _PERIOD_HAPPENED.search(question):
        return True
    # "How did X fare from July to October?": "how" over a span of months asks how it went over time.
    months = (scope.until - scope.since).days > 45 if scope.since and scope.until else True
    return bool(_HOW.search(question)) and months


@dataclass(frozen=True)
class Event:
    when: Mention
    evidence: Evidence

    @property
    def day(self) -> date:
        return self.when.first


def event_day(ev: Evidence) -> Mention | None:
    """When the sentence's event happened: the first day (or month) it mentions that is not after its
    article was published (later ones are plans), else the publication day; None for an undated sentence in
    an undated article."""
    published = parse_day(ev.published) if ev.published else None
    for iso in ev.dates:
        mention = Mention.from_iso(iso)
        if published is None or mention.first <= published + timedelta(days=1):
            return mention
    return Mention(published, published) if published else None


def timeline_events(
    evidence: Sequence[Evidence],
    vectors: Callable[[Sequence[str]], np.ndarray],
    scope: TimeScope | None,
    language: Language,
    settings: Settings,
) -> list[Event]:
    """The dated events of ``evidence`` (best first) in date order, near-duplicates merged, at most
    ``settings.timeline_events``: sentences about the development asked (``qa.refusal.timeline_event``), in
    the question's ``scope`` when it has one; renumbered [1].. in date order."""
    limit = settings.timeline_events
    relevant = [
        ev for ev in evidence if timeline_event(ev.cosine, language, settings) and len(ev.quote.split()) >= 6
    ]
    dated = [Event(when, ev) for ev in relevant if (when := event_day(ev)) is not None]
    # One event per article and day: an article's other sentences about that day are its details. The
    # earliest stands for it: news states its main event first (the lead), then background and reactions.
    best: dict[tuple[str, str], Event] = {}
    for e in dated:
        key = (e.evidence.doc_id, e.when.iso())
        if key not in best or e.evidence.start < best[key].evidence.start:
            best[key] = e
    dated = sorted(best.values(), key=lambda e: e.evidence.n)
    if scope is not None:
        dated = [e for e in dated if scope.overlaps(e.when)]
    if not dated:
        return []
    vecs = vectors([e.evidence.quote for e in dated])
    kept: list[int] = []
    for i, e in enumerate(dated):  # best-scored first: a duplicate keeps the better-scored report's wording
        same = [
            j
            for j in kept
            if (sim := float(vecs[i] @ vecs[j])) >= SAME_EVENT_COSINE
            or (sim >= SAME_DAY_EVENT_COSINE and abs((dated[j].day - e.day).days) <= 1)
        ]
        if not same and len(kept) < limit:
            kept.append(i)
    ordered = sorted((dated[i] for i in kept), key=lambda e: (e.day, e.evidence.n))
    return [Event(e.when, replace(e.evidence, n=n)) for n, e in enumerate(ordered, start=1)]


def timeline_line(event: Event, body: str, language: Language) -> str:
    """One line of the timeline: '- 29 November 2024: what happened [n]'."""
    body = " ".join(body.split()).rstrip()
    return f"- {mention_label(event.when, language)}: {body} [{event.evidence.n}]"


INTRO: dict[Language, str] = {
    "id": "Urutan peristiwa menurut artikel yang tersedia:",
    "en": "The events in the articles, in date order (quotes in the original Indonesian):",
}
INTRO_WORDED: dict[Language, str] = {
    "id": "Urutan peristiwa menurut artikel yang tersedia:",
    "en": "The events in the articles, in date order:",
}


def timeline_text(lines: Sequence[str], language: Language, quoted: bool) -> str:
    return "\n".join([(INTRO if quoted else INTRO_WORDED)[language], *lines])


def question_for_event(event: Event, language: Language) -> str:
    """What the model is asked for one event: its own sentence, restated in the question's language."""
    day = mention_label(event.when, language)
    if language == "en":
        return f"What happened on {day}, according to source [1]? Answer in one sentence."
    return f"Apa yang terjadi pada {day} menurut sumber [1]? Jawab dalam satu kalimat."


def timeline_entry(event: Event) -> dict[str, Any]:
    """The event as the answer's JSON carries it (the web chat draws the timeline from these)."""
    return {"day": event.when.iso(), "n": event.evidence.n, "doc_id": event.evidence.doc_id}
