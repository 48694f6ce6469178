"""Seconds-long trainings of the IACT examples, for the tests that need a trained run of them (the chain
works, the files and columns are right) rather than a good one (that is `make acceptance`'s)."""

from __future__ import annotations

from pathlib import Path

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
#: no evaluation figures: matplotlib's layout is most of a tiny run's time; the tests that look at a run's
#: figures set PNG_FIGURES instead (the evaluators' figures themselves are test_evaluation's and
#: test_evaluation_figures')
NO_FIGURES = "evaluation.params.figure_formats=[]"
#: the evaluators' figures, as PNG only (the PDF copies are test_evaluation's)
PNG_FIGURES = ["evaluation.params.figure_formats=[png]"]
TINY_DATA = ["data.params.simulate.events=600", "data.params.simulate.n_jobs=1", "data.params.batch_size=32"]
#: what every tiny run sets, of the network or of the baseline
TINY_RUN = [
    "trainer.threads=1",  # the examples' 2 would undo the single thread of conftest.py for the whole session
    "evaluation.params.n_bootstrap=10",
    NO_FIGURES,
]
TINY = [*TINY_DATA, "model.params.depth=8", "model.params.widths=[4,8,8]", "trainer.max_epochs=1", *TINY_RUN]
