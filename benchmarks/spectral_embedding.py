"""Benchmark: kspectral's Laplacian eigenmaps vs scikit-learn's ``spectral_embedding`` on the same kNN graphs.

For every family and size, one symmetric kNN graph (``kspectral.spectral.knn_graph``, k = 10, connectivity
weights) is built and saved; then each solver runs in a fresh subprocess on that graph:

- ``kspectral``: ``laplacian_eigenmaps(G, K)`` (``solver="auto"``), i.e. ``λ_2..λ_{K+1}`` of ``L = D − G``;
- ``sklearn``: ``sklearn.manifold.spectral_embedding(G, n_components=K + 1, norm_laplacian=False,
  drop_first=True)``: the same eigenvectors, found by ARPACK shift-invert at machine precision (``tol=0``).

Recorded per case: wall time (min and median over ``--repeats`` runs in the same process), peak memory (growth of
the subprocess's peak resident set size, ``VmHWM``, over its RSS just before the first run, after resetting the peak
through ``/proc/self/clear_refs`` and a warm-up on a 2 000-node subgraph, so that lazy imports do not count; it
includes C allocations such as SuperLU's LU factors and ARPACK's workspace, which ``tracemalloc``
would miss), the cosines of
the principal angles between the two K-dimensional spans (neither contains the constant vector), and the solver
``"auto"`` chose. A scikit-learn case that runs past ``--sklearn-timeout`` seconds or ``--mem-limit-gb`` is
marked so, and larger sizes of that family are skipped, as are sizes where its time extrapolated from the
previous size as ``N²`` exceeds the limit.

The end-to-end row times ``knn_graph(X, 10)`` + ``laplacian_eigenmaps(G, K)`` from a fresh process
(``knn_graph``'s ``method="auto"``: pynndescent past 50 000 samples), JIT warm-up included; the kNN rows compare
exact (scikit-learn brute force) with approximate (pynndescent) search, with the recall of the approximate one.

Usage::

    python benchmarks/spectral_embedding.py --sizes 2000,10000,20000,50000,100000 \\
        --families features64,swissroll --repeats 3 --out benchmarks/results/spectral_embedding.md

Not a test: timings depend on the machine and on what else runs on it.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np

FAMILIES = {
    "features64": "64-D Gaussian mixture, 32 clusters (centres ~ N(0, 0.7² I), unit noise)",
    "swissroll": "Swiss roll (sklearn.datasets.make_swiss_roll, noise 0.05)",
}


def make_data(family, n, seed=0):
    """The benchmark's point clouds (deterministic)."""
    if family == "features64":
        rng = np.random.default_rng(seed)
        centers = 0.7 * rng.standard_normal((32, 64))
        return centers[rng.integers(32, size=n)] + rng.standard_normal((n, 64))
    if family == "swissroll":
        from sklearn.datasets import make_swiss_roll

        return make_swiss_roll(n, noise=0.05, random_state=seed)[0]
    raise ValueError(f"unknown family {family!r}; choose from {', '.join(FAMILIES)}")


def _status_mb(key):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) / 1024  # kB
    return float("nan")


def _reset_peak():
    """Reset the process's peak RSS (VmHWM) to its current RSS (Linux ≥ 4.0); return the current RSS, MiB."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass
    return _status_mb("VmRSS")


def _peak_growth_mb(base):
    return _status_mb("VmHWM") - base


# ---------------------------------------------------------------------------------------------------------------
# Child processes: one case each.


def _child_solve(args):
    import scipy.sparse as sp

    if args.mem_limit_gb:
        lim = int(args.mem_limit_gb * 2**30)
        resource.setrlimit(resource.RLIMIT_AS, (lim, lim))
    if args.blas_threads:
        from threadpoolctl import threadpool_limits

        threadpool_limits(args.blas_threads, user_api="blas")
    G = sp.load_npz(args.graph).tocsr()
    K = args.dim
    if args.method == "kspectral":
        from kspectral.spectral import laplacian_eigenmaps
        from kspectral.spectral.eigen import choose_solver

        t = time.perf_counter()
        chosen = choose_solver(G, K)
        probe_s = time.perf_counter() - t

        def run_on(A):
            return laplacian_eigenmaps(A, min(K, A.shape[0] - 1)) / np.sqrt(A.shape[0])

    else:
        import warnings

        from sklearn.manifold import spectral_embedding

        chosen, probe_s = "arpack shift-invert", 0.0

        def run_on(A):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                return spectral_embedding(A, n_components=K + 1, norm_laplacian=False, drop_first=True, random_state=0)

    # Warm-up on a small subgraph: lazy imports and one-off set-up do not count in the first run's memory.
    small = G[:2000][:, :2000].tocsr()
    small.eliminate_zeros()
    run_on(small)
    times = []
    for r in range(args.repeats):
        base = _reset_peak()
        t = time.perf_counter()
        U = run_on(G)
        times.append(time.perf_counter() - t)
        if r == 0:
            peak = _peak_growth_mb(base)
        if sum(times) > args.repeat_budget:  # slow case: fewer repeats
            break
    np.save(args.result, U)
    json.dump({"times": times, "peak_mb": peak, "solver": chosen, "probe_s": probe_s}, sys.stdout)


def _child_e2e(args):
    t0 = time.perf_counter()
    from kspectral.spectral import graphs, knn_graph, laplacian_eigenmaps
    from kspectral.spectral.eigen import choose_solver

    t_import = time.perf_counter() - t0
    approx = args.n > graphs.APPROXIMATE_KNN_MIN_SAMPLES and graphs._has_pynndescent()  # knn_graph's "auto"
    X = make_data(args.family, args.n)
    base = _reset_peak()
    t = time.perf_counter()
    G = knn_graph(X, args.k)
    t_graph = time.perf_counter() - t
    t = time.perf_counter()
    laplacian_eigenmaps(G, args.dim)
    t_embed = time.perf_counter() - t
    peak = _peak_growth_mb(base)
    # Warm: the same again in this process (no JIT compilation left).
    t = time.perf_counter()
    G = knn_graph(X, args.k)
    t_graph_warm = time.perf_counter() - t
    json.dump({"import_s": t_import, "graph_s": t_graph, "embed_s": t_embed, "peak_mb": peak,
               "knn_method": "approximate (pynndescent)" if approx else "exact (scikit-learn brute force)",
               "graph_warm_s": t_graph_warm, "solver": choose_solver(G, args.dim)}, sys.stdout)


def _child_knn(args):
    from kspectral.spectral import graphs

    X = make_data(args.family, args.n)
    t = time.perf_counter()
    if args.method == "exact":
        idx, _ = graphs._knn_exact(X, args.k, "euclidean")
        out = {"time_s": time.perf_counter() - t}
    else:
        t_imp = time.perf_counter()
        import pynndescent  # noqa: F401

        t_imp = time.perf_counter() - t_imp
        idx, _ = graphs._knn_approximate(X, args.k, "euclidean", 0)
        first = time.perf_counter() - t
        t = time.perf_counter()
        idx, _ = graphs._knn_approximate(X, args.k, "euclidean", 0)
        out = {"time_s": first, "import_s": t_imp, "warm_time_s": time.perf_counter() - t}
    np.save(args.result, idx)
    json.dump(out, sys.stdout)


# ---------------------------------------------------------------------------------------------------------------
# Parent.


def _spawn(argv, timeout):
    cmd = [sys.executable, os.path.abspath(__file__), *argv]
    # Fixed mmap threshold: large arrays are mmapped and returned to the OS when freed, so RSS tracks them.
    env = dict(os.environ, MALLOC_MMAP_THRESHOLD_="131072")
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
    except subprocess.TimeoutExpired:
        return None, "timeout"
    if p.returncode != 0:
        tail = (p.stderr or "").strip().splitlines()[-1:] or [f"exit {p.returncode}"]
        return None, tail[0][:120]
    return json.loads(p.stdout.strip().splitlines()[-1]), None


def machine_info():
    cpu = "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    import numba
    import pynndescent
    import scipy
    import sklearn

    import kspectral

    return {
        "cpu": cpu, "cores": os.cpu_count(), "ram_gb": round(mem_gb, 1), "python": platform.python_version(),
        "numpy": np.__version__, "scipy": scipy.__version__, "scikit-learn": sklearn.__version__,
        "pynndescent": pynndescent.__version__, "numba": numba.__version__,
        "kspectral": getattr(kspectral, "__version__", "?"),
    }


def _fmt_t(times):
    if not times:
        return "–"
    return f"{min(times):.2f}" + (f" ({np.median(times):.2f})" if len(times) > 1 else "")


def run_benchmark(args):
    from kspectral.spectral import connected_components, knn_graph, principal_angle_cosines

    info = machine_info()
    workdir = tempfile.mkdtemp(prefix="kspectral_bench_")
    rows, skip_sklearn, last_sklearn = [], set(), {}
    loads = []
    for family in args.families:
        for n in args.sizes:
            X = make_data(family, n)
            t = time.perf_counter()
            G = knn_graph(X, args.k, method="exact")
            t_graph = time.perf_counter() - t
            n_comp = connected_components(G)[0]
            gpath = os.path.join(workdir, f"{family}_{n}.npz")
            import scipy.sparse as sp

            sp.save_npz(gpath, G)
            row = {"family": family, "n": n, "nnz": int(G.nnz), "components": n_comp, "graph_exact_s": t_graph}
            for method in ("kspectral", "sklearn"):
                if method == "sklearn" and family in skip_sklearn:
                    row[method] = {"status": "skipped (timed out at a smaller N)"}
                    continue
                if method == "sklearn" and family in last_sklearn:
                    n0, t0 = last_sklearn[family]
                    predicted = t0 * (n / n0) ** 2  # its shift-invert grew faster than N² on these graphs
                    if predicted > args.sklearn_timeout:
                        row[method] = {"status": f"skipped (≈{predicted:.0f} s predicted)"}
                        skip_sklearn.add(family)
                        continue
                res_path = os.path.join(workdir, f"{family}_{n}_{method}.npy")
                argv = ["--child", "solve", "--method", method, "--graph", gpath, "--result", res_path,
                        "--dim", str(args.dim), "--repeats", str(args.repeats),
                        "--repeat-budget", str(args.repeat_budget)]
                if method == "sklearn":
                    argv += ["--mem-limit-gb", str(args.mem_limit_gb)]
                    if args.sklearn_blas_threads:
                        argv += ["--blas-threads", str(args.sklearn_blas_threads)]
                timeout = args.sklearn_timeout + args.repeat_budget + 120 if method == "sklearn" else 3600
                load = os.getloadavg()[0]
                out, err = _spawn(argv, timeout)
                loads.append(load)
                if err is not None:
                    row[method] = {"status": "timed out" if err == "timeout" else f"failed: {err}", "load": load}
                    if method == "sklearn":
                        skip_sklearn.add(family)
                    continue
                out["load"] = load
                out["status"] = "ok"
                if method == "sklearn":
                    last_sklearn[family] = (n, min(out["times"]))
                    if min(out["times"]) > args.sklearn_timeout:
                        skip_sklearn.add(family)
                row[method] = out
            if row["kspectral"].get("status") == "ok" and row["sklearn"].get("status") == "ok":
                A = np.load(os.path.join(workdir, f"{family}_{n}_kspectral.npy"))
                B = np.load(os.path.join(workdir, f"{family}_{n}_sklearn.npy"))
                cos = principal_angle_cosines(A, B)
                row["cos_min"], row["cos_mean"] = float(cos.min()), float(cos.mean())
                row["speedup"] = min(row["sklearn"]["times"]) / min(row["kspectral"]["times"])
            rows.append(row)
            print(json.dumps(row), file=sys.stderr, flush=True)
    e2e = None
    if args.e2e_size:
        load = os.getloadavg()[0]
        out, err = _spawn(["--child", "e2e", "--family", args.e2e_family, "--n", str(args.e2e_size),
                           "--k", str(args.k), "--dim", str(args.dim)], 3600)
        e2e = {"family": args.e2e_family, "n": args.e2e_size, "load": load, **(out or {"status": err})}
        print(json.dumps(e2e), file=sys.stderr, flush=True)
    knn = []
    for n in args.knn_sizes:
        entry = {"n": n, "family": args.e2e_family}
        for method in ("exact", "approximate"):
            res_path = os.path.join(workdir, f"knn_{n}_{method}.npy")
            entry["load_" + method] = os.getloadavg()[0]
            out, err = _spawn(["--child", "knn", "--method", method, "--family", args.e2e_family, "--n", str(n),
                               "--k", str(args.k), "--result", res_path], 3600)
            entry[method] = out or {"status": err}
        try:
            a = np.load(os.path.join(workdir, f"knn_{n}_exact.npy"))
            b = np.load(os.path.join(workdir, f"knn_{n}_approximate.npy"))
            hits = sum(len(np.intersect1d(x, y, assume_unique=True)) for x, y in zip(a, b))
            entry["recall"] = hits / a.size
        except OSError:
            pass
        knn.append(entry)
        print(json.dumps(entry), file=sys.stderr, flush=True)
    shutil.rmtree(workdir, ignore_errors=True)
    return info, rows, e2e, knn


def to_markdown(info, rows, e2e, knn, args, command):
    out = []
    out.append(f"Command: `{command}`\n")
    out.append(f"Machine: {info['cpu']}, {info['cores']} cores, {info['ram_gb']} GiB RAM. Python {info['python']}, "
               f"numpy {info['numpy']}, scipy {info['scipy']}, scikit-learn {info['scikit-learn']}, "
               f"pynndescent {info['pynndescent']}, numba {info['numba']}.\n")
    out.append(f"Graphs: symmetric kNN (k = {args.k}, connectivity weights, exact search); K = {args.dim} "
               "eigenvectors. Times in seconds: min over repeats (median in parentheses); peak = growth of the "
               "subprocess's peak RSS (VmHWM) during the first run (after a warm-up on a small subgraph), MiB; "
               "cos = cosines of the principal angles between the two K-dimensional spans (min / mean); "
               "load = 1-min load average when the case started "
               f"({info['cores']} cores).\n")
    out.append("| family | N | nnz(G) | comps | auto solver | kspectral s | kspectral MiB | sklearn s | sklearn MiB "
               "| speed-up | cos min / mean | load |")
    out.append("|---|---:|---:|---:|---|---:|---:|---:|---:|---:|---|---:|")
    for r in rows:
        ks, sk = r["kspectral"], r["sklearn"]
        ks_t = _fmt_t(ks.get("times")) if ks.get("status") == "ok" else ks.get("status")
        sk_t = _fmt_t(sk.get("times")) if sk.get("status") == "ok" else sk.get("status")
        ks_m = f"{ks['peak_mb']:.0f}" if ks.get("status") == "ok" else "–"
        sk_m = f"{sk['peak_mb']:.0f}" if sk.get("status") == "ok" else "–"
        sp_ = f"{r['speedup']:.1f}×" if "speedup" in r else "–"
        cos = f"{r['cos_min']:.6f} / {r['cos_mean']:.6f}" if "cos_min" in r else "–"
        load = max(ks.get("load", 0), sk.get("load", 0))
        out.append(f"| {r['family']} | {r['n']} | {r['nnz']} | {r['components']} | {ks.get('solver', '–')} | "
                   f"{ks_t} | {ks_m} | {sk_t} | {sk_m} | {sp_} | {cos} | {load:.1f} |")
    if e2e:
        out.append("")
        if "graph_s" in e2e:
            total = e2e["graph_s"] + e2e["embed_s"]
            out.append(f"End to end, {e2e['family']}, N = {e2e['n']} (fresh process, load {e2e['load']:.1f}): "
                       f"knn_graph {e2e['graph_s']:.1f} s ({e2e['knn_method']}, the method=\"auto\" choice; "
                       f"any JIT warm-up included; {e2e['graph_warm_s']:.1f} s on a second call) + "
                       f"laplacian_eigenmaps {e2e['embed_s']:.1f} s "
                       f"({e2e['solver']}) = **{total:.1f} s**; imports {e2e['import_s']:.1f} s not counted; "
                       f"peak RSS growth {e2e['peak_mb']:.0f} MiB.")
        else:
            out.append(f"End to end, N = {e2e['n']}: {e2e.get('status')}")
    if knn:
        out.append("")
        out.append("| kNN search, " + (knn[0]["family"]) + " | exact (sklearn brute) s | approximate (pynndescent) "
                   "s, first call | of which import | second call | recall@10 |")
        out.append("|---|---:|---:|---:|---:|---:|")
        for e in knn:
            ex, ap = e.get("exact", {}), e.get("approximate", {})
            out.append(f"| N = {e['n']} (load {e['load_exact']:.1f} / {e['load_approximate']:.1f}) | "
                       f"{ex.get('time_s', float('nan')):.1f} | {ap.get('time_s', float('nan')):.1f} | "
                       f"{ap.get('import_s', float('nan')):.1f} | {ap.get('warm_time_s', float('nan')):.1f} | "
                       f"{e.get('recall', float('nan')):.4f} |")
    return "\n".join(out) + "\n"


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--sizes", default="2000,10000,20000,50000,100000")
    p.add_argument("--families", default="features64,swissroll")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--out", default=None, help="Markdown file to write (the raw numbers go next to it as .json)")
    p.add_argument("--dim", type=int, default=8, help="K, the embedding dimension")
    p.add_argument("--k", type=int, default=10, help="neighbours of the kNN graph")
    p.add_argument("--sklearn-timeout", type=float, default=300.0, help="seconds per scikit-learn run")
    p.add_argument("--sklearn-blas-threads", type=int, default=0, help="limit scikit-learn's BLAS threads (0: not)")
    p.add_argument("--mem-limit-gb", type=float, default=16.0, help="address-space limit of scikit-learn runs")
    p.add_argument("--repeat-budget", type=float, default=120.0, help="stop repeating once a case used this long")
    p.add_argument("--e2e-size", type=int, default=100000, help="end-to-end graph+embedding size (0: skip)")
    p.add_argument("--e2e-family", default="features64")
    p.add_argument("--knn-sizes", default="50000,100000", help="sizes of the exact-vs-approximate kNN rows")
    # child-process arguments
    p.add_argument("--child", choices=["solve", "e2e", "knn"], help=argparse.SUPPRESS)
    p.add_argument("--method", help=argparse.SUPPRESS)
    p.add_argument("--graph", help=argparse.SUPPRESS)
    p.add_argument("--result", help=argparse.SUPPRESS)
    p.add_argument("--family", help=argparse.SUPPRESS)
    p.add_argument("--n", type=int, help=argparse.SUPPRESS)
    p.add_argument("--blas-threads", type=int, default=0, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child == "solve":
        return _child_solve(args)
    if args.child == "e2e":
        return _child_e2e(args)
    if args.child == "knn":
        return _child_knn(args)
    args.sizes = [int(s) for s in args.sizes.split(",") if s]
    args.families = [f for f in args.families.split(",") if f]
    args.knn_sizes = [int(s) for s in args.knn_sizes.split(",") if s]
    for f in args.families:
        if f not in FAMILIES:
            p.error(f"unknown family {f!r}; choose from {', '.join(FAMILIES)}")
    command = "python " + " ".join([os.path.relpath(__file__)] + (argv if argv is not None else sys.argv[1:]))
    info, rows, e2e, knn = run_benchmark(args)  # graphs and embeddings go to a temporary folder, removed after
    md = to_markdown(info, rows, e2e, knn, args, command)
    print(md)
    if args.out:
        os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
        with open(args.out, "w") as f:
            f.write(md)
        with open(os.path.splitext(args.out)[0] + ".json", "w") as f:
            json.dump({"machine": info, "rows": rows, "e2e": e2e, "knn": knn, "command": command}, f, indent=1)


if __name__ == "__main__":
    main()
