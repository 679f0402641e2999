"""The kspectral command line and the run workflow behind it."""

import csv
import re
import json
import subprocess
import sys
from pathlib import Path

import keras
import pytest

from process_helpers import cli_imports

from kspectral import runs
from kspectral_cli.main import main

ROWS = ("raw pixels", "vicreg encoder", "spectral baseline (vicreg)")


def run_cli(args, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(args)
    captured = capsys.readouterr()
    return exit_info.value.code, captured.out, captured.err


@pytest.fixture(scope="module")
def default_run(tmp_path_factory):
    """`kspectral train` with the default options, fewer epochs."""
    out = tmp_path_factory.mktemp("runs") / "default"
    with pytest.raises(SystemExit) as exit_info:
        main(["train", "--epochs", "3", "--out", str(out)])
    assert exit_info.value.code == 0
    return out


def test_train_default_path_writes_the_run(default_run):
    for name in ("config.json", "model.keras", "metrics.json", "history.csv"):
        assert (default_run / name).is_file()
    assert not (default_run / "backup").exists()
    config = json.loads((default_run / "config.json").read_text())
    assert config["method"] == "vicreg" and config["dataset"] == "digits" and config["pairs"] == "augment"
    assert config["epochs"] == 3 and config["batch_size"] == 256
    metrics = json.loads((default_run / "metrics.json").read_text())
    assert set(metrics["probes"]) == set(ROWS)
    for row in metrics["probes"].values():
        assert 0.0 <= row["linear_top1"] <= 1.0 and 0.0 <= row["knn_top1"] <= 1.0
    assert metrics["probes"]["raw pixels"]["linear_top1"] > 0.93  # pixels of digits are linearly separable
    assert metrics["probes"]["raw pixels"]["dim"] == 64
    assert metrics["probes"]["spectral baseline (vicreg)"]["dim"] == 32
    assert metrics["probes"]["vicreg encoder"]["linear_top1"] > 0.5  # 3 epochs already beat chance by far
    assert metrics["spectral_baseline"]["estimator"] == "LinearVICReg"
    with open(default_run / "history.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 3
    assert not any(k.startswith("val_") for k in rows[0])  # no always-empty validation columns
    assert all(v not in ("", "NA") for row in rows for v in row.values())
    loaded = keras.models.load_model(default_run / "model.keras")
    assert type(loaded).__name__ == "VICReg"


def test_train_prints_the_table(tmp_path, capsys):
    code, out, _ = run_cli(["train", "--epochs", "1", "--batch-size", "128", "--pairs", "knn",
                            "--out", str(tmp_path / "r")], capsys)
    assert code == 0
    for row in ROWS:
        assert row in out
    assert "linear top-1" in out and "kNN top-1" in out
    assert "kNN graph (k=10)" in out
    metrics = json.loads((tmp_path / "r" / "metrics.json").read_text())
    assert metrics["pairs"] == "knn"


def test_probe_reevaluates_a_saved_run(default_run, capsys):
    code, out, _ = run_cli(["probe", str(default_run)], capsys)
    assert code == 0
    assert "raw pixels" in out
    trained = json.loads((default_run / "metrics.json").read_text())["probes"]
    probed = json.loads((default_run / "probe.json").read_text())["probes"]
    for name in ROWS:  # the same model, split and closed form give the same numbers
        assert probed[name]["linear_top1"] == pytest.approx(trained[name]["linear_top1"])
        assert probed[name]["knn_top1"] == pytest.approx(trained[name]["knn_top1"])


def test_finished_run_is_not_overwritten(default_run, capsys):
    code, _, err = run_cli(["train", "--epochs", "3", "--out", str(default_run)], capsys)
    assert code == 2
    assert "already holds a finished run" in err


@pytest.mark.parametrize(
    "args,message",
    [
        (["train", "--method", "byol9"], "unknown method 'byol9'; choose one of: "),
        (["train", "--pairs", "triangles"], "unknown pairs 'triangles'; choose one of: augment, knn, labels"),
        (["train", "--epochs", "0"], "epochs must be an integer ≥ 1, got 0"),
        (["train", "--batch-size", "abc"], "Invalid value for '--batch-size'"),
        (["train", "--projector", "512-x"], "projector spec '512-x' is not valid"),
        (["train", "--batch-size", "5000", "--epochs", "1"], "larger than the 1437 training images"),
        (["train", "--recipe", "no-such-recipe"], "no recipe file or shipped recipe named"),
        (["probe", "/no/such/run"], "run directory /no/such/run does not exist"),
        (["frobnicate"], "No such command"),
    ],
)
def test_bad_input_exits_2_with_one_line(args, message, capsys, tmp_path):
    if args[0] == "train":
        args = [*args, "--out", str(tmp_path / "bad")]
    code, _, err = run_cli(args, capsys)
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("kspectral: error: ")
    assert message in lines[0]
    assert "Traceback" not in err


def test_unknown_method_lists_allowed_values(capsys, tmp_path):
    _, _, err = run_cli(["train", "--method", "nope", "--out", str(tmp_path / "x")], capsys)
    assert "vicreg" in err


def test_bad_recipe_keys(tmp_path, capsys):
    recipe = tmp_path / "r.toml"
    recipe.write_text('[train]\nmethod = "vicreg"\nlearnin_rate = 0.1\n')
    code, _, err = run_cli(["train", "--recipe", str(recipe), "--out", str(tmp_path / "o")], capsys)
    assert code == 2 and "unknown config keys: learnin_rate" in err


def test_shipped_recipe_matches_the_defaults():
    import tomllib

    from kspectral.recipes import find_recipe

    values = tomllib.loads(find_recipe("vicreg_mlp_bs256-100e_digits").read_text())["train"]
    default = runs.with_defaults(runs.RunConfig().validate()).to_dict()
    default["encoder_widths"] = default["encoder_widths"] or "512-256"  # None: the mlp encoder's own default
    for key, value in values.items():
        if key != "method_options":
            assert default[key] == value, key


def test_interrupted_run_keeps_checkpoints_and_resumes(tmp_path):
    class Interrupt(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 1:
                raise KeyboardInterrupt

    config = runs.RunConfig(epochs=4, batch_size=128, encoder_widths="32", projector="32-32", baseline_dim=8)
    out = tmp_path / "run"
    with pytest.raises(KeyboardInterrupt):
        runs.train(config, out=out, callbacks=[Interrupt()])
    assert (out / "backup").is_dir() and (out / "config.json").is_file()
    assert not (out / "metrics.json").exists()
    with pytest.raises(ValueError, match=r"another config \(differs in: encoder_widths\)"):
        runs.train(runs.RunConfig(epochs=4, batch_size=128, encoder_widths="64", projector="32-32",
                                  baseline_dim=8), out=out)
    result = runs.train(config, out=out)
    assert result.resumed
    with open(out / "history.csv") as f:
        epochs = [int(row["epoch"]) for row in csv.DictReader(f)]
    assert epochs == [0, 1, 2, 3]  # two epochs before the interrupt, two after resuming
    assert not (out / "backup").exists()


def test_methods_command_lists_every_method_with_its_counterpart_and_status(capsys):
    code, out, _ = run_cli(["methods"], capsys)
    assert code == 0 and "vicreg" in out and "LaplacianEigenmaps" in out and "LinearVICReg" in out
    assert "theorem" in out and "derived" in out and "analogy" in out
    for name in ("simclr_abs", "simclr_centered", "dissl", "cissl", "barlow_twins"):
        assert name in out


def test_methods_command_imports_no_tensorflow():
    """`kspectral methods` reads the tables only: no TensorFlow, Keras, scikit-learn or scipy (it answers in ~0.3 s)."""
    lines = cli_imports(["methods"], ("tensorflow", "keras", "sklearn", "scipy"))
    assert any("vicreg" in line for line in lines)
    assert lines[-1] == "imported: []"


def test_spectral_pairs_graph_reproduces_the_baseline_of_a_run(default_run):
    """`kspectral spectral --graph pairs` rebuilds the baseline graph of `kspectral train` with the same seed."""
    trained = json.loads((default_run / "metrics.json").read_text())
    result = runs.spectral(method="vicreg", graph="pairs", dim=32, seed=0)
    row = result.summary["probes"]["LinearVICReg (vicreg, linear)"]
    assert row["linear_top1"] == pytest.approx(trained["probes"]["spectral baseline (vicreg)"]["linear_top1"])
    assert row["knn_top1"] == pytest.approx(trained["probes"]["spectral baseline (vicreg)"]["knn_top1"])
    assert result.summary["graph"] == trained["spectral_baseline"]["graph"]


def test_metrics_name_the_estimator_that_ran_and_its_status(default_run):
    from kspectral.spectral import baselines

    summary = json.loads((default_run / "metrics.json").read_text())["spectral_baseline"]
    assert summary["estimator"] == baselines.counterpart("vicreg", "linear") == "LinearVICReg"
    assert summary["status"] == baselines.status("vicreg", "linear")
    assert summary["regime"] == "linear" and summary["rank"] == 32


def test_console_script_exit_code_and_no_traceback(tmp_path):
    """The installed `kspectral` script: exit code 2 and exactly one line on stderr (no TensorFlow noise)."""
    script = Path(sys.executable).with_name("kspectral")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "kspectral_cli.main"]
    proc = subprocess.run([*command, "train", "--method", "nope", "--out", str(tmp_path / "x")],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("kspectral: error: unknown method 'nope'; choose one of: ")


def test_spectral_command_default(capsys, tmp_path):
    code, out, _ = run_cli(["spectral", "--out", str(tmp_path)], capsys)
    assert code == 0
    assert "raw pixels" in out and "LaplacianEigenmaps (vicreg, nonparametric)" in out
    summary = json.loads((tmp_path / "spectral.json").read_text())
    assert summary["regime"] == "nonparametric" and summary["dim"] == 16
    row = summary["probes"]["LaplacianEigenmaps (vicreg, nonparametric)"]
    assert row["linear_top1"] > 0.9 and row["knn_top1"] > 0.9  # the kNN graph of digits is well aligned


@pytest.mark.parametrize(
    "args,estimator",
    [
        (["--method", "barlow_twins", "--graph", "pairs", "--dim", "8"], "LinearBarlowTwins (barlow_twins, linear)"),
        (["--method", "spectral_contrastive", "--graph", "labels"], "LinearSpectralContrastive"),
        (["--method", "dissl", "--graph", "knn:15", "--dim", "9"], "SpectralClustering (dissl, nonparametric)"),
    ],
)
def test_spectral_command_methods_and_graphs(args, estimator, capsys):
    code, out, _ = run_cli(["spectral", *args], capsys)
    assert code == 0 and estimator in out


@pytest.mark.parametrize(
    "args,message",
    [
        (["--graph", "labels", "--regime", "nonparametric"], "use --regime linear"),
        (["--graph", "triangles"], "unknown graph 'triangles'; choose one of: knn:K, labels, pairs, augment"),
        (["--regime", "kernel"], "unknown regime 'kernel'"),
        (["--method", "w_mse"], "unknown method 'w_mse'"),
        (["--graph", "labels", "--dim", "65"], "exceeds the 64 input features"),
    ],
)
def test_spectral_command_bad_input(args, message, capsys):
    code, _, err = run_cli(["spectral", *args], capsys)
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1


def test_every_shipped_recipe_validates():
    import tomllib

    from kspectral.recipes import list_recipes

    paths = list_recipes()
    assert len(paths) >= 4
    for path in paths:
        assert re.fullmatch(r"[a-z][a-z0-9_]*_[a-z0-9]+_bs\d+-\d+e_[a-z0-9_]+", path.stem), path.stem  # the naming convention
        values = tomllib.loads(path.read_text())["train"]
        config = runs.RunConfig.from_dict(values).validate()
        assert path.stem.startswith(config.method) and f"bs{config.batch_size}-{config.epochs}e" in path.stem


@pytest.mark.slow
@pytest.mark.parametrize("recipe", ["simclr_mlp_bs256-100e_digits", "dissl_mlp_bs256-100e_digits"])
def test_recipe_runs(recipe, tmp_path, capsys):
    code, out, _ = run_cli(["train", "--recipe", recipe, "--epochs", "1", "--out", str(tmp_path / "r")], capsys)
    assert code == 0 and "encoder" in out
    config = json.loads((tmp_path / "r" / "config.json").read_text())
    assert config["epochs"] == 1 and config["method"] == recipe.split("_mlp")[0]
