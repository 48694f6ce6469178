"""The calorimeter evaluator's numbers: the hard regime against a naive loop over gamma pairs, the report's
scalars against the metric functions (themselves checked by hand in test_calorimeter_evaluation.py), the hard
regime's share of them by hand, and the family's board style for every curve and scalar it writes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from showerlearn.calorimeter.evaluation import (
    ReportSettings,
    adjusted_rand_index,
    cluster_table,
    clustering_report,
    fake_clusters,
    gamma_matches,
    hard_gammas,
    in_photopeak,
    reconstruction_efficiency,
)
from showerlearn.calorimeter.evaluation.evaluator import evaluate_calorimeter
from showerlearn.calorimeter.family import FAMILY
from showerlearn.calorimeter.geometry import unit_vectors


def _naive_hard(gammas: dict, separation: float, energy: float, multiplicity: int) -> list[bool]:
    hard = []
    for i in range(len(gammas["event"])):
        same = [j for j in range(len(gammas["event"])) if gammas["event"][j] == gammas["event"][i]]
        a = unit_vectors(np.array([gammas["theta"][i]]), np.array([gammas["phi"][i]]))[0]
        close = any(np.degrees(np.arccos(np.clip(a @ unit_vectors(np.array([gammas["theta"][j]]), np.array([gammas["phi"][j]]))[0], -1, 1)))
                    < np.degrees(separation) for j in same if j != i)
        hard.append(close or (len(same) >= multiplicity and gammas["energy_rest"][i] > energy))
    return hard


@pytest.mark.parametrize("seed", range(5))
def test_hard_gammas_match_a_naive_loop(seed: int) -> None:
    rng = np.random.default_rng(seed)
    counts = rng.integers(1, 6, size=30)
    gammas = {"event": np.repeat(np.arange(30), counts), "theta": rng.uniform(0.3, 2.5, counts.sum()),
              "phi": rng.uniform(-np.pi, np.pi, counts.sum()), "energy_rest": rng.uniform(0.3, 10, counts.sum())}
    assert hard_gammas(gammas, 0.5, 5.0, 5).tolist() == _naive_hard(gammas, 0.5, 5.0, 5)


# event 0: gammas 0 and 1 0.1 rad apart (hard), each with one hit; clustered together. Event 1: a lone 3 MeV
# gamma with two hits split into two clusters; a background hit alone
HITS = {
    "event": np.array([0, 0, 1, 1, 1]), "energy": np.array([1.0, 2.0, 2.0, 1.0, 0.4]),
    "theta": np.array([1.0, 1.1, 2.0, 2.3, 0.5]), "phi": np.zeros(5), "time": np.zeros(5),
    "true_gamma": np.array([0, 1, 0, 0, -1]), "label": np.array([0, 0, 0, 1, 2]),
}
GAMMAS = {"event": np.array([0, 0, 1]), "index": np.array([0, 1, 0]), "energy_rest": np.array([1.0, 2.0, 3.0]),
          "energy_lab": np.array([1.0, 2.0, 3.0]), "theta": np.array([1.0, 1.1, 2.0]), "phi": np.zeros(3)}


def test_report_scalars_are_the_metric_functions_overall_and_in_the_hard_regime() -> None:
    report = clustering_report(HITS, GAMMAS, np.zeros(2), ReportSettings(energy_bins=(0.5, 1.5, 2.5, 3.5)))
    scalars = report["scalars"]
    clusters = cluster_table(HITS, HITS["label"])
    matches = gamma_matches(GAMMAS, clusters, HITS)
    assert scalars["photopeak_efficiency"] == pytest.approx(in_photopeak(GAMMAS, matches).mean())
    assert scalars["reconstruction_efficiency"] == pytest.approx(reconstruction_efficiency(matches))
    fakes = fake_clusters(matches, clusters, 2)
    assert scalars["fake_cluster_rate"] == pytest.approx(fakes["fraction"])
    assert scalars["fake_clusters_per_event"] == pytest.approx(fakes["per_event"])
    assert scalars["adjusted_rand_index"] == pytest.approx(adjusted_rand_index(HITS, HITS["label"]))
    # by hand: hard gammas are event 0's two; the merged 3 MeV cluster is gamma 1's (2 MeV of it), gamma 0
    # has none; event 0's one cluster is no fake
    assert scalars["n_gammas_hard"] == 2 and scalars["photopeak_efficiency_hard"] == 0.0
    assert scalars["reconstruction_efficiency_hard"] == 0.0 and scalars["fake_cluster_rate_hard"] == 0.0
    # event 1: the 1 MeV split-off and the background cluster are fakes among its three
    assert fakes["count"] == 2 and scalars["fake_cluster_rate"] == pytest.approx(2 / 4)
    assert report["curves"]["clusters_per_event_vs_gammas_with_hits"]["value"][1:3] == [3.0, 1.0]
    spectra = report["spectra"]
    assert sum(spectra["truth_lab"]) == 3 and sum(spectra["lab"]) == 4


def test_evaluator_writes_its_figures_and_the_family_styles_them(tmp_path: Path) -> None:
    tables = {"hits": {**{k: v for k, v in HITS.items() if k != "event"}, "event_index": HITS["event"]},
              "gammas": {**{k: v for k, v in GAMMAS.items() if k != "event"}, "event_index": GAMMAS["event"]}}
    metrics = evaluate_calorimeter({"beta": np.zeros(2)}, tmp_path, tables, figure_formats=["png"])
    assert {"energy_spectra.png", "photopeak_efficiency_vs_gamma_energy.png"} <= set(metrics["figures"])
    assert all((tmp_path / name).is_file() for name in metrics["figures"])
    style = FAMILY.board_style()
    assert {name.split("_vs_")[0] for name in metrics["curves"]} <= set(style.metric_style)
    assert {name.split("_vs_")[1] for name in metrics["curves"]} <= set(style.axis_labels)
    assert set(style.scalar_direction) <= set(metrics["scalars"])
    with pytest.raises(KeyError, match="hits and gammas"):
        evaluate_calorimeter({"beta": np.zeros(2)}, tmp_path, {})


def test_efficiency_curves_carry_the_asymmetric_binomial_interval() -> None:
    report = clustering_report(HITS, GAMMAS, np.zeros(2), ReportSettings(energy_bins=(0.5, 1.5, 2.5, 3.5)))
    curve = report["curves"]["reconstruction_efficiency_vs_gamma_energy"]
    # each bin holds one gamma, none reconstructed: 0 of 1 is [0, 0.5] at one sigma (Wilson), not 0 +- 0
    assert curve["value"] == [0.0, 0.0, 0.0] and curve["n_events"] == [1, 1, 1]
    assert curve["ci_low"] == [0.0, 0.0, 0.0] and curve["ci_high"] == pytest.approx([0.5, 0.5, 0.5])
    assert curve["band"] == "68.3 % Wilson score interval"
