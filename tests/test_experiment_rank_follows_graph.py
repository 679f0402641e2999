"""experiments/rank_follows_graph.py (issue 10, C3) in its quick mode: the closed forms' ranks follow G exactly."""

import json

from experiment_scripts import experiment


def test_quick_run_reports_closed_form_ranks_and_trained_rank_measures(tmp_path):
    script = experiment("rank_follows_graph")
    script.main(["--quick", "--out", str(tmp_path)])
    result = json.loads((tmp_path / "results.json").read_text())
    assert (tmp_path / "rank_follows_graph.png").stat().st_size > 0
    assert result["components"] == [2, 4] and result["seeds"] == [0] and result["machine"]["cpus"] >= 1
    closed = result["table"]["closed_form"]
    K = script.K
    for C in (2, 4):
        assert closed["simclr"][str(C)] == C - 1
        assert closed["barlow_twins"][str(C)] == C - 1
        assert closed["vicreg"][str(C)] == K
        assert closed["vicreg quadratic γ'=0.001"][str(C)] == K
        assert closed["vicreg quadratic γ'=1"][str(C)] == C - 1
    for method in ("vicreg", "simclr", "barlow_twins"):
        for C in (2, 4):
            row = result["table"]["trained"][method][str(C)]
            assert C - 1 < row["rankme_mean"] <= K  # more directions than the C − 1 that separate the clusters
            assert 0.0 < row["energy_top_c_minus_1_mean"] <= 1.0
            assert row["rankme_std"] == 0.0  # one seed
        rows = result["table"]["trained"][method]
        assert rows["4"]["rankme_mean"] > rows["2"]["rankme_mean"]  # the trained rank grows with G's components
