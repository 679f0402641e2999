"""Rank follows G (issue 10, claim C3): the rank of SimCLR's and Barlow Twins' embeddings vs the components of G.

Claim (Balestriero & LeCun 2022, arXiv:2205.11508; ``docs/spec/theory.md`` §3.3, §3.5): on a positive-pair graph
``G`` with ``c`` connected components, SimCLR's optimum collapses each component onto a vertex of a regular simplex
(rank ``c − 1``) and Barlow Twins' optimum is spanned by the component indicators (rank ``min(K, c − 1)``), whatever
the embedding dimension K; VICReg's (Laplacian eigenmaps under a whitening constraint) keeps rank K.

Setup: N = 512 points of a D = 32 Gaussian mixture with C ∈ {2, 4, 8, 16} equal clusters (means ~ N(0, 3²I),
unit noise), ``G`` = the label graph of the clusters (C disjoint cliques), K = 16.

1. Closed forms (:mod:`kspectral.spectral`, the counterparts of :mod:`kspectral.spectral.baselines`):
   :func:`~kspectral.spectral.simclr_simplex` (SimCLR), :func:`~kspectral.spectral.barlow_twins_invariant`
   (Barlow Twins), :func:`~kspectral.spectral.laplacian_eigenmaps` (VICReg, hard-constraint limit) and
   :func:`~kspectral.spectral.quadratic_vicreg` with a small and a large invariance weight γ'. Rank:
   :func:`~kspectral.spectral.numerical_rank` (centred, rtol 1e-6).
2. Trainings: :class:`kspectral.methods.VICReg`, :class:`~kspectral.methods.SimCLR`,
   :class:`~kspectral.methods.BarlowTwins` with their default loss weights, an MLP encoder (32 → 64, Dense-BN-ReLU)
   and a linear 16-D projector (the embedding the loss sees), Adam 1e-3, 400 steps of 128 pairs drawn from ``G`` by
   :func:`kspectral.data.graph_pairs`. Rank of the N embeddings: numerical rank at rtol 1e-2 (centred; a trained
   embedding is never exactly low rank), RankMe (Garrido et al. 2023, arXiv:2210.02885) and the share of the
   centred embedding's energy Σσ² in its top C − 1 singular directions (1.0 = rank follows G exactly).
   SimCLR's embedding is row-normalised first (its loss sees directions only).

Usage::

    python experiments/rank_follows_graph.py [--out experiments/results/rank_follows_graph] [--seeds 0 1 2]
        [--steps 400] [--no-train] [--quick]

Writes ``results.json`` and ``rank_follows_graph.png``.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from _common import SEEDS, mean_std, pyplot, write_results

COMPONENTS = (2, 4, 8, 16)
K = 16
N = 512
D = 32
SMALL_GAMMA, LARGE_GAMMA = 1e-3, 1.0  # label graph: L's eigenvalues are 0 (×C) and N/C ∈ [32, 256]
TRAINED_RTOL = 1e-2


def mixture(C, seed):
    rng = np.random.default_rng(seed)
    y = np.repeat(np.arange(C), N // C)
    means = rng.normal(scale=3.0, size=(C, D))
    X = means[y] + rng.normal(size=(N, D))
    return X.astype(np.float32), y


def closed_forms(G):
    from kspectral.spectral import (barlow_twins_invariant, laplacian_eigenmaps, numerical_rank, quadratic_vicreg,
                                    simclr_simplex)

    Zs = {
        "simclr": simclr_simplex(G, K).embedding,
        "barlow_twins": barlow_twins_invariant(G, K).embedding,
        "vicreg": laplacian_eigenmaps(G, K),
        f"vicreg quadratic γ'={SMALL_GAMMA:g}": quadratic_vicreg(G, K, invariance_weight=SMALL_GAMMA).embedding,
        f"vicreg quadratic γ'={LARGE_GAMMA:g}": quadratic_vicreg(G, K, invariance_weight=LARGE_GAMMA).embedding,
    }
    return {name: numerical_rank(Z) for name, Z in Zs.items()}


def top_energy(Z, r):
    """Share of the centred embedding's energy (Σσ²) in its top ``r`` singular directions."""
    s = np.linalg.svd(Z - Z.mean(axis=0), compute_uv=False) ** 2
    return float(s[:r].sum() / s.sum())


def train(method, X, G, seed, steps, C):
    import keras

    from kspectral.data import graph_pairs
    from kspectral.encoders.small import mlp_encoder
    from kspectral.methods import BarlowTwins, SimCLR, VICReg
    from kspectral.spectral import numerical_rank, rankme

    keras.utils.set_random_seed(seed)
    cls = {"vicreg": VICReg, "simclr": SimCLR, "barlow_twins": BarlowTwins}[method]
    model = cls(encoder=mlp_encoder((D,), widths="64"), projector=str(K), diagnostics=False)
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    history = model.fit(graph_pairs(X, G, 128, steps_per_epoch=steps, seed=seed), epochs=1, verbose=0)
    Z = np.asarray(model.embed(X, training=False), dtype=np.float64)
    if method == "simclr":  # SimCLR's loss sees the directions only
        Z = Z / np.linalg.norm(Z, axis=1, keepdims=True)
    return {"rank": numerical_rank(Z, rtol=TRAINED_RTOL), "rankme": float(rankme(Z)),
            "energy_top_c_minus_1": top_energy(Z, C - 1),
            "final_loss": float(history.history["loss"][-1])}


def plot(table, path, trained, components=COMPONENTS):
    plt = pyplot()
    ncols = 4 if trained else 1
    fig, axes = plt.subplots(1, ncols, figsize=(5.2 * ncols, 4.2), squeeze=False)
    axes = axes[0]
    Cs = list(components)
    ax = axes[0]
    for name in table["closed_form"]:
        ax.plot(Cs, [table["closed_form"][name][str(c)] for c in Cs], "o-", label=name)
    ax.plot(Cs, [c - 1 for c in Cs], "k:", lw=1, label="C − 1")
    ax.set_title(f"closed forms: numerical rank (K = {K})")
    if trained:
        for ax, key, title in ((axes[1], "rank", f"trained: numerical rank (rtol {TRAINED_RTOL:g})"),
                               (axes[2], "rankme", "trained: RankMe"),
                               (axes[3], "energy_top_c_minus_1", "trained: energy share of top C − 1 directions")):
            for name, rows in table["trained"].items():
                ax.errorbar(Cs, [rows[str(c)][f"{key}_mean"] for c in Cs], yerr=[rows[str(c)][f"{key}_std"] for c in Cs],
                            fmt="o-", capsize=3, label=name)
            if key != "energy_top_c_minus_1":
                ax.plot(Cs, [c - 1 for c in Cs], "k:", lw=1, label="C − 1")
            ax.set_title(title + " (mean ± std, 3 seeds)")
    for i, ax in enumerate(axes):
        if i < 3:
            ax.axhline(K, color="grey", lw=0.8, ls="--")
        ax.set_xscale("log", base=2)
        ax.set_xticks(Cs)
        ax.set_xticklabels([str(c) for c in Cs])
        ax.set_xlabel("connected components C of G (label graph)")
        ax.set_ylabel("share of Σσ²" if i == 3 else "rank of the N × K embedding")
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="experiments/results/rank_follows_graph")
    parser.add_argument("--seeds", type=int, nargs="+", default=list(SEEDS))
    parser.add_argument("--steps", type=int, default=400)
    parser.add_argument("--no-train", action="store_true", help="closed forms only")
    parser.add_argument("--quick", action="store_true", help="C ∈ {2, 4}, one seed, 20 steps (for the tests)")
    args = parser.parse_args(argv)
    components = COMPONENTS[:2] if args.quick else COMPONENTS
    if args.quick:
        args.seeds, args.steps = args.seeds[:1], 20
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    from kspectral.spectral import connected_components, label_graph

    started = time.perf_counter()
    records = []
    for C in components:
        for seed in args.seeds:
            X, y = mixture(C, seed)
            G = label_graph(y)
            assert connected_components(G)[0] == C
            for name, rank in closed_forms(G).items():
                records.append({"kind": "closed_form", "method": name, "C": C, "seed": seed, "rank": rank})
            if not args.no_train:
                for method in ("vicreg", "simclr", "barlow_twins"):
                    t = time.perf_counter()
                    r = train(method, X, G, seed, args.steps, C)
                    r.update(kind="trained", method=method, C=C, seed=seed, seconds=round(time.perf_counter() - t, 1))
                    records.append(r)
                    print(f"C={C} seed={seed} {method}: rank {r['rank']} RankMe {r['rankme']:.2f} "
                          f"top-(C−1) energy {r['energy_top_c_minus_1']:.3f} loss {r['final_loss']:.3f} ({r['seconds']} s)", flush=True)
    table = {"closed_form": {}, "trained": {}}
    for r in records:
        if r["kind"] == "closed_form":
            ranks = {x["rank"] for x in records if x["kind"] == "closed_form" and x["method"] == r["method"]
                     and x["C"] == r["C"]}
            assert len(ranks) == 1  # the closed form's rank does not depend on the seed
            table["closed_form"].setdefault(r["method"], {})[str(r["C"])] = r["rank"]
        else:
            rs = [x for x in records if x["kind"] == "trained" and x["method"] == r["method"] and x["C"] == r["C"]]
            entry = {}
            for key in ("rank", "rankme", "energy_top_c_minus_1", "final_loss"):
                entry[f"{key}_mean"], entry[f"{key}_std"] = mean_std([x[key] for x in rs])
            table["trained"].setdefault(r["method"], {})[str(r["C"])] = entry
    seconds = time.perf_counter() - started
    result = {"experiment": "rank_follows_graph", "N": N, "D": D, "K": K, "components": components,
              "seeds": args.seeds, "steps": None if args.no_train else args.steps, "trained_rtol": TRAINED_RTOL,
              "seconds": round(seconds, 1),
              "table": table, "records": records}
    write_results(out, result)
    plot(table, out / "rank_follows_graph.png", trained=not args.no_train, components=components)
    print("closed forms, numerical rank:", "C =", components)
    for name, row in table["closed_form"].items():
        print(f"  {name:>26}: {[row[str(c)] for c in components]}")
    for name, row in table["trained"].items():
        print(f"  trained {name:>12}: " + "  ".join(
            f"C={c}: rank {row[str(c)]['rank_mean']:.1f} ± {row[str(c)]['rank_std']:.1f}, RankMe "
            f"{row[str(c)]['rankme_mean']:.2f} ± {row[str(c)]['rankme_std']:.2f}, top-(C−1) energy "
            f"{row[str(c)]['energy_top_c_minus_1_mean']:.3f} ± {row[str(c)]['energy_top_c_minus_1_std']:.3f}" for c in components))
    print(f"wrote {out}/results.json and {out}/rank_follows_graph.png in {seconds:.1f} s")


if __name__ == "__main__":
    main()
