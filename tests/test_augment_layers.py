"""The augmentation layers with torchvision's laws (ColorJitter, GaussianBlur, bicubic crops, Normalize), the
solo-learn presets and a recipe's augmenters. The laws' quantiles against torchvision are in
test_augmentation_laws.py."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from kspectral.data import (
    NORMALIZATION,
    ColorJitter,
    GaussianBlur,
    Grayscale,
    Normalize,
    RandomApply,
    RandomResizedCrop,
    augmenter,
    recipe_augmenters,
)
from kspectral.data.color import adjust_brightness, adjust_contrast, grayscale


def round_trip(obj):
    return keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(obj))


@pytest.fixture(scope="module")
def mid_images():
    """400 random 8×8 RGB images with values in [0.2, 0.45], so that ×2 brightness does not clip."""
    return np.random.default_rng(1).uniform(0.2, 0.45, (400, 8, 8, 3)).astype(np.float32)


# ---------------------------------------------------------------- ColorJitter


def test_color_jitter_draws_the_order_per_image(mid_images):
    """Brightness ×3 and contrast ×0.5 do not commute: each image gets one of the two orders, about half each."""
    jitter = ColorJitter(brightness=(3.0, 3.0), contrast=(0.5, 0.5), seed=0)
    out = np.asarray(jitter(mid_images))
    # without clipping the two blends commute; ×3 clips the brighter pixels, so the order shows
    b_then_c = np.asarray(adjust_contrast(adjust_brightness(mid_images, np.full(400, 3.0)), np.full(400, 0.5)))
    c_then_b = np.asarray(adjust_brightness(adjust_contrast(mid_images, np.full(400, 0.5)), np.full(400, 3.0)))
    first = np.all(np.isclose(out, b_then_c, atol=1e-6), axis=(1, 2, 3))
    second = np.all(np.isclose(out, c_then_b, atol=1e-6), axis=(1, 2, 3))
    assert np.all(first | second) and not np.any(first & second)
    assert 0.4 < first.mean() < 0.6  # 400 images: 5 standard deviations either side of 0.5
    # the order is drawn per image, not per batch: both orders appear in one call
    assert first.any() and second.any()


def test_color_jitter_factors_are_drawn_per_image_and_seeded(mid_images):
    jitter = ColorJitter(brightness=0.4, seed=3)
    ratio = np.asarray(jitter(mid_images)).mean(axis=(1, 2, 3)) / mid_images.mean(axis=(1, 2, 3))
    assert ratio.min() >= 0.6 - 1e-5 and ratio.max() <= 1.4 + 1e-5
    assert np.std(ratio) == pytest.approx(0.8 / np.sqrt(12), rel=0.15)  # U(0.6, 1.4): std 0.231
    np.testing.assert_allclose(ColorJitter(brightness=0.4, seed=3)(mid_images), jitter.__class__(
        brightness=0.4, seed=3)(mid_images))
    np.testing.assert_array_equal(ColorJitter(0.4, 0.4, 0.4, 0.1)(mid_images, training=False), mid_images)
    np.testing.assert_array_equal(ColorJitter()(mid_images), mid_images)  # nothing enabled: the identity


def test_color_jitter_contrast_blends_with_the_grayscale_mean(mid_images):
    out = np.asarray(ColorJitter(contrast=(0.5, 0.5))(mid_images))
    mean = np.asarray(grayscale(mid_images)).mean(axis=(1, 2, 3), keepdims=True)
    np.testing.assert_allclose(out, 0.5 * mid_images + 0.5 * mean, atol=1e-6)
    sat = np.asarray(ColorJitter(saturation=(0.0, 0.0))(mid_images))  # σ = 0: the grayscale image
    np.testing.assert_allclose(sat, np.repeat(np.asarray(grayscale(mid_images)), 3, axis=-1), atol=1e-6)
    np.testing.assert_allclose(Grayscale()(mid_images), sat, atol=1e-6)
    np.testing.assert_allclose(np.asarray(grayscale(np.eye(3, dtype="float32")[None, None]))[0, 0, :, 0],
                               [0.299, 0.587, 0.114], atol=1e-7)


def test_color_jitter_hue_rotates_a_pure_colour():
    red = np.zeros((1, 2, 2, 3), np.float32)
    red[..., 0] = 1.0
    out = np.asarray(ColorJitter(hue=(1 / 3, 1 / 3))(red))  # a third of a turn: red → green
    np.testing.assert_allclose(out[0, 0, 0], [0.0, 1.0, 0.0], atol=1e-5)


def test_simclr_v1_jitter_adds_brightness(mid_images):
    out = np.asarray(ColorJitter(brightness=(0.1, 0.1), law="simclr_v1")(mid_images))
    np.testing.assert_allclose(out, mid_images + 0.1, atol=1e-6)
    with pytest.raises(ValueError, match="jitter law"):
        ColorJitter(0.4, law="keras")


def test_color_jitter_serializes_compiles_and_refuses_grayscale(mid_images):
    jitter = ColorJitter(0.4, (0.5, 1.5), 0.2, 0.1, seed=5)
    copy = round_trip(jitter)
    assert copy.get_config() == jitter.get_config() and copy.contrast_range == (0.5, 1.5)
    np.testing.assert_allclose(copy(mid_images[:16]), jitter(mid_images[:16]), atol=1e-6)
    layer = ColorJitter(0.4, 0.4, 0.2, 0.1, seed=5)
    compiled = tf.function(lambda x: layer(x), jit_compile=True)
    out = np.asarray(compiled(tf.constant(mid_images[:16])))
    assert out.shape == (16, 8, 8, 3) and 0.0 <= out.min() and out.max() <= 1.0
    with pytest.raises(ValueError, match="RGB"):
        ColorJitter(0.4)(mid_images[..., :1])
    with pytest.raises(ValueError, match="hue"):
        ColorJitter(hue=0.7)


# ---------------------------------------------------------------- GaussianBlur


def impulse_images(n, size=33):
    x = np.zeros((n, size, size, 1), np.float32)
    x[:, size // 2, size // 2] = 1.0
    return x


def second_moments(blurred):
    """Per image, the variance of the blurred impulse along the rows and along the columns."""
    size = blurred.shape[1]
    t = np.arange(size) - size // 2
    rows, cols = blurred[..., 0].sum(axis=2), blurred[..., 0].sum(axis=1)
    return (rows * t**2).sum(axis=1) / rows.sum(axis=1), (cols * t**2).sum(axis=1) / cols.sum(axis=1)


def test_blur_draws_one_isotropic_sigma_per_image():
    out = np.asarray(GaussianBlur((0.1, 2.0), seed=0)(impulse_images(300)))
    var_rows, var_cols = second_moments(out)
    np.testing.assert_allclose(var_rows, var_cols, rtol=1e-5)  # the same σ along both axes
    sigma = np.sqrt(var_rows)
    # PIL's three extended box passes have variance exactly σ², small σ included: σ per image, uniform on [0.1, 2]
    assert sigma.min() >= 0.1 - 1e-3 and sigma.max() <= 2.0 + 1e-3
    assert np.std(sigma) == pytest.approx(1.9 / np.sqrt(12), rel=0.15) and abs(np.mean(sigma) - 1.05) < 0.1


@pytest.mark.parametrize("sigma", [0.1, 0.3, 0.7, 1.3, 2.0])
def test_blur_matches_pil_gaussian_blur(sigma):
    """The σ-sized blur against PIL's ``GaussianBlur(radius=σ)`` on an 8-bit step edge, borders included: within PIL's
    rounding to 8 bits after each of its passes."""
    from PIL import Image, ImageFilter

    image = np.zeros((24, 24, 3), np.uint8)
    image[:, :9] = 255
    image[5:12, 14:20, 1] = 200
    reference = np.asarray(Image.fromarray(image).filter(ImageFilter.GaussianBlur(radius=sigma)), np.float64)
    out = np.asarray(GaussianBlur((sigma, sigma))(image[None].astype(np.float32) / 255.0))[0] * 255.0
    assert np.abs(out - reference).max() < 2.0


def test_blur_kernel_follows_sigma_not_the_image_side():
    """At σ = 2 a 32-px image blurs as σ = 2 (Keras' blur, 10 % of the side, caps it near 0.8)."""
    out = np.asarray(GaussianBlur((2.0, 2.0))(impulse_images(2)))
    assert np.sqrt(second_moments(out)[0]) == pytest.approx([2.0, 2.0], rel=1e-4)
    three_taps = np.asarray(GaussianBlur((2.0, 2.0), kernel_size=3)(impulse_images(2)))
    assert np.sqrt(second_moments(three_taps)[0])[0] < 0.85  # torchvision's kernel_size=3 caps it
    taps = GaussianBlur((1.0, 1.0), kernel_size=5).kernels(np.array([1.0], np.float32))
    expected = np.exp(-0.5 * np.arange(-2, 3) ** 2)
    np.testing.assert_allclose(np.asarray(taps)[0], expected / expected.sum(), rtol=1e-6)  # torchvision's kernel


def test_blur_borders_serialization_and_errors():
    flat = np.full((2, 16, 16, 3), 0.3, np.float32)
    ramp = flat + np.linspace(0, 0.5, 16, dtype=np.float32)[None, :, None, None]
    for make in (lambda: GaussianBlur((1.0, 2.0), seed=1), lambda: GaussianBlur((1.0, 2.0), kernel_size=5, seed=1)):
        blur = make()
        copy = round_trip(blur)  # unused twins: the same seed and state
        assert copy.get_config() == blur.get_config()
        np.testing.assert_allclose(copy(ramp), blur(ramp), atol=1e-6)
        np.testing.assert_allclose(make()(flat), 0.3, atol=1e-6)  # no darkened frame
    edge = np.zeros((1, 16, 16, 1), np.float32)
    edge[:, :, :8] = 1.0
    out = np.asarray(GaussianBlur((1.5, 1.5))(edge))
    np.testing.assert_allclose(out[0, :, 0, 0], 1.0, atol=1e-6)  # the border pixel is repeated (PIL)
    np.testing.assert_array_equal(GaussianBlur()(edge, training=False), edge)
    with pytest.raises(ValueError, match="odd"):
        GaussianBlur(kernel_size=4)
    with pytest.raises(ValueError, match="border"):
        GaussianBlur(border="zeros")
    layer = GaussianBlur(seed=0)
    compiled = tf.function(lambda x: layer(x), jit_compile=True)
    assert tuple(compiled(tf.constant(flat)).shape) == (2, 16, 16, 3)


# ---------------------------------------------------------------- crops and normalisation


def test_bicubic_crop_keeps_a_full_box_and_serializes():
    x = np.random.default_rng(0).random((4, 16, 16, 3)).astype(np.float32)
    crop = RandomResizedCrop(16, 16, interpolation="bicubic", seed=0)
    copy = round_trip(crop)  # an unused twin: the same seed and state
    np.testing.assert_allclose(crop(x, training=False), x, atol=1e-6)  # the whole image at its own size
    assert copy.interpolation == "bicubic" and copy.value_range == (0.0, 1.0)
    out = np.asarray(crop(x, training=True))
    assert out.shape == (4, 16, 16, 3) and out.min() >= 0.0 and out.max() <= 1.0  # clipped overshoot
    np.testing.assert_allclose(copy(x, training=True), out, atol=1e-6)
    with pytest.raises(ValueError, match="interpolation"):
        RandomResizedCrop(8, 8, interpolation="nearest")


def test_normalize_layer():
    x = np.full((1, 2, 2, 3), 0.5, np.float32)
    mean, std = NORMALIZATION["cifar100"]
    np.testing.assert_allclose(Normalize(normalize="cifar100")(x)[0, 0, 0], (0.5 - np.array(mean)) / np.array(std),
                               rtol=1e-5)
    assert round_trip(Normalize(normalize="stl10")).mean == NORMALIZATION["stl10"][0]
    with pytest.raises(ValueError, match="unknown normalization"):
        Normalize(normalize="svhn")
    with pytest.raises(ValueError, match="channel"):
        Normalize(mean=(0.5, 0.5), std=(0.2, 0.2))(x)


# ---------------------------------------------------------------- presets and recipes


def _jitter(view):
    layer = view.get_layer("jitter")
    return layer.rate, (layer.layer.brightness, layer.layer.contrast, layer.layer.saturation, layer.layer.hue)


def _rates(view):
    return {layer.name: layer.rate for layer in view.layers if isinstance(layer, RandomApply)}


def test_solo_learn_presets_follow_its_yaml_files():
    # scripts/pretrain/cifar/augmentations/*.yaml and vicreg.yaml at solo-learn 9187ea3 (spec/protocols.md §3)
    symmetric = augmenter("solo_symmetric", image_size=32, seed=0)
    assert _jitter(symmetric) == (0.8, (0.8, 0.8, 0.8, 0.2))
    assert _rates(symmetric) == {"jitter": 0.8, "grayscale": 0.2, "blur": 0.5}
    assert symmetric.get_layer("blur").layer.kernel_size is None  # PIL's σ-sized blur
    weak = augmenter("solo_symmetric_weak", image_size=32, seed=0)
    assert _jitter(weak) == (0.8, (0.4, 0.4, 0.4, 0.1)) and _rates(weak)["blur"] == 0.5
    view1, view2 = augmenter("solo_asymmetric", image_size=32, seed=0)
    assert _jitter(view1) == _jitter(view2) == (0.8, (0.4, 0.4, 0.2, 0.1))
    assert _rates(view1) == {"jitter": 0.8, "grayscale": 0.2}
    assert _rates(view2) == {"jitter": 0.8, "grayscale": 0.2, "solarize": 0.2}
    vicreg = augmenter("solo_vicreg", image_size=32, seed=0)
    assert vicreg.get_layer("crop").scale == (0.2, 1.0) and _jitter(vicreg) == (0.8, (0.4, 0.4, 0.2, 0.1))
    assert _rates(vicreg) == {"jitter": 0.8, "grayscale": 0.2, "solarize": 0.1}
    for view in (symmetric, weak, view1, view2, vicreg):
        crop = view.get_layer("crop")
        assert (crop.interpolation, crop.ratio) == ("bicubic", (0.75, 4 / 3))
    normalized = augmenter("solo_vicreg", image_size=32, normalize="cifar10", seed=0)
    assert normalized.layers[-1].name == "normalize"
    assert float(np.min(normalized(np.zeros((2, 32, 32, 3), np.float32)))) < -1.5  # (0 − 0.49) / 0.25


def test_recipe_augmenters_are_the_runs_views():
    views = recipe_augmenters("barlow_twins_resnet18_bs256-1000e_cifar10")
    assert len(views) == 2 and views[0] is not views[1]
    assert [v.name for v in views] == ["solo_asymmetric_view1", "solo_asymmetric_view2"]
    symmetric = recipe_augmenters("vicreg_resnet18_bs256-1000e_cifar10")
    assert symmetric[0] is symmetric[1] and symmetric[0].get_layer("crop").scale == (0.2, 1.0)
    x = np.random.default_rng(0).random((4, 32, 32, 3)).astype(np.float32)
    # seeded with the recipe's seed (0) by default: the same views as the run's augmenter
    np.testing.assert_allclose(symmetric[0](x), augmenter("solo_vicreg", image_size=(32, 32), seed=0)(x), atol=1e-6)
    digits = recipe_augmenters("vicreg_mlp_bs256-100e_digits", seed=1)
    assert digits[0].name == "digits_augmenter"


def test_recipe_augmenters_need_a_size_for_a_folder(tmp_path):
    path = tmp_path / "folder.toml"
    path.write_text('[train]\nmethod = "vicreg"\ndataset = "/data/my_images"\n', encoding="utf-8")
    with pytest.raises(ValueError, match="image_size"):
        recipe_augmenters(str(path))
    assert recipe_augmenters(str(path), image_size=24)[0](np.zeros((2, 24, 24, 3), np.float32)).shape == (2, 24, 24, 3)
    knn = tmp_path / "knn.toml"
    knn.write_text('[train]\npairs = "knn"\n', encoding="utf-8")
    with pytest.raises(ValueError, match="knn pairs"):
        recipe_augmenters(str(knn))
