# Everything a user runs. A fresh machine needs only python3 and make: targets install into .venv first.
VENV    := .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed-stamp
PYTEST_WORKERS ?= 2

.PHONY: install test demo sandbox lint docs clean chaos

$(STAMP): pyproject.toml
	test -x $(BIN)/python || python3 -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

test: install
	$(BIN)/pytest -n $(PYTEST_WORKERS) -q

demo: install
	$(BIN)/crm-membercare sandbox --reset --seed 42 --scale small --overlap 0.3

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

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis
