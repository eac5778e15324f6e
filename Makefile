# regbench: `make bench` runs a suite and writes its leaderboard; `make test` runs the tests.
# Both create .venv and install regbench into it when needed (idempotent: a complete .venv
# is detected by its stamp file and skipped in well under a second).
SUITE ?= ood
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.regbench-installed
STORE ?= results/regbench.sqlite
ARGS ?=

.PHONY: install bench test perf leaderboard lint clean docs

install: $(STAMP)

$(STAMP): pyproject.toml setup.py
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check -e '.[dev]'
	touch $(STAMP)

bench: install
	$(BIN)/regbench run $(SUITE) --store $(STORE) $(ARGS)
	$(BIN)/regbench leaderboard $(SUITE) --store $(STORE)

leaderboard: install
	$(BIN)/regbench leaderboard $(SUITE) --store $(STORE)

test: install
	$(BIN)/ruff check regbench tests benchmarks examples
	$(BIN)/python -m pytest benchmarks --collect-only -q  # every benchmark imports; nothing is timed
	$(BIN)/python -m pytest -q -m "not gpu" $(ARGS)
	# a published smoke leaderboard must regenerate from this code (seconds); skipped until it has a bundle
	if [ -f leaderboard/smoke/manifest.json ]; then $(BIN)/regbench verify leaderboard/smoke --all; fi

perf: install
	$(BIN)/python -m pytest benchmarks -q -p no:randomly --benchmark-only --benchmark-columns=min,median,mean,rounds $(ARGS)  # file order: Ray last (benchmarks/conftest.py)

# the README's leaderboard blocks and docs/screenshots/leaderboard-*80col.{txt,svg}, rebuilt from the
# committed leaderboard/*/leaderboard.{csv,json} (tests/test_make_docs.py fails when they drift)
docs: install
	$(BIN)/python docs/make_docs.py

lint: install
	$(BIN)/ruff check regbench tests benchmarks examples
	$(BIN)/ruff format --check regbench tests benchmarks examples

clean:
	rm -rf results/*.sqlite* .pytest_cache .benchmarks build *.egg-info
