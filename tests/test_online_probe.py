"""Labels in the pair pipelines, views drawn on the device, the online linear probe and the OnlineProbeMonitor."""

import csv
import math
import warnings

import keras
import numpy as np
import pytest
import tensorflow as tf

from kspectral.callbacks import OnlineProbeMonitor, online_probe_top1
from kspectral.data import augmented_pairs, augmenter, digits_augmenter, graph_pairs
from kspectral.data.pairs import image_batches
from kspectral.methods import CISSL, VICReg, SimCLR
from kspectral.probes import knn_probe
from kspectral.spectral import label_graph


def tiny_encoder(shape=(8, 8, 1), width=32):
    return keras.Sequential([keras.Input(shape), keras.layers.Flatten(),
                             keras.layers.Dense(width, activation="relu")])


def indexed_images(n, side=4):
    """Images whose every pixel is ``i / n``: a batch tells which samples it holds."""
    return np.repeat((np.arange(n, dtype=np.float32) / n)[:, None, None, None], side * side, axis=1).reshape(
        n, side, side, 1)


def indices(batch, n):
    return np.rint(np.asarray(batch)[:, 0, 0, 0] * n).astype(int)


# ---------------------------------------------------------------------------------------------- pipelines
def test_pipelines_yield_the_labels_of_their_samples():
    n = 40
    x, labels = indexed_images(n), np.arange(n) % 5 - 1  # class −1 = unlabelled
    identity = keras.layers.Identity()
    a, b, y = next(iter(augmented_pairs(x, identity, batch_size=16, seed=3, labels=labels)))
    assert y.dtype == tf.int64 and tuple(y.shape) == (16,)
    np.testing.assert_array_equal(labels[indices(a, n)], y.numpy())
    np.testing.assert_array_equal(indices(a, n), indices(b, n))
    assert sorted(indices(a, n)) != list(range(16))  # shuffled

    images, y = next(iter(image_batches(x, 16, labels=labels, seed=3)))
    assert images.dtype == tf.float32
    np.testing.assert_array_equal(labels[indices(images, n)], y.numpy())
    np.testing.assert_array_equal(indices(images, n), indices(a, n))  # same seed, same order
    assert tuple(next(iter(image_batches(x, 16))).shape) == (16, 4, 4, 1)  # no labels: images only

    graph = label_graph(np.arange(n) % 4)
    ga, gb, gy = next(iter(graph_pairs(x, graph, batch_size=32, seed=0, labels=labels)))
    np.testing.assert_array_equal(labels[indices(ga, n)], gy.numpy())
    np.testing.assert_array_equal(indices(ga, n) % 4, indices(gb, n) % 4)  # pairs share their class


def test_augmented_pairs_streams_a_dataset_with_the_same_seeding():
    n = 40
    x, labels = indexed_images(n), np.arange(n) % 3
    stream = tf.data.Dataset.from_tensor_slices((x, labels))
    first = [indices(b[0], n).tolist() for b in augmented_pairs(stream, keras.layers.Identity(), 8, seed=1)]
    again = [indices(b[0], n).tolist() for b in augmented_pairs(stream, keras.layers.Identity(), 8, seed=1)]
    other = [indices(b[0], n).tolist() for b in augmented_pairs(stream, keras.layers.Identity(), 8, seed=2)]
    assert first == again != other and len(first) == 5
    a, b, y = next(iter(augmented_pairs(stream, keras.layers.Identity(), 8, seed=1)))
    np.testing.assert_array_equal(labels[indices(a, n)], y.numpy())
    views = next(iter(augmented_pairs(tf.data.Dataset.from_tensor_slices(x), keras.layers.Identity(), 8)))
    assert len(views) == 2  # images only: no labels
    uint8 = tf.data.Dataset.from_tensor_slices(np.zeros((8, 4, 4, 1), np.uint8))
    assert next(iter(image_batches(uint8, 4))).dtype == tf.float32


def test_pipeline_label_errors():
    x = indexed_images(10)
    with pytest.raises(ValueError, match="−1 for unlabelled"):
        augmented_pairs(x, keras.layers.Identity(), 4, labels=np.full(10, -2))
    with pytest.raises(ValueError, match="10 labels but there are"):
        image_batches(x[:8], 4, labels=np.zeros(10, int))
    with pytest.raises(TypeError, match="integer class indices"):
        image_batches(x, 4, labels=np.array(list("abcdeabcde")))
    with pytest.raises(ValueError, match="brings its own labels"):
        image_batches(tf.data.Dataset.from_tensor_slices(x), 4, labels=np.zeros(10, int))
    with pytest.raises(ValueError, match="larger than the 10"):
        image_batches(tf.data.Dataset.from_tensor_slices(x), 16)
    with pytest.raises(ValueError, match="infinite"):
        image_batches(tf.data.Dataset.from_tensor_slices(x).repeat(), 4)
    with pytest.raises(ValueError, match="scalar integer label"):
        image_batches(tf.data.Dataset.from_tensor_slices((x, np.zeros(10, np.float32))), 4)


# ---------------------------------------------------------------------------------------------- device views
def device_model(seed, probe=None, optimizer=None):
    keras.utils.set_random_seed(seed)
    model = VICReg(encoder=tiny_encoder(), projector="32-16", augmenters=digits_augmenter(seed=seed),
                   online_probe_classes=probe, online_probe_optimizer=optimizer)
    model.compile(optimizer="adam")
    return model


def test_device_augmentation_trains_reproducibly(digits_data):
    x, y = digits_data.x_train, digits_data.y_train
    histories, models = [], []
    for _ in range(2):
        model = device_model(0)
        histories.append(model.fit(image_batches(x, 128, labels=y, seed=0), epochs=2, verbose=0).history)
        models.append(model)
    assert histories[0]["loss"] == histories[1]["loss"] and histories[0]["loss"][1] < histories[0]["loss"][0]
    for a, b in zip(models[0].weights, models[1].weights):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    # each call draws new views; the two views of a batch differ
    view_a, view_b = models[0].augment(x[:64])
    again_a, _ = models[0].augment(x[:64])
    assert float(np.mean(np.abs(view_a - view_b))) > 0.02 and float(np.mean(np.abs(view_a - again_a))) > 0.02
    # plain images (no labels) train too
    model = device_model(1)
    assert math.isfinite(model.fit(image_batches(x, 128), epochs=1, verbose=0).history["loss"][0])


def test_device_views_equal_the_data_pipeline_views():
    x = np.random.default_rng(0).uniform(size=(16, 12, 12, 3)).astype("float32")
    a, b = next(iter(augmented_pairs(x, augmenter("byol", image_size=12, seed=3), batch_size=16, shuffle=False)))
    model = VICReg(encoder=tiny_encoder((12, 12, 3)), projector="8", augmenters=augmenter("byol", image_size=12,
                                                                                          seed=3))
    device_a, device_b = model.augment(x)
    np.testing.assert_allclose(device_a, a.numpy(), atol=1e-6)
    np.testing.assert_allclose(device_b, b.numpy(), atol=1e-6)
    assert float(np.mean(np.abs(device_a - device_b))) > 0.01  # BYOL's two view distributions


def test_device_views_of_step_t_are_the_stream_batch_t():
    """One seeding rule: the device views of train step t are the views the resumable tf.data stream draws for its
    batch t of the same images (each augmenter re-seeded to [seed, 64·t]), whatever was drawn before."""
    x = np.random.default_rng(1).uniform(size=(24, 12, 12, 3)).astype("float32")
    stream = augmented_pairs(x, augmenter("byol", image_size=12, seed=5), batch_size=8, shuffle=False,
                             drop_remainder=True, start_step=0)
    batches = [next(it) for it in [iter(stream)] for _ in range(5)]
    model = VICReg(encoder=tiny_encoder((12, 12, 3)), projector="8", augmenters=augmenter("byol", image_size=12,
                                                                                          seed=5))
    model.augment(x[:8])  # draws that a stateful stream would carry into the next batch
    for t in (4, 1):
        rows = x[(t % 3) * 8 : (t % 3 + 1) * 8]  # unshuffled: batch t holds the (t mod 3)-th 8 images
        device = model.augment(rows, step=tf.constant(t, tf.int64))
        for got, want in zip(device, batches[t][:2]):
            np.testing.assert_allclose(got, want.numpy(), atol=1e-6)
    first, second = model.augment(x[:8], step=0), model.augment(x[:8], step=3)
    assert float(np.mean(np.abs(first[0] - second[0]))) > 0.01  # another step, other views


def test_device_model_refuses_pairs(digits_data):
    model = device_model(0)
    pairs = augmented_pairs(digits_data.x_train, digits_augmenter(), batch_size=64)
    with pytest.raises(ValueError, match="draws its views itself"):
        model.fit(pairs, epochs=1, verbose=0)


# ---------------------------------------------------------------------------------------------- online probe
@pytest.mark.parametrize("method", [VICReg, SimCLR, CISSL])
def test_online_probe_leaves_the_backbone_unchanged(method, digits_data):
    def train(probe):
        keras.utils.set_random_seed(4)
        model = method(encoder=tiny_encoder(), online_probe_classes=10 if probe else None,
                       **({} if method is CISSL else {"projector": "32-16"}))
        model.compile(optimizer="adam")
        # 4 whole batches rather than .take(4): prefetching draws views ahead, by a number of batches that varies
        pairs = augmented_pairs(digits_data.x_train[:512], digits_augmenter(seed=2), batch_size=128, seed=0,
                                labels=digits_data.y_train[:512] if probe else None)
        return model, model.fit(pairs, epochs=2, verbose=0).history

    with_probe, history = train(True)
    without, plain = train(False)
    assert with_probe.trainable_variables and len(with_probe.trainable_variables) == len(without.trainable_variables)
    for a, b in zip(with_probe.trainable_variables, without.trainable_variables):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert history["loss"] == plain["loss"]
    assert float(np.max(np.abs(with_probe.online_probe.kernel.numpy()))) > 0  # the probe trained
    assert with_probe.online_probe_optimizer.iterations.numpy() == 8


def test_online_probe_learns(digits_data):
    model = device_model(0, probe=10, optimizer=keras.optimizers.Adam(1e-2))
    history = model.fit(image_batches(digits_data.x_train, 128, labels=digits_data.y_train), epochs=4, verbose=0)
    top1 = history.history["online_linear_train_top1"]
    assert top1[-1] > max(0.3, top1[0])  # chance is 0.1 (the training views are noisy, augmented digits)
    assert online_probe_top1(model, digits_data.x_test, digits_data.y_test) > 0.4
    evaluated = model.evaluate(image_batches(digits_data.x_test, 60, labels=digits_data.y_test), verbose=0,
                               return_dict=True)
    assert evaluated["online_linear_train_top1"] > 0.25  # evaluate() scores the probe on the first views


def test_online_probe_ignores_unlabelled_rows(rng):
    def model():
        m = VICReg(encoder=tiny_encoder((6,), 12), projector="8", online_probe_classes=3)
        m.build((None, 6))
        return m

    h = rng.normal(size=(10, 12)).astype("float32")
    y = np.array([0, 1, 2, -1, -1, 1, 0, -1, 2, 2])
    keep = y >= 0
    full, labelled = model(), model()
    full.online_probe.update([tf.constant(h)], tf.constant(y))
    labelled.online_probe.update([tf.constant(h[keep])], tf.constant(y[keep]))
    np.testing.assert_allclose(full.online_probe.kernel.numpy(), labelled.online_probe.kernel.numpy(), atol=1e-7)
    assert float(np.max(np.abs(full.online_probe.kernel.numpy()))) > 0
    tracker = full.online_probe.accuracy
    assert tracker.name == "online_linear_train_top1" and float(tracker.count) == keep.sum()
    untouched = model()
    untouched.online_probe.update([tf.constant(h)], tf.constant(np.full(10, -1)))
    assert float(np.max(np.abs(untouched.online_probe.kernel.numpy()))) == 0.0


def test_online_probe_round_trips_through_keras_files(digits_data, tmp_path):
    model = device_model(0, probe=10, optimizer=keras.optimizers.SGD(0.05, momentum=0.9))
    fresh_views = device_model(0).augment(digits_data.x_test[:16])
    model.fit(image_batches(digits_data.x_train, 128, labels=digits_data.y_train), epochs=1, verbose=0)
    path = tmp_path / "probe.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    assert loaded.online_probe_classes == 10 and len(loaded.augmenters) == 1
    assert isinstance(loaded.online_probe_optimizer, keras.optimizers.SGD)
    assert loaded.online_probe_optimizer.get_config()["momentum"] == 0.9
    assert int(loaded.online_probe_optimizer.iterations.numpy()) == int(model.online_probe_optimizer.iterations)
    for a, b in zip(model.online_probe_optimizer.variables, loaded.online_probe_optimizer.variables):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # e.g. Keras' "Skipping variable loading for optimizer"
        uncompiled = keras.models.load_model(path, compile=False)
    assert int(uncompiled.online_probe_optimizer.iterations.numpy()) == int(model.online_probe_optimizer.iterations)
    x = digits_data.x_test[:32]
    np.testing.assert_allclose(loaded.online_probe(loaded.encode(x)).numpy(), model.online_probe(model.encode(x)),
                               rtol=1e-6, atol=1e-6)
    # the augmenters come back from their config: their random state restarts at their seed
    for fresh, restored in zip(fresh_views, loaded.augment(digits_data.x_test[:16])):
        np.testing.assert_array_equal(fresh, restored)
    history = loaded.fit(image_batches(digits_data.x_train, 128, labels=digits_data.y_train), epochs=1, verbose=0)
    assert math.isfinite(history.history["online_linear_train_top1"][0])


def test_online_probe_and_augmenter_errors(digits_data):
    with pytest.raises(ValueError, match="at least 2"):
        VICReg(encoder=tiny_encoder(), online_probe_classes=1)
    with pytest.raises(ValueError, match="online_probe_classes"):
        VICReg(encoder=tiny_encoder(), online_probe_optimizer="adam")
    with pytest.raises(TypeError, match="Keras optimizer"):
        VICReg(encoder=tiny_encoder(), online_probe_classes=3, online_probe_optimizer=0.1)
    with pytest.raises(TypeError, match="kspectral.data.augmenter"):
        VICReg(encoder=tiny_encoder(), augmenters="cifar")
    with pytest.raises(ValueError, match="empty list"):
        VICReg(encoder=tiny_encoder(), augmenters=[])
    with pytest.raises(TypeError, match="augmenters\\[1\\]"):
        VICReg(encoder=tiny_encoder(), augmenters=[keras.layers.Identity(), lambda x: x])
    shared = keras.optimizers.Adam()
    model = VICReg(encoder=tiny_encoder(), projector="8", online_probe_classes=3, online_probe_optimizer=shared)
    with pytest.raises(ValueError, match="two optimizer objects"):
        model.compile(optimizer=shared)
    with pytest.raises(ValueError, match="has no augmenters"):
        model.augment(digits_data.x_train[:4])
    model.compile(optimizer="adam")
    pairs = augmented_pairs(digits_data.x_train, digits_augmenter(), 64, labels=digits_data.y_train).take(1)
    with pytest.raises(tf.errors.InvalidArgumentError, match="below online_probe_classes=3"):
        model.fit(pairs, epochs=1, verbose=0)
    unlabelled = augmented_pairs(digits_data.x_train, digits_augmenter(), 64).take(1)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        probe_model = VICReg(encoder=tiny_encoder(), projector="8", online_probe_classes=10)
        probe_model.compile(optimizer="adam")
        probe_model.fit(unlabelled, epochs=1, verbose=0)
    assert any("gets no labels" in str(w.message) for w in caught)


# ---------------------------------------------------------------------------------------------- monitor
def test_monitor_writes_into_history_and_a_later_csv_logger(digits_data, tmp_path):
    ds = digits_data
    model = device_model(0, probe=10, optimizer=keras.optimizers.Adam(1e-2))
    monitor = OnlineProbeMonitor(ds.x_train, ds.y_train, ds.x_test, ds.y_test, max_train=500, every=2)
    log = tmp_path / "log.csv"
    history = model.fit(image_batches(ds.x_train, 128, labels=ds.y_train), epochs=3, verbose=0,
                        callbacks=[monitor, keras.callbacks.CSVLogger(str(log))]).history
    linear, knn = history["online_linear_top1"], history["online_knn_top1"]
    assert math.isnan(linear[0]) and math.isnan(knn[0])  # every=2: epoch 1 skipped
    assert 0.3 < linear[1] <= 1.0 and 0.5 < knn[1] <= 1.0 and not math.isnan(knn[2])  # the last epoch is scored
    assert linear[2] == pytest.approx(online_probe_top1(model, ds.x_test, ds.y_test))
    bank = monitor.x_train, monitor.y_train
    assert len(bank[0]) == 500
    assert knn[2] == pytest.approx(knn_probe(model.encode(bank[0]), bank[1], model.encode(ds.x_test), ds.y_test))
    rows = list(csv.DictReader(open(log)))
    assert [float(r["online_knn_top1"]) for r in rows[1:]] == pytest.approx(knn[1:])
    assert float(rows[2]["online_linear_top1"]) == pytest.approx(linear[2])


def test_monitor_without_probe_head_and_errors(digits_data):
    ds = digits_data
    model = VICReg(encoder=tiny_encoder(), projector="16")
    model.compile(optimizer="adam")
    monitor = OnlineProbeMonitor(ds.x_train, ds.y_train, ds.x_test, ds.y_test, knn_preset="instdisc")
    history = model.fit(augmented_pairs(ds.x_train, digits_augmenter(), 128).take(2), epochs=1, verbose=0,
                        callbacks=[monitor]).history
    assert "online_linear_top1" not in history and 0.5 < history["online_knn_top1"][0] <= 1.0
    with pytest.raises(ValueError, match="unknown kNN preset"):
        OnlineProbeMonitor(ds.x_train, ds.y_train, ds.x_test, ds.y_test, knn_preset="nearest")
    with pytest.raises(ValueError, match="two classes"):
        OnlineProbeMonitor(ds.x_train, np.full(len(ds.y_train), -1), ds.x_test, ds.y_test)
    with pytest.raises(ValueError, match="must match"):
        OnlineProbeMonitor(ds.x_train, ds.y_train, ds.x_test[:, :4], ds.y_test)
    with pytest.raises(ValueError, match="class indices ≥ 0"):
        OnlineProbeMonitor(ds.x_train, ds.y_train, ds.x_test, np.full(len(ds.y_test), -1))
    with pytest.raises(ValueError, match="no online probe"):
        online_probe_top1(model, ds.x_test, ds.y_test)


REPLICA_SCRIPT = """
import os, sys
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
import numpy as np, tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
import keras
from kspectral.methods import VICReg

def make_model():
    keras.utils.set_random_seed(0)
    encoder = keras.Sequential([keras.Input((12,)), keras.layers.Dense(16, activation="relu")])
    model = VICReg(encoder, projector=keras.Sequential([keras.layers.Dense(8, use_bias=False)]),
                   online_probe_classes=3, online_probe_optimizer=keras.optimizers.SGD(0.5))
    model.compile(optimizer=keras.optimizers.SGD(0.1))
    return model

rng = np.random.default_rng(0)
a = rng.normal(size=(32, 12)).astype("float32")
b = (a + 0.3 * rng.normal(size=(32, 12))).astype("float32")
y = np.arange(32) % 3
y[[0, 1, 2, 5, 7, 11]] = -1  # replica 1 gets 10 labelled rows, replica 2 gets 16
data = tf.data.Dataset.from_tensor_slices((a, b, y)).batch(32)
single = make_model()
single.fit(data, epochs=1, verbose=0)
with tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"]).scope():
    mirrored = make_model()
mirrored.fit(data, epochs=1, verbose=0)
k1, k2 = single.online_probe.kernel.numpy(), mirrored.online_probe.kernel.numpy()
print(f"probe_diff={np.abs(k1 - k2).max():.3e} moved={np.abs(k1).max():.3e}")
"""


@pytest.mark.slow
def test_online_probe_step_is_the_same_on_two_replicas():
    import re
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-c", REPLICA_SCRIPT], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    diff, moved = map(float, re.search(r"probe_diff=(\S+) moved=(\S+)", proc.stdout).groups())
    assert moved > 1e-3 and diff < 1e-6  # the mean over the global batch's labelled rows


def test_recalibrated_batchnorm_averages_the_batch_statistics_and_restores_the_model(rng):
    from kspectral.callbacks import recalibrated_batchnorm

    encoder = keras.Sequential([keras.Input((3,)), keras.layers.BatchNormalization(), keras.layers.Dropout(0.5, seed=1)])
    bn = encoder.layers[0]
    x = (rng.normal(size=(10, 3)) * [1.0, 2.0, 3.0] + [5.0, -1.0, 0.0]).astype("float32")
    before = [v.numpy().copy() for v in encoder.non_trainable_variables]  # moving statistics and the dropout seed
    with recalibrated_batchnorm(encoder, x, batch_size=4):  # batches of 4, 4 and 2 images
        batches = [x[:4], x[4:8], x[8:]]
        np.testing.assert_allclose(bn.moving_mean.numpy(), np.mean([b.mean(0) for b in batches], 0), rtol=1e-5)
        np.testing.assert_allclose(bn.moving_variance.numpy(), np.mean([b.var(0) for b in batches], 0), rtol=1e-4)
        normalised = encoder(x, training=False).numpy()
        assert np.all(np.abs(normalised.mean(0)) < 0.5) and bn.momentum == 0.99
    for variable, value in zip(encoder.non_trainable_variables, before):
        np.testing.assert_array_equal(variable.numpy(), value)
    assert bn.momentum == 0.99
    with recalibrated_batchnorm(encoder, x, batch_size=9):  # a last batch of one image is dropped
        np.testing.assert_allclose(bn.moving_mean.numpy(), x[:9].mean(0), rtol=1e-5)
    with pytest.raises(ValueError, match="at least 2 images"):
        with recalibrated_batchnorm(encoder, x[:1]):
            pass
    plain = tiny_encoder()
    with recalibrated_batchnorm(plain, x[:1]):  # no BatchNorm: nothing to do, nothing checked
        pass
