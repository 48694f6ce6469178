"""Issue 22: does a trained method attribute the far soft hits better than the ceiling study's priors?

``calorimeter_ceiling.py`` takes the far soft hits (at most 0.52 MeV and more than 0.5 rad from their gamma) from
the truth oracle and places them by priors; the best, the event's most energetic cluster, closes 58-59 % of the
gap to R3BRoot's window. This places them where a trained method put them instead, on each seed's test events
of a ``calorimeter_clustering.py`` output folder (its runs in ``runs/``):

* **oracle, far soft hits where the method puts them**: every hit keeps its true gamma but the far soft ones;
  each of those joins the gamma that owns most of the energy of the other hits (not far and soft) of the
  method's cluster holding it, or stays alone when that cluster holds nothing else. What the method's clusters
  would reach if it clustered every other hit as the truth does: the part of the gap that its far soft hits
  leave, and the part left to the clustering of the other hits;
* **the method above 0.52 MeV, every soft hit with its gamma's cluster**: the other way round, the method's
  clusters of the hits above 0.52 MeV, each soft hit (near or far) put into the cluster holding most of its
  gamma's energy above 0.52 MeV: what the method's clustering of the harder hits reaches;
* **oracle, far soft hits to the most energetic cluster** and **alone**, the ceiling study's references, on the
  same test events.

It also counts where the far soft hits went: to their own gamma, another, or alone, for the method and for
the most-energetic prior, the annihilation-like ones (511 keV within 3 sigma) apart. Writes
``attribution.md`` and ``.json`` into the folder.

    python benchmarks/calorimeter_attribution.py --output benchmarks/results/calorimeter_clustering_400k_azimuth \\
        --predictions test_time_views_7.h5
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from showerlearn.calorimeter.evaluation import split_tables
from showerlearn.calorimeter.evaluation.metrics import gamma_matches, in_photopeak
from showerlearn.calorimeter.evaluation.tables import cluster_table
from showerlearn.io.atomic import write_json_atomic, write_text_atomic
from showerlearn.io.tables import read_tables

sys.path.insert(0, str(Path(__file__).resolve().parent))
from calorimeter_ceiling import (  # noqa: E402  (benchmarks/ is not a package)
    COLUMNS, REFERENCES, Events, annihilation_like, cell, far_soft_alone, far_soft_to_most_energetic, truth, with_gains,
)
from calorimeter_clustering import FAR_RAD, SOFT_MEV  # noqa: E402

#: the rows of the table, in order, with their labels ({method}: the method's name)
ROWS = {
    "r3b_rectangle": REFERENCES["r3b_rectangle"],
    "r3b_cone_040": REFERENCES["r3b_cone_040"],
    "method": "{method}",
    "oracle_method_far": "oracle, far soft hits where {method} puts them",
    "method_soft_from_truth": f"{{method}} above {SOFT_MEV} MeV, every soft hit with its gamma's cluster",
    "oracle_most_energetic": "oracle, far soft hits to the most energetic cluster",
    "oracle_alone": "oracle, far soft hits alone",
    "oracle": "oracle (truth labels)",
}


def method_owner(events: Events, labels: np.ndarray) -> np.ndarray:
    """Per hit, the true gamma that owns most of the energy of the hits of its cluster in ``labels`` that are not
    far and soft (-1: the cluster holds no such hit of a gamma)."""
    cluster = np.unique(np.stack([events.hits["event"], labels], axis=1), axis=0, return_inverse=True)[1].ravel()
    counted = (events.truth >= 0) & ~events.far_soft
    pair = cluster[counted].astype(np.int64) * (events.truth.max(initial=0) + 1) + events.truth[counted]
    pairs, inverse = np.unique(pair, return_inverse=True)
    energy = np.bincount(inverse, events.hits["energy"][counted])
    pair_cluster, pair_gamma = np.divmod(pairs, events.truth.max(initial=0) + 1)
    order = np.lexsort((energy, pair_cluster))  # per cluster, its most energetic gamma last
    last = order[np.r_[pair_cluster[order][1:] != pair_cluster[order][:-1], True]] if len(order) else order
    owner = np.full(cluster.max(initial=-1) + 1, -1)
    owner[pair_cluster[last]] = pair_gamma[last]
    return np.where(labels >= 0, owner[cluster], -1)  # a hit the method left in no cluster is alone


def far_soft_from_method(events: Events, labels: np.ndarray) -> np.ndarray:
    """Truth labels, each far soft hit with the gamma :func:`method_owner` gives it, or alone."""
    owner = method_owner(events, labels)
    placed = np.where(events.far_soft, owner, events.truth)
    return events.alone(events.far_soft & (owner < 0), placed)


def soft_from_truth(events: Events, labels: np.ndarray) -> np.ndarray:
    """The method's clusters of the hits above SOFT_MEV, each soft hit of a gamma put into the cluster holding most
    of its gamma's energy above SOFT_MEV (the gamma's soft hits a cluster of their own where it has none)."""
    cluster = np.unique(np.stack([events.hits["event"], labels], axis=1), axis=0, return_inverse=True)[1].ravel()
    cluster = np.where(labels >= 0, cluster, -1)
    soft = events.hits["energy"] <= SOFT_MEV
    counted = (events.truth >= 0) & ~soft & (cluster >= 0)
    span = cluster.max(initial=0) + 1
    keys, inverse = np.unique(events.gamma_row[counted] * span + cluster[counted], return_inverse=True)
    energy = np.bincount(inverse, events.hits["energy"][counted])
    row, held_by = np.divmod(keys, span)
    order = np.lexsort((energy, row))  # per gamma, the cluster with most of its energy last
    last = order[np.r_[row[order][1:] != row[order][:-1], True]] if len(order) else order
    primary = np.full(len(events.gammas["event"]), -1)
    primary[row[last]] = held_by[last]
    gamma_primary = np.where(events.truth >= 0, primary[np.maximum(events.gamma_row, 0)], -1)
    # new labels above every cluster id: the gamma's own soft cluster, then the method's unclustered hits alone
    own_soft = span + np.maximum(events.gamma_row, 0)
    alone = span + len(events.gammas["event"]) + np.arange(len(labels))
    placed = np.where(gamma_primary >= 0, gamma_primary, own_soft)
    return np.where(soft & (events.truth >= 0), placed, np.where(cluster >= 0, cluster, alone))


def destinations(events: Events, assigned: np.ndarray) -> dict[str, dict[str, float]]:
    """Shares of the far soft hits (all, annihilation-like, the others) given to their own gamma, another one, or
    none, by ``assigned`` (a gamma index per hit, -1 alone)."""
    shares = {}
    annihilation = annihilation_like(events)
    for name, subset in (("all", events.far_soft), ("annihilation_like", events.far_soft & annihilation),
                         ("others", events.far_soft & ~annihilation)):
        given, true = assigned[subset], events.truth[subset]
        shares[name] = {"hits": int(subset.sum()), "own": float(np.mean(given == true)),
                        "other": float(np.mean((given >= 0) & (given != true))), "alone": float(np.mean(given < 0))}
    return shares


#: bins of the gammas' rest-frame energy [MeV] of the losses' table
LOSS_BINS = (0.3, 1.0, 2.0, 5.0, 10.0)


def _peak_and_merged(events: Events, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per gamma: in the photopeak; and its primary cluster more energetic than the gamma, or none (merged)."""
    hits = {**events.hits, "label": labels}
    matches = gamma_matches(events.gammas, cluster_table(hits, labels), hits)
    return in_photopeak(events.gammas, matches), (matches["cluster"] < 0) | (matches["cluster_energy"] > events.gammas["energy_lab"])


def losses(events: Events, method: np.ndarray, reference: np.ndarray) -> dict[str, list[float]]:
    """Shares of all gammas in the photopeak with ``reference`` labels and not with ``method``'s, per bin of
    LOSS_BINS: merged with other hits (see :func:`_peak_and_merged`) or missing some of theirs."""
    peak, merged = _peak_and_merged(events, method)
    lost = _peak_and_merged(events, reference)[0] & ~peak
    energy, n = events.gammas["energy_rest"], len(peak)
    return {kind: (np.histogram(energy[lost & mask], LOSS_BINS)[0] / n).tolist()
            for kind, mask in (("merged", merged), ("missing_hits", ~merged))}


def _table(run: Path, name: str) -> dict[str, dict[str, np.ndarray]]:
    if not (run / name).is_file():
        raise SystemExit(f"{run / name}: missing; run benchmarks/calorimeter_clustering.py (and, for test-time "
                         "views, benchmarks/calorimeter_test_time_views.py) with this --output first")
    return read_tables(run / name)


def analyse_seed(folder: Path, seed: int, method: str, predictions: str) -> dict[str, Any]:
    runs = folder / "runs" / f"seed{seed}"
    oracle = _table(runs / "oracle", "predictions.h5")
    hits, gammas, beta = split_tables(oracle["predictions"], oracle)
    labels = {}
    for name, file in (("r3b_rectangle", "predictions.h5"), ("r3b_cone_040", "predictions.h5"), ("method", predictions)):
        tables = _table(runs / (method if name == "method" else name), file)
        same = np.array_equal(tables["predictions"]["event_id"], oracle["predictions"]["event_id"]) and all(
            np.array_equal(tables["hits"][key], oracle["hits"][key]) for key in ("event_index", "energy", "true_gamma"))
        if not same:
            raise SystemExit(f"seed {seed}: {name}'s {file} holds other events or hits than the oracle's test split")
        labels[name] = np.asarray(tables["hits"]["label"], np.int64)
    events = Events(hits, gammas, beta)
    labels |= {"oracle_method_far": far_soft_from_method(events, labels["method"]),
               "method_soft_from_truth": soft_from_truth(events, labels["method"]),
               "oracle_most_energetic": far_soft_to_most_energetic(events), "oracle_alone": far_soft_alone(events),
               "oracle": truth(events)}
    rows = with_gains({name: events.report(labels[name]) for name in ROWS})
    return {"rows": rows, "destinations": {"method": destinations(events, method_owner(events, labels["method"])),
                                           "most_energetic": destinations(events, events.most_energetic)},
            "losses": losses(events, labels["method"], labels["oracle_method_far"])}


def markdown(per_seed: Mapping[int, Mapping[str, Any]], method: str, command: str) -> str:
    seeds = list(per_seed)
    lines = ["| method | " + " | ".join(title for _, title, _ in COLUMNS) + " |", "|---|" + "---:|" * len(COLUMNS)]
    for name, label in ROWS.items():
        cells = [cell([per_seed[s]["rows"][name][key] for s in seeds], percent) for key, _, percent in COLUMNS]
        lines.append(f"| {label.format(method=method)} | " + " | ".join(cells) + " |")
    where = ["| far soft hits | by | hits per seed | own gamma | another gamma | alone |", "|---|---|---:|---:|---:|---:|"]
    for subset, subset_label in (("all", "all"), ("annihilation_like", "annihilation-like"), ("others", "the others")):
        for by, by_label in (("method", method), ("most_energetic", "most energetic cluster")):
            values = [per_seed[s]["destinations"][by][subset] for s in seeds]
            where.append(f"| {subset_label} | {by_label} | {np.mean([v['hits'] for v in values]):,.0f} | "
                         + " | ".join(cell([v[key] for v in values], True) for key in ("own", "other", "alone")) + " |")

    heads = " | ".join(f"{a:g}-{b:g} MeV" for a, b in zip(LOSS_BINS[:-1], LOSS_BINS[1:]))
    lost = [f"| gamma's rest-frame energy | {heads} | all |", "|---|" + "---:|" * len(LOSS_BINS)]
    for kind, kind_label in (("merged", "merged (primary cluster above the gamma's energy, or none)"),
                             ("missing_hits", "missing some of its hits")):
        shares = np.array([per_seed[s]["losses"][kind] for s in seeds])
        lost.append(f"| {kind_label} | " + " | ".join(cell(list(column), True) for column in shares.T)
                    + f" | {cell(list(shares.sum(axis=1)), True)} |")

    def gap(name: str) -> float:
        return 100 * float(np.mean([per_seed[s]["rows"][name]["gap_r3b_rectangle"] for s in seeds]))

    return (
        f"# Far soft hits where {method} puts them (issue 22)\n\n"
        f"Command: `{command}`. The test events of seeds {', '.join(map(str, seeds))}; far soft hit: at most {SOFT_MEV} MeV "
        f"and more than {FAR_RAD} rad from its gamma. See the module docstring of `benchmarks/calorimeter_attribution.py`. "
        "Mean ± standard deviation over the seeds.\n\n" + "\n".join(lines) + "\n\n"
        "Where the far soft hits went (the method: with the gamma owning most of its cluster's other hits):\n\n"
        + "\n".join(where) + "\n\n"
        f"Where {method} loses, as shares of all gammas, the gammas that the oracle with its far soft hits has in the "
        "photopeak:\n\n" + "\n".join(lost) + "\n\n"
        f"With every other hit clustered as the truth does, {method}'s own placement of the far soft hits closes "
        f"{gap('oracle_method_far'):.0f} % of the gap to R3BRoot's 0.25 rad window, against {gap('oracle_most_energetic'):.0f} % "
        f"for the most-energetic prior and {gap('oracle_alone'):.0f} % for leaving them alone; {method} as it is "
        f"closes {gap('method'):.0f} %. The far soft hits do not bound the gap below issue 22's 60 %: the "
        f"{gap('oracle_method_far') - gap('method'):.0f} points between the first and the last are lost in the "
        f"clustering of the other hits. Its clusters of the hits above {SOFT_MEV} MeV lose little: with every soft hit "
        f"given to its gamma's cluster they close {gap('method_soft_from_truth'):.0f} %; what it lacks is in placing "
        "the soft hits, near their gamma and far.\n"
    )


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--output", type=Path, required=True, help="a calorimeter_clustering.py output folder")
    parser.add_argument("--method", default="transformer", help="the trained method's run name (default transformer)")
    parser.add_argument("--predictions", default="predictions.h5",
                        help="its predictions file in each run (default predictions.h5; test_time_views_K.h5 for views)")
    args = parser.parse_args(argv)
    results = args.output / "results.json"
    if not results.is_file():
        raise SystemExit(f"{results}: missing; --output must be a calorimeter_clustering.py output folder")
    seeds = json.loads(results.read_text())["settings"]["seeds"]
    per_seed = {seed: analyse_seed(args.output, seed, args.method, args.predictions) for seed in seeds}
    command = "python benchmarks/calorimeter_attribution.py " + " ".join(argv if argv is not None else sys.argv[1:])
    text = markdown(per_seed, args.method, command)
    write_json_atomic(args.output / "attribution.json", {"method": args.method, "predictions": args.predictions,
                                                          "per_seed": per_seed})
    write_text_atomic(args.output / "attribution.md", text)
    print(text)


if __name__ == "__main__":
    main()
