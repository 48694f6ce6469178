"""``showerlearn plot iact``: the gammaness, reconstructed energy and offset histograms of prediction files, counted
against a slow per-event reference, drawn for a tiny trained run, and what the command refuses."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from typer.testing import CliRunner

from showerlearn.cli.main import app
from showerlearn.engine.run_dir import RunDir
from showerlearn.iact.viz.predictions import EDGES, prediction_histograms, predictions_figure
from showerlearn.io.tables import read_columns, write_columns


def _bin(value: float, edges: np.ndarray) -> int | None:
    """The bin of ``value`` as np.histogram counts it (the last bin closed), None outside."""
    if not edges[0] <= value <= edges[-1]:
        return None
    return min(int(np.searchsorted(edges, value, side="right")) - 1, len(edges) - 2)


def _separation(alt1: float, az1: float, alt2: float, az2: float) -> float:
    """Great-circle distance [deg], by the haversine formula (astropy's Vincenty formula is the one tested)."""
    alt1, az1, alt2, az2 = np.deg2rad([alt1, az1, alt2, az2])
    h = np.sin((alt2 - alt1) / 2) ** 2 + np.cos(alt1) * np.cos(alt2) * np.sin((az2 - az1) / 2) ** 2
    return float(np.rad2deg(2 * np.arcsin(np.sqrt(h))))


def test_histograms_count_what_a_loop_over_the_events_counts() -> None:
    rng = np.random.default_rng(2)
    n = 500
    columns = {"gammaness": rng.random(n), "reco_energy": 10 ** rng.uniform(-2.5, 3.5, n),
               "pointing_alt": np.full(n, 70.0), "pointing_az": np.full(n, 180.0),
               "reco_alt": 70 + rng.normal(0, 1.5, n), "reco_az": 180 + rng.normal(0, 4, n)}
    for name in ("gammaness", "reco_energy", "reco_alt"):
        columns[name][rng.integers(0, n, 20)] = np.nan  # events a network could not reconstruct
    columns["true_shower_primary_id"] = rng.choice([0, 101, 402, -1], n)  # -1: an event without truth
    record = prediction_histograms(columns, gammaness_cut=0.6)
    expected = {panel: np.zeros(len(edges) - 1, dtype=int) for panel, edges in EDGES.items()}
    by_truth = {name: np.zeros(len(EDGES["gammaness"]) - 1, dtype=int) for name in ("true gammas", "true background")}
    gamma_like = 0
    for row in range(n):
        g = columns["gammaness"][row]
        if np.isfinite(g) and (b := _bin(g, EDGES["gammaness"])) is not None:
            expected["gammaness"][b] += 1
            primary = columns["true_shower_primary_id"][row]
            if primary >= 0:
                by_truth["true gammas" if primary == 0 else "true background"][b] += 1
        if not (np.isfinite(g) and g > 0.6):
            continue
        gamma_like += 1
        if np.isfinite(energy := columns["reco_energy"][row]) and (b := _bin(energy, EDGES["energy"])) is not None:
            expected["energy"][b] += 1
        if np.isfinite(columns["reco_alt"][row]):
            offset = _separation(70.0, 180.0, columns["reco_alt"][row], columns["reco_az"][row])
            if (b := _bin(offset, EDGES["offset"])) is not None:
                expected["offset"][b] += 1
    assert record["events"] == n and record["gamma_like"] == gamma_like
    for panel in EDGES:
        assert record[panel].tolist() == expected[panel].tolist(), panel
    assert {name: counts.tolist() for name, counts in record["gammaness_true"].items()} == {
        name: counts.tolist() for name, counts in by_truth.items()}
    # real data: no primary known, no split
    assert "gammaness_true" not in prediction_histograms({**columns, "true_shower_primary_id": np.full(n, -1)}, 0.6)
    # a network without a particle head: every event is gamma-like, and only its panels are filled
    energy_only = prediction_histograms({"reco_energy": columns["reco_energy"]}, 0.6)
    assert energy_only["gamma_like"] == n and set(energy_only) == {"events", "gamma_like", "energy"}


def test_the_command_draws_prediction_files_and_refuses_others(tiny_small_example: RunDir, tmp_path: Path) -> None:
    def invoke(*arguments: object) -> tuple[int, str]:
        result = CliRunner().invoke(app, ["plot", "iact", *map(str, arguments)], terminal_width=200)
        return result.exit_code, " ".join(result.output.replace("│", " ").split())

    own = tiny_small_example.predictions_file
    # a simulated test split: the gammaness of its true gammas and background drawn beside the whole
    figure = predictions_figure({"run": prediction_histograms(read_columns(own), 0.5)}, 0.5)
    assert {"run", "run: true gammas", "run: true background"} <= set(figure.axes[0].get_legend_handles_labels()[1])
    energy_only = write_columns(tmp_path / "energy.predictions.h5", {"reco_energy": np.array([0.1, 1.0, 10.0])})
    code, output = invoke(own, energy_only, "-o", tmp_path / "quick.png", "--gammaness-cut", "0.7")
    assert code == 0, output
    assert (tmp_path / "quick.png").stat().st_size > 10_000
    assert "gamma_physnet_da_small" in output and "energy.predictions 3 3 100.0%" in output  # the run's name; every event counts
    code, output = invoke(own, "-o", tmp_path / "quick.png")
    assert code != 0 and "exists; pass --overwrite" in output
    calorimeter_like = write_columns(tmp_path / "hits.predictions.h5", {"n_hits": np.array([3, 4])})
    for arguments, message in (
        ([calorimeter_like], "hits.predictions.h5: not an IACT prediction file"),
        ([tmp_path / "none.h5"], "none.h5: no such file"),
        ([own, own, "--label", "one"], "--label given 1 times for 2 files"),
    ):
        code, output = invoke(*arguments, "-o", tmp_path / "refused.pdf")
        assert code != 0 and message.replace(" ", "") in output.replace(" ", ""), output  # paths wrap in the message
    assert not (tmp_path / "refused.pdf").exists()
