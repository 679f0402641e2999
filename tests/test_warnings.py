"""Honest results: degenerate closed forms, N ≤ D, disconnected or empty graphs and chance-level probes are flagged
(kspectral/runs/honesty.py) in the summaries, the JSON files and the command line's output."""

import json
from types import SimpleNamespace

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.sparse import csgraph

from kspectral import runs
from kspectral.runs import honesty
from kspectral.runs.problem import GraphProblem, fit_baseline
from kspectral.runs.table import ProbeRow, ProbeTable, probe_row, table_warnings
from kspectral.spectral import knn_graph, label_graph
from kspectral_cli.main import main


def run_cli(args, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main([str(a) for a in args])
    captured = capsys.readouterr()
    return exit_info.value.code, captured.out, captured.err


def codes(warnings):
    return [w["code"] for w in warnings]


def warning_lines(out):
    return [line for line in out.splitlines() if line.startswith("warning: ")]


# ------------------------------------------------------------------------------------ rank-deficient closed forms

def test_barlow_twins_on_a_connected_knn_graph_is_flagged_in_the_summary_json_and_cli(tmp_path, capsys):
    """The issue's case: rank 0 of dim 16 (a connected graph's L-nullspace is the constants, which centring
    removes), and probes at 0.100 / 0.100."""
    code, out, err = run_cli(["spectral", "--method", "barlow_twins", "--graph", "knn:10", "--out", tmp_path], capsys)
    assert code == 0, err
    summary = json.loads((tmp_path / "spectral.json").read_text())
    assert summary["rank"] == 0 and summary["dim"] == 16 and summary["objective"] is None
    assert codes(summary["warnings"]) == ["rank_deficient", "chance_level_probe"]
    rank = summary["warnings"][0]["message"]
    for part in ("rank 0 of the asked dim 16", "L-nullspace", "centring removes", "connected (1 component)",
                 "every feature is 0", "--graph labels or --graph pairs"):
        assert part in rank
    chance = summary["warnings"][1]["message"]
    assert chance.startswith("'BarlowTwinsEmbedding (barlow_twins, nonparametric)': linear top-1 0.100, kNN top-1 "
                             "0.100 are at chance level")
    lines = warning_lines(out)  # one line each, after the table, the message unwrapped
    assert lines == [f"warning: {w['message']}" for w in summary["warnings"]]
    assert out.index("warning: ") > out.index("linear top-1")


def test_a_linear_closed_form_past_the_rank_of_the_features_is_flagged_with_the_rank_as_the_fix():
    X = np.random.default_rng(0).normal(size=(30, 100))
    problem = GraphProblem(X, label_graph(np.arange(30) % 3), "label graph", "labels")
    _, summary = fit_baseline("vicreg", problem, 40, "linear")
    assert summary["rank"] == 29  # centred 30 × 100 features: rank N − 1
    assert codes(summary["warnings"]) == ["rank_deficient", "fewer_samples_than_features"]
    message = summary["warnings"][0]["message"]
    assert "has rank 29 of the asked dim 40" in message and "11 of its columns are 0" in message
    assert "lower the dimension to 29" in message and "LinearVICReg(ridge=1e-3)" in message


# ----------------------------------------------------------------------------------- fewer samples than features

def test_fewer_samples_than_features_in_the_linear_regime_is_flagged_and_a_ridge_silences_it():
    X = np.random.default_rng(1).normal(size=(24, 50))
    problem = GraphProblem(X, label_graph(np.arange(24) % 4), "label graph", "labels")
    _, summary = fit_baseline("vicreg", problem, 3, "linear")
    assert codes(summary["warnings"]) == ["fewer_samples_than_features"]
    message = summary["warnings"][0]["message"]
    assert "N=24 ≤ D=50" in message and "at most 23-dimensional" in message
    assert "--regime nonparametric" in message and "ridge=" in message and "--image-size" in message
    _, ridged = fit_baseline("vicreg", problem, 3, "linear", ridge=1e-3)
    assert ridged["warnings"] == [] and ridged["options"] == {"ridge": 1e-3}
    # an estimator without a ridge does not offer one
    _, contrastive = fit_baseline("spectral_contrastive", problem, 3, "linear")
    assert codes(contrastive["warnings"]) == ["fewer_samples_than_features"]
    assert "ridge" not in contrastive["warnings"][0]["message"]


def test_fewer_samples_than_features_through_spectral_on_an_array_dataset(tmp_path):
    rng = np.random.default_rng(2)
    y = np.arange(60) % 3
    x = rng.normal(size=(60, 80)) + 3.0 * np.eye(3)[y] @ rng.normal(size=(3, 80))  # 60 samples, 80 features
    np.savez(tmp_path / "wide.npz", x=x.astype(np.float32), y=y)
    result = runs.spectral(method="vicreg", graph="labels", dim=2, dataset=str(tmp_path / "wide.npz"),
                           out=tmp_path / "out")
    assert "fewer_samples_than_features" in codes(result.warnings)
    assert "N=48 ≤ D=80" in result.warnings[0]["message"]  # the 80 % training split
    assert json.loads((tmp_path / "out" / "spectral.json").read_text())["warnings"] == result.warnings


# -------------------------------------------------------------------------------------- disconnected and empty

def test_a_disconnected_knn_graph_is_flagged_with_its_component_count():
    X = np.random.default_rng(3).normal(size=(60, 4))
    G = knn_graph(X, 1)
    n_comp = csgraph.connected_components(G, directed=False)[0]
    assert n_comp > 1
    problem = GraphProblem(X, G, "kNN graph (k=1)", "knn:1")
    _, summary = fit_baseline("vicreg", problem, 3, "nonparametric")
    assert codes(summary["warnings"]) == ["disconnected_graph"]
    message = summary["warnings"][0]["message"]
    assert f"has {n_comp} connected components" in message
    assert "Laplacian eigenmaps skip only the one constant vector" in message and "--graph knn:10" in message
    _, bt = fit_baseline("barlow_twins", problem, 3, "nonparametric")
    assert "disconnected_graph" in codes(bt["warnings"])
    assert "one dimension per component" in bt["warnings"][-1]["message"]
    _, linear = fit_baseline("vicreg", problem, 3, "linear")
    assert codes(linear["warnings"]) == ["disconnected_graph"]


def test_graphs_whose_components_are_meant_and_isolated_nodes():
    X = np.random.default_rng(4).normal(size=(40, 6))
    labels = GraphProblem(X, label_graph(np.arange(40) % 4), "label graph", "labels")
    assert fit_baseline("vicreg", labels, 3, "linear")[1]["warnings"] == []  # one component per class: meant
    G = knn_graph(X[:38], 5)
    G = sp.block_diag([G, sp.csr_matrix((2, 2))]).tocsr()  # two isolated nodes
    problem = GraphProblem(X, G, "kNN graph (k=5)", "knn:5")
    _, summary = fit_baseline("vicreg", problem, 3, "linear")
    assert "has 3 connected components (2 of them isolated nodes)" in summary["warnings"][0]["message"]


def test_an_empty_graph_is_an_error_naming_the_fix():
    X = np.random.default_rng(5).normal(size=(20, 3))
    empty = GraphProblem(X, label_graph(np.arange(20)), "label graph of the training labels", "labels")
    with pytest.raises(ValueError, match="the label graph of the training labels has no edges: each of its 20 nodes "
                                         "is its own component.*no two samples share a label: use --graph knn:K"):
        fit_baseline("vicreg", empty, 2, "linear")
    assert honesty.empty_graph_warning(sp.csr_matrix((5, 5)), spec="knn:3")["code"] == "empty_graph"
    assert honesty.empty_graph_warning(knn_graph(X, 3)) is None


# --------------------------------------------------------------------------------------------- chance level

def test_chance_level_definition_and_its_margin():
    assert honesty.chance_level([0, 0, 0, 1], num_classes=10) == 0.75  # the majority rate
    assert honesty.chance_level(np.arange(100) % 10, num_classes=10) == 0.1  # 1/C
    assert honesty.chance_level([0, 1, 1], num_classes=None) == pytest.approx(2 / 3)  # C from the labels
    # the margin: 2σ of a chance-level top-1 (binomial), at least 0.02
    assert honesty.chance_margin(0.1, 360) == pytest.approx(2 * np.sqrt(0.09 / 360))
    assert honesty.chance_margin(0.1, 10_000) == 0.02
    labels = SimpleNamespace(y_test=np.arange(2000) % 4, num_classes=4)  # chance 0.25, margin 2σ = 0.0194 → 0.02
    rows = [ProbeRow("at", 8, 0.27, 0.9), ProbeRow("above", 8, 0.271, 0.28), ProbeRow("mlp", 8, None, None, 0.1)]
    found = table_warnings(rows, labels)
    assert codes(found) == ["chance_level_probe", "chance_level_probe"]
    assert found[0]["message"].startswith("'at': linear top-1 0.270 is at chance level (≤ 0.270 = max(1/C, majority "
                                          "rate) 0.250 + 0.020, 4 classes, 2000 test images)")
    assert "'mlp': MLP top-1 0.100" in found[1]["message"]
    small = SimpleNamespace(y_test=np.arange(100) % 4, num_classes=4)  # 100 test images: margin 2σ = 0.0866
    assert codes(table_warnings([ProbeRow("noisy", 8, 0.33, None)], small)) == ["chance_level_probe"]
    assert table_warnings([ProbeRow("fine", 8, 0.34, None)], small) == []
    assert table_warnings(rows, SimpleNamespace(y_test=None)) == []  # unlabelled: no probes, no warnings


def test_random_features_probe_at_chance_level_and_raw_pixels_do_not(digits_data):
    rng = np.random.default_rng(0)
    random_row = probe_row("random features", rng.normal(size=(len(digits_data.x_train), 4)),
                           rng.normal(size=(len(digits_data.x_test), 4)), digits_data)
    raw_row = probe_row("raw pixels", digits_data.flat("train"), digits_data.flat("test"), digits_data)
    found = table_warnings([raw_row, random_row], digits_data)
    assert codes(found) == ["chance_level_probe"]
    assert found[0]["message"].startswith(f"'random features': linear top-1 {random_row.linear:.3f}, kNN top-1 "
                                          f"{random_row.knn:.3f} are at chance level (≤ 0.135 ")
    assert raw_row.linear > 0.9


# ------------------------------------------------------------------------------------ healthy runs, train, probe

def test_the_default_vicreg_baseline_on_digits_has_no_warnings():
    """The baseline `kspectral train` fits by default: linear VICReg on the pair graph of augmented digits."""
    result = runs.spectral(method="vicreg", graph="pairs", dim=32)
    assert result.warnings == [] and result.summary["warnings"] == []
    assert result.summary["rank"] == 32


def test_train_and_probe_write_and_print_their_warnings(tmp_path, capsys):
    """Digits has 4 constant pixels: a linear baseline of dim 64 on raw pixels (knn pairs) has rank 60.

    Without the online probe: its head, trained one step, would add an ``online_probe_behind`` warning
    (``tests/test_real_data.py`` tests that one)."""
    out = tmp_path / "run"
    code, printed, err = run_cli(["train", "--pairs", "knn", "--epochs", "1", "--steps-per-epoch", "1",
                                  "--batch-size", "64", "--projector", "32-32", "--baseline-dim", "64",
                                  "--set", "online_probe=false", "--out", out], capsys)
    assert code == 0, err
    metrics = json.loads((out / "metrics.json").read_text())
    assert codes(metrics["warnings"]) == ["rank_deficient"]
    assert metrics["spectral_baseline"]["warnings"] == metrics["warnings"]
    assert "LinearVICReg (vicreg, linear) has rank 60 of the asked dim 64" in metrics["warnings"][0]["message"]
    assert warning_lines(printed) == [f"warning: {metrics['warnings'][0]['message']}"]
    code, printed, err = run_cli(["probe", out], capsys)
    assert code == 0, err
    probe = json.loads((out / "probe.json").read_text())
    assert probe["warnings"] == metrics["warnings"]
    assert warning_lines(printed) == [f"warning: {metrics['warnings'][0]['message']}"]


def test_the_probe_table_is_a_list_with_its_warnings():
    rows = [ProbeRow("raw pixels", 64, 0.97, 0.98)]
    table = ProbeTable(rows, [honesty.warning("chance_level_probe", "m")])
    assert table == rows and table.warnings == [{"code": "chance_level_probe", "message": "m"}]
    assert ProbeTable(rows).warnings == []
    with pytest.raises(ValueError, match="unknown warning code 'nope'; choose one of: rank_deficient"):
        honesty.warning("nope", "m")


def test_an_online_probe_behind_the_offline_probe_is_flagged():
    """LFW's conv run: 40 head steps, online 0.75 against an offline 1.00 on 40 test images (margin 0.105)."""
    split = SimpleNamespace(y_test=np.repeat([0, 1], 20), num_classes=2)
    rows = [ProbeRow("raw pixels", 625, 0.925, 0.8), ProbeRow("vicreg encoder", 128, 1.0, 0.825)]
    found = honesty.online_probe_warnings({"online_linear_top1": 0.75}, rows, split, head_steps=40)
    assert codes(found) == ["online_probe_behind"]
    message = found[0]["message"]
    assert "0.750, is 0.250 below the offline linear probe of the same encoder, 1.000" in message
    assert ("margin 0.105, the larger of the noise of 40 test images and a tenth of the gain over chance) after 40 "
            "steps of its head") in message and "at chance level" not in message
    at_chance = honesty.online_probe_warnings({"online_linear_top1": 0.5}, rows, split)
    assert "0.500, at chance level (max(1/C, majority rate) 0.500)" in at_chance[0]["message"]
    # within the binomial margin, above the offline probe, no online value, no encoder row: nothing to say
    assert honesty.online_probe_warnings({"online_linear_top1": 0.96}, rows, split) == []  # margin 0.044
    assert honesty.online_probe_warnings({"online_linear_top1": 1.0}, rows, split) == []
    assert honesty.online_probe_warnings({"online_knn_top1": 0.5}, rows, split) == []
    assert honesty.online_probe_warnings({"online_linear_top1": float("nan")}, rows, split) == []
    assert honesty.online_probe_warnings({"online_linear_top1": 0.5}, rows[:1], split) == []
    # the default digits run: 0.967 against 0.994 on 360 images is beyond the noise (0.02) but within a tenth of the
    # gain over chance (0.089): an SGD-trained head's expected lag, not flagged
    digits = SimpleNamespace(y_test=np.arange(360) % 10, num_classes=10)
    encoder = [ProbeRow("vicreg encoder", 256, 0.994, 0.964)]
    assert honesty.online_probe_warnings({"online_linear_top1": 0.967}, encoder, digits) == []
    assert codes(honesty.online_probe_warnings({"online_linear_top1": 0.9}, encoder, digits)) == ["online_probe_behind"]
    big = SimpleNamespace(y_test=np.arange(10000) % 10, num_classes=10)  # noise 0.02, a tenth of the gain 0.09
    assert codes(honesty.online_probe_warnings({"online_linear_top1": 0.9}, [rows[1]], big)) == ["online_probe_behind"]
    assert honesty.online_probe_warnings({"online_linear_top1": 0.92}, [rows[1]], big) == []
    assert honesty.online_probe_warnings({"online_linear_top1": 0.985}, [rows[1]], big) == []
