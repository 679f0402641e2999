"""G alignment (issue 10, item 3; claims C4, C5): which SSL method to prefer when the relation graph G is aligned
with the downstream task, misaligned, and when data are scarce.

Claim (Balestriero & LeCun 2022, "Contrastive and Non-Contrastive Self-Supervised Learning Recover Global and Local
Spectral Embedding Methods", arXiv:2205.11508; ``docs/spec/theory.md`` §5). The paper's guidance exists in two
versions that disagree on SimCLR and Barlow Twins:

- arXiv v3 abstract: (i) if G is aligned with the task any SSL method works, but in the low-data regime VICReg's
  invariance weight should be high; (ii) if G is misaligned, VICReg with a small invariance weight should be
  preferred over SimCLR or Barlow Twins.
- NeurIPS 2022 abstract: (i) aligned + low data: SimCLR or VICReg with a high invariance weight should be preferred;
  (ii) misaligned: Barlow Twins or VICReg with a small invariance weight should be preferred.

Protocol (fixed before any run; theory.md §5 "Proposed small reproduction protocol", sized for 2 CPU cores):

- Data: a synthetic mixture in D = 16 dimensions with a label attribute y (C = 4 classes, means (±1.5, ±1.5) in
  dimensions 0-1) and an independent nuisance attribute u (4 values, means (±3, ±3) in dimensions 2-3), 12 pure-noise
  dimensions, unit Gaussian noise on every dimension (Bayes accuracy for y ≈ 0.87; the nuisance is more salient than
  the label). Per seed: one test set of 1000 samples and a training pool of 1000; the low-data regime uses the first
  100 of the pool, the high-data regime all 1000. **Data regime = N_train, the number of samples that both the SSL
  model (the nodes of G) and the linear probe (its labelled training set) see**: low = 100, high = 1000.
- Relation graphs on the N_train training samples: the label graph ``kspectral.spectral.label_graph(y)`` (aligned)
  rewired by ``kspectral.spectral.rewire`` with p ∈ {0, .25, .5, .75, 1} (each edge moved to a random endpoint with
  probability p; p = 1 is a random graph with the label graph's edge count), and the nuisance graph
  ``label_graph(u)`` (misaligned: aligned with an attribute independent of y). Each graph's label homophily (share of
  edges joining two samples of the same class; chance = 1/4) is recorded.
- Trained methods (``kspectral.methods``; MLP encoder 16 → 64 Dense-BN-ReLU, linear projector to K = 16, Adam 1e-3,
  300 steps of 64 pairs drawn from G by ``kspectral.data.graph_pairs``, the same number of steps in both regimes):
  VICReg with a low invariance weight λ = 1 and a high one λ = 100 (variance μ = 25 and covariance ν = 1 fixed;
  the default is λ = 25), SimCLR (τ = 0.5), Barlow Twins (λ_BT = 0.0051), spectral contrastive (μ = 1). For a given
  (method, seed) every graph and regime starts from the same initial weights and pair-sampling seed (common random
  numbers). To pay the graph tracing once per method, one compiled model per method is reused: before each training
  its weights are set to a freshly built model's (same seed) and the optimizer's state is zeroed; the test checks that
  this gives the same embedding as a fresh model.
- Closed forms in the linear regime (``kspectral.spectral``, ``Z = XW``, K = D = 16, a second row set): VICReg's
  quadratic surrogate ``linear_vicreg(variant="quadratic")`` with a small and a large G-form invariance weight γ',
  set relative to the graph's mean degree d̄ (it keeps the directions whose generalized eigenvalue ν of
  ``XᵀLX w = ν XᵀHX w`` is below 2/γ'): small γ' = 2/(10 d̄) (keeps every direction: rank 16),
  large γ' = 2/(0.5 d̄)
  (keeps the directions in which G explains more than half the variance); Barlow Twins' graph-CCA analogy
  ``LinearBarlowTwins`` (theory.md §3.5; an analogy off the pair graph); the linear spectral contrastive closed form
  ``linear_spectral_contrastive`` (HaoChen et al. 2021, arXiv:2106.04156; theory.md §4). SimCLR has no linear closed
  form (theory.md §4), so it has no row here. Raw features are the reference.
- Metrics: linear-probe test accuracy (``kspectral.probes.linear_probe``: standardised features, L2 logistic
  regression, C = 1) on the embedding Z (what the loss sees and the theory describes; primary) and, for the trained
  models, on the encoder's 64-D representation (secondary); RankMe (Garrido et al. 2023, arXiv:2210.02885) of the
  training embedding. Seeds 0 1 2 (data, rewiring, initial weights, pair sampling); mean ± std (ddof 1).
- Decision rule (fixed in advance): in each cell (regime × graph) the "top set" holds the methods whose mean is
  within ``std_best + std_method`` of the best mean (mean ± std bars overlap); two methods are "separated" when their
  means differ by more than the sum of their stds. Aligned = p = 0; misaligned = the nuisance graph (p = 1 reported
  beside it).

Usage::

    python experiments/graph_alignment.py [--out experiments/results/graph_alignment] [--seeds 0 1 2]
        [--steps 300] [--quick]

Writes ``results.json`` and ``graph_alignment.png``, prints the tables (markdown).
"""

from __future__ import annotations

from _common import SEEDS, mean_std, pyplot, write_results

import argparse  # noqa: E402
import os  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

D = 16
K = 16
CLASSES = 4
NUISANCE_LEVELS = 4
LABEL_SHIFT = 1.5
NUISANCE_SHIFT = 3.0
N_TEST = 1000
REGIMES = {"low": 100, "high": 1000}
P_VALUES = (0.0, 0.25, 0.5, 0.75, 1.0)
NUISANCE = "nuisance"
ENCODER_WIDTHS = "64"
BATCH = 64
STEPS = 300
LEARNING_RATE = 1e-3
VICREG_LOW, VICREG_HIGH = 1.0, 100.0
SIMCLR_TEMPERATURE = 0.5
SMALL_GAMMA_FACTOR, LARGE_GAMMA_FACTOR = 10.0, 0.5  # γ' = 2 / (factor · mean degree)

TRAINED = ("vicreg_low_inv", "vicreg_high_inv", "simclr", "barlow_twins", "spectral_contrastive")
CLOSED_FORMS = ("raw_features", "vicreg_quadratic_small_inv", "vicreg_quadratic_large_inv", "barlow_twins_graph_cca",
                "spectral_contrastive_linear")
LABELS = {
    "vicreg_low_inv": f"VICReg λ={VICREG_LOW:g} (low inv.)",
    "vicreg_high_inv": f"VICReg λ={VICREG_HIGH:g} (high inv.)",
    "simclr": f"SimCLR τ={SIMCLR_TEMPERATURE:g}", "barlow_twins": "Barlow Twins",
    "spectral_contrastive": "spectral contrastive",
    "raw_features": "raw features (16-D)", "vicreg_quadratic_small_inv": "VICReg quadratic, small γ'",
    "vicreg_quadratic_large_inv": "VICReg quadratic, large γ'",
    "barlow_twins_graph_cca": "Barlow Twins graph CCA (analogy)",
    "spectral_contrastive_linear": "spectral contrastive, linear",
}


#: trained method and its closed-form counterpart share a colour
COLORS = {"vicreg_low_inv": "C0", "vicreg_quadratic_small_inv": "C0", "vicreg_high_inv": "C1",
          "vicreg_quadratic_large_inv": "C1", "simclr": "C2", "barlow_twins": "C3", "barlow_twins_graph_cca": "C3",
          "spectral_contrastive": "C4", "spectral_contrastive_linear": "C4", "raw_features": "k"}


def graph_names(p_values=P_VALUES):
    return [f"p={p:g}" for p in p_values] + [NUISANCE]


# ------------------------------------------------------------------------------------------------------------ data
def mixture(n, rng):
    """``n`` samples: features (n, D), label y (C classes), nuisance u (independent of y)."""
    y = rng.integers(CLASSES, size=n)
    u = rng.integers(NUISANCE_LEVELS, size=n)
    corners = np.array([[-1, -1], [-1, 1], [1, -1], [1, 1]], dtype=float)
    X = rng.normal(size=(n, D))
    X[:, 0:2] += LABEL_SHIFT * corners[y]
    X[:, 2:4] += NUISANCE_SHIFT * corners[u]
    return X.astype(np.float32), y, u


def split(seed):
    """Test set and training pool of one seed; regime r's training set is the first ``REGIMES[r]`` of the pool."""
    rng = np.random.default_rng(seed)
    test = mixture(N_TEST, rng)
    pool = mixture(max(REGIMES.values()), rng)
    return test, pool


def relation_graph(name, y, u, seed):
    """The graph ``name`` ("p=<p>" or "nuisance") on training labels ``y`` and nuisance ``u``."""
    from kspectral.spectral import label_graph, rewire

    if name == NUISANCE:
        return label_graph(u)
    p = float(name.split("=")[1])
    return rewire(label_graph(y), p, seed=seed) if p > 0 else label_graph(y)


def homophily(G, y):
    """Share of the edges of ``G`` that join two samples of the same class."""
    C = G.tocoo()
    return float(np.mean(y[C.row] == y[C.col]))


# ------------------------------------------------------------------------------------------------------- training
def build_model(method):
    """A fresh, uncompiled model of ``method`` (same architecture for every method: only the loss differs)."""
    from kspectral.encoders.small import mlp_encoder
    from kspectral.methods import BarlowTwins, SimCLR, SpectralContrastive, VICReg

    encoder = mlp_encoder((D,), widths=ENCODER_WIDTHS)
    common = dict(encoder=encoder, projector=str(K), diagnostics=False)
    if method == "vicreg_low_inv":
        model = VICReg(invariance_weight=VICREG_LOW, **common)
    elif method == "vicreg_high_inv":
        model = VICReg(invariance_weight=VICREG_HIGH, **common)
    elif method == "simclr":
        model = SimCLR(temperature=SIMCLR_TEMPERATURE, **common)
    elif method == "barlow_twins":
        model = BarlowTwins(**common)
    elif method == "spectral_contrastive":
        model = SpectralContrastive(**common)
    else:
        raise ValueError(f"unknown method {method!r}")
    model.build((None, D))
    return model


def initial_weights(method, seed):
    """The initial weights of ``method`` for ``seed`` (a freshly built model's; sets the global seeds)."""
    import keras

    keras.utils.set_random_seed(seed)
    return build_model(method).get_weights()


class Trainer:
    """One compiled model per method, reset to fresh initial weights and a zeroed optimizer before each training.

    Equivalent to building and compiling a new model for every training (``tests`` check it), but traces each
    method's train step once instead of 180 times.
    """

    def __init__(self, steps=STEPS):
        self.steps = steps
        self.models = {}

    def model(self, method):
        if method not in self.models:
            import keras

            model = build_model(method)
            model.compile(optimizer=keras.optimizers.Adam(LEARNING_RATE))
            self.models[method] = model
        return self.models[method]

    def train(self, method, X, G, seed):
        """Train ``method`` on pairs from ``G`` over the rows of ``X``; returns the trained model and the last loss."""
        from kspectral.data import graph_pairs

        model = self.model(method)
        weights = initial_weights(method, seed)  # also sets the global seeds, as for a fresh model
        model.set_weights(weights)
        if model.optimizer.built:
            for v in model.optimizer.variables:
                if "learning_rate" not in v.path:
                    v.assign(np.zeros(v.shape, dtype=v.dtype))
        history = model.fit(graph_pairs(X, G, BATCH, steps_per_epoch=self.steps, seed=seed), epochs=1, verbose=0)
        return model, float(history.history["loss"][-1])


def train_fresh(method, X, G, seed, steps):
    """Reference path: seed, build, compile and fit a new model (what :class:`Trainer` must reproduce)."""
    import keras

    from kspectral.data import graph_pairs

    keras.utils.set_random_seed(seed)
    model = build_model(method)
    model.compile(optimizer=keras.optimizers.Adam(LEARNING_RATE))
    history = model.fit(graph_pairs(X, G, BATCH, steps_per_epoch=steps, seed=seed), epochs=1, verbose=0)
    return model, float(history.history["loss"][-1])


def as_numpy(t):
    return np.asarray(t, dtype=np.float64)


# --------------------------------------------------------------------------------------------------- closed forms
def closed_form_embeddings(X, G, X_test):
    """``{name: (Z_train, Z_test, rank)}`` for the linear closed forms on ``G`` (K = D)."""
    from kspectral.spectral import LinearBarlowTwins, linear_spectral_contrastive, linear_vicreg

    mean_degree = float(G.sum()) / G.shape[0]
    out = {"raw_features": (X, X_test, int(np.linalg.matrix_rank(X - X.mean(0))))}
    for name, factor in (("vicreg_quadratic_small_inv", SMALL_GAMMA_FACTOR),
                         ("vicreg_quadratic_large_inv", LARGE_GAMMA_FACTOR)):
        sol = linear_vicreg(X, G, K, variant="quadratic", invariance_weight=2.0 / (factor * mean_degree))
        out[name] = (sol.transform(X), sol.transform(X_test), sol.rank)
    bt = LinearBarlowTwins(n_components=K).fit(X, graph=G)
    out["barlow_twins_graph_cca"] = (bt.transform(X), bt.transform(X_test), bt.rank_)
    sc = linear_spectral_contrastive(X, G, K)
    out["spectral_contrastive_linear"] = (sc.transform(X), sc.transform(X_test), sc.rank)
    return out


# ------------------------------------------------------------------------------------------------------------- run
def run(seeds, regimes, graphs, methods, steps, log=print):
    from kspectral.probes import linear_probe
    from kspectral.spectral import rankme

    trainer = Trainer(steps)
    records, graph_info = [], []
    for seed in seeds:
        (X_test, y_test, _), (X_pool, y_pool, u_pool) = split(seed)
        for regime in regimes:
            n = REGIMES[regime]
            X, y, u = X_pool[:n], y_pool[:n], u_pool[:n]
            Xd, Xtd = X.astype(np.float64), X_test.astype(np.float64)
            for graph in graphs:
                G = relation_graph(graph, y, u, seed)
                graph_info.append({"seed": seed, "regime": regime, "graph": graph, "edges": int(G.nnz // 2),
                                   "mean_degree": float(G.sum()) / n, "label_homophily": homophily(G, y)})
                for name, (Z, Zt, rank) in closed_form_embeddings(Xd, G, Xtd).items():
                    records.append({"kind": "closed_form", "method": name, "seed": seed, "regime": regime,
                                    "graph": graph, "probe_z": linear_probe(Z, y, Zt, y_test), "rank": int(rank),
                                    "rankme": float(rankme(Z))})
                for method in methods:
                    t = time.perf_counter()
                    model, loss = trainer.train(method, X, G, seed)
                    Z, Zt = as_numpy(model.embed(X)), as_numpy(model.embed(X_test))
                    H, Ht = as_numpy(model.encoder(X, training=False)), as_numpy(model.encoder(X_test, training=False))
                    r = {"kind": "trained", "method": method, "seed": seed, "regime": regime, "graph": graph,
                         "probe_z": linear_probe(Z, y, Zt, y_test), "probe_encoder": linear_probe(H, y, Ht, y_test),
                         "rankme": float(rankme(Z)), "final_loss": loss,
                         "seconds": round(time.perf_counter() - t, 2)}
                    records.append(r)
                latest = records[-len(methods) - len(CLOSED_FORMS):]
                log(f"seed {seed} {regime:>4} {graph:>8}: " + " ".join(
                    f"{x['method']}={x['probe_z']:.3f}" for x in latest), flush=True)
    return records, graph_info


def summarise(records, graph_info):
    """Mean ± std per (kind, method, regime, graph), the graphs' homophily, and the top sets of the decision rule."""
    keys = sorted({(r["kind"], r["method"], r["regime"], r["graph"]) for r in records})
    table = []
    for kind, method, regime, graph in keys:
        rs = [r for r in records if (r["kind"], r["method"], r["regime"], r["graph"]) == (kind, method, regime, graph)]
        row = {"kind": kind, "method": method, "regime": regime, "graph": graph, "seeds": len(rs)}
        for metric in ("probe_z", "probe_encoder", "rankme", "rank"):
            if metric in rs[0]:
                row[f"{metric}_mean"], row[f"{metric}_std"] = mean_std([r[metric] for r in rs])
        table.append(row)
    graphs = []
    for regime, graph in sorted({(g["regime"], g["graph"]) for g in graph_info}):
        gs = [g for g in graph_info if (g["regime"], g["graph"]) == (regime, graph)]
        entry = {"regime": regime, "graph": graph}
        for metric in ("edges", "mean_degree", "label_homophily"):
            entry[f"{metric}_mean"], entry[f"{metric}_std"] = mean_std([g[metric] for g in gs])
        graphs.append(entry)
    return table, graphs


def top_sets(table, kind="trained", metric="probe_z"):
    """Per (regime, graph): the best method and the methods whose mean ± std bar overlaps the best's."""
    out = {}
    for regime, graph in sorted({(t["regime"], t["graph"]) for t in table if t["kind"] == kind}):
        rows = [t for t in table if t["kind"] == kind and (t["regime"], t["graph"]) == (regime, graph)
                and f"{metric}_mean" in t]
        best = max(rows, key=lambda t: t[f"{metric}_mean"])
        top = [t["method"] for t in sorted(rows, key=lambda t: -t[f"{metric}_mean"])
               if best[f"{metric}_mean"] - t[f"{metric}_mean"] <= best[f"{metric}_std"] + t[f"{metric}_std"]]
        out[f"{regime}/{graph}"] = {"best": best["method"], "top_set": top}
    return out


def separated(table, regime, graph, a, b, kind="trained", metric="probe_z"):
    """``(mean_a − mean_b, std_a + std_b)`` in one cell: the difference and the sum of the seed stds."""
    ra, rb = (next(t for t in table if (t["kind"], t["method"], t["regime"], t["graph"]) == (kind, m, regime, graph))
              for m in (a, b))
    return ra[f"{metric}_mean"] - rb[f"{metric}_mean"], ra[f"{metric}_std"] + rb[f"{metric}_std"]


def guidance_evidence(table, regimes):
    """The comparisons the two abstracts disagree on, per regime (trained models, probe on Z and on the encoder)."""
    ev = {}
    for metric in ("probe_z", "probe_encoder"):
        for regime in regimes:
            cells = {}
            for graph, pairs in (("p=0", (("simclr", "vicreg_high_inv"), ("simclr", "barlow_twins"),
                                          ("vicreg_high_inv", "vicreg_low_inv"), ("barlow_twins", "vicreg_high_inv"))),
                                 (NUISANCE, (("vicreg_low_inv", "simclr"), ("vicreg_low_inv", "barlow_twins"),
                                             ("barlow_twins", "simclr"), ("vicreg_low_inv", "vicreg_high_inv"))),
                                 ("p=1", (("vicreg_low_inv", "simclr"), ("vicreg_low_inv", "barlow_twins"),
                                          ("barlow_twins", "simclr")))):
                if not any(t["graph"] == graph and t["regime"] == regime for t in table):
                    continue
                for a, b in pairs:
                    if not all(any(t["method"] == m and t["graph"] == graph for t in table) for m in (a, b)):
                        continue
                    diff, stds = separated(table, regime, graph, a, b, metric=metric)
                    cells[f"{graph}: {a} − {b}"] = {"difference": diff, "sum_of_stds": stds,
                                                    "separated": bool(abs(diff) > stds)}
            ev[f"{metric}/{regime}"] = cells
    return ev


# ------------------------------------------------------------------------------------------------------------ plot
def plot(table, graphs, regimes, path, n_seeds):
    plt = pyplot()
    ps = [g for g in graphs if g != NUISANCE]
    xs = [float(g.split("=")[1]) for g in ps]
    x_nuis = 1.2
    fig, axes = plt.subplots(2, len(regimes), figsize=(5.6 * len(regimes), 8.0), squeeze=False)
    for row, (kind, methods, title) in enumerate((("trained", TRAINED, "trained MLP, probe on Z"),
                                                  ("closed_form", CLOSED_FORMS, "linear closed forms (K = D)"))):
        for col, regime in enumerate(regimes):
            ax = axes[row][col]
            for i, method in enumerate(methods):
                cell = {t["graph"]: t for t in table if (t["kind"], t["method"], t["regime"]) == (kind, method, regime)}
                if not cell:
                    continue
                raw = method == "raw_features"
                fmt, marker = ("--", "x") if raw else ("o-", "X")
                m = [cell[g]["probe_z_mean"] for g in ps if g in cell]
                s = [cell[g]["probe_z_std"] for g in ps if g in cell]
                x = [xv for xv, g in zip(xs, ps) if g in cell]
                ax.errorbar(x, m, yerr=s, fmt=fmt, color=COLORS[method], lw=1 if raw else 1.5, capsize=3,
                            label=LABELS[method])
                if NUISANCE in cell:  # the misaligned graph: a separate marker right of the p axis
                    ax.errorbar([x_nuis + 0.015 * (i - 2)], [cell[NUISANCE]["probe_z_mean"]],
                                yerr=[cell[NUISANCE]["probe_z_std"]], fmt=marker, color=COLORS[method], ms=9, capsize=3)
            ax.axhline(1.0 / CLASSES, color="grey", ls=":", lw=1)
            ax.axvline(1.1, color="grey", lw=0.6)
            ax.set_xticks(xs + [x_nuis])
            ax.set_xticklabels([f"{v:g}" for v in xs] + ["nuisance\ngraph"])
            ax.set_xlabel("fraction p of the label graph's edges rewired")
            ax.set_ylabel(f"linear-probe test accuracy (mean ± std, {n_seeds} seeds)")
            ax.set_ylim(0.15, 0.95)
            ax.set_title(f"{title}: {regime} data (N_train = {REGIMES[regime]})", fontsize=10)
            ax.legend(fontsize=7, loc="lower left")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


# ------------------------------------------------------------------------------------------------------ printing
def markdown_tables(table, graphs, graph_summary, regimes):
    lines = []
    head = "| method | regime | " + " | ".join(graphs) + " |"
    sep = "|---|---|" + "---|" * len(graphs)
    for kind, metric, methods, title in (("trained", "probe_z", TRAINED, "trained, linear probe on Z"),
                                         ("trained", "probe_encoder", TRAINED, "trained, linear probe on the encoder"),
                                         ("trained", "rankme", TRAINED, "trained, RankMe of Z (train)"),
                                         ("closed_form", "probe_z", CLOSED_FORMS, "closed forms, linear probe on Z"),
                                         ("closed_form", "rank", CLOSED_FORMS, "closed forms, rank of Z")):
        lines += ["", f"{title}:", "", head, sep]
        digits = 2 if metric in ("rankme", "rank") else 3
        for regime in regimes:
            for method in methods:
                cell = {t["graph"]: t for t in table if (t["kind"], t["method"], t["regime"]) == (kind, method, regime)}
                if not cell or f"{metric}_mean" not in next(iter(cell.values())):
                    continue
                vals = [f"{cell[g][f'{metric}_mean']:.{digits}f} ± {cell[g][f'{metric}_std']:.{digits}f}" if g in cell
                        else "" for g in graphs]
                lines.append(f"| {LABELS[method]} | {regime} | " + " | ".join(vals) + " |")
    lines += ["", "graphs (label homophily, chance 0.25; mean degree):", "", head, sep]
    for regime in regimes:
        cell = {g["graph"]: g for g in graph_summary if g["regime"] == regime}
        lines.append(f"| homophily / degree | {regime} | " + " | ".join(
            f"{cell[g]['label_homophily_mean']:.3f} / {cell[g]['mean_degree_mean']:.0f}" for g in graphs) + " |")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="experiments/results/graph_alignment")
    parser.add_argument("--seeds", type=int, nargs="+", default=list(SEEDS))
    parser.add_argument("--steps", type=int, default=STEPS)
    parser.add_argument("--quick", action="store_true",
                        help="tests: low regime only, p ∈ {0, 1} + nuisance, VICReg low/high and SimCLR, 30 steps")
    args = parser.parse_args(argv)
    load = os.getloadavg()
    if args.quick:
        regimes, graphs, methods, steps = ("low",), graph_names((0.0, 1.0)), ("vicreg_low_inv", "simclr"), 30
    else:
        regimes, graphs, methods, steps = tuple(REGIMES), graph_names(), TRAINED, args.steps
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    records, graph_info = run(args.seeds, regimes, graphs, methods, steps)
    table, graph_summary = summarise(records, graph_info)
    seconds = time.perf_counter() - started
    result = {
        "experiment": "graph_alignment", "claim": "C4, C5 (theory.md §5; Balestriero & LeCun 2022, arXiv:2205.11508)",
        "data": {"D": D, "classes": CLASSES, "nuisance_levels": NUISANCE_LEVELS, "label_shift": LABEL_SHIFT,
                 "nuisance_shift": NUISANCE_SHIFT, "n_test": N_TEST,
                 "regimes_n_train": {r: REGIMES[r] for r in regimes}},
        "training": {"encoder": f"mlp {D}→{ENCODER_WIDTHS} Dense-BN-ReLU", "projector": str(K), "batch": BATCH,
                     "steps": steps, "optimizer": f"Adam {LEARNING_RATE:g}",
                     "vicreg_invariance": [VICREG_LOW, VICREG_HIGH],
                     "simclr_temperature": SIMCLR_TEMPERATURE},
        "closed_forms": {"K": K, "gamma_prime": f"2/(factor·mean degree), factor small={SMALL_GAMMA_FACTOR:g}, "
                                                f"large={LARGE_GAMMA_FACTOR:g}"},
        "seeds": args.seeds, "regimes": list(regimes), "graphs": graphs, "methods": list(methods),
        "seconds": round(seconds, 1), "loadavg_at_start": load,
        "table": table, "graph_summary": graph_summary,
        "top_sets": {"trained_probe_z": top_sets(table),
                     "trained_probe_encoder": top_sets(table, metric="probe_encoder"),
                     "closed_form_probe_z": top_sets(table, kind="closed_form")},
        "guidance_evidence": guidance_evidence(table, regimes),
        "records": records, "graph_records": graph_info,
    }
    write_results(out, result)
    plot(table, graphs, regimes, out / "graph_alignment.png", len(args.seeds))
    print(markdown_tables(table, graphs, graph_summary, regimes))
    print("\ntop sets (trained, probe on Z):")
    for cell, v in result["top_sets"]["trained_probe_z"].items():
        print(f"  {cell:>14}: best {v['best']}, top set {v['top_set']}")
    print("top sets (trained, probe on the encoder):")
    for cell, v in result["top_sets"]["trained_probe_encoder"].items():
        print(f"  {cell:>14}: best {v['best']}, top set {v['top_set']}")
    print("top sets (closed forms):")
    for cell, v in result["top_sets"]["closed_form_probe_z"].items():
        print(f"  {cell:>14}: best {v['best']}, top set {v['top_set']}")
    print("guidance comparisons (difference, sum of stds):")
    for key, cells in result["guidance_evidence"].items():
        for name, c in cells.items():
            print(f"  {key:>20} {name:>40}: {c['difference']:+.3f} vs {c['sum_of_stds']:.3f}"
                  f"{'  separated' if c['separated'] else ''}")
    print(f"wrote {out}/results.json and {out}/graph_alignment.png in {seconds:.1f} s (load at start {load[0]:.2f})")
    return result


if __name__ == "__main__":
    main()
