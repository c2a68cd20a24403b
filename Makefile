# The two commands README.md gives: `make demo` and `make test`. Everything they need is
# installed by them, into .venv (Python) and widget_js/node_modules (JS test tools only).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000

.PHONY: demo test venv lint pytest jstest

$(BIN)/crowdgate: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	touch $@

venv: $(BIN)/crowdgate

demo: venv
	$(BIN)/crowdgate demo --port $(PORT)

lint: venv
	$(BIN)/ruff check service tests bench
	$(BIN)/ruff format --check service tests bench

jstest:
	@if [ -f widget_js/package.json ]; then \
	  cd widget_js && npm ci --silent --no-audit --no-fund && npm run --silent typecheck \
	    && node --test test/; \
	fi

pytest: venv
	$(BIN)/python -m pytest

test: venv
	bash scripts/system-deps.sh
	$(MAKE) lint jstest pytest
