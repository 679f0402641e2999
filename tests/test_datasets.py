"""Dataset sources: TFDS (under tfds.testing.mock_data), folders of images, .npz/.npy files, name checks."""

import os
import time
from unittest import mock

import numpy as np
import pytest

from kspectral.data import DATASETS, ImageDataset, check_dataset_name, digits, load
from kspectral.data.datasets import default_augment

tfds = pytest.importorskip("tensorflow_datasets")

# name → (image shape at the default size, classes, default augmentation)
TFDS_EXPECTED = {
    "cifar10": ((32, 32, 3), 10, "cifar"),
    "cifar100": ((32, 32, 3), 100, "cifar"),
    "stl10": ((96, 96, 3), 10, "simclr"),
    "imagenette": ((128, 128, 3), 10, "simclr"),
    "mnist": ((28, 28, 1), 10, "digits"),
    "fashion_mnist": ((28, 28, 1), 10, "digits"),
}


def _check_arrays(ds, n, shape, num_classes):
    for x, y in ((ds.x_train, ds.y_train), (ds.x_test, ds.y_test)):
        assert x.shape == (n, *shape) and x.dtype == np.float32
        assert 0.0 <= x.min() and x.max() <= 1.0 and x.std() > 0.05  # uint8 noise scaled to [0, 1]
        assert y.shape == (n,) and y.dtype == np.int64 and 0 <= y.min() and y.max() < num_classes


# ----------------------------------------------------------------------------------------------------------- TFDS
@pytest.mark.parametrize("name", sorted(TFDS_EXPECTED))
def test_known_tfds_datasets_load(name):
    shape, num_classes, augment = TFDS_EXPECTED[name]
    with tfds.testing.mock_data(num_examples=3):
        ds = load(name)
    _check_arrays(ds, 3, shape, num_classes)
    assert ds.labelled and ds.num_classes == num_classes and len(ds.class_names) == num_classes
    assert ds.image_shape == shape and ds.channels == shape[-1] and ds.default_augment == augment
    assert name in DATASETS and "TFDS" in ds.source
    if name != "stl10":
        assert ds.pretrain is None and ds.num_pretrain == 3


def _split_spy():
    """``(as_dataset, splits)``: TFDS's (mocked) ``as_dataset`` recording the splits it is asked for."""
    mocked, splits = tfds.core.DatasetBuilder.as_dataset, []

    def as_dataset(builder, split=None, **kwargs):
        splits.append(split)
        return mocked(builder, split=split, **kwargs)

    return as_dataset, splits


def test_stl10_pretrains_on_unlabelled_and_train():
    with tfds.testing.mock_data(num_examples=4):
        spy, splits = _split_spy()
        with mock.patch.object(tfds.core.DatasetBuilder, "as_dataset", spy):
            ds = load("stl10", image_size=16, seed=3)
            images = np.stack(list(ds.pretrain_images().as_numpy_iterator()))
    assert {"train", "test", "unlabelled"} <= set(splits)
    assert ds.x_train.shape == (4, 16, 16, 3) and ds.x_test.shape == (4, 16, 16, 3)
    assert ds.num_pretrain == 8 and int(ds.pretrain.cardinality()) == 8  # 4 unlabelled + 4 train
    assert images.shape == (8, 16, 16, 3) and images.dtype == np.float32
    assert 0.0 <= images.min() and images.max() <= 1.0
    assert "Coates" in __import__("kspectral.data.tfds_source", fromlist=["x"]).__doc__


def test_tfds_prefix_and_image_size():
    with tfds.testing.mock_data(num_examples=5):
        ds = load("tfds:mnist", image_size=(12, 10))
    _check_arrays(ds, 5, (12, 10, 1), 10)
    assert ds.name == "tfds:mnist" and ds.default_augment == "digits"


def test_unprepared_tfds_dataset_fails_at_once(tmp_path):
    tfds.builder("cifar10", data_dir=str(tmp_path))  # warm the TFDS import, not part of the timing
    started = time.perf_counter()
    with pytest.raises(ValueError) as info:
        load("cifar10", data_dir=str(tmp_path))
    assert time.perf_counter() - started < 1.0  # tfds.load would retry downloads for minutes
    message = str(info.value)
    assert message.startswith(f"cifar10 is not prepared in {tmp_path}")
    assert "tfds build cifar10 --data_dir DIR" in message and "--data-dir DIR" in message
    with pytest.raises(ValueError, match="stl10 is not prepared"):
        load("stl10", data_dir=str(tmp_path))


def test_unknown_and_bad_tfds_names(tmp_path):
    with pytest.raises(ValueError, match="unknown TFDS dataset 'cifar1O'.*cifar10, cifar100, stl10"):
        load("tfds:cifar1O", data_dir=str(tmp_path))
    with pytest.raises(ValueError, match="BuilderConfig foo not found.*160px-v2"):
        load("tfds:imagenette/foo", data_dir=str(tmp_path))


def test_tfds_over_memory_budget_streams_pretraining():
    per_image = 32 * 32 * 3 * 4
    with tfds.testing.mock_data(num_examples=10), pytest.warns(UserWarning, match="exceed the memory budget"):
        ds = load("cifar10", memory_budget=8 * per_image, cache_budget=1)
        streamed = list(ds.pretrain_images().as_numpy_iterator())
    assert len(ds.x_train) == 4 and len(ds.x_test) == 4  # the budget holds 8 of the 20 labelled images
    assert ds.num_pretrain == 10 and len(streamed) == 10 and streamed[0].shape == (32, 32, 3)


def test_tfds_without_test_split_holds_out_the_end_of_train(monkeypatch):
    from kspectral.data import tfds_source

    info = type("Info", (), {"splits": {"train": None, "extra": None}})()
    assert tfds_source._splits(type("B", (), {"info": info})(), "x", None) == ("train", None, ())
    info.splits = {"train": None, "validation": None}
    assert tfds_source._splits(type("B", (), {"info": info})(), "x", None) == ("train", "validation", ())
    monkeypatch.setattr(tfds_source, "_splits", lambda *args: ("train", None, ()))
    with tfds.testing.mock_data(num_examples=10):
        spy, splits = _split_spy()
        with mock.patch.object(tfds.core.DatasetBuilder, "as_dataset", spy):
            ds = load("tfds:mnist", test_size=0.3)
    assert "train[:7]" in splits and "train[7:]" in splits
    assert ds.x_test is not None and "(train[:7]/train[7:])" in ds.source


def test_tfds_varying_image_size_needs_image_size():
    with tfds.testing.mock_data(num_examples=2), pytest.raises(ValueError, match="vary in size.*image_size"):
        load("tfds:caltech101")
    with tfds.testing.mock_data(num_examples=2):
        ds = load("tfds:imagenette/160px-v2")  # a config of a known dataset keeps its default size and splits
    assert ds.image_shape == (128, 128, 3) and "(train/validation)" in ds.source


# -------------------------------------------------------------------------------------------------- image folders
def _png(path, array):
    from PIL import Image

    os.makedirs(os.path.dirname(path), exist_ok=True)
    Image.fromarray(np.asarray(array, np.uint8)).save(path)


@pytest.fixture
def class_folder(tmp_path):
    """Three classes × 5 images; class k is the constant gray 40·k + 20, some saved as grayscale, some as RGB."""
    root = tmp_path / "classes"
    for k, name in enumerate(["cat", "dog", "eel"]):
        for i in range(5):
            value = np.full((6, 4), 40 * k + 20)
            image = value if i % 2 else np.stack([value] * 3, axis=-1)
            _png(str(root / name / ("sub" if i == 4 else "") / f"{i}.png"), image)
    (root / "notes.txt").write_text("not an image")
    return root


def test_folder_with_class_subfolders(class_folder):
    ds = load(str(class_folder), test_size=0.2, seed=1)
    assert ds.class_names == ("cat", "dog", "eel") and ds.num_classes == 3 and ds.labelled
    assert ds.x_train.shape == (12, 6, 4, 3) and ds.x_test.shape == (3, 6, 4, 3)  # mixed gray/RGB → RGB
    assert sorted(ds.y_test) == [0, 1, 2]  # stratified
    for x, y in ((ds.x_train, ds.y_train), (ds.x_test, ds.y_test)):
        np.testing.assert_allclose(x.reshape(len(x), -1).mean(axis=1), (40 * y + 20) / 255, atol=1e-6)
    assert ds.default_augment == "simclr" and ds.pretrain is None and ds.num_pretrain == 12
    again = load(str(class_folder), test_size=0.2, seed=1)
    np.testing.assert_array_equal(again.y_train, ds.y_train)


def test_folder_resize_centre_crops(tmp_path):
    tall = np.zeros((20, 10), np.uint8)
    tall[5:15] = 255  # the centre 10×10 square is white, the ends black
    for i in range(3):
        _png(str(tmp_path / "f" / f"{i}.png"), tall)
    ds = load(str(tmp_path / "f"), image_size=8)
    assert ds.x_train.shape == (3, 8, 8, 1) and ds.channels == 1
    np.testing.assert_allclose(ds.x_train, 1.0, atol=1e-6)


def test_flat_folder_is_unlabelled(tmp_path):
    for i in range(7):
        _png(str(tmp_path / "flat" / f"{i}.png"), np.full((5, 5, 3), 10 * i))
    ds = load(str(tmp_path / "flat"))
    assert not ds.labelled and ds.y_train is None and ds.y_test is None and ds.num_classes is None
    assert ds.x_test is None and ds.x_train.shape == (7, 5, 5, 3) and "unlabelled" in ds.describe()
    np.testing.assert_allclose(np.sort(ds.x_train[:, 0, 0, 0]), np.arange(7) * 10 / 255, atol=1e-6)
    with pytest.raises(ValueError, match="no test split"):
        ds.flat("test")
    # a single class folder carries no label information: it counts as a flat folder
    single = tmp_path / "single"
    for i in range(3):
        _png(str(single / "images" / f"{i}.png"), np.zeros((4, 4)))
    assert not load(str(single)).labelled


def test_folder_errors(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="contains no images"):
        load(str(tmp_path / "empty"))
    _png(str(tmp_path / "sizes" / "a.png"), np.zeros((4, 4)))
    _png(str(tmp_path / "sizes" / "b.png"), np.zeros((5, 4)))
    with pytest.raises(ValueError, match=r"differ in size: .*a\.png is 4×4.*b\.png is 4×5.*--image-size"):
        load(str(tmp_path / "sizes"))
    assert load(str(tmp_path / "sizes"), image_size=3).x_train.shape == (2, 3, 3, 1)
    (tmp_path / "sizes" / "c.png").write_bytes(b"not a png")
    with pytest.raises(ValueError, match=r"cannot read image .*c\.png"):
        load(str(tmp_path / "sizes"), image_size=3)
    # a truncated PNG passes Pillow's header check and fails in TensorFlow's decoder: still named
    _png(str(tmp_path / "trunc" / "ok.png"), np.random.default_rng(0).integers(0, 255, (30, 30)))
    _png(str(tmp_path / "trunc" / "cut.png"), np.random.default_rng(1).integers(0, 255, (30, 30)))
    data = (tmp_path / "trunc" / "cut.png").read_bytes()
    (tmp_path / "trunc" / "cut.png").write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match=r"cannot decode image .*cut\.png"):
        load(str(tmp_path / "trunc"))
    _png(str(tmp_path / "mixed" / "top.png"), np.zeros((4, 4)))
    _png(str(tmp_path / "mixed" / "a" / "x.png"), np.zeros((4, 4)))
    _png(str(tmp_path / "mixed" / "b" / "y.png"), np.zeros((4, 4)))
    with pytest.raises(ValueError, match="top level .* and in class subfolders"):
        load(str(tmp_path / "mixed"))
    _png(str(tmp_path / "tiny" / "a" / "x.png"), np.zeros((4, 4)))
    _png(str(tmp_path / "tiny" / "b" / "y.png"), np.zeros((4, 4)))
    with pytest.raises(ValueError, match="stratified by label"):
        load(str(tmp_path / "tiny"), test_size=0.2)  # classes of one image each


def test_folder_over_memory_budget_streams_all_training_images(class_folder):
    budget = 5 * 6 * 4 * 3 * 4  # five float32 images
    with pytest.warns(UserWarning, match="memory budget"):
        ds = load(str(class_folder), memory_budget=budget)
    assert len(ds.x_train) + len(ds.x_test) <= 5 and ds.num_pretrain == 12
    streamed = np.stack(list(ds.pretrain_images().as_numpy_iterator()))
    assert streamed.shape == (12, 6, 4, 3)
    # every class's gray level shows up 4 times (the 12 training images, 4 per class)
    levels = np.round(streamed.mean(axis=(1, 2, 3)) * 255).astype(int)
    assert sorted(np.unique(levels, return_counts=True)[1]) == [4, 4, 4]


# ------------------------------------------------------------------------------------------------------ arrays
def test_npz_with_labels_is_split_and_scaled(tmp_path):
    x = np.random.default_rng(0).integers(0, 256, (20, 4, 4), dtype=np.uint8)
    y = np.repeat([3, 5], 10)
    np.savez(tmp_path / "d.npz", x=x, y=y)
    ds = load(str(tmp_path / "d.npz"), test_size=0.2, seed=0)
    assert ds.x_train.shape == (16, 4, 4, 1) and ds.x_test.shape == (4, 4, 4, 1)
    assert ds.num_classes == 6 and sorted(ds.y_test) == [3, 3, 5, 5]  # integer labels kept, stratified
    flat_x = x.reshape(20, -1).astype(np.float32) / 255
    for row, label in zip(ds.flat("train"), ds.y_train):
        match = np.flatnonzero(np.all(np.isclose(flat_x, row), axis=1))
        assert len(match) == 1 and y[match[0]] == label
    assert ds.default_augment == "digits" and ds.channels == 1


def test_npz_with_test_arrays_and_string_labels(tmp_path):
    x = np.linspace(0, 1, 6 * 8, dtype=np.float32).reshape(6, 8)
    np.savez(tmp_path / "f.npz", x=x * 7 - 3, y=np.array(["b", "a", "b", "a", "c", "c"]),
             x_test=x[:2], y_test=np.array(["c", "a"]))
    ds = load(str(tmp_path / "f.npz"))
    assert ds.image_shape == (8,) and ds.channels is None and ds.default_augment is None
    np.testing.assert_allclose(ds.x_train, x * 7 - 3, rtol=1e-6)  # features are not rescaled
    assert ds.class_names == ("a", "b", "c")
    np.testing.assert_array_equal(ds.y_train, [1, 0, 1, 0, 2, 2])
    np.testing.assert_array_equal(ds.y_test, [2, 0])


def test_npz_and_npy_without_labels(tmp_path):
    x = np.random.default_rng(1).random((9, 3, 3, 3)).astype(np.float32)
    np.savez(tmp_path / "u.npz", x=x, x_test=x[:2])
    ds = load(str(tmp_path / "u.npz"))
    assert not ds.labelled and ds.x_test.shape == (2, 3, 3, 3) and ds.default_augment == "cifar"
    np.testing.assert_array_equal(ds.x_train, x)
    np.save(tmp_path / "u.npy", (x * 255).astype(np.uint8))
    ds = load(str(tmp_path / "u.npy"))
    assert not ds.labelled and ds.x_test is None and ds.x_train.shape == (9, 3, 3, 3)
    np.testing.assert_allclose(ds.x_train, np.floor(x * 255) / 255, atol=1e-6)


def test_array_file_errors(tmp_path):
    def bad(match, **arrays):
        np.savez(tmp_path / "bad.npz", **arrays)
        with pytest.raises(ValueError, match=match):
            load(str(tmp_path / "bad.npz"))

    x = np.zeros((4, 2), np.float32)
    bad("no array 'x'.*it has: images", images=x)
    bad("does not read: z", x=x, z=x)
    bad("y_test but no x_test", x=x, y=[0, 1, 0, 1], y_test=[0])
    bad("no y_test", x=x, y=[0, 1, 0, 1], x_test=x)
    bad("one label per sample", x=x, y=[0, 1])
    bad("NaN", x=np.full((4, 2), np.nan))
    bad(r"shape \(N, D\)", x=np.zeros(4))
    with pytest.raises(ValueError, match="own size"):
        load(str(tmp_path / "bad.npz"), image_size=4)


# ------------------------------------------------------------------------------------------- names and digits
def test_check_dataset_name(tmp_path):
    (tmp_path / "imgs").mkdir()
    np.save(tmp_path / "a.npy", np.zeros((2, 2)))
    (tmp_path / "a.txt").write_text("x")
    started = time.perf_counter()
    for ok in ("digits", "cifar10", "fashion_mnist", "tfds:caltech101", "tfds:imagenette/160px-v2",
               "tfds:mnist:3.*.*", str(tmp_path / "imgs"), str(tmp_path / "a.npy")):
        assert check_dataset_name(ok) == ok
    assert time.perf_counter() - started < 0.1
    with pytest.raises(ValueError, match="unknown dataset 'cifar-10' \\(did you mean 'cifar10'\\?\\).*tfds:NAME"):
        check_dataset_name("cifar-10")
    with pytest.raises(ValueError, match="bad TFDS dataset 'tfds:'"):
        check_dataset_name("tfds:")
    with pytest.raises(ValueError, match="does not exist"):
        check_dataset_name(str(tmp_path / "missing"))
    with pytest.raises(ValueError, match="does not exist"):
        check_dataset_name("missing.npz")
    with pytest.raises(ValueError, match="not an .npz or .npy"):
        check_dataset_name(str(tmp_path / "a.txt"))
    with pytest.raises(ValueError, match="unknown dataset 'imagenet-1k'"):
        load("imagenet-1k")


def test_digits_through_load_is_unchanged():
    ds = load("digits", test_size=0.2, seed=0)
    ref = digits()
    np.testing.assert_array_equal(ds.x_test, ref.x_test)
    np.testing.assert_array_equal(ds.y_train, ref.y_train)
    assert ds.default_augment == "digits" and ds.labelled and ds.num_pretrain == 1437 and ds.channels == 1
    first = next(iter(ds.pretrain_images())).numpy()
    np.testing.assert_array_equal(first, ds.x_train[0])
    assert repr(ds) == "ImageDataset(digits: 1437 train / 360 test samples of 8×8×1, 10 classes)"
    with pytest.raises(ValueError, match="fixed 8×8"):
        load("digits", image_size=16)
    with pytest.raises(ValueError, match="test_size"):
        load("digits", test_size=1.5)


def test_image_dataset_checks_and_default_augment():
    x = np.zeros((4, 8, 8, 3), np.float32)
    with pytest.raises(ValueError, match="both y_train and num_classes"):
        ImageDataset("t", x, np.zeros(4, np.int64), None, None, num_classes=None)
    with pytest.raises(ValueError, match="one label per image"):
        ImageDataset("t", x, np.zeros(3, np.int64), None, None, num_classes=1)
    assert ImageDataset("t", x, None, None, None, None).default_augment == "cifar"
    assert [default_augment(s) for s in [(32, 32, 3), (96, 96, 3), (28, 28, 1), (10,), (8, 8, 4)]] == [
        "cifar", "simclr", "digits", None, None]
