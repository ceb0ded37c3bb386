"""Does the retrieved text mention what the question names?

Why: the hardest unanswerable questions are about the right topic but name something the articles do not
("Kapan karate mulai dikenal di AS?" over an article on karate in Indonesia; "Kapan tvOrang mulai
beroperasi?" over one on TVRI). Retrieval scores them as well as answerable ones and a small model answers
them from the nearby facts, so neither the evidence-strength threshold nor the model's NO_ANSWER catches them
(benchmarks/tune_prompt.py: 0 of 27 such idkmrc-id-dev questions were refused). A name, acronym or number of
the question that occurs nowhere in the retrieved passages is a direct, cheap sign that they cannot answer it.

Only for questions in the articles' language (Indonesian): in an English question the same names are often
written differently ("North Korea" for "Korea Utara", "Security Council" for "Dewan Keamanan"), so a missing
word there says little.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterable, Sequence

from qa.keyword import is_indonesian_word

_TOKEN = re.compile(r"[^\W_]+", re.UNICODE)
_GROUPED_NUMBER = re.compile(r"\d{1,3}(?:[.,]\d{3})+")
# A word in the text may carry up to this many more letters than the question's (Jerman -> Jermannya).
MAX_SUFFIX = 3


def _ungrouped(text: str) -> str:
    return _GROUPED_NUMBER.sub(lambda m: m.group(0).replace(".", "").replace(",", ""), text)


def question_names(question: str) -> list[tuple[str, ...]]:
    """The question's names, acronyms and numbers, adjacent ones grouped ("Freddie Mercury"): capitalised
    words after the first that are not common Indonesian words ("Presiden", "Kabupaten"), acronyms and words
    with inner capitals ("AS", "tvOrang"), and numbers of three or more digits (years, counts)."""
    tokens = _TOKEN.findall(_ungrouped(question))
    groups: list[tuple[str, ...]] = []
    current: list[str] = []
    for i, tok in enumerate([*tokens, ""]):
        if tok.isdigit():
            keep = len(tok) >= 3
        elif any(ch.isupper() for ch in tok[1:]):
            keep = True
        else:
            keep = i > 0 and tok[:1].isupper() and len(tok) >= 2 and not is_indonesian_word(tok.lower())
        if keep:
            current.append(tok)
        elif current:
            if tuple(current) not in groups:
                groups.append(tuple(current))
            current = []
    return groups


def _capitalised_runs(tokens: Sequence[str]) -> list[list[str]]:
    runs: list[list[str]] = []
    run: list[str] = []
    for tok in [*tokens, ""]:
        if tok[:1].isupper():
            run.append(tok)
        elif run:
            runs.append(run)
            run = []
    return runs


def _acronyms(run: Sequence[str]) -> dict[str, set[str]]:
    """Initials of every stretch of two to five words of a capitalised run, with the words they stand for
    ("Amerika Serikat" -> {"as": {"amerika", "serikat"}})."""
    out: dict[str, set[str]] = {}
    for i in range(len(run)):
        for j in range(i + 2, min(len(run), i + 5) + 1):
            out.setdefault("".join(w[0] for w in run[i:j]).lower(), set()).update(w.lower() for w in run[i:j])
    return out


def _vocabulary(texts: Iterable[str]) -> tuple[set[str], set[str]]:
    """Lower-cased words of the texts (numbers also without their thousands separators), and the acronyms
    their capitalised word runs could be written as."""
    words: set[str] = set()
    acronyms: set[str] = set()
    for text in texts:
        tokens = _TOKEN.findall(_ungrouped(text))
        words.update(t.lower() for t in tokens)
        for run in _capitalised_runs(tokens):
            acronyms.update(_acronyms(run))
    return words, acronyms


def missing_names(question: str, texts: Sequence[str]) -> list[str]:
    """The question's names (their words) of which ``texts`` contain no word, allowing a short suffix in
    the text ("Jerman" / "Jermannya") and an acronym for the words it stands for, either way round ("AS" /
    "Amerika Serikat")."""
    names = question_names(question)
    if not names:
        return []
    words, acronyms = _vocabulary(texts)
    ordered = sorted(words)
    spelled_out: set[str] = set()  # question words whose acronym the texts use
    for run in _capitalised_runs(_TOKEN.findall(question)):
        for acronym, members in _acronyms(run).items():
            if acronym in words:
                spelled_out.update(members)

    def found(name: str) -> bool:
        low = name.lower()
        if low in words or low in spelled_out or (name.isupper() and low in acronyms):
            return True
        return any(len(w) - len(low) <= MAX_SUFFIX for w in _starting(ordered, low))

    # A name is there when any of its words is: texts shorten names ("Mercury" for "Freddie Mercury").
    return [name for group in names if not any(found(n) for n in group) for name in group]


def _starting(ordered: list[str], prefix: str) -> list[str]:
    """Words of the sorted list that start with ``prefix``."""
    i = bisect.bisect_left(ordered, prefix)
    out = []
    while i < len(ordered) and ordered[i].startswith(prefix):
        out.append(ordered[i])
        i += 1
    return out
