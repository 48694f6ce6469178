"""Hillas width and length vs intensity: simulated gammas against the real LST MC gamma images.

The simulated gammas are written by ``simulate_iact`` to a ctapipe DL1 file (cached under
``--work-dir``, never in the repository), so that they and the real files (``../shared/data/iact``:
the ctapipe DL1 files and lstchain's ``dl1_gamma_example.h5``) go through the same reader
(``showerlearn.iact.data.open_dl1``: images mapped onto the reference LSTCam) and the same cleaning
and parameterisation (``showerlearn.baselines.hillas_features`` with the Hillas + RF baseline's
lstchain-standard cleaning). Only gamma events (``true_shower_primary_id == 0``) are used, with the
LST quality cuts (valid parameters, leakage2 below ``--max-leakage``). Widths and lengths are
converted from metres on the camera to degrees with each file's focal length.

Writes the figure ``benchmarks/results/hillas_real_vs_sim.{png,pdf}`` (simulation: median and
68 % band per log-intensity bin plus a scatter sample; real images as points, one marker per file)
and the table of medians per intensity bin ``benchmarks/results/hillas_real_vs_sim.md``.

Needs the reference data in ``../shared/data`` (exits with a message when absent).
Run ``python benchmarks/hillas_real_vs_sim.py --help``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from showerlearn.iact.baselines.features import CleaningConfig, hillas_features
from showerlearn.iact.data import open_dl1
from showerlearn.iact.geometry import lst_camera
from showerlearn.iact.particles import GAMMA_PRIMARY_ID
from showerlearn.io.atomic import write_text_atomic
from showerlearn.iact.simulation import IACTSimulationConfig, simulate_iact
from showerlearn.viz.figures import new_figure, save_figure

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results"
SHARED_IACT = REPO.parent / "shared" / "data" / "iact"
#: log10(intensity / p.e.) bin edges of the medians
LOG_INTENSITY_EDGES = np.array([1.5, 2.0, 2.5, 3.0, 3.5, 4.5])


@dataclass
class Sample:
    """Parameters of the selected gamma images of one source (deg, p.e.)."""

    label: str
    intensity: np.ndarray
    width: np.ndarray
    length: np.ndarray
    n_events: int = 0  # distinct array events (obs_id, event_id) behind the selected images


def parameterise(path: Path, label: str, max_leakage: float, n_jobs: int) -> Sample:
    """Gamma images of a DL1 file, cleaned and parameterised like the baseline; quality-cut."""
    with open_dl1(path) as file:
        gamma = np.nonzero(file.columns["true_shower_primary_id"] == GAMMA_PRIMARY_ID)[0]
        focal_length_m = float(file.focal_length.to_value("m"))
        events = file.read(gamma) if len(gamma) else None
    if events is None:
        return Sample(label, *(np.empty(0) for _ in range(3)))
    features = hillas_features(events["image"], events["peak_time"], lst_camera(), CleaningConfig(), n_jobs=n_jobs)
    keep = features["is_valid"] & (features["leakage_intensity_width_2"] < max_leakage)
    # small-angle conversion: metres on the camera / focal length = radians on the sky
    to_deg = np.rad2deg(1.0 / focal_length_m)
    array_events = {(o, e) for o, e in zip(events["obs_id"][keep], events["event_id"][keep])}
    return Sample(
        label,
        features["intensity"][keep],
        features["width"][keep] * to_deg,
        features["length"][keep] * to_deg,
        len(array_events),
    )


def simulated_file(work_dir: Path, events: int, seed: int, n_jobs: int) -> Path:
    """A gamma-only simulated DL1 file (point source at the LST wobble offset), simulated once."""
    config = IACTSimulationConfig(n_events=events, proton_fraction=0.0, point_source_offset_deg=0.4)
    path = work_dir / f"gammas_{events}_seed{seed}.dl1.h5"
    if not path.is_file():  # simulate_iact writes atomically: an existing file is complete
        simulate_iact(config, path, seed=seed, n_jobs=n_jobs)
    return path


def binned_quantiles(sample: Sample, name: str, quantiles: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    """Quantiles of ``width`` or ``length`` per log-intensity bin (NaN where empty) and the counts."""
    values = getattr(sample, name)
    index = np.digitize(np.log10(sample.intensity), LOG_INTENSITY_EDGES) - 1
    n_bins = len(LOG_INTENSITY_EDGES) - 1
    result = np.full((n_bins, len(quantiles)), np.nan)
    counts = np.bincount(index[(index >= 0) & (index < n_bins)], minlength=n_bins)
    for b in range(n_bins):
        if counts[b]:
            result[b] = np.quantile(values[index == b], quantiles)
    return result, counts


def figure(sim: Sample, real: list[Sample], max_scatter: int, seed: int):
    """Two panels (width, length) vs intensity: simulation median + 68 % band + scatter, real points."""
    fig = new_figure(11.0, 4.6)
    axes = fig.subplots(1, 2)
    centres = 10 ** (0.5 * (LOG_INTENSITY_EDGES[:-1] + LOG_INTENSITY_EDGES[1:]))
    rng = np.random.default_rng(seed)
    shown = rng.choice(len(sim.intensity), size=min(max_scatter, len(sim.intensity)), replace=False)
    markers = ("o", "s", "^", "D", "v", "P")
    for ax, name in zip(axes, ("width", "length")):
        q, counts = binned_quantiles(sim, name, (0.16, 0.5, 0.84))
        filled = counts >= 5
        ax.scatter(sim.intensity[shown], getattr(sim, name)[shown], s=3, color="0.75", alpha=0.5, lw=0,
                   label=f"simulation ({len(sim.intensity)} images, {len(shown)} shown)", rasterized=True)
        ax.fill_between(centres[filled], q[filled, 0], q[filled, 2], color="C0", alpha=0.3,
                        label="simulation 68 % band")
        ax.plot(centres[filled], q[filled, 1], "-o", color="C0", label="simulation median")
        for sample, marker, colour in zip(real, markers, ("C1", "C2", "C3", "C4", "C5", "C6")):
            if len(sample.intensity):
                ax.scatter(sample.intensity, getattr(sample, name), marker=marker, s=28, color=colour,
                           edgecolor="k", lw=0.5, zorder=3, label=f"{sample.label} ({len(sample.intensity)})")
        ax.set_xscale("log")
        ax.set_xlabel("intensity after cleaning [p.e.]")
        ax.set_ylabel(f"Hillas {name} [deg]")
        ax.set_xlim(10 ** LOG_INTENSITY_EDGES[0] / 1.5, 10 ** LOG_INTENSITY_EDGES[-1])
        ax.grid(alpha=0.3, which="both")
    axes[1].legend(fontsize=7, loc="upper left")
    fig.suptitle("LST gamma images: parametric simulator vs real LST Monte Carlo (lstchain cleaning 6/3 p.e.)")
    return fig


def table(sim: Sample, real: Sample) -> list[str]:
    """Markdown rows: per intensity bin, counts and medians of width and length, sim vs real, ratio."""
    rows = [
        "| intensity [p.e.] | n sim | n real | width sim [deg] | width real [deg] | real/sim | "
        "length sim [deg] | length real [deg] | real/sim |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    medians = {}
    for name in ("width", "length"):
        for key, sample in (("sim", sim), ("real", real)):
            medians[name, key], counts = binned_quantiles(sample, name, (0.5,))
            medians["n", key] = counts
    for b, (lo, hi) in enumerate(zip(LOG_INTENSITY_EDGES[:-1], LOG_INTENSITY_EDGES[1:])):
        cells = [f"{10 ** lo:.0f}-{10 ** hi:.0f}", str(medians["n", "sim"][b]), str(medians["n", "real"][b])]
        for name in ("width", "length"):
            s, r = medians[name, "sim"][b, 0], medians[name, "real"][b, 0]
            cells += [_fmt(s), _fmt(r), _fmt(r / s, "{:.2f}")]
        rows.append("| " + " | ".join(cells) + " |")
    return rows


def _fmt(value: float, fmt: str = "{:.3f}") -> str:
    return fmt.format(value) if np.isfinite(value) else "—"


def _concatenate(label: str, samples: list[Sample]) -> Sample:
    arrays = (np.concatenate([getattr(s, k) for s in samples]) for k in ("intensity", "width", "length"))
    return Sample(label, *arrays, sum(s.n_events for s in samples))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=5000, help="simulated gamma events (default 5000)")
    parser.add_argument("--seed", type=int, default=1, help="simulation seed (default 1)")
    parser.add_argument("--n-jobs", type=int, default=1, help="worker processes (default 1)")
    parser.add_argument("--max-leakage", type=float, default=0.2, help="quality cut on leakage2 (default 0.2)")
    parser.add_argument("--shared", type=Path, default=SHARED_IACT, help="folder of the real IACT files (../shared/data/iact)")
    parser.add_argument("--output", type=Path, default=RESULTS / "hillas_real_vs_sim",
                        help="output stem: STEM.png, STEM.pdf, STEM.md (default benchmarks/results/hillas_real_vs_sim)")
    parser.add_argument("--work-dir", type=Path, default=Path("/tmp/showerlearn_hillas_real_vs_sim"),
                        help="cache of the simulated DL1 file (default /tmp/showerlearn_hillas_real_vs_sim)")
    args = parser.parse_args(argv)

    real_files = sorted((args.shared / "dl1_ctapipe").glob("*.dl1.h5")) + [args.shared / "dl1_lstchain" / "dl1_gamma_example.h5"]
    if not args.shared.is_dir() or not all(path.is_file() for path in real_files):
        print(f"error: the real LST images are not in {args.shared} (../shared/data/iact of the developers' "
              "checkout); this benchmark needs them (--shared DIR).", file=sys.stderr)
        return 2
    args.work_dir.mkdir(parents=True, exist_ok=True)
    sim = parameterise(simulated_file(args.work_dir, args.events, args.seed, args.n_jobs), "simulation",
                       args.max_leakage, args.n_jobs)
    real = [parameterise(path, path.name.split(".")[0], args.max_leakage, 1) for path in real_files]
    real = [sample for sample in real if len(sample.intensity)]
    all_real = _concatenate("real", real)

    written = save_figure(figure(sim, real, max_scatter=3000, seed=args.seed), args.output)
    rows = table(sim, all_real)
    text = "\n".join([
        "# Hillas width and length vs intensity: simulated vs real LST MC gammas",
        "",
        f"`python benchmarks/hillas_real_vs_sim.py --events {args.events} --seed {args.seed}`. Simulation: "
        f"{args.events} triggered gammas (simulator defaults, point source 0.4 deg off-axis), "
        f"{len(sim.intensity)} images after cuts. Real: LST Monte Carlo gamma images of "
        + ", ".join(f"`{s.label}` ({len(s.intensity)} images of {s.n_events} events)" for s in real)
        + f" = {len(all_real.intensity)} images of {all_real.n_events} array events after cuts (images of one "
        "event seen by several telescopes are correlated, and `dl1_gamma_example`'s 25 events are 3 CORSIKA "
        "showers, of 0.10, 1.1 and 2.4 TeV, each reused with different impacts). Both through `open_dl1` -> `hillas_features` "
        f"(lstchain cleaning 6/3 p.e. + 2 ns time + dynamic), valid parameters and leakage2 < {args.max_leakage}; "
        "widths and lengths in deg with each file's focal length. Medians per intensity bin (the real "
        "images are few: a bin with 1-3 of them is indicative only).",
        "",
        *rows,
        "",
        f"Figure: `{args.output.name}.png` / `.pdf`.",
        "",
    ])
    write_text_atomic(args.output.with_suffix(".md"), text)
    print(text)
    print("written:", ", ".join(str(p) for p in [*written, args.output.with_suffix(".md")]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
