"""The default run's puzzle (issue 10, item 7): why the 32-D linear VICReg closed form probes below raw pixels.

On digits, ``kspectral train`` (defaults: VICReg, ``pairs = augment``, ``baseline_dim = 32``, ``baseline_rounds
= 4``) fits the linear VICReg closed form (:class:`kspectral.spectral.LinearVICReg`, hard variant:
``XᵀLX w = ν XᵀHX w``) on the pair graph of augmented views and probes it against raw pixels. This script
measures the linear and kNN probes of that closed form

- vs its dimension K ∈ {8, 16, 32, 48, 60} (pair graph, 4 rounds),
- vs the pair-graph rounds ∈ {1, 2, 4, 8} (K = 32),
- on a kNN graph (``knn:10``) and the label graph instead of the pair graph (every K),

and two controls that use no graph: PCA of the pixels to K dimensions, unwhitened and whitened (the closed form's
output is whitened, ``ZᵀHZ/N = I``). It goes through the CLI's own functions
(:func:`kspectral.runs.build_problem`, :func:`kspectral.runs.fit_baseline`, :func:`kspectral.runs.table.probe_row`,
the dataset loaded with the run's seed), so seed 0, K = 32, 4 rounds is the number ``kspectral train`` prints.

Usage::

    python experiments/default_run_puzzle.py [--out experiments/results/default_run_puzzle] [--seeds 0 1 2] [--quick]

Writes ``results.json`` (every measurement and the mean ± std table) and ``default_run_puzzle.png``.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from _common import SEEDS, mean_std, pyplot, write_results

DIMS = (8, 16, 32, 48, 60)
ROUNDS = (1, 2, 4, 8)
DEFAULT_ROUNDS = 4
DEFAULT_DIM = 32


def _pca(train, test, dim, whiten):
    mean = train.mean(axis=0)
    _, s, vt = np.linalg.svd(train - mean, full_matrices=False)
    W = vt[:dim].T
    if whiten:
        W = W / (s[:dim] / np.sqrt(len(train)))
    return (train - mean) @ W, (test - mean) @ W


def run(seeds, dims=DIMS, rounds_grid=ROUNDS):
    from kspectral.data.datasets import load
    from kspectral.runs.problem import build_problem, fit_baseline
    from kspectral.runs.table import probe_row

    records = []

    def probe(kind, seed, dim, rounds, train, test, ds, extra=None):
        row = probe_row(kind, train, test, ds, seed=seed)
        rec = {"kind": kind, "seed": seed, "dim": dim, "rounds": rounds, "linear": row.linear, "knn": row.knn}
        rec.update(extra or {})
        records.append(rec)
        print(f"  {kind:>14} seed={seed} K={dim} rounds={rounds}: linear {row.linear:.4f} kNN {row.knn:.4f}",
              flush=True)

    for seed in seeds:
        ds = load("digits", seed=seed)  # the run's seed splits the data, as `kspectral train --seed`
        raw_train = ds.flat("train").astype("float64")
        raw_test = ds.flat("test").astype("float64")
        probe("raw pixels", seed, raw_train.shape[1], None, raw_train, raw_test, ds,
              {"pixel_rank": int(np.linalg.matrix_rank(raw_train - raw_train.mean(0)))})
        problems = {f"pairs r={r}": build_problem(ds, "pairs", rounds=r, seed=seed, max_samples=10000)
                    for r in rounds_grid}
        problems["knn:10"] = build_problem(ds, "knn:10", seed=seed)
        problems["labels"] = build_problem(ds, "labels", seed=seed)
        for name, problem in problems.items():
            rounds = int(name.split("=")[1]) if name.startswith("pairs") else None
            for dim in (dims if rounds in (None, DEFAULT_ROUNDS) else (DEFAULT_DIM,)):
                est, summary = fit_baseline("vicreg", problem, dim, "linear")
                kind = "pairs" if rounds is not None else name
                probe(kind, seed, dim, rounds, est.transform(raw_train), est.transform(raw_test), ds,
                      {"rank": summary["rank"], "warnings": [w["code"] for w in summary["warnings"]]})
        for dim in dims:
            for whiten in (False, True):
                tr, te = _pca(raw_train, raw_test, dim, whiten)
                probe("PCA whitened" if whiten else "PCA", seed, dim, None, tr, te, ds)
    return records


def summarise(records):
    groups = {}
    for r in records:
        groups.setdefault((r["kind"], r["dim"], r["rounds"]), []).append(r)
    table = []
    for (kind, dim, rounds), rs in groups.items():
        row = {"kind": kind, "dim": dim, "rounds": rounds, "n_seeds": len(rs)}
        for probe in ("linear", "knn"):
            row[f"{probe}_mean"], row[f"{probe}_std"] = mean_std([r[probe] for r in rs])
        table.append(row)
    return table


def plot(table, path, dims=DIMS, rounds_grid=ROUNDS):
    plt = pyplot()

    def rows(kind, rounds=None, dim=None):
        out = [t for t in table if t["kind"] == kind and (rounds is None or t["rounds"] == rounds)
               and (dim is None or t["dim"] == dim)]
        return sorted(out, key=lambda t: (t["dim"], t["rounds"] or 0))

    raw = rows("raw pixels")[0]
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.2))
    for ax, probe in zip(axes[:2], ("linear", "knn")):
        for kind, rounds, style in (("pairs", DEFAULT_ROUNDS, "o-"), ("knn:10", None, "s-"), ("labels", None, "^-"),
                                    ("PCA", None, "x--"), ("PCA whitened", None, "d--")):
            rs = rows(kind, rounds)
            label = f"linear VICReg, pair graph ({rounds} rounds)" if kind == "pairs" else (
                f"linear VICReg, {kind} graph" if kind in ("knn:10", "labels") else kind + " of pixels")
            ax.errorbar([t["dim"] for t in rs], [t[f"{probe}_mean"] for t in rs],
                        yerr=[t[f"{probe}_std"] for t in rs], fmt=style, capsize=3, label=label)
        ax.axhline(raw[f"{probe}_mean"], color="k", lw=1, ls=":", label="raw pixels (64-D)")
        ax.set_xlabel("dimension K")
        ax.set_ylabel(f"{probe} probe top-1 (test)")
        ax.set_title(f"digits: {probe} probe vs K (mean ± std, 3 seeds)")
        ax.set_xticks(dims)
    axes[0].legend(fontsize=7, loc="lower right")
    ax = axes[2]
    rs = [t for t in table if t["kind"] == "pairs" and t["dim"] == DEFAULT_DIM]
    rs.sort(key=lambda t: t["rounds"])
    for probe, style in (("linear", "o-"), ("knn", "s-")):
        ax.errorbar([t["rounds"] for t in rs], [t[f"{probe}_mean"] for t in rs], yerr=[t[f"{probe}_std"] for t in rs],
                    fmt=style, capsize=3, label=f"{probe} probe, linear VICReg K={DEFAULT_DIM}")
        ax.axhline(raw[f"{probe}_mean"], ls=":", lw=1, color="k" if probe == "linear" else "grey",
                   label=f"raw pixels, {probe}")
    ax.set_xscale("log", base=2)
    ax.set_xticks(rounds_grid)
    ax.set_xticklabels([str(r) for r in rounds_grid])
    ax.set_xlabel("pair-graph rounds")
    ax.set_ylabel("top-1 (test)")
    ax.set_title(f"digits: K={DEFAULT_DIM} closed form vs pair-graph rounds")
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="experiments/results/default_run_puzzle")
    parser.add_argument("--seeds", type=int, nargs="+", default=list(SEEDS))
    parser.add_argument("--quick", action="store_true", help="one seed, K ∈ {8, 32}, rounds ∈ {1, 4} (for the tests)")
    args = parser.parse_args(argv)
    dims, rounds_grid = ((8, DEFAULT_DIM), (1, DEFAULT_ROUNDS)) if args.quick else (DIMS, ROUNDS)
    if args.quick:
        args.seeds = args.seeds[:1]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    records = run(args.seeds, dims, rounds_grid)
    table = summarise(records)
    seconds = time.perf_counter() - started
    result = {"experiment": "default_run_puzzle", "dataset": "digits", "method": "vicreg (LinearVICReg, hard)",
              "seeds": args.seeds, "dims": dims, "rounds": rounds_grid, "seconds": round(seconds, 1),
              "table": table, "records": records}
    write_results(out, result)
    plot(table, out / "default_run_puzzle.png", dims, rounds_grid)
    print(f"{'kind':>14} {'K':>3} {'rounds':>6}  linear            kNN")
    for t in sorted(table, key=lambda t: (t["kind"], t["dim"], t["rounds"] or 0)):
        print(f"{t['kind']:>14} {t['dim']:>3} {str(t['rounds']):>6}  {t['linear_mean']:.4f} ± {t['linear_std']:.4f}"
              f"   {t['knn_mean']:.4f} ± {t['knn_std']:.4f}")
    print(f"wrote {out}/results.json and {out}/default_run_puzzle.png in {seconds:.1f} s")


if __name__ == "__main__":
    main()
