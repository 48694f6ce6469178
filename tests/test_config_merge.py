"""Merging configs (``extends``, ``--set``): a tagged-union member of another ``kind`` replaces the old one whole,
as a component of another ``name`` replaces the old one's params; of the same kind, keys are merged."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from showerlearn.config import ConfigError, load_config
from showerlearn.config.loader import _merge, apply_overrides

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
#: the simulated source every collider example shares (collider_multiscale.yaml, which collider_bdt.yaml extends)
BASE = EXAMPLES / "collider_bdt.yaml"
COLUMNAR = {
    "kind": "columnar",
    "files": ["events_that_need_not_exist.h5"],  # only read when the data is prepared, not when the config is checked
    "constituents": {"tokens": ["part_px", "part_py"], "labels": ["label"]},
    "objects": {"tokens": ["jet_px", "jet_py"]},
}


#: the streams a columnar source of those branches can give (its features are the files' names)
COLUMNAR_STREAMS = {"constituents": {"features": ["part_px", "part_py"], "sort_by": None, "alignment": None},
                    "objects": {"features": ["jet_px", "jet_py"]}}


def variant(tmp_path: Path, source: dict) -> Path:
    path = tmp_path / "variant.yaml"
    streams = COLUMNAR_STREAMS if source.get("kind") == "columnar" else {}
    path.write_text(yaml.safe_dump({"extends": str(BASE), "data": {"params": {"source": source, **streams}}}))
    return path


def test_extends_with_another_kind_of_source_replaces_the_base_source(tmp_path: Path) -> None:
    config = load_config(variant(tmp_path, COLUMNAR))
    source = config.data.params["source"]
    assert source["kind"] == "columnar" and source["files"] == COLUMNAR["files"]
    assert source["constituents"]["tokens"] == ["part_px", "part_py"]
    assert not {"events", "seed", "config"} & set(source)  # nothing of the base's simulated source
    assert config.data.params["constituents"]["n_tokens"] == 32 and config.data.params["batch_size"] == 128
    assert config.estimator.name == "collider_bdt"  # the rest of the base is still merged in


def test_extends_with_the_same_kind_merges_into_the_base_source(tmp_path: Path) -> None:
    config = load_config(variant(tmp_path, {"kind": "simulate", "events": 100}))
    source = config.data.params["source"]
    assert source["kind"] == "simulate" and source["config"]["n_events"] == 100
    assert source["seed"] == 11 and source["config"]["signal_mass"] == 600  # the base's other keys kept
    without_kind = load_config(variant(tmp_path, {"events": 100})).data.params["source"]  # kind not given: the same
    assert without_kind == source


def test_a_key_of_the_old_kind_given_with_the_new_one_is_still_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"data\.params\.source\.events: unknown key"):
        load_config(variant(tmp_path, {**COLUMNAR, "events": 100}))  # said in the variant itself: its own mistake


@pytest.mark.parametrize("order", ["kind first", "kind last"])
def test_set_of_another_kind_drops_the_old_keys_but_keeps_those_set(order: str) -> None:
    overrides = ["data.params.source.kind=generated", "data.params.source.files=[x.h5]"]
    config = load_config(BASE, overrides if order == "kind first" else overrides[::-1])
    source = config.data.params["source"]
    assert source["kind"] == "generated" and source["files"] == ["x.h5"]
    assert not {"events", "seed", "config", "n_jobs", "cache_dir"} & set(source)
    assert config.data.params["batch_size"] == 128  # the data module's other params are not the source's


def test_set_of_the_same_kind_or_of_another_key_keeps_the_source() -> None:
    for overrides in (["data.params.source.events=100"], ["data.params.source.kind=simulate", "data.params.source.events=100"]):
        source = load_config(BASE, overrides).data.params["source"]
        assert source["kind"] == "simulate" and source["config"]["n_events"] == 100
        assert source["seed"] == 11 and source["config"]["signal_mass"] == 600


def test_merge_rules_on_plain_mappings() -> None:
    base = {"source": {"kind": "simulate", "events": 5, "seed": 11}, "model": {"name": "a", "params": {"x": 1}}}
    assert _merge(base, {"source": {"kind": "npz", "class_names": ["b"]}})["source"] == {"kind": "npz", "class_names": ["b"]}
    assert _merge(base, {"source": {"kind": "simulate", "events": 6}})["source"] == {"kind": "simulate", "events": 6, "seed": 11}
    assert _merge(base, {"source": {"events": 6}})["source"] == {"kind": "simulate", "events": 6, "seed": 11}
    assert _merge(base, {"model": {"name": "b"}})["model"] == {"name": "b"}
    # a base that states no kind (the union's default, unknown here) is merged into: what does not fit is reported
    assert _merge({"s": {"files": ["a"]}}, {"s": {"kind": "npz"}})["s"] == {"files": ["a"], "kind": "npz"}
    assert base["source"] == {"kind": "simulate", "events": 5, "seed": 11}  # the base itself untouched


def test_set_rules_on_plain_mappings() -> None:
    data = {"s": {"kind": "simulate", "events": 5}, "t": {"files": ["a"]}}
    apply_overrides(data, ["s.kind=npz", "t.kind=npz"])
    assert data == {"s": {"kind": "npz"}, "t": {"files": ["a"], "kind": "npz"}}


def test_a_kind_among_a_components_params_is_an_argument_not_a_tag() -> None:
    """A user's network taking ``kind`` keeps its other params when only the kind changes, in extends and --set."""
    from showerlearn.config.loader import _merge, apply_overrides

    base = {"model": {"name": "pkg.mod:Net", "params": {"kind": "hex", "hidden": 64}}}
    assert _merge(base, {"model": {"params": {"kind": "square"}}})["model"]["params"] == {"kind": "square", "hidden": 64}
    assert apply_overrides(base, ["model.params.kind=square"])["model"]["params"] == {"kind": "square", "hidden": 64}


def test_set_under_a_defaulted_component_merges_into_the_default() -> None:
    """``optimizer.params.lr`` on a config that leaves the optimizer out sets the default adam's learning rate (not
    an optimizer without a name); another ``name`` still keeps none of the default's params."""
    assert apply_overrides({}, ["optimizer.params.lr=0.1"])["optimizer"] == {"name": "adam", "params": {"lr": 0.1}}
    assert apply_overrides({}, ["optimizer.name=sgd"])["optimizer"] == {"name": "sgd"}
    assert apply_overrides({}, ["optimizer.params.momentum=0.9", "optimizer.name=sgd"])["optimizer"] == {
        "name": "sgd", "params": {"momentum": 0.9}}
    weights = apply_overrides({"task": {"heads": {}}}, ["task.balancing.params.weights={label: 2}"])["task"]["balancing"]
    assert weights == {"name": "fixed", "params": {"weights": {"label": 2}}}
    assert apply_overrides({}, ["trainer.early_stopping.patience=2"])["trainer"]["early_stopping"] == {"patience": 2}


def test_set_under_a_components_params_merges_into_the_default_of_that_parameter() -> None:
    """``--set data.params.source.config.processes.signal.cross_section_pb=0.01`` (docs/collider.md) changes that one
    value of the default signal and keeps the other default processes, as ``simulate collider --set`` does; a section
    of settings that all have defaults is not filled (its event count would contradict the source's ``events``)."""
    from showerlearn.collider.simulation import default_processes

    key = "data.params.source.config.processes.signal.cross_section_pb"
    config = load_config(EXAMPLES / "collider_multiscale.yaml", [f"{key}=0.01"]).data.params["source"]["config"]
    expected = {name: process.model_dump(mode="json") for name, process in default_processes().items()}
    expected["signal"]["cross_section_pb"] = 0.01
    assert config["processes"] == expected and config["signal_mass"] == 600
    data = apply_overrides({"data": {"name": "collider", "params": {"source": {"kind": "simulate", "events": 500}}}},
                           ["data.params.source.config.signal_mass=450"])
    assert data["data"]["params"]["source"] == {"kind": "simulate", "events": 500, "config": {"signal_mass": 450}}
    # processes the config gives replace the default ones whole: none of those is added by a --set naming it
    given = {"sig": {"settings": ["HardQCD:all = on"], "signal": True, "fraction": 1.0}}
    source = {"kind": "simulate", "config": {"processes": given}}
    data = apply_overrides({"data": {"name": "collider", "params": {"source": source}}},
                           ["data.params.source.config.processes.ttbar.fraction=0"])
    assert data["data"]["params"]["source"]["config"]["processes"] == {**given, "ttbar": {"fraction": 0}}


def test_a_number_with_a_leading_zero_given_by_set_is_decimal() -> None:
    """YAML 1.1 reads 010 as octal 8: --set seed=010 trained seed 8."""
    from showerlearn.config.loader import apply_overrides

    data = apply_overrides({}, ["seed=010", "trainer.max_epochs=007", "name=run_010"])
    assert (data["seed"], data["trainer"]["max_epochs"], data["name"]) == (10, 7, "run_010")


def test_colon_separated_digits_given_by_set_are_text(tabular_config: dict) -> None:
    """YAML 1.1 reads 1:00:00:00 as the base-60 number 216000: --set trainer.max_time=1:00:00:00 means a day."""
    from showerlearn.config import resolve_config
    from showerlearn.config.loader import apply_overrides

    data = apply_overrides(tabular_config, ["trainer.max_time=1:00:00:00"])
    assert data["trainer"]["max_time"] == "1:00:00:00"
    assert resolve_config(data).trainer.max_time == "1:00:00:00"
