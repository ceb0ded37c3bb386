"""The no-LLM backend: quote the best supporting sentences, each cited, introduced in the question's language.

Always available and instant, so it is both a useful mode on its own and the fallback when an LLM backend
fails. It never paraphrases, so every sentence it shows is verbatim evidence.
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

    def __init__(self, max_quotes: int = 2, margin: float = 0.03) -> None:
        self.max_quotes = max_quotes
        self.margin = margin

    def generate(self, question: str, evidence: Sequence[Evidence], language: Language) -> Iterator[str]:
        if not evidence:
            return
        ranked = sorted(evidence, key=lambda ev: ev.score, reverse=True)
        chosen = [ev for ev in ranked[: self.max_quotes] if ev.score >= ranked[0].score - self.margin]
        chosen.sort(key=lambda ev: ev.n)
        yield INTRO[language]
        for ev in chosen:
            quote = " ".join(ev.quote.split()).rstrip()
            yield f" «{quote}» [{ev.n}]"
