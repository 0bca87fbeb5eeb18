# The two commands: `make demo` and `make test`. Both create .venv on first use.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
RUNS ?= runs

.PHONY: demo test lint mutants bench docs clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[all]"
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed
	$(PY) -m pip install --quiet -e ".[test]"
	touch $@

demo: $(VENV)/.installed
	$(VENV)/bin/chainrule train --out $(RUNS)
	$(VENV)/bin/chainrule demo higham --out $(RUNS)/demo-higham

# two pytest workers on two cores: one BLAS/OpenMP thread each, so they do not oversubscribe
test: $(VENV)/.installed-test
	$(VENV)/bin/ruff check src tests bench tools
	OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1 $(PY) -m pytest -n 2

lint: $(VENV)/.installed-test
	$(VENV)/bin/ruff check src tests bench tools

# planted bugs, one at a time, on a copy of src/: each must make a test fail
# (one module: make mutants ARGS="--module sklearn")
mutants: $(VENV)/.installed-test
	$(PY) tools/mutation_check.py $(ARGS)

bench: $(VENV)/.installed-test
	$(PY) bench/run.py

# the documentation site, into site/ (a warning, a broken link or a missing reference fails)
docs: $(VENV)/.installed-test
	$(PY) -m mkdocs build --strict

clean:
	rm -rf $(VENV) runs build site *.egg-info src/*.egg-info .pytest_cache .ruff_cache
