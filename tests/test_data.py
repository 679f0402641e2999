"""Datasets, augmentation presets and the tf.data pipelines of positive pairs."""

import numpy as np
import pytest

from kspectral.data import augmented_pairs, digits, digits_augmenter, graph_pairs, load
from kspectral.spectral import graph_from_pairs, label_graph


def test_digits_split(digits_data):
    ds = digits_data
    assert ds.x_train.shape == (1437, 8, 8, 1) and ds.x_test.shape == (360, 8, 8, 1)
    assert ds.x_train.dtype == np.float32 and 0.0 <= ds.x_train.min() and ds.x_train.max() <= 1.0
    assert set(np.unique(ds.y_test)) == set(range(10))
    again = digits()
    np.testing.assert_array_equal(ds.y_test, again.y_test)  # same seed, same split
    with pytest.raises(ValueError, match="unknown dataset"):
        load("imagenet-1k")


def test_augmented_pairs_shapes_and_randomness(digits_data):
    ds = augmented_pairs(digits_data.x_train, digits_augmenter(seed=1), batch_size=100, seed=0)
    batches = list(ds)
    assert len(batches) == 1437 // 100  # last partial batch dropped
    a, b = batches[0]
    assert a.shape == b.shape == (100, 8, 8, 1)
    assert float(np.mean(np.abs(a.numpy() - b.numpy()))) > 0.02  # the two views differ
    a2, _ = next(iter(ds))
    assert not np.allclose(a.numpy(), a2.numpy())  # a new pass draws new pairs


def test_augmented_pairs_errors(digits_data):
    with pytest.raises(ValueError, match="larger than the 10"):
        augmented_pairs(digits_data.x_train[:10], digits_augmenter(), batch_size=32)
    with pytest.raises(ValueError, match="at least 2"):
        augmented_pairs(digits_data.x_train, digits_augmenter(), batch_size=1)
    with pytest.raises(ValueError, match="empty"):
        augmented_pairs(np.zeros((0, 8, 8, 1)), digits_augmenter())
    with pytest.raises(ValueError, match="NaN"):
        augmented_pairs(np.full((4, 2), np.nan), digits_augmenter(), batch_size=2)


def test_graph_pairs_are_edges_with_weight_proportional_frequency():
    x = np.arange(4, dtype=np.float32)[:, None] * 10.0
    G = graph_from_pairs(np.array([0, 2]), np.array([1, 3]), 4, weights=[1.0, 3.0])
    ds = graph_pairs(x, G, batch_size=500, steps_per_epoch=8, seed=0)
    batches = list(ds)
    a = np.concatenate([batch[0].numpy() for batch in batches]).ravel() / 10
    b = np.concatenate([batch[1].numpy() for batch in batches]).ravel() / 10
    pairs = set(zip(a.astype(int), b.astype(int)))
    assert pairs <= {(0, 1), (1, 0), (2, 3), (3, 2)}
    share_heavy = np.mean(np.isin(a, [2, 3]))
    assert share_heavy == pytest.approx(0.75, abs=0.03)  # edge weights 1 : 3
    assert np.mean(a == 0) == pytest.approx(np.mean(a == 1), abs=0.03)  # both orientations


def test_graph_pairs_label_graph_pairs_share_labels(digits_data):
    y = digits_data.y_train
    x = np.arange(len(y), dtype=np.float32)[:, None]
    ds = graph_pairs(x, label_graph(y), batch_size=64, seed=1)
    i, j = next(iter(ds))
    i, j = i.numpy().ravel().astype(int), j.numpy().ravel().astype(int)
    assert np.all(y[i] == y[j]) and np.all(i != j)
    assert len(list(ds)) == int(np.ceil(len(y) / 64))


def test_graph_pairs_errors():
    x = np.zeros((3, 2), np.float32)
    with pytest.raises(ValueError, match="must match"):
        graph_pairs(x, label_graph([0, 0, 1, 1]))
    with pytest.raises(ValueError, match="no edges"):
        graph_pairs(x, np.zeros((3, 3)))


def _batches(ds, count):
    return [tuple(np.asarray(part) for part in batch) for batch in ds.take(count)]


def _same(first, second):
    return all(np.array_equal(a, b) for x, y in zip(first, second) for a, b in zip(x, y))


def test_resumable_streams_are_a_pure_function_of_seed_and_step(digits_data):
    """start_step=t0 gives the batches t0, t0+1, ... of the stream from 0, whatever was drawn before."""
    import tensorflow as tf

    from kspectral.data import image_batches
    from kspectral.spectral import knn_graph

    x, y = digits_data.x_train, digits_data.y_train
    per_pass = len(x) // 64  # 22 batches per pass over the samples
    whole = _batches(augmented_pairs(x, digits_augmenter(seed=3), 64, seed=1, labels=y, start_step=0), 30)
    tail = _batches(augmented_pairs(x, digits_augmenter(seed=3), 64, seed=1, labels=y, start_step=20), 10)
    assert _same(whole[20:30], tail)  # across the end of the first pass
    assert not np.array_equal(whole[0][0], whole[per_pass][0])  # the second pass draws new views
    other = _batches(augmented_pairs(x, digits_augmenter(seed=3), 64, seed=2, labels=y, start_step=20), 1)
    assert not np.array_equal(other[0][0], tail[0][0])  # another seed, another stream
    images = _batches(image_batches(x, 64, labels=y, seed=1, start_step=0), 25)
    assert _same(images[23:25], _batches(image_batches(x, 64, labels=y, seed=1, start_step=23), 2))
    G = knn_graph(digits_data.flat("train").astype(np.float64), 5)
    pairs = _batches(graph_pairs(x, G, 64, seed=2, labels=y, start_step=0), 8)
    assert _same(pairs[5:8], _batches(graph_pairs(x, G, 64, seed=2, labels=y, start_step=5), 3))
    stream = tf.data.Dataset.from_tensor_slices((x[:300], y[:300]))  # replayed, not indexed
    replay = _batches(augmented_pairs(stream, digits_augmenter(seed=3), 64, seed=1, start_step=0), 9)
    assert _same(replay[6:9], _batches(augmented_pairs(stream, digits_augmenter(seed=3), 64, seed=1, start_step=6), 3))
    with pytest.raises(ValueError, match="start_step must be None or an integer ≥ 0"):
        augmented_pairs(x, digits_augmenter(), 64, start_step=-1)


def test_resumable_stream_passes_visit_every_sample_once(digits_data):
    """Each pass of the stream is a permutation of the samples (seeded with (seed, pass))."""
    from kspectral.data import image_batches

    x = digits_data.x_train[:200]
    ids = np.arange(200, dtype=np.float32).reshape(200, 1, 1, 1) * np.ones_like(x)
    batches = [np.asarray(b)[:, 0, 0, 0] for b in image_batches(ids, 50, seed=4, start_step=0).take(8)]
    first, second = np.concatenate(batches[:4]), np.concatenate(batches[4:])
    np.testing.assert_array_equal(np.sort(first), np.arange(200))
    np.testing.assert_array_equal(np.sort(second), np.arange(200))
    assert not np.array_equal(first, second)  # each pass is shuffled anew
