"""The README's tours run as written, on tiny settings, and write nothing into the repository.

Each tour's ``bash`` block is taken from README.md (no copy of its commands here) and run by bash from the
repository root, as a reader pastes it, with HOME in a temporary folder, so that the scratch folder it names
(``~/showerlearn-tour``) is one. Only the sizes shrink: a shell function named ``showerlearn`` appends tiny
settings to each command (for an option given twice the last value wins, a later ``--set`` overrides an
earlier one) and hands the command, as bash expanded it (globs, ``$EXAMPLES``, ``~``), with bash's working
folder, to this process, which runs it with the ``showerlearn`` app (`typer.testing.CliRunner`) there. One
process rather than one per command: each command would otherwise import torch, Lightning and ctapipe again,
some ten seconds on 2 busy cores, most of a tour's time. The function first checks that the README's
environment puts the ``showerlearn`` command on the PATH. Every command must exit 0, and the repository must
hold no new file or folder afterwards.

A tour that names another example config or simulation needs its tiny settings in TINY_ARGUMENTS (the test
says so rather than run it at full size).
"""

from __future__ import annotations

import os
import re
import shlex
import socket
import subprocess
import time
import traceback
from contextlib import chdir
from pathlib import Path

import pytest
from iact_runs import NO_FIGURES, TINY, TINY_DATA, TINY_RUN

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]
README = REPO / "README.md"
#: the tour of each family: the heading of its README section, whose first ``bash`` block is the tour
TOURS = {
    "iact": "## A tour, step by step",
    "calorimeter": "## Calorimeter clustering in six commands",
    "collider": "## Collider event classification in five commands",
}
#: the scratch folder every tour names, under HOME
SCRATCH = "showerlearn-tour"


def _sets(overrides: list[str]) -> list[str]:
    return [argument for override in overrides for argument in ("--set", override)]


#: arguments appended to a command, by sub-command ("simulate iact", "sweep"...) and by the file name of the
#: example config it is given: the smallest settings that still run every step
TINY_ARGUMENTS: dict[str, list[str]] = {
    "sweep": ["--seeds", "2", "--jobs", "1"],  # two seeds: a dispersion, and an ensemble of the sweep
    "explain": ["--events", "0", "--max-events", "8"],
    "export": ["--check-events", "16"],
    # IACT: the settings of the tests' tiny runs (tests/iact_runs.py)
    "simulate iact": ["--events", "300", "--jobs", "1"],
    "gamma_physnet_da_small.yaml": _sets(TINY),
    "hillas_rf_small.yaml": _sets([*TINY_DATA, *TINY_RUN]),
    # calorimeter: a few hundred events, one epoch of a narrow transformer
    "simulate calorimeter": ["--events", "200", "--jobs", "1"],
    "calorimeter_r3b_window.yaml": _sets(["data.params.simulate.events=300", NO_FIGURES]),
    "calorimeter_oracle.yaml": _sets(["data.params.simulate.events=300", NO_FIGURES]),
    "calorimeter_transformer.yaml": _sets([
        "data.params.simulate.events=300", NO_FIGURES, "trainer.max_epochs=1",
        "model.params.dim=16", "model.params.layers=1", "model.params.heads=2",
    ]),  # fmt: skip
    # collider: Pythia, so a hundred events; one epoch of narrow networks
    "simulate collider": ["--events", "120", "--jobs", "1"],
    **dict.fromkeys(("collider_multiscale.yaml", "collider_concat.yaml"), _sets([
        NO_FIGURES, "trainer.max_epochs=1", "model.params.dim=16",
        "data.params.constituents.n_tokens=16", "data.params.batch_size=32",
    ])),  # fmt: skip
}
#: folders the repository may gain files in while a tour runs: Python's bytecode caches (any import writes
#: them), git's and the environment's own
UNCHECKED_FOLDERS = {"__pycache__", ".pytest_cache", ".ruff_cache", ".git", ".venv"}


def tour_commands(heading: str) -> str:
    """The first ``bash`` block of the README section under ``heading``."""
    text = README.read_text()
    start = text.find(f"\n{heading}\n")
    assert start >= 0, f"README.md has no section {heading!r}: update TOURS in {Path(__file__).name}"
    end = text.find("\n## ", start + 1)
    section = text[start : end if end >= 0 else len(text)]
    block = re.search(r"^```bash\n(.*?)^```", section, re.MULTILINE | re.DOTALL)
    assert block, f"README.md's section {heading!r} has no ```bash block"
    return block.group(1)


def _function() -> str:
    """The shell function ``showerlearn``: the command with the tiny arguments of its sub-command and of the
    example configs it names appended, sent to ``$TOUR_PORT``, which answers with its exit status."""

    def cases(configs: bool, indent: str) -> str:
        return "\n".join(
            f"{indent}{shlex.quote(key)}) extra+=({' '.join(shlex.quote(word) for word in value)}) ;;"
            for key, value in TINY_ARGUMENTS.items() if key.endswith(".yaml") == configs
        )  # fmt: skip

    return f"""
showerlearn() {{
    local extra=() argument key status
    type -P showerlearn > /dev/null || {{ echo "showerlearn is not on the PATH" >&2; return 127; }}
    case "$1" in simulate) key="$1 $2" ;; *) key="$1" ;; esac
    case "$key" in
{cases(False, " " * 8)}
    esac
    for argument in "$@"; do
        case "${{argument##*/}}" in
{cases(True, " " * 12)}
        esac
    done
    exec 9<>/dev/tcp/127.0.0.1/$TOUR_PORT
    printf '%s\\0' "$(($# + ${{#extra[@]}}))" "$PWD" "$@" "${{extra[@]}}" >&9
    read -r status <&9
    exec 9<&-
    return "$status"
}}
"""


def _receive(connection: socket.socket) -> tuple[str, list[str]]:
    """One command from the shell function: its working folder and its arguments."""
    data = b""
    while True:
        fields = data.split(b"\0")
        if len(fields) > 1 and len(fields) - 1 >= int(fields[0]) + 2:
            folder, *arguments = (field.decode() for field in fields[1 : int(fields[0]) + 2])
            return folder, arguments
        chunk = connection.recv(65536)
        assert chunk, f"the shell closed the connection mid-command: {data!r}"
        data += chunk


def _run(folder: str, arguments: list[str]) -> tuple[int, str]:
    """``showerlearn ARGUMENTS`` in ``folder``: exit status and output (with the traceback of an error)."""
    from typer.testing import CliRunner

    from showerlearn.cli.main import app

    with chdir(folder):
        result = CliRunner().invoke(app, arguments)
    output = result.output
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        output += "".join(traceback.format_exception(result.exception))
    return result.exit_code, output


def _snapshot() -> set[str]:
    """Every file and folder of the repository (relative paths), but those in UNCHECKED_FOLDERS."""
    paths = set()
    for folder, subfolders, files in os.walk(REPO):
        subfolders[:] = [name for name in subfolders if name not in UNCHECKED_FOLDERS]
        relative = Path(folder).relative_to(REPO)
        paths.update(str(relative / name) for name in subfolders + files)
    return paths


def run_tour(commands: str, home: Path, timeout: float = 900) -> tuple[int, list[str]]:
    """Run ``commands`` with bash from the repository root, HOME=home; its ``showerlearn`` commands run here.
    Returns bash's exit status and the log: each command, its output, its exit status and time."""
    script = home.parent / "tour.sh"
    script.write_text("set -eo pipefail\n" + _function() + commands)
    log: list[str] = []
    deadline = time.monotonic() + timeout
    with socket.create_server(("127.0.0.1", 0)) as server:
        server.settimeout(0.5)
        environment = {**os.environ, "HOME": str(home), "TOUR_PORT": str(server.getsockname()[1])}
        shell_output = home.parent / "tour.log"  # a file, not a pipe: nothing waits for this process to read it
        with shell_output.open("w") as file:
            shell = subprocess.Popen(
                ["bash", str(script)], cwd=REPO, env=environment, stdout=file, stderr=subprocess.STDOUT
            )
        try:
            while shell.poll() is None:
                assert time.monotonic() < deadline, f"the tour took more than {timeout:.0f} s:\n" + "\n".join(log)
                try:
                    connection, _ = server.accept()
                except TimeoutError:
                    continue
                with connection:
                    connection.settimeout(60)
                    folder, arguments = _receive(connection)
                    start = time.monotonic()
                    status, output = _run(folder, arguments)
                    log += [f"+ showerlearn {shlex.join(arguments)}", output.rstrip(),
                            f"+ exit status {status} after {time.monotonic() - start:.1f} s"]  # fmt: skip
                    connection.sendall(f"{status}\n".encode())
        finally:
            if shell.poll() is None:
                shell.kill()
            shell.wait()
            log.append(shell_output.read_text().rstrip())
    return shell.returncode, log


@pytest.mark.parametrize("tour", TOURS)
def test_the_tour_runs_as_written_and_writes_nothing_into_the_repository(tour: str, tmp_path: Path) -> None:
    if not (REPO / ".venv" / "bin" / "activate").is_file():
        pytest.skip("the tours start from the clone's environment, .venv (make install), which this checkout lacks")
    commands = tour_commands(TOURS[tour])
    assert f"~/{SCRATCH}" in commands, f"the {tour} tour no longer names its scratch folder ~/{SCRATCH}"
    # a config or simulation without tiny settings would run at full size: minutes to hours
    needed = {
        *re.findall(r"\$EXAMPLES/([\w.-]+\.yaml)", commands),
        *re.findall(r"^showerlearn (simulate \w+)", commands, re.MULTILINE),
    }
    missing = sorted(needed - TINY_ARGUMENTS.keys())
    assert not missing, f"the {tour} tour runs {missing}: add tiny settings for them to TINY_ARGUMENTS"
    home = tmp_path / "home"
    home.mkdir()
    before = _snapshot()
    status, log = run_tour(commands, home)
    report = "\n".join(log)
    print(report)  # shown with -s, or -rA: each command, its output and its time
    assert status == 0, f"the {tour} tour failed (bash exit status {status}):\n{report[-10000:]}"
    # every showerlearn command of the block ran, each exited 0 (else bash stopped: set -e)
    ran = [line for line in log if line.startswith("+ showerlearn ")]
    assert len(ran) == len(re.findall(r"^showerlearn ", commands, re.MULTILINE)), report
    written = sorted(_snapshot() - before)
    assert not written, f"the {tour} tour wrote into the repository: {written[:20]}"
    assert (home / SCRATCH / "runs").is_dir(), f"the {tour} tour's runs are not in its scratch folder ~/{SCRATCH}"
