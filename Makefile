# Two commands set up a fresh clone: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8501

.PHONY: run test serve bench clean

$(BIN)/.installed: requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --upgrade pip
	$(BIN)/pip install -r requirements.txt
	touch $@

$(BIN)/.installed-dev: $(BIN)/.installed requirements-dev.txt
	$(BIN)/pip install -r requirements-dev.txt
	touch $@

run: $(BIN)/.installed
	$(BIN)/streamlit run app.py --server.port $(PORT)

# Hosting for a team: serve.py puts the upload gate (login, size, rate) in front of the app.
serve: $(BIN)/.installed
	$(BIN)/streamlit run serve.py --server.address 0.0.0.0 --server.port $(PORT) --server.fileWatcherType none

test: $(BIN)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	$(BIN)/python -m pytest -q

# Every benchmark at short sizes; writes benchmarks/RESULTS.md (ours / reference, one run).
bench: $(BIN)/.installed-dev
	$(BIN)/python benchmarks/run_all.py

clean:
	rm -rf $(VENV) .pytest_cache
