"""The no-LLM backend: the reader's answer, then the sentence it is from, cited, in the question's language.

Always available and instant, so it is both a useful mode on its own and the fallback when an LLM backend
fails or is busy. It never paraphrases: every word it shows is the articles' own. The evidence it gets is
ordered by the reader (``Evidence.score`` is P(the sentence holds the answer), ``Evidence.answer`` the span
it points at, qa/reader.py), so it answers with that short span first ("Shin Wonsik [1].") and then quotes
the sentence around it, and only that one. Without a span, a second quote is added only when it scores
nearly as high (``ratio`` of the best), since every extra quote can cite a wrong article.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from qa.types import Evidence, Language

INTRO: dict[Language, str] = {
    "id": "Menurut artikel yang tersedia:",
    "en": "According to the articles (quoted in the original Indonesian):",
}
# The span alone is the answer only when it is short enough to read as one (a name, a number, a date);
# a longer one is the sentence's own clause, and the quote says it in context.
MAX_SPAN_WORDS = 12


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
        span = " ".join(ranked[0].answer.split())
        if span and len(span.split()) <= MAX_SPAN_WORDS:
            # The answer is the span; the sentence it is from is its one source (a second quote from
            # another article would be one more citation that can be wrong).
            chosen = ranked[:1]
            yield f"{span[0].upper()}{span[1:]} [{ranked[0].n}]. "
        chosen.sort(key=lambda ev: ev.n)
        yield INTRO[language]
        for ev in chosen:
            quote = " ".join(ev.quote.split()).rstrip()
            yield f" «{quote}» [{ev.n}]"
