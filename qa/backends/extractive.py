"""The no-LLM backend: quote the sentences most likely to answer, each cited, in the question's language.

Always available and instant, so it is both a useful mode on its own and the fallback when an LLM backend
fails or is busy. It never paraphrases, so every sentence it shows is verbatim evidence. The evidence it gets
is ordered by the question-aware scorer (``Evidence.score`` is P(the sentence answers the question),
qa/scorer.py), so the first quote is the sentence judged to answer; a second is added only when the scorer
rates it nearly as likely (``ratio`` of the best), since every extra quote can cite a wrong article.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from qa.types import Evidence, Language

INTRO: dict[Language, str] = {
    "id": "Menurut artikel yang tersedia:",
    "en": "According to the articles (quoted in the original Indonesian):",
}


class ExtractiveBackend:
    name = "extractive"

    def __init__(self, max_quotes: int = 2, ratio: float = 0.8) -> None:
        self.max_quotes = max_quotes
        self.ratio = ratio

    def generate(self, question: str, evidence: Sequence[Evidence], language: Language) -> Iterator[str]:
        if not evidence:
            return
        ranked = sorted(evidence, key=lambda ev: ev.score, reverse=True)
        chosen = [ev for ev in ranked[: self.max_quotes] if ev.score >= ranked[0].score * self.ratio]
        chosen.sort(key=lambda ev: ev.n)
        yield INTRO[language]
        for ev in chosen:
            quote = " ".join(ev.quote.split()).rstrip()
            yield f" «{quote}» [{ev.n}]"
