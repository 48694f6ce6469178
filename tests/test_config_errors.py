"""Config errors a newcomer meets (issue 20): every misspelt key at once, a clean error for a bad --set."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from showerlearn.cli.main import app
from showerlearn.config import ConfigError, dump_config, load_config, resolve_config
from showerlearn.config.loader import read_yaml
from showerlearn.engine.sweep import sweep
from showerlearn.family import new_run_problems


def _write(tmp_path: Path, data: dict) -> Path:
    path = tmp_path / "experiment.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_misspelt_keys_at_every_level_are_reported_together(tmp_path: Path, tabular_config: dict) -> None:
    tabular_config["trainr"] = tabular_config.pop("trainer")
    tabular_config["data"]["params"]["batch_sise"] = 4
    tabular_config["model"]["params"]["hiden"] = 8
    with pytest.raises(ConfigError) as error:
        load_config(_write(tmp_path, tabular_config))
    problems = "\n".join(error.value.problems)
    assert "trainr: unknown key (did you mean 'trainer'?)" in problems
    assert "data.params.batch_sise: unknown key (did you mean 'batch_size'?)" in problems
    assert "model.params.hiden: unknown key (did you mean 'hidden'?)" in problems


def test_a_key_written_above_where_it_belongs_is_pointed_to_its_place() -> None:
    """``--set generator_margin=0.5`` to ``simulate collider``: the key is ``selection.generator_margin``."""
    from pydantic import ValidationError

    from showerlearn.collider.simulation.config import ColliderSimulationConfig
    from showerlearn.config.errors import format_validation_error

    with pytest.raises(ValidationError) as error:
        ColliderSimulationConfig.model_validate({"generator_margin": 0.5, "fatjet_eta_max": 2.0})
    problems = format_validation_error(error.value, ColliderSimulationConfig)
    assert problems[0].startswith("generator_margin: unknown key (did you mean 'selection.generator_margin'?)")
    assert problems[1].startswith("fatjet_eta_max: unknown key (did you mean 'selection.fatjet_eta_max'?)")
    with pytest.raises(ValidationError) as error:  # a key of several nested models: each place, before a close match
        ColliderSimulationConfig.model_validate({"resolution": 0.1})
    assert format_validation_error(error.value, ColliderSimulationConfig)[0].startswith(
        "resolution: unknown key (did you mean 'detector.ecal.resolution' or 'detector.hcal.resolution'")


def test_a_required_key_at_fault_still_gives_one_clear_error(tmp_path: Path, tabular_config: dict) -> None:
    tabular_config["data"] = "not a component"
    with pytest.raises(ConfigError) as error:
        load_config(_write(tmp_path, tabular_config))
    assert any(problem.startswith("data") for problem in error.value.problems)


def test_a_set_value_that_is_not_plain_yaml_is_refused_without_running_it(tmp_path: Path, tabular_config: dict) -> None:
    marker = tmp_path / "ran"
    tag = f"!!python/object/apply:os.system [\"touch {marker}\"]"
    with pytest.raises(ConfigError, match="not plain YAML"):
        load_config(_write(tmp_path, tabular_config), [f"seed={tag}"])
    result = CliRunner().invoke(app, ["config", "validate", str(_write(tmp_path, tabular_config)), "--set", f"seed={tag}"])
    assert result.exit_code != 0
    output = " ".join(result.output.split())  # the terminal wraps long lines
    assert "not plain YAML" in output and "Traceback" not in output
    assert not marker.exists()


def test_yaml_errors_keep_their_brackets_and_a_missing_base_is_named_from_its_extends(tmp_path: Path) -> None:
    unclosed = tmp_path / "unclosed.yaml"
    unclosed.write_text("name: x\ndata:\n  params:\n    files: [sim.dl1.h5, other.h5\nseed: 1\n")
    result = CliRunner().invoke(app, ["config", "validate", str(unclosed)])
    assert result.exit_code == 2 and "expected ',' or ']'" in " ".join(result.output.split())  # not eaten as markup
    variant = tmp_path / "variant.yaml"
    variant.write_text("extends: does_not_exist.yaml\nseed: 2\n")
    with pytest.raises(ConfigError, match=r"variant.yaml:\s+- extends: does_not_exist.yaml: no such config file \(/"):
        load_config(variant)


@pytest.mark.parametrize(("files", "problem"), [
    ({"a.yaml": "extends: b.yaml\n", "b.yaml": "extends: c.yaml\n", "c.yaml": "extends: a.yaml\n"},
     "extends: a.yaml: the configs extend each other in a cycle: {a} -> {b} -> {c} -> {a}"),
    ({"a.yaml": "extends: a.yaml\n"}, "extends: a.yaml: the configs extend each other in a cycle: {a} -> {a}"),
    ({"a.yaml": "extends: null\n"}, "extends: expected the name of one config file, got None"),
    ({"a.yaml": "extends: [b.yaml]\n"}, "extends: expected the name of one config file, got ['b.yaml']"),
    ({"a.yaml": "extends: ''\n"}, "extends: expected the name of one config file, got ''"),
    ({"a.yaml": "# nothing yet\n"}, "the file is empty (or only comments): a config is a mapping of keys"),
    ({"a.yaml": "- name: x\n"}, "expected a mapping of keys at the top level, got a list"),
])
def test_a_config_file_that_is_no_mapping_or_extends_wrongly_is_named(tmp_path: Path, files: dict[str, str],
                                                                      problem: str) -> None:
    """A cycle is named as the whole chain; extends takes one file name, not a list or null."""
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    paths = {name[0]: tmp_path / f"{name[0]}.yaml" for name in "abc"}
    with pytest.raises(ConfigError) as error:
        load_config(paths["a"])
    assert problem.format(**{key: path.resolve() for key, path in paths.items()}) in "\n".join(error.value.problems)


def test_a_key_given_twice_is_refused_and_merged_keys_may_be_overridden(tmp_path: Path) -> None:
    """PyYAML keeps the last of two equal keys silently: a second ``seed:`` further down would win unseen."""
    twice = tmp_path / "twice.yaml"
    twice.write_text("name: x\nseed: 1\ndata: {name: tabular, params: {}}\nseed: 2\n")
    with pytest.raises(ConfigError, match=r"(?s)twice.yaml:\s+- not valid YAML: .*found the key 'seed' twice.*line 4"):
        load_config(twice)
    merged = tmp_path / "merged.yaml"
    merged.write_text("base: &base {a: 1, b: 2}\nother:\n  <<: *base\n  a: 3\n")
    assert read_yaml(merged)["other"] == {"a": 3, "b": 2}


def test_a_typo_in_a_tagged_source_is_one_line_with_its_fix() -> None:
    """The collider ``source`` is a union chosen by ``kind``: an error names the key as written (no tag in the
    path), with the likely fix, and not every member's complaints."""
    with pytest.raises(ConfigError) as caught:
        load_config(REPOSITORY / "examples/collider_multiscale.yaml", ["data.params.source.evnts=100"])
    assert caught.value.problems == [caught.value.problems[0]]
    assert caught.value.problems[0].startswith("data.params.source.evnts: unknown key (did you mean 'events'?)")


def test_a_misspelt_kind_or_a_short_list_of_fractions_says_what_is_expected() -> None:
    """Not pydantic's words (its discriminator function, the first missing position of a tuple)."""
    with pytest.raises(ConfigError) as caught:
        load_config(REPOSITORY / "examples/collider_multiscale.yaml", ["data.params.source.kind=generatd"])
    assert caught.value.problems == ["data.params.source.kind: unknown kind 'generatd' (did you mean 'generated'?); "
                                     "expected one of generated, simulate, delphes, npz, columnar"]
    with pytest.raises(ConfigError) as caught:
        load_config(REPOSITORY / "examples/collider_multiscale.yaml", ["data.params.source.kind=null"])
    assert caught.value.problems == ["data.params.source.kind: none given; expected one of generated, simulate, delphes, "
                                     "npz, columnar"]
    for fractions, given in (("[0.5, 0.5]", 2), ("[]", 0)):  # once, not once per missing value
        with pytest.raises(ConfigError) as caught:
            load_config(REPOSITORY / "examples/calorimeter_transformer.yaml", [f"data.params.split.fractions={fractions}"])
        assert caught.value.problems == [f"data.params.split.fractions: expected 3 values, got {given} ({fractions})"]


def test_hdf5_back_traces_only_with_verbose(tmp_path: Path) -> None:
    import tables

    from showerlearn.cli.common import brief, set_verbose

    good = tmp_path / "good.h5"
    with tables.open_file(good, "w") as file:
        file.create_array("/", "x", list(range(1000)))
    truncated = tmp_path / "truncated.h5"
    truncated.write_bytes(good.read_bytes()[:1000])
    with pytest.raises(tables.HDF5ExtError) as error:  # PyTables appends libhdf5's back trace to the message
        tables.open_file(truncated, "r")
    message = str(error.value)
    assert "End of HDF5 error back trace" in message
    try:
        assert "H5F" not in brief(message) and "truncated.h5" in brief(message)
        assert "showerlearn --verbose" in brief(message)
        set_verbose(True)
        assert brief(message) == message
    finally:
        set_verbose(False)


def test_the_number_of_simulated_events_is_one_key_in_a_resolved_config() -> None:
    from showerlearn.config import dump_config

    config = load_config(Path(__file__).resolve().parents[1] / "examples" / "calorimeter_r3b_window.yaml",
                         ["data.params.simulate.events=123"])
    simulate = yaml.safe_load(dump_config(config))["data"]["params"]["simulate"]
    assert "events" not in simulate and simulate["config"]["n_events"] == 123
    with pytest.raises(ConfigError, match="both set the number of events"):
        load_config(Path(__file__).resolve().parents[1] / "examples" / "calorimeter_r3b_window.yaml",
                    ["data.params.simulate.events=123", "data.params.simulate.config.n_events=50"])


REPOSITORY = Path(__file__).resolve().parents[1]
# benchmarks/results/<study>/runs/ holds a benchmark's own runs, not committed (.gitignore): left out
SHIPPED_CONFIGS = sorted([*REPOSITORY.glob("examples/*.yaml"),
                          *(path for path in REPOSITORY.glob("benchmarks/results/**/*.yaml")
                            if path.relative_to(REPOSITORY).parts[3:4] != ("runs",))])


@pytest.mark.parametrize("path", SHIPPED_CONFIGS, ids=lambda path: str(path.relative_to(REPOSITORY)))
def test_every_shipped_config_still_loads(path: Path, tmp_path: Path) -> None:
    """The examples, and the resolved configs of the committed benchmark runs (every YAML file there is one), which the results' READMEs
    redraw (``physics_vs_baseline.py --runs``) and retrain from: a schema change must migrate them. What a run
    keeps of it (its resolved config.yaml) loads back as the same config (an infinite detector-card edge was
    written as null, so every collider run failed when it read its own config.yaml after training)."""
    config = load_config(path)
    kept = tmp_path / "config.yaml"
    kept.write_text(dump_config(config))
    assert dump_config(load_config(kept)) == dump_config(config)


def test_a_value_fitting_no_member_of_a_plain_union_is_one_line_at_the_key_written(tabular_config: dict) -> None:
    from showerlearn.config import resolve_config
    from showerlearn.config.loader import apply_overrides

    data = apply_overrides(
        tabular_config, ["optimizer.name=adam", "optimizer.params.lr=fast", "trainer.devices=[1.5]", "trainer.compile=fast"]
    )
    with pytest.raises(ConfigError) as error:
        resolve_config(data)
    assert error.value.problems == [
        "trainer.devices: expected a number of devices (>= 1, or -1 for all), 'auto', or distinct device ids ([0, 2] or "
        "'0,2') (got [1.5])",
        # a member that is a list of choices keeps every choice
        "trainer.compile: expected a boolean or 'default', 'reduce-overhead', 'max-autotune' or "
        "'max-autotune-no-cudagraphs' (got 'fast')",
        "optimizer.params.lr: expected a number or an instance of Tensor (got 'fast')",
    ]
    # members that name the same alternative (a dataclass's "a dictionary or an instance of X", a mapping's "a
    # dictionary") name it once
    iact = Path(__file__).resolve().parents[1] / "examples" / "hillas_rf_small.yaml"
    with pytest.raises(ConfigError) as error:
        load_config(iact, ["evaluation.params.simulated=true"])
    assert error.value.problems == [
        "evaluation.params.simulated: expected a dictionary or an instance of SimulatedEvents or False (got True)"]


def test_a_union_member_that_is_a_model_leaves_only_the_keys_written() -> None:
    from pydantic import BaseModel, ConfigDict, ValidationError

    from showerlearn.config.errors import format_validation_error

    class Inner(BaseModel):
        model_config = ConfigDict(extra="forbid")
        size: int

    class Outer(BaseModel):
        part: int | Inner

    with pytest.raises(ValidationError) as error:
        Outer.model_validate({"part": {"size": "big", "colour": 1}})
    assert format_validation_error(error.value, Outer) == [
        "part: Input should be a valid integer (got {'size': 'big', 'colour': 1})",
        "part.size: Input should be a valid integer, unable to parse string as an integer (got 'big')",
        "part.colour: unknown key; allowed keys here: size",
    ]


# --- what a run would only find after reading or simulating its data: reported by `config validate` ----------
def _validate(config: Path, *overrides: str) -> str:
    """The output of ``showerlearn config validate`` (exit code 2 expected), unwrapped from the terminal's width."""
    arguments = ["config", "validate", str(config)] + [part for override in overrides for part in ("--set", override)]
    result = CliRunner().invoke(app, arguments)
    assert result.exit_code == 2, result.output
    return " ".join(result.output.split())


@pytest.mark.parametrize("example", ["gamma_physnet_da_small.yaml", "calorimeter_r3b_window.yaml"])
def test_files_and_simulate_together_or_neither_are_one_line_naming_both_keys(example: str) -> None:
    """The DataModule's constructor refuses both (or neither), but only once a run builds it."""
    path = REPOSITORY / "examples" / example
    for override, found in (("data.params.files=[events.h5]", "both given; give exactly one, the other null"),
                            ("data.params.simulate=null", "neither given; give exactly one")):
        with pytest.raises(ConfigError) as caught:
            load_config(path, [override])
        assert caught.value.problems == [
            f"data.params.files, data.params.simulate: {found}: `files` (paths or glob patterns of the files to "
            "read) or `simulate` (the settings of the events to simulate)"
        ]
    assert f"invalid config {path} with --set data.params.files=[events.h5]: - data.params.files, data.params.simulate: both given" in _validate(
        path, "data.params.files=[events.h5]"
    )


def test_a_misspelt_forest_argument_of_the_hillas_baseline_names_the_forests_keys() -> None:
    """scikit-learn would refuse ``n_estimator`` only when ``fit`` builds the forest, after the features."""
    path = REPOSITORY / "examples" / "hillas_rf_small.yaml"
    overrides = ["estimator.params.energy_regressor_args={n_estimator: 10}",
                 "estimator.params.particle_classifier_args={n_estimators: 10, criterion: entropy, max_dept: 3}"]
    with pytest.raises(ConfigError) as caught:
        load_config(path, overrides)
    energy, particle = caught.value.problems
    assert energy.startswith("estimator.params.energy_regressor_args.n_estimator: unknown key (did you mean "
                             "'n_estimators'?); allowed keys here (RandomForestRegressor arguments): bootstrap, ")
    assert particle.startswith("estimator.params.particle_classifier_args.max_dept: unknown key (did you mean "
                               "'max_depth'?); allowed keys here (RandomForestClassifier arguments): bootstrap, ")
    assert "class_weight" in particle and "class_weight" not in energy  # each forest's own get_params()
    assert "energy_regressor_args.n_estimator: unknown key (did you mean 'n_estimators'?)" in _validate(path, overrides[0])
    config = load_config(path, ["estimator.params.energy_regressor_args={n_estimators: 10, max_depth: 5}"])
    assert config.estimator.params["energy_regressor_args"] == {"n_estimators": 10, "max_depth": 5}


def test_a_task_head_the_network_does_not_return_names_the_networks_heads() -> None:
    """The task would find the head missing only at the first training step, after the data is simulated."""
    path = REPOSITORY / "examples" / "gamma_physnet_da_small.yaml"
    with pytest.raises(ConfigError) as caught:
        load_config(path, ["task.heads.enrgy={loss: l1, metrics: [mae]}"])
    assert caught.value.problems == [
        "task.heads.enrgy: unknown head (did you mean 'energy'?); model gamma_physnet_da returns the heads direction, "
        "energy, impact, particle"
    ]
    assert "task.heads.enrgy: unknown head (did you mean 'energy'?)" in _validate(path, "task.heads.enrgy={loss: l1}")


def test_the_heads_of_a_network_sized_by_its_params_come_from_its_params(tabular_config: dict) -> None:
    from showerlearn.config import resolve_config

    tabular_config["model"] = {"name": "mlp", "params": {"heads": {"label": 2}}}
    resolve_config(tabular_config)
    tabular_config["task"]["heads"]["energy"] = {"loss": "l1"}
    with pytest.raises(ConfigError) as caught:
        resolve_config(tabular_config)
    assert caught.value.problems == ["task.heads.energy: unknown head; model mlp returns the heads label"]
    tabular_config["model"] = {"name": "engine_plugins:TinyClassifier", "params": {"hidden": 8}}
    resolve_config(tabular_config)  # a user's network that declares no heads: its first step checks them


def test_a_run_whose_config_this_code_cannot_read_names_the_code_that_wrote_it(tmp_path: Path, tabular_config: dict) -> None:
    """A run made by other code (an older version, uncommitted changes) may hold keys this code lacks: say so."""
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.yaml").write_text(yaml.safe_dump({**tabular_config, "from_other_code": 1}))
    written = {"packages": {"showerlearn": "0.0.9"}, "git": {"commit": "0123456789abcdef", "dirty": True}}
    (run / "environment.json").write_text(json.dumps(written))
    result = CliRunner().invoke(app, ["evaluate", str(run)])
    message = " ".join(result.output.split())
    assert result.exit_code == 2 and "from_other_code: unknown key" in message
    assert "this run was written by showerlearn 0.0.9 at commit 0123456 with uncommitted changes; this is showerlearn" in message
    # read with --set (as predict does): the line stays, and the message names the overrides
    result = CliRunner().invoke(app, ["config", "validate", str(run / "config.yaml"), "--set", "seed=4", "--set", "trainer.max_epochs=2"])
    unwrapped = "".join(result.output.split())  # the terminal may break the long path anywhere
    assert f"{run / 'config.yaml'}with--setseed=4--settrainer.max_epochs=2" in unwrapped and "thisrunwaswrittenby" in unwrapped
    # a damaged record only loses the line
    (run / "environment.json").write_text(json.dumps({"packages": ["showerlearn"], "git": "abc"}))
    result = CliRunner().invoke(app, ["evaluate", str(run)])
    assert result.exit_code == 2 and "from_other_code: unknown key" in result.output and "written by" not in result.output
    # a config file outside a run: no such line
    (run / "environment.json").unlink()
    result = CliRunner().invoke(app, ["evaluate", str(run)])
    assert result.exit_code == 2 and "written by" not in result.output


def test_a_photopeak_window_of_another_resolution_than_the_simulated_one_is_refused() -> None:
    example = REPOSITORY / "examples" / "calorimeter_transformer.yaml"
    simulated = "data.params.simulate.config.resolution_fwhm_662=0.05"
    result = CliRunner().invoke(app, ["config", "validate", str(example), "--set", simulated])
    message = " ".join(result.output.split())
    assert result.exit_code == 2 and "evaluation.params.resolution_fwhm_662: 0.077 differs from" in message
    assert new_run_problems(load_config(example, [simulated])) != []
    assert new_run_problems(load_config(example, [simulated, "evaluation.params.resolution_fwhm_662=0.05"])) == []
    assert new_run_problems(load_config(example)) == []


def test_hit_files_of_another_resolution_than_the_photopeak_window_are_refused(tmp_path: Path) -> None:
    """Training on simulated hit files (not the config's simulation): the resolution they record counts."""
    from showerlearn.calorimeter.simulation import CalorimeterSimulationConfig, simulate_calorimeter

    for name, resolution in (("a", 0.03), ("b", 0.03), ("c", 0.05)):
        simulate_calorimeter(CalorimeterSimulationConfig(n_events=3, resolution_fwhm_662=resolution), tmp_path / f"{name}.h5",
                             seed=1, n_jobs=1, progress=False)
    example = REPOSITORY / "examples" / "calorimeter_r3b_window.yaml"

    def problems(files: str, *more: str) -> str:
        config = load_config(example, ["data.params.simulate=null", f"data.params.files=[{files}]", *more])
        return " ".join(new_run_problems(config))

    window = "evaluation.params.resolution_fwhm_662"
    assert f"{window}: 0.077 differs from the simulated crystals' {tmp_path / 'a.h5'}'s simulation (0.03)" in problems(
        str(tmp_path / "a.h5"))
    assert problems(f"{tmp_path / 'a.h5'}, {tmp_path / 'b.h5'}", f"{window}=0.03") == ""
    assert "hit files simulated with different crystal resolutions" in problems(str(tmp_path / "*.h5"), f"{window}=0.03")
    # a missing file: named once, as missing (no resolution to compare)
    assert problems(str(tmp_path / "missing.h5")) == f"data.params.files: no such file: {tmp_path / 'missing.h5'} (a " \
                                                     f"relative path is read from the working folder, {Path.cwd()})"
    # a config naming no resolution: the evaluator's default window, 0.077, is the one compared
    config = load_config(example, ["data.params.simulate=null", f"data.params.files=[{tmp_path / 'a.h5'}]"])
    config.evaluation.params.pop("resolution_fwhm_662", None)
    assert "0.077 differs from the simulated crystals'" in " ".join(new_run_problems(config))


def test_a_collider_network_reading_pairwise_features_needs_the_pair_inputs() -> None:
    example = REPOSITORY / "examples" / "collider_multiscale_pairwise.yaml"
    assert new_run_problems(load_config(example)) == []
    result = CliRunner().invoke(app, ["config", "validate", str(example), "--set", "data.params.pair_inputs=false"])
    message = " ".join(result.output.split())
    assert result.exit_code == 2
    assert "model.params.pair_features and model.params.cross_pair_features: the network computes pairwise" in message
    assert new_run_problems(load_config(example, ["model.params.pair_features=false", "model.params.cross_pair_features=false",
                                                  "data.params.pair_inputs=false"])) == []


@pytest.mark.parametrize(("setting", "problem"), [
    ("evaluation.params.baseline=runs/nothere", "evaluation.params.baseline: runs/nothere not found (give a predictions file"),
    ("evaluation.params.requirements=/nope", "evaluation.params.requirements: CTA requirements folder /nope does not exist"),
    ("evaluation.params.requirement_set=Nrth", "evaluation.params.requirement_set: Input should be 'North-LST', 'North-MST'"),
    ("evaluation.params.energy_bins=[1,0.1]", "evaluation.params.energy_bins: bin edges must be at least two increasing"),
    ("evaluation.params.gammaness_cut=1.5", "evaluation.params.gammaness_cut: Input should be less than or equal to 1"),
])
def test_the_iact_evaluations_settings_are_checked_before_training(setting: str, problem: str, tmp_path: Path) -> None:
    """The evaluator reads them after the training: a wrong one failed the run after all its compute, and a finished
    run's settings cannot be changed."""
    example = REPOSITORY / "examples" / "gamma_physnet_da_small.yaml"
    result = CliRunner().invoke(app, ["config", "validate", str(example), "--set", setting])
    assert result.exit_code == 2 and problem in " ".join(result.output.split()), result.output
    requirements = tmp_path / "requirements"
    requirements.mkdir()
    (requirements / "cta_requirements_South-50h-SST-AngRes.dat").write_text("0.1 0.2\n1.0 0.1\n")
    result = CliRunner().invoke(app, ["config", "validate", str(example), "--set", f"evaluation.params.requirements={requirements}"])
    assert result.exit_code == 2 and "no cta_requirements_North-*-LST*.dat files in" in " ".join(result.output.split())
    # a new run's check only: a finished run's config read again (predict --set, from any folder) is not refused
    from showerlearn.family import family_of

    config = load_config(example, ["evaluation.params.baseline=runs/nothere"])
    assert family_of(config).experiment_problems(config) == [] and len(new_run_problems(config)) == 1


def test_a_file_that_is_not_text_is_named_as_such(tmp_path: Path) -> None:
    image = tmp_path / "figure.png"
    image.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00")
    result = CliRunner().invoke(app, ["config", "validate", str(image)])
    message = "".join(result.output.split())  # the terminal wraps the long path anywhere
    assert result.exit_code == 2 and "figure.png:" in message and "notaYAMLtextfile" in message


@pytest.mark.parametrize(("setting", "problem"), [
    ("model.params.hidden=-4", "model.params.hidden: Input should be greater than or equal to 1"),
    ("model.params.layers=0", "model.params.layers: Input should be greater than or equal to 1"),
    ("model.params.dropout=1.0", "model.params.dropout: Input should be less than 1"),
    ("data.params.batch_size=-1", "data.params.batch_size: Input should be greater than or equal to 1"),
    ("data.params.num_workers=-2", "data.params.num_workers: Input should be greater than or equal to 0"),
    ("optimizer.params.lr=nan", "optimizer.params.lr: expected a finite number"),
    ("seed=-1", "seed: Input should be greater than or equal to 0"),
    ("evaluation.params.spectrum_bin_mev=0", "evaluation.params.spectrum_bin_mev: Input should be greater than 0"),
    ("evaluation.params.n_sigma=-2", "evaluation.params.n_sigma: Input should be greater than 0"),
    ("evaluation.params.energy_bins=[5,1]", "evaluation.params.energy_bins: bin edges must be at least two increasing"),
    ("evaluation.params.energy_bins=[]", "evaluation.params.energy_bins: bin edges must be at least two increasing"),
    ("evaluation.params.figure_formats=[foo]", "evaluation.params.figure_formats.0: Input should be 'png', 'pdf'"),
    # pydantic reads true as 1: a boolean for a number is a mistake, at every level of the config
    ("seed=true", "seed: expected a number, not a boolean"),
    ("trainer.max_epochs=yes", "trainer.max_epochs: expected a number, not a boolean"),
    ("model.params.dropout=false", "model.params.dropout: expected a number, not a boolean"),
    ("data.params.split.seed=true", "data.params.split.seed: expected a number, not a boolean"),
    ("data.params.simulate.config.beta=true", "data.params.simulate.config.beta: expected a number, not a boolean"),
    ("optimizer.params.lr=true", "optimizer.params.lr: expected a number, not a boolean"),  # float | Tensor
    ("data.params.split.fractions=[true,0.2,0.1]", "data.params.split.fractions: item 0: expected a number, not a boolean"),
    # Lightning's Trainer would refuse these only once the data is loaded
    ("trainer.devices=abc", "trainer.devices: expected a number of devices (>= 1, or -1 for all), 'auto'"),
    ("trainer.devices=-3", "trainer.devices: expected a number of devices"),
    ("trainer.devices=[1,1]", "trainer.devices: expected a number of devices"),
])
def test_a_bad_value_is_refused_by_its_key_before_a_run_starts(setting: str, problem: str, tmp_path: Path) -> None:
    """Not by the constructor (or numpy) once the run folder exists; and the message names the --set it came from."""
    example = REPOSITORY / "examples" / "calorimeter_pair_mlp.yaml"
    result = CliRunner().invoke(app, ["train", str(example), "--set", setting, "--set", f"output_dir={tmp_path}"])
    message = " ".join(result.output.split())
    assert result.exit_code == 2 and problem in message, message
    assert f"invalidconfig{example}with--set{setting}" in "".join(result.output.split())  # a long path may wrap anywhere
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize(("setting", "problem"), [
    ("optimizer.params.lr=-1", "optimizer.params: Invalid learning rate: -1.0"),
    ("optimizer.params.betas=[2,3]", "optimizer.params: Invalid beta parameter at index 0: 2.0"),
    ("name=../../escape", "name: '../../escape' is not the name of one folder in output_dir: without / or \\, and not . or .."),
    ("trainer.accelerator=abc", "trainer.accelerator: 'abc' is not a name Lightning knows; it knows auto, cpu, cuda, gpu"),
    ("trainer.strategy=dpp", "trainer.strategy: 'dpp' is not a name Lightning knows (did you mean 'ddp'?)"),
])
def test_a_new_runs_rules_are_checked_before_its_folder_exists(setting: str, problem: str, tmp_path: Path) -> None:
    """Rules of a new run beyond the schema (a stored run's config still loads): torch checks an optimizer's values
    only when it is built, so the check builds it on a stand-in; a run name is one folder of output_dir."""
    example = REPOSITORY / "examples" / "calorimeter_pair_mlp.yaml"
    validated = CliRunner().invoke(app, ["config", "validate", str(example), "--set", setting])
    assert validated.exit_code != 0 and problem in " ".join(validated.output.split()), validated.output
    result = CliRunner().invoke(app, ["train", str(example), "--set", setting, "--set", f"output_dir={tmp_path}"])
    assert result.exit_code == 2 and problem in " ".join(result.output.split()), result.output
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize(("example", "setting"), [
    ("gamma_physnet_small.yaml", "data.params.cuts.min_intensity=nan"),  # a cut at nan removed every event
    ("gamma_physnet_small.yaml", "data.params.cleaning.picture_thresh=nan"),
    ("calorimeter_pair_mlp.yaml", "data.params.decoding.pair_threshold=inf"),
])
def test_nan_and_infinity_are_refused_in_every_settings_section(example: str, setting: str) -> None:
    """A NaN passes every range check: refused in each section of settings alike, not only in some."""
    result = CliRunner().invoke(app, ["config", "validate", str(REPOSITORY / "examples" / example), "--set", setting])
    key = setting.partition("=")[0]
    assert result.exit_code == 2 and f"{key}: Input should be a finite number" in " ".join(result.output.split()), result.output


def test_a_run_without_test_events_is_refused_before_it_trains() -> None:
    example = REPOSITORY / "examples" / "calorimeter_pair_mlp.yaml"
    assert new_run_problems(load_config(example, ["data.params.split.fractions=[1,0,0]"])) == [
        "data.params.split.fractions: [1.0, 0.0, 0.0] leaves no test events; a run predicts and evaluates its test "
        "split: give it a share (0.15, say)"]
    assert new_run_problems(load_config(example, ["data.params.split.fractions=[0.9,0,0.1]"])) == []  # no validation: fine


@pytest.mark.parametrize(("setting", "problem"), [
    ("model.params.hidden=[16,0]", "model.params.hidden.1: Input should be greater than or equal to 1"),
    ("data.params.split.seed=-1", "data.params.split.seed: Input should be greater than or equal to 0"),
])
def test_sizes_inside_lists_and_the_split_seed_are_checked_too(setting: str, problem: str, tabular_config: dict,
                                                                 tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(_write(tmp_path, {**tabular_config, "model": {"name": "mlp", "params": {"hidden": [16, 16]}}}), [setting])
    assert problem in "\n".join(caught.value.problems)


def test_a_sweep_past_the_last_seed_is_refused_before_it_starts(tabular_config: dict) -> None:
    config = resolve_config({**tabular_config, "seed": 2**32 - 2})
    with pytest.raises(ConfigError, match=r"a sweep of 3 seeds from 4294967294 ends at 4294967296, past 2\*\*32 - 1"):
        sweep(config, 3, progress=False)


@pytest.mark.parametrize("example", ["collider_multiscale.yaml", "collider_concat.yaml", "collider_one_scale.yaml",
                                     "collider_constituents.yaml"])
def test_a_feed_forward_ratio_must_be_above_zero(example: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(REPOSITORY / "examples" / example, ["model.params.mlp_ratio=0"])
    assert "model.params.mlp_ratio: Input should be greater than 0" in "\n".join(caught.value.problems)


def test_a_tiny_feed_forward_ratio_still_leaves_a_hidden_unit() -> None:
    from showerlearn.collider.nn.attention import AttentionBlock

    block = AttentionBlock(dim=8, heads=2, mlp_ratio=0.01)
    assert block.mlp[0].out_features == 1


@pytest.mark.parametrize("devices", [1, 2, -1, [0, 2], "auto", "2", "0,2", "0,", "-1"])
def test_every_form_of_devices_lightning_reads_is_kept(devices: object) -> None:
    example = REPOSITORY / "examples" / "calorimeter_pair_mlp.yaml"
    assert load_config(example, [f"trainer.devices={devices!r}" if isinstance(devices, str) else f"trainer.devices={devices}"]
                       ).trainer.devices == devices


@pytest.mark.parametrize(("example", "settings", "problem"), [
    ("gamma_physnet_da_small.yaml", ["data.params.files=[nothere.h5]", "data.params.simulate=null"],
     "data.params.files: no such file: nothere.h5"),
    ("calorimeter_r3b_window.yaml", ["data.params.files=[hits*.h5]", "data.params.simulate=null"],
     "data.params.files: pattern 'hits*.h5' matches no file"),
    ("collider_mlp.yaml", ["data.params.source={kind: generated, files: [nothere.h5]}"],
     "data.params.source.files: no such file: nothere.h5"),
])
def test_a_missing_input_file_leaves_no_failed_run_behind(example: str, settings: list[str], problem: str, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """Refused before the run's folder exists: a failed run left by a typo made the README's one-run globs match two."""
    monkeypatch.chdir(tmp_path)
    overrides = [item for setting in [*settings, f"output_dir={tmp_path / 'runs'}"] for item in ("--set", setting)]
    result = CliRunner().invoke(app, ["train", str(REPOSITORY / "examples" / example), *overrides])
    assert result.exit_code == 2 and problem in " ".join(result.output.split()), result.output
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize(("family", "place"), [("calorimeter", "data.params.simulate.config"), ("iact", "data.params.simulate.config"),
                                               ("collider", "data.params.source.config")])
def test_a_training_config_given_to_simulate_is_named_as_such(family: str, place: str, tmp_path: Path) -> None:
    """Not a list of its keys as unknown settings: where an experiment holds its simulation settings."""
    output = tmp_path / "events.h5"
    result = CliRunner().invoke(app, ["simulate", family, "--events", "10", "--output", str(output), "--config",
                                      str(REPOSITORY / "examples/calorimeter_transformer.yaml")])
    text = " ".join(result.output.split())
    assert result.exit_code == 2 and "a training config (it has data," in text and place in text, result.output
    assert "unknown key" not in text and not output.exists()
