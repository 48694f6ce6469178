"""``showerlearn convert calorimeter-clusters``: a prediction file's clusters and hits as a flat ROOT tree, checked
against a per-event loop over the tables, read back by uproot and by the family's own ROOT reader."""

from __future__ import annotations

from pathlib import Path

import awkward as ak
import numpy as np
import pytest
import uproot
import yaml
from typer.testing import CliRunner

from showerlearn.calorimeter.geometry import califa
from showerlearn.calorimeter.io import read_events
from showerlearn.calorimeter.io.root_clusters import write_cluster_tree
from showerlearn.cli.main import app
from showerlearn.io.tables import read_attributes, read_tables, read_units, write_tables


def _tables() -> dict[str, dict[str, np.ndarray]]:
    """Three events: two clusters labelled 7 and 3 (as a decoding may number them) and a hit in none; no hit; one
    cluster whose two hits have equal energies (the first is its mother crystal, as the clusters table's seed)."""
    hits = {"event_index": np.array([0, 0, 0, 0, 2, 2]), "crystal_id": np.array([11, 12, 13, 14, 21, 22]),
            "energy": np.array([0.5, 2.0, 1.0, 0.3, 0.4, 0.4]), "time": np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0]),
            "theta": np.array([1.0, 1.1, 2.0, 2.5, 0.5, 0.6]), "phi": np.array([0.1, 0.2, -1.0, 3.0, 0.3, 0.4]),
            "label": np.array([7, 7, 3, -1, 0, 0]), "true_gamma": np.array([0, 0, 1, -1, 0, 0])}
    # sorted by event, then label: what predict writes; angles and time of the most energetic hit
    clusters = {"event_index": np.array([0, 0, 2]), "label": np.array([3, 7, 0]), "energy": np.array([1.0, 2.5, 0.8]),
                "energy_rest": np.array([1.2, 3.0, np.nan]), "theta": np.array([2.0, 1.1, 0.5]),
                "phi": np.array([-1.0, 0.2, 0.3]), "time": np.array([3.0, 2.0, 5.0]), "n_hits": np.array([1, 2, 2])}
    predictions = {"event_id": np.array([100, 101, 102]), "beta": np.array([0.7, 0.7, np.nan])}
    return {"predictions": predictions, "hits": hits, "clusters": clusters}


def _expected_event(tables: dict[str, dict[str, np.ndarray]], event: int) -> dict[str, list]:
    """The branches of one event, by a loop over its hits (the reference the vectorised writer is checked against)."""
    hits, clusters = tables["hits"], tables["clusters"]
    rows = [i for i in range(len(hits["label"])) if hits["event_index"][i] == event]
    labels = sorted({int(hits["label"][i]) for i in rows if hits["label"][i] >= 0})
    mothers = []
    for label in labels:
        members = [i for i in rows if hits["label"][i] == label]
        best = max(members, key=lambda i: (hits["energy"][i], -i))  # the first of the most energetic
        mothers.append(int(hits["crystal_id"][best]))
    own = [j for j in range(len(clusters["label"])) if clusters["event_index"][j] == event]
    return {"cluster_mother_crystal": mothers, "cluster_n_crystals": [int(clusters["n_hits"][j]) for j in own],
            "cluster_energy": [clusters["energy"][j] for j in own],
            "hit_cluster": [labels.index(hits["label"][i]) if hits["label"][i] >= 0 else -1 for i in rows],
            "hit_crystal_id": [int(hits["crystal_id"][i]) for i in rows], "hit_energy": [hits["energy"][i] for i in rows]}


def test_the_tree_holds_each_events_clusters_and_hits_as_a_loop_over_them_finds(tmp_path: Path) -> None:
    tables = _tables()
    written = []
    assert write_cluster_tree(tables, tmp_path / "c.root", energy_unit="keV", advance=written.append) == 3
    assert sum(written) == 3
    with uproot.open(tmp_path / "c.root") as file:
        tree = file["clusters"]
        assert "keV" in tree.title
        branches = tree.arrays(library="np")
    assert branches["event_id"].tolist() == [100, 101, 102]
    np.testing.assert_array_equal(branches["beta"], [0.7, 0.7, np.nan])
    assert branches["ncluster"].tolist() == [2, 0, 1] and branches["nhit"].tolist() == [4, 0, 2]
    for event in range(3):
        expected = _expected_event(tables, event)
        for name, values in expected.items():
            got = branches[name][event]
            scale = 1e3 if name.endswith("energy") else 1  # written in keV
            np.testing.assert_allclose(got, np.asarray(values, float) * scale, err_msg=f"event {event}, {name}")


def test_clusters_in_another_order_index_the_same_clusters(tmp_path: Path) -> None:
    tables = _tables()
    write_cluster_tree(tables, tmp_path / "sorted.root")
    shuffled = {**tables, "clusters": {name: values[[1, 0, 2]] for name, values in tables["clusters"].items()}}
    write_cluster_tree(shuffled, tmp_path / "shuffled.root")
    with uproot.open(tmp_path / "sorted.root") as a, uproot.open(tmp_path / "shuffled.root") as b:
        first, second = a["clusters"].arrays(library="np"), b["clusters"].arrays(library="np")
    for name in first:
        for event in range(3):
            np.testing.assert_array_equal(first[name][event], second[name][event], err_msg=name)


def test_tables_that_disagree_are_refused_and_nothing_is_written(tmp_path: Path) -> None:
    tables = _tables()
    tables["hits"]["label"][4:] = 5  # event 2's clusters table says label 0
    with pytest.raises(ValueError, match="hits row 4: its label 5 names no cluster of its event"):
        write_cluster_tree(tables, tmp_path / "c.root")
    tables = _tables()
    tables["clusters"]["n_hits"][1] = 6
    with pytest.raises(ValueError, match="event index 0 labelled 7 has n_hits 6, but 2 hits carry its label"):
        write_cluster_tree(tables, tmp_path / "c.root")
    assert not list(tmp_path.iterdir())  # nothing half-written


def _invoke(*arguments: object) -> tuple[int, str]:
    result = CliRunner().invoke(app, [str(argument) for argument in arguments], terminal_width=200)
    return result.exit_code, " ".join(result.output.replace("│", " ").split())


@pytest.mark.slow
def test_clusters_of_a_predicted_hit_file_as_a_root_tree_that_the_hit_reader_reads_back(tmp_path: Path) -> None:
    config = {"name": "window", "seed": 1, "output_dir": str(tmp_path / "runs"),
              "estimator": {"name": "r3b_window", "params": {"window": "cone", "half_angle": 0.3}},
              "data": {"name": "calorimeter", "params": {
                  "simulate": {"events": 40, "seed": 4, "config": {"n_gammas": 3, "chunk_size": 40}},
                  "split": {"fractions": [0.5, 0.0, 0.5], "seed": 1}, "cache_dir": str(tmp_path / "cache")}},
              "evaluation": {"name": "calorimeter", "params": {"figure_formats": []}}}
    (tmp_path / "window.yaml").write_text(yaml.safe_dump(config))
    assert _invoke("train", tmp_path / "window.yaml", "--no-progress")[0] == 0
    (run,) = (tmp_path / "runs" / "window").iterdir()
    hits_file = tmp_path / "hits.h5"
    assert _invoke("simulate", "calorimeter", "-o", hits_file, "--events", "30", "--seed", "3")[0] == 0
    assert _invoke("predict", run, hits_file, "-o", tmp_path / "predicted", "--no-progress")[0] == 0
    predictions = tmp_path / "predicted" / "hits.predictions.h5"

    status, output = _invoke("convert", "calorimeter-clusters", predictions, "-o", tmp_path / "clusters.root",
                             "--no-progress")
    assert status == 0, output
    tables = read_tables(predictions)
    assert f"30 events, {len(tables['clusters']['label'])} clusters" in output
    with uproot.open(tmp_path / "clusters.root") as file:
        branches = file["clusters"].arrays(library="np")
    for event in range(30):
        for name, values in _expected_event(tables, event).items():
            np.testing.assert_allclose(branches[name][event], values, err_msg=f"event {event}, {name}")
    # the mother crystal is the hit whose direction the cluster has
    theta, phi = califa().angles(np.concatenate(branches["cluster_mother_crystal"]))
    np.testing.assert_allclose(theta, np.concatenate(branches["cluster_theta"]), atol=1e-6)
    np.testing.assert_allclose(phi, np.concatenate(branches["cluster_phi"]), atol=1e-6)

    # read back by `convert calorimeter`: the hits of the hit file, event by event
    status, output = _invoke("convert", "calorimeter", tmp_path / "clusters.root", "-o", tmp_path / "back.h5",
                             "--crystal-id", "hit_crystal_id", "--energy", "hit_energy", "--time", "hit_time",
                             "--energy-unit", "MeV", "--event", "event_id", "--no-progress")
    assert status == 0, output
    back, simulated = read_events(tmp_path / "back.h5"), read_events(hits_file)
    for name in ("crystal_id", "energy"):
        np.testing.assert_allclose(ak.flatten(back[name]), ak.flatten(simulated[name]), rtol=1e-6)

    # a file converted by hand with its hit energies in keV (stored with the unit) is read in MeV
    units = {name: read_units(predictions, name) for name in tables}
    in_kev = {**tables, "hits": {**tables["hits"], "energy": tables["hits"]["energy"] * 1e3}}
    write_tables(tmp_path / "kev.h5", in_kev, {**units, "hits": {**units["hits"], "energy": "keV"}},
                 read_attributes(predictions))
    assert _invoke("convert", "calorimeter-clusters", tmp_path / "kev.h5", "-o", tmp_path / "kev.root")[0] == 0
    with uproot.open(tmp_path / "kev.root") as file:
        np.testing.assert_allclose(np.concatenate(file["clusters"]["hit_energy"].array(library="np")),
                                   np.concatenate(branches["hit_energy"]), rtol=1e-12)
    # a file of before the clusters table was written, and a damaged one, are named as such
    write_tables(tmp_path / "old.h5", {k: v for k, v in tables.items() if k != "clusters"},
                 {k: v for k, v in units.items() if k != "clusters"}, read_attributes(predictions))
    status, output = _invoke("convert", "calorimeter-clusters", tmp_path / "old.h5", "-o", tmp_path / "old.root")
    assert status != 0 and "written by an earlier showerlearn, without the clusters table" in output
    damaged = {**tables, "hits": {**tables["hits"], "label": np.where(tables["hits"]["label"] >= 0, 99, -1)}}
    write_tables(tmp_path / "damaged.h5", damaged, units, read_attributes(predictions))
    status, output = _invoke("convert", "calorimeter-clusters", tmp_path / "damaged.h5", "-o", tmp_path / "d.root")
    assert status != 0 and "names no cluster of its event" in output and "a damaged prediction file?" in output

    # what is refused: an output there already, a hit file (no predictions), an unknown unit
    status, output = _invoke("convert", "calorimeter-clusters", predictions, "-o", tmp_path / "clusters.root")
    assert status != 0 and "exists; pass --overwrite" in output
    status, output = _invoke("convert", "calorimeter-clusters", hits_file, "-o", tmp_path / "other.root")
    assert status != 0 and "not a" in output and "prediction file" in output
    status, output = _invoke("convert", "calorimeter-clusters", predictions, "-o", tmp_path / "other.root",
                             "--energy-unit", "eV")
    assert status != 0 and "--energy-unit 'eV': expected one of keV, MeV, GeV" in output
    assert not (tmp_path / "other.root").exists()
