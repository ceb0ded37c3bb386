"""Make every shown sentence carry a citation that really supports it.

Steps, per answer sentence: parse [n] markers and drop numbers that point at no evidence; check that the
cited evidence supports the sentence (``supports``: it says the same, it answers the question, and it
states the sentence's names, numbers and dates); when it does not, or when the sentence has no marker,
re-cite it to the evidence sentence that does; when nothing supports it, remove it. Then make the answer
agree with the reader (``agree_with_reader``): a sentence naming another answer than the one the reader is
confident of is replaced by the reader's span. Finally renumber markers 1..m in order of first use so the
user sees [1], [2], ... and the citation list matches. Only a lead-in that states nothing ("According to
the articles:") goes unchecked.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sentencex import segment

from qa.facts import facts, unsupported_facts
from qa.refusal import cited_answers, confident
from qa.settings import Settings
from qa.types import Citation, Evidence, Language

MARKER = re.compile(r"\[(\d+(?:\s*[,;]\s*\d+)*)\]")
_LEADING_MARKERS = re.compile(r"^\s*((?:\[\d+(?:\s*[,;]\s*\d+)*\]\s*)+)")
_SPACES = re.compile(r"\s+")
# A marker group followed by the start of a new sentence ("... Juni [1] Lalu ...", "«...» [1] «...»").
_AFTER_MARKERS = re.compile(r"(?<=\])\s+(?=[«\"“A-Z0-9])|(?<=:)\s+(?=«)")


@dataclass
class CheckedAnswer:
    text: str
    citations: list[Citation]
    removed: list[str] = field(default_factory=list)
    invalid_markers: list[int] = field(default_factory=list)


def parse_markers(sentence: str) -> list[int]:
    return [int(n) for group in MARKER.findall(sentence) for n in re.split(r"[,;]\s*", group)]


def strip_markers(sentence: str) -> str:
    return _SPACES.sub(" ", MARKER.sub("", sentence)).strip().replace(" .", ".").replace(" ,", ",")


def split_answer(text: str, language: Language) -> list[str]:
    """Sentences of an answer, with markers that a splitter put at the start of the next sentence
    ("... Juni. [1] Lalu ...") moved back to the sentence they belong to."""
    pieces = [p.strip() for s in segment(language, text) for p in _AFTER_MARKERS.split(s) if p.strip()]
    out: list[str] = []
    for piece in pieces:
        m = _LEADING_MARKERS.match(piece)
        if m and out:
            out[-1] = f"{out[-1]} {m.group(1).strip()}"
            piece = piece[m.end() :].strip()
        if piece:
            out.append(piece)
    return out


def _is_lead_in(body: str, question: str) -> bool:
    """'According to the articles:' carries no claim and needs no citation: a sentence ending in ':' that
    states no name, number or month the question did not. Anything else, however short ("Shin Wonsik."),
    is a claim and is checked."""
    return body.endswith(":") and not unsupported_facts(body, "", question)


def _normal(text: str) -> str:
    return " ".join(text.casefold().strip("«»\"'“” .").split())


def restates_answer(claim: str, ev: Evidence) -> bool:
    """Whether ``claim`` is words of ``ev`` verbatim that hold the reader's answer span in it: the
    extractive answer ("Shin Wonsik [1].") and quotes around the span say exactly what the sentence says."""
    span = _normal(ev.answer)
    text = _normal(claim)
    return bool(span and text) and span in text and text in _normal(ev.quote)


_TOKEN = re.compile(r"\w{3,}", re.UNICODE)


def lexical_support(claim: str, evidence: str) -> float:
    """Share of the claim's words (3+ letters) found in the evidence, allowing small misspellings.

    Why: a short answer ("Bakhmut", "Shin Wonsik") embeds far from the long sentence it was taken from, so
    cosine alone would reject the most faithful answers; word overlap recognises them. It can only help
    claims that reuse the evidence's own words, so cross-lingual paraphrases still need the cosine test.
    """
    words = [w.lower() for w in _TOKEN.findall(claim)]
    if not words:
        return 0.0
    pool = {w.lower() for w in _TOKEN.findall(evidence)}
    found = sum(1 for w in words if w in pool or difflib.get_close_matches(w, pool, n=1, cutoff=0.85))
    return found / len(words)


_NAME = re.compile(r"\b[A-Z][\w'-]{3,}", re.UNICODE)


def repair_names(claim: str, sources: Sequence[str]) -> str:
    """Give capitalised words the spelling they have in the cited sources ("Bakmut" -> "Bakhmut").

    Why: a small model copies names letter by letter and sometimes drops one; the citation still supports the
    sentence (``lexical_support`` tolerates it) but a reader, or a search for the name, would not find it.
    Only capitalised words close to a capitalised source word are changed, so inflected common words are left
    as written; and only in answers in the sources' language (Indonesian), since an English answer rightly
    writes "Russia" for the source's "Rusia".
    """
    names = {w for src in sources for w in _NAME.findall(src)}
    if not names:
        return claim

    def fix(match: re.Match[str]) -> str:
        word = match.group(0)
        if word in names:
            return word
        close = difflib.get_close_matches(word, names, n=1, cutoff=0.85)
        return close[0] if close else word

    return _NAME.sub(fix, claim)


# A claim of at most this many words is checked by word overlap instead of cosine.
SHORT_CLAIM_WORDS = 3


@dataclass(frozen=True)
class SupportCheck:
    """What decides whether an evidence sentence supports a claim (see ``supports``)."""

    language: Language
    question: str
    threshold: float
    settings: Settings
    # Whether the cited sentence must answer the question (P(answers)); not for a timeline's event lines,
    # each of which restates one event sentence already chosen as part of the development asked about.
    answers_question: bool = True


def supports(claim: str, similarity: float, ev: Evidence, check: SupportCheck) -> bool:
    """Whether evidence ``ev`` supports the answer sentence ``claim``: the one support decision.

    Three tests, all required:
    - the sentence says what the evidence says: it restates the evidence's words around the reader's
      answer span (``restates_answer``), or e5 cosine is at or above the tuned threshold (a claim of a few
      words instead needs all its words in the evidence; any two short texts score ~0.8 with e5);
    - the evidence answers the question (the scorer's P(answers), ``qa.refusal.cited_answers``): a sentence
      that is merely about the same people or event ("Watson is quoted about Kim's trip") supports no answer;
    - every name, number and month the claim states occurs in the evidence (normalised across languages and
      notations, qa.facts), or in the question it restates: cosine does not notice a wrong person's name.
    """
    if restates_answer(claim, ev):
        pass
    elif len(claim.split()) <= SHORT_CLAIM_WORDS:
        if lexical_support(claim, ev.quote) < 0.99:
            return False
    elif similarity < check.threshold:
        return False
    if check.answers_question and not cited_answers(ev.score, check.settings):
        return False
    return not unsupported_facts(claim, ev.quote, check.question)


def reader_answer(evidence: Sequence[Evidence], settings: Settings) -> Evidence | None:
    """The evidence sentence whose answer span the reader is confident of (``qa.refusal.confident``), when
    that span states a name, number or month: the answer a shown sentence may not contradict."""
    best = max(evidence, key=lambda ev: ev.score, default=None)
    if best is None or not best.answer or not confident(best.score, settings):
        return None
    found = facts(best.answer)
    return best if found.names or found.numbers or found.months else None


def agree_with_reader(
    kept: list[tuple[str, list[int]]], evidence: Sequence[Evidence], check: SupportCheck
) -> tuple[list[tuple[str, list[int]]], list[str]]:
    """The checked sentences made to agree with the reader's confident answer (``reader_answer``).

    Why: the support check asks whether the cited sentence states a claim's names; a model that names the
    wrong person from a sentence that merely mentions them passes it. When no sentence holds the reader's
    span, a sentence stating a name, number or month that neither the span nor the question holds gives a
    different answer: the first is replaced by the span, cited to its sentence, and the others are removed.
    Sentences that hold the span, or state nothing the span could contradict, stay as they are.
    """
    best = reader_answer(evidence, check.settings) if check.answers_question else None
    if best is None or not kept:
        return kept, []
    span = " ".join(best.answer.split())
    if any(ns and not unsupported_facts(span, body) for body, ns in kept):
        return kept, []
    out: list[tuple[str, list[int]]] = []
    removed: list[str] = []
    for body, ns in kept:
        if ns and unsupported_facts(body, span, check.question):
            if not any(n == [best.n] and b == f"{span}." for b, n in out):
                out.append((f"{span}.", [best.n]))
            removed.append(body)
        else:
            out.append((body, ns))
    return out, removed


def verify_citations(
    text: str,
    evidence: Sequence[Evidence],
    embedder: Any,
    language: Language,
    threshold: float,
    *,
    question: str,
    settings: Settings,
    answers_question: bool = True,
) -> CheckedAnswer:
    """Keep each answer sentence only with citations that support it (``supports``): a sentence whose
    citations fail is re-cited to the evidence sentence that does support it (the likeliest to answer, then
    the closest), or removed; markers are then renumbered 1..m in order of first use."""
    by_n = {ev.n: ev for ev in evidence}
    sentences = split_answer(text, language)
    bodies = [strip_markers(s) for s in sentences]
    claims = [i for i, b in enumerate(bodies) if b and not _is_lead_in(b, question)]
    invalid: list[int] = []
    if claims and evidence:
        vecs = embedder.encode_symmetric(
            [bodies[i].strip("«»") for i in claims] + [ev.quote for ev in evidence]
        )
        sims = vecs[: len(claims)] @ vecs[len(claims) :].T
    else:
        sims = np.zeros((len(claims), len(evidence)))
    index_of = {ev.n: j for j, ev in enumerate(evidence)}
    check = SupportCheck(language, question, threshold, settings, answers_question)

    kept: list[tuple[str, list[int]]] = []
    removed: list[str] = []
    claim_row = {i: r for r, i in enumerate(claims)}
    for i, sentence in enumerate(sentences):
        body = bodies[i]
        if not body:
            continue
        if i not in claim_row:
            kept.append((body, []))
            continue
        row = sims[claim_row[i]]
        cited = []
        for n in parse_markers(sentence):
            if n not in by_n:
                invalid.append(n)
            elif n not in cited:
                cited.append(n)
        claim = body.strip("«»")
        supported = [n for n in cited if supports(claim, float(row[index_of[n]]), by_n[n], check)]
        if not supported:
            ok = [j for j, ev in enumerate(evidence) if supports(claim, float(row[j]), ev, check)]
            if ok:
                best = max(ok, key=lambda j: (evidence[j].score, row[j]))
                supported = [evidence[best].n]
        if supported:
            if language == "id":  # in English a near-miss is often a correct exonym (Russia/Rusia)
                body = repair_names(body, [by_n[n].quote for n in supported])
            kept.append((body, supported))
        else:
            removed.append(body)
    kept, contradicted = agree_with_reader(kept, evidence, check)
    removed += contradicted

    numbering: dict[int, int] = {}
    for _, ns in kept:
        for n in ns:
            numbering.setdefault(n, len(numbering) + 1)
    parts = []
    for body, ns in kept:
        if not ns:
            parts.append(body)
            continue
        markers = "".join(f"[{numbering[n]}]" for n in ns)
        if body[-1:] in ".!?" and not body.endswith("»"):
            parts.append(f"{body[:-1]} {markers}{body[-1]}")
        else:
            parts.append(f"{body} {markers}")
    citations = []
    for old, new in sorted(numbering.items(), key=lambda kv: kv[1]):
        c = Citation.from_evidence(by_n[old])
        c.n = new
        citations.append(c)
    has_claim = any(ns for _, ns in kept)
    return CheckedAnswer(
        text=" ".join(parts) if has_claim else "",
        citations=citations,
        removed=removed,
        invalid_markers=invalid,
    )
