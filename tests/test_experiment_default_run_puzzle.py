"""experiments/default_run_puzzle.py (issue 10, item 7) in its quick mode: it reproduces `kspectral train`'s numbers."""

import json

import pytest

from experiment_scripts import experiment


def test_quick_run_reproduces_the_default_run_and_the_pca_identity(tmp_path):
    experiment("default_run_puzzle").main(["--quick", "--out", str(tmp_path)])
    result = json.loads((tmp_path / "results.json").read_text())
    assert (tmp_path / "default_run_puzzle.png").stat().st_size > 0
    rows = {(t["kind"], t["dim"], t["rounds"]): t for t in result["table"]}
    assert result["dims"] == [8, 32] and result["rounds"] == [1, 4]
    # seed 0, K = 32, 4 rounds is what `kspectral train` prints for the closed form and raw pixels (1 image = 0.0028)
    assert rows[("pairs", 32, 4)]["linear_mean"] == pytest.approx(0.9583, abs=0.003)
    assert rows[("raw pixels", 64, None)]["linear_mean"] == pytest.approx(0.9667, abs=0.003)
    # the linear probe standardises columns, so PCA and whitened PCA probe identically
    for dim in (8, 32):
        assert rows[("PCA", dim, None)]["linear_mean"] == rows[("PCA whitened", dim, None)]["linear_mean"]
    assert {k[0] for k in rows} == {"raw pixels", "pairs", "knn:10", "labels", "PCA", "PCA whitened"}
