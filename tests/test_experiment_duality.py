"""experiments/duality.py (issue 10, item 4; claims C6, C7 of Garrido et al. 2023, arXiv:2206.02574) in quick mode."""

from __future__ import annotations

import json

import numpy as np
import pytest

from experiment_scripts import experiment


@pytest.fixture(scope="module")
def duality():
    return experiment("duality")


@pytest.fixture(scope="module")
def quick_run(duality, tmp_path_factory):
    out = tmp_path_factory.mktemp("duality")
    duality.main(["--quick", "--seeds", "0", "--out", str(out)])
    return out, json.loads((out / "results.json").read_text())


def test_reference_values_and_normalisations(duality):
    # objectives.md Part D, R1: K = [[1,0],[0,1],[1,1]] (M = 3 dims, N = 2 samples), z = Kᵀ.
    c = duality.criteria_of(duality.R1_K.T)
    assert (c["L_c"], c["L_nc"], c["dimension_norms4"], c["sample_norms4"]) == (2.0, 4.0, 6.0, 8.0)
    assert c["gap"] == 0.0
    z = np.random.default_rng(0).normal(loc=0.3, size=(50, 7))
    rows, cols = duality.normalise_rows(z), duality.normalise_cols(z)
    np.testing.assert_allclose(np.linalg.norm(rows, axis=1), 1.0, rtol=1e-12)
    np.testing.assert_allclose(cols.mean(axis=0), 0.0, atol=1e-12)
    np.testing.assert_allclose(np.linalg.norm(cols, axis=0), np.sqrt(50), rtol=1e-12)
    point = duality.trajectory_point(z)
    # ĉ and n̂ are the library's batch diagnostics (mean squared cosine / correlation).
    from kspectral.methods.diagnostics import mean_dimension_correlation, mean_sample_similarity

    assert point["c_hat"] == pytest.approx(float(mean_sample_similarity(z)), rel=1e-9)
    assert point["n_hat"] == pytest.approx(float(mean_dimension_correlation(z)), rel=1e-9)


def test_measuring_leaves_batchnorm_statistics_unchanged(duality):
    import keras

    from kspectral.encoders.small import mlp_encoder
    from kspectral.methods import VICReg

    keras.utils.set_random_seed(0)
    model = VICReg(encoder=mlp_encoder((8, 8, 1), widths="16"), projector="16-8", diagnostics=False)
    model.build((None, 8, 8, 1))
    before = [[v.copy() for v in values] for _, values in duality.batchnorm_state(model)]
    x = np.random.default_rng(0).uniform(size=(32, 8, 8, 1)).astype("float32")
    z = duality.embed_with_batch_statistics(model, x)
    after = [values for _, values in duality.batchnorm_state(model)]
    assert z.shape == (32, 8) and z.dtype == np.float64
    assert len(before) == 2  # the encoder's block and the projector's hidden layer
    for b, a in zip(before, after):
        for vb, va in zip(b, a):
            np.testing.assert_array_equal(vb, va)
    # batch statistics, not the (initial) moving ones: each projector input dimension is standardised over the batch
    assert not np.allclose(z, np.asarray(model.embed(x, training=False)), atol=1e-3)


@pytest.mark.slow  # ~20 s of CPU: four 30-step trainings, each traced anew
def test_quick_run(duality, quick_run):
    out, result = quick_run
    assert (out / "duality.png").exists() and (out / "duality.png").stat().st_size < 300_000
    assert set(result["table"]) == set(duality.QUICK_CONFIGS)
    assert result["reference_R1"] == {"L_c": 2.0, "L_nc": 4.0, "sample_norms4": 8.0, "dimension_norms4": 6.0}
    n, m = duality.MEASURE_N, int(duality.PROJECTOR.split("-")[-1])
    for rec in result["records"]:
        assert rec["finite"]
        traj = rec["trajectory"]
        assert traj["step"] == [0, 10, 20, 30] and len(traj["c_hat"]) == len(traj["n_hat"]) == 4
        assert all(0.0 <= v <= 1.0 for v in (*traj["c_hat"], *traj["n_hat"]))
        for p, i in ((traj["initial"], 0), (traj["final"], -1)):
            assert (p["c_hat"], p["n_hat"]) == (traj["c_hat"][i], traj["n_hat"][i])
            assert p["c_hat"] == pytest.approx(p["rows"]["L_c"] / (n * (n - 1)))
            assert p["n_hat"] == pytest.approx(p["cols"]["L_nc"] / (n * n * m * (m - 1)))
            for norm in ("raw", "rows", "cols"):  # Theorem 3.3 from the stored values
                c = p[norm]
                lhs, rhs = c["L_nc"] + c["dimension_norms4"], c["L_c"] + c["sample_norms4"]
                assert lhs == pytest.approx(rhs, rel=1e-9)
            assert p["rows"]["sample_norms4"] == pytest.approx(n, rel=1e-9)  # unit embeddings
            assert p["cols"]["dimension_norms4"] == pytest.approx(m * n**2, rel=1e-9)  # dimensions of norm √N
        ident = rec["identity"]
        assert ident["relative_residual_float64"] < 1e-12
        assert ident["relative_residual_float32"] < 1e-4
        dn = ident["double_normalised"]  # R2: N − N²/M on the 360 test embeddings, not the paper's N − M
        n_test = 360  # digits' test split
        assert dn["expected_N_minus_N2_over_M"] == pytest.approx(n_test - n_test**2 / m)
        assert dn["max_row_norm_error"] < 1e-9
        assert dn["L_nc_minus_L_c"] == pytest.approx(dn["expected_N_minus_N2_over_M"], abs=1.0)
        assert abs(dn["L_nc_minus_L_c"] - dn["paper_text_N_minus_M"]) > 100
        for key in ("val_linear", "val_knn", "test_linear", "test_knn"):
            assert 0.5 < rec[key] <= 1.0  # 10 classes: chance is 0.1
    comps = result["comparisons"]
    table = result["table"]
    simclr = [k for k in table if table[k]["group"] == "SimCLR"]
    assert comps["tuned_simclr"] == max(simclr, key=lambda k: table[k]["val_linear_mean"])
    assert comps["tuned_vicreg"] == "VICReg λ=25"
    assert set(comps["pairs"]) == {"tuned SimCLR vs tuned VICReg", "VICReg-ctr vs SimCLR (τ=0.1, same τ)",
                                   "VICReg-ctr vs tuned SimCLR"}  # no VICReg-exp in quick mode
    for pair in comps["pairs"].values():
        for probe in ("linear", "knn"):
            c = pair[probe]
            assert c["delta"] == pytest.approx(c["a_mean"] - c["b_mean"])
            assert c["a_mean"] == pytest.approx(table[pair["a"]][f"test_{probe}_mean"])
            assert c["sigma_delta"] >= c["sigma_binomial"] > 0.005
            assert c["matched"] == (abs(c["delta"]) <= duality.MATCH_SIGMAS * c["sigma_delta"])
    v = result["verdicts"]
    assert v["identity"] == "reproduced"
    assert v["training_one_lowers_the_other"] in ("reproduced", "not reproduced")
    assert set(v["other_criterion_lowered_every_seed"]) == {"SimCLR τ=0.1", "VICReg λ=25"}
    assert -1.0 <= v["across_configs_spearman_final_c_hat_n_hat"] <= 1.0
    assert result["cpu_seconds"] > 0


def test_mnist1d_data_fixed_split_and_pairs(duality):
    data = duality.load_data("mnist1d")
    n_train, n_test = duality.MNIST1D_SIZES["train"], duality.MNIST1D_SIZES["test"]
    assert data["x_train"].shape == (n_train, 40) and data["x_test"].shape == (n_test, 40)
    assert len(data["fit_idx"]) + len(data["val_idx"]) == n_train
    assert not set(data["fit_idx"]) & set(data["val_idx"])
    assert np.bincount(data["y_train"][data["val_idx"]]).tolist() == [n_train // 50] * 10  # stratified 20 %
    again = duality.load_data("mnist1d")  # one fixed data set for every seed
    np.testing.assert_array_equal(data["x_test"], again["x_test"])
    a, b = next(iter(data["mnist1d"].pairs_dataset(3, duality.BATCH, stream_seed=1)))
    assert tuple(a.shape) == tuple(b.shape) == (duality.BATCH, 40)
    assert set(duality.C7_CONFIGS) == {n for n in duality.CONFIGS if n.startswith(("SimCLR", "VICReg"))}
