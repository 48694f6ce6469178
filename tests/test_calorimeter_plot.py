"""``showerlearn plot calorimeter``: the cluster energy spectra of prediction files, simulated (with the truth) and
measured (no truth, no velocity), several runs overlaid; and what it refuses."""

from __future__ import annotations

import shutil
from pathlib import Path

import awkward as ak
import h5py
import numpy as np
import pytest
import uproot
import yaml
from typer.testing import CliRunner

from showerlearn.calorimeter.evaluation import prediction_spectra
from showerlearn.calorimeter.evaluation.figures import spectra_figure
from showerlearn.calorimeter.kinematics import doppler_correct
from showerlearn.cli.main import app
from showerlearn.io.tables import read_tables

pytestmark = pytest.mark.slow

EDGES = np.arange(0.0, 12.0 + 0.025, 0.05)


def _run(tmp_path: Path, name: str, estimator: dict) -> Path:
    config = {"name": name, "seed": 1, "output_dir": str(tmp_path / "runs"), "estimator": estimator,
              "data": {"name": "calorimeter", "params": {
                  "simulate": {"events": 60, "seed": 4, "config": {"n_gammas": 3, "chunk_size": 60}},
                  "split": {"fractions": [0.5, 0.0, 0.5], "seed": 1}, "cache_dir": str(tmp_path / "cache")}},
              "evaluation": {"name": "calorimeter", "params": {"figure_formats": ["png"]}}}
    (tmp_path / f"{name}.yaml").write_text(yaml.safe_dump(config))
    result = CliRunner().invoke(app, ["train", str(tmp_path / f"{name}.yaml"), "--no-progress"])
    assert result.exit_code == 0, result.output
    (run,) = (tmp_path / "runs" / name).iterdir()
    return run


def _invoke(*arguments: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, [str(argument) for argument in arguments], terminal_width=200)
    return result.exit_code, " ".join(result.output.replace("│", " ").split())


def test_spectra_of_simulated_and_measured_predictions(tmp_path: Path) -> None:
    window = _run(tmp_path, "window", {"name": "r3b_window", "params": {"window": "cone", "half_angle": 0.3}})
    oracle = _run(tmp_path, "oracle", {"name": "hit_oracle"})
    assert _invoke("simulate", "calorimeter", "-o", tmp_path / "hits.h5", "--events", "80", "--seed", "3")[0] == 0
    for run in (window, oracle):
        assert _invoke("predict", run, tmp_path / "hits.h5", "-o", tmp_path / run.parent.name, "--no-progress")[0] == 0
    files = [tmp_path / name / "hits.predictions.h5" for name in ("window", "oracle")]

    # the counts, against the clusters' own Doppler-corrected energies (predict's) and the truth, binned here
    tables = read_tables(files[0])
    record = prediction_spectra(tables, EDGES)
    clusters, beta = tables["clusters"], tables["predictions"]["beta"]
    assert record["lab"].tolist() == np.histogram(clusters["energy"], EDGES)[0].tolist()
    rest = doppler_correct(clusters["energy"], clusters["theta"], beta[clusters["event_index"]])
    assert rest == pytest.approx(clusters["energy_rest"])
    assert record["doppler_corrected"].tolist() == np.histogram(clusters["energy_rest"], EDGES)[0].tolist()
    assert record["truth_rest"].tolist() == np.histogram(tables["gammas"]["energy_rest"], EDGES)[0].tolist()
    assert (record["events"], record["clusters"], record["clusters_without_beta"]) == (80, len(clusters["energy"]), 0)

    code, output = _invoke("plot", "calorimeter", *files, "-o", tmp_path / "spectra.png")
    assert code == 0, output
    assert (tmp_path / "spectra.png").stat().st_size > 10_000 and "window 80" in output and "oracle 80" in output
    # an existing figure is kept; --overwrite replaces it; labels name the files
    code, output = _invoke("plot", "calorimeter", *files, "-o", tmp_path / "spectra.png")
    assert code != 0 and "exists; pass --overwrite" in output
    code, output = _invoke("plot", "calorimeter", *files, "-o", tmp_path / "spectra.png", "--overwrite",
                           "--label", "R3B cone 0.3", "--label", "truth labels")
    assert code == 0 and "R3B cone 0.3" in output, output

    # measured data: a ROOT tree converted without a velocity has no Doppler-corrected energies, and no truth
    measured = ak.Array({"crystal_id": [[5, 6, 900], [1200]], "energy": [[1500.0, 300.0, 2000.0], [700.0]],
                         "time": [[1.0, 2.0, 3.0], [0.5]]})
    with uproot.recreate(tmp_path / "measured.root") as file:
        file["califa"] = {name: measured[name] for name in measured.fields}
    assert _invoke("convert", "calorimeter", tmp_path / "measured.root", "-o", tmp_path / "measured.h5")[0] == 0
    assert _invoke("predict", window, tmp_path / "measured.h5", "-o", tmp_path / "measured", "--no-progress")[0] == 0
    predicted = tmp_path / "measured" / "measured.predictions.h5"
    record = prediction_spectra(read_tables(predicted), EDGES)
    assert "truth_lab" not in record and not record["doppler_corrected"].any() and record["lab"].sum() == record["clusters"]
    assert record["clusters_without_beta"] == record["clusters"] > 0
    code, output = _invoke("plot", "calorimeter", predicted, files[0], "-o", tmp_path / "measured.pdf")
    assert code == 0 and (tmp_path / "measured.pdf").is_file(), output
    # the truth of whichever file has it; an empty panel says why it is empty
    simulated = prediction_spectra(read_tables(files[0]), EDGES)
    figure = spectra_figure({"measured": record, "window": simulated})
    assert "gammas, true lab energy" in figure.axes[0].get_legend_handles_labels()[1]
    alone = spectra_figure({"measured": record})
    assert [text.get_text().split(":")[0] for text in alone.axes[1].texts] == ["no cluster in the range"]
    assert "events without a velocity" in alone.axes[1].texts[0].get_text() and not alone.axes[0].texts
    below = prediction_spectra(read_tables(files[0]), np.array([0.0, 0.01]))  # nothing in range, every event with beta
    assert [text.get_text() for text in spectra_figure({"window": below}).axes[1].texts] == ["no cluster in the range"]

    # a run's own predictions in a folder of any name (train --run-dir) are labelled with its experiment's name
    moved = shutil.copytree(window, tmp_path / "elsewhere" / "my-run")
    code, output = _invoke("plot", "calorimeter", moved / "predictions.h5", "-o", tmp_path / "own.png")
    assert code == 0 and "┩ window " in output and "elsewhere" not in output and "my-run" not in output, output
    # an ensemble's folder holds its first member's config: said to be an ensemble, not that member
    (moved / "ensemble.json").write_text('{"members": []}')
    code, output = _invoke("plot", "calorimeter", moved / "predictions.h5", files[0], "-o", tmp_path / "ensemble.png")
    assert code == 0 and "┩ window (ensemble) " in output and "window (hits.predictions.h5)" not in output, output
    # two inputs predicted by one run: told apart by their files; a damaged file is named as such
    code, output = _invoke("plot", "calorimeter", files[0], predicted, "-o", tmp_path / "both.png")
    assert code == 0 and "window (hits.predictions.h5)" in output and "(measured.predictions.h5)" in output, output
    damaged = tmp_path / "damaged.predictions.h5"
    damaged.write_bytes(files[0].read_bytes()[: files[0].stat().st_size * 6 // 10])
    code, output = _invoke("plot", "calorimeter", damaged, "-o", tmp_path / "refused.png")
    assert code != 0 and "truncatedfile" in output.replace(" ", "") and "notacalorimeter" not in output.replace(" ", ""), output
    # values no prediction holds, and stamps of other files, each named (the figure would silently leave them out)
    for table, column, row, value, message in (
        ("clusters", "energy", 2, np.nan, "clusters.energy is nan at row 2; expected a cluster energy [MeV], at least 0"),
        ("clusters", "event_index", 0, 99_999, "clusters.event_index is 99999 at row 0; expected an event row in [0, 80)"),
        ("predictions", "beta", 1, 1.5, "predictions.beta is 1.5 at row 1; expected a velocity in [0, 1), or NaN"),
    ):
        edited = tmp_path / f"{column}.predictions.h5"
        edited.write_bytes(files[0].read_bytes())
        with h5py.File(edited, "r+") as file:
            rows = file[table][()]
            rows[column][row] = value
            file[table][...] = rows
        code, output = _invoke("plot", "calorimeter", edited, "-o", tmp_path / "refused.png")
        assert code != 0 and message.replace(" ", "") in output.replace(" ", ""), output
    for attribute, value, message in (("format", "something-else", "not a prediction file but a 'something-else' file"),
                                      ("layout", 99, "its tables are of layout 99, which this showerlearn (layouts up "
                                                     "to 2) does not know: written by a newer version?")):
        edited.write_bytes(files[0].read_bytes())
        with h5py.File(edited, "r+") as file:
            file.attrs[attribute] = value
        code, output = _invoke("plot", "calorimeter", edited, "-o", tmp_path / "refused.png")
        assert code != 0 and message.replace(" ", "") in output.replace(" ", ""), output

    # refused, nothing written: a hit file instead of predictions, labels not one per file, no figure suffix
    for arguments, message in (
        ([tmp_path / "hits.h5"], "hits.h5: not a prediction file but a 'showerlearn-calorimeter-hits' file "
                                 "(showerlearn predict RUN hits.h5 -o DIR writes its predictions)"),
        ([*files, "--label", "one"], "--label given 1 times for 2 files"),
        ([*files, "--label", "same", "--label", "same"], "--label: same given for two files"),
        ([files[0], "--max-mev", "1", "--bin-mev", "2"], "expected 0 < bin width < upper end"),
        ([files[0], "--bin-mev", "0"], "--bin-mev 0 and --max-mev 12: expected 0 < bin width < upper end"),
    ):
        code, output = _invoke("plot", "calorimeter", *arguments, "-o", tmp_path / "refused.png")
        assert code != 0 and message.replace(" ", "") in output.replace(" ", ""), output  # paths wrap in the message
    code, output = _invoke("plot", "calorimeter", files[0], "-o", tmp_path / "refused.txt")
    assert code != 0 and "afigurefile'ssuffixnamesitsformat" in output.replace(" ", ""), output
    assert not (tmp_path / "refused.png").exists() and not (tmp_path / "refused.txt").exists()
