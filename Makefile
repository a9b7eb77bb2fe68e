# Two commands on a fresh machine: `make run` (trace lecture 01 and serve it) and `make test`.
# Overridable: PYTHON, VENV, TORCH_SPEC (CPU wheel by default), HOST, PORT, LECTURE.
PYTHON ?= python3
VENV ?= .venv
TORCH_SPEC ?= torch==2.13.0+cpu
TRITON_SPEC ?= triton==3.9.*
HOST ?= 127.0.0.1
PORT ?= 8000
LECTURE ?= lectures/lecture_01.py
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
LECTURES := $(wildcard lectures/lecture_*.py)

.PHONY: install run serve traces test test-all test-gpu test-browser test-slow lint fmt check clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q "$(TORCH_SPEC)" "$(TRITON_SPEC)"
	$(PY) -m pip install -q -e ".[dev]"
	$(PY) -m lm.tokenizer native || echo "note: no native tokenizer engine; the Python engine is used"
	touch $(STAMP)

install: $(STAMP)

# Trace the lecture when its trace is missing or stale, then serve the viewer.
run: $(STAMP)
	$(PY) -m execlecture run $(LECTURE) --if-stale
	$(PY) -m execlecture serve traces --host $(HOST) --port $(PORT)

serve: $(STAMP)
	$(PY) -m execlecture serve traces --host $(HOST) --port $(PORT)

# Regenerate every trace under traces/ from lectures/.
traces: $(STAMP)
	@for f in $(LECTURES); do \
	  $(PY) -m execlecture run $$f || exit 1; done

# The fast CPU suite (browser tests included; gpu tests skip without a GPU).
test: $(STAMP)
	$(PY) -m pytest -q -m "not slow and not gpu"

test-slow: $(STAMP)
	$(PY) -m pytest -q -m "slow and not gpu"

test-all: $(STAMP)
	$(PY) -m pytest -q

test-gpu: $(STAMP)
	$(PY) -m pytest -q -m gpu

test-browser: $(STAMP)
	$(PY) -m pytest -q -m browser

lint: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy

fmt: $(STAMP)
	$(PY) -m ruff format .
	$(PY) -m ruff check --fix .

check: lint test

clean:
	rm -rf $(VENV) site .pytest_cache .mypy_cache .ruff_cache
