"""What every command shares: the console, config loading with overrides, and clean error exits."""

from __future__ import annotations

import contextlib
import logging
import os
import re
import sys
import warnings
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from showerlearn.config import ConfigError, ExperimentConfig, load_config
from showerlearn.config.loader import config_file_of, read_yaml
from showerlearn.engine.launch import interruption, interruption_status, stop_signal
from showerlearn.engine.run_dir import refuse_writing_into_a_run
from showerlearn.io.staging import file_in_the_way
from showerlearn.parallel import SEED_RANGE

#: the width of messages and tables written to a batch job's log or a pipe, which have no width to fit: rich's
#: default there, 80 columns, broke the paths they print over lines, where they can no longer be copied or searched
LOG_WIDTH = 1000


def stderr_is_a_terminal() -> bool:
    """Whether stderr is a terminal now (not a log file or a pipe, whatever ``FORCE_COLOR`` makes rich believe)."""
    isatty = getattr(sys.stderr, "isatty", None)
    return bool(isatty and isatty())


def command_console() -> Console:
    """The console of the commands' messages and tables: stderr (stdout stays for what a command writes there), as
    wide as the terminal, or :data:`LOG_WIDTH` in a log or a pipe unless ``COLUMNS`` says otherwise."""
    made = Console(stderr=True)
    if not stderr_is_a_terminal() and "COLUMNS" not in os.environ:
        made.width = LOG_WIDTH
    return made


console = command_console()

OverrideOption = Annotated[
    list[str] | None,
    typer.Option("--set", "-s", metavar="KEY=VALUE", help="Override a config value, KEY=VALUE with a dotted KEY (a number indexes a list) (repeatable)."),
]
ConfigArgument = Annotated[Path, typer.Argument(metavar="CONFIG", help="Experiment config (YAML).", show_default=False)]
OverwriteOption = Annotated[bool, typer.Option("--overwrite", help="Replace the output file if it exists.")]


def _checked_jobs(value: int) -> int:
    if value == 0 or value < -1:
        raise typer.BadParameter(f"{value}: expected a number of processes >= 1, or -1 for all cores")
    return value


#: the ``--jobs`` of a ``simulate`` command: checked before any work
JobsOption = Annotated[int, typer.Option(help="Worker processes (-1: all cores).", callback=_checked_jobs)]


def seed_option(depends_on: str = "config") -> Any:
    """The ``--seed`` of a ``simulate`` command: checked before any work against the simulators' range
    (:data:`showerlearn.parallel.SEED_RANGE`); ``depends_on`` names what else the file depends on."""
    return typer.Option(
        min=SEED_RANGE[0], max=SEED_RANGE[1], help=f"Seed; the file depends only on {depends_on} and seed."
    )


def load(config: Path, overrides: list[str] | None) -> ExperimentConfig:
    return load_config(config, overrides or [])


#: keys of an experiment (a training config) that no simulation settings have
_EXPERIMENT_ONLY_KEYS = frozenset({"data", "model", "estimator", "task", "trainer"})


def read_simulation_settings(config: Path | None, place_in_an_experiment: str) -> dict[str, Any]:
    """The simulation settings in ``--config`` ({} without one). A training config given there is named as such,
    with where an experiment holds its simulation settings (``place_in_an_experiment``), not as a list of keys the
    simulation does not know."""
    if config is None:
        return {}
    settings = read_yaml(config)
    if found := sorted(_EXPERIMENT_ONLY_KEYS & settings.keys()):
        raise ConfigError(str(config), [
            f"a training config (it has {', '.join(found)}), not simulation settings: give a file of the settings "
            f"alone (this one holds them under {place_in_an_experiment}, if anywhere), or train with this one"])
    return settings


def check_output_file(path: Path, overwrite: bool, name: str = "--output", inputs: Sequence[Path | None] = ()) -> None:
    """Before any work: an output that is a folder, that exists (unless ``overwrite``), or that is one of the
    command's ``inputs`` (``overwrite`` would replace the file being read: its data lost) is refused; ``name``: what
    the message calls it (the option, or the file written beside the one it gives)."""
    if any(source is not None and source.exists() and source.resolve() == path.resolve() for source in inputs):
        raise ValueError(f"{name} {path}: is the file this command reads; write to another file")
    if path.is_dir():
        raise IsADirectoryError(f"{name} {path}: is a folder; give the name of the file to write")
    if blocking := file_in_the_way(path):
        raise NotADirectoryError(f"{name} {path}: {blocking} is a file, not a folder to write into")
    refuse_writing_into_a_run(path, name)
    if path.exists() and not overwrite:
        raise FileExistsError(f"{name} {path}: exists; pass --overwrite to replace it")


@contextlib.contextmanager
def kept_if_created_meanwhile() -> Iterator[None]:
    """Around a long write published without ``--overwrite`` (``atomic_path(..., overwrite=False)``): a file another
    process created at the output meanwhile is kept, and the error says how to replace it."""
    try:
        yield
    except FileExistsError as error:
        if error.errno is not None:  # the system's (a folder to make is a file): not the output appearing meanwhile
            raise
        raise FileExistsError(f"--output {error}; pass --overwrite to replace it") from None


_VERBOSE = False
#: the block libhdf5 (through h5py / PyTables) appends to the message of a failed open: 20 lines of C frames
_HDF5_TRACE = re.compile(r":?\s*HDF5 error back trace.*?End of HDF5 error back trace\s*", re.DOTALL)


def _written_by_other_code(source: str) -> str:
    """For a run's own ``config.yaml`` that does not validate: the code that wrote the run and the code reading it,
    when they may differ (a run made by another version, or by uncommitted changes, may hold keys this one lacks)."""
    path = Path(config_file_of(source))  # the run's file, whatever --set came with it
    record = path.parent / "environment.json"
    if path.name != "config.yaml" or not record.is_file():
        return ""
    from showerlearn.engine.environment import code_description, describe_environment
    from showerlearn.io.atomic import read_json_object

    try:
        written = code_description(read_json_object(record))
    except Exception:  # noqa: BLE001 - a damaged record only loses this hint, never the config error itself
        return ""
    reading = code_description(describe_environment(seed=0))
    if written == reading:  # the same version and commit (uncommitted changes may differ, but that is no lead)
        return ""
    return f"\n  this run was written by {written}; this is {reading}: its config may use keys of that code"


def set_verbose(verbose: bool) -> None:
    """``showerlearn --verbose``: errors keep the full messages of the libraries below."""
    global _VERBOSE
    _VERBOSE = verbose


def brief(message: str) -> str:
    """An error message without the HDF5 library's back trace (kept with ``--verbose``)."""
    return message if _VERBOSE else _HDF5_TRACE.sub(" (HDF5 back trace: showerlearn --verbose) ", message).strip()


@contextlib.contextmanager
def user_errors(kept: str = "") -> Iterator[None]:
    """Turn the errors a user can fix (bad config, missing or corrupt file) into a message and exit code; and an
    interruption (Ctrl+C, a batch system's SIGTERM) into one line, followed by ``kept``: what the command keeps of
    its work and how to go on.

    Set SHOWERLEARN_DEBUG=1 to get the full traceback instead.
    """
    if os.environ.get("SHOWERLEARN_DEBUG"):
        yield
        return
    try:
        try:
            yield
        except Exception as error:
            if (signum := stop_signal()) is not None:  # an error the stop caused (an import cut short by it): the stop
                raise SystemExit(128 + signum) from error
            raise
    except ConfigError as error:
        # YAML's messages hold brackets: text, not markup
        console.print(f"[bold red]error:[/] {escape(str(error))}{escape(_written_by_other_code(error.source))}")
        raise typer.Exit(2) from None
    except (FileNotFoundError, KeyError, ValueError, OSError, TypeError, ImportError) as error:
        console.print(f"[bold red]error:[/] {type(error).__name__}: {escape(brief(str(error)))}")
        raise typer.Exit(1) from None
    except NotImplementedError as error:
        # what a run's components cannot do (a DataModule that reads no new files...): not a crash to debug
        what = str(error) or "an operation this run's components do not implement"
        console.print(f"[bold red]error:[/] not supported: {escape(brief(what))}")
        raise typer.Exit(1) from None
    except (KeyboardInterrupt, SystemExit) as error:
        if (stop := interruption(error)) is None:
            raise
        console.print(f"[bold yellow]{stop}[/]" + (f": {escape(kept)}" if kept else ""))
        raise typer.Exit(interruption_status(error)) from None


def metrics_table(metrics: Mapping[str, Any], title: str, units: Mapping[str, str] | None = None) -> Table:
    """The headline numbers of a run (``metrics.json``: its ``scalars``, name -> value) or of a sweep (its aggregate:
    name -> ``{"mean", "std"}``) as a terminal table, each value with its unit (``units``: the family's
    ``BoardStyle.scalar_units``; a scalar without one is a dimensionless number). The scalars its ``limits`` names
    read as limits ("≥ 120": a rejection where no test background event was kept)."""
    from showerlearn.metrics.limits import limit_prefix, scalar_limits

    units = units or {}
    limits = scalar_limits(metrics)
    table = Table(title=escape(title), box=None, title_justify="left")
    table.add_column("metric", style="cyan")
    table.add_column("value", justify="right")
    table.add_column("unit")
    for name, value in metrics.get("scalars", {}).items():
        if isinstance(value, Mapping):  # a sweep's aggregate: say over how many seeds, when not all have a value
            text = (f"{_number(value.get('mean'))} ± {_number(value.get('std'))}" if value.get("std") is not None
                    else _number(value.get("mean")))
            counted, values = value.get("n_runs"), value.get("values") or []
            if isinstance(counted, int) and counted < len(values):
                text += f" ({counted} of {len(values)} seeds)"
        else:
            text = _number(value)
        table.add_row(escape(name), limit_prefix(limits.get(name)) + text, escape(units.get(name, "")))
    return table


def scalar_units(config: ExperimentConfig) -> dict[str, str]:
    """The units of the scalars of a run of ``config``: its family's (``Family.board_style``)."""
    from showerlearn.family import family_of  # the registries, when a table is printed

    return dict(family_of(config).board_style().scalar_units)


def _number(value: Any) -> str:
    if value is None:  # metrics.json's null: no value (an AUC of one class)
        return "n/a"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return escape(str(value))
    return str(value) if isinstance(value, int) else f"{value:.4g}"


def quiet_libraries() -> None:
    """Keep the terminal for our progress output: no Lightning tips or third-party deprecation noise.

    showerlearn's own stage messages (INFO and above: reading data, fitting forests...) go to the console."""
    ours = logging.getLogger("showerlearn")
    if not ours.handlers:
        ours.addHandler(_log_handler())
        ours.setLevel(logging.INFO)
    for name in ("lightning.pytorch.utilities.rank_zero", "lightning.fabric.utilities.rank_zero"):
        logging.getLogger(name).setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    warnings.filterwarnings("ignore", message=".*does not have many workers.*")
    warnings.filterwarnings("ignore", message=".*LeafSpec.*")  # Lightning vs torch 2.13 internals
    warnings.filterwarnings("ignore", message=".*smaller than the logging interval.*")
    # the training order resumes through showerlearn.data.sampling, not the loader state Lightning looks for
    warnings.filterwarnings("ignore", message=".*your dataloader is not resumable.*")


def _log_handler() -> logging.Handler:
    """Rich's on a terminal; elsewhere (a batch job's log, a pipe) one plain line per message, neither wrapped nor
    padded to the console's width as rich's lines are."""
    if stderr_is_a_terminal():
        from rich.logging import RichHandler

        return RichHandler(console=console, show_path=False, show_level=False, markup=False)
    handler = _CurrentStderrHandler()
    handler.setFormatter(logging.Formatter("[%(asctime)s] %(message)s", datefmt="%X"))
    return handler


class _CurrentStderrHandler(logging.StreamHandler):
    """A handler writing to ``sys.stderr`` as it is when a message comes (redirected since, or a test's captured
    stream), not as it was when the handler was made."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property  # type: ignore[override]
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, _value: Any) -> None:
        pass  # always the current one
