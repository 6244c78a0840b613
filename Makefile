# Two commands are the contract (see README): `make repro` and `make test`.
# Both create .venv from requirements.txt when it is missing or out of date.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
KERNEL := lstmgan
export PATH := $(abspath $(BIN)):$(PATH)
export MPLBACKEND := Agg

.PHONY: help setup repro test lab bench plots clean-venv

help:
	@echo "make repro   set up .venv and rebuild every result with dvc repro (embedded data, CPU)"
	@echo "make test    set up .venv and run the test suite"
	@echo "make lab     open the notebooks in JupyterLab with the project's kernel"
	@echo "make bench   run the benchmarks (JSON on stdout)"
	@echo "make plots   dvc plots show -> dvc_plots/index.html"
	@echo "make study-ablation / study-detect   the second pipelines (after make repro; up to 90 min each)"

setup: $(STAMP)

$(STAMP): requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	$(BIN)/python -m ipykernel install --sys-prefix --name $(KERNEL) --display-name "lstmgan (.venv)" >/dev/null
	touch $(STAMP)

repro: $(STAMP)
	$(BIN)/dvc repro
	@echo "Done: reports/REPORT.md; metrics: $(BIN)/dvc metrics show; curves: make plots"

test: $(STAMP)
	$(BIN)/python -m pytest -q

lab: $(STAMP)
	$(BIN)/jupyter lab notebooks/

bench: $(STAMP)
	@for b in bench/*.py; do echo "# $$b"; $(BIN)/python $$b || exit 1; done

# The studies' pipelines are kept as studies/<name>/pipeline.yaml, so that a plain `dvc status`
# speaks of the main pipeline only; running a study installs it as studies/<name>/dvc.yaml (left
# untracked: commit the study's dvc.lock and results, not this copy; DVC refuses git-ignored ones).
study-%: $(STAMP)
	test -f studies/$*/pipeline.yaml
	cp studies/$*/pipeline.yaml studies/$*/dvc.yaml
	PYTHONPATH=$(CURDIR) $(BIN)/python studies/run_cells.py studies/$*/dvc.yaml --jobs 2

plots: $(STAMP)
	$(BIN)/dvc plots show

clean-venv:
	rm -rf $(VENV)
