# The two commands: `make demo` runs the whole pipeline, `make test` runs the tests.
# Both create .venv when it is missing and install what they need into it.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: install test demo lint bench train clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[train,data,dev]'
	touch $(STAMP)

install: $(STAMP)

test: install
	$(PY) -m pytest

lint: install
	$(VENV)/bin/ruff check detector producer training tests bench
	$(VENV)/bin/mypy

# DEMO_ARGS passes flags to ecg-demo, e.g. make demo DEMO_ARGS="--rate 0 --quiet"
demo: install
	$(VENV)/bin/ecg-demo $(DEMO_ARGS)

# Benchmarks (figures in the README); the detector bench uses the bundle `make train` wrote.
bench: install artifacts/bundle/bundle.json
	$(PY) bench/bench_training.py
	$(PY) bench/bench_producer.py
	$(PY) bench/bench_detector.py --bundle artifacts/bundle

train: install
	$(VENV)/bin/ecg-train --config configs/training.yaml --out artifacts

artifacts/bundle/bundle.json:
	$(MAKE) train

clean:
	rm -rf artifacts runs .pytest_cache .mypy_cache .ruff_cache
