"""Tests of ``experiments/cissl_dissl.py`` (issue 10, claim C9: CISSL vs SimCLR, DISSL vs a DINO-like baseline)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from experiment_scripts import experiment


@pytest.fixture(scope="module")
def script():
    return experiment("cissl_dissl")


def _records(script, accuracies):
    """Synthetic records: ``accuracies[method] = [(linear, mlp) per seed]`` on 360 test images."""
    out = []
    for method, rows in accuracies.items():
        for seed, (lin, mlp) in enumerate(rows):
            out.append({"method": method, "seed": seed, "linear": lin, "mlp": mlp, "rankme": 10.0,
                        "final_loss": 1.0, "n_test": 360})
    return out


def test_summary_paired_differences_and_verdict_rule(script):
    base = [(0.90, 0.90), (0.92, 0.91), (0.94, 0.92)]
    acc = {"SimCLR": base, "CISSL": [(a + 0.05, m + 0.05) for a, m in base],   # +5 points, every seed
           "DINO-like": base, "DISSL": [(a - 0.05, m + 0.001) for a, m in base]}  # linear −5, MLP ≈ equal
    table, comparisons = script.summarise(_records(script, acc), [0, 1, 2])
    assert table["SimCLR"]["linear_mean"] == pytest.approx(0.92)
    assert table["SimCLR"]["linear_std"] == pytest.approx(0.02)  # ddof = 1
    assert table["CISSL"]["linear_binomial_se"] == pytest.approx(math.sqrt(0.97 * 0.03 / 360))
    c = comparisons["CISSL - SimCLR"]
    assert c["linear"]["deltas"] == pytest.approx([0.05] * 3)
    assert c["linear"]["delta_std"] == pytest.approx(0.0, abs=1e-12)
    # zero seed spread: the noise is the binomial SE of a difference, √2·√(p(1−p)/360) at the pooled mean p
    p = 0.5 * (0.92 + 0.97)
    assert c["linear"]["noise"] == pytest.approx(math.sqrt(2 * p * (1 - p) / 360))
    assert c["linear"]["verdict"] == "reproduced" and c["verdict"] == "reproduced"
    d = comparisons["DISSL - DINO-like"]
    assert d["linear"]["verdict"] == "not reproduced"
    assert d["mlp"]["verdict"] == "inconclusive"
    assert d["verdict"] == "inconclusive"  # the probes disagree


def test_seed_spread_enters_the_noise(script):
    acc = {m: [(0.9, 0.9), (0.9, 0.9), (0.9, 0.9)] for m in script.METHODS}
    acc["CISSL"] = [(0.90 + 0.2, 0.9), (0.90 - 0.2, 0.9), (0.90 + 0.3, 0.9)]  # large paired spread
    _, comparisons = script.summarise(_records(script, acc), [0, 1, 2])
    lin = comparisons["CISSL - SimCLR"]["linear"]
    deltas = np.array([0.2, -0.2, 0.3])
    assert lin["se_seeds"] == pytest.approx(deltas.std(ddof=1) / math.sqrt(3))
    assert lin["noise"] == pytest.approx(lin["se_seeds"]) and lin["noise"] > lin["se_binomial"]
    assert lin["verdict"] == "inconclusive"  # Δ = 0.1 < 2·noise


@pytest.mark.slow
def test_quick_run_writes_consistent_results(script, tmp_path):
    result = script.main(["--quick", "--out", str(tmp_path)])
    saved = json.loads((tmp_path / "results.json").read_text())
    assert (tmp_path / "cissl_dissl.png").stat().st_size > 0
    assert saved["seeds"] == [0] and saved["quick"] is True
    assert set(saved["table"]) == set(script.METHODS)
    assert set(saved["comparisons"]) == {"CISSL - SimCLR", "DISSL - DINO-like"}
    records = saved["records"]
    assert len(records) == len(script.METHODS)
    for r in records:
        assert 0.0 <= r["linear"] <= 1.0 and 0.0 <= r["mlp"] <= 1.0
        assert r["linear"] > 0.3  # far above chance (0.1) even after a few steps
        assert r["n_test"] == 360
        assert 10.0 < r["rankme"] <= 128.0  # not collapsed (quick run: 40–42), at most d = 128
        assert r["final_loss"] >= r["lower_bound"] - 1e-6  # CISSL ≥ log 2, NT-Xent > 0, DISSL ≥ −λ log C
        assert r["n_trainable_variables"] == r["n_unique_trainable_variables"]
    by_method = {r["method"]: r for r in records}
    assert by_method["CISSL"]["lower_bound"] == pytest.approx(math.log(2))
    assert by_method["DISSL"]["lower_bound"] == pytest.approx(-2.3 * math.log(script.N_CLASSES))
    dino = by_method["DINO-like"]
    assert dino["student_is_teacher"] and dino["student_equals_teacher"]  # one shared head
    assert 2 <= dino["teacher_classes_used"] <= script.N_CLASSES  # the teacher has not collapsed onto one class
    # the shared head has fewer variables than DISSL's two heads (the student's are not duplicated)
    assert dino["n_trainable_variables"] < by_method["DISSL"]["n_trainable_variables"]
    for name, entry in saved["comparisons"].items():
        method, baseline = name.split(" - ")
        for probe in script.PROBES:
            assert entry[probe]["delta_mean"] == pytest.approx(by_method[method][probe] - by_method[baseline][probe])
            assert entry[probe]["verdict"] in ("reproduced", "not reproduced", "inconclusive")
    assert result["table"]["SimCLR"]["linear_mean"] == by_method["SimCLR"]["linear"]


def test_shared_head_baseline_has_one_head(script):
    model = script.build_model("DINO-like", seed=0)
    dissl = script.build_model("DISSL", seed=0)
    assert model.student is model.teacher
    assert model.invariance_weight == 0.0 and model.marginal_weight == dissl.marginal_weight == 2.3
    assert dissl.student is not dissl.teacher and dissl.invariance_weight == 0.8
    x = np.random.default_rng(0).random((16, 8, 8, 1)).astype("float32")
    h = model.encode(x)
    np.testing.assert_allclose(np.asarray(model.student(h)), np.asarray(model.embed(x)), rtol=1e-5, atol=1e-5)
    # same seed, same encoder initialisation for every method (equal budget, paired comparison)
    enc_a = [np.asarray(v) for v in model.encoder.weights]
    enc_b = [np.asarray(v) for v in dissl.encoder.weights]
    assert all(np.array_equal(a, b) for a, b in zip(enc_a, enc_b))


# ------------------------------------------------------------------ mnist1d follow-up (harder data, same protocol)
def test_mnist1d_generator(script):
    import _mnist1d

    x, y = _mnist1d.mnist1d(500, seed=3)
    assert x.shape == (500, _mnist1d.LENGTH) == (500, 40) and x.dtype == np.float32 and y.dtype == np.int64
    assert np.bincount(y).tolist() == [50] * 10  # balanced
    x2, y2 = _mnist1d.mnist1d(500, seed=3)
    np.testing.assert_array_equal(x, x2)
    np.testing.assert_array_equal(y, y2)  # deterministic by seed
    assert not np.array_equal(x, _mnist1d.mnist1d(500, seed=4)[0])
    assert not np.array_equal(x, _mnist1d.mnist1d(500, seed=3, split="test")[0])
    views, yv = _mnist1d.mnist1d(500, seed=3, views=2)
    assert views.shape == (2, 500, 40)
    np.testing.assert_array_equal(yv, y)
    # two views of one identity are closer than views of different identities (of the same class, even), in the
    # shift-aligned distance min_o ‖a − roll(b, o)‖ (a view's circular shift is what raw L2 cannot see past)
    def aligned(a, b):
        return np.stack([np.linalg.norm(a - np.roll(b, o, axis=1), axis=1) for o in range(40)]).min(axis=0).mean()

    same = aligned(views[0], views[1])
    other = aligned(views[0], np.roll(views[1], 1, axis=0))
    same_class = [aligned(views[0][y == c][:-1], views[1][y == c][1:]) for c in range(10)]
    assert same < min(same_class) and max(same_class) < other
    # identities carry no view noise: re-drawing views changes the samples but not the (noise-free) identity
    signals, labels = _mnist1d.identities(500, seed=3)
    np.testing.assert_array_equal(labels, y)
    a, b = _mnist1d.view_pair_batches(500, seed=3, steps=4, batch=100, stream_seed=0)
    assert a.shape == b.shape == (4, 100, 40) and not np.array_equal(a, b)


@pytest.mark.slow
def test_quick_run_mnist1d(script, tmp_path):
    result = script.main(["--quick", "--dataset", "mnist1d", "--out", str(tmp_path)])
    saved = json.loads((tmp_path / "results.json").read_text())
    assert saved["dataset"] == "mnist1d" and saved["mnist1d"]["constants"]["length"] == 40
    raw = saved["mnist1d"]["raw_probes"][0]
    assert 0.3 < raw["raw_linear"] < 0.75  # below ceiling by construction (constants chosen on the raw probe)
    for r in saved["records"]:
        assert r["n_test"] == script.MNIST1D_SIZES["test"] == 4000
        assert 0.15 < r["linear"] < 1.0 and r["final_loss"] >= r["lower_bound"] - 1e-6
    assert result["table"]["CISSL"]["linear_binomial_se"] < 0.01  # 4000 test samples: SE ≤ √(0.25/4000) = 0.0079
