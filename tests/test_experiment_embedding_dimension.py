"""experiments/embedding_dimension.py (issue 10, claim C8): a quick run's results and the verdict rules."""

import json
import math

import numpy as np
import pytest

from experiment_scripts import experiment


@pytest.fixture(scope="module")
def ed():
    return experiment("embedding_dimension")


def test_projector_specs_and_cells(ed):
    assert ed.projector_spec("wide", 8, 256) == "256-256-8"
    assert ed.projector_spec("narrow", 8, 256) == "8-8-8"
    with pytest.raises(ValueError):
        ed.projector_spec("medium", 8, 256)
    # wide and narrow per d, the common end point d = W once
    assert ed.cells((8, 16), 256) == [("wide", 8), ("narrow", 8), ("wide", 16), ("narrow", 16), ("both", 256)]
    # the default grid: W ≫ every d, the verdict's d_small is on the grid
    assert all(d * 8 <= ed.WIDE for d in ed.DIMS) and ed.SMALL_DIM in ed.DIMS


def _fake_records(ed, acc, seeds=(0, 1, 2), n_test=360):
    """Records with accuracy ``acc[(method, family, d)] + seed jitter`` (exact multiples of 1/n_test)."""
    grid = {"wide": 64, "dims": (8,), "small_dim": 8}
    records = []
    for seed in seeds:
        for method in ed.METHODS:
            for family, d in ed.cells(grid["dims"], grid["wide"]):
                value = round((acc[(method, family, d)] + 0.003 * (seed - 1)) * n_test) / n_test
                records.append({"method": method, "family": family, "d": d, "seed": seed, "n_test": n_test,
                                "projector": ed.projector_spec("wide" if family == "both" else family, d, 64),
                                "linear": value, "knn": value})
    return records, grid


@pytest.mark.parametrize("accs, expected", [
    # wide small d = end point, narrow 5 points worse, SimCLR flat: the claim
    ({"vw": 0.95, "vn": 0.90, "ve": 0.95, "sw": 0.95, "sn": 0.94, "se": 0.95}, "reproduced"),
    # wide small d 8 points below the end point: contradicted
    ({"vw": 0.87, "vn": 0.80, "ve": 0.95, "sw": 0.95, "sn": 0.94, "se": 0.95}, "not reproduced"),
    # narrow clearly better than wide: contradicted
    ({"vw": 0.90, "vn": 0.96, "ve": 0.90, "sw": 0.95, "sn": 0.94, "se": 0.95}, "not reproduced"),
    # SimCLR's wide small d 8 points below its end point: contradicted
    ({"vw": 0.95, "vn": 0.90, "ve": 0.95, "sw": 0.87, "sn": 0.94, "se": 0.95}, "not reproduced"),
    # everything within noise: inconclusive
    ({"vw": 0.95, "vn": 0.95, "ve": 0.95, "sw": 0.95, "sn": 0.95, "se": 0.95}, "inconclusive"),
])
def test_verdict_rules(ed, accs, expected):
    acc = {("vicreg", "wide", 8): accs["vw"], ("vicreg", "narrow", 8): accs["vn"], ("vicreg", "both", 64): accs["ve"],
           ("simclr", "wide", 8): accs["sw"], ("simclr", "narrow", 8): accs["sn"], ("simclr", "both", 64): accs["se"]}
    records, grid = _fake_records(ed, acc)
    v = ed.verdict(records, [0, 1, 2], grid, "linear")
    assert v["verdict"] == expected
    diff = v["vicreg_narrow_minus_wide_at_small"]
    assert diff["mean"] == pytest.approx(accs["vn"] - accs["vw"], abs=2 / 360)
    # the noise floor: binomial std of a difference of two accuracies on 360 images, averaged over 3 seeds
    p = np.mean([r["linear"] for r in records if r["method"] == "vicreg" and r["d"] == 8])
    assert diff["binomial_sigma"] == pytest.approx(math.sqrt(2 * p * (1 - p) / (360 * 3)), rel=1e-9)
    assert diff["sigma"] >= diff["binomial_sigma"]


@pytest.mark.slow  # ~25 s on the 2-core machine: six models, each traced by Keras (~3 s apiece)
def test_quick_run(ed, tmp_path):
    result = ed.main(["--quick", "--seeds", "0", "--out", str(tmp_path)])
    saved = json.loads((tmp_path / "results.json").read_text())
    png = tmp_path / "embedding_dimension.png"
    assert png.is_file() and 0 < png.stat().st_size < 300_000
    assert saved["experiment"] == "embedding_dimension" and saved["quick"] is True
    keys = {"table", "verdicts", "records", "raw_pixels", "grid", "seconds", "loadavg_at_start", "machine"}
    assert keys <= set(saved)
    grid = ed.QUICK
    records = saved["records"]
    # 2 methods × (wide + narrow per d, one end point)
    assert len(records) == len(ed.METHODS) * (2 * len(grid["dims"]) + 1)
    representation = int(grid["encoder_widths"].split("-")[-1])
    for r in records:
        # the probe reads the encoder's representation, whatever the embedding dimension d
        assert r["representation_dim"] == representation
        assert r["embedding_dim"] == r["d"]
        family = "wide" if r["family"] == "both" else r["family"]
        assert r["projector"] == ed.projector_spec(family, r["d"], grid["wide"])
        for p, floor in (("linear", 0.3), ("knn", 0.3), ("embedding_linear", 0.15)):
            # a top-1 on 360 test images is a multiple of 1/360, above chance (0.1) after a few steps
            assert r[p] * r["n_test"] == pytest.approx(round(r[p] * r["n_test"]), abs=1e-6)
            assert floor < r[p] <= 1.0
    assert records[0]["n_test"] == 360
    # the end point d = W is one run that appears on both lines of the table
    for method in ed.METHODS:
        ends = [t for t in saved["table"] if t["method"] == method and t["d"] == grid["wide"]]
        assert {t["family"] for t in ends} == {"wide", "narrow"}
        assert ends[0]["linear_mean"] == ends[1]["linear_mean"] and ends[0]["knn_mean"] == ends[1]["knn_mean"]
    # raw pixels of digits: linear and kNN top-1 above 0.9
    assert saved["raw_pixels"]["per_seed"][0]["linear"] > 0.9 and saved["raw_pixels"]["per_seed"][0]["knn"] > 0.9
    # the verdicts follow their own criteria
    for p, v in saved["verdicts"].items():
        assert v["verdict"] in ("reproduced", "not reproduced", "inconclusive")
        a = v["a_vicreg_wide_small_within_noise_of_end_point"]
        b = v["b_vicreg_narrow_small_clearly_worse_than_wide"]
        c = v["c_simclr_wide_flat"]
        assert (v["verdict"] == "reproduced") == (a and b and c)
        d = v["vicreg_wide_small_minus_end_point"]
        small = [r[p] for r in records
                 if r["method"] == "vicreg" and r["family"] == "wide" and r["d"] == grid["small_dim"]]
        end = [r[p] for r in records if r["method"] == "vicreg" and r["family"] == "both"]
        assert d["per_seed"] == pytest.approx([s - e for s, e in zip(small, end)])
        assert a == (d["mean"] >= -2 * d["sigma"])
    assert result["verdicts"]["linear"]["verdict"] == saved["verdicts"]["linear"]["verdict"]


def test_mnist1d_data_and_views(ed):
    # the mnist1d split: 40-D feature vectors, balanced labels, the sizes the protocol fixes
    dataset = ed.load_mnist1d(0, 200, 300)
    assert dataset.image_shape == (40,) and dataset.x_test.shape == (300, 40) and dataset.num_classes == 10
    assert np.bincount(dataset.y_train, minlength=10).tolist() == [20] * 10
    assert ed.MNIST1D_TRAIN == 4000 and ed.MNIST1D_TEST >= 1000  # a large test split (digits has 360)
    # the pairs: (steps, batch, 40) each, two different views, the same stream for every cell of a seed
    a, b = ed.draw_mnist1d_views(dataset, 0, 3, 16)
    assert a.shape == b.shape == (3, 16, 40)
    assert not np.allclose(a, b)
    a2, b2 = ed.draw_mnist1d_views(dataset, 0, 3, 16)
    np.testing.assert_array_equal(a, a2)
    np.testing.assert_array_equal(b, b2)
    a3, _ = ed.draw_mnist1d_views(dataset, 1, 3, 16)
    assert not np.allclose(a, a3)


@pytest.mark.slow  # ~25 s on the 2-core machine, like the digits quick run (six models traced by Keras)
def test_quick_run_mnist1d(ed, tmp_path):
    result = ed.main(["--dataset", "mnist1d", "--quick", "--seeds", "0", "--out", str(tmp_path)])
    saved = json.loads((tmp_path / "results.json").read_text())
    assert (tmp_path / "embedding_dimension.png").is_file()
    assert saved["dataset"] == "mnist1d" and saved["quick"] is True
    assert saved["grid"]["n_train"] == ed.MNIST1D_QUICK_TRAIN and saved["grid"]["n_test"] == ed.MNIST1D_QUICK_TEST
    assert saved["mnist1d"]["constants"]["length"] == 40
    records = saved["records"]
    assert len(records) == len(ed.METHODS) * (2 * len(ed.QUICK["dims"]) + 1)
    n_test = ed.MNIST1D_QUICK_TEST
    for r in records:
        assert r["n_test"] == n_test
        assert r["representation_dim"] == int(ed.QUICK["encoder_widths"].split("-")[-1])
        assert r["embedding_dim"] == r["d"]
        for p in ("linear", "knn", "embedding_linear"):
            assert r[p] * n_test == pytest.approx(round(r[p] * n_test), abs=1e-6)
            assert 0.12 < r[p] <= 1.0  # above chance (0.1) after 12 steps
    # raw 40-D signal: above chance but far from the ceiling (the point of leaving digits)
    raw = saved["raw_pixels"]["per_seed"][0]
    assert 0.2 < raw["linear"] < 0.8 and 0.2 < raw["knn"] < 0.9
    # the binomial floor uses mnist1d's test size
    v = saved["verdicts"]["linear"]
    d = v["vicreg_narrow_minus_wide_at_small"]
    small = [r for r in records if r["method"] == "vicreg" and r["d"] == ed.QUICK["small_dim"]]
    p = np.mean([r["linear"] for r in small])
    assert d["binomial_sigma"] == pytest.approx(math.sqrt(2 * p * (1 - p) / n_test), rel=1e-9)
    assert (v["verdict"] == "reproduced") == (v["a_vicreg_wide_small_within_noise_of_end_point"]
                                               and v["b_vicreg_narrow_small_clearly_worse_than_wide"]
                                               and v["c_simclr_wide_flat"])
    assert result["verdicts"]["knn"]["verdict"] == saved["verdicts"]["knn"]["verdict"]
