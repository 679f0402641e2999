"""``benchmarks/million_points.py`` at a small N: its stages, memory and quality checks are what they claim.

The million-point figures themselves are in BENCHMARKS.md; here N = 3 000 with exact search (fast), and the checks
are compared with an independent dense eigendecomposition of the same graph's Laplacian.
"""

import importlib.util
import math
from pathlib import Path

import numpy as np
import pytest

BENCHMARK = Path(__file__).resolve().parents[1] / "benchmarks" / "million_points.py"


def load_benchmark():
    spec = importlib.util.spec_from_file_location("million_points_benchmark", BENCHMARK)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_small_exact_run_reports_stages_memory_and_correct_eigenpairs(tmp_path):
    import scipy.linalg as sla

    from kspectral.spectral import knn_graph, laplacian

    bench = load_benchmark()
    out = tmp_path / "mp.json"
    result = bench.main(["--n", "3000", "--knn-method", "exact", "--components", "8", "--recall-queries", "200",
                         "--out", str(out)])
    assert out.exists() and len(result["load_start"]) == 3
    run = result["run"]
    assert run["knn_method"] == "exact" and run["solver"] == "lanczos"  # 64-D features: Lanczos (eigen.py's rule)
    stages = run["stages_s"]
    assert all(v >= 0 for v in stages.values())
    assert math.isclose(sum(stages.values()), run["end_to_end_s"], rel_tol=1e-9)
    assert math.isclose(stages["knn_search"] + stages["symmetrise"], run["knn_graph_s"], rel_tol=1e-9)
    # memory: the peak is a running maximum that includes X and the interpreter
    assert run["peak_reset"] and run["x_mib"] == pytest.approx(3000 * 64 * 8 / 2**20)
    assert run["rss_before_pipeline_mib"] <= run["peak_after_knn_graph_mib"] <= run["peak_after_eigenmaps_mib"]
    assert run["peak_mib"] == run["peak_after_eigenmaps_mib"] and run["peak_growth_mib"] >= 0
    assert result["goal"]["time_met"] == (run["end_to_end_s"] <= 300)
    assert result["goal"]["memory_met"] == (run["peak_mib"] <= 4096)
    # exact search has recall 1 against exact search
    assert run["recall_at_k"] == 1.0 and run["recall_queries"] == 200
    # the eigenpairs: the same as a dense eigendecomposition of the same graph's Laplacian
    X = bench.make_features(3000)
    G = knn_graph(X, 10, method="exact")
    assert G.nnz == run["graph"]["nnz"] and run["graph"]["components"] == 1
    dense = sla.eigh(laplacian(G).toarray(), eigvals_only=True, subset_by_index=[0, 8])
    check = run["eigen_check"]
    np.testing.assert_allclose(check["eigenvalues"], dense[1:], rtol=1e-6)
    assert check["ascending"] and check["orthonormality_max_abs"] < 1e-10 and check["constant_leak_max"] < 1e-10
    assert check["residual_rel_lambda_bound_max"] < 1e-6 and check["rayleigh_minus_eigenvalue_max"] < 1e-6
    assert result["dominant_stage"] in ("knn_search", "symmetrise", "eigenmaps")
    assert result["dominant_stage_cpu"] in ("knn_search", "symmetrise", "eigenmaps")
    assert 0 < result["dominant_fraction_cpu"] <= 1 + 1e-9


def test_recall_counts_only_true_neighbours():
    bench = load_benchmark()
    X = bench.make_features(500, dim=8)
    from kspectral.spectral.graphs import _knn_exact

    idx, _ = _knn_exact(X, 5, "euclidean")
    assert bench.recall_at_k(X, idx, 5, 100)[0] == 1.0
    wrong = np.roll(idx, 1, axis=0)  # another row's neighbours
    assert bench.recall_at_k(X, wrong, 5, 100)[0] < 0.2


def test_features64_is_the_spectral_embedding_benchmark_family():
    import sys

    bench = load_benchmark()
    sys.path.insert(0, str(BENCHMARK.parent))
    try:
        from spectral_embedding import make_data
    finally:
        sys.path.remove(str(BENCHMARK.parent))
    np.testing.assert_array_equal(bench.make_features(100), make_data("features64", 100))
