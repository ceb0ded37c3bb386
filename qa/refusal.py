"""Whether to answer, quote or refuse: one policy that every refusal path of the pipeline goes through.

Why one place: refusing is a trade between inventing an answer and withholding one. The signals are
ordered by how much each knows:

1. a name, acronym or number of the question that the retrieved articles never mention -> refuse
   (qa.grounding; Indonesian questions only, where names are spelled as in the articles);
2. no evidence sentence holds an answer: the reader's best span-vs-"no answer" margin, as a probability
   (qa.reader), is below the per-language threshold calibrated on the dev sets' tune split -> refuse
   before any generation (the reason says whether a date range the question set was read);
3. the model declined (``model_declined``) or none of its sentences survived the check -> quote the best
   evidence sentence when the reader is confident it answers (a small model under-answers), else refuse;
4. otherwise -> answer.

Every refusal carries its reason, and ``notice`` words it for the user. The thresholds live with the
weights of the model whose scores they cut (``thresholds``), so a retrained model brings its own.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache
from pathlib import Path

from qa.prompt import NO_ANSWER
from qa.settings import Settings
from qa.types import Language

MODELS_DIR = Path(__file__).resolve().parent / "models"
READER_THRESHOLDS = MODELS_DIR / "reader_config.json"
SCORER_THRESHOLDS = MODELS_DIR / "evidence_scorer.json"


class Verdict(StrEnum):
    ANSWER = "answer"
    QUOTE = "quote"
    REFUSE = "refuse"


@dataclass(frozen=True)
class Decision:
    verdict: Verdict
    # Why not ANSWER: missing-names, weak-evidence, date, model-no-answer, unsupported.
    reason: str = ""


@dataclass(frozen=True)
class Thresholds:
    """The evidence-score cuts in force: refusal per question language, quote, support."""

    refuse_id: float
    refuse_en: float
    quote: float
    support: float


@lru_cache(maxsize=4)
def _stored(path: Path) -> dict[str, float]:
    return dict(json.loads(path.read_text(encoding="utf-8"))["thresholds"])


def thresholds(settings: Settings) -> Thresholds:
    """The thresholds for the model that scores evidence (``Settings.reader_on``): calibrated with its
    weights (benchmarks/calibrate_reader.py, benchmarks/train_scorer.py), each overridable in settings."""
    stored = _stored(READER_THRESHOLDS if settings.reader_on else SCORER_THRESHOLDS)

    def pick(value: float | None, key: str) -> float:
        return float(stored[key]) if value is None else value

    return Thresholds(
        refuse_id=pick(settings.refusal_threshold_id, "id"),
        refuse_en=pick(settings.refusal_threshold_en, "en"),
        quote=pick(settings.quote_threshold, "quote"),
        support=pick(settings.support_min_score, "support"),
    )


def answers(score: float, language: Language, settings: Settings) -> bool:
    """Whether the question's best evidence sentence, with score ``score``, answers it: below this nothing
    retrieved answers and the question is refused."""
    t = thresholds(settings)
    return score >= (t.refuse_en if language == "en" else t.refuse_id)


def confident(score: float, settings: Settings) -> bool:
    """Whether the reader is sure enough of the best sentence's answer to quote it when the model declines,
    and to overrule a model sentence that names a different answer (qa.citations)."""
    return score >= thresholds(settings).quote


def cited_answers(score: float, settings: Settings) -> bool:
    """Whether a sentence an answer cites is one that answers the question (not merely about the same
    people or event): the support check's test (qa.citations.supports). A lower bar than ``answers``, which
    judges a question's best sentence; the second and third score lower even when they hold the answer."""
    return score >= thresholds(settings).support


def timeline_event(cosine: float, language: Language, settings: Settings) -> bool:
    """Whether a dated sentence is an event of the development a timeline question asks about."""
    floor = settings.timeline_min_cosine_en if language == "en" else settings.timeline_min_cosine_id
    return cosine >= floor


# A reply that says, in words, that the sources hold no answer (the small model does not always write
# NO_ANSWER). Only read on replies without a citation marker: a cited sentence is a claim to be checked.
_DECLINED = re.compile(
    r"NO_ANSWER|NO ANSWER|tidak (ada|terdapat|memuat|menyebutkan|disebutkan)|"
    r"do(es)? not (contain|mention|say|provide)|cannot (be )?answer|not (mentioned|provided)",
    re.IGNORECASE,
)
_MARKER = re.compile(r"\[\d+")


def model_declined(reply: str, extractive: bool = False) -> bool:
    """Whether a backend's reply is a refusal: empty, NO_ANSWER, only markers ("[2]": pointing at a
    source but stating nothing, seen on unanswerable questions as often as on answerable ones), or an
    uncited sentence saying the sources do not hold the answer. The extractive backend only quotes."""
    if not reply.strip() or NO_ANSWER in reply:
        return True
    if extractive:
        return False
    if not any(ch.isalnum() for ch in _MARKER.sub("", reply).replace("]", "")):
        return True
    return not _MARKER.search(reply) and bool(_DECLINED.search(reply))


def decide(
    language: Language,
    settings: Settings,
    best_score: float | None,
    *,
    missing_names: Sequence[str] = (),
    model_no_answer: bool = False,
    claims_left: bool = True,
    timeline_events: int = 0,
    date_filtered: bool = False,
) -> Decision:
    """The verdict for a question whose best evidence sentence scored ``best_score`` (None: no evidence).

    Called before generation (only the evidence is known) and after it (with what the model said and what
    survived verification); the same inputs always give the same verdict. A timeline question with two or
    more events (``timeline_event``) is answered by them; with fewer, like any other. ``date_filtered``:
    only articles of a date range were read, so weak evidence is the date's doing.
    """
    if missing_names:
        return Decision(Verdict.REFUSE, "missing-names")
    if timeline_events >= 2:
        return Decision(Verdict.ANSWER, "timeline")
    if best_score is None or not answers(best_score, language, settings):
        return Decision(Verdict.REFUSE, "date" if date_filtered else "weak-evidence")
    if model_no_answer or not claims_left:
        reason = "model-no-answer" if model_no_answer else "unsupported"
        if confident(best_score, settings):
            return Decision(Verdict.QUOTE, reason)
        return Decision(Verdict.REFUSE, reason)
    return Decision(Verdict.ANSWER)


NOTICES: dict[str, dict[Language, str]] = {
    "missing-names": {
        "id": "Artikel yang ditemukan tidak menyebut: {names}.",
        "en": "The articles found never mention: {names}.",
    },
    "weak-evidence": {
        "id": "Tidak ada kalimat dalam artikel yang ditemukan yang menjawab pertanyaan ini; "
        "kalimat terdekat ada di bawah.",
        "en": "No sentence in the articles found answers this question; the closest ones are listed below.",
    },
    "date": {
        "id": "Tidak ada artikel dalam rentang tanggal yang dibaca yang menjawab pertanyaan ini; "
        "kalimat terdekat ada di bawah.",
        "en": "No article in the date range read answers this question; the closest sentences are below.",
    },
    "model-no-answer": {
        "id": "Model bahasa tidak menemukan jawaban dalam sumber; kalimat terdekat ada di bawah.",
        "en": "The language model found no answer in the sources; the closest sentences are below.",
    },
    "unsupported": {
        "id": "Jawaban model tidak didukung oleh sumber yang dikutipnya, jadi tidak ditampilkan.",
        "en": "The model's answer was not supported by the sources it cited, so it is not shown.",
    },
}


def notice(reason: str, language: Language, names: Sequence[str] = ()) -> str:
    """Why the question was refused, in the question's language ("" for an unknown reason)."""
    text = NOTICES.get(reason, {}).get(language, "")
    return text.format(names=", ".join(names)) if text else ""
