# edgeemo developer entry points. The README's quick start uses `make listen` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
PIP    := $(VENV)/bin/pip
PY     := $(VENV)/bin/python
APT_PACKAGES := libportaudio2 libsndfile1 libsndfile1-dev pulseaudio pulseaudio-utils libasound2-plugins \
                cmake g++ make pkg-config binutils valgrind time

.PHONY: help listen test test-fast system-deps venv venv-dev model model-tiny model-student-legacy model-small model-small-frozen gpu-bundle bench bench-models robustness cpp clean

help:
	@echo "make listen   - create .venv (runtime only) and run 'edgeemo listen' with the bundled model"
	@echo "make test     - install system packages, create .venv with every extra, run the whole test suite (CI)"
	@echo "make test-fast - for contributors: the suite without tests marked slow or audio_device"
	@echo "make model-tiny (or make model) - the tiny model: its five actor folds (resumable), final training on actors 01-20, export, stream graph, bundle"
	@echo "make model-student-legacy - the former tiny recipe (A+V teacher, distilled student, chosen on actors 17-20), not bundled"
	@echo "make model-small - build and bundle the small model from its fine-tuned final weights (SMALL_CHECKPOINT=...)"
	@echo "make gpu-bundle - stage data, Whisper weights and wheels for scripts/gpu_small_finetune.sh on a GPU machine"
	@echo "make model-small-frozen - the frozen-encoder small model, CPU only: five folds (cached), build, bundle"
	@echo "make bench    - measure accuracy/latency/memory and write docs/benchmarks.md"
	@echo "make bench-models - one row per bundled model (accuracy, latency, memory): docs/models.md"
	@echo "make cpp      - build and test the C/C++ bindings"

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

$(VENV)/.runtime: pyproject.toml | $(VENV)/bin/python
	$(PIP) install --quiet -c constraints.txt -e ".[cpu]"
	@touch $@

$(VENV)/.dev: pyproject.toml constraints.txt | $(VENV)/bin/python
	$(PIP) install --quiet -c constraints.txt -e ".[dev]"
	@if $(PIP) list 2>/dev/null | grep -qi '^nvidia-'; then echo "error: CUDA packages were installed; check constraints.txt" >&2; exit 1; fi
	@touch $@ $(VENV)/.runtime

venv: $(VENV)/.runtime
venv-dev: $(VENV)/.dev

listen: venv
	$(VENV)/bin/edgeemo listen

system-deps:
	@if [ "$$(id -u)" = "0" ] && command -v apt-get >/dev/null; then \
	  missing=$$(for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	  if [ -n "$$missing" ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; fi; \
	else echo "note: not root or no apt-get; install yourself: $(APT_PACKAGES)"; fi

test: system-deps venv-dev
	$(PY) -m pytest -q --durations=15

test-fast: venv-dev
	$(PY) -m pytest -q --durations=10 -m "not slow and not audio_device"

model: model-tiny

model-tiny: venv-dev
	$(VENV)/bin/edgeemo recipe function-matching --rows student_fm_frames_cleanemb_stream_x8 --dev-every 8
	$(VENV)/bin/edgeemo recipe build-tiny --bundle

model-student-legacy: venv-dev
	$(PY) -m edgeemo.recipes.build_default

SMALL_CHECKPOINT ?= runs/small-finetune/final

model-small: venv-dev
	$(VENV)/bin/edgeemo recipe build-small --checkpoint $(SMALL_CHECKPOINT)

model-small-frozen: venv-dev
	$(VENV)/bin/edgeemo recipe small-student --int8 small_k3_views
	$(VENV)/bin/edgeemo recipe build-small --results docs/results/small_student.json --row small_k3_views

gpu-bundle: venv-dev
	bash scripts/prepare_gpu_bundle.sh

bench: venv-dev
	$(PY) bench/run_benchmarks.py

bench-models: venv-dev
	$(PY) bench/models.py

robustness: venv-dev
	$(PY) bench/robustness.py

cpp: system-deps venv-dev
	bash cpp_bindings/scripts/build_and_test.sh

clean:
	rm -rf build dist *.egg-info .pytest_cache cpp_bindings/build
