"""Failure paths: divergence and resume, retry after early failures, reproducibility, malformed batches,
bad hyper-parameters, serialisation of plain objectives, and the CLI's error handling."""

import csv
import json

import keras
import numpy as np
import pytest
import tensorflow as tf

from kspectral import runs
from kspectral.data import augmented_pairs, digits_augmenter
from kspectral.encoders import mlp_encoder
from kspectral.methods import CISSL, DISSL, SSLModel, SimCLR, VICReg
from kspectral.objectives import CISSLLoss, DISSLLoss, simclr, vicreg
from kspectral_cli.main import main

SMALL = dict(epochs=3, batch_size=128, encoder_widths="32", projector="32-32", baseline_dim=8)


def read_history(path):
    with open(path) as f:
        return list(csv.DictReader(f))


class PoisonAtEpoch(keras.callbacks.Callback):
    """Writes NaN into the first encoder kernel when the given epoch begins (a simulated divergence)."""

    def __init__(self, epoch):
        super().__init__()
        self.epoch = epoch

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == self.epoch:
            kernel = self.model.encoder.trainable_variables[0]
            kernel.assign(tf.fill(kernel.shape, float("nan")))


def test_divergence_keeps_the_last_finite_epoch_and_resumes_with_a_lower_learning_rate(tmp_path):
    out = tmp_path / "run"
    with pytest.raises(FloatingPointError, match=r"in epoch 1; the last finite checkpoint \(step 11\) is kept"):
        runs.train(runs.RunConfig(**SMALL), out=out, callbacks=[PoisonAtEpoch(1)])
    assert (out / "backup").is_dir() and not (out / "model.keras").exists()
    result = runs.train(runs.RunConfig(**{**SMALL, "learning_rate": 1e-3}), out=out)  # lr may change on resume
    assert result.resumed
    assert all(np.isfinite(v) for v in result.metrics["final_train_metrics"].values())
    assert json.loads((out / "config.json").read_text())["learning_rate"] == 1e-3
    epochs = [int(r["epoch"]) for r in read_history(out / "history.csv")]
    assert epochs == [0, 1, 2] and not (out / "backup").exists()  # the NaN row of epoch 1 was dropped


def test_divergence_in_the_first_epoch_says_to_lower_the_learning_rate(tmp_path):
    with pytest.raises(FloatingPointError, match="in epoch 0 before its first checkpoint; lower --learning-rate"):
        runs.train(runs.RunConfig(**{**SMALL, "epochs": 1}), out=tmp_path / "r", callbacks=[PoisonAtEpoch(0)])


def test_early_stopping_is_not_a_divergence(tmp_path):
    stop = keras.callbacks.EarlyStopping(monitor="loss", patience=0, min_delta=1e9)
    result = runs.train(runs.RunConfig(**{**SMALL, "epochs": 5}), out=tmp_path / "r", callbacks=[stop])
    assert (result.run_dir / "model.keras").exists()


def test_bad_options_fail_before_the_run_directory_exists(tmp_path):
    out = tmp_path / "r"
    with pytest.raises(ValueError, match="unknown method_options for vicreg: invariance_wieght; allowed: .*invariance_weight"):
        runs.train(runs.RunConfig(**SMALL, method_options={"invariance_wieght": 10}), out=out)
    assert not out.exists()
    with pytest.raises(ValueError, match="bad method_options for vicreg_exp: temperature"):
        runs.train(runs.RunConfig(**SMALL, method="vicreg_exp", method_options={"temperature": -1.0}), out=out)
    assert not out.exists()
    runs.train(runs.RunConfig(**SMALL, method_options={"invariance_weight": 10.0}), out=out)  # retry works
    assert (out / "metrics.json").exists()


def test_a_directory_without_backup_starts_afresh(tmp_path):
    out = tmp_path / "r"
    out.mkdir()
    (out / "config.json").write_text(json.dumps({"method": "simclr"}))  # left by a run that never trained
    result = runs.train(runs.RunConfig(**SMALL), out=out)
    assert not result.resumed and json.loads((out / "config.json").read_text())["method"] == "vicreg"


def test_resumed_run_continues_from_the_trained_weights(tmp_path):
    class Interrupt(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 1:
                raise KeyboardInterrupt

    out = tmp_path / "r"
    config = runs.RunConfig(**{**SMALL, "epochs": 4})
    with pytest.raises(KeyboardInterrupt):
        runs.train(config, out=out, callbacks=[Interrupt()])
    first = [float(r["loss"]) for r in read_history(out / "history.csv")]
    runs.train(config, out=out)
    losses = [float(r["loss"]) for r in read_history(out / "history.csv")]
    assert losses[:2] == first and len(losses) == 4
    assert losses[2] < first[0]  # a fresh start would be back near the first epoch's loss


def test_same_seed_reproduces_a_run(tmp_path):
    a = runs.train(runs.RunConfig(**SMALL), out=tmp_path / "a").metrics
    b = runs.train(runs.RunConfig(**SMALL), out=tmp_path / "b").metrics
    assert a["probes"] == b["probes"]
    history_a = [float(r["loss"]) for r in read_history(tmp_path / "a" / "history.csv")]
    history_b = [float(r["loss"]) for r in read_history(tmp_path / "b" / "history.csv")]
    np.testing.assert_allclose(history_a, history_b, rtol=1e-6)


@pytest.mark.parametrize("values,message", [
    ({"test_size": "0.2"}, "test_size must be a number"),
    ({"seed": 5_000_000_000}, r"seed must be an integer in \[0, 2³²\)"),
    ({"learning_rate": 0.0}, "learning_rate must be a positive number"),
    ({"encoder_widths": 64}, "encoder_widths must be a string"),
])
def test_config_type_errors(values, message):
    with pytest.raises(ValueError, match=message):
        runs.RunConfig(**values).validate()


def test_mismatched_views_are_rejected(digits_data):
    a, b = digits_data.x_train[:5], digits_data.x_train[5:8]
    for model in (SimCLR(mlp_encoder((8, 8, 1), "16"), "8"), CISSL(mlp_encoder((8, 8, 1), "16"), 8, "16-8")):
        model.compile(optimizer="adam")
        with pytest.raises(ValueError, match="same batch size"):
            model.train_on_batch(a, b)


def test_odd_stacked_batches_fail_also_inside_tf_function(rng):
    for loss in (CISSLLoss(), DISSLLoss()):
        fn = tf.function(lambda t, s, loss=loss: loss(t, s), input_signature=[tf.TensorSpec((None, 4))] * 2)
        x = tf.constant(rng.normal(size=(7, 4)), tf.float32)
        with pytest.raises(tf.errors.InvalidArgumentError, match="odd number"):
            fn(x, x)


def test_batches_of_one_are_refused(digits_data):
    with pytest.raises(ValueError, match="last batch of one sample"):
        augmented_pairs(digits_data.x_train[:65], digits_augmenter(), 64, drop_remainder=False)
    fn = tf.function(lambda a, b: vicreg(a, b), input_signature=[tf.TensorSpec((None, 4))] * 2)
    with pytest.raises(tf.errors.InvalidArgumentError, match="at least 2 samples"):
        fn(tf.ones((1, 4)), tf.ones((1, 4)))


def test_nan_and_non_numeric_embeddings_are_named(rng):
    z = rng.normal(size=(8, 4))
    z[3, 1] = np.nan
    with pytest.raises(ValueError, match="z_a contains NaN"):
        vicreg(z, np.ones((8, 4)))
    with pytest.raises(ValueError, match="z_b contains NaN"):
        simclr(np.ones((8, 4)), z)
    with pytest.raises(TypeError, match="numeric"):
        vicreg(np.array([["a"] * 4] * 8), np.ones((8, 4)))


@pytest.mark.parametrize("make,message", [
    (lambda e: VICReg(e, invariance_weight=-5), "invariance_weight must be a finite non-negative"),
    (lambda e: VICReg(e, epsilon=0), "epsilon must be a finite positive"),
    (lambda e: DISSL(e, teacher_temperature=0), "teacher_temperature must be a finite positive"),
    (lambda e: SimCLR(e, temperature=-0.1), "temperature must be a finite positive"),
])
def test_bad_hyper_parameters_fail_at_construction(make, message):
    with pytest.raises(ValueError, match=message):
        make(mlp_encoder((8, 8, 1), "8"))


def test_plain_ssl_model_with_kspectral_objective_saves_and_loads(tmp_path, digits_data):
    model = SSLModel(mlp_encoder((8, 8, 1), "16"), "8", objective=vicreg)
    model.compile(optimizer="adam")
    model.train_on_batch(digits_data.x_train[:32], digits_data.x_train[32:64])
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras")
    assert loaded.objective is vicreg
    np.testing.assert_array_equal(model.encode(digits_data.x_test[:4]), loaded.encode(digits_data.x_test[:4]))
    with pytest.raises(ValueError, match="cannot be saved"):
        SSLModel(mlp_encoder((8, 8, 1), "16"), objective=lambda a, b: vicreg(a, b))


def test_compile_with_a_loss_is_refused():
    model = VICReg(mlp_encoder((8, 8, 1), "8"), "8")
    with pytest.raises(ValueError, match="optimizer only"):
        model.compile(optimizer="adam", loss="mse")


def test_cli_bare_command_prints_help_and_succeeds(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main([])
    assert exit_info.value.code == 0
    captured = capsys.readouterr()
    assert "train" in captured.out and "spectral" in captured.out and captured.err == ""


def test_cli_os_errors_are_one_line(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("")
    for args in (["train", "--epochs", "1", "--out", str(blocker / "sub")], ["spectral", "--out", str(blocker)]):
        with pytest.raises(SystemExit) as exit_info:
            main(args)
        err = capsys.readouterr().err
        assert exit_info.value.code == 2 and len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_cli_help_shows_defaults(capsys):
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    out = capsys.readouterr().out
    assert "vicreg" in out and "1024-1024-1024" in out and "256" in out


def test_cli_internal_error_exits_1_with_a_debug_hint(monkeypatch, capsys, tmp_path):
    """An unexpected exception is a bug: exit 1 (not 2), one line, and a hint to rerun with --debug."""
    from kspectral.runs import workflows

    def broken(*args, **kwargs):
        raise KeyError("oops")

    monkeypatch.setattr(workflows, "train", broken)
    monkeypatch.setattr(runs, "train", broken)
    with pytest.raises(SystemExit) as exit_info:
        main(["train", "--epochs", "1", "--out", str(tmp_path / "r")])
    err = capsys.readouterr().err
    assert exit_info.value.code == 1
    assert len(err.strip().splitlines()) == 1 and "internal error: KeyError" in err and "--debug" in err
    with pytest.raises(KeyError):  # --debug lets the traceback through
        main(["--debug", "train", "--epochs", "1", "--out", str(tmp_path / "r")])


def test_cli_type_errors_are_not_reported_as_bad_input(monkeypatch, capsys):
    from kspectral.runs import workflows

    def broken(*args, **kwargs):
        raise TypeError("unsupported operand")

    monkeypatch.setattr(workflows, "spectral", broken)
    monkeypatch.setattr(runs, "spectral", broken)
    with pytest.raises(SystemExit) as exit_info:
        main(["spectral"])
    assert exit_info.value.code == 1 and "internal error: TypeError" in capsys.readouterr().err


def test_validate_only_checks_and_defaults_are_a_separate_step():
    config = runs.RunConfig(method="simclr")
    assert config.validate() is config and config.projector is None
    filled = runs.with_defaults(config)
    assert filled.projector == runs.DEFAULT_PROJECTOR and config.projector is None
    assert runs.with_defaults(runs.RunConfig(method="cissl").validate()).projector is None  # own heads
    with pytest.raises(ValueError, match="cissl has no projector"):
        runs.RunConfig(method="cissl", projector="64-64").validate()


def test_one_graph_for_the_pairs_and_the_baseline(rng):
    """With knn pairs, every training pair is an edge of the graph the baseline is fitted on."""
    from kspectral.data import load
    from kspectral.runs.problem import build_problem, graph_for_pairs, training_pairs

    config = runs.RunConfig(pairs="knn", knn_k=5, batch_size=64)
    dataset = load("digits")
    problem = build_problem(dataset, graph_for_pairs(config.pairs, config.knn_k), seed=config.seed)
    flat = {tuple(np.round(row, 6)): i for i, row in enumerate(dataset.flat("train"))}
    view_a, view_b = next(iter(training_pairs(config, dataset, problem)))
    G = problem.graph.tocsr()
    for a, b in zip(np.asarray(view_a).reshape(len(view_a), -1), np.asarray(view_b).reshape(len(view_b), -1)):
        i, j = flat[tuple(np.round(a, 6))], flat[tuple(np.round(b, 6))]
        assert G[i, j] > 0


def test_baseline_problem_leaves_the_global_random_state_alone():
    from kspectral.data import load
    from kspectral.runs.problem import build_problem

    dataset = load("digits")
    keras.utils.set_random_seed(7)
    expected = np.random.random()
    keras.utils.set_random_seed(7)
    first = build_problem(dataset, "pairs", rounds=1, seed=3)
    assert np.random.random() == expected
    second = build_problem(dataset, "pairs", rounds=1, seed=3)
    np.testing.assert_array_equal(first.X, second.X)  # the same seed gives the same views
    third = build_problem(dataset, "pairs", rounds=1, seed=4)
    assert not np.allclose(first.X, third.X)
