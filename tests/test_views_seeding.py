"""The augmenter spec (kspectral.data.views), the seeding rule (kspectral.data.seeding) and spectral's imports."""

import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from kspectral.data import SEED_STRIDE, augmenter, digits_augmenter, reseed, reseeded, seed_states, view_augmenters
from kspectral.errors import InputError


def test_one_augmenter_is_both_views_and_a_sequence_is_one_per_view():
    aug = digits_augmenter(seed=0)
    a, b = view_augmenters(aug)
    assert a is aug and b is aug  # the same object twice, not a copy
    pair = augmenter("byol", image_size=8, seed=0)
    assert view_augmenters(pair) == tuple(pair) and view_augmenters(list(pair))[1] is pair[1]
    function = view_augmenters(lambda batch: batch)
    assert len(function) == 2 and function[0] is function[1]


def test_a_preset_name_is_built_and_expanded():
    single = view_augmenters("cifar", image_size=12, channels=3, seed=4)
    assert len(single) == 2 and single[0] is single[1]
    assert single[0](np.zeros((2, 12, 12, 3), np.float32), training=True).shape == (2, 12, 12, 3)
    # the same layers as kspectral.data.augmenter with the same arguments: equal views at the same state
    x = np.random.default_rng(0).random((3, 12, 12, 3), dtype=np.float32)
    direct = augmenter("cifar", image_size=12, channels=3, seed=4)
    reseed([single[0], direct], 0)  # the call above advanced single's counters
    np.testing.assert_array_equal(single[0](x, training=True).numpy(), direct(x, training=True).numpy())
    assert [v.name for v in view_augmenters("byol", image_size=8, seed=0)] == ["byol_view1", "byol_view2"]
    crops = view_augmenters("multicrop", image_size=16, channels=3, seed=0,
                            options={"base": "cifar", "n_small": 3, "small_size": 8})
    shapes = [tuple(v(np.zeros((1, 16, 16, 3), np.float32), training=True).shape) for v in crops]
    assert shapes == [(1, 16, 16, 3)] * 2 + [(1, 8, 8, 3)] * 3  # global views first, then the small crops
    gray = view_augmenters("cifar", image_size=8, channels=1, seed=0)[0]  # channels reaches a preset that takes it
    assert gray(np.zeros((2, 8, 8, 1), np.float32), training=True).shape == (2, 8, 8, 1)
    digits = view_augmenters("digits", channels=1, seed=0)  # digits takes no channels: not passed
    assert digits[0](np.zeros((2, 8, 8, 1), np.float32), training=True).shape == (2, 8, 8, 1)


def test_bad_specs_say_what_to_give():
    aug = digits_augmenter(seed=0)
    with pytest.raises(InputError, match="empty list of augmenters"):
        view_augmenters([])
    with pytest.raises(InputError, match="needs at least 2, got 1; pass a single augmenter"):
        view_augmenters([aug])
    with pytest.raises(TypeError, match="an augmenter is a callable Keras layer.*got int.*kspectral.data.augmenter"):
        view_augmenters(3)
    with pytest.raises(TypeError, match=r"augmenters\[1\] must be a callable Keras layer/model, got int"):
        view_augmenters([aug, 3], name="augmenters")
    with pytest.raises(InputError, match="unknown augmentation preset 'cifarr'; choose one of: simclr"):
        view_augmenters("cifarr")
    with pytest.raises(InputError, match="options go with a preset name"):
        view_augmenters(aug, options={"strength": 0.5})
    with pytest.raises(InputError, match="must be a dict"):
        view_augmenters("cifar", options=[0.5])


def _states(layers):
    return [v.numpy().tolist() for v in seed_states(layers)]


def test_reseed_in_a_tf_function_sets_seed_and_stride_times_t():
    aug = digits_augmenter(seed=3)
    seeds = [s[0] for s in _states(aug)]
    assert seeds == [3, 4, 5, 6]  # one generator per random layer, seeds 3, 4, ...
    x = tf.constant(np.random.default_rng(1).random((4, 8, 8, 1), dtype=np.float32))

    @tf.function
    def set_only(t):
        return reseed([aug, aug], t)  # a layer met twice counts once

    @tf.function
    def draw(t):
        with tf.control_dependencies(reseed(aug, t)):
            return aug(x, training=True)

    set_only(tf.constant(7, tf.int64))
    assert _states(aug) == [[s, 7 * SEED_STRIDE] for s in seeds] and SEED_STRIDE == 64
    a = draw(tf.constant(5, tf.int64)).numpy()
    drawn = _states(aug)
    assert [s[0] for s in drawn] == seeds and all(s[1] > 5 * 64 for s in drawn)  # the draws advanced the counters
    b = draw(tf.constant(5, tf.int64)).numpy()
    c = draw(tf.constant(6, tf.int64)).numpy()
    np.testing.assert_array_equal(a, b)  # same t, same views, whatever was drawn in between
    assert np.abs(a - c).max() > 1e-3  # another t, other views
    # eagerly, the same rule gives the same views
    reseed(aug, 5)
    np.testing.assert_array_equal(aug(x, training=True).numpy(), a)
    assert reseed(keras_identity(), 3) == []  # a layer that draws nothing has no state to set
    with pytest.raises(InputError, match="stride must be an integer"):
        reseed(aug, 1, stride=0)


def keras_identity():
    import keras

    return keras.layers.Identity()


def test_reseed_inside_a_tf_data_map_follows_the_batch_index():
    aug = digits_augmenter(seed=11)
    x = tf.constant(np.random.default_rng(2).random((4, 8, 8, 1), dtype=np.float32))
    states = seed_states(aug)

    def views(t):
        with tf.control_dependencies(reseed(states, t)):
            return aug(x, training=True)

    stream = [v.numpy() for v in tf.data.Dataset.range(3).map(views)]
    again = [v.numpy() for v in tf.data.Dataset.from_tensor_slices(tf.constant([2, 0], tf.int64)).map(views)]
    np.testing.assert_array_equal(again[0], stream[2])
    np.testing.assert_array_equal(again[1], stream[0])
    assert np.abs(stream[0] - stream[1]).max() > 1e-3


def test_reseeded_draws_at_t_and_puts_the_states_back():
    aug = digits_augmenter(seed=0)
    x = np.random.default_rng(3).random((2, 8, 8, 1), dtype=np.float32)
    aug(x, training=True)
    before = _states(aug)
    with reseeded(aug, 4, stride=1000003) as states:
        assert [v.numpy().tolist() for v in states] == [[s[0], 4 * 1000003] for s in before]
        a = aug(x, training=True).numpy()
    assert _states(aug) == before
    with reseeded(aug, 4, stride=1000003):
        b = aug(x, training=True).numpy()
    np.testing.assert_array_equal(a, b)
    with pytest.raises(RuntimeError), reseeded(aug, 9):
        aug(x, training=True)
        raise RuntimeError("restored anyway")
    assert _states(aug) == before


def test_the_spectral_package_imports_neither_kspectral_data_nor_tensorflow():
    code = (
        "import importlib, pkgutil, sys\n"
        "import kspectral.spectral as s\n"
        "for m in pkgutil.iter_modules(s.__path__):\n"
        "    importlib.import_module('kspectral.spectral.' + m.name)\n"
        "print(sorted(m for m in sys.modules if m.startswith(('kspectral.data', 'tensorflow', 'keras'))))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_spectral_augmentation_graph_sends_a_preset_name_to_the_data_side():
    from kspectral.data import augmentation_graph as data_graph
    from kspectral.data import augmenter_for
    from kspectral.spectral import augmentation_graph

    x = np.random.default_rng(4).random((20, 8, 8, 3), dtype=np.float32)
    with pytest.raises(TypeError, match="kspectral.data.augmentation_graph"):
        augmentation_graph(x, "cifar")
    by_name = data_graph(x, "cifar", draws=2, k=3, seed=5, options={"strength": 0.3})
    by_layer = augmentation_graph(x, augmenter_for(x.shape[1:], "cifar", {"strength": 0.3}, seed=5), draws=2, k=3)
    assert by_name.shape == (20, 20) and by_name.nnz > 0 and (by_name != by_layer).nnz == 0
    with pytest.raises(InputError, match="augment_options go with a preset name"):
        data_graph(x, augmenter_for(x.shape[1:], "cifar", seed=5), options={"strength": 0.3})
