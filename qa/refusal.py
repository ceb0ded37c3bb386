"""Whether to answer, quote or refuse: one policy that every refusal path of the pipeline goes through.

Why one place: refusing is a trade between inventing an answer and withholding one, and it used to be
decided in four spots with four signals (a cosine threshold, names the articles never mention, the model's
NO_ANSWER, claims that failed the support check). Here they are ordered by how much each knows:

1. a name, acronym or number of the question that the retrieved articles never mention -> refuse
   (qa.grounding; Indonesian questions only, where names are spelled as in the articles);
2. no evidence sentence the scorer judges to answer the question (its best P(answers), qa.scorer, below the
   per-language threshold calibrated on the dev sets' tune split) -> refuse, before any generation;
3. the model replied NO_ANSWER, or none of its sentences survived the support check -> quote the best
   evidence sentence when the scorer is confident it answers (a small model under-answers), else refuse;
4. otherwise -> answer.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from qa.settings import Settings
from qa.types import Language


class Verdict(StrEnum):
    ANSWER = "answer"
    QUOTE = "quote"
    REFUSE = "refuse"


@dataclass(frozen=True)
class Decision:
    verdict: Verdict
    reason: str = ""  # why not ANSWER: missing-names, weak-evidence, model-no-answer, unsupported


def answers(score: float, language: Language, settings: Settings) -> bool:
    """Whether the question's best evidence sentence, with scorer probability ``score``, answers it: below
    this nothing retrieved answers and the question is refused."""
    threshold = settings.refusal_threshold_en if language == "en" else settings.refusal_threshold_id
    return score >= threshold


def cited_answers(score: float, settings: Settings) -> bool:
    """Whether a sentence an answer cites is one that answers the question (not merely about the same
    people or event): the support check's test (qa.citations.supports). A lower bar than ``answers``, which
    judges a question's best sentence; the second and third score lower even when they hold the answer."""
    return score >= settings.support_min_score


def timeline_event(cosine: float, language: Language, settings: Settings) -> bool:
    """Whether a dated sentence is an event of the development a timeline question asks about."""
    floor = settings.timeline_min_cosine_en if language == "en" else settings.timeline_min_cosine_id
    return cosine >= floor


def decide(
    language: Language,
    settings: Settings,
    best_score: float | None,
    *,
    missing_names: Sequence[str] = (),
    model_no_answer: bool = False,
    claims_left: bool = True,
    timeline_events: int = 0,
) -> Decision:
    """The verdict for a question whose best evidence sentence scored ``best_score`` (None: no evidence).

    Called before generation (only the first two arguments' evidence is known) and after it (with what the
    model said and what survived verification); the same inputs always give the same verdict. A timeline
    question with two or more events (``timeline_event``) is answered by them; with fewer, like any other.
    """
    if missing_names:
        return Decision(Verdict.REFUSE, "missing-names")
    if timeline_events >= 2:
        return Decision(Verdict.ANSWER, "timeline")
    if best_score is None or not answers(best_score, language, settings):
        return Decision(Verdict.REFUSE, "weak-evidence")
    if model_no_answer or not claims_left:
        reason = "model-no-answer" if model_no_answer else "unsupported"
        if best_score >= settings.quote_threshold:
            return Decision(Verdict.QUOTE, reason)
        return Decision(Verdict.REFUSE, reason)
    return Decision(Verdict.ANSWER)
