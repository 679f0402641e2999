"""experiments/graph_alignment.py (issue 10, item 3; claims C4, C5) in its quick mode, and its model-reuse shortcut."""

import json

import numpy as np
import pytest

from experiment_scripts import experiment


def test_quick_run_tables_graphs_and_closed_form_facts(tmp_path):
    ga = experiment("graph_alignment")
    ga.main(["--quick", "--seeds", "0", "1", "--out", str(tmp_path)])
    result = json.loads((tmp_path / "results.json").read_text())
    assert 0 < (tmp_path / "graph_alignment.png").stat().st_size < 300_000
    assert result["graphs"] == ["p=0", "p=1", "nuisance"] and result["regimes"] == ["low"]
    assert result["seeds"] == [0, 1] and result["loadavg_at_start"] and result["machine"]["cpus"]
    cells = {(t["kind"], t["method"], t["graph"]): t for t in result["table"]}
    # every (method, graph) cell is there, over both seeds
    for kind, methods in (("trained", result["methods"]), ("closed_form", ga.CLOSED_FORMS)):
        for method in methods:
            for graph in result["graphs"]:
                cell = cells[(kind, method, graph)]
                assert cell["seeds"] == 2 and 0.0 <= cell["probe_z_mean"] <= 1.0 and cell["probe_z_std"] >= 0.0
    assert len(result["records"]) == 2 * 3 * (len(result["methods"]) + len(ga.CLOSED_FORMS))

    graphs = {g["graph"]: g for g in result["graph_summary"]}
    # the label graph is fully homophilous; rewiring keeps the number of edges; the label graph of N = 100 samples
    # in 4 classes has Σ n_c(n_c − 1)/2 edges
    assert graphs["p=0"]["label_homophily_mean"] == 1.0
    assert graphs["p=1"]["label_homophily_mean"] < 0.4 and graphs["nuisance"]["label_homophily_mean"] < 0.4
    assert graphs["p=1"]["edges_mean"] == graphs["p=0"]["edges_mean"]
    for r in result["graph_records"]:
        if r["graph"] == "p=0":
            _, (_, y, _) = ga.split(r["seed"])
            counts = np.bincount(y[:100])
            assert r["edges"] == int(np.sum(counts * (counts - 1) // 2))

    ranks = {(r["method"], r["graph"], r["seed"]): r["rank"] for r in result["records"] if r["kind"] == "closed_form"}
    for (method, graph, seed), rank in ranks.items():
        if method in ("raw_features", "vicreg_quadratic_small_inv", "barlow_twins_graph_cca"):
            # small γ' = 2/(10 d̄) keeps every ν ≤ λ_max(L) ≤ 2 d_max < 10 d̄; graph CCA with K = D keeps all D
            assert rank == ga.D, (method, graph, seed)
        if method == "spectral_contrastive_linear" and graph in ("p=0", "nuisance"):
            # on a union of C cliques, D^{-1/2} G D^{-1/2} has exactly C positive eigenvalues
            assert rank == ga.CLASSES, (graph, seed, rank)
        if method == "vicreg_quadratic_large_inv":
            assert rank <= ranks[("vicreg_quadratic_small_inv", graph, seed)]
    # the raw features do not depend on the graph
    raw = [cells[("closed_form", "raw_features", g)]["probe_z_mean"] for g in result["graphs"]]
    assert raw[0] == raw[1] == raw[2]
    # the top sets hold the best method, and only methods of the cell
    for cell, top in result["top_sets"]["trained_probe_z"].items():
        assert top["best"] == top["top_set"][0] and set(top["top_set"]) <= set(result["methods"])


def test_reused_model_trains_as_a_fresh_one():
    """The Trainer's shortcut (one compiled model per method, reset before each training) is a fresh training."""
    ga = experiment("graph_alignment")
    (_, (X, y, u)) = ga.split(3)
    X, y, u = X[:100], y[:100], u[:100]
    G0 = ga.relation_graph("p=0", y, u, seed=3)
    G1 = ga.relation_graph(ga.NUISANCE, y, u, seed=3)
    trainer = ga.Trainer(steps=15)
    trainer.train("barlow_twins", X, G0, seed=0)  # a first training moves weights, moments and the step counter
    reused, loss_reused = trainer.train("barlow_twins", X, G1, seed=1)
    z_reused = np.asarray(reused.embed(X))
    fresh, loss_fresh = ga.train_fresh("barlow_twins", X, G1, seed=1, steps=15)
    np.testing.assert_allclose(z_reused, np.asarray(fresh.embed(X)), rtol=1e-4, atol=1e-5)
    assert loss_reused == pytest.approx(loss_fresh, rel=1e-5)
    assert int(reused.optimizer.iterations.numpy()) == 15
