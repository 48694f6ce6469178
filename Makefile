# Two entry points: `make demo` (the main job on data the project simulates) and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# The CPU build of torch on the developers' machines; GPU users may set TORCH_SPEC="torch" (any 2.x).
TORCH_SPEC ?= torch==2.13.0
STAMP := $(VENV)/.installed
DEMO_DIR ?= demo_runs

.PHONY: install demo test clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	# torch in the same command as everything else, so nothing later swaps it for another build
	$(BIN)/python -m pip install --quiet "$(TORCH_SPEC)" -e ".[dev,lst,simtel,calorimeter,collider]"
	# GammaLearn's operator, only to cross-check and benchmark against; its declared torchvision
	# dependency would pull another torch, and it needs none of it at import
	$(BIN)/python -m pip install --quiet --no-deps "indexedconv==1.3.2"
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/python examples/demo.py --output $(DEMO_DIR)

test: $(STAMP)
	$(BIN)/python -m pytest -q

clean:
	rm -rf $(VENV) $(DEMO_DIR) runs
