"""Ship a benchmark's network with the package: its weights and config, and where they came from.

    python benchmarks/package_pretrained.py NETWORK_RUN BASELINE_RUN --data TRAINING_FILE \\
        --output src/showerlearn/iact/pretrained/gamma_physnet_da_cpu_benchmark

NETWORK_RUN and BASELINE_RUN are the two runs of ``benchmarks/physics_vs_baseline.py`` (``OUTPUT/runs/...``),
TRAINING_FILE the simulated events they were trained on (the cache file the runs read). Writes
``OUTPUT.ckpt`` (weights and config, no optimizer state) and ``OUTPUT.json``: the command and commit of the
training (its ``environment.json``), the SHA-256 of the training data, the training time and both runs'
test-set metrics. ``PretrainedNetwork(OUTPUT.ckpt).evaluate(overrides)`` runs it on new events
(:mod:`showerlearn.engine.pretrained`).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from showerlearn.engine.predict import file_sha256
from showerlearn.engine.pretrained import pack
from showerlearn.engine.run_dir import RunDir

#: the test-set scalars the provenance keeps, of the network and of the baseline
SCALARS = ("auc", "angular_resolution_deg", "energy_resolution", "energy_bias", "n_gamma", "n_proton")


def provenance(network: RunDir, baseline: RunDir, data: Path) -> dict[str, Any]:
    environment = json.loads(network.environment_file.read_text())
    return {
        "description": "gamma-PhysNet-DA, reduced CPU configuration of benchmarks/physics_vs_baseline.py --preset cpu",
        "command": "python " + " ".join(environment["command"]),
        "commit": environment["git"],
        "started": environment["started"],
        "packages": environment["packages"],
        "training_data": {"file": data.name, "sha256": file_sha256(data), "bytes": data.stat().st_size},
        "train_seconds": network.status().get("train_seconds"),
        "test_metrics": {
            "network": _scalars(network),
            "hillas_rf": _scalars(baseline),
        },
    }


def _scalars(run: RunDir) -> dict[str, float]:
    scalars = run.metrics()["scalars"]
    return {key: scalars[key] for key in SCALARS if key in scalars}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("network", type=Path, help="The benchmark's network run.")
    parser.add_argument("baseline", type=Path, help="The benchmark's Hillas + RF run on the same events.")
    parser.add_argument("--data", type=Path, required=True, help="The simulated file both were trained on.")
    parser.add_argument("--output", type=Path, required=True, help="Path of the shipped files, without suffix.")
    args = parser.parse_args()
    network, baseline = RunDir.existing(args.network), RunDir.existing(args.baseline)
    shipped = pack(network, args.output, provenance(network, baseline, args.data))
    size = shipped.checkpoint.stat().st_size / 2**20
    print(f"written: {shipped.checkpoint} ({size:.1f} MiB) and {shipped.checkpoint.with_suffix('.json')}")


if __name__ == "__main__":
    main()
