"""The pictures in docs/images: the figures of a `make demo` folder and its board in headless Chromium.

    make demo && python docs/make_screenshots.py demo_runs

Copies the demo's comparison figures (of the network trained there and of the shipped one) and a camera
display, explains six events of the small network (camera displays of its input, Grad-CAM and attention
maps) and screenshots the board page (`chromium --headless --screenshot`, Debian's `chromium`), all into
docs/images/demo_*.png.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import tempfile
from pathlib import Path

from showerlearn.config import load_config
from showerlearn.engine.runner import build_datamodule

IMAGES = Path(__file__).parent / "images"
#: demo results -> picture name: one per kind of figure, of the network trained here and of the shipped one
FIGURES = {
    f"results/{folder}/{figure}.png": f"demo_{prefix}{name}.png"
    for folder, prefix in (("trained_here", ""), ("benchmark_network", "benchmark_"))
    for figure, name in (
        ("angular_resolution_vs_true_energy", "angular_resolution"),
        ("energy_resolution_vs_true_energy", "energy_resolution"),
        ("auc_vs_reco_energy", "auc_per_bin"),
        ("roc", "roc"),
    )
}
BOARD_SIZE = (1400, 1700)


def copy_figures(demo: Path) -> list[Path]:
    written = []
    for source, name in FIGURES.items():
        written.append(Path(shutil.copyfile(demo / source, IMAGES / name)))
    network = _run(demo, "gamma_physnet_da_small")
    written.append(Path(shutil.copyfile(network / "plots" / "camera_examples.png", IMAGES / "demo_camera_examples.png")))
    return written


def explain_events(demo: Path, workdir: Path) -> Path:
    """Six events of the small network explained; the figure kept is the largest file, i.e. the most detailed
    shower (a faint image at the camera edge shows little of the maps)."""
    network = _run(demo, "gamma_physnet_da_small")
    # the events it trained on, in the demo's cache wherever this runs from
    data = build_datamodule(load_config(network / "config.yaml", [f"data.params.cache_dir={json.dumps(str(demo / 'cache'))}"]))
    events = data.resolve_files()[0]
    run = workdir / network.parent.name / network.name
    shutil.copytree(network, run)  # explain writes into the run's plots: leave the demo's run as it was
    subprocess.run(["showerlearn", "explain", str(run), "--input", str(events), "--events", "0-5", "--max-events", "200"], check=True)
    figure = max((run / "plots" / "explain").glob("event*.png"), key=lambda path: path.stat().st_size)
    return Path(shutil.copyfile(figure, IMAGES / "demo_explain_event.png"))


def screenshot_board(demo: Path, workdir: Path) -> Path:
    browser = next(filter(None, map(shutil.which, ("chromium", "chromium-browser", "google-chrome"))), None)
    if browser is None:
        raise SystemExit("no chromium browser found: install Debian's `chromium` (apt-get install chromium)")
    output = IMAGES / "demo_board.png"
    width, height = BOARD_SIZE
    subprocess.run(
        [browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", f"--user-data-dir={workdir / 'profile'}",
         f"--window-size={width},{height}", "--virtual-time-budget=10000", f"--screenshot={output}",
         (demo / "results" / "board.html").resolve().as_uri()],
        check=True, capture_output=True,
    )
    return output


def _run(demo: Path, name: str) -> Path:
    """The newest run of experiment ``name`` in the demo folder."""
    return sorted((demo / name).glob("*_seed*"))[-1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("demo", type=Path, help="The output folder of `make demo` (demo_runs).")
    args = parser.parse_args()
    IMAGES.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory() as workdir:
        written = [*copy_figures(args.demo), explain_events(args.demo, Path(workdir)), screenshot_board(args.demo, Path(workdir))]
    print("written:\n  " + "\n  ".join(str(path) for path in written))


if __name__ == "__main__":
    main()
