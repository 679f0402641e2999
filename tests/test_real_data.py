"""kspectral on data nobody in the project made, as a new user meets it (issue 20).

scikit-image's LFW subset (200 25×25 faces / non-faces; as an image folder, as arrays and as a TFDS dataset built
offline) and patches of scikit-learn's two sample photos, built in the tests (``tests/real_data.py``), from the
command line and from Keras code. One section per item of the issue.
"""

import json
import math
import os
import re
import subprocess
import sys

import keras
import numpy as np
import pytest
from PIL import Image

from kspectral_cli.main import main
from real_data import lfw, sample_patches, write_flat_folder, write_lfw_folder, write_lfw_tfds


def run_cli(args, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main([str(a) for a in args])
    captured = capsys.readouterr()
    return exit_info.value.code, captured.out, captured.err


@pytest.fixture(scope="module")
def lfw_data():
    from kspectral.data import from_arrays

    x, y = lfw()
    return from_arrays(x, y, test_size=0.2, seed=0)


@pytest.fixture(scope="module")
def lfw_folder(tmp_path_factory):
    return write_lfw_folder(tmp_path_factory.mktemp("lfw") / "lfw")


# ------------------------------------------------------------------- 1. the online probe curve and the final probe
def conv_vicreg_on_lfw(ds, epochs, calibration=1024):
    """The conv encoder of `kspectral train --encoder conv` trained with VICReg on LFW, batch 64, the monitor on."""
    from kspectral.callbacks import OnlineProbeMonitor
    from kspectral.data import augmented_pairs, augmenter_for
    from kspectral.encoders import build_encoder
    from kspectral.methods import VICReg

    keras.utils.set_random_seed(0)
    pairs = augmented_pairs(ds.x_train, augmenter_for(ds.image_shape, "digits", seed=0), batch_size=64,
                            labels=ds.y_train, seed=0)
    model = VICReg(encoder=build_encoder("conv", ds.image_shape), projector="256-256", online_probe_classes=2)
    model.compile(optimizer=keras.optimizers.AdamW(2e-3))
    monitor = OnlineProbeMonitor(ds.x_train, ds.y_train, ds.x_test, ds.y_test, calibration=calibration)
    history = model.fit(pairs, epochs=epochs, verbose=0, callbacks=[monitor]).history
    return model, monitor, history


def test_the_online_head_is_scored_with_the_batchnorm_statistics_it_trained_under(lfw_data):
    """10 steps: the moving BatchNorm averages still hold 0.99^20 ≈ 82 % of their initial values (two views per
    step), every test image falls in one class under them (top-1 0.50), while the head's training top-1 is above
    0.7; with the statistics re-estimated on training images the head scores as it trains."""
    from kspectral.callbacks import online_probe_top1
    from kspectral.probes import linear_probe

    ds = lfw_data
    model, monitor, history = conv_vicreg_on_lfw(ds, epochs=5)
    last = monitor.records[-1]
    assert last["online_linear_top1_moving_stats"] <= 0.55  # chance: 20 faces, 20 non-faces
    assert last["online_linear_top1"] >= 0.7 and history["online_linear_train_top1"][-1] >= 0.7
    assert history["online_linear_top1"][-1] == last["online_linear_top1"]
    calibration = monitor.x_train[monitor.calibration_index]
    assert online_probe_top1(model, ds.x_test, ds.y_test, calibration=calibration) == last["online_linear_top1"]
    assert online_probe_top1(model, ds.x_test, ds.y_test) == last["online_linear_top1_moving_stats"]
    # the monitor leaves the model as it was, bit for bit (moving statistics, momenta)
    before = [v.numpy().copy() for v in model.non_trainable_variables]
    features = model.encode(ds.x_test)
    monitor.evaluate()
    for variable, value in zip(model.non_trainable_variables, before):
        np.testing.assert_array_equal(variable.numpy(), value)
    np.testing.assert_array_equal(model.encode(ds.x_test), features)
    assert all(layer.momentum == 0.99 for layer in model.encoder.layers
               if isinstance(layer, keras.layers.BatchNormalization))
    # the offline probe, refitted on the inference-mode features, saw nothing wrong
    assert linear_probe(model.encode(ds.x_train), ds.y_train, features, ds.y_test) >= 0.9
    from kspectral.callbacks import OnlineProbeMonitor

    plain = OnlineProbeMonitor(ds.x_train, ds.y_train, ds.x_test, ds.y_test, calibration=0)  # the old behaviour
    plain.set_model(model)
    assert plain.evaluate()["online_linear_top1"] == last["online_linear_top1_moving_stats"]


@pytest.mark.slow
def test_train_warns_on_screen_in_metrics_and_in_the_plot_when_the_online_curve_lags(lfw_folder, tmp_path, capsys):
    """The reported run: LFW as a folder, conv encoder, 20 epochs of batch 64 (40 steps). Before, the curve sat at
    exactly 0.50 for 20 epochs beside an offline probe of 1.00; now it follows the head's training top-1 (0.70 to
    0.80) and the run says that the head, 40 steps old, lags the offline probe."""
    out = tmp_path / "conv"
    code, printed, err = run_cli(["train", "--dataset", lfw_folder, "--encoder", "conv", "--epochs", "20",
                                  "--batch-size", "64", "--out", out], capsys)
    assert code == 0, err
    from kspectral.plots import read_history

    history = read_history(out / "history.csv")
    assert history["online_linear_top1"].min() >= 0.65  # never at chance (0.50 on 20 + 20 test images)
    metrics = json.loads((out / "metrics.json").read_text())
    behind = [w for w in metrics["warnings"] if w["code"] == "online_probe_behind"]
    offline = metrics["probes"]["vicreg encoder"]["linear_top1"]
    assert len(behind) == 1 and offline >= 0.95
    assert f"below the offline linear probe of the same encoder, {offline:.3f}" in behind[0]["message"]
    assert "after 40 steps of its head" in behind[0]["message"]
    assert f"warning: {behind[0]['message']}" in " ".join(printed.split())
    code, printed, err = run_cli(["plot", out], capsys)
    assert code == 0, err
    with Image.open(out / "plots" / "training_curves.png") as image:
        description = image.text["Description"]
    assert description.endswith(f"note: {behind[0]['message']}")


# ------------------------------------------------------------------- 2. flat features and augmentation presets
@pytest.fixture(scope="module")
def lfw_features(tmp_path_factory):
    """The LFW subset as flat features: its 40 principal components, (200, 40), in an .npz with labels."""
    from sklearn.decomposition import PCA

    x, y = lfw()
    path = tmp_path_factory.mktemp("features") / "lfw40.npz"
    np.savez(path, x=PCA(40, random_state=0).fit_transform(x.reshape(200, -1)).astype(np.float32), y=y)
    return path


def test_flat_features_refuse_every_image_preset_in_one_line(lfw_features, tmp_path, capsys):
    base = ["--epochs", "1", "--batch-size", "32"]
    code, _, err = run_cli(["train", "--dataset", lfw_features, *base, "--out", tmp_path / "a"], capsys)
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "lfw40.npz: every augmentation preset augments images (H, W, C)" in err
    assert "flat feature vectors of shape (40,)" in err and "--pairs knn" in err
    assert "--augment" not in err  # the advice that led to an internal error is gone
    for preset in ("digits", "cifar", "simclr", "byol", "multicrop"):  # before: IndexError in RandomTranslation
        code, _, err = run_cli(["train", "--dataset", lfw_features, "--augment", preset, *base,
                                "--out", tmp_path / preset], capsys)
        assert code == 2 and len(err.strip().splitlines()) == 1, err
        assert f"the {preset!r} preset augments images (H, W, C)" in err and "internal error" not in err
    code, _, err = run_cli(["train", "--dataset", lfw_features, "--augment", "digits", "--augment-on", "device",
                            *base, "--out", tmp_path / "device"], capsys)
    assert code == 2 and "flat feature vectors" in err
    code, _, err = run_cli(["spectral", "--dataset", lfw_features, "--graph", "pairs", "--augment", "digits"], capsys)
    assert code == 2 and "the 'digits' preset augments images" in err
    assert not any((tmp_path / name).exists() for name in ("a", "digits", "device"))  # refused before any write
    # what the message advises works: graph pairs on the features
    code, printed, err = run_cli(["train", "--dataset", lfw_features, "--pairs", "knn", *base, "--projector",
                                  "32-32", "--out", tmp_path / "knn"], capsys)
    assert code == 0, err
    assert json.loads((tmp_path / "knn" / "metrics.json").read_text())["probes"]["raw pixels"]["dim"] == 40


def test_errors_redirected_to_a_file_hold_no_terminal_codes(lfw_features, tmp_path, monkeypatch, capsys):
    log = tmp_path / "out.txt"
    with open(log, "w") as sink:
        proc = subprocess.run([sys.executable, "-m", "kspectral_cli.main", "train", "--dataset", str(lfw_features),
                               "--augment", "digits", "--batch-size", "32", "--out", str(tmp_path / "r")],
                              stdout=sink, stderr=subprocess.STDOUT, timeout=300,
                              env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    text = log.read_text()
    assert proc.returncode == 2 and "\x1b" not in text and "flat feature vectors" in text
    # an internal error whose message Keras formatted for a terminal: one plain line
    from kspectral import runs

    def keras_like_failure(*args, **kwargs):
        raise IndexError("\x1b[1mtuple index out of range\x1b[0m\n\nArguments received by RandomTranslation.call():"
                         "\n  • data=tf.Tensor(shape=(240, 40), dtype=float32)")

    monkeypatch.setattr(runs, "train", keras_like_failure)
    code, _, err = run_cli(["train", "--epochs", "1", "--out", tmp_path / "x"], capsys)
    assert code == 1 and "\x1b" not in err and len(err.strip().splitlines()) == 1
    assert err.startswith("kspectral: error: internal error: IndexError: tuple index out of range (this is a bug")


# ------------------------------------------------------------------- 3. keras.callbacks.BackupAndRestore in fit()
def test_backup_and_restore_resumes_a_fresh_model(lfw_data, tmp_path):
    """Before, fit() of a fresh VICReg(encoder=...) with BackupAndRestore stopped at once: "you model must be built
    before you call fit()". It now builds from the encoder's input shape; a killed fit resumes at its epoch."""
    from kspectral.data import augmented_pairs, augmenter_for
    from kspectral.methods import VICReg

    ds, backup = lfw_data, str(tmp_path / "backup")
    pairs = augmented_pairs(ds.x_train, augmenter_for(ds.image_shape, "digits", seed=0), batch_size=40,
                            labels=ds.y_train, seed=0)

    def fresh():
        keras.utils.set_random_seed(0)
        encoder = keras.Sequential([keras.Input(ds.image_shape), keras.layers.Flatten(), keras.layers.Dense(32),
                                    keras.layers.BatchNormalization(), keras.layers.ReLU()])
        model = VICReg(encoder=encoder, projector="32-32", online_probe_classes=2)
        model.compile(optimizer=keras.optimizers.Adam(1e-3))
        return model

    class Kill(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 0:
                raise RuntimeError("killed after epoch 1")

    class Watch(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.epochs, self.weights = [], None

        def on_train_begin(self, logs=None):
            self.weights = [w.numpy().copy() for w in self.model.weights]

        def on_epoch_begin(self, epoch, logs=None):
            self.epochs.append(epoch)

    first = fresh()
    assert not first.built
    with pytest.raises(RuntimeError, match="killed after epoch 1"):
        first.fit(pairs, epochs=3, verbose=0, callbacks=[keras.callbacks.BackupAndRestore(backup), Kill()])
    kept = [w.numpy().copy() for w in first.weights]
    second, watch = fresh(), Watch()
    history = second.fit(pairs, epochs=3, verbose=0, callbacks=[keras.callbacks.BackupAndRestore(backup), watch])
    assert watch.epochs == [1, 2] and len(history.history["loss"]) == 2
    assert len(watch.weights) == len(kept)
    for restored, value in zip(watch.weights, kept):  # the restored state is the killed run's after epoch 1
        np.testing.assert_array_equal(restored, value)
    assert not os.path.exists(backup)  # removed once the run finished
    # an encoder whose input shape is unknown builds on the first batch, as before
    unbuilt = VICReg(encoder=keras.Sequential([keras.layers.Flatten(), keras.layers.Dense(8)]), projector="8")
    assert unbuilt.build_from_encoder() is False and not unbuilt.built
    assert fresh().build_from_encoder() is True
