"""Issue 22: the networks a clustering benchmark trained on each seed's simulation, averaged as ``showerlearn
ensemble`` averages calorimeter networks (the mean same-cluster probability of every hit pair, decoded with the
method's cut), on each seed's test events, against the seed's own network alone.

Reads a ``calorimeter_clustering.py`` output folder (its ``results.json`` and the runs in ``runs/``). The seeds'
simulations are independent draws of the same settings, so every seed's network is a fair member on every seed's
test events: none saw them (a seed's own network trained on the other events of the same simulation). Each member
reads the test events with the standardisation its checkpoint carries. The seeds' ensembles share their members:
their spread is that of the test events, not of independent ensembles. Compares, seed by seed, the photopeak
efficiency, the fake-cluster rate, the hard regime and the gap to the oracle against the windows of the same seed,
as ``calorimeter_test_time_views.py`` does. Writes ``ensemble_of_seeds.md`` and ``.json`` into the folder
(``ensemble_of_members`` with ``--members``: other runs of the method, such as the same networks trained longer).

    python benchmarks/calorimeter_ensemble.py --output benchmarks/results/calorimeter_clustering_400k_head_angles
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import torch

from calorimeter_test_time_views import _check_method, _compare, markdown  # benchmarks/ is not a package
from showerlearn.cli.common import quiet_libraries
from showerlearn.config import load_config
from showerlearn.engine.run_dir import RunDir
from showerlearn.engine.runner import build_datamodule, network_split_outputs
from showerlearn.engine.safe_load import load_checkpoint
from showerlearn.io.atomic import write_json_atomic, write_text_atomic
from showerlearn.io.tables import as_tables, read_tables


#: the data settings a member must share with the test run: the test events are read with the test run's data
#: settings, standardised as the member's checkpoint says
SHARED_SETTINGS = ("features", "preclustering")


def averaged_on(test_run: Path, members: Sequence[Path]) -> dict[str, Any]:
    """The test split of ``test_run`` decoded from the mean outputs of the ``members``' networks (each built from
    its own config, reading the events with its own standardisation), as tables."""
    config = load_config(test_run / "config.yaml")
    meta: dict[str, Any] = {}
    decoder = build_datamodule(config, progress=False)

    def outputs() -> Iterator[dict[str, Any]]:
        for member in members:
            run = RunDir.existing(member)
            member_config = load_config(run.config_file)
            for key in SHARED_SETTINGS:
                if (mine := member_config.data.params.get(key)) != (theirs := config.data.params.get(key)):
                    raise SystemExit(f"{member}: data.params.{key} is {mine!r}, {test_run}'s {theirs!r}: not a member")
            datamodule = build_datamodule(config, progress=False)
            datamodule.restore_from_checkpoint(load_checkpoint(run.best_checkpoint()))
            values, split_meta = network_split_outputs(member_config, datamodule, run, "test")
            meta.update(split_meta)  # the same events, whichever member read them
            yield values

    averaged = decoder.average_network_outputs(outputs())
    return as_tables(decoder.decode_predictions(averaged, meta))


def analyse(folder: Path, method: str, members: Sequence[Path] = ()) -> dict[str, Any]:
    """``members``: trained runs of the method to average instead of the folder's own seeds' (networks trained
    longer, say; none may have trained on a seed's test events)."""
    _check_method(folder, method)
    results = json.loads((folder / "results.json").read_text())
    seeds = results["settings"]["seeds"]
    members = list(members) or [folder / "runs" / f"seed{seed}" / method for seed in seeds]
    compared, seconds = [], []
    for seed in seeds:
        start = time.perf_counter()
        tables = averaged_on(folder / "runs" / f"seed{seed}" / method, members)
        seconds.append(time.perf_counter() - start)
        oracle = read_tables(RunDir.existing(folder / "runs" / f"seed{seed}" / "oracle").predictions_file)
        if list(tables["predictions"]["event_id"]) != list(oracle["predictions"]["event_id"]):
            raise RuntimeError(f"seed {seed}: the ensemble predicted other events than the oracle's test split")
        compared.append(_compare(seed, results["per_seed"][str(seed)], method, tables, oracle))
        print(f"seed {seed}: {compared[-1]['scalars']['with']['photopeak_efficiency']:.4f} in the photopeak "
              f"({seconds[-1]:.0f} s)", flush=True)
    return {"method": method, "views": 0, "members": [str(m) for m in members], "seeds": seeds, "per_seed": compared,
            "seconds": seconds}


def wording(summary: dict[str, Any], given: bool) -> dict[str, str]:
    """The words of the tables (:func:`calorimeter_test_time_views.markdown`); ``given``: members named by ``--members``."""
    n = len(summary["members"])
    return {"title": f"{summary['method']}: {'the given' if given else 'the'} {n} networks averaged on each seed's test events",
            "row": f"{n} network{'s' if n != 1 else ''} averaged", "with": "for the average",
            "without": "for the seed's network alone",
            "footnote": "The prediction time is that of the ensemble: every member predicting the seed's test split."}


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--output", type=Path, required=True, help="a calorimeter_clustering.py output folder")
    parser.add_argument("--method", default="transformer", help="the learned method to average (default transformer)")
    parser.add_argument("--members", type=Path, nargs="*", default=[],
                        help="run folders of the method to average (default: the folder's own seeds' runs)")
    parser.add_argument("--threads", type=int, default=2, help="torch threads (default 2)")
    args = parser.parse_args(argv)
    quiet_libraries()
    torch.set_num_threads(args.threads)
    summary = analyse(args.output, args.method, args.members)
    command = (f"python benchmarks/calorimeter_ensemble.py --output {args.output}"
               + (f" --method {args.method}" if args.method != "transformer" else "")
               + (f" --members {' '.join(map(str, args.members))}" if args.members else ""))
    stem = args.output / ("ensemble_of_seeds" if not args.members else "ensemble_of_members")
    write_json_atomic(stem.with_suffix(".json"), summary)
    write_text_atomic(stem.with_suffix(".md"), markdown(summary, command, wording(summary, given=bool(args.members))))
    print(stem.with_suffix(".md").read_text())


if __name__ == "__main__":
    main()
