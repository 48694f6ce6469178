"""Figures that read on their own (issue #20): captions, run labels, what the band is, events per bin,
camera titles and units; units in prediction files (and their conversion on evaluation) and terminal tables."""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pytest
from ctapipe.instrument import CameraGeometry
from iact_runs import EXAMPLES
from matplotlib.figure import Figure
from matplotlib.text import Text
from rich.console import Console
from typer.testing import CliRunner

from showerlearn.cli.common import metrics_table
from showerlearn.cli.main import app
from showerlearn.config import dump_config, load_config, resolve_config
from showerlearn.engine.run_dir import RunDir
from showerlearn.engine.runner import evaluate, train
from showerlearn.evaluation.aggregate import aggregate_runs, plot_aggregates
from showerlearn.evaluation.classification import evaluate_classification
from showerlearn.evaluation.curves import NON_NEGATIVE, SHARE, curve_record, series_from_record
from showerlearn.family import BoardStyle
from showerlearn.iact.data.cuts import Cuts
from showerlearn.iact.data.targets import COLUMN_UNITS, META_COLUMNS, decode_outputs
from showerlearn.iact.evaluation.evaluator import evaluate_iact, iact_metrics
from showerlearn.iact.family import BOARD_STYLE
from showerlearn.iact.viz.camera import camera_images_figure, camera_rows_figure
from showerlearn.io.tables import (
    TableStream,
    convert_units,
    read_tables,
    read_units,
    write_columns,
    write_tables,
)
from showerlearn.viz.resolution import MIN_EVENTS_PER_BIN, curves_figure

BINS = np.geomspace(0.02, 50.0, 9)


def _predictions(n: int, seed: int, noise: float = 1.0) -> dict[str, np.ndarray]:
    """IACT prediction columns; protons only below 3 TeV, so that the top bins hold one class."""
    rng = np.random.default_rng(seed)
    true_energy = 10 ** rng.uniform(-1.5, 1.5, n)
    primary = np.where((rng.random(n) < 0.5) & (true_energy < 3.0), 101, 0)
    alt, az = np.full(n, 70.0), np.full(n, 180.0)
    return {
        "obs_id": np.ones(n, int), "event_id": np.arange(n), "tel_id": np.ones(n, int),
        "true_shower_primary_id": primary, "true_energy": true_energy,
        "reco_energy": true_energy * np.exp(0.2 * noise * rng.normal(size=n)),
        "true_alt": alt, "true_az": az, "reco_alt": alt + 0.1 * noise * rng.normal(size=n), "reco_az": az,
        "gammaness": np.clip(rng.normal(np.where(primary == 0, 0.7, 0.3), 0.2 * noise), 0, 1),
    }


def _texts(figure: Figure) -> list[str]:
    """Every text a figure shows: titles, labels, legend entries and titles, notes."""
    figure.canvas.draw()  # lays out the legends
    return [t.get_text() for t in figure.findobj(Text) if t.get_text()]


def _curve(record: dict[str, Any], label: str) -> Figure:
    return curves_figure([series_from_record(record, label)], xlabel="reconstructed energy [TeV]", ylabel="AUC",
                         caption="simulated LSTCam events; cuts: intensity >= 50.0 p.e.", missing="no AUC: one class only")


# --- curve figures ---------------------------------------------------------------------------------

def test_curve_record_says_what_its_band_is_and_counts_both_classes_for_the_auc() -> None:
    metrics = iact_metrics(_predictions(3000, seed=1), energy_bins=BINS, n_bootstrap=20, confidence_level=0.9)
    assert metrics["curves"]["angular_resolution_vs_true_energy"]["band"] == "90 % bootstrap interval"
    auc = metrics["curves"]["auc_vs_reco_energy"]
    assert auc["band"] == ""  # no interval on the AUC
    reco = np.asarray(_predictions(3000, seed=1)["reco_energy"])
    assert auc["n_events"] == np.histogram(reco, BINS)[0].tolist()  # gammas and protons of the bin
    # the gaps of the AUC curve: bins with events of one class only have no AUC
    one_class = [i for i, (value, n) in enumerate(zip(auc["value"], auc["n_events"])) if value is None and n > 0]
    assert one_class, "the top bins hold gammas only"


def test_curve_figure_reads_on_its_own() -> None:
    metrics = iact_metrics(_predictions(600, seed=2), energy_bins=BINS, n_bootstrap=20)
    figure = _curve(metrics["curves"]["angular_resolution_vs_true_energy"], "Hillas + RF")
    texts = _texts(figure)
    assert figure.get_suptitle() == "simulated LSTCam events; cuts: intensity >= 50.0 p.e."
    assert "Hillas + RF" in texts and "band: 95 % bootstrap interval" in texts
    events_axes = figure.axes[1]
    assert events_axes.get_ylabel() == "events / bin"
    assert f"grey points: bins with < {MIN_EVENTS_PER_BIN} events" in texts
    assert any(line.get_ydata()[0] == MIN_EVENTS_PER_BIN for line in events_axes.get_lines())  # the threshold line


def test_bins_with_few_events_are_grey_and_bins_without_value_are_marked() -> None:
    record = {"x": "reco_energy", "x_unit": "TeV", "unit": "", "edges": [0.1, 1.0, 10.0, 100.0],
              "value": [0.8, 0.9, None], "ci_low": [None] * 3, "ci_high": [None] * 3, "band": "", "n_events": [500, 4, 7]}
    figure = _curve(record, "net")
    ax = figure.axes[0]
    grey = [line for line in ax.get_lines() if line.get_color() == "0.65" and np.isfinite(line.get_ydata()).any()]
    assert len(grey) == 1 and np.isfinite(grey[0].get_ydata()).sum() == 1  # the bin of 4 events
    assert "no AUC: one class only" in _texts(figure)  # the cross under the bin of 7 events without AUC


def test_a_value_of_a_bin_whose_count_is_0_is_marked_as_the_limit_it_is() -> None:
    """A rejection curve: where the cut keeps no background event, the rejection is a lower limit (a triangle up,
    named in the legend); a family that says nothing of limits marks none."""
    record = {"x": "signal_efficiency", "x_unit": "", "unit": "", "edges": [0.0, 0.2, 0.4, 0.6],
              "value": [1200.0, 80.0, 9.0], "ci_low": [None] * 3, "ci_high": [None] * 3, "band": "", "n_events": [0, 15, 400]}

    def triangles(empty_limit: str | None) -> tuple[list[Any], list[str]]:
        figure = curves_figure([series_from_record(record, "net")], xlabel="signal efficiency", ylabel="rejection",
                               logx=False, logy=True, counted="background events kept", empty_limit=empty_limit)
        marked = [line for line in figure.axes[0].get_lines() if line.get_marker() in ("^", "v")]
        return marked, _texts(figure)

    (lower,), texts = triangles("lower")
    assert lower.get_marker() == "^" and list(lower.get_xdata()) == [0.1] and list(lower.get_ydata()) == [1200.0]
    assert "lower limit: no background events kept" in texts
    figure = curves_figure([series_from_record(record, "net")], xlabel="signal efficiency", ylabel="rejection",
                           logx=False, logy=True, counted="background events kept", empty_limit="lower")
    dots = [line for line in figure.axes[0].get_lines() if line.get_marker() == "o"]
    assert all(not np.isfinite(line.get_ydata()[0]) for line in dots)  # the limit is a triangle, not also a grey point
    (upper,), texts = triangles("upper")
    assert upper.get_marker() == "v" and "upper limit: no background events kept" in texts
    marked, texts = triangles(None)
    assert not marked and not any("limit" in text for text in texts)


def test_a_sweeps_value_is_a_limit_where_any_seed_counted_nothing_however_its_mean_count_rounds() -> None:
    """Seeds that kept [0, 1, 0, 400] and [1, 0, 3, 400] background events: the first three bins' means include
    a limit (their mean counts round to 0, 0 and 2), the last does not."""
    def run(counts: list[int]) -> dict[str, Any]:
        curve = curve_record(np.linspace(0.0, 0.8, 5), np.array([900.0, 600.0, 300.0, 4.0]), np.array(counts),
                             x="signal_efficiency", x_unit="", unit="")
        return {"evaluator": "collider", "scalars": {}, "curves": {"rejection_vs_signal_efficiency": curve}}

    record = aggregate_runs([run([0, 1, 0, 400]), run([1, 0, 3, 400])])["curves"]["rejection_vs_signal_efficiency"]
    assert record["n_runs_counting_none"] == [1, 1, 1, 0]
    assert series_from_record(record, "sweep").counted_none.tolist() == [True, True, True, False]
    assert series_from_record(run([0, 1, 0, 400])["curves"]["rejection_vs_signal_efficiency"], "run").counted_none.tolist() == [
        True, False, True, False]
    with pytest.raises(ValueError, match=r"metric_style\['rejection'\]\['empty_limit'\] must be 'lower', 'upper' or None"):
        BoardStyle(metric_style={"rejection": {"empty_limit": "at least"}})


def test_aggregate_band_is_the_seed_dispersion_with_mean_event_counts() -> None:
    runs = [iact_metrics(_predictions(800, seed=s), energy_bins=BINS, n_bootstrap=0) for s in range(3)]
    aggregate = aggregate_runs([{**run, "caption": "same data"} for run in runs])
    record = aggregate["curves"]["energy_bias_vs_true_energy"]
    counts = np.mean([run["curves"]["energy_bias_vs_true_energy"]["n_events"] for run in runs], axis=0)
    assert record["n_events"] == np.rint(counts).astype(int).tolist()
    assert aggregate["caption"] == "same data"
    series = series_from_record(record, "sweep")
    assert series.band == "mean ± std over 3 seeds"
    one = aggregate_runs(runs[:1])["curves"]["energy_bias_vs_true_energy"]
    assert series_from_record(one, "one seed").band == ""  # no std, no band to name


def test_a_sweeps_band_stays_inside_the_bounds_of_its_quantity() -> None:
    # three seeds' efficiencies of 1, 1 and 0.4 in the first bin: mean 0.8 +- 0.35 would reach 1.15
    runs = [{"evaluator": "calorimeter", "scalars": {}, "curves": {"efficiency_vs_e": curve_record(
        np.array([1.0, 2.0, 3.0]), np.array([value, 0.5]), np.array([10, 10]), x="e", x_unit="MeV", unit="", bounds=SHARE)}}
        for value in (1.0, 1.0, 0.4)]
    record = aggregate_runs(runs)["curves"]["efficiency_vs_e"]
    assert record["bounds"] == [0.0, 1.0] and record["mean"][0] == pytest.approx(0.8)
    series = series_from_record(record, "sweep")
    assert series.high[0] == 1.0 and series.low[0] == pytest.approx(0.8 - np.std([1, 1, 0.4], ddof=1))
    # an open bound is written null (JSON has no infinity) and cuts nothing on that side
    resolution = curve_record(np.array([1.0, 2.0]), np.array([0.1]), np.array([5]), x="e", x_unit="", unit="", bounds=NON_NEGATIVE)
    assert resolution["bounds"] == [0.0, None]
    spread = series_from_record({**resolution, "mean": [0.1], "std": [0.3], "n_runs": [3]}, "sweep")
    assert spread.low[0] == 0.0 and spread.high[0] == pytest.approx(0.4)


def test_plot_aggregates_draws_the_roc_of_network_and_baseline(tmp_path: Path) -> None:
    network = {**iact_metrics(_predictions(800, seed=3), energy_bins=BINS, n_bootstrap=0), "caption": "the events"}
    baseline = iact_metrics(_predictions(800, seed=4, noise=2.0), energy_bins=BINS, n_bootstrap=0)
    for metrics in (network, baseline):  # one curve is enough here: each figure takes a second
        metrics["curves"] = {"auc_vs_reco_energy": metrics["curves"]["auc_vs_reco_energy"]}
    written = plot_aggregates({"gamma-PhysNet-DA": network}, tmp_path, baseline=baseline, baseline_label="Hillas + RF",
                              style=BOARD_STYLE, figure_formats=("png",))
    assert sorted(path.name for path in written) == ["auc_vs_reco_energy.png", "roc.png"]


def test_iact_evaluator_labels_its_run_and_captions_its_figures(tmp_path: Path) -> None:
    metrics = evaluate_iact(_predictions(600, seed=5), tmp_path, energy_bins=BINS, n_bootstrap=5, run_name="hillas_rf_small",
                            caption="simulated LSTCam events; " + Cuts(min_intensity=50).describe(), figure_formats=("png",))
    assert metrics["caption"].startswith("simulated LSTCam events; cuts: intensity >= 50.0 p.e.; test split: 600 events (")
    assert "other)" not in metrics["caption"]
    # primaries that are neither gammas nor protons (muons) are background the AUC counts: the caption says so
    predictions = _predictions(600, seed=5)
    predictions["true_shower_primary_id"] = np.where(np.arange(600) < 10, 13, predictions["true_shower_primary_id"])
    others = evaluate_iact(predictions, tmp_path / "muons", energy_bins=BINS, n_bootstrap=0, figure_formats=("png",))
    assert "protons, 10 other)" in others["caption"]
    assert "roc.png" in metrics["figures"]


def test_classification_evaluator_legend_is_the_run_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    drawn: list[Any] = []
    import showerlearn.evaluation.classification as module

    def roc(curves: Any, **kwargs: Any) -> Figure:
        drawn.append((curves, kwargs))
        return Figure()

    monkeypatch.setattr(module, "roc_figure", roc)
    label = np.arange(100) % 2
    metrics = evaluate_classification({"label": label, "score": label * 0.5 + 0.25}, tmp_path, run_name="tabular_rf",
                                      caption="feature table x.csv", figure_formats=("png",))
    assert drawn[0][0][0].label == "tabular_rf" and drawn[0][1]["caption"] == "feature table x.csv; test split: 100 events"
    assert metrics["caption"] == "feature table x.csv; test split: 100 events"


# --- cameras ---------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def lst(shared_data: Path) -> CameraGeometry:
    return CameraGeometry.from_table(shared_data / "iact" / "geometry" / "LSTCam.camgeom.fits.gz")


def test_camera_displays_name_the_camera_and_what_they_show(lst: CameraGeometry) -> None:
    images = np.random.default_rng(0).exponential(2.0, size=(2, lst.n_pixels))
    figure = camera_images_figure(lst, images, ["gamma, 1 TeV", "proton, 3 TeV"], title="charge of 2 test events")
    texts = _texts(figure)
    assert "Unknown Frame" not in texts
    assert figure.get_suptitle() == "LSTCam: charge of 2 test events"
    cameras = figure.axes[::2]
    assert [ax.get_title() for ax in cameras] == ["gamma, 1 TeV", "proton, 3 TeV"]
    assert {(ax.get_xlabel(), ax.get_ylabel()) for ax in cameras} == {("camera x [m]", "camera y [m]")}
    assert [bar.get_ylabel() for bar in figure.axes[1::2]] == ["charge [p.e.]"] * 2


def test_explanation_rows_have_axes_and_colour_bar_units(lst: CameraGeometry) -> None:
    image = np.ones(lst.n_pixels)
    rows = [("input", [("charge", image), ("true p.e.", image)]), ("", [("Grad-CAM particle", image)])]
    units = {"charge": "charge [100 p.e.]", "true p.e.": "true signal [p.e.]", "Grad-CAM particle": "Grad-CAM [arb. units]"}
    figure = camera_rows_figure(lst, "net (seed1): event 0", rows, units.get)
    assert "Unknown Frame" not in _texts(figure) and figure.get_suptitle() == "LSTCam: net (seed1): event 0"
    cameras, bars = figure.axes[::2], figure.axes[1::2]
    assert [bar.get_ylabel() for bar in bars] == list(units.values())
    assert cameras[0].get_xlabel() == "" and cameras[2].get_xlabel() == "camera x [m]"  # bottom of its column
    assert cameras[0].get_ylabel() == "camera y [m]" and cameras[1].get_ylabel() == ""  # left column only


# --- units -----------------------------------------------------------------------------------------

def test_prediction_files_carry_a_unit_per_column(tmp_path: Path) -> None:
    n = 4
    meta = {name: np.ones(n) for name in META_COLUMNS} | {"camera_rotation": np.zeros(n), "camera_reflected": np.zeros(n)}
    columns = decode_outputs({"energy": np.zeros(n)}, meta)
    assert set(columns) <= set(COLUMN_UNITS), "every IACT prediction column has its unit"
    path = write_tables(tmp_path / "p.h5", {"predictions": columns, "hits": {"event_index": np.arange(n), "e": np.ones(n)}},
                        {"predictions": COLUMN_UNITS, "hits": {"e": "MeV"}})
    units = read_units(path)
    assert units["reco_energy"] == "TeV" and units["reco_alt"] == "deg" and units["true_core_x"] == "m"
    assert units["gammaness"] == ""
    with h5py.File(path) as file:  # plain HDF5 attributes, for readers without showerlearn
        assert file["predictions"].attrs["true_energy.unit"] == "TeV"
    assert read_units(path, "hits") == {"event_index": "", "e": "MeV"}
    with pytest.raises(ValueError, match="not an astropy unit"):
        write_columns(tmp_path / "bad.h5", {"x": np.ones(2)}, units={"x": "p.e."})


def test_streamed_prediction_files_carry_units_too(tmp_path: Path) -> None:
    with TableStream(tmp_path / "s.h5", tmp_path / ".s.partial") as stream:
        stream.append({"predictions": {"weight_pb": np.ones(3), "score_a": np.zeros(3)}})
        # the units come once the DataModule knows its columns (its classes), after the first chunk
        stream.set_units({"predictions": {"weight_pb": "pbarn", "score_a": ""}, "hits": {"e": "MeV"}})
        stream.append({"predictions": {"weight_pb": np.ones(1), "score_a": np.zeros(1)},
                       "hits": {"event_index": np.zeros(2, int), "e": np.ones(2)}})
    assert read_units(tmp_path / "s.h5") == {"weight_pb": "pbarn", "score_a": ""}
    assert read_units(tmp_path / "s.h5", "hits") == {"event_index": "", "e": "MeV"}


def test_a_run_writes_units_caption_and_label(tabular_config: dict) -> None:
    tabular_config.pop("model")
    tabular_config.pop("task")
    tabular_config["estimator"] = {"name": "random_forest", "params": {"n_estimators": 10}}
    run = train(resolve_config(tabular_config), progress=False)
    assert read_units(run.predictions_file) == {"row": "", "label": "", "score": ""}
    assert run.metrics()["caption"] == "feature table events.csv (400 rows, classes g, h); test split: 60 events"


def _iact_run(folder: Path, predictions: dict[str, np.ndarray], units: dict[str, str], baseline: Path | None = None) -> Path:
    """A run folder made by hand around a predictions file of another tool: the Hillas + RF example's config
    (with ``baseline``: that predictions file as its evaluation's baseline)."""
    overrides = ["evaluation.params.n_bootstrap=10", "evaluation.params.figure_formats=[]"]
    config = load_config(EXAMPLES / "hillas_rf_small.yaml", [*overrides, *([f"evaluation.params.baseline={baseline}"] if baseline else [])])
    folder.mkdir(parents=True)
    (folder / "config.yaml").write_text(dump_config(config))
    write_columns(folder / "predictions.h5", predictions, units=units)
    return folder


def test_evaluate_converts_columns_stored_in_other_units(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """Energies in GeV and altitudes in arcmin give the metrics of the same events in TeV and deg, the baseline's
    too."""
    in_tev = _predictions(600, seed=6)
    units = {name: COLUMN_UNITS[name] for name in in_tev}
    other = {**in_tev, **{name: in_tev[name] * 1e3 for name in ("true_energy", "reco_energy")},
             **{name: in_tev[name] * 60 for name in ("true_alt", "reco_alt")}}  # fmt: skip
    other_units = {**units, "true_energy": "GeV", "reco_energy": "GeV", "true_alt": "arcmin", "reco_alt": "arcmin"}
    baselines = write_columns(tmp_path / "tev.h5", in_tev, units=units), write_columns(tmp_path / "gev.h5", other, units=other_units)
    reference = _iact_run(tmp_path / "tev", in_tev, units, baseline=baselines[0])
    converted = _iact_run(tmp_path / "gev", other, other_units, baseline=baselines[1])
    with caplog.at_level(logging.INFO, logger="showerlearn.io.tables"):
        result = CliRunner().invoke(app, ["evaluate", str(reference), str(converted)])
    assert result.exit_code == 0, result.output
    got, want = RunDir(converted).metrics(), RunDir(reference).metrics()
    assert got["scalars"] == pytest.approx(want["scalars"], rel=1e-9)
    for name, curve in want["curves"].items():  # the energy bins hold the same events
        assert got["curves"][name]["n_events"] == curve["n_events"], name
        values = [np.array(record["value"], dtype=float) for record in (got["curves"][name], curve)]  # None: nan
        np.testing.assert_allclose(*values, rtol=1e-9, err_msg=name)
    assert got["scalars"]["n_gamma"] > 0 and any(want["curves"]["energy_resolution_vs_true_energy"]["value"])
    for name, curve in want["baseline"]["curves"].items():  # the baseline file, in GeV too, as well
        assert got["baseline"]["curves"][name]["n_events"] == curve["n_events"], name
    logged = [record.getMessage() for record in caplog.records if record.name == "showerlearn.io.tables"]
    file = converted / "predictions.h5"
    assert f"{file}: column predictions.reco_energy converted from GeV to TeV" in logged
    assert len(logged) == 8, "one line per converted column of each file, none for the files in the expected units"


@pytest.mark.parametrize("stored", ["deg", "p.e."])
def test_evaluate_refuses_a_unit_it_cannot_convert(tmp_path: Path, stored: str) -> None:
    predictions = _predictions(50, seed=7)
    run = _iact_run(tmp_path / "run", predictions, {name: COLUMN_UNITS[name] for name in predictions})
    with h5py.File(run / "predictions.h5", "a") as file:  # as another tool writes it (write_columns refuses "p.e.")
        file["predictions"].attrs["reco_energy.unit"] = stored
    message = (f"{run / 'predictions.h5'}: column predictions.reco_energy is stored in '{stored}', which is not "
               "convertible to the expected 'TeV'")  # fmt: skip
    with pytest.raises(ValueError, match=re.escape(message)):
        evaluate(run)
    assert not (run / "metrics.json").exists()


def test_columns_without_a_stored_or_expected_unit_are_taken_as_written(tmp_path: Path) -> None:
    path = write_tables(
        tmp_path / "p.h5",
        {"predictions": {"n": np.arange(3.0), "w": np.ones(3), "x": np.ones(3)},
         "hits": {"event_index": np.arange(3), "e": np.full(3, 2.0), "t": np.ones(3)}},
        {"predictions": {"n": "", "x": "km"}, "hits": {"e": "GeV", "t": "ns"}},
    )  # fmt: skip
    expected = {"predictions": {"n": "", "w": "pbarn"}, "hits": {"e": "MeV", "t": "ns"}}
    tables = convert_units(path, read_tables(path), expected)
    np.testing.assert_array_equal(tables["hits"]["e"], np.full(3, 2000.0))  # a per-element table too
    for name, column in (("predictions", "n"), ("predictions", "w"), ("predictions", "x"), ("hits", "t")):
        np.testing.assert_array_equal(tables[name][column], read_tables(path)[name][column])


def test_logarithmic_and_byte_string_units_are_read_as_meant(tmp_path: Path) -> None:
    """A log10 energy (dex) is exponentiated, not scaled; a unit other tools (PyTables) store as bytes is read."""
    path = write_columns(tmp_path / "p.h5", {"lg": np.array([0.0, 1.0, 2.0]), "e": np.ones(3)}, units={"lg": "dex(GeV)"})
    with h5py.File(path, "a") as file:
        file["predictions"].attrs["e.unit"] = np.bytes_(b"GeV")
    assert read_units(path) == {"lg": "dex(GeV)", "e": "GeV"}
    tables = convert_units(path, read_tables(path), {"predictions": {"lg": "TeV", "e": "TeV"}})
    np.testing.assert_allclose(tables["predictions"]["lg"], [1e-3, 1e-2, 1e-1])
    np.testing.assert_allclose(tables["predictions"]["e"], np.full(3, 1e-3))


def test_terminal_metrics_table_shows_units() -> None:
    console = Console(width=100, record=True)
    console.print(metrics_table({"scalars": {"auc": 0.9, "angular_resolution_deg": {"mean": 0.2, "std": 0.01}}}, "test split",
                                dict(BOARD_STYLE.scalar_units)))
    lines = {line.split()[0]: line.split() for line in console.export_text().splitlines() if line.strip()}
    assert lines["angular_resolution_deg"][-1] == "deg"
    assert lines["auc"] == ["auc", "0.9"]
    # a sweep's scalar that one seed lacks (no positive prediction, say): no std, and over how many seeds
    console = Console(width=100, record=True)
    console.print(metrics_table({"scalars": {"precision": {"mean": 0.58, "std": None, "n_runs": 1, "values": [0.58, None]}}},
                                "sweep"))
    assert "0.58 (1 of 2 seeds)" in console.export_text() and "None" not in console.export_text()
    console = Console(width=100, record=True)  # a run's null (undefined): no value, not "None"
    console.print(metrics_table({"scalars": {"precision": None}}, "test split"))
    assert console.export_text().split()[-1] == "n/a"
    console = Console(width=100, record=True)  # limits (no background left to reject) read as such, run and sweep
    console.print(metrics_table({"scalars": {"background_rejection_at_30": 1248.2, "background_at_30": 240.0},
                                 "limits": {"background_rejection_at_30": "lower", "background_at_30": "upper"}}, "run"))
    console.print(metrics_table({"scalars": {"background_rejection_at_30": {"mean": 700.0, "std": 20.0}},
                                 "limits": {"background_rejection_at_30": "lower"}}, "sweep"))
    shown = " ".join(console.export_text().split())
    assert "background_rejection_at_30 \u2265 1248 background_at_30 \u2264 240" in shown
    assert "background_rejection_at_30 \u2265 700 \u00b1 20" in shown


def test_a_count_axis_from_zero_is_linear_and_energies_are_logarithmic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Clusters per event against gammas with hits (bins centred on 0, 1, 2...): a log axis would drop the 0 bin."""
    from showerlearn.evaluation import curves

    scales: dict[str, bool] = {}
    original = curves.curves_figure

    def recorded(series: Any, **options: Any) -> Figure:
        scales[options["ylabel"]] = options["logx"]
        return original(series, **options)

    monkeypatch.setattr(curves, "curves_figure", recorded)
    counts = curves.curve_record(np.arange(-0.5, 4.0), np.array([0.1, 1.0, 1.9, 2.8]), np.array([50, 100, 80, 30]),
                                 x="gammas_with_hits", x_unit="", unit="")  # fmt: skip
    energies = curves.curve_record(np.array([0.1, 1.0, 10.0]), np.array([0.5, 0.6]), np.array([10, 10]), x="energy", x_unit="MeV", unit="")
    curves.save_curve_figures({"run": {"clusters_vs_gammas_with_hits": counts, "efficiency_vs_energy": energies}},
                              tmp_path, formats=("png",))  # fmt: skip
    assert scales == {"clusters": False, "efficiency": True}


def test_curves_against_gamma_energy_count_gammas_per_bin(tmp_path: Path) -> None:
    """The calorimeter's per-energy curves count gammas (three to five per event), not events."""
    from showerlearn.calorimeter.family import BOARD_STYLE as CALORIMETER_STYLE
    from showerlearn.evaluation.curves import curve_record, save_curve_figures
    from showerlearn.family import installed_families
    from showerlearn.viz.board import merged_style

    record = curve_record(np.array([0.3, 1.0, 10.0]), np.array([0.5, 0.6]), np.array([5, 900]), x="gamma_energy",
                          x_unit="MeV", unit="")  # fmt: skip
    figure = curves_figure([series_from_record(record, "window")], xlabel="E", ylabel="eff", counted="gammas")
    assert figure.axes[1].get_ylabel() == "gammas / bin"
    assert f"grey points: bins with < {MIN_EVENTS_PER_BIN} gammas" in _texts(figure)
    assert CALORIMETER_STYLE.axis_counts == {"gamma_energy": "gammas"}
    families = installed_families()
    assert merged_style([families["calorimeter"], families["iact"]]).axis_counts == {
        "calorimeter/gamma_energy": "gammas"}  # the board's, keyed by the family as its curves are
    assert save_curve_figures({"run": {"photopeak_efficiency_vs_gamma_energy": record}}, tmp_path, style=CALORIMETER_STYLE,
                              formats=("png",))  # fmt: skip


def test_the_rejection_curve_counts_the_background_its_cuts_keep_not_events_per_bin() -> None:
    """At a signal-efficiency bin's centre the collider's curve keeps some background events: a count that grows
    with the efficiency, not the events in the bin. The panel says so."""
    from showerlearn.collider.family import BOARD_STYLE as COLLIDER_STYLE
    from showerlearn.evaluation.curves import curve_record

    counted = COLLIDER_STYLE.axis_counts["signal_efficiency"]
    record = curve_record(np.array([0.1, 0.5, 0.9]), np.array([80.0, 12.0]), np.array([4, 35]), x="signal_efficiency",
                          x_unit="", unit="")  # fmt: skip
    figure = curves_figure([series_from_record(record, "model")], xlabel="eff", ylabel="rejection", counted=counted)
    assert figure.axes[1].get_ylabel() == "background events kept"
    assert f"grey points: bins with < {MIN_EVENTS_PER_BIN} background events kept" in _texts(figure)


def test_the_roc_names_the_positive_class_of_its_family() -> None:
    from showerlearn.viz.classification import RocSeries, roc_figure

    curve = [RocSeries("model", np.array([0.0, 1.0]), np.array([0.0, 1.0]), 0.5)]
    assert roc_figure(curve).axes[0].get_ylabel() == "signal efficiency (true positive rate)"  # the core's
    assert roc_figure(curve, positive="gamma").axes[0].get_ylabel() == "gamma efficiency (true positive rate)"
    assert BOARD_STYLE.positive_class == "gamma"  # what the IACT evaluator and an IACT sweep's aggregate pass


def test_a_mean_roc_is_drawn_with_its_band_and_says_what_it_is() -> None:
    from showerlearn.viz.classification import RocSeries, roc_figure

    fpr = np.linspace(0.0, 1.0, 5)
    mean = RocSeries("sweep", fpr, np.sqrt(fpr), 0.67, low=np.sqrt(fpr) * 0.9, high=np.sqrt(fpr), band="mean ± std over 3 seeds")
    ax = roc_figure([mean, RocSeries("run", fpr, fpr, 0.5)]).axes[0]
    assert len(ax.collections) == 1  # one band: the run has none
    assert ax.get_legend().get_title().get_text() == "band: mean ± std over 3 seeds"
