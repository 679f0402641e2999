"""Built-in encoders: the small ones, the ResNets (parameter counts of the field) and keras.applications models."""

import keras
import numpy as np
import pytest

from kspectral.encoders import ENCODERS, application_names, build_encoder, choose_stem, keras_application
from kspectral.encoders.resnet import resnet_encoder


def _trainable(model):
    return sum(int(np.prod(w.shape)) for w in model.trainable_weights)


def _layer_types(model):
    return {type(layer).__name__ for layer in model.layers}


@pytest.mark.parametrize(
    ("name", "shape", "stem", "params", "dim"),
    [
        # torchvision's resnet18/34/50 without fc (11,176,512 / 21,284,672 / 23,508,032); the CIFAR stem swaps the
        # 7×7×3×64 conv1 (9,408 weights) for a 3×3×3×64 one (1,728).
        ("resnet18", (32, 32, 3), "cifar", 11_168_832, 512),
        ("resnet18", (96, 96, 3), "imagenet", 11_176_512, 512),
        ("resnet34", (32, 32, 3), "cifar", 21_276_992, 512),
        ("resnet50", (32, 32, 3), "cifar", 23_500_352, 2048),
        ("resnet50", (96, 96, 3), "imagenet", 23_508_032, 2048),
    ],
)
def test_resnet_parameter_counts_match_the_field(name, shape, stem, params, dim):
    model = build_encoder(name, shape, stem=stem)
    assert _trainable(model) == params
    assert model.output_shape == (None, dim)
    assert ("MaxPooling2D" in _layer_types(model)) == (stem == "imagenet")
    assert model.get_layer("conv1").kernel.shape == ((3, 3, 3, 64) if stem == "cifar" else (7, 7, 3, 64))


def test_resnet18_forward_pass():
    keras.utils.set_random_seed(0)
    model = build_encoder("resnet18", (32, 32, 3))
    x = np.random.default_rng(0).uniform(size=(2, 32, 32, 3)).astype("float32")
    z = keras.ops.convert_to_numpy(model(x, training=False))
    assert z.shape == (2, 512)
    assert np.all(np.isfinite(z)) and np.all(z >= 0)  # average of ReLU outputs
    assert not np.allclose(z[0], z[1])  # different images, different representations
    z_train = keras.ops.convert_to_numpy(model(x, training=True))
    assert z_train.shape == (2, 512) and np.all(np.isfinite(z_train))


def test_stem_auto_choice():
    assert choose_stem((32, 32, 3)) == "cifar"
    assert choose_stem((64, 64, 3)) == "cifar"
    assert choose_stem((96, 96, 3)) == "imagenet"
    assert choose_stem((224, 32, 3)) == "imagenet"
    assert choose_stem((96, 96, 3), "cifar") == "cifar"
    assert "MaxPooling2D" not in _layer_types(build_encoder("resnet18", (64, 64, 3)))
    assert "MaxPooling2D" in _layer_types(build_encoder("resnet18", (96, 96, 3), stem="auto"))
    with pytest.raises(ValueError, match="needs the image size"):
        choose_stem((None, None, 3))
    with pytest.raises(ValueError, match="unknown stem 'tiny'"):
        build_encoder("resnet18", (32, 32, 3), stem="tiny")


def test_resnet_grayscale_and_small_images():
    model = build_encoder("resnet18", (28, 28, 1))
    assert _trainable(model) == 11_168_832 - 3 * 3 * 2 * 64  # conv1 sees one channel instead of three
    z = model(np.zeros((2, 28, 28, 1), "float32"), training=False)
    assert tuple(z.shape) == (2, 512)
    assert tuple(build_encoder("resnet18", (8, 8, 1))(np.ones((1, 8, 8, 1), "float32")).shape) == (1, 512)
    # Open image sizes work with an explicit stem.
    open_size = build_encoder("resnet18", (None, None, 3), stem="cifar")
    assert tuple(open_size(np.zeros((1, 40, 24, 3), "float32")).shape) == (1, 512)


def test_resnet_options():
    plain = resnet_encoder(18, (32, 32, 3))
    zero = resnet_encoder(18, (32, 32, 3), zero_init_residual=True, synchronized=True)
    last_bns = [layer for layer in zero.layers if layer.name.endswith("_bn2")]
    assert len(last_bns) == 8  # one per basic block
    assert all(np.all(layer.gamma.numpy() == 0.0) for layer in last_bns)
    assert np.all(zero.get_layer("bn1").gamma.numpy() == 1.0)
    assert np.all(plain.get_layer("layer1_0_bn2").gamma.numpy() == 1.0)
    bns = [layer for layer in zero.layers if isinstance(layer, keras.layers.BatchNormalization)]
    assert bns and all(layer.synchronized for layer in bns)
    assert not any(layer.synchronized for layer in plain.layers if isinstance(layer, keras.layers.BatchNormalization))
    # With zero-initialised residual branches every block starts as the identity on its shortcut.
    x = np.random.default_rng(1).uniform(size=(1, 32, 32, 3)).astype("float32")
    block_in = keras.Model(zero.input, zero.get_layer("relu1").output)(x, training=False)
    block_out = keras.Model(zero.input, zero.get_layer("layer1_0_out").output)(x, training=False)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(block_out), keras.ops.convert_to_numpy(block_in))
    bottleneck = resnet_encoder(50, (32, 32, 3), zero_init_residual=True)
    assert np.all(bottleneck.get_layer("layer4_2_bn3").gamma.numpy() == 0.0)
    narrow = build_encoder("resnet18", (32, 32, 3), widths="16-32-64-128")
    assert narrow.output_shape == (None, 128)
    with pytest.raises(ValueError, match="4 stages"):
        build_encoder("resnet18", (32, 32, 3), widths="64-128")
    with pytest.raises(ValueError, match="unsupported ResNet depth 101"):
        resnet_encoder(101, (32, 32, 3))
    with pytest.raises(ValueError, match=r"\(height, width, channels\)"):
        build_encoder("resnet18", (32, 32))


def test_small_encoders_still_build():
    assert set(ENCODERS) == {"mlp", "conv", "resnet18", "resnet34", "resnet50"}
    assert build_encoder("mlp", (8, 8, 1)).output_shape == (None, 256)
    assert build_encoder("conv", (8, 8, 1), widths="8-16").output_shape == (None, 16)
    assert build_encoder("conv", (8, 8, 1), stem="auto").output_shape == (None, 128)
    with pytest.raises(ValueError, match="no stem option"):
        build_encoder("conv", (8, 8, 1), stem="cifar")
    with pytest.raises(ValueError, match="does not take zero_init_residual"):
        build_encoder("mlp", (8, 8, 1), zero_init_residual=True)


def test_unknown_encoder_names():
    with pytest.raises(ValueError, match="unknown encoder 'resnet101'.*keras:NAME"):
        build_encoder("resnet101", (32, 32, 3))
    with pytest.raises(ValueError, match="unknown keras.applications model 'NoSuchNet'.*ResNet50.*MobileNetV2"):
        build_encoder("keras:NoSuchNet", (32, 32, 3))
    with pytest.raises(TypeError, match="pass a keras.Model directly"):
        build_encoder(keras.Sequential(), (32, 32, 3))


def test_keras_application_mobilenetv2():
    assert {"ResNet50", "MobileNetV2", "EfficientNetB0"} <= set(application_names())
    keras.utils.set_random_seed(0)
    model = build_encoder("keras:MobileNetV2", (32, 32, 3))
    assert model.output_shape == (None, 1280)
    assert model.get_layer("to_0_255").scale == 255.0
    raw = keras_application("mobilenetv2", (32, 32, 3), rescale_inputs=False)  # names are case-insensitive
    assert "Rescaling" not in _layer_types(raw)
    assert _trainable(raw) == _trainable(model)
    raw.set_weights(model.get_weights())
    x = np.random.default_rng(0).uniform(size=(2, 32, 32, 3)).astype("float32")
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(model(x, training=False)),
        keras.ops.convert_to_numpy(raw(255.0 * x, training=False)),
        rtol=1e-4,
        atol=1e-5,
    )


def test_keras_application_errors():
    with pytest.raises(ValueError, match="refuses input_shape=\\(16, 16, 3\\).*at least 32x32"):
        build_encoder("keras:MobileNetV2", (16, 16, 3))
    with pytest.raises(ValueError, match="fixed widths"):
        build_encoder("keras:MobileNetV2", (32, 32, 3), widths="64-128")
    with pytest.raises(ValueError, match="own stem"):
        build_encoder("keras:MobileNetV2", (32, 32, 3), stem="cifar")
    with pytest.raises(ValueError, match=r"\(height, width, channels\)"):
        keras_application("ResNet50", (64,))
