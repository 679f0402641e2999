"""Multi-replica training: synchronised BatchNorm, global-batch objectives, strategies, mixed precision.

The replica tests run in subprocesses (logical CPU devices and MultiWorkerMirroredStrategy must be configured before
TensorFlow initialises): ``scripts/replica_equivalence.py`` trains every canonical method on 1 device and on 2
replicas (2 logical CPUs) in one process, ``scripts/multiworker_equivalence.py`` is one of two workers on loopback.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf

from process_helpers import free_ports

from kspectral import distribute, methods
from kspectral.encoders import build_encoder, resnet_encoder
from kspectral.methods.base import batchnorm_layers

SCRIPTS = Path(__file__).parent / "scripts"
ROOT = Path(__file__).resolve().parents[1]
UNSYNCED = ("vicreg",)
PROBED = ("vicreg", "simclr", "cissl", "dissl")
MULTIVIEW = ("vicreg", "simclr")  # 4 views of flat features and multi-crop on the device  # the online probe's equivalence, on a subset to save tracing time


def _json_lines(text):
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


@pytest.fixture(scope="module")
def replica_runs():
    """One subprocess: every canonical method with sync_batchnorm="all", two with "none", and a save/load check."""
    proc = subprocess.run(
        [sys.executable, str(SCRIPTS / "replica_equivalence.py"), "--methods", ",".join(methods.canonical_names()),
         "--unsynced", ",".join(UNSYNCED), "--probe", ",".join(PROBED), "--save-load",
         "--device-augment", "--multiview", ",".join(MULTIVIEW)],
        capture_output=True, text=True, timeout=600, cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = _json_lines(proc.stdout)
    runs = {(r["method"], r["sync"]): r for r in lines if "method" in r}
    extra = {key: r for r in lines for key in ("save_load", "device_augment", "multiview") if key in r}
    for r in runs.values():  # the per-method numbers, shown with pytest -s or on failure
        print(f"{r['method']:22s} sync={r['sync']:4s} max|Δw|={r['weight_diff']:.2e} moved={r['moved']:.2e} "
              f"loss={r['loss_1']} vs {r['loss_2']}")
    return runs, extra


@pytest.mark.slow
@pytest.mark.parametrize("method", methods.canonical_names())
def test_one_device_equals_two_replicas(replica_runs, method):
    """BatchNorm in the encoder and the heads, synchronised: 2 epochs of 2 steps on 2 replicas of batch 8 equal one
    device with batch 16 (weights, BatchNorm statistics, online probe, per-epoch losses)."""
    r = replica_runs[0][(method, "all")]
    assert r["moved"] > 1e-2  # the steps changed the weights ...
    assert r["weight_diff"] <= 1e-5 * max(1.0, r["weight_scale"])  # ... identically on 1 device and on 2 replicas
    np.testing.assert_allclose(r["loss_2"], r["loss_1"], rtol=1e-5, atol=1e-6)
    assert len(r["probe_1"]) == (2 if method in PROBED else 0)
    np.testing.assert_allclose(r["probe_2"], r["probe_1"], atol=1e-6)


@pytest.mark.slow
@pytest.mark.parametrize("method", UNSYNCED)
def test_per_replica_batchnorm_differs(replica_runs, method):
    """The same comparison with per-replica BatchNorm statistics (sync_batchnorm="none") fails by far."""
    r = replica_runs[0][(method, "none")]
    assert r["weight_diff"] > 1e-2
    assert abs(r["loss_2"][-1] - r["loss_1"][-1]) > 1e-2 * abs(r["loss_1"][-1])


@pytest.mark.slow
def test_model_trained_on_two_replicas_loads_on_one_device(replica_runs):
    result = replica_runs[1]["save_load"]
    assert result["synchronized"] and all(result["synchronized"])  # saved as synchronised ...
    assert result["save_load"] <= 1e-6  # ... and the same embeddings on one device


@pytest.mark.slow
def test_device_augmentation_draws_the_global_batch_views(replica_runs):
    """augment_on = "device": every replica augments the gathered global batch and keeps its rows, so 2 replicas
    draw the views one device draws (also for an uneven last batch)."""
    result = replica_runs[1]["device_augment"]
    assert result["device_augment"] <= 1e-5
    np.testing.assert_allclose(result["loss_2"], result["loss_1"], rtol=1e-5)


@pytest.mark.slow
@pytest.mark.parametrize("run", [*MULTIVIEW, *(f"{m} multicrop" for m in MULTIVIEW)])
def test_more_than_two_views_on_two_replicas_equal_one_device(replica_runs, run):
    """4 views of flat features (SimCLR: the multi-positive loss over the global batch), and multi-crop views of two
    sizes drawn on the device: 2 replicas of batch 8 take one device's steps on batch 16.

    Measured: flat features max |Δw| 5e-7 (VICReg) and 2e-7 (SimCLR); multi-crop max |Δw| 1.1e-5 (VICReg, whose
    weights moved 1.08: 1e-5 of it) and 3.7e-6 (SimCLR, moved 0.16), per-epoch losses equal to 1e-7 with the views
    drawn from the augmenters' running states and to 5.5e-6 (SimCLR's second epoch) with the views of step t drawn
    from (seed, t): the same views, whose rounding differences (gradients summed in another order) grow differently
    along the run. Multi-crop losses are compared at rtol 1e-5, as the device augmentation's two-view runs."""
    result = replica_runs[1]["multiview"]
    first, second = result["losses"][run]
    np.testing.assert_allclose(first, second, rtol=1e-5 if run.endswith("multicrop") else 1e-6)
    if run.endswith("multicrop"):
        assert result["multiview"][run] < 1e-4 * result["multiview"][f"{run} moved"], result
    else:
        assert result["multiview"][run] < 1e-5, result


@pytest.mark.slow
def test_multiworker_loopback_equals_one_device():
    """Two worker processes (MultiWorkerMirroredStrategy over gRPC on localhost, one CPU replica each) train like one
    device on the same global batches."""
    workers = [f"localhost:{p}" for p in free_ports(2)]
    procs = []
    for index in range(2):
        env = dict(os.environ, TF_CONFIG=json.dumps({"cluster": {"worker": workers},
                                                     "task": {"type": "worker", "index": index}}))
        procs.append(subprocess.Popen([sys.executable, str(SCRIPTS / "multiworker_equivalence.py"), "vicreg"],
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT))
    outputs = []
    try:
        for proc in procs:
            out, err = proc.communicate(timeout=300)
            assert proc.returncode == 0, err[-3000:]
            outputs.append(_json_lines(out))
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
    for index, (r,) in enumerate(outputs):
        assert (r["worker"], r["chief"], r["replicas"]) == (index, index == 0, 2)
        assert r["moved"] > 1e-2
        assert r["weight_diff"] <= 1e-5
        np.testing.assert_allclose(r["loss_2"], r["loss_1"], rtol=1e-5)


# ---------------------------------------------------------------------------------------------- make_strategy


def test_make_strategy_one_and_auto():
    assert distribute.replicas(distribute.make_strategy("one")) == 1
    assert isinstance(distribute.make_strategy("one"), tf.distribute.OneDeviceStrategy)
    if not tf.config.list_physical_devices("GPU"):
        assert distribute.make_strategy("auto") is tf.distribute.get_strategy()  # the default strategy
    assert distribute.replicas() == 1
    assert distribute.is_chief(distribute.make_strategy("one"))


@pytest.mark.parametrize("name, cpu_devices, message", [
    ("ring", None, "unknown strategy 'ring'; choose one of: auto, one, mirrored, multiworker, tpu"),
    ("one", 2, "drop --cpu-devices with --strategy one"),
    ("multiworker", 4, "drop --cpu-devices with --strategy multiworker"),
    ("mirrored", 0, "cpu_devices must be a positive integer, got 0"),
])
def test_make_strategy_rejects_bad_arguments(name, cpu_devices, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        distribute.make_strategy(name, cpu_devices=cpu_devices)


@pytest.mark.skipif(bool(tf.config.list_physical_devices("GPU")), reason="the machine has a GPU to mirror over")
def test_mirrored_without_gpu_needs_cpu_devices():
    with pytest.raises(ValueError, match="found no GPU and one CPU device: pass --cpu-devices N"):
        distribute.make_strategy("mirrored")


def test_cpu_layout_is_fixed_once_tensorflow_runs():
    tf.constant(1.0)  # TensorFlow is initialised (with one logical CPU in this process)
    assert len(distribute.configure_cpu_devices(1)) == 1  # the same layout: a no-op
    with pytest.raises(ValueError, match="already initialised with 1, and its device layout cannot change after "
                                         "initialisation; call configure_cpu_devices before any TensorFlow operation"):
        distribute.configure_cpu_devices(3)


@pytest.mark.parametrize("tf_config, message", [
    (None, "strategy 'multiworker' needs the TF_CONFIG environment variable"),
    ("{not json", "TF_CONFIG is not valid JSON"),
    ('{"cluster": {"worker": []}, "task": {"type": "worker", "index": 0}}', "TF_CONFIG needs cluster.worker"),
    ('{"cluster": {"worker": ["localhost:1", "localhost:2"]}}', "TF_CONFIG needs task"),
    ('{"cluster": {"worker": ["localhost:1"]}, "task": {"type": "worker", "index": 1}}',
     "task index 1 is outside cluster.worker"),
])
def test_multiworker_needs_a_valid_tf_config(monkeypatch, tf_config, message):
    if tf_config is None:
        monkeypatch.delenv("TF_CONFIG", raising=False)
    else:
        monkeypatch.setenv("TF_CONFIG", tf_config)
    with pytest.raises(ValueError, match=message):
        distribute.make_strategy("multiworker")


def test_tpu_strategy_without_tpu():
    with pytest.raises(ValueError, match=r"no TPU found \(.*\); use --strategy auto"):
        distribute.make_strategy("tpu")


# ---------------------------------------------------------------------------------------------- sync_batchnorm


def _bn_encoder(synchronized=False):
    return keras.Sequential([keras.Input((6,)), keras.layers.Dense(8, use_bias=False),
                             keras.layers.BatchNormalization(synchronized=synchronized), keras.layers.ReLU()])


def _flags(layer):
    return [bn.synchronized for bn in batchnorm_layers(layer)]


@pytest.mark.parametrize("sync, heads, encoder", [("heads", True, False), ("all", True, True), ("none", False, False)])
def test_sync_batchnorm_sets_the_layers(sync, heads, encoder):
    user_head = keras.Sequential([keras.layers.Dense(8, use_bias=False), keras.layers.BatchNormalization(),
                                  keras.layers.Dense(4)])
    models = [(methods.VICReg(_bn_encoder(), projector="8-8-4", sync_batchnorm=sync), 2),
              (methods.VICReg(_bn_encoder(), projector=user_head, sync_batchnorm=sync), 1),
              (methods.CISSL(_bn_encoder(), student_dim=4, teacher="8-4", sync_batchnorm=sync), 3),
              (methods.DISSL(_bn_encoder(), n_classes=4, teacher="8-4", student_bottleneck=4, sync_batchnorm=sync), 3)]
    for model, head_batchnorms in models:
        model.build((None, 6))
        head_flags = [f for layer in model.head_layers() for f in _flags(layer)]
        assert len(head_flags) == head_batchnorms
        assert head_flags == [heads] * len(head_flags)
        assert _flags(model.encoder) == [encoder]
        assert model.get_config()["sync_batchnorm"] == sync


def test_sync_batchnorm_heads_keeps_a_synchronised_encoder_and_none_clears_it():
    kept = methods.VICReg(_bn_encoder(synchronized=True), projector="8-4")
    kept.build((None, 6))
    assert _flags(kept.encoder) == [True]
    cleared = methods.VICReg(_bn_encoder(synchronized=True), projector="8-4", sync_batchnorm="none")
    cleared.build((None, 6))
    assert _flags(cleared.encoder) == [False] and _flags(cleared.projector) == [False]


def test_sync_batchnorm_rejects_other_values():
    with pytest.raises(ValueError, match="sync_batchnorm must be one of 'heads', 'all', 'none', got True"):
        methods.VICReg(_bn_encoder(), projector="8-4", sync_batchnorm=True)


def test_sync_batchnorm_saved_and_loaded(tmp_path):
    model = methods.SimCLR(_bn_encoder(), projector="8-4", sync_batchnorm="all")
    model.compile(optimizer="sgd")
    x = np.random.default_rng(0).normal(size=(8, 6)).astype("float32")
    model.fit(tf.data.Dataset.from_tensor_slices((x, x + 0.1)).batch(8), epochs=1, verbose=0)
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras")
    assert loaded.sync_batchnorm == "all"
    assert _flags(loaded) == [True, True]
    np.testing.assert_allclose(loaded.embed(x), model.embed(x), atol=1e-6)


def test_encoders_built_by_name_synchronise_their_batchnorm():
    for name, shape in (("mlp", (6,)), ("conv", (8, 8, 1)), ("resnet18", (8, 8, 1))):
        flags = _flags(build_encoder(name, shape, "4-4-4-4" if name == "resnet18" else "4"))
        assert flags and all(flags), name
    assert not any(_flags(build_encoder("mlp", (6,), "4", synchronized=False)))
    assert not any(_flags(resnet_encoder(18, (8, 8, 1), widths="4-4-4-4")))  # the function's default is unchanged


def test_synchronised_batchnorm_on_one_device_is_batchnorm():
    x = np.random.default_rng(0).normal(2.0, 3.0, size=(16, 5)).astype("float32")
    plain, synced = keras.layers.BatchNormalization(), keras.layers.BatchNormalization(synchronized=True)
    np.testing.assert_allclose(synced(x, training=True), plain(x, training=True), atol=1e-5)


# ---------------------------------------------------------------------------------------------- mixed precision


def _one_step_loss(policy):
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(policy)
    try:
        keras.utils.set_random_seed(0)
        model = methods.VICReg(_bn_encoder(), projector="8-8-4", online_probe_classes=2)
        model.compile(optimizer=keras.optimizers.SGD(0.01))
        rng = np.random.default_rng(0)
        x = rng.normal(size=(16, 6)).astype("float32")
        y = rng.integers(0, 2, size=16).astype("int32")
        outputs, terms, _, _ = model._terms((x, x + 0.1), training=False)
        history = model.fit(tf.data.Dataset.from_tensor_slices((x, x + 0.1, y)).batch(16), epochs=1, verbose=0)
        return model, outputs, terms, history.history["loss"][0]
    finally:
        keras.config.set_dtype_policy(previous)


def test_mixed_precision_steps_compute_the_loss_in_float32():
    _, _, _, reference = _one_step_loss("float32")
    for policy in ("mixed_bfloat16", "mixed_float16"):
        model, outputs, terms, loss = _one_step_loss(policy)
        assert model.compute_dtype == policy.split("_")[1]
        assert {keras.backend.standardize_dtype(v.dtype) for v in outputs.values()} == {"float32"}
        assert keras.backend.standardize_dtype(terms["loss"].dtype) == "float32"
        assert np.isfinite(loss) and abs(loss - reference) <= 1e-2 * abs(reference), (policy, loss, reference)
        if policy == "mixed_float16":  # Keras wraps the optimizer in dynamic loss scaling for float16
            assert isinstance(model.optimizer, keras.optimizers.LossScaleOptimizer)
