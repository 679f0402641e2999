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
