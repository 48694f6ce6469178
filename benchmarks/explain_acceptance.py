"""Issue 7's acceptance on the shipped small example, measured once and committed (`make acceptance`).

Trains ``examples/gamma_physnet_da_small.yaml`` as `make demo` trains it (minutes on 2 cores, which is
why it is not part of `make test`), simulates a held-out file with true p.e. images (seed 1000, another
seed than the training set) and writes ``acceptance.json`` and ``acceptance.md``:

* the test AUC of the run, from its own ``predictions.h5`` (the explanation is only worth checking on a
  network that separates the classes);
* the median over well-reconstructed gammas (gammaness >= 0.5, >= 50 true p.e.) of the class score's
  Grad-CAM mass on the true signal region, last backbone stage, measured against the empty camera, over
  the first 600 held-out events, with its chance level (the region's share of the camera);
* whether the run was trained as shipped (its config is the example's, paths aside) and the fingerprint
  of the example's YAML files at the time.

``tests/test_explain_acceptance.py`` (part of `make test`) checks the committed numbers against the
acceptance criteria, checks that the example has not changed since they were measured, and runs this
script on a seconds-long training to keep its pipeline working.

    python benchmarks/explain_acceptance.py                     # train, measure, write the result
    python benchmarks/explain_acceptance.py --run RUN_DIRECTORY # measure an already trained run
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from sklearn.metrics import roc_auc_score

from showerlearn.cli.common import quiet_libraries
from showerlearn.config import ExperimentConfig, load_config
from showerlearn.config.loader import read_yaml
from showerlearn.engine.runner import train
from showerlearn.iact.explain.signal import grad_cam_signal_fraction
from showerlearn.iact.simulation import IACTSimulationConfig, simulate_iact
from showerlearn.io.atomic import write_json_atomic, write_text_atomic
from showerlearn.io.tables import read_columns

ROOT = Path(__file__).resolve().parents[1]
SMALL_EXAMPLE = ROOT / "examples" / "gamma_physnet_da_small.yaml"
RESULTS = ROOT / "benchmarks" / "results" / "explain_acceptance"
HELD_OUT_SEED = 1000
GAMMA = 0


def example_fingerprint(path: Path = SMALL_EXAMPLE) -> str:
    """SHA-256 of the example's keys, ``extends`` chain merged: changes when any of its files changes
    what it trains, so a committed result can tell that it is out of date."""
    return hashlib.sha256(json.dumps(read_yaml(path), sort_keys=True).encode()).hexdigest()


def path_overrides(output_dir: Path, cache_dir: Path) -> list[str]:
    """The only overrides a run "as shipped" has: where it writes its runs and its simulated data."""
    return [f"output_dir={json.dumps(str(output_dir))}", f"data.params.cache_dir={json.dumps(str(cache_dir))}"]


def _without_paths(config: ExperimentConfig) -> dict:
    """The resolved config without the keys :func:`path_overrides` sets."""
    data = config.model_dump(mode="json")
    data.pop("output_dir")
    data["data"]["params"].pop("cache_dir", None)
    return data


def trained_as_shipped(run: Path) -> bool:
    """Whether ``run`` was trained from the small example as shipped: same resolved config, paths aside."""
    return _without_paths(load_config(run / "config.yaml")) == _without_paths(load_config(SMALL_EXAMPLE))


def measure(run: Path, held_out: Path, n_events: int) -> dict:
    """The acceptance numbers of one trained run on the held-out file (see the module docstring)."""
    predictions = read_columns(run / "predictions.h5")
    auc = roc_auc_score(predictions["true_shower_primary_id"] == GAMMA, predictions["gammaness"])
    result = grad_cam_signal_fraction(run, held_out, "particle:0", max_events=n_events, reference="empty")
    return {
        "test_auc": float(auc),
        "held_out_events": n_events,
        "well_reconstructed_gammas": int(result.well_reconstructed.sum()),
        "median_signal_fraction": result.median,
        "median_signal_area": result.median_area,
    }


def report(result: dict) -> str:
    """``acceptance.md``: the numbers of ``acceptance.json`` for people."""
    shipped = "as shipped" if result["trained_as_shipped"] else "NOT as shipped (overrides: see command)"
    return "\n".join([
        "# Issue 7 acceptance on the shipped small example",
        "",
        f"Command: `{result['command']}`",
        "",
        f"Run `{result['run']}`, trained {shipped}; example fingerprint `{result['example_sha256'][:12]}`.",
        "",
        "| test AUC | held-out events | well-reconstructed gammas | class-score Grad-CAM mass on the signal "
        "(empty-camera reference, median) | chance level |",
        "|---|---|---|---|---|",
        f"| {result['test_auc']:.3f} | {result['held_out_events']} | {result['well_reconstructed_gammas']} | "
        f"{result['median_signal_fraction']:.3f} | {result['median_signal_area']:.3f} |",
        "",
        "Criteria (tests/test_explain_acceptance.py): test AUC > 0.65; mass on the signal > 0.5 and > 5x chance "
        "over >= 50 well-reconstructed gammas.",
        "",
    ])


def main(argv: Sequence[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", type=Path, help="Measure this trained run instead of training the example.")
    parser.add_argument("--events", type=int, default=600, help="Held-out events the map is measured on.")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="Override of the example when training (the result then says: not as shipped).")
    parser.add_argument("--work-dir", type=Path, default=Path("/tmp/showerlearn_explain_acceptance"))
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    quiet_libraries()
    run = args.run
    if run is None:
        paths = path_overrides(args.work_dir / "runs", args.work_dir / "cache")
        run = train(load_config(SMALL_EXAMPLE, [*paths, *args.overrides]), progress=False).path
    held_out = args.work_dir / f"held_out_{args.events}.dl1.h5"
    if not held_out.is_file():
        config = IACTSimulationConfig(n_events=4 * args.events, gamma_source="diffuse")
        simulate_iact(config, held_out, seed=HELD_OUT_SEED)
    result = {
        "command": " ".join(["python benchmarks/explain_acceptance.py", *(argv if argv is not None else sys.argv[1:])]),
        "run": run.name,
        "trained_as_shipped": trained_as_shipped(run),
        "example_sha256": example_fingerprint(),
        **measure(run, held_out, args.events),
    }
    args.output.mkdir(parents=True, exist_ok=True)
    write_json_atomic(args.output / "acceptance.json", result)
    write_text_atomic(args.output / "acceptance.md", report(result))
    print(report(result))
    return result


if __name__ == "__main__":
    main()
