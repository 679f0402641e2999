"""Fault tolerance of `kspectral train`: step checkpoints, exact kill-and-resume, NaN stops, determinism and the
safety of the run directory (docs/fault_tolerance.md)."""

import csv
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf

import kspectral.methods  # noqa: F401  (registers the model classes for load_model)
from kspectral import runs
from kspectral.runs.checkpoints import committed

CLI = [sys.executable, "-c", "from kspectral_cli.main import main; main()"]
KILLED_AT = Path(__file__).parent / "scripts" / "kspectral_killed_at.py"
#: the run of the kill-and-resume tests (digits, 4 epochs of 5 steps, a step checkpoint every 2 steps)
COMMAND = ["train", "--encoder", "mlp", "--projector", "64-64", "--epochs", "4", "--checkpoint-every", "2",
           "--set", "tensorboard=false", "--set", "baseline=none"]
SMALL = dict(epochs=3, batch_size=128, encoder_widths="32", projector="32-32", baseline="none", tensorboard=False,
             checkpoint_every=4)


def weights(run_dir):
    return keras.models.load_model(Path(run_dir) / "model.keras").get_weights()


def max_difference(a, b):
    return max(float(np.max(np.abs(x - y))) for x, y in zip(weights(a), weights(b)))


def history(run_dir):
    with open(Path(run_dir) / "history.csv") as f:
        return list(csv.DictReader(f))


def start(args, kill_at_step=None):
    """``kspectral ARGS`` in a child process; with ``kill_at_step=K`` it SIGKILLs itself right after optimizer step K
    (``scripts/kspectral_killed_at.py``: the same entry point plus one callback)."""
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    command = CLI if kill_at_step is None else [sys.executable, str(KILLED_AT), "--kill-at-step", str(kill_at_step),
                                                "--"]
    return subprocess.Popen(command + args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def finish(process, timeout=240):
    out, err = process.communicate(timeout=timeout)
    assert process.returncode == 0, err[-2000:]
    return out


class StopAt(keras.callbacks.Callback):
    """Raises KeyboardInterrupt after the given number of batches (an interrupted process)."""

    def __init__(self, batches):
        super().__init__()
        self.batches, self.seen = batches, 0

    def on_train_batch_end(self, batch, logs=None):
        self.seen += 1
        if self.seen == self.batches:
            raise KeyboardInterrupt


class PoisonAt(keras.callbacks.Callback):
    """Writes NaN into the first encoder kernel before the given batch (counted over the run)."""

    def __init__(self, batches):
        super().__init__()
        self.batches, self.seen = batches, 0

    def on_train_batch_begin(self, batch, logs=None):
        if self.seen == self.batches:
            kernel = self.model.encoder.trainable_variables[0]
            kernel.assign(tf.fill(kernel.shape, float("nan")))
        self.seen += 1


class NoTraining(keras.callbacks.Callback):
    def on_train_begin(self, logs=None):
        raise AssertionError("the run trained again")


@pytest.mark.slow
@pytest.mark.parametrize("pairs", ["augment", "knn"])
def test_sigkill_mid_epoch_and_resume_equals_an_uninterrupted_run(tmp_path, pairs):
    """The run SIGKILLs itself after step 9 (one step after the mid-epoch checkpoint of step 8), then resumes.

    Measured: max |Δw| = 0.0 (bit-identical on CPU), the same history.csv, for augment and knn pairs."""
    command = COMMAND + ["--pairs", pairs]
    reference = start(command + ["--out", str(tmp_path / "reference")])
    killed = start(command + ["--out", str(tmp_path / "killed")], kill_at_step=9)
    backup = tmp_path / "killed" / "backup"
    out, err = killed.communicate(timeout=240)
    assert killed.returncode == -signal.SIGKILL and "killing at step 9" in out, err[-2000:]
    assert not (tmp_path / "killed" / "metrics.json").exists()
    newest = json.loads(committed(backup)[0].read_text())
    batch = {"augment": 3, "knn": 2}[pairs]  # 5 steps per epoch (augment drops the partial batch), 6 (knn)
    assert (newest["step"], newest["epoch"], newest["batch"]) == (8, 1, batch)
    out = finish(start(command + ["--out", str(tmp_path / "killed")]))
    assert f"resuming from the checkpoint of step 8 (epoch 1, batch {batch})" in out
    finish(reference)
    assert max_difference(tmp_path / "reference", tmp_path / "killed") == 0.0
    assert history(tmp_path / "reference") == history(tmp_path / "killed")
    metrics = json.loads((tmp_path / "killed" / "metrics.json").read_text())
    assert metrics["resumed"] and metrics["epochs"] == 4 and not backup.exists()


def test_device_augmentation_resumes_mid_epoch_exactly(tmp_path):
    """augment_on = device: the model's augmenters' seed states travel in the checkpoint (save_weights omits them)."""
    config = runs.RunConfig(**SMALL, augment_on="device")
    runs.train(config, out=tmp_path / "reference")
    with pytest.raises(KeyboardInterrupt):
        runs.train(config, out=tmp_path / "run", callbacks=[StopAt(17)])  # 11 steps per epoch: epoch 1, batch 6
    info = json.loads(committed(tmp_path / "run" / "backup")[0].read_text())
    assert (info["step"], info["epoch"], info["batch"]) == (16, 1, 5) and len(info["seed_states"]) > 0
    stages = []
    result = runs.train(config, out=tmp_path / "run", on_stage=stages.append)
    assert result.resumed and "resuming from the checkpoint of step 16 (epoch 1, batch 5)" in stages
    assert max_difference(tmp_path / "reference", tmp_path / "run") == 0.0
    assert history(tmp_path / "reference") == history(tmp_path / "run")


def test_damaged_checkpoint_falls_back_to_the_previous_one_and_then_fails_in_one_line(tmp_path):
    config = runs.RunConfig(**SMALL)
    out = tmp_path / "run"
    with pytest.raises(KeyboardInterrupt):
        runs.train(config, out=out, callbacks=[StopAt(9)])
    newest, previous = committed(out / "backup")
    assert [json.loads(p.read_text())["step"] for p in (newest, previous)] == [8, 4]
    weights_file = newest.with_name(json.loads(newest.read_text())["weights"])
    weights_file.write_bytes(weights_file.read_bytes()[:1000])  # truncated, as by a full disk
    stages = []
    with pytest.raises(KeyboardInterrupt):  # resumes from step 4, then stops again at step 5
        runs.train(config, out=out, callbacks=[StopAt(1)], on_stage=stages.append)
    assert "resuming from the checkpoint of step 4 (epoch 0, batch 4)" in stages
    # now damage every checkpoint: a one-line error naming the file and the fix
    for path in out.joinpath("backup").glob("*.weights.h5"):
        path.write_bytes(b"not hdf5")
    with pytest.raises(ValueError, match=r"no usable checkpoint in .*backup: .*ckpt-\d+\.weights\.h5 is truncated or "
                                         r"damaged.*delete .*backup to restart") as error:
        runs.train(config, out=out)
    assert "\n" not in str(error.value)


def test_divergence_keeps_the_last_finite_step_checkpoint_and_resume_drops_the_nan_row(tmp_path):
    out = tmp_path / "run"
    with pytest.raises(FloatingPointError, match=r"diverged \(non-finite loss\) in epoch 1; the last finite "
                                                 r"checkpoint \(step 12\) is kept in .*lower --learning-rate"):
        runs.train(runs.RunConfig(**SMALL), out=out, callbacks=[PoisonAt(14)])  # NaN from step 15 (epoch 1)
    rows = history(out)
    assert [r["epoch"] for r in rows] == ["0", "1"] and rows[1]["loss"] == "nan"
    for path in committed(out / "backup"):  # no checkpoint holds a NaN
        assert json.loads(path.read_text())["step"] <= 12
    result = runs.train(runs.RunConfig(**{**SMALL, "learning_rate": 1e-3}), out=out)
    rows = history(out)
    assert [r["epoch"] for r in rows] == ["0", "1", "2"]
    assert all(np.isfinite(float(r["loss"])) for r in rows)
    assert result.metrics["final_train_metrics"]["loss"] == pytest.approx(float(rows[-1]["loss"]), rel=1e-6)


def test_interrupted_probe_stage_resumes_without_training(tmp_path, monkeypatch):
    from kspectral.runs import workflows

    config = runs.RunConfig(**{**SMALL, "baseline": "auto", "baseline_dim": 8})
    out = tmp_path / "run"
    real = workflows._run_table

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(workflows, "_run_table", interrupted)
    with pytest.raises(KeyboardInterrupt):
        runs.train(config, out=out)
    assert (out / "model.keras").exists() and (out / "training.json").exists()
    monkeypatch.setattr(workflows, "_run_table", real)
    result = runs.train(config, out=out, callbacks=[NoTraining()])
    rows = history(out)
    assert result.resumed and result.metrics["epochs"] == 3 and len(rows) == 3
    assert result.metrics["final_train_metrics"]["loss"] == pytest.approx(float(rows[-1]["loss"]), rel=1e-6)
    assert not (out / "training.json").exists() and not (out / "backup").exists()


def test_fewer_epochs_than_already_trained_is_an_error(tmp_path):
    out = tmp_path / "run"
    with pytest.raises(KeyboardInterrupt):
        runs.train(runs.RunConfig(**SMALL), out=out, callbacks=[StopAt(13)])  # 12 steps: one epoch and 1 step
    with pytest.raises(ValueError, match=r"has already trained 12 steps \(11 per epoch\), more than --epochs 1 asks "
                                         r"for; resume it with --epochs 2 or more"):
        runs.train(runs.RunConfig(**{**SMALL, "epochs": 1}), out=out)
    result = runs.train(runs.RunConfig(**{**SMALL, "epochs": 2}), out=out)  # fewer than first asked, enough
    assert result.metrics["epochs"] == 2 and [r["epoch"] for r in history(out)] == ["0", "1"]


def test_foreign_directory_is_refused_and_left_untouched(tmp_path):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "config.json").write_text('{"database": "production"}')
    (out / "history.csv").write_text("precious\n")
    with pytest.raises(ValueError, match=r"--out .*mine is a non-empty directory that is not a kspectral run "
                                         r"directory .*choose a new or empty directory"):
        runs.train(runs.RunConfig(**SMALL), out=out)
    assert (out / "config.json").read_text() == '{"database": "production"}'
    assert (out / "history.csv").read_text() == "precious\n"
    (out / "config.json").unlink()
    with pytest.raises(ValueError, match="not a kspectral run directory"):  # no config.json at all
        runs.train(runs.RunConfig(**SMALL), out=out)


def test_finished_run_is_never_overwritten_and_unwritable_out_names_the_option(tmp_path):
    out = tmp_path / "run"
    runs.train(runs.RunConfig(**{**SMALL, "epochs": 1}), out=out)
    before = (out / "metrics.json").read_text()
    with pytest.raises(ValueError, match="already holds a finished run; choose another --out"):
        runs.train(runs.RunConfig(**{**SMALL, "epochs": 1}), out=out)
    assert (out / "metrics.json").read_text() == before
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(ValueError, match=r"--out .*file/sub cannot be written .*choose a writable directory with "
                                         r"--out"):
        runs.train(runs.RunConfig(**{**SMALL, "epochs": 1}), out=blocker / "sub")


@pytest.mark.slow
def test_deterministic_repeat_runs_are_bit_identical(tmp_path):
    """--deterministic enables op determinism in its own process (it is process-wide)."""
    command = ["train", "--encoder", "mlp", "--projector", "64-64", "--epochs", "1", "--deterministic",
               "--set", "tensorboard=false", "--set", "baseline=none"]
    first = start(command + ["--out", str(tmp_path / "a")])
    second = start(command + ["--out", str(tmp_path / "b")])
    finish(first)
    finish(second)
    assert max_difference(tmp_path / "a", tmp_path / "b") == 0.0
    assert (tmp_path / "a" / "history.csv").read_text() == (tmp_path / "b" / "history.csv").read_text()
    assert json.loads((tmp_path / "a" / "config.json").read_text())["deterministic"] is True
