"""Augmentation layers (RandomResizedCrop, RandomApply, Solarize), presets and multi-view pair pipelines."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from kspectral.data import (
    CheckChannels,
    ColorJitter,
    GaussianBlur,
    RandomApply,
    RandomResizedCrop,
    Solarize,
    augmented_pairs,
    augmenter,
    blur_kernel_size,
    color_jitter,
    multicrop,
)


@pytest.fixture(scope="module")
def images():
    """Eight smooth random 16×16 RGB images in [0, 1]."""
    rng = np.random.default_rng(0)
    coarse = rng.random((8, 4, 4, 3)).astype(np.float32)
    return np.asarray(tf.image.resize(coarse, (16, 16)), dtype=np.float32)


def coordinate_images(n, size):
    """Images whose channels hold the row and column index of each pixel (and zeros)."""
    rows, cols = np.meshgrid(np.arange(size), np.arange(size), indexing="ij")
    image = np.stack([rows, cols, np.zeros_like(rows)], axis=-1).astype(np.float32)
    return np.repeat(image[None], n, axis=0)


def box_of(points):
    """(start, length) of the boxes whose n half-pixel-centred sample points ``points[:, k]`` are given.

    Sample k of a box (start, length) sits at ``start + (k + 0.5)·length/n − 0.5``; samples 2 and n − 3 are inside
    the image for boxes longer than n/5 pixels, so clamping at the border does not affect them.
    """
    n = points.shape[1]
    step = (points[:, n - 3] - points[:, 2]) / (n - 5)
    return np.round(points[:, 2] - 2.5 * step + 0.5, 3), np.round(step * n, 3)


def crop_boxes(crops):
    """(top, left, h, w) of the boxes cropped from coordinate images (bilinear sampling of a ramp is exact)."""
    crops = np.asarray(crops)
    top, h = box_of(crops[:, :, 0, 0])
    left, w = box_of(crops[:, 0, :, 1])
    return top, left, h, w


def views_of(preset):
    return list(preset) if isinstance(preset, (tuple, list)) else [preset]


PRESETS = ["simclr", "cifar", "byol", "vicreg", "digits", "multicrop"]


# ---------------------------------------------------------------- RandomResizedCrop


def test_random_resized_crop_full_square_box_is_a_plain_resize(images):
    same = RandomResizedCrop(16, 16, scale=(1.0, 1.0), ratio=(1.0, 1.0), seed=0)
    np.testing.assert_allclose(same(images, training=True), images, atol=1e-6)
    smaller = RandomResizedCrop(12, 12, scale=(1.0, 1.0), ratio=(1.0, 1.0), seed=0)
    expected = tf.image.resize(images, (12, 12), method="bilinear", antialias=False)
    np.testing.assert_allclose(smaller(images, training=True), expected, atol=1e-5)
    bigger = RandomResizedCrop(24, 20, scale=(1.0, 1.0), ratio=(1.0, 1.0), seed=0)
    # A square box resized to 24×20 is the whole image resized (inference mode crops to 20/24 first).
    np.testing.assert_allclose(bigger(images, training=True), tf.image.resize(images, (24, 20)), atol=1e-5)
    # Inference: the largest centred box with the output's aspect ratio, resized (here the whole image).
    np.testing.assert_allclose(smaller(images, training=False), expected, atol=1e-5)


def test_random_resized_crop_boxes_follow_scale_and_ratio():
    x = coordinate_images(512, 32)
    crop = RandomResizedCrop(None, None, scale=(0.08, 1.0), seed=3)
    out = crop(x, training=True)
    assert out.shape == x.shape
    top, left, h, w = crop_boxes(out)
    np.testing.assert_allclose(h, np.round(h), atol=1e-4)  # whole-pixel boxes
    area = h * w / 32**2
    aspect = w / h
    assert area.min() >= 0.07 and area.max() <= 1.0
    assert np.all(aspect >= 0.75 * 0.93) and np.all(aspect <= 4 / 3 / 0.93)  # rounding to whole pixels
    assert np.all(top >= 0) and np.all(top + h <= 32) and np.all(left >= 0) and np.all(left + w <= 32)
    assert 0.35 < area.mean() < 0.6  # first-fit among U(0.08, 1) areas; large non-square boxes retry
    square = RandomResizedCrop(None, None, scale=(0.2, 0.4), ratio=(1.0, 1.0), seed=4)
    top, left, h, w = crop_boxes(square(x, training=True))
    area = h * w / 32**2
    np.testing.assert_array_equal(h, w)
    assert area.mean() == pytest.approx(0.3, abs=0.02)
    assert area.min() >= 0.18 and area.max() <= 0.42
    # Offsets are uniform over the valid positions: both extremes occur, and the mean is central.
    slack = 32 - h
    assert np.any(top == 0) and np.any(top == slack)
    assert np.mean(top / slack) == pytest.approx(0.5, abs=0.05)


def test_random_resized_crop_falls_back_to_the_centre_crop():
    x = coordinate_images(4, 32)
    # No box of the full area fits with aspect ratio ≥ 2: the centre box of ratio 2 is used.
    crop = RandomResizedCrop(None, None, scale=(1.0, 1.0), ratio=(2.0, 3.0), seed=0)
    top, left, h, w = crop_boxes(crop(x, training=True))
    np.testing.assert_array_equal(h, 16)
    np.testing.assert_array_equal(w, 32)
    np.testing.assert_array_equal(top, 8)
    np.testing.assert_array_equal(left, 0)
    # Inference mode, 16×32 output from a square image: the centred 16×32 box, pixel for pixel.
    out = RandomResizedCrop(16, 32, seed=0)(x, training=False)
    np.testing.assert_array_equal(out, x[:, 8:24])


def test_random_resized_crop_single_image_and_errors(images):
    assert RandomResizedCrop(8, 10, seed=0)(images[0], training=True).shape == (8, 10, 3)
    with pytest.raises(ValueError, match="scale"):
        RandomResizedCrop(8, 8, scale=(0.5, 0.1))
    with pytest.raises(ValueError, match="scale"):
        RandomResizedCrop(8, 8, scale=(0.0, 1.0))
    with pytest.raises(ValueError, match="ratio"):
        RandomResizedCrop(8, 8, ratio=(1.0,))
    with pytest.raises(ValueError, match="height"):
        RandomResizedCrop(0, 8)
    with pytest.raises(ValueError, match="shape"):
        RandomResizedCrop(8, 8)(np.zeros((2, 8, 8, 3, 1), np.float32), training=True)


# ---------------------------------------------------------------- RandomApply and Solarize


def test_random_apply_rate_zero_is_identity_and_rate_one_is_the_layer(images):
    def brightness(seed):
        return keras.layers.RandomBrightness(0.3, value_range=(0, 1), seed=seed)

    never = RandomApply(brightness(5), rate=0.0, seed=1)
    np.testing.assert_array_equal(never(images, training=True), images)
    always = RandomApply(brightness(5), rate=1.0, seed=1)
    np.testing.assert_allclose(always(images, training=True), brightness(5)(images, training=True), atol=1e-7)
    assert not np.allclose(always(images, training=True), images)
    np.testing.assert_array_equal(always(images, training=False), images)


def test_random_apply_chooses_each_image_independently():
    x = np.full((1000, 2, 2, 1), 0.25, np.float32)
    out = np.asarray(RandomApply(Solarize(threshold=0.1), rate=0.3, seed=0)(x, training=True))
    changed = out[:, 0, 0, 0] > 0.5  # solarized: 1 − 0.25
    np.testing.assert_allclose(out[changed], 0.75)
    np.testing.assert_allclose(out[~changed], 0.25)
    assert changed.mean() == pytest.approx(0.3, abs=0.05)
    with pytest.raises(ValueError, match="rate"):
        RandomApply(Solarize(), rate=1.5)
    with pytest.raises(ValueError, match="keeps the shape"):
        RandomApply(RandomResizedCrop(1, 1), rate=0.5)(x, training=True)
    with pytest.raises(TypeError, match="Keras layer"):
        RandomApply(lambda t: t)


def test_solarize_inverts_values_at_or_above_the_threshold():
    x = np.array([0.0, 0.3, 0.49, 0.5, 0.8, 1.0], np.float32)
    np.testing.assert_allclose(Solarize()(x), [0.0, 0.3, 0.49, 0.5, 0.2, 0.0], atol=1e-7)
    np.testing.assert_allclose(Solarize(0.5, value_range=(0, 255))(x * 255), [0, 76.5, 124.95, 127.5, 51, 0],
                               atol=1e-4)


# ---------------------------------------------------------------- serialization


def round_trip(obj):
    return keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(obj))


def test_layers_round_trip_through_keras_serialization(images):
    crop = RandomResizedCrop(12, 10, scale=(0.2, 0.9), ratio=(0.5, 2.0), seed=7)
    copy = round_trip(crop)
    assert isinstance(copy, RandomResizedCrop)
    assert (copy.height, copy.width, copy.scale, copy.ratio, copy.seed) == (12, 10, (0.2, 0.9), (0.5, 2.0), 7)
    np.testing.assert_allclose(copy(images, training=True), crop(images, training=True))
    jitter = color_jitter(0.4, 0.4, 0.2, 0.1, seed=3)
    wrapped = RandomApply(jitter, rate=0.8, seed=2)
    copy = round_trip(wrapped)
    assert isinstance(copy, RandomApply) and copy.rate == 0.8 and copy.seed == 2
    assert isinstance(copy.layer, ColorJitter)
    assert copy.layer.get_config() == jitter.get_config()
    np.testing.assert_allclose(copy(images, training=True), wrapped(images, training=True), atol=1e-6)
    assert round_trip(Solarize(0.3, value_range=(0, 2))).get_config()["threshold"] == 0.3
    assert round_trip(CheckChannels(1)).channels == 1


def test_preset_saves_and_loads_as_a_keras_model(images, tmp_path):
    aug = augmenter("simclr", image_size=12, seed=4)
    expected = aug(images, training=True)
    path = tmp_path / "simclr.keras"
    augmenter("simclr", image_size=12, seed=4).save(path)
    loaded = keras.saving.load_model(path)
    assert [layer.name for layer in loaded.layers] == [layer.name for layer in aug.layers]
    np.testing.assert_allclose(loaded(images, training=True), expected, atol=1e-6)
    copy = round_trip(augmenter("byol", image_size=12, seed=4)[1])
    np.testing.assert_allclose(copy(images, training=True), augmenter("byol", image_size=12, seed=4)[1](
        images, training=True), atol=1e-6)


# ---------------------------------------------------------------- presets


def build(name, seed=0):
    options = {"n_small": 2} if name == "multicrop" else {}
    return augmenter(name, image_size=12, seed=seed, **options)


@pytest.mark.parametrize("name", PRESETS)
def test_presets_keep_shape_dtype_range_and_draw_new_views(name, images):
    views = views_of(build(name))
    assert len(views) == {"byol": 2, "vicreg": 2, "multicrop": 4}.get(name, 1)
    for i, view in enumerate(views):
        a = np.asarray(view(images, training=True))
        b = np.asarray(view(images, training=True))
        side = 5 if name == "multicrop" and i >= 2 else 12  # small crops: round(96/224 · 12) px
        assert a.shape == (8, side, side, 3) and a.dtype == np.float32
        if name != "digits":  # the digits preset adds Gaussian noise
            assert a.min() >= 0.0 and a.max() <= 1.0
        assert np.abs(a - b).mean() > 0.01  # two calls draw different views
    c = np.asarray(views[0](images))  # like Keras' random layers, a call draws by default
    assert not np.allclose(c, np.asarray(views[0](images)))


@pytest.mark.parametrize("name", PRESETS)
def test_presets_reproduce_their_views_under_a_seed(name, images):
    first, second, other = views_of(build(name, 1)), views_of(build(name, 1)), views_of(build(name, 2))
    for a, b, c in zip(first, second, other):
        x = a(images, training=True)
        np.testing.assert_allclose(x, b(images, training=True), atol=1e-6)
        assert not np.allclose(x, c(images, training=True))


def test_digits_preset_without_noise_stays_in_range(images):
    out = np.asarray(augmenter("digits", noise=0.0, seed=0)(images, training=True))
    assert out.shape == images.shape and out.min() >= 0.0 and out.max() <= 1.0


def test_simclr_preset_layers_and_options():
    aug = augmenter("simclr", image_size=32, strength=0.5, seed=0)
    names = [layer.name for layer in aug.layers]
    assert names == ["channels", "crop", "flip", "jitter", "grayscale", "blur"]
    jitter = aug.get_layer("jitter")
    assert jitter.rate == 0.8 and isinstance(jitter.layer, ColorJitter) and jitter.layer.law == "torchvision"
    # torchvision's ranges: brightness, contrast and saturation U(1 − 0.4, 1 + 0.4), hue U(−0.1, 0.1)
    assert jitter.layer.brightness_range == pytest.approx((0.6, 1.4))
    assert jitter.layer.contrast_range == pytest.approx((0.6, 1.4))
    assert jitter.layer.saturation_range == pytest.approx((0.6, 1.4))
    assert jitter.layer.hue_range == pytest.approx((-0.1, 0.1))
    assert aug.get_layer("grayscale").rate == 0.2
    blur = aug.get_layer("blur")
    # SimCLR's kernel of 10 % of the side (3 taps at 32 px), σ ~ U(0.1, 2) per image, reflected borders
    assert blur.rate == 0.5 and isinstance(blur.layer, GaussianBlur)
    assert (blur.layer.kernel_size, blur.layer.sigma, blur.layer.border) == (3, (0.1, 2.0), "reflect")
    assert aug.get_layer("crop").scale == (0.08, 1.0) and aug.get_layer("crop").interpolation == "bicubic"
    lightly = augmenter("simclr", image_size=32, blur_kernel="sigma").get_layer("blur").layer
    assert (lightly.kernel_size, lightly.radius, lightly.border) == (None, 2, "edge")  # PIL's box of radius 1.56 at σ 2
    v1 = augmenter("simclr", image_size=32, jitter_law="simclr_v1").get_layer("jitter").layer
    assert v1.law == "simclr_v1" and v1.brightness_range == pytest.approx((-0.8, 0.8))  # additive shift
    cifar = [layer.name for layer in augmenter("cifar").layers]
    assert cifar == ["channels", "crop", "flip", "jitter", "grayscale"]  # no blur
    assert blur_kernel_size(224) == 23 and blur_kernel_size(96) == 9 and blur_kernel_size((40, 64)) == 5
    with pytest.raises(ValueError, match="image_size"):
        augmenter("simclr")
    with pytest.raises(ValueError, match="unknown augmentation preset 'rotnet'"):
        augmenter("rotnet")


def test_byol_views_have_different_distributions():
    # Flat grey images at 0.75: crops, flips, grayscale and blur keep the centre pixel there, solarization maps it
    # to 0.25 (the colour jitter is left out: its brightness shift alone could cross the threshold).
    x = np.full((400, 12, 12, 3), 0.75, np.float32)
    view1, view2 = augmenter("byol", image_size=12, seed=0)
    assert [layer.rate for layer in view1.layers if isinstance(layer, RandomApply)] == [0.8, 0.2, 1.0]
    assert [layer.rate for layer in view2.layers if isinstance(layer, RandomApply)] == [0.8, 0.2, 0.1, 0.2]
    solarized = {}
    for name, view in (("view1", view1), ("view2", view2)):
        plain = keras.Sequential([layer for layer in view.layers if layer.name != "jitter"])
        centre = np.asarray(plain(x, training=True))[:, 6, 6, 0]
        solarized[name] = np.mean(np.abs(centre - 0.25) < 1e-3)
    assert solarized["view1"] == 0.0
    assert solarized["view2"] == pytest.approx(0.2, abs=0.06)


def test_grayscale_images_drop_the_colour_transformations(images):
    gray = images[..., :1]
    aug = augmenter("cifar", channels=1, seed=0)
    assert [layer.name for layer in aug.layers] == ["channels", "crop", "flip"]
    assert aug(gray, training=True).shape == (8, 16, 16, 1)
    view1, view2 = augmenter("byol", image_size=12, channels=1, seed=0)
    assert view2(gray, training=True).shape == (8, 12, 12, 1)
    with pytest.raises(ValueError, match="channels=1"):
        augmenter("cifar", seed=0)(gray, training=True)
    with pytest.raises(ValueError, match="channels must be 3"):
        augmenter("cifar", channels=2)


def test_multicrop_views():
    views = multicrop("cifar", 32, n_small=3, small_size=16, seed=0)
    assert len(views) == 5
    shapes = [tuple(view(np.random.rand(4, 32, 32, 3).astype(np.float32), training=True).shape) for view in views]
    assert shapes == [(4, 32, 32, 3)] * 2 + [(4, 16, 16, 3)] * 3
    assert views[0].get_layer("crop").scale == (0.14, 1.0) and views[2].get_layer("crop").scale == (0.05, 0.14)
    byol = multicrop("byol", 224, n_small=2)
    assert byol[0].name == "byol_view1" and byol[1].name == "byol_view2"
    assert byol[2].get_layer("crop").height == 96  # SwAV's 96 px of 224
    with pytest.raises(ValueError, match="base"):
        multicrop("digits", 32)


# ---------------------------------------------------------------- tf.data and the device path


def test_augmented_pairs_with_a_preset_is_reproducible(images):
    def pipeline(seed):
        return augmented_pairs(images, augmenter("cifar", image_size=12, seed=seed), batch_size=4, seed=0)

    ds = pipeline(3)
    first = [tuple(np.asarray(v) for v in batch) for batch in ds]
    again = [tuple(np.asarray(v) for v in batch) for batch in pipeline(3)]
    assert len(first) == 2 and first[0][0].shape == (4, 12, 12, 3)
    for (a, b), (a2, b2) in zip(first, again):
        np.testing.assert_allclose(a, a2, atol=1e-6)
        np.testing.assert_allclose(b, b2, atol=1e-6)
        assert not np.allclose(a, b)  # the two views of a pair differ
    second_epoch = [np.asarray(batch[0]) for batch in ds]
    assert not np.allclose(first[0][0], second_epoch[0])  # a new pass draws new views


def test_augmented_pairs_one_augmenter_per_view(images):
    view1, view2 = augmenter("byol", image_size=12, seed=0)
    a, b = next(iter(augmented_pairs(images, (view1, view2), batch_size=8, shuffle=False)))
    assert a.shape == b.shape == (8, 12, 12, 3)
    # The first view is what view 1 draws on the batch (the same seed, the same draws).
    np.testing.assert_allclose(a, augmenter("byol", image_size=12, seed=0)[0](images, training=True), atol=1e-5)
    crops = multicrop("cifar", 16, n_small=2, small_size=8, seed=0)
    batch = next(iter(augmented_pairs(images, crops, batch_size=4)))
    assert [tuple(v.shape) for v in batch] == [(4, 16, 16, 3)] * 2 + [(4, 8, 8, 3)] * 2
    with pytest.raises(ValueError, match="at least 2"):
        augmented_pairs(images, [view1], batch_size=4)
    with pytest.raises(TypeError, match="augmenter"):
        augmented_pairs(images, "simclr", batch_size=4)


@pytest.mark.parametrize("jit_compile", [False, pytest.param(True, marks=pytest.mark.slow)])
def test_presets_run_inside_a_model_train_step(images, jit_compile):
    """The "device" path: the augmenters run inside a compiled train step (XLA included)."""
    view1, view2 = augmenter("byol", image_size=12, seed=0)

    class TwoViews(keras.Model):
        def __init__(self):
            super().__init__()
            self.view1, self.view2 = view1, view2
            self.encoder = keras.Sequential([keras.layers.Flatten(), keras.layers.Dense(4)])

        def call(self, x, training=False):
            a = self.encoder(self.view1(x, training=training))
            b = self.encoder(self.view2(x, training=training))
            return a - b

    model = TwoViews()
    model.compile(optimizer="sgd", loss="mse", jit_compile=jit_compile)
    history = model.fit(images, np.zeros((8, 4), np.float32), batch_size=8, epochs=1, verbose=0)
    assert np.all(np.isfinite(history.history["loss"]))
    assert history.history["loss"][0] > 0  # the two views differ inside the step
    step = tf.function(lambda x: view2(x, training=True), jit_compile=jit_compile)
    a, b = np.asarray(step(images)), np.asarray(step(images))
    assert a.shape == (8, 12, 12, 3) and not np.allclose(a, b)
    np.testing.assert_allclose(model.predict(images, verbose=0), 0.0, atol=1e-6)  # inference: no randomness


def test_blur_reflects_the_border_instead_of_darkening_it():
    """Keras' blur pads with zeros; the presets' blurs repeat or reflect the border (PIL's, torchvision's), so a
    flat image stays flat."""
    from kspectral.data import ReflectPadded

    flat = np.full((4, 32, 32, 3), 0.8, "float32")
    blur = keras.layers.RandomGaussianBlur(factor=(1.0, 1.0), kernel_size=5, sigma=(0.9, 1.0),
                                           value_range=(0, 1), seed=0)
    assert float(np.min(np.asarray(blur(flat, training=True)))) < 0.7  # the zero padding Keras does
    padded = np.asarray(ReflectPadded(blur, padding=2)(flat, training=True))
    np.testing.assert_allclose(padded, 0.8, atol=1e-5)
    for name in ("byol", "vicreg"):  # view 1 blurs every image: a kernel of 10 % of the side, or PIL's σ-sized one
        view_a, _ = augmenter(name, image_size=32, seed=0)
        out = np.asarray(view_a.get_layer("blur")(flat, training=True))
        np.testing.assert_allclose(out, 0.8, atol=1e-5)
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(ReflectPadded(blur, 2)))
    assert restored.padding == 2 and type(restored.layer).__name__ == "RandomGaussianBlur"
