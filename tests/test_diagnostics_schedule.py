"""The training diagnostics' schedule: every epoch gets finite values, they are computed on the first batch of each
epoch and every ``diagnostics_every``-th batch after it, and they equal the per-batch functions on those batches."""

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf

from kspectral.methods import VICReg
from kspectral.methods.diagnostics import (
    DEFAULT_EVERY,
    DIAGNOSTICS,
    batch_diagnostics,
    diagnostics_due,
    scheduled_diagnostics,
)

ROOT = Path(__file__).resolve().parents[1]
N_BATCHES, BATCH, DIM = 7, 12, 6


def batches():
    """Seven batches whose embeddings have ranks 1, 2, ..., 6, 1: the diagnostics differ from batch to batch."""
    rng = np.random.default_rng(0)
    views = []
    for i in range(N_BATCHES):
        rank = 1 + i % DIM
        a = (rng.normal(size=(BATCH, rank)) @ rng.normal(size=(rank, DIM))).astype("float32")
        views.append((a, (a + 0.05 * rng.normal(size=a.shape)).astype("float32")))
    return views


def dataset():
    views = batches()
    return tf.data.Dataset.from_tensor_slices(
        (np.concatenate([a for a, _ in views]), np.concatenate([b for _, b in views]))
    ).batch(BATCH)


def frozen_model(compile_options=None, **kwargs):
    """A linear encoder, no projector, learning rate 0: the embeddings of a batch do not change during training."""
    keras.utils.set_random_seed(0)
    encoder = keras.Sequential([keras.Input((DIM,)), keras.layers.Dense(DIM)])
    model = VICReg(encoder=encoder, projector=None, **kwargs)
    model.compile(optimizer=keras.optimizers.SGD(0.0), **(compile_options or {}))
    return model


def expected(model, indices):
    """Mean of :func:`batch_diagnostics` over the given batches, on the model's (frozen) embeddings."""
    views = batches()
    values = [batch_diagnostics(model.embed(views[i][0], training=True)) for i in indices]
    return {name: float(np.mean([float(v[name]) for v in values])) for name in DIAGNOSTICS}


class BatchLogs(keras.callbacks.Callback):
    def on_train_begin(self, logs=None):
        self.logs = []

    def on_train_batch_end(self, batch, logs=None):
        self.logs.append({name: float(logs[name]) for name in DIAGNOSTICS})


# ------------------------------------------------------------------ the schedule's functions
def test_diagnostics_due_marks_every_nth_batch_from_the_first():
    due = [bool(diagnostics_due(float(i), 3)) for i in range(8)]
    assert due == [True, False, False, True, False, False, True, False]
    assert all(bool(diagnostics_due(i, 1)) for i in range(4))


def test_scheduled_diagnostics_equal_the_batch_functions_when_due_and_weigh_zero_otherwise(rng):
    z = rng.normal(size=(16, 5)).astype("float32")
    reference = {k: float(v) for k, v in batch_diagnostics(z).items()}
    for due in (True, tf.constant(True)):
        values, weight = scheduled_diagnostics(z, due)
        assert float(weight) == 1.0
        for name in DIAGNOSTICS:
            assert float(values[name]) == pytest.approx(reference[name], rel=1e-6)
    values, weight = scheduled_diagnostics(z, tf.constant(False))
    assert float(weight) == 0.0
    assert [float(values[name]) for name in DIAGNOSTICS] == [0.0] * 4
    graph = tf.function(scheduled_diagnostics)
    values, weight = graph(z, tf.constant(True))
    assert float(values["rankme"]) == pytest.approx(reference["rankme"], rel=1e-6)
    from kspectral.spectral import rankme as numpy_rankme

    assert reference["rankme"] == pytest.approx(numpy_rankme(z), rel=1e-5)  # the numpy (scikit-side) RankMe


# ------------------------------------------------------------------ in fit() and evaluate()
@pytest.mark.parametrize("every", [1, 3, DEFAULT_EVERY])
def test_history_holds_the_mean_over_the_scheduled_batches(every):
    model = frozen_model(diagnostics_every=every)
    logger = BatchLogs()
    history = model.fit(dataset(), epochs=2, verbose=0, shuffle=False, callbacks=[logger]).history
    scheduled = list(range(0, N_BATCHES, every))
    want = expected(model, scheduled)
    for name in DIAGNOSTICS:
        assert len(history[name]) == 2
        assert np.all(np.isfinite(history[name]))
        np.testing.assert_allclose(history[name], [want[name]] * 2, rtol=2e-5, atol=1e-6, err_msg=name)
    # Between scheduled batches the running mean stays where the last scheduled batch left it.
    for epoch in range(2):
        logs = logger.logs[epoch * N_BATCHES : (epoch + 1) * N_BATCHES]
        for i in range(N_BATCHES):
            last = max(j for j in scheduled if j <= i)
            running = expected(model, [j for j in scheduled if j <= last])
            assert logs[i]["rankme"] == pytest.approx(running["rankme"], rel=2e-5), (every, epoch, i)


@pytest.mark.parametrize("options", [{"jit_compile": True}, {"steps_per_execution": 4}], ids=["xla", "multistep"])
def test_the_schedule_holds_under_xla_and_several_steps_per_execution(options):
    model = frozen_model(compile_options=options, diagnostics_every=3)
    history = model.fit(dataset(), epochs=2, verbose=0, shuffle=False).history
    want = expected(model, [0, 3, 6])
    for name in DIAGNOSTICS:
        np.testing.assert_allclose(history[name], [want[name]] * 2, rtol=2e-5, atol=1e-6, err_msg=name)


def test_the_schedule_changes_what_is_averaged():
    every_batch = frozen_model(diagnostics_every=1).fit(dataset(), epochs=1, verbose=0, shuffle=False).history
    first_only = frozen_model().fit(dataset(), epochs=1, verbose=0, shuffle=False).history
    assert every_batch["rankme"][0] > first_only["rankme"][0] + 0.5  # ranks 1..6 vs rank 1 alone


def test_every_epoch_gets_finite_values_when_epochs_are_shorter_than_the_cadence(digits_data):
    from kspectral.data import augmented_pairs, digits_augmenter
    from kspectral.encoders import mlp_encoder

    keras.utils.set_random_seed(0)
    model = VICReg(encoder=mlp_encoder((8, 8, 1), "32"), projector="32-32")
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    pairs = augmented_pairs(digits_data.x_train, digits_augmenter(), batch_size=128, seed=0).take(3)
    history = model.fit(pairs, epochs=3, verbose=0, shuffle=False).history
    for name in DIAGNOSTICS:
        assert len(history[name]) == 3 and np.all(np.isfinite(history[name])), name
    assert np.all(np.asarray(history["rankme"]) > 1.0)
    assert np.all(np.asarray(history["embedding_std"]) > 0.0)


def test_diagnostics_off_leave_the_history():
    history = frozen_model(diagnostics=False).fit(dataset(), epochs=1, verbose=0).history
    assert not set(DIAGNOSTICS) & set(history)
    assert "loss" in history


def test_csv_logger_and_validation_see_the_diagnostics(tmp_path):
    model = frozen_model(diagnostics_every=4)
    path = tmp_path / "log.csv"
    history = model.fit(dataset(), validation_data=dataset(), epochs=2, verbose=0, shuffle=False,
                        callbacks=[keras.callbacks.CSVLogger(str(path))]).history
    header, *rows = path.read_text().splitlines()
    columns = header.split(",")
    for name in DIAGNOSTICS:
        assert name in columns and f"val_{name}" in columns
        column = [float(r.split(",")[columns.index(name)]) for r in rows]
        np.testing.assert_allclose(column, history[name], rtol=1e-6)
    # validation follows the same schedule: batches 0 and 4 of the validation set
    want = expected(model, [0, 4])
    np.testing.assert_allclose(history["val_rankme"], [want["rankme"]] * 2, rtol=2e-5)
    result = model.evaluate(dataset(), verbose=0, return_dict=True)
    assert result["rankme"] == pytest.approx(want["rankme"], rel=2e-5)


def test_diagnostics_config_round_trips(tmp_path):
    model = frozen_model(diagnostics_every=7)
    model.fit(dataset(), epochs=1, verbose=0)
    config = model.get_config()
    assert config["diagnostics"] is True and config["diagnostics_every"] == 7
    assert VICReg.from_config(config).diagnostics_every == 7
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    assert (loaded.diagnostics, loaded.diagnostics_every) == (True, 7)
    assert frozen_model().diagnostics_every == DEFAULT_EVERY
    assert VICReg.from_config(frozen_model(diagnostics=False).get_config()).diagnostics is False


def test_bad_diagnostics_arguments_are_refused():
    encoder = keras.Sequential([keras.Input((DIM,)), keras.layers.Dense(DIM)])
    with pytest.raises(TypeError, match="diagnostics_every=N"):
        VICReg(encoder=encoder, projector=None, diagnostics="step")
    with pytest.raises(ValueError, match="diagnostics_every must be at least 1"):
        VICReg(encoder=encoder, projector=None, diagnostics_every=0)
    with pytest.raises(TypeError, match="diagnostics_every must be an integer"):
        VICReg(encoder=encoder, projector=None, diagnostics_every=2.5)


# ------------------------------------------------------------------ the benchmark script
def test_trainer_overhead_benchmark_runs_quick(tmp_path):
    spec = importlib.util.spec_from_file_location("trainer_overhead", ROOT / "benchmarks" / "trainer_overhead.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    out = tmp_path / "bench.json"
    assert bench.main(["--quick", "--out", str(out)]) == 0
    result = json.loads(out.read_text())
    assert result["quick"] is True and set(result["presets"]) == {"mlp", "convnet"}
    for preset in result["presets"].values():
        assert set(preset["ratio_median"]) == {"fit[default]", "fit[step]", "fit[none]"}
        assert all(np.isfinite(r) and r > 0 for r in preset["ratio_median"].values())
        assert set(preset["cpu_ratio_median"]) == set(preset["ratio_median"])
        assert preset["diagnostics_logged"]["default"] == sorted(DIAGNOSTICS)
        assert preset["diagnostics_logged"]["none"] == []
    with pytest.raises(SystemExit):
        bench.main(["--quick", "--presets", "resnet", "--out", str(out)])


# ------------------------------------------------------------------ under tf.distribute
@pytest.mark.slow
def test_diagnostics_on_two_replicas_equal_one_device():
    script = ROOT / "tests" / "scripts" / "diagnostics_replicas.py"
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["replicas"] == 2
    for name in DIAGNOSTICS:
        one, two = np.asarray(result["one"][name]), np.asarray(result["two"][name])
        assert one.shape == (2,) and np.all(np.isfinite(one))
        np.testing.assert_allclose(two, one, rtol=1e-4, atol=1e-6, err_msg=name)
