# Two entry points: `make demo` (the main job on data the project simulates) and `make test`.
# For development: `make test-fast` (the inner loop) and `make acceptance` (issue 7's minutes-long check).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# The CPU build of torch on the developers' machines; GPU users may set TORCH_SPEC="torch" (any 2.x).
TORCH_SPEC ?= torch==2.13.0
STAMP := $(VENV)/.installed
DEMO_DIR ?= demo_runs

.PHONY: install demo test test-fast acceptance clean

$(STAMP): pyproject.toml Makefile
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	# torch in the same command as everything else, so nothing later swaps it for another build;
	# --prefer-binary: a newer release without a wheel for this Python (pythia8mc 8.318 on 3.11)
	# would otherwise be compiled from source for many minutes
	$(BIN)/python -m pip install --quiet --prefer-binary "$(TORCH_SPEC)" -e ".[dev,irf,lst,simtel,calorimeter,collider,export]"
	# GammaLearn's operator, only to cross-check and benchmark against; its declared torchvision
	# dependency would pull another torch, and it needs none of it at import
	$(BIN)/python -m pip install --quiet --no-deps "indexedconv==1.3.2"
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/python examples/demo.py --output $(DEMO_DIR)

# one worker per core; each test runs on one thread (tests/conftest.py)
TEST_WORKERS ?= auto

test: $(STAMP)
	$(BIN)/python -m pytest -q -n $(TEST_WORKERS)

# every test but the end-to-end trainings and worker-process checks (marked `slow`)
test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -n $(TEST_WORKERS) -m "not slow"

# trains the small example as `make demo` does and measures its explanation (minutes); `make test` checks
# the committed result, so commit benchmarks/results/explain_acceptance/ afterwards
acceptance: $(STAMP)
	$(BIN)/python benchmarks/explain_acceptance.py
	$(BIN)/python -m pytest -q tests/test_explain_acceptance.py

clean:
	rm -rf $(VENV) $(DEMO_DIR) runs
