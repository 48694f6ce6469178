"""Generation checks on a small real sample (Pythia 8 + detector + FastJet): the physics the issue asks
for, the bookkeeping of cross sections and weights, determinism per seed, and the chunk cache.

The sample (30 signal, 40 QCD, 30 t t~ events, two workers) takes about 15 s on two cores. Generation is
deterministic per seed, so these criteria give the same verdict on every run; they were chosen with
margin over four seeds (signal jet-mass median 117-126 GeV, tau21 medians 0.34-0.43 against 0.60-0.68
with Mann-Whitney p <= 4e-5, t t~ heavier-jet mass median 162-179 GeV).
"""

from __future__ import annotations

from pathlib import Path

import awkward as ak
import h5py
import numpy as np
import pytest
import vector
from scipy.stats import mannwhitneyu
from threadpoolctl import threadpool_limits

from showerlearn.collider.baselines import HIGH_LEVEL_FEATURES, HighLevelBDT, high_level_features
from showerlearn.collider.io import EventFile, read_events
from showerlearn.collider.kinematics import CONSTITUENT_FIELDS
from showerlearn.collider.simulation import ColliderSimulationConfig, RunSummary, simulate_collider
from showerlearn.collider.simulation.reconstruction import FATJET_FIELDS, JET_FIELDS, LEPTON_FIELDS
from showerlearn.collider.simulation.run import plan_chunks

vector.register_awkward()
pytestmark = pytest.mark.slow  # Pythia generation: seconds per test

SIGNAL, QCD, TTBAR = 0, 1, 2


def _config(**changes: object) -> ColliderSimulationConfig:
    defaults = ColliderSimulationConfig().processes
    processes = {name: {"settings": defaults[name].settings, "signal": name == "signal", "fraction": share}
                 for name, share in (("signal", 0.3), ("qcd", 0.4), ("ttbar", 0.3))}  # fmt: skip
    return ColliderSimulationConfig.model_validate(
        {"n_events": 100, "chunk_size": 17, "processes": processes, **changes}
    )


@pytest.fixture(scope="session")
def sample(tmp_path_factory: pytest.TempPathFactory) -> tuple[EventFile, RunSummary]:
    path = tmp_path_factory.mktemp("collider") / "sample.h5"
    summary = simulate_collider(_config(), path, seed=11, n_jobs=2)
    return read_events(path), summary


def _leading(events: ak.Array, process: int) -> ak.Array:
    return events.fatjets[events.process == process][:, :2]


def test_signal_large_r_jets_peak_at_the_higgs_mass(sample: tuple[EventFile, RunSummary]) -> None:
    mass = ak.to_numpy(ak.flatten(_leading(sample[0].events, SIGNAL).mass))
    assert len(mass) == 60
    assert 105.0 < np.median(mass) < 145.0
    assert np.mean((mass > 90.0) & (mass < 160.0)) > 0.5


def test_signal_jets_have_two_prongs_qcd_jets_one(sample: tuple[EventFile, RunSummary]) -> None:
    signal = ak.to_numpy(ak.flatten(_leading(sample[0].events, SIGNAL).tau21))
    qcd = ak.to_numpy(ak.flatten(_leading(sample[0].events, QCD).tau21))
    assert np.median(signal) < np.median(qcd) - 0.1
    assert mannwhitneyu(signal, qcd, alternative="less").pvalue < 1e-3


def test_top_pair_jets_peak_near_the_top_mass(sample: tuple[EventFile, RunSummary]) -> None:
    def heavier(process: int) -> np.ndarray:
        return ak.to_numpy(ak.fill_none(ak.max(_leading(sample[0].events, process).mass, axis=1), 0.0))

    top, qcd = heavier(TTBAR), heavier(QCD)
    assert 140.0 < np.median(top) < 210.0
    in_window = np.mean((top > 140.0) & (top < 210.0))
    assert in_window > 0.4 and in_window > np.mean((qcd > 140.0) & (qcd < 210.0)) + 0.2


def test_every_event_is_in_the_signal_region(sample: tuple[EventFile, RunSummary]) -> None:
    events, config = sample[0].events, _config()
    layout = {"fatjets": FATJET_FIELDS, "jets": JET_FIELDS, "electrons": LEPTON_FIELDS, "muons": LEPTON_FIELDS}
    assert all(sorted(events[name].fields) == sorted(fields) for name, fields in layout.items())
    lead = events.fatjets[:, :2]
    assert ak.all(ak.num(events.fatjets) >= 2)
    assert ak.all(lead.pt > 250.0) and ak.all(abs(lead.eta) < 2.5)
    assert np.all((events.mjj > 800.0) & (events.mjj < 1200.0))
    assert sample[0].config["signal_mass"] == config.signal_mass


def test_cross_sections_and_weights_add_up(sample: tuple[EventFile, RunSummary]) -> None:
    file, summary = sample
    assert [p.name for p in file.processes] == ["signal", "qcd", "ttbar"] and [p.label for p in file.processes] == [
        1,
        0,
        0,
    ]
    assert [p.n_events for p in file.processes] == [30, 40, 30]
    for code, process in enumerate(file.processes):
        weights = ak.to_numpy(file.events.weight_pb[file.events.process == code])
        assert process.sigma_generated_pb > 0 and process.n_generated >= process.n_events
        # unweighted Pythia events: sigma_selected = sigma_generated x selected / generated
        assert process.sigma_selected_pb == pytest.approx(
            process.sigma_generated_pb * process.n_events / process.n_generated
        )
        assert weights.sum() == pytest.approx(process.sigma_selected_pb)
        assert any(setting.startswith("PhaseSpace:mHatMin = 600") for setting in process.settings) == (code != SIGNAL)
    assert file.processes[QCD].sigma_generated_pb > 100 * file.processes[TTBAR].sigma_generated_pb  # QCD dominates
    assert summary.n_events == 100 and summary.cached_chunks == 0


def test_constituents_are_exactly_the_leading_jets_particles(sample: tuple[EventFile, RunSummary]) -> None:
    events = sample[0].events
    constituents = events.constituents
    assert tuple(sorted(constituents.fields)) == tuple(sorted(CONSTITUENT_FIELDS))
    for index in (0, 1):
        mine = constituents[constituents.jet_index == index]
        summed = ak.zip(
            {"pt": mine.pt, "eta": mine.eta, "phi": mine.phi, "energy": mine.energy}, with_name="Momentum4D"
        )
        total = ak.sum(summed, axis=1)  # E-scheme jets are the sums of their constituents
        jet = events.fatjets[:, index]
        np.testing.assert_allclose(ak.to_numpy(total.pt), ak.to_numpy(jet.pt), rtol=1e-3)
        np.testing.assert_allclose(ak.to_numpy(total.mass), ak.to_numpy(jet.mass), rtol=2e-2, atol=0.5)
        assert ak.all(ak.num(mine) == jet.n_constituents)
        np.testing.assert_allclose(
            ak.to_numpy(ak.flatten(mine.log_pt_rel)), ak.to_numpy(ak.flatten(np.log(mine.pt / jet.pt))), atol=1e-4
        )
    np.testing.assert_allclose(
        ak.to_numpy(ak.flatten(constituents.dr)),
        ak.to_numpy(ak.flatten(np.hypot(constituents.deta, constituents.dphi))),
        atol=1e-5,
    )
    assert set(np.unique(ak.to_numpy(ak.flatten(constituents.category)))) <= {0, 1, 2, 3, 4}


def test_signal_events_carry_b_tags(sample: tuple[EventFile, RunSummary]) -> None:
    events = sample[0].events
    tags = ak.to_numpy(ak.sum(events.jets.btag, axis=1))
    assert tags[events.process == SIGNAL].mean() > tags[events.process == QCD].mean() + 0.5


def test_bdt_baseline_runs_on_the_generated_events(sample: tuple[EventFile, RunSummary]) -> None:
    events = sample[0].events
    table = high_level_features(events)
    assert table.shape == (100, len(HIGH_LEVEL_FEATURES)) and np.all(np.isfinite(table))
    labels = ak.to_numpy(events.label)
    with threadpool_limits(1):  # OpenMP threads spin for seconds on a machine whose cores are busy
        bdt = HighLevelBDT(max_iter=30, min_samples_leaf=5).fit(events, labels, sample_weight=np.ones(len(labels)))
        predicted = bdt.predict(events)
    assert (predicted == labels).mean() > 0.9  # training accuracy: the trees see separable features


def _datasets(path: Path) -> dict[str, np.ndarray]:
    found: dict[str, np.ndarray] = {}
    with h5py.File(path, "r") as h5:
        h5.visititems(lambda name, item: found.__setitem__(name, item[()]) if isinstance(item, h5py.Dataset) else None)
    return found


def _same(first: Path, second: Path) -> bool:
    a, b = _datasets(first), _datasets(second)
    return a.keys() == b.keys() and all(np.array_equal(a[key], b[key]) for key in a)


def test_a_file_depends_on_settings_and_seed_only_and_the_cache_replays_it(tmp_path: Path) -> None:
    config = _config(n_events=4, chunk_size=2).only(["signal", "qcd"])  # one chunk each
    first = simulate_collider(config, tmp_path / "one.h5", seed=5, n_jobs=1)
    simulate_collider(config, tmp_path / "two.h5", seed=5, n_jobs=2)
    assert _same(tmp_path / "one.h5", tmp_path / "two.h5") and first.n_events == 4
    cached = config.model_copy(update={"cache_dir": tmp_path / "cache"})
    fresh = simulate_collider(cached, tmp_path / "fresh.h5", seed=6)
    replay = simulate_collider(cached, tmp_path / "replay.h5", seed=6)
    assert not _same(tmp_path / "one.h5", tmp_path / "fresh.h5")  # another seed, other events
    assert fresh.cached_chunks == 0 and replay.cached_chunks == len(plan_chunks(config)) == 2
    assert _same(tmp_path / "fresh.h5", tmp_path / "replay.h5")


def test_plan_shares_events_by_fraction_and_interleaves_processes() -> None:
    tasks = plan_chunks(_config(n_events=101, chunk_size=20))
    sizes = {name: sum(t.size for t in tasks if t.process == name) for name in ("signal", "qcd", "ttbar")}
    assert sizes == {
        "signal": 30,
        "qcd": 41,
        "ttbar": 30,
    }  # 30.3, 40.4, 30.3: the largest remainder gets the extra event
    assert [t.process for t in tasks[:3]] == ["signal", "qcd", "ttbar"]


def test_a_selection_nothing_passes_fails_with_a_clear_error(tmp_path: Path) -> None:
    config = _config(n_events=2, chunk_size=2, max_tries_per_event=2, selection={"mass_window": [3.0, 3.1]}).only(
        ["qcd"]
    )
    with pytest.raises(ValueError, match=r"process 'qcd': only 0 of \d+ generated events pass the selection"):
        simulate_collider(config, tmp_path / "none.h5", seed=1)
    assert not (tmp_path / "none.h5").exists()


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        (["HardQCD:allx = on"], r"process 'mine': Pythia does not accept the setting 'HardQCD:allx = on'"),
        (["PhaseSpace:pTHatMin = 100."], r"process 'mine': Pythia could not initialise: .*no process switched on"),
    ],
)
def test_pythia_problems_name_the_process_and_quote_pythia(tmp_path: Path, settings: list[str], message: str) -> None:
    config = _config(n_events=1, chunk_size=1, processes={"mine": {"settings": settings, "fraction": 1.0}})
    with pytest.raises(ValueError, match=message):
        simulate_collider(config, tmp_path / "bad.h5", seed=1)
