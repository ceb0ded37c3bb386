"""The question-aware evidence scorer with the real e5 model and the committed weights."""

from __future__ import annotations

import numpy as np
import pytest

from qa.citations import verify_citations
from qa.context import candidate_signals
from qa.refusal import answers
from qa.scorer import FEATURES, Candidate, QueryVectors, answer_type, load_scorer
from qa.settings import Settings
from qa.types import Evidence, Passage
from tests.conftest import model_cache

# Two sentences of one article (002/004 in data/articles): both about Belousov's arrival in Pyongyang; only
# the first says who walked with him.
ANSWER = (
    "Foto yang dirilis Kementerian Pertahanan menunjukkan Belousov berjalan bersama Menteri Pertahanan Korea "
    "Utara No Kwang Chol di karpet merah di bandara Pyongyang."
)
DISTRACTOR = (
    "Menteri Pertahanan Rusia Andrei Belousov bertemu dengan pemimpin Korea Utara Kim Jong Un dan sepakat "
    "untuk meningkatkan kerja sama militer antara kedua negara."
)


@pytest.fixture(scope="module")
def reranker():
    from qa.cross_encoder import load_cross_encoder

    return load_cross_encoder(model_cache())


def _scores(embedder, reranker, question: str, language: str, sentences: list[str]) -> np.ndarray:
    """The production scorer (both stages) on sentences given as one retrieved passage."""
    passage = Passage("c", "d", " ".join(sentences), 0, 1, 1.0)
    cands = [Candidate(passage, i * 1000, i * 1000 + len(s), s, rank=0) for i, s in enumerate(sentences)]
    query = QueryVectors(*embedder.encode_query_with_tokens(question))
    signals = candidate_signals(embedder, query, cands)
    return load_scorer().score(question, language, signals, cands, reranker)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("question", "language"),
    [
        ("Siapa yang berjalan bersama Belousov di karpet merah bandara Pyongyang?", "id"),
        ("Who walked with Belousov on the red carpet at Pyongyang airport?", "en"),
    ],
)
def test_the_answer_sentence_outranks_a_related_distractor(embedder, reranker, question, language) -> None:
    answer, distractor = _scores(embedder, reranker, question, language, [ANSWER, DISTRACTOR])
    assert answer > distractor
    assert 0.0 <= distractor < answer <= 1.0


@pytest.mark.parametrize(
    ("answered", "near_miss", "language"),
    [
        ("Kapan PBB didirikan?", "Kapan PBB dibubarkan?", "id"),
        ("When was the UN founded?", "When was the UN dissolved?", "en"),
    ],
)
def test_a_near_miss_question_is_judged_unanswered_by_the_same_sentence(
    embedder, reranker, answered, near_miss, language
) -> None:
    sentence = ["Perserikatan Bangsa-Bangsa (PBB) didirikan pada 24 Oktober 1945 di San Francisco."]
    settings = Settings(evidence_reader=False)  # the scorer's own thresholds
    founded = _scores(embedder, reranker, answered, language, sentence)[0]
    dissolved = _scores(embedder, reranker, near_miss, language, sentence)[0]
    assert answers(founded, language, settings) and not answers(dissolved, language, settings)


def test_onnx_cross_encoder_gives_the_torch_logits(reranker) -> None:
    # The service runs the ONNX export; thresholds were calibrated on the PyTorch model's logits.
    from qa.cross_encoder import OnnxCrossEncoder, load_cross_encoder, passage_contexts

    assert isinstance(reranker, OnnxCrossEncoder)
    torch_ce = load_cross_encoder(model_cache(), onnx=False)
    contexts = passage_contexts([ANSWER, DISTRACTOR, "Singkat.", " ".join([DISTRACTOR] * 6)])
    for question in ("Siapa yang berjalan bersama Belousov?", "Who met Kim Jong Un?"):
        np.testing.assert_allclose(
            reranker.score(question, contexts), torch_ce.score(question, contexts), atol=1e-3
        )
    assert reranker.score("Siapa?", []).shape == (0,)


def test_answer_types_in_both_languages() -> None:
    assert [answer_type(q) for q in ("Kapan PBB didirikan?", "When was the UN founded?")] == ["when", "when"]
    assert [answer_type(q) for q in ("Berapa korban tewas?", "How many people died?")] == ["count", "count"]
    assert [answer_type(q) for q in ("Siapa pendirinya?", "Who founded it?")] == ["who", "who"]
    assert answer_type("Apa yang dikritik Kim?") == "open"


def test_committed_weights_match_the_feature_list() -> None:
    scorer = load_scorer()
    assert len(scorer.prefilter.coef) == len(FEATURES) and np.all(np.isfinite(scorer.prefilter.coef))
    assert scorer.rerank is not None and scorer.rerank_k >= 3


def test_a_wrong_person_claim_is_re_cited_or_removed(embedder, reranker) -> None:
    """Cosine alone passes "Kim walked with Belousov" against the sentence where Belousov meets Kim; the
    support check wants the cited sentence to answer the question and to name the claim's people."""
    question = "Who walked with Belousov on the red carpet at Pyongyang airport?"
    scores = _scores(embedder, reranker, question, "en", [ANSWER, DISTRACTOR])
    evidence = [
        Evidence(n=1, doc_id="a", quote=ANSWER, start=0, end=len(ANSWER), score=float(scores[0])),
        Evidence(n=2, doc_id="b", quote=DISTRACTOR, start=0, end=len(DISTRACTOR), score=float(scores[1])),
    ]
    settings = Settings()
    wrong = "Kim Jong Un walked with Belousov on the red carpet at Pyongyang airport [2]."
    checked = verify_citations(wrong, evidence, embedder, "en", 0.80, question=question, settings=settings)
    assert "Kim" not in checked.text and checked.removed
    right = "North Korean defence minister No Kwang Chol walked with Belousov [2]."
    checked = verify_citations(right, evidence, embedder, "en", 0.80, question=question, settings=settings)
    assert [c.doc_id for c in checked.citations] == ["a"]  # re-cited to the sentence that names him


def test_the_thresholds_in_force_are_the_ones_stored_with_the_active_model() -> None:
    """One source: with no override in settings, the thresholds are read from the calibration stored with
    the weights of the model that scores evidence (the reader's, or the scorer's when it is off)."""
    import json

    from qa.refusal import READER_THRESHOLDS, SCORER_THRESHOLDS, thresholds

    for settings, path in (
        (Settings(evidence_reader=True), READER_THRESHOLDS),
        (Settings(), SCORER_THRESHOLDS),
    ):
        stored = json.loads(path.read_text(encoding="utf-8"))["thresholds"]
        t = thresholds(settings)
        assert (t.refuse_id, t.refuse_en, t.quote, t.support) == (
            stored["id"],
            stored["en"],
            stored["quote"],
            stored["support"],
        )
    assert thresholds(Settings(quote_threshold=0.5)).quote == 0.5


def test_the_cross_encoder_reads_as_many_sentences_as_the_setting_says(sample_store_dir) -> None:
    """``evidence_rerank_k`` is what the second stage costs per question: the real cross-encoder is called
    with that many of the first stage's best sentences, and the answer is still found with fewer."""
    from qa.pipeline import QAService
    from tests.conftest import make_settings

    read: list[int] = []
    for k in (8, 3):
        service = QAService(make_settings(sample_store_dir, evidence_rerank_k=k, evidence_reader=False))
        reranker = service.cross_encoder
        assert reranker is not None
        original = reranker.score

        def counting(question: str, contexts: list[str], original=original) -> np.ndarray:
            read.append(len(contexts))
            return original(question, contexts)

        reranker.score = counting  # type: ignore[method-assign]
        try:
            question = "Kapan Korea Utara meratifikasi pakta pertahanan dengan Rusia?"
            evidence = service.gather(question).evidence
        finally:
            del reranker.score
        assert any("November" in e.quote or "12" in e.quote for e in evidence[:3])
    assert read == [8, 3]
