"""A method written as a user would write one (``user_method.py``: a tiny MoCo with a momentum teacher of its
encoder and projector and a queue of negatives) trains, saves and loads with its state, resumes bit-exactly after a
SIGKILL through ``kspectral train``'s checkpoints, and trains on 2 replicas as on one device."""

import csv
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf

from kspectral.encoders import build_encoder
from kspectral.runs.checkpoints import committed
from user_method import NAME, ToyMoCo

SCRIPTS = Path(__file__).parent / "scripts"
ROOT = Path(__file__).resolve().parents[1]
BATCH, QUEUE, BASE_TAU, TOTAL = 16, 64, 0.8, 4


def _model(seed=0):
    keras.utils.set_random_seed(seed)
    model = ToyMoCo(build_encoder("mlp", (8, 8, 1), "16"), projector="16-8", queue_size=QUEUE, base_tau=BASE_TAU,
                    total_steps=TOTAL, diagnostics=False)
    model.compile(optimizer=keras.optimizers.SGD(0.5))
    model.build((None, 8, 8, 1))
    return model


def _batches(digits_data, steps):
    rng = np.random.default_rng(0)
    x = digits_data.x_train[: steps * BATCH].astype("float32")
    a = x + 0.2 * rng.normal(size=x.shape).astype("float32")
    b = x + 0.2 * rng.normal(size=x.shape).astype("float32")
    return a, b, tf.data.Dataset.from_tensor_slices((a, b)).batch(BATCH)


def _tau(step):
    """τ(k) = 1 − (1 − τ_base)(cos(πk/K) + 1)/2, written out (BYOL §3.2)."""
    return 1.0 - (1.0 - BASE_TAU) * (math.cos(math.pi * step / TOTAL) + 1.0) / 2.0


def _online(model):
    return [v.numpy().copy() for v in model.encoder.trainable_weights + model.projector.trainable_weights]


def _queue_state(model):
    return model.queue.rows.numpy().copy(), int(model.queue.position.numpy()), int(model.queue.filled.numpy())


@pytest.fixture(scope="module")
def trained(digits_data):
    """``ToyMoCo`` after 2 SGD steps, the online weights after each step, its initial queue, the first batch."""
    a, b, data = _batches(digits_data, 2)
    model = _model()
    initial_online = _online(model)
    initial_queue = model.queue.rows.numpy().copy()
    after_steps = []

    class Record(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            after_steps.append(_online(model))

    history = model.fit(data, epochs=1, verbose=0, callbacks=[Record()]).history
    return model, history, initial_online, after_steps, initial_queue, (a[:BATCH], b[:BATCH])


def test_it_trains_and_its_teacher_is_the_ema_of_the_online_networks_on_the_tau_schedule(trained):
    model, history, initial, after_steps, _, _ = trained
    assert len(after_steps) == 2 and np.isfinite(history["loss"][0]) and history["loss"][0] > 0
    expected = initial  # the teacher starts equal to the online networks
    for step, online in enumerate(after_steps):
        expected = [_tau(step) * t + (1.0 - _tau(step)) * o for t, o in zip(expected, online)]
    teacher = [v.numpy() for v in model.teacher.trainable_weights]
    assert len(teacher) == len(expected)
    for t, e in zip(teacher, expected):
        np.testing.assert_allclose(t, e, rtol=1e-5, atol=1e-7)
    moved = max(float(np.max(np.abs(o - i))) for o, i in zip(after_steps[-1], initial))
    lag = max(float(np.max(np.abs(t - o))) for t, o in zip(teacher, after_steps[-1]))
    assert moved > 1e-3 and lag > 1e-4  # the online networks moved, the teacher lags them
    # the teacher is not trained by the optimizer
    assert not {id(v) for v in model.teacher.weights} & {id(v) for v in model.trainable_variables}


def test_the_queue_holds_the_teachers_keys_of_the_second_view_newest_last(trained):
    model, _, _, _, initial_queue, (_, view_b) = trained
    rows, position, filled = _queue_state(model)
    assert (position, filled) == (2 * BATCH, 2 * BATCH)
    fresh = _model()  # the same initialisation: its teacher is the one of the first step
    keys = keras.ops.convert_to_numpy(fresh.teacher(view_b, training=True))
    keys = keys / np.linalg.norm(keys, axis=1, keepdims=True)
    np.testing.assert_allclose(rows[:BATCH], keys, atol=1e-6)  # the first step's keys, normalised
    np.testing.assert_allclose(np.linalg.norm(rows[BATCH:2 * BATCH], axis=1), 1.0, rtol=1e-6)
    assert float(np.max(np.abs(rows[BATCH:2 * BATCH] - rows[:BATCH]))) > 1e-3  # the second step's keys
    np.testing.assert_array_equal(rows[2 * BATCH:], initial_queue[2 * BATCH:])  # not yet overwritten


def test_it_saves_and_loads_with_its_teacher_queue_and_optimizer_state(trained, digits_data, tmp_path):
    model, _, _, _, _, (view_a, _) = trained
    model.save(tmp_path / "toy.keras")
    loaded = keras.models.load_model(tmp_path / "toy.keras", safe_mode=True)
    assert type(loaded) is ToyMoCo and loaded.get_config()["queue_size"] == QUEUE
    assert [v.shape for v in loaded.weights] == [v.shape for v in model.weights]
    for a, b in zip(model.get_weights(), loaded.get_weights()):
        np.testing.assert_array_equal(a, b)
    rows, position, filled = _queue_state(loaded)
    np.testing.assert_array_equal(rows, _queue_state(model)[0])
    assert (position, filled) == _queue_state(model)[1:]
    np.testing.assert_array_equal(loaded.embed(view_a).numpy(), model.embed(view_a).numpy())
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(loaded.teacher(view_a)),
                                  keras.ops.convert_to_numpy(model.teacher(view_a)))
    assert int(loaded.optimizer.iterations.numpy()) == 2
    # one more step on each: the same step (the schedule's τ(2), the queue's write position, the optimizer state)
    _, _, data = _batches(digits_data, 3)
    third = data.skip(2)
    model.fit(third, epochs=1, verbose=0)
    loaded.fit(third, epochs=1, verbose=0)
    for a, b in zip(model.get_weights(), loaded.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert _queue_state(loaded)[1:] == (3 * BATCH, 3 * BATCH)


# ------------------------------------------------------------------ through `kspectral train`, in child processes
#: 2 epochs of 4 steps, a checkpoint every 2 steps; the kill after step 7 leaves the checkpoint of step 6 (epoch 1,
#: batch 2), and step 7 is done again on resume
RUN = ["train", "--method", NAME, "--epochs", "2", "--steps-per-epoch", "4", "--batch-size", "64",
       "--projector", "32-16", "--set", "encoder_widths=32", "--checkpoint-every", "2", "--set", "baseline=none",
       "--set", "tensorboard=false", "--set", "online_probe=false", "--set", "method_options.queue_size=128",
       "--set", "method_options.total_steps=8", "--set", "method_options.base_tau=0.9"]


def _launch(out, kill_at=None):
    """``kspectral train RUN --out OUT`` with ``toy_moco`` registered, killed after step ``kill_at`` (if given)."""
    command = [sys.executable, str(SCRIPTS / "kspectral_killed_at.py"), "--call", "user_method:register",
               *(["--kill-at-step", str(kill_at)] if kill_at is not None else []), "--", *RUN, "--out", str(out)]
    return subprocess.Popen(command, cwd=ROOT, env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _finish(process):
    out, err = process.communicate(timeout=300)
    assert process.returncode == 0, err[-3000:]
    return out


def _history(run):
    with open(run / "history.csv") as f:
        return list(csv.DictReader(f))


def test_killed_by_sigkill_after_step_7_it_resumes_bit_exactly_through_kspectral_train(tmp_path):
    reference = _launch(tmp_path / "reference")
    killed = _launch(tmp_path / "killed", kill_at=7)
    out, err = killed.communicate(timeout=300)
    assert killed.returncode == -9 and "killing at step 7" in out, err[-3000:]
    assert not (tmp_path / "killed" / "model.keras").exists()
    newest = json.loads(committed(tmp_path / "killed" / "backup")[0].read_text())
    assert (newest["step"], newest["epoch"], newest["batch"]) == (6, 1, 2)
    resumed = _finish(_launch(tmp_path / "killed"))
    assert "resuming from the checkpoint of step 6 (epoch 1, batch 2)" in resumed
    _finish(reference)
    a = keras.models.load_model(tmp_path / "reference" / "model.keras")
    b = keras.models.load_model(tmp_path / "killed" / "model.keras")
    assert type(a) is ToyMoCo and int(a.optimizer.iterations.numpy()) == int(b.optimizer.iterations.numpy()) == 8
    for x, y in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_array_equal(x, y)  # online, teacher and queue: bit-identical
    rows, position, filled = _queue_state(b)
    np.testing.assert_array_equal(rows, _queue_state(a)[0])
    assert (position, filled) == _queue_state(a)[1:] == (0, 128)  # 8 steps of 64 keys in a queue of 128
    assert _history(tmp_path / "reference") == _history(tmp_path / "killed")
    metrics = json.loads((tmp_path / "killed" / "metrics.json").read_text())
    assert metrics["resumed"] and metrics["method"] == NAME and np.isfinite(metrics["final_train_metrics"]["loss"])


def test_two_replicas_equal_one_device():
    """2 logical CPUs under MirroredStrategy, every BatchNorm synchronised: the per-step losses, the online and teacher
    weights and the queue equal one device's with the same global batch of 32."""
    proc = subprocess.run([sys.executable, str(SCRIPTS / "user_method_replicas.py")], capture_output=True, text=True,
                          timeout=300, cwd=ROOT, env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"))
    assert proc.returncode == 0, proc.stderr[-3000:]
    r = json.loads([line for line in proc.stdout.splitlines() if line.startswith("{")][-1])
    assert r["replicas"] == 2 and len(r["loss_1"]) == 4
    np.testing.assert_allclose(r["loss_2"], r["loss_1"], rtol=1e-6)
    assert r["moved"] > 1e-2 and r["teacher_moved"] > 1e-2  # the steps moved both ...
    assert r["weight_diff"] < 1e-5 and r["teacher_diff"] < 1e-5 and r["queue_diff"] < 1e-5  # ... identically
    assert r["queue_state_1"] == r["queue_state_2"] == [0, 64]  # 4 steps of 32 keys around a queue of 64
