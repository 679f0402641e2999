"""experiments/training_reaches_closed_form.py (issue 10, claim C1): the closed-form facts its protocol relies on,
and a quick in-process run of the script."""

import json

import numpy as np
import pytest

from experiment_scripts import experiment


@pytest.fixture(scope="module")
def script():
    return experiment("training_reaches_closed_form")


@pytest.fixture(scope="module")
def setup(script):
    from kspectral.spectral import knn_graph, label_graph

    pixels, X, y, _ = script.load_data()
    graphs = {"A": script.doubly_stochastic(knn_graph(pixels, script.KNN)), "B": label_graph(y)}
    gaps, _, _ = script.relative_gaps(graphs["A"], X)
    K = script.choose_K(gaps)
    refs, mu = script.closed_forms(graphs, X, K)
    return X, graphs, K, refs, mu


def test_data_is_whitened_and_graph_a_has_unit_degrees(script, setup):
    X, graphs, K, _, _ = setup
    assert X.shape == (script.N, script.PCA_DIM)
    np.testing.assert_allclose(X.T @ X / len(X), np.eye(script.PCA_DIM), atol=1e-8)
    np.testing.assert_allclose(np.asarray(graphs["A"].sum(axis=1)).ravel(), 1.0, atol=1e-8)
    assert (graphs["A"] != graphs["A"].T).nnz == 0
    assert K in script.K_RANGE


def test_closed_forms_coincide_where_the_protocol_says(script, setup):
    """On a degree-1 graph with centred X: graph CCA = linear VICReg, and the spectral contrastive spans are the
    constant function plus VICReg's K eigenvectors (nonparametric and linear)."""
    X, _, K, refs, mu = setup
    v, sc, bt = refs[("vicreg", "A")], refs[("spectral_contrastive", "A")], refs[("barlow_twins", "A")]
    assert script.cosines(bt["linear"], v["linear"], centre=True)[1] > 1 - 1e-6
    ones = np.ones((len(X), 1))
    assert script.cosines(sc["nonparametric"], np.hstack([ones, v["nonparametric"]]), centre=False)[1] > 1 - 1e-6
    assert script.cosines(sc["linear"], np.hstack([ones, v["linear"]]), centre=False)[1] > 1 - 1e-6
    # μ is twice the largest squared row norm: the ball projection is inactive at both closed forms
    assert mu >= 2 * (sc["nonparametric"] ** 2).sum(axis=1).max() - 1e-9
    assert mu >= 2 * (sc["linear"] ** 2).sum(axis=1).max() - 1e-9
    # graph B: the invariant subspace has c − 1 = 9 dimensions, each centred and constant within a class
    inv = refs[("barlow_twins", "B")]["nonparametric"]
    assert inv.shape[1] == 9 and np.abs(inv.mean(axis=0)).max() < 1e-8
    # a random K-dim projection is far from every closed form (the chance level the plot shows)
    for seed in (0, 1, 2):
        for control in script.random_control(X, v, seed).values():
            assert control["mean"] < 0.7 and control["min"] < 0.3
    assert script.cosines(v["linear"], v["linear"], centre=True) == pytest.approx((1.0, 1.0))


def test_checkpoints_and_verdict_rule(script):
    assert script.checkpoints(32) == [0, 1, 2, 4, 8, 16, 32]
    assert script.checkpoints(4) == [0, 1, 2, 4]
    assert script.checkpoints(40, also=(32,)) == [0, 1, 2, 4, 8, 16, 32, 40]
    assert script.verdict([0.3, 0.96], [0.1, 0.92]) == "reproduced"
    assert script.verdict([0.3, 0.96], [0.1, 0.5]).startswith("inconclusive")
    assert script.verdict([0.93, 0.94], [0.5, 0.5]) == "not reproduced"


def test_quick_run(script, tmp_path):
    script.main(["--quick", "--seeds", "0", "--out", str(tmp_path)])
    result = json.loads((tmp_path / "results.json").read_text())
    png = tmp_path / "training_reaches_closed_form.png"
    assert png.exists() and png.stat().st_size < 300_000
    assert result["K"] in script.K_RANGE and result["epochs"] == 4 and result["quick"] is True
    gaps = result["graphs"]["A"]["relative_gaps"]
    assert result["K"] == max(script.K_RANGE, key=lambda k: min(gaps[str(k)].values()))
    assert result["graphs"]["B"]["components"] == 10
    assert set(result["table"]) == {"vicreg/linear/A", "barlow_twins/mlp/B"}
    bt = result["table"]["barlow_twins/mlp/B"]
    assert bt["primary_reference"] == "nonparametric"
    assert (bt["counterpart"], bt["counterpart_status"]) == ("BarlowTwinsEmbedding", "derived")
    assert result["table"]["vicreg/linear/A"]["counterpart"] == "LinearVICReg"
    assert result["linear_epochs"] == 8
    for key, entry in result["table"].items():
        linear = entry["encoder"] == "linear"
        verdicts = [entry["verdict"]] + ([entry["verdict_follow_up"]] if linear else [])
        assert "verdict_follow_up" in entry if linear else "verdict_follow_up" not in entry
        assert entry["verdict_epoch"] == 4
        for v in verdicts:
            assert v.split(" ")[0] in ("reproduced", "inconclusive", "not")
        for curve in entry["curves"].values():
            assert curve["epoch"] == ([0, 1, 2, 4, 8] if linear else [0, 1, 2, 4])
            assert set(curve["mean_at"]) == ({"4", "8"} if linear else {"4"})
            for stat in ("mean", "min"):
                values = np.array(curve[f"{stat}_mean"])
                assert np.all((values >= 0) & (values <= 1 + 1e-9))
            assert np.all(np.array(curve["min_mean"]) <= np.array(curve["mean_mean"]) + 1e-12)
    # 40 steps of Barlow Twins on the label graph already move the MLP's span into the invariant subspace
    curve = bt["curves"]["nonparametric"]
    assert curve["mean_mean"][0] < 0.5 < curve["mean_mean"][-1]
