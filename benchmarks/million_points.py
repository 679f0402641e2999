"""Benchmark: one million points: approximate kNN graph + Laplacian eigenmaps, end to end, on 2 cores.

Issue 10, "Benchmarks" item 2. The goal: ``N = 1 000 000`` points of 64-D features, from the features to the
embedding, in at most 300 s and 4 GiB on a 2-core machine; say which stage dominates.

Protocol (fixed before any run):

- **Data**: the ``features64`` family of ``benchmarks/spectral_embedding.py`` (its ``make_data``, imported, not
  copied): a 64-D Gaussian mixture of 32 clusters, centres ``~ N(0, 0.7² I)``, unit noise, float64, seed 0.
  ``--dim`` other than 64 draws the same mixture in that dimension.
- **Graph**: ``kspectral.spectral.knn_graph(X, k)`` with ``--knn-method`` (default ``auto``: pynndescent past
  ``APPROXIMATE_KNN_MIN_SAMPLES`` = 100 000 samples, exact scikit-learn brute force below), ``k = 10``,
  connectivity weights, union symmetrisation. pynndescent's settings are kspectral's own (``n_neighbors =
  max(2k, 20)``, ``max_candidates = 60``, ``n_jobs = -1``); ``knn_graph`` does not expose them, so this benchmark
  cannot tune them.
- **Embedding**: ``kspectral.spectral.laplacian_eigenmaps(G, K)`` with ``solver="auto"`` (``--solver``;
  ``K = --components``, default 8), i.e. ``λ_2..λ_{K+1}`` of ``L = D − G`` (``kspectral/spectral/eigen.py`` picks
  the solver; on kNN graphs of 64-D features it is Lanczos on ``σI − L`` with one BLAS thread).
- **Process**: everything runs in one fresh child process (so the numba JIT compilation of pynndescent is paid, as a
  user pays it, and the process's peak memory is the pipeline's own), started with glibc's mmap threshold fixed
  (``MALLOC_MMAP_THRESHOLD_=131072``, as ``spectral_embedding.py``) so that freed arrays leave the resident set.
- **Stages and time**: ``import`` (kspectral.spectral, pynndescent), ``data`` (generating ``X``), ``knn_search``
  (the neighbour search inside ``knn_graph``: pynndescent's index build with its JIT compilation, or the exact
  search), ``symmetrise`` (the rest of ``knn_graph``: the sparse ``A``, ``max(A, Aᵀ)``, CSR), ``eigen_setup`` (the
  part of ``laplacian_eigenmaps`` outside the solver: graph validation, connected components, the Laplacian, the
  final orthonormalisation), ``eigen_probe`` (the hop-dimension probe that picks the solver), ``eigen_solve`` (the
  solver itself, ARPACK). The split is measured by wrapping kspectral's own internal functions
  (``graphs._knn_approximate`` / ``graphs._knn_exact``, ``eigen.hop_dimension``, ``eigen._lanczos`` /
  ``eigen._shift_invert`` / ``eigen._lobpcg`` / ``eigen._dense``, and ``eigen._amg`` where it exists) with timers
  that call the original unchanged; the stage totals are the public calls ``knn_graph`` and
  ``laplacian_eigenmaps``. **End to end** = ``knn_graph`` + ``laplacian_eigenmaps`` (imports and data generation not
  counted, as in BENCHMARKS.md's 100k row).
- **Memory**: the process's peak resident set size (``VmHWM``). It is reset (``/proc/self/clear_refs``) after the
  data are generated, so that the generator's temporaries do not count but ``X`` itself (512 MiB at 1M × 64 × 8 B),
  the interpreter and the imported libraries do; the peak is read after each stage (a running maximum). The goal
  compares the absolute peak during graph + embedding with 4 GiB.
- **Quality** (after the timed pipeline, not counted in its time or memory): recall@k of the approximate neighbours
  on ``--recall-queries`` (1000) random query points against exact brute-force search over all ``N`` points; and a
  check of the eigenvectors ``U = Z/√N``: ``max_i ‖L u_i − λ_i u_i‖₂`` (absolute and relative to ``λ_i`` and to the
  Gershgorin bound ``2·d_max ≥ λ_max``), ``max |UᵀU − I|``, ``max |1ᵀU|/√N`` and the Rayleigh quotients against the
  returned eigenvalues.
- **Load**: ``os.getloadavg()`` at the start and end (the machine is shared; 2 cores).

Usage::

    python benchmarks/million_points.py --n 1000000 --out benchmarks/results/million_points.json
    python benchmarks/million_points.py --n 200000 --out /tmp/kspectral_bench/million_points_200k.json

Not a test: timings depend on the machine and on what else runs on it.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import subprocess
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
GOAL_SECONDS = 300.0
GOAL_GIB = 4.0
KNN_METHODS = ("auto", "approximate", "exact")


def make_features(n, dim=64, seed=0):
    """The ``features64`` point cloud of ``benchmarks/spectral_embedding.py`` (in ``dim`` dimensions)."""
    if dim == 64:
        return _spectral_benchmark().make_data("features64", n, seed=seed)
    rng = np.random.default_rng(seed)  # the same recipe, other dimension
    centers = 0.7 * rng.standard_normal((32, dim))
    return centers[rng.integers(32, size=n)] + rng.standard_normal((n, dim))


# ---------------------------------------------------------------------------------------------------------------
# Memory (Linux /proc), as benchmarks/spectral_embedding.py measures it.


def _status_mib(key):
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1]) / 1024  # kB
    except OSError:
        pass
    return float("nan")


def _reset_peak():
    """Reset the peak RSS (VmHWM) to the current RSS (Linux ≥ 4.0); return whether it worked."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        return False
    return True


# ---------------------------------------------------------------------------------------------------------------
# Timers around kspectral's internal stages (they call the original functions unchanged).


class StageTimer:
    """Wraps module functions so that each call adds its wall time to a named stage and keeps its result."""

    def __init__(self):
        self.seconds = {}
        self.cpu_seconds = {}
        self.results = {}
        self._restore = []

    def wrap(self, module, name, stage):
        original = getattr(module, name)

        def timed(*args, **kwargs):
            start, cpu = time.perf_counter(), time.process_time()
            try:
                out = original(*args, **kwargs)
            finally:
                self.seconds[stage] = self.seconds.get(stage, 0.0) + time.perf_counter() - start
                self.cpu_seconds[stage] = self.cpu_seconds.get(stage, 0.0) + time.process_time() - cpu
            self.results[stage] = out
            return out

        setattr(module, name, timed)
        self._restore.append((module, name, original))

    def restore(self):
        for module, name, original in reversed(self._restore):
            setattr(module, name, original)
        self._restore.clear()


# ---------------------------------------------------------------------------------------------------------------
# The child process: the pipeline, then the quality checks.


def recall_at_k(X, approx_idx, k, queries, seed=1):
    """Mean fraction of the exact ``k`` nearest neighbours (self excluded) that ``approx_idx`` found, on
    ``queries`` random rows; exact = scikit-learn brute force over all rows (chunked by scikit-learn)."""
    from sklearn.neighbors import NearestNeighbors

    n = X.shape[0]
    rows = np.sort(np.random.default_rng(seed).choice(n, size=min(queries, n), replace=False))
    nn = NearestNeighbors(n_neighbors=k + 1, algorithm="brute").fit(X)
    _, idx = nn.kneighbors(X[rows])
    # the query itself is not its own neighbour (as knn_graph); if a duplicate pushed it out, keep the first k
    exact = [ids[ids != row][:k] for row, ids in zip(rows, idx)]
    hits = sum(len(np.intersect1d(a, b)) for a, b in zip(exact, approx_idx[rows]))
    return hits / (len(rows) * k), len(rows)


def eigen_checks(G, Z, vals):
    """Residuals and orthonormality of the unit eigenvectors ``U = Z/√N`` of ``L = D − G``."""
    from kspectral.spectral import laplacian

    n = Z.shape[0]
    U = Z / np.sqrt(n)
    L = laplacian(G)
    R = L @ U - U * vals
    res = np.linalg.norm(R, axis=0)
    bound = 2.0 * float(L.diagonal().max())  # Gershgorin: λ_max(L) ≤ 2 d_max
    rayleigh = np.einsum("ij,ij->j", U, L @ U)
    gram = U.T @ U
    return {
        "eigenvalues": vals.tolist(),
        "residual_max": float(res.max()),
        "residual_per_vector": res.tolist(),
        "residual_rel_eigenvalue_max": float(np.max(res / np.maximum(vals, 1e-300))),
        "residual_rel_lambda_bound_max": float(res.max() / bound),
        "residual_frobenius_rel": float(np.linalg.norm(R) / np.linalg.norm(U * vals)),
        "lambda_bound_2dmax": bound,
        "orthonormality_max_abs": float(np.max(np.abs(gram - np.eye(gram.shape[0])))),
        "constant_leak_max": float(np.max(np.abs(U.sum(axis=0))) / np.sqrt(n)),
        "rayleigh_minus_eigenvalue_max": float(np.max(np.abs(rayleigh - vals))),
        "ascending": bool(np.all(np.diff(vals) >= -1e-12)),
    }


def child(args):
    out = {"load_start_child": list(os.getloadavg())}
    t0 = time.perf_counter()
    from kspectral.spectral import eigen, graphs, knn_graph, laplacian_eigenmaps

    resolved = args.knn_method
    if resolved == "auto":
        resolved = "approximate" if args.n > graphs.APPROXIMATE_KNN_MIN_SAMPLES and graphs._has_pynndescent() \
            else "exact"
    if resolved == "approximate":
        import numba
        import pynndescent  # noqa: F401 - imported here so that the import is not counted in the search

        out["numba_threads"] = numba.get_num_threads()
    out["import_s"] = time.perf_counter() - t0
    out["knn_method"] = resolved
    out["rss_after_import_mib"] = _status_mib("VmRSS")

    t = time.perf_counter()
    X = make_features(args.n, args.dim, seed=args.seed)
    out["data_s"] = time.perf_counter() - t
    out["data_peak_mib"] = _status_mib("VmHWM")  # generator temporaries included
    out["x_mib"] = X.nbytes / 2**20
    out["peak_reset"] = _reset_peak()
    out["rss_before_pipeline_mib"] = _status_mib("VmRSS")  # interpreter + libraries + X

    timer = StageTimer()
    timer.wrap(graphs, "_knn_approximate", "knn_search")
    timer.wrap(graphs, "_knn_exact", "knn_search")
    timer.wrap(eigen, "hop_dimension", "eigen_probe")
    for solver in ("_lanczos", "_shift_invert", "_lobpcg", "_dense", "_amg"):
        if hasattr(eigen, solver):  # the solvers this version of kspectral has
            timer.wrap(eigen, solver, "eigen_solve:" + solver[1:])
    try:
        t, cpu = time.perf_counter(), time.process_time()
        G = knn_graph(X, args.k, method=args.knn_method, seed=args.seed)
        out["knn_graph_s"] = time.perf_counter() - t
        out["knn_graph_cpu_s"] = time.process_time() - cpu
        out["peak_after_knn_graph_mib"] = _status_mib("VmHWM")
        out["load_after_knn_graph"] = list(os.getloadavg())
        t, cpu = time.perf_counter(), time.process_time()
        Z, vals = laplacian_eigenmaps(G, args.components, solver=args.solver, return_eigenvalues=True)
        out["laplacian_eigenmaps_s"] = time.perf_counter() - t
        out["laplacian_eigenmaps_cpu_s"] = time.process_time() - cpu
        out["peak_after_eigenmaps_mib"] = _status_mib("VmHWM")
    finally:
        timer.restore()
    approx_idx = timer.results["knn_search"][0]
    solve = {k: v for k, v in timer.seconds.items() if k.startswith("eigen_solve:")}
    out["solver"] = ",".join(k.split(":", 1)[1] for k in solve) or "none"  # the solver(s) that ran, fallbacks too
    probe = timer.results.get("eigen_probe")
    out["hop_dimension"] = float(probe[0]) if probe is not None else None
    out["hop_eccentricity"] = int(probe[1]) if probe is not None else None
    stages = {
        "knn_search": timer.seconds["knn_search"],
        "symmetrise": out["knn_graph_s"] - timer.seconds["knn_search"],
        "eigen_probe": timer.seconds.get("eigen_probe", 0.0),
        "eigen_solve": sum(solve.values()),
    }
    stages["eigen_setup"] = out["laplacian_eigenmaps_s"] - stages["eigen_probe"] - stages["eigen_solve"]
    out["stages_s"] = stages
    cpu_solve = sum(v for k, v in timer.cpu_seconds.items() if k.startswith("eigen_solve:"))
    cpu_stages = {
        "knn_search": timer.cpu_seconds["knn_search"],
        "symmetrise": out["knn_graph_cpu_s"] - timer.cpu_seconds["knn_search"],
        "eigen_probe": timer.cpu_seconds.get("eigen_probe", 0.0),
        "eigen_solve": cpu_solve,
    }
    cpu_stages["eigen_setup"] = out["laplacian_eigenmaps_cpu_s"] - cpu_stages["eigen_probe"] - cpu_solve
    out["stages_cpu_s"] = cpu_stages  # process CPU time (all threads): the work, whatever the load
    out["end_to_end_cpu_s"] = out["knn_graph_cpu_s"] + out["laplacian_eigenmaps_cpu_s"]
    out["end_to_end_s"] = out["knn_graph_s"] + out["laplacian_eigenmaps_s"]
    out["peak_mib"] = out["peak_after_eigenmaps_mib"]
    out["peak_growth_mib"] = out["peak_mib"] - out["rss_before_pipeline_mib"]
    out["graph"] = {"nnz": int(G.nnz), "mean_degree": G.nnz / args.n,
                    "components": int(graphs.connected_components(G)[0])}
    out["load_end_pipeline"] = list(os.getloadavg())

    t = time.perf_counter()
    recall, queries = recall_at_k(X, approx_idx, args.k, args.recall_queries, seed=args.seed + 1)
    out["recall_at_k"] = recall
    out["recall_queries"] = queries
    out["recall_s"] = time.perf_counter() - t
    t = time.perf_counter()
    out["eigen_check"] = eigen_checks(G, Z, vals)
    out["eigen_check_s"] = time.perf_counter() - t
    out["final_peak_mib"] = _status_mib("VmHWM")
    json.dump(out, sys.stdout)


# ---------------------------------------------------------------------------------------------------------------
# The parent: spawn the child, add the machine and the verdict, write the JSON.


def _spectral_benchmark():
    """``benchmarks/spectral_embedding.py`` as a module: its data generator and machine record are this one's."""
    sys.path.insert(0, HERE)
    try:
        import spectral_embedding
    finally:
        sys.path.remove(HERE)
    return spectral_embedding


def machine_info():
    """The spectral benchmark's machine record, plus pyamg's version (the AMG solver's dependency)."""
    info = _spectral_benchmark().machine_info()
    try:
        import pyamg

        info["pyamg"] = pyamg.__version__
    except ImportError:
        info["pyamg"] = None
    return info


def summary(result):
    r = result["run"]
    s = r["stages_s"]
    c = r["stages_cpu_s"]
    e = r["eigen_check"]
    lines = [
        f"N = {result['settings']['n']}, D = {result['settings']['dim']}, k = {result['settings']['k']}, "
        f"K = {result['settings']['components']}; kNN {r['knn_method']}, solver {r['solver']} "
        f"(hop dimension {r['hop_dimension'] if r['hop_dimension'] is None else round(r['hop_dimension'], 2)}); "
        f"load {result['load_start'][0]:.1f} at the start",
        "",
        "| stage | wall s | CPU s | peak RSS after, MiB |",
        "|---|---:|---:|---:|",
        f"| imports (not counted) | {r['import_s']:.1f} | – | – |",
        f"| data generation (not counted) | {r['data_s']:.1f} | – | {r['data_peak_mib']:.0f} (before the reset) |",
        f"| kNN search ({r['knn_method']}) | {s['knn_search']:.1f} | {c['knn_search']:.1f} | – |",
        f"| graph symmetrisation | {s['symmetrise']:.1f} | {c['symmetrise']:.1f} | "
        f"{r['peak_after_knn_graph_mib']:.0f} |",
        f"| eigen: validation, components, Laplacian | {s['eigen_setup']:.1f} | {c['eigen_setup']:.1f} | – |",
        f"| eigen: solver probe (hop dimension) | {s['eigen_probe']:.1f} | {c['eigen_probe']:.1f} | – |",
        f"| eigen: solver ({r['solver']}) | {s['eigen_solve']:.1f} | {c['eigen_solve']:.1f} | "
        f"{r['peak_after_eigenmaps_mib']:.0f} |",
        f"| **end to end** (knn_graph + laplacian_eigenmaps) | **{r['end_to_end_s']:.1f}** | "
        f"{r['end_to_end_cpu_s']:.1f} | **{r['peak_mib']:.0f}** |",
        "",
        f"Dominant stage: {result['dominant_stage']} ({result['dominant_fraction']:.0%} of end to end; by CPU time "
        f"{result['dominant_stage_cpu']}, {result['dominant_fraction_cpu']:.0%}). "
        f"Goal ≤ {GOAL_SECONDS:.0f} s: {'met' if result['goal']['time_met'] else 'missed'}; "
        f"≤ {GOAL_GIB:.0f} GiB: {'met' if result['goal']['memory_met'] else 'missed'} "
        f"(peak {r['peak_mib'] / 1024:.2f} GiB, of which {r['rss_before_pipeline_mib']:.0f} MiB before the pipeline: "
        f"interpreter, libraries and X).",
        f"recall@{result['settings']['k']} = {r['recall_at_k']:.4f} on {r['recall_queries']} queries; eigenvectors: "
        f"max ‖Lu − λu‖ = {e['residual_max']:.2e} (max relative to λ: {e['residual_rel_eigenvalue_max']:.2e}), "
        f"max |UᵀU − I| = {e['orthonormality_max_abs']:.1e}, max |1ᵀU|/√N = {e['constant_leak_max']:.1e}.",
    ]
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=1_000_000, help="number of points N")
    parser.add_argument("--dim", type=int, default=64, help="feature dimension D (64: features64)")
    parser.add_argument("--k", type=int, default=10, help="neighbours of the kNN graph")
    parser.add_argument("--components", type=int, default=8, help="K, the embedding dimension")
    parser.add_argument("--knn-method", default="auto", choices=KNN_METHODS, help="knn_graph's method")
    parser.add_argument("--solver", default="auto", help="laplacian_eigenmaps' solver (kspectral.spectral.eigen)")
    parser.add_argument("--recall-queries", type=int, default=1000, help="query points of the recall check")
    parser.add_argument("--seed", type=int, default=0, help="data seed (and pynndescent's)")
    parser.add_argument("--timeout", type=float, default=3600.0, help="seconds before the child is stopped")
    parser.add_argument("--out", default=os.path.join(HERE, "results", "million_points.json"), help="JSON to write")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return child(args)
    if args.n < 2 * (args.components + 10) or args.k >= args.n:
        parser.error("N is too small for this k and K")

    argv_list = list(sys.argv[1:] if argv is None else argv)
    load_start = list(os.getloadavg())
    started = time.perf_counter()
    cmd = [sys.executable, os.path.abspath(__file__), "--child", "--n", str(args.n), "--dim", str(args.dim),
           "--k", str(args.k), "--components", str(args.components), "--knn-method", args.knn_method,
           "--solver", args.solver,
           "--recall-queries", str(args.recall_queries), "--seed", str(args.seed)]
    env = dict(os.environ, MALLOC_MMAP_THRESHOLD_="131072")
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=args.timeout, env=env)
    if proc.returncode != 0:
        raise RuntimeError(f"the benchmark's child process failed (exit {proc.returncode}):\n{proc.stderr[-3000:]}")
    run = json.loads(proc.stdout.strip().splitlines()[-1])
    stages = run["stages_s"]
    eigen_total = run["laplacian_eigenmaps_s"]
    shares = {"knn_search": stages["knn_search"], "symmetrise": stages["symmetrise"], "eigenmaps": eigen_total}
    dominant = max(shares, key=shares.get)
    cpu = run["stages_cpu_s"]
    cpu_shares = {"knn_search": cpu["knn_search"], "symmetrise": cpu["symmetrise"],
                  "eigenmaps": run["laplacian_eigenmaps_cpu_s"]}
    dominant_cpu = max(cpu_shares, key=cpu_shares.get)
    result = {
        "benchmark": "million_points",
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "command": "python benchmarks/million_points.py " + " ".join(argv_list),
        "machine": machine_info(),
        "load_start": load_start,
        "load_end": list(os.getloadavg()),
        "wall_s": round(time.perf_counter() - started, 1),
        "settings": {"n": args.n, "dim": args.dim, "k": args.k, "components": args.components,
                     "knn_method": args.knn_method, "solver": args.solver, "recall_queries": args.recall_queries,
                     "seed": args.seed,
                     "family": "features64 (64-D Gaussian mixture, 32 clusters)" if args.dim == 64
                     else f"features64 recipe in {args.dim}-D"},
        "run": run,
        "dominant_stage": dominant,
        "dominant_fraction": shares[dominant] / run["end_to_end_s"],
        "dominant_stage_cpu": dominant_cpu,  # by CPU time: the same question, less sensitive to the load
        "dominant_fraction_cpu": cpu_shares[dominant_cpu] / max(run["end_to_end_cpu_s"], 1e-12),
        "goal": {"seconds": GOAL_SECONDS, "gib": GOAL_GIB,
                 "time_met": run["end_to_end_s"] <= GOAL_SECONDS,
                 "memory_met": run["peak_mib"] <= GOAL_GIB * 1024},
    }
    print(summary(result))
    if args.out:
        os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
        with open(args.out, "w", encoding="utf-8") as f:
            json.dump(result, f, indent=1)
    return result


if __name__ == "__main__":
    main()
