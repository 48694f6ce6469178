"""Config loading: validation errors name the key, suggest the fix, and happen before any work."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from showerlearn.cli.main import app
from showerlearn.config import ConfigError, apply_overrides, dump_config, load_config, resolve_config
from showerlearn.engine.runner import train
from showerlearn.family import new_run_problems
from showerlearn.registry import MODELS, Registry, UnknownComponentError


@pytest.fixture
def valid(tabular_config: dict) -> dict:
    return tabular_config


def write(tmp_path: Path, data: dict) -> Path:
    path = tmp_path / "experiment.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_valid_config_resolves_defaults(tmp_path: Path, valid: dict) -> None:
    config = load_config(write(tmp_path, valid))
    assert config.trainer.max_epochs == valid["trainer"]["max_epochs"]
    # defaults of the component's constructor are filled in
    assert config.data.params["standardize"] is True
    assert config.model.params["hidden"] == 8
    assert "seed" not in config.data.params  # injected by the engine, not user-settable
    # the dump is a valid config again (what run directories store)
    assert dump_config(resolve_config(yaml.safe_load(dump_config(config)))) == dump_config(config)


def test_misspelt_top_level_key_is_named_with_suggestion(tmp_path: Path, valid: dict) -> None:
    valid["trainer"]["max_epoch"] = valid["trainer"].pop("max_epochs")
    with pytest.raises(ConfigError) as error:
        load_config(write(tmp_path, valid))
    assert "trainer.max_epoch: unknown key (did you mean 'max_epochs'?)" in str(error.value)


def test_component_params_checked_against_constructor(tmp_path: Path, valid: dict) -> None:
    valid["data"]["params"]["featurs"] = valid["data"]["params"].pop("features")
    valid["data"]["params"]["batch_size"] = "many"
    valid["task"]["heads"]["label"]["loss"] = "cross_entropie"
    with pytest.raises(ConfigError) as error:
        load_config(write(tmp_path, valid))
    problems = "\n".join(error.value.problems)
    assert "data.params.featurs: unknown key (did you mean 'features'?)" in problems
    assert "data.params.features: required key is missing" in problems
    assert "data.params.batch_size: Input should be a valid integer" in problems
    assert "Did you mean 'cross_entropy'?" in problems


def test_missing_data_file_rejected_before_work(tmp_path: Path, valid: dict) -> None:
    """Refused for a new run, before its folder exists; a finished run's config still loads without its table."""
    valid["data"]["params"]["source"]["path"] = str(tmp_path / "nowhere.csv")
    path = write(tmp_path, valid)
    assert new_run_problems(load_config(path)) == [
        f"data.params.source.path: no such file: {tmp_path / 'nowhere.csv'} (a relative path is read from the working "
        f"folder, {Path.cwd()})"
    ]
    result = CliRunner().invoke(app, ["train", str(path), "--no-progress"])
    assert result.exit_code != 0 and "data.params.source.path:nosuchfile" in "".join(result.output.split())
    assert not Path(valid["output_dir"]).exists()


def test_a_finished_run_with_a_relative_table_is_evaluated_from_another_folder(
    tmp_path: Path, valid: dict, tabular_csv: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The table's relative path is the working folder's of the training: evaluate (which reads no table) works
    from anywhere; predicting the test split again from elsewhere says where the run was trained from, and names the
    missing table by its key."""
    work, elsewhere = tmp_path / "work", tmp_path / "elsewhere"
    work.mkdir(), elsewhere.mkdir()
    (work / "table.csv").write_bytes(tabular_csv.read_bytes())
    valid["data"]["params"]["source"]["path"] = "table.csv"
    valid["trainer"]["max_epochs"] = 1
    monkeypatch.chdir(work)
    run = train(load_config(write(tmp_path, valid)), progress=False)
    monkeypatch.chdir(elsewhere)
    result = CliRunner().invoke(app, ["evaluate", str(run.path)])
    assert result.exit_code == 0, result.output
    from showerlearn.data.tabular import TableError
    from showerlearn.engine.predict import predict_split

    with caplog.at_level("INFO"), pytest.raises(TableError, match=r"table\.csv: no such file \(data\.params\.source\.path"):
        predict_split(run, elsewhere / "again.h5", progress=False)
    assert f"was trained from {work}: its config's relative paths (data files, caches) are read from here, {elsewhere}" \
        in caplog.text


def test_missing_config_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such config file"):
        load_config("does/not/exist.yaml")
    # a run's folder given where its config belongs (config show RUN): the config inside is named
    (tmp_path / "config.yaml").write_text("name: x\n")
    with pytest.raises(ConfigError, match=r"a folder, not a config file: .* \(the config of the run there: .*config.yaml\)"):
        load_config(tmp_path)


def test_overrides_parse_yaml_values(tmp_path: Path, valid: dict) -> None:
    config = load_config(write(tmp_path, valid), ["trainer.max_epochs=7", "model.params.hidden=4", "seed=11"])
    assert (config.trainer.max_epochs, config.model.params["hidden"], config.seed) == (7, 4, 11)
    with pytest.raises(ConfigError, match="not of the form"):
        apply_overrides({}, ["trainer.max_epochs"])


def test_model_xor_estimator(tmp_path: Path, valid: dict) -> None:
    valid.pop("model")
    with pytest.raises(ConfigError, match="exactly one of `model`"):
        load_config(write(tmp_path, valid))


def test_registry_import_path_and_suggestions() -> None:
    registry = Registry("widget", base="builtins:dict")
    registry.add("sprocket", dict)
    assert registry.get("sprocket") is dict
    assert registry.get("collections:OrderedDict").__name__ == "OrderedDict"
    # an import path must name what the registry holds: a subclass of its base, or a non-stdlib function
    with pytest.raises(UnknownComponentError, match="not a subclass of builtins.dict"):
        registry.get("subprocess:Popen")
    with pytest.raises(UnknownComponentError, match="not a function of an installed package"):
        Registry("gadget").get("subprocess:getoutput")
    with pytest.raises(UnknownComponentError, match="Did you mean 'sprocket'"):
        registry.get("sprockett")
    with pytest.raises(UnknownComponentError, match="has no attribute"):
        registry.get("collections:Nope")
    assert "gamma_physnet" in MODELS.names()


def test_cli_validate_and_show(tmp_path: Path, valid: dict) -> None:
    runner = CliRunner()
    good = write(tmp_path, valid)
    result = runner.invoke(app, ["config", "validate", str(good)])
    assert result.exit_code == 0, result.output
    shown = runner.invoke(app, ["config", "show", str(good), "--set", "trainer.max_epochs=9"])
    assert shown.exit_code == 0 and "max_epochs: 9" in shown.output
    valid["trainer"]["max_epoch"] = valid["trainer"].pop("max_epochs")
    bad = runner.invoke(app, ["config", "validate", str(write(tmp_path, valid))])
    assert bad.exit_code == 2
    assert "max_epoch" in bad.output and "did you mean 'max_epochs'" in bad.output


def test_committed_config_reference_is_current() -> None:
    from showerlearn.config.reference import render

    committed = Path(__file__).resolve().parents[1] / "docs" / "config_reference.md"
    assert committed.read_text() == render() + "\n", "regenerate: showerlearn config reference > docs/config_reference.md"
    # the ranges the config check enforces are written beside the types: of a field, of a signature's Annotated type
    lines = render().splitlines()
    assert "| `seed` | `int (>= 0, < 4294967296)` | `0` | The one seed behind python, numpy, torch, data order and simulation. |" in lines
    assert any(line.startswith("| `dropout` | `float (>= 0, < 1)` |") for line in lines)
    assert any(line.startswith("| `batch_size` | `int (>= 1)` |") for line in lines)


def test_committed_cli_reference_is_current() -> None:
    from showerlearn.cli.reference import render

    committed = Path(__file__).resolve().parents[1] / "docs" / "cli_reference.md"
    assert committed.read_text() == render() + "\n", "regenerate: python -m showerlearn.cli.reference > docs/cli_reference.md"


def test_callbacks_by_name_and_a_replaced_component_drops_old_params(tmp_path: Path, valid: dict) -> None:
    valid["callbacks"] = [{"name": "early_stopping", "params": {"monitor": "val/loss", "patience": 2}}]
    base = write(tmp_path, valid)
    variant = tmp_path / "variant.yaml"
    variant.write_text(yaml.safe_dump({"extends": base.name, "model": {"name": "mlp", "params": {"heads": {"label": 2}}}}))
    config = load_config(variant)
    assert config.callbacks[0].params["patience"] == 2
    assert "hidden" in config.model.params and "delay" not in config.model.params  # TinyClassifier's params gone


def test_set_reaches_into_a_list_by_index(tmp_path: Path, valid: dict) -> None:
    """``callbacks.0.params.patience=4`` sets the first callback's; an index outside the list is named."""
    valid["callbacks"] = [{"name": "early_stopping", "params": {"monitor": "val/loss", "patience": 2}}]
    path = write(tmp_path, valid)
    assert load_config(path, ["callbacks.0.params.patience=4"]).callbacks[0].params["patience"] == 4
    with pytest.raises(ConfigError, match=r"callbacks is a list of 1 entry: callbacks\.1\.params\.patience needs an "
                                          r"index 0 to 0 after callbacks, got '1'"):
        load_config(path, ["callbacks.1.params.patience=4"])


def test_unknown_data_module_gives_one_clear_error(tmp_path: Path, valid: dict) -> None:
    valid["data"]["name"] = "tabularr"
    with pytest.raises(ConfigError) as error:
        load_config(write(tmp_path, valid))
    assert error.value.problems == [error.value.problems[0]] and "Did you mean 'tabular'" in error.value.problems[0]


def test_split_settings_are_one_key_and_by_file_belongs_to_iact(tmp_path: Path, valid: dict) -> None:
    valid["data"]["params"]["split"] = {"fractions": [0.6, 0.2, 0.2], "seed": 5}
    assert load_config(write(tmp_path, valid)).data.params["split"] == {"fractions": [0.6, 0.2, 0.2], "seed": 5}
    valid["data"]["params"]["split"]["by"] = "file"  # a table has no files to keep apart
    with pytest.raises(ConfigError, match=r"data.params.split.by: unknown key; allowed keys here: fractions, seed"):
        load_config(write(tmp_path, valid))


def test_set_on_a_null_section_of_a_dumped_config_fills_it_in(tmp_path: Path, valid: dict) -> None:
    dumped = tmp_path / "config.yaml"
    dumped.write_text(dump_config(load_config(write(tmp_path, valid))))
    assert yaml.safe_load(dumped.read_text())["trainer"]["early_stopping"] is None
    config = load_config(dumped, ["trainer.early_stopping.patience=3"])
    assert config.trainer.early_stopping is not None and config.trainer.early_stopping.patience == 3
    assert config.trainer.early_stopping.monitor == "val/loss"  # the rest: defaults


@pytest.mark.parametrize("order", ["name first", "params first"])
def test_set_of_another_component_name_drops_the_old_params_but_keeps_those_set(tmp_path: Path, valid: dict, order: str) -> None:
    dumped = tmp_path / "config.yaml"
    dumped.write_text(dump_config(load_config(write(tmp_path, valid))))  # TinyClassifier's hidden and delay written out
    overrides = ["model.name=mlp", "model.params.heads={label: 2}", "model.params.dropout=0.5"]
    config = load_config(dumped, overrides if order == "name first" else overrides[::-1])
    assert config.model.name == "mlp" and config.model.params["dropout"] == 0.5 and "delay" not in config.model.params
    assert config.model.params["heads"] == {"label": 2}
    same = load_config(dumped, ["model.name=engine_plugins:TinyClassifier", "model.params.hidden=5"])
    assert same.model.params["delay"] == 0.0 and same.model.params["hidden"] == 5  # not renamed: params kept


def test_an_estimator_run_refuses_the_network_only_sections_it_would_ignore(tmp_path: Path, valid: dict) -> None:
    valid.pop("model")
    valid["estimator"] = {"name": "random_forest", "params": {"n_estimators": 5}}
    valid["callbacks"] = [{"name": "early_stopping"}]  # task kept from the network config
    path = write(tmp_path, valid)
    # an existing run's config.yaml written by an earlier version still loads; a new run and `config validate` refuse
    assert load_config(path).ignored_sections() == ["an estimator run trains no network: remove `task` and `callbacks`"]
    with pytest.raises(ConfigError, match=r"an estimator run trains no network: remove `task` and `callbacks`"):
        train(load_config(path), progress=False)
    result = CliRunner().invoke(app, ["config", "validate", str(path)])
    assert result.exit_code != 0 and "remove `task` and `callbacks`" in result.output
    assert not (tmp_path / "runs").exists() and not list(tmp_path.rglob("run.json"))
    valid.pop("callbacks")
    valid["task"] = None
    valid["optimizer"] = {"name": "adamw", "params": {"lr": 0.01}}  # a network base's, as a baseline extending it has
    config = load_config(write(tmp_path, valid))
    assert config.estimator is not None and config.task is None


def test_fixed_weights_of_an_unknown_head_are_refused(tmp_path: Path, valid: dict) -> None:
    valid["task"]["balancing"] = {"name": "fixed", "params": {"weights": {"lable": 2}}}
    with pytest.raises(ConfigError) as error:
        load_config(write(tmp_path, valid))
    assert error.value.problems == [
        "task.balancing.params.weights.lable: unknown head (did you mean 'label'?); the heads of task.heads are label"
    ]
    valid["task"]["balancing"]["params"]["weights"] = {"label": 2}
    assert load_config(write(tmp_path, valid)).task.balancing.params["weights"] == {"label": 2.0}


@pytest.mark.parametrize(("weights", "expected"), [
    ({"label": 0}, "task.balancing.params.weights: every head weighs 0, so the loss is 0 and nothing trains: give "
                   "one a weight > 0"),
    ({"label": -1}, "task.balancing.params.weights.label: expected a weight >= 0, got -1.0"),
    ({"label": float("nan")}, "task.balancing.params.weights.label: Input should be a finite number (got nan)"),
])
def test_fixed_weights_that_cannot_train_are_refused(tmp_path: Path, valid: dict, weights: dict, expected: str) -> None:
    valid["task"]["balancing"] = {"name": "fixed", "params": {"weights": weights}}
    with pytest.raises(ConfigError) as error:
        load_config(write(tmp_path, valid))
    assert error.value.problems == [expected]


def test_a_monitor_the_training_never_logs_is_refused_before_any_work(tmp_path: Path, valid: dict) -> None:
    valid["task"]["heads"]["label"]["metrics"] = ["accuracy"]
    valid["trainer"]["early_stopping"] = {"monitor": "val_loss"}  # Lightning's habit; ours is val/loss
    valid["callbacks"] = [{"name": "early_stopping", "params": {"monitor": "val/label_accuracyy", "mode": "max"}}]
    with pytest.raises(ConfigError) as error:
        load_config(write(tmp_path, valid))
    assert [p.split(";")[0] for p in error.value.problems] == [
        "callbacks.0.params.monitor: 'val/label_accuracyy' is never logged (did you mean 'val/label_accuracy'?)",
        "trainer.early_stopping.monitor: 'val_loss' is never logged (did you mean 'val/loss'?)",
    ]
    assert "the training logs train/loss, val/loss, train/label_loss, val/label_loss, weight/label, val/label_accuracy" in error.value.problems[0]
    for monitor in ("val/label_accuracy", "val/label_loss", "train/loss", "weight/label", "lr-AdamW"):
        valid["trainer"]["early_stopping"] = {"monitor": monitor}
        valid["callbacks"][0]["params"]["monitor"] = monitor
        assert load_config(write(tmp_path, valid)).trainer.early_stopping.monitor == monitor
    # what early stopping does not insist on, and other callbacks' own quantities, are theirs to watch
    valid["callbacks"] = [{"name": "early_stopping", "params": {"monitor": "val/mine", "strict": False}},
                          {"name": "lightning.pytorch.callbacks:ModelCheckpoint", "params": {"monitor": "epoch"}}]
    assert [c.params["monitor"] for c in load_config(write(tmp_path, valid)).callbacks] == ["val/mine", "epoch"]


def test_a_plain_lightning_datamodule_by_import_path_is_checked_without_a_crash(
    tmp_path: Path, valid: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The registry takes any LightningDataModule; only a ShowerDataModule has new-run checks of its own."""
    (tmp_path / "plainmodule.py").write_text("import lightning\n\nclass Plain(lightning.LightningDataModule):\n    pass\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    valid["data"] = {"name": "plainmodule:Plain", "params": {}}
    valid["model"]["params"].update(in_features=3, n_classes=2)  # what a ShowerDataModule would inject
    assert new_run_problems(load_config(write(tmp_path, valid))) == []




def test_a_long_path_written_to_a_log_stays_on_one_line(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    """Output to a pipe or a batch job's log (no terminal, as under pytest) is not wrapped at rich's 80 columns, even
    where FORCE_COLOR makes rich take it for a terminal: the paths stay copyable. Log messages are plain lines, not
    padded to that width. ``COLUMNS`` still sets the width."""
    import logging

    from rich.text import Text

    from showerlearn.cli.common import _log_handler, command_console

    path = "/scratch/user/" + "a_folder_with_a_long_name/" * 6 + "hits.predictions.h5"
    monkeypatch.delenv("COLUMNS", raising=False)
    monkeypatch.setenv("FORCE_COLOR", "1")
    console = command_console()
    with console.capture() as captured:
        console.print(f"written: {path}")
    assert Text.from_ansi(captured.get()).plain.splitlines() == [f"written: {path}"]  # in colour, on one line
    logger = logging.getLogger("test_log_lines")  # not under "showerlearn", whose handler an earlier test may have set
    logger.addHandler(handler := _log_handler())
    try:
        logger.warning("reading %s", path)
    finally:
        logger.removeHandler(handler)
    (line,) = capsys.readouterr().err.splitlines()
    assert line.endswith(f"] reading {path}")
    monkeypatch.setenv("COLUMNS", "60")
    assert command_console().width == 60
