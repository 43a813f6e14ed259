# Everything a user runs. A fresh machine needs only python3 and make: targets install into .venv first.
VENV    := .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed-stamp
PYTEST_WORKERS ?= 2
SCALE ?= small,medium
DEMO_PORT ?= 3000
DEMO_ARGS ?=

.PHONY: install test demo sandbox lint docs clean bench chaos

$(STAMP): pyproject.toml
	test -x $(BIN)/python || python3 -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

test: install
	$(BIN)/pytest -n $(PYTEST_WORKERS) --dist loadfile -q

# Both sandboxes (reset, seed 42, small, overlap 0.3) and `dagster dev` on 127.0.0.1:$(DEMO_PORT) with
# DAGSTER_HOME=data/dagster_home and 5 s sensors; Ctrl-C stops both. DEMO_ARGS=--keep keeps data and state.
demo: install
	$(BIN)/python -m crm_membercare.demo --port $(DEMO_PORT) $(DEMO_ARGS)

sandbox: demo

lint: install
	$(BIN)/ruff check crm_membercare crm_membercare_tests

docs: install
	$(BIN)/crm-membercare docs > docs/dataflow.rst

# The fault storm and the crash test at full size (>= 500 operations, >= 10 cycles, >= 20 kills); writes the
# figures to docs/reliability.md. CHAOS_SEED=N replays a run.
chaos: install
	CHAOS_SIZE=full CHAOS_REPORT=docs/reliability.md $(BIN)/pytest -q -p no:randomly \
		crm_membercare_tests/test_fault_storm.py crm_membercare_tests/test_crash.py

# Performance figures against DESIGN Part E (a benchmark, not a test): prints a table, writes bench/results.json.
bench: install
	$(BIN)/python -m bench.run --scales $(SCALE)

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis
