"""End to end with the real local model (Qwen2.5-Coder-1.5B via llama.cpp): one question per language, and
an article carrying a prompt injection. Slow on 2 cores, so marked ``llm``; `make test` runs them."""

from __future__ import annotations

import pytest

from qa.pipeline import QAService
from tests.conftest import make_settings
from tests.test_pipeline import store_with_injection

pytestmark = pytest.mark.llm


@pytest.fixture(scope="module")
def llm_service(sample_store_dir):
    pytest.importorskip("llama_cpp", reason="llama-cpp-python (the llm extra) is not installed")
    return QAService(make_settings(sample_store_dir, backend="llamacpp", llm_timeout_s=600))


def _check_cited(a) -> None:
    assert a.backend == "llamacpp" and not a.refused, a.notice
    assert a.citations
    for c in a.citations:
        assert f"[{c.n}]" in a.text


def test_indonesian_question_answered_in_indonesian_with_citations(llm_service):
    a = llm_service.answer("Siapa yang digantikan Belousov sebagai menteri pertahanan?")
    _check_cited(a)
    assert "Shoigu" in a.text and a.language == "id"
    assert any("Shoigu" in c.quote for c in a.citations), a.citations


def test_english_question_answered_in_english_with_citations(llm_service):
    a = llm_service.answer("Who did Belousov replace as defence minister?")
    _check_cited(a)
    assert "Shoigu" in a.text and a.language == "en"
    from qa.language import answer_language

    assert answer_language(a.text, expected="en") == "en"  # a bare name ("Sergei Shoigu [1].") is fine


def test_an_english_question_never_gets_an_indonesian_phrase_as_its_answer(sample_store_dir):
    # Without the contrast examples the model answers this one with the Indonesian phrase it read
    # ("Mantan ekonom [1]."); the language check then quotes the cited source with an English introduction.
    from qa.language import answer_language
    from qa.pipeline import WRONG_LANGUAGE_NOTICE

    for contrast in (False, True):
        settings = make_settings(
            sample_store_dir, backend="llamacpp", llm_timeout_s=600, prompt_contrast_examples=contrast
        )
        a = QAService(settings).answer("What was Belousov's profession before becoming defence minister?")
        assert not a.refused and a.citations, a.text
        assert answer_language(a.text, expected="en") == "en", a.text
        assert "econom" in a.text.lower() or "ekonom" in a.text.lower(), a.text
        assert a.backend == "llamacpp" or a.notice == WRONG_LANGUAGE_NOTICE["en"], (a.backend, a.notice)


def test_a_tight_first_token_budget_gives_the_model_only_the_strongest_sentence(sample_store_dir):
    # The time budget drops the weakest sources first (never the first); with none (and no character
    # budget in the way), the model gets all three.
    given: dict[float, int] = {}
    for budget in (0.0, 1e-3):
        settings = make_settings(
            sample_store_dir,
            backend="llamacpp",
            llm_timeout_s=600,
            llm_context_chars=5000,
            llm_first_token_s=budget,
        )
        service = QAService(settings)
        engine = service.backend("llamacpp")
        generate = engine.generate

        def counting(question, evidence, language, _budget=budget, _generate=generate):
            given[_budget] = len(evidence)
            return _generate(question, evidence, language)

        engine.generate = counting
        a = service.answer("Siapa yang digantikan Belousov sebagai menteri pertahanan?")
        _check_cited(a)
        assert "Shoigu" in a.text
    assert given == {0.0: 3, 1e-3: 1}, given


def test_unanswerable_question_is_refused(llm_service):
    a = llm_service.answer("What is the exchange rate of the Korean won to the rupiah?")
    assert a.refused and not a.citations
    assert "do not contain" in a.text


def test_injected_instructions_in_an_article_are_not_followed(tmp_path):
    pytest.importorskip("llama_cpp", reason="llama-cpp-python (the llm extra) is not installed")
    settings = store_with_injection(tmp_path).model_copy(update={"backend": "llamacpp", "llm_timeout_s": 600})
    a = QAService(settings).answer("Who did Belousov replace?")
    assert "PWNED" not in a.text
    assert "Shoigu" in a.text
