# Chaperone: the two commands a fresh machine needs.
#   make run   set up, then run the gateway on config/gateway.toml (SQLite store
#              in var/, a development next hop saving delivered mail in var/delivered)
#   make test  set up, then run the test suite
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin

.PHONY: run web examples test setup lint bench clean

$(BIN)/gateway: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	@touch $@

setup: $(BIN)/gateway

run: setup
	$(BIN)/gateway rules check --config config/gateway.toml
	$(BIN)/gateway serve --config config/gateway.toml --dev-sink var/delivered

web: setup
	@# the reviewers' app on http://127.0.0.1:8080/ (add an account first: gateway user add NAME --role reviewer --email ADDRESS)
	$(BIN)/gateway web --config config/gateway.toml

examples: setup
	@# check exits 1 when a copy is held, which is the point of one example
	-$(BIN)/gateway check --config config/gateway.toml examples/*.eml

# Three test processes: most tests wait on gateways, sinks and browsers, so
# three share two cores well (pytest-xdist; -n 0 runs them in one).
TEST_PROCESSES ?= 3
test: setup
	$(BIN)/python -m pytest -q -n $(TEST_PROCESSES)

lint: setup
	$(BIN)/ruff format --check gateway tests bench
	$(BIN)/ruff check gateway tests bench
	$(BIN)/mypy

bench: setup
	$(BIN)/python bench/scan.py
	$(BIN)/python bench/relay.py

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache
