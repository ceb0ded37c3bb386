"""The extractive reader (qa/reader.py) with its committed weights, alone and as the pipeline's judgment:
the answer it points at, the refusal it grounds, and the model sentences it overrules."""

from __future__ import annotations

import pytest

from qa.reader import MAX_LENGTH, answer_probability, encode_windows, load_reader, question_ids, read
from qa.refusal import answers
from qa.settings import Settings
from tests.conftest import ARTICLES, make_settings, model_cache
from tests.test_pipeline import ScriptedModel

APPOSITION = (
    "Penasihat keamanan nasional Yoon, Shin Wonsik, mengatakan dalam sebuah wawancara televisi pekan lalu "
    "bahwa Seoul yakin Rusia telah menyediakan sistem rudal pertahanan udara ke Korea Utara sebagai imbalan "
    "atas pengiriman pasukannya."
)


@pytest.fixture(scope="module")
def reader():
    return load_reader(model_cache(), threads=2)


@pytest.fixture(scope="module")
def reader_service(sample_store_dir):
    """The service with the reader deciding (``evidence_reader``; off by default until it beats the
    feature scorer, qa/settings.py)."""
    from qa.pipeline import QAService

    return QAService(make_settings(sample_store_dir, evidence_reader=True))


def _text(doc_id: str) -> str:
    return (ARTICLES / f"{doc_id}.txt").read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("question", "language"),
    [
        ("Siapa penasihat keamanan nasional Presiden Yoon?", "id"),
        ("Who is President Yoon's national security adviser?", "en"),
    ],
)
def test_an_apposition_names_the_person_asked_about(reader, question, language):
    """'X, Name, said ...' answers 'who is X': the span is the name, confidently enough to answer."""
    best = read(reader, question, [APPOSITION])[0][0]
    assert APPOSITION[best.start : best.end] == "Shin Wonsik"
    assert answers(answer_probability(best.score), language, Settings(evidence_reader=True))


def test_long_passages_are_read_in_overlapping_windows_and_the_answer_is_found_in_any(reader):
    article = _text("001_74c5f399bd71f4d7")
    q_ids = question_ids(reader.tokenizer, "Siapa penasihat keamanan nasional Presiden Yoon?")
    windows = encode_windows(reader.tokenizer, q_ids, article)
    assert len(windows) > 2 and all(len(w.ids) <= MAX_LENGTH for w in windows)
    spans = read(reader, "Siapa penasihat keamanan nasional Presiden Yoon?", [article])[0]
    assert article[spans[0].start : spans[0].end] == "Shin Wonsik"


def test_a_passage_about_the_same_people_without_the_answer_scores_below_the_refusal_line(reader):
    """The near miss: the passage names the president and his security office, not who advises him."""
    near = (
        "Kantor Yoon belum mengatakan apakah kedua pemerintah membahas kemungkinan Korea Selatan memasok "
        "senjata ke Ukraina dalam pembicaraan mereka dengan Umerov."
    )
    spans = read(reader, "Siapa penasihat keamanan nasional Presiden Yoon?", [near])[0]
    best = max((answer_probability(s.score) for s in spans), default=0.0)
    assert not answers(best, "id", Settings(evidence_reader=True))


@pytest.mark.parametrize(
    ("question", "language"),
    [
        ("Siapa penasihat keamanan nasional Presiden Yoon?", "id"),
        ("Who is President Yoon's national security adviser?", "en"),
    ],
)
def test_the_extractive_answer_is_the_span_first_then_its_sentence(reader_service, question, language):
    a = reader_service.answer(question)
    assert not a.refused and a.language == language
    assert a.text.startswith("Shin Wonsik [1].")
    first = a.citations[0]
    raw = _text(first.doc_id)
    assert raw[first.answer_start : first.answer_end] == "Shin Wonsik"
    assert first.start <= first.answer_start < first.answer_end <= first.end
    assert a.best_score is not None and a.best_score >= 0.5


@pytest.mark.parametrize(
    ("question", "reply"),
    [
        (
            "Siapa yang digantikan Belousov sebagai menteri pertahanan?",
            "Belousov menggantikan Vladimir Putin sebagai menteri pertahanan [1].",
        ),
        (
            "Who did Belousov replace as defence minister?",
            "Belousov replaced Vladimir Putin as defence minister [1].",
        ),
    ],
)
def test_a_model_sentence_naming_another_person_is_replaced_by_the_readers_answer(
    sample_store_dir, question, reply
):
    """The model names a person the cited sentence merely mentions ("... setelah Presiden Rusia Vladimir
    Putin memulai masa jabatan kelima"), so the fact check passes it; the reader is confident of another
    answer in that sentence, so the claim is re-answered from the reader's span, cited to its sentence."""
    from qa.pipeline import QAService

    service = QAService(make_settings(sample_store_dir, backend="llamacpp", evidence_reader=True))
    service._backends["llamacpp"] = ScriptedModel(reply)
    a = service.answer(question)
    assert not a.refused
    assert "Putin" not in a.text and a.text.startswith("Sergei Shoigu [1]")
    assert "Sergei Shoigu" in a.citations[0].quote


@pytest.mark.xfail(
    strict=True,
    reason="the committed reader's no-answer score is too weak for this near miss: it answers with a city "
    "of another sentence (qa/models/README.md, 'Limits seen'); the reason the reader stays off by default",
)
@pytest.mark.parametrize(
    "question",
    ["Di kota mana Belousov lahir?", "In which city was Belousov born?"],
)
def test_a_near_miss_is_refused_with_its_reason_and_the_closest_sentences_shown(reader_service, question):
    a = reader_service.answer(question)
    assert a.refused and a.refusal_reason in {"weak-evidence", "missing-names"}
    assert a.notice and a.related
    assert a.to_dict()["refusal_reason"] == a.refusal_reason


@pytest.mark.xfail(
    strict=True,
    reason="answered now instead of refused, but the committed reader points at another date of the "
    "retrieved passages (qa/models/README.md, 'Limits seen')",
)
@pytest.mark.parametrize(
    ("first", "reply", "follow_up"),
    [
        ("Siapa yang digantikan Belousov?", "Sergei Shoigu [1].", "Kapan itu terjadi?"),
        ("Who did Belousov replace?", "Sergei Shoigu [1].", "When did that happen?"),
    ],
)
def test_a_follow_up_is_answered_from_the_sentence_holding_its_answer(
    reader_service, first, reply, follow_up
):
    """ "When did that happen?" is read as a question about the replacement: the reader finds the month in
    the sentence that reports it, instead of refusing."""
    history = [{"role": "user", "content": first}, {"role": "assistant", "content": reply}]
    a = reader_service.answer(follow_up, history)
    assert not a.refused, a.notice
    assert "Mei" in a.text.split("[1]")[0]


REPLACED = (
    "Belousov, mantan ekonom, menggantikan Sergei Shoigu sebagai menteri pertahanan pada bulan Mei setelah "
)
REPLACED += "Presiden Rusia Vladimir Putin memulai masa jabatan kelima."


def _replaced_evidence(score: float) -> list:
    from qa.types import Evidence

    start = REPLACED.index("Sergei Shoigu")
    return [
        Evidence(
            n=1,
            doc_id="a",
            quote=REPLACED,
            start=0,
            end=len(REPLACED),
            score=score,
            answer_start=start,
            answer_end=start + len("Sergei Shoigu"),
        )
    ]


@pytest.mark.parametrize(
    ("claim", "shown"),
    [
        ("Belousov menggantikan Vladimir Putin [1].", "Sergei Shoigu [1]."),  # names someone else: replaced
        ("Belousov menggantikan Sergei Shoigu [1].", "Belousov menggantikan Sergei Shoigu [1]."),  # agrees
        ("Sergei Shoigu [1].", "Sergei Shoigu [1]."),  # the span itself
        # A sentence ending in ":" is a lead-in only when it states nothing: this one is checked.
        ("Belousov menggantikan Vladimir Putin:", "Sergei Shoigu [1]."),
    ],
)
def test_a_shown_sentence_must_agree_with_a_confident_reader(embedder, claim, shown):
    from qa.citations import verify_citations

    question = "Siapa yang digantikan Belousov sebagai menteri pertahanan?"
    sure = Settings(quote_threshold=0.9, support_min_score=0.1)
    checked = verify_citations(
        claim, _replaced_evidence(0.95), embedder, "id", 0.8, question=question, settings=sure
    )
    assert checked.text == shown


def test_an_unsure_reader_does_not_overrule_the_support_check(embedder):
    from qa.citations import verify_citations

    claim = "Belousov menggantikan Vladimir Putin [1]."
    question = "Siapa yang digantikan Belousov sebagai menteri pertahanan?"
    settings = Settings(quote_threshold=0.9, support_min_score=0.1)
    checked = verify_citations(
        claim, _replaced_evidence(0.5), embedder, "id", 0.8, question=question, settings=settings
    )
    assert checked.text == claim  # the fact check alone cannot tell: the sentence does name Putin


def test_the_cited_sentence_marks_the_readers_span_and_escapes_the_rest() -> None:
    from ui.render import quote_html

    quote = "Penasihat <b>Yoon</b>, Shin Wonsik, berkata."
    start = 100  # citation offsets are article offsets
    a = start + quote.index("Shin Wonsik")
    src = {"start": start, "answer_start": a, "answer_end": a + len("Shin Wonsik")}
    html = quote_html(src, quote)
    assert '<mark class="nqa-span">Shin Wonsik</mark>' in html and "&lt;b&gt;" in html
    assert "<mark" not in quote_html({"start": start}, quote)  # no span: the sentence as it is
