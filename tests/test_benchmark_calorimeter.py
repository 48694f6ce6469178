"""The calorimeter benchmark's reference window at a method's fake-cluster rate (benchmarks/calorimeter_clustering.py)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import pytest
import yaml

from showerlearn.config.loader import dump_config
from showerlearn.engine.run_dir import RunDir

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from calorimeter_clustering import (  # noqa: E402  (benchmarks/ is not a package)
    COLUMNS,
    MATCHED,
    _acceptance,
    _check_settings,
    _method_overrides,
    _run,
    _run_config,
    summarise,
    window_at_fake_rate,
)


def _window(peak: float, fake: float, hard: float) -> dict[str, float]:
    return {"photopeak_efficiency": peak, "fake_cluster_rate": fake, "photopeak_efficiency_hard": hard}


# 0.1 rad is beaten by 0.2 rad in both (more photopeak, fewer fakes); from 0.2 rad on, wider windows trade
# photopeak efficiency for fewer fake clusters
SCAN = {"0.1": _window(0.30, 0.40, 0.20), "0.2": _window(0.50, 0.20, 0.40), "0.3": _window(0.46, 0.12, 0.36),
        "0.4": _window(0.40, 0.10, 0.30)}


def test_the_window_at_a_fake_rate_interpolates_the_trade_off_curve() -> None:
    window = window_at_fake_rate(SCAN, 0.16)  # halfway between 0.2 and 0.3 rad
    assert window == pytest.approx({"half_angle": 0.25, "photopeak_efficiency": 0.48, "photopeak_efficiency_hard": 0.38})
    assert window_at_fake_rate(SCAN, 0.10)["half_angle"] == pytest.approx(0.4)  # an end of the curve itself


def test_below_the_curve_no_window_above_it_the_best_and_dominated_windows_never_count() -> None:
    assert window_at_fake_rate(SCAN, 0.05) is None  # fewer fake clusters than any window
    # 0.1 rad has 0.30 fake clusters and more, but 0.2 rad beats it in both: the reference is 0.2 rad
    assert window_at_fake_rate(SCAN, 0.30) == pytest.approx({"half_angle": 0.2, "photopeak_efficiency": 0.50,
                                                              "photopeak_efficiency_hard": 0.40})


def _seed(transformer_peak: float, transformer_fake: float) -> dict:
    scalars = {"r3b_rectangle": (0.50, 0.16, 0.34), "r3b_cone_040": (0.40, 0.10, 0.30), "oracle": (0.70, 0.0, 0.60),
               "transformer": (transformer_peak, transformer_fake, 0.48), "condensation": (0.52, 0.01, 0.45)}
    reports = {m: {"scalars": {c: 0.0 for c in COLUMNS} | _window(*v)} for m, v in scalars.items()}
    scan = {a: {c: 0.0 for c in COLUMNS} | w for a, w in SCAN.items()}
    return {"reports": reports, "scan": scan, "logs": {}, "seconds": {}, "gaps": {m: {"lost": 0.1} for m in scalars if m != "oracle"}}


def test_gap_closures_per_seed_against_the_named_windows_and_the_verdicts() -> None:
    summary = summarise({1: _seed(0.58, 0.16), 2: _seed(0.62, 0.12)})
    gains = summary["gains"]["transformer"]
    # seed 1: window at 0.16 has 0.48 (see above): (0.58 - 0.48) / (0.70 - 0.48); seed 2: 0.46 at 0.12
    assert gains[MATCHED]["gap_closed"] == pytest.approx([0.10 / 0.22, 0.16 / 0.24])
    assert gains["r3b_rectangle"]["gap_closed"] == pytest.approx([0.08 / 0.20, 0.12 / 0.20])
    assert summary["matched_windows"]["condensation"]["missing"] == [1, 2]  # 0.01 fake clusters: no window
    rows, verdicts = _acceptance(summary)
    assert any("none in seed 1, 2" in row for row in rows)
    assert verdicts[0].startswith("- transformer, pairwise similarity: not met against R3B window, rectangle")
    assert "no reference: cone window at its fake-cluster rate (none in seed 1, 2" in verdicts[1]


def test_a_completed_run_is_reused_only_with_the_same_settings(tmp_path: Path) -> None:
    def args(events: int = 500, epochs: int = 3, **overrides: list[str]) -> argparse.Namespace:
        return argparse.Namespace(events=events, epochs=epochs, output=tmp_path, method_overrides=overrides)

    for method in ("transformer", "oracle"):  # the configs the benchmark stores for its runs
        (tmp_path / method).mkdir()
        (tmp_path / method / "config.yaml").write_text(dump_config(_run_config(method, 1, args())))
    _check_settings(tmp_path / "transformer", "transformer", 1, args())
    _check_settings(tmp_path / "oracle", "oracle", 1, args(epochs=12))  # fitted: the epochs change nothing
    with pytest.raises(RuntimeError, match=r"n_events: 500 there, 600 here.*remove it or choose another --output"):
        _check_settings(tmp_path / "transformer", "transformer", 1, args(events=600))
    with pytest.raises(RuntimeError, match=r"max_epochs: 3 there, 12 here"):
        _check_settings(tmp_path / "transformer", "transformer", 1, args(epochs=12))
    with pytest.raises(RuntimeError, match=r"simulate.seed: 1001 there, 1002 here; .*; seed: 1 there, 2 here"):
        _check_settings(tmp_path / "transformer", "transformer", 2, args())
    # a --set value, or an example changed since the run: the stored run has the example's pair bias
    with pytest.raises(RuntimeError, match=r"model.params.pair_bias: True there, False here"):
        _check_settings(tmp_path / "transformer", "transformer", 1, args(transformer=["model.params.pair_bias=false"]))
    moved = argparse.Namespace(events=500, epochs=3, output=tmp_path / "moved", method_overrides={})
    _check_settings(tmp_path / "transformer", "transformer", 1, moved)  # another cache folder changes no result
    # a run made before a setting existed holds no value for it: at its default, no difference
    stored = yaml.safe_load((tmp_path / "oracle" / "config.yaml").read_text())
    del stored["data"]["params"]["test_time_views"]
    (tmp_path / "oracle" / "config.yaml").write_text(yaml.safe_dump(stored))
    _check_settings(tmp_path / "oracle", "oracle", 1, args())


def test_set_values_go_to_one_learned_method_and_a_wrong_one_is_refused() -> None:
    assert _method_overrides(["transformer:model.params.pair_bias=true", "transformer:model.params.dim=32",
                              "two_stage:optimizer.params.lr=0.002"]) == {
        "transformer": ["model.params.pair_bias=true", "model.params.dim=32"], "two_stage": ["optimizer.params.lr=0.002"]}
    for wrong in ("oracle:model.params.dim=2", "transformers:model.params.dim=2", "transformer:seed", "transformer:=3"):
        with pytest.raises(SystemExit, match="METHOD:KEY=VALUE"):
            _method_overrides([wrong])
    for own in ("transformer:seed=4", "transformer:trainer.max_epochs=2", "transformer:data.params.simulate.events=9"):
        with pytest.raises(SystemExit, match="set by the benchmark itself"):
            _method_overrides([own])


def test_seed_in_a_set_value_is_each_runs_own(tmp_path: Path) -> None:
    """A per-seed value (the seed's own earlier network to start from): ``{seed}`` becomes each run's seed."""
    args = argparse.Namespace(events=500, epochs=3, output=tmp_path,
                              method_overrides={"transformer": ["init_from=earlier/runs/seed{seed}/transformer"]})
    assert [str(_run_config("transformer", seed, args).init_from) for seed in (1, 2)] == [
        "earlier/runs/seed1/transformer", "earlier/runs/seed2/transformer"]


@pytest.mark.slow
def test_an_interrupted_fitted_run_is_finished_under_another_number_of_epochs(tmp_path: Path) -> None:
    """The epochs change nothing for a fitted method, so a relaunch with another --epochs finishes its interrupted
    run (the engine refuses a new budget for an estimator run: the benchmark keeps the stored one)."""
    def args(epochs: int) -> argparse.Namespace:
        return argparse.Namespace(events=200, epochs=epochs, output=tmp_path, method_overrides={})

    folder = tmp_path / "runs" / "seed1" / "oracle"
    folder.mkdir(parents=True)
    (folder / "config.yaml").write_text(dump_config(_run_config("oracle", 1, args(3))))
    RunDir(folder).update_status(state="interrupted", attempts=1)  # killed before it wrote its predictions
    _run("oracle", 1, args(12))
    assert RunDir(folder).status()["state"] == "completed" and (folder / "metrics.json").is_file()


@pytest.mark.slow
def test_test_time_views_of_a_benchmark_run_compare_paired_seeds(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With 0 views the method's numbers come back as the benchmark had them; with views, a table of both."""
    import calorimeter_clustering
    import calorimeter_test_time_views

    monkeypatch.setattr(sys, "argv", [
        "calorimeter_clustering.py", "--seeds", "1", "--events", "300", "--epochs", "1", "--jobs", "1", "--methods", "transformer",
        "--set", "transformer:model.params.dim=16", "--set", "transformer:model.params.layers=1", "--output", str(tmp_path)])
    calorimeter_clustering.main()
    with pytest.raises(SystemExit, match="expected a learned method"):
        calorimeter_test_time_views.main(["--output", str(tmp_path), "--method", "oracle"])
    for views in (0, 1):
        calorimeter_test_time_views.main(["--output", str(tmp_path), "--views", str(views), "--jobs", "1"])
        summary = json.loads((tmp_path / f"test_time_views_{views}.json").read_text())
        (seed,) = summary["per_seed"]
        assert (tmp_path / "runs" / "seed1" / "transformer" / f"test_time_views_{views}.h5").is_file()
        assert f"| {views + 1} view{'s' if views else ''} averaged |" in (tmp_path / f"test_time_views_{views}.md").read_text()
        if views == 0:  # the run's own predictions again
            assert seed["scalars"]["with"] == pytest.approx(seed["scalars"]["without"])
            for window, gains in seed["gains"]["without"].items():
                assert seed["gains"]["with"][window] == pytest.approx(gains)
    results = json.loads((tmp_path / "results.json").read_text())["per_seed"]["1"]["scalars"]
    window, oracle = results["r3b_rectangle"]["photopeak_efficiency"], results["oracle"]["photopeak_efficiency"]
    peak = seed["scalars"]["with"]["photopeak_efficiency"]
    assert seed["gains"]["with"]["r3b_rectangle"]["gap_closed"] == pytest.approx((peak - window) / (oracle - window))

    import calorimeter_ensemble  # of one seed, its network alone: the run's own predictions again

    calorimeter_ensemble.main(["--output", str(tmp_path), "--threads", "1"])
    (alone,) = json.loads((tmp_path / "ensemble_of_seeds.json").read_text())["per_seed"]
    assert alone["scalars"]["with"] == pytest.approx(alone["scalars"]["without"])
    assert "| 1 network averaged |" in (tmp_path / "ensemble_of_seeds.md").read_text()

    import calorimeter_attribution  # the same folder, the views' predictions: the method's row is theirs

    calorimeter_attribution.main(["--output", str(tmp_path), "--predictions", "test_time_views_1.h5"])
    rows = json.loads((tmp_path / "attribution.json").read_text())["per_seed"]["1"]["rows"]
    assert rows["method"]["photopeak_efficiency"] == pytest.approx(peak)
    assert rows["oracle"]["photopeak_efficiency"] == pytest.approx(oracle) and rows["oracle"]["gap_r3b_rectangle"] == 1.0
    assert "oracle, far soft hits where transformer puts them" in (tmp_path / "attribution.md").read_text()
