"""The simulated production behind DL1 files (ctapipe's run rows): read, summed over files, refused when files
describe different productions; what the effective area is computed from when the config gives none."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import tables

from showerlearn.iact.evaluation.irf import SimulatedEvents
from showerlearn.iact.io.production import combined_production, production_particle, simulation_runs


def test_a_ctapipe_files_run_rows_are_read_in_their_units(shared_data: Path) -> None:
    path = shared_data / "iact/dl1_ctapipe/gamma_test.lst.dl1.h5"
    runs = simulation_runs(path)
    with tables.open_file(path) as file:  # read independently: the raw row and ctapipe's unit attributes
        row = file.get_node("/configuration/simulation/run").read()[0]
    assert runs["n_showers"].tolist() == [row["n_showers"]] and runs["shower_reuse"].tolist() == [row["shower_reuse"]]
    assert runs["energy_range_min"][0] == pytest.approx(row["energy_range_min"])  # stored in TeV
    assert runs["max_scatter_range"][0] == pytest.approx(row["max_scatter_range"])  # stored in m
    assert production_particle(path) is None  # a ctapipe production: one particle per file
    assert combined_production([runs])["n_showers"] == row["n_showers"] * row["shower_reuse"]


def test_productions_of_several_files_are_summed_or_refused() -> None:
    def run(n: float, index: float = -2.0) -> dict[str, np.ndarray]:
        return {"n_showers": np.array([n]), "shower_reuse": np.array([10.0]), "energy_range_min": np.array([0.003]),
                "energy_range_max": np.array([330.0]), "spectral_index": np.array([index]),
                "max_scatter_range": np.array([700.0]), "min_viewcone_radius": np.zeros(1), "max_viewcone_radius": np.zeros(1)}

    combined = combined_production([run(1000.0), run(500.0)])
    assert combined == {"n_showers": 15000.0, "energy_min": 0.003, "energy_max": 330.0, "spectral_index": -2.0,
                        "max_impact": 700.0, "viewcone_min": 0.0, "viewcone_max": 0.0}
    SimulatedEvents(**combined)  # what the evaluator makes of it
    with pytest.raises(ValueError, match=r"differ in spectral_index \(\[-2.7, -2.0\]\)"):
        combined_production([run(1000.0), run(500.0, index=-2.7)])


def test_a_file_without_run_rows_gives_none(tmp_path: Path) -> None:
    empty = tmp_path / "measured.h5"
    with tables.open_file(empty, "w") as file:
        file.create_group("/", "dl1")
    assert simulation_runs(empty) is None and production_particle(empty) is None


def test_the_datas_production_fills_the_evaluator_setting_only_where_the_config_leaves_it() -> None:
    from showerlearn.config.schema import Component
    from showerlearn.engine.runner import _with_defaults

    given = {"n_showers": 5.0, "energy_min": 0.01, "energy_max": 100.0, "spectral_index": -2.0, "max_impact": 500.0}
    found = {"simulated": {**given, "n_showers": 9.0}}
    unset = Component(name="iact", params={"gammaness_cut": 0.6})
    assert _with_defaults(unset, found).params == {"gammaness_cut": 0.6, "simulated": found["simulated"]}
    mine = Component(name="iact", params={"simulated": given})
    assert _with_defaults(mine, found).params == {"simulated": given}  # the config's own wins
    other = Component(name="classification", params={})
    assert _with_defaults(other, found).params == {}  # an evaluator without the setting gets nothing
