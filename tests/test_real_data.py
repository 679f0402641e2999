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
    from kspectral.data import augmenter_for

    with pytest.raises(ValueError, match="images with 4 channels; the augmentation presets take 1 .grayscale. or 3"):
        augmenter_for((8, 8, 4))
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


# ------------------------------------------------------------------- 4. the MLP probe's cost, progress on screen
@pytest.fixture(scope="module")
def lfw_run(lfw_folder, tmp_path_factory):
    """A one-epoch VICReg run on the LFW folder (mlp encoder, batch 32)."""
    out = tmp_path_factory.mktemp("runs") / "lfw"
    with pytest.raises(SystemExit) as exit_info:
        main(["train", "--dataset", str(lfw_folder), "--epochs", "1", "--batch-size", "32", "--projector", "64-64",
              "--set", "encoder_widths=64", "--out", str(out)])
    assert exit_info.value.code == 0
    return out


@pytest.mark.slow
def test_a_narrower_mlp_probe_reaches_the_wide_probes_top1():
    """1 200 patches of scikit-learn's two photos (8×8 RGB), which photo each is from: the 2×512 probe reaches the
    top-1 that Dubois et al.'s 2×2048 reaches there (0.95-0.97, ``benchmarks/mlp_probe_width.py``, which also times
    both: BENCHMARKS.md), above a linear probe's."""
    from kspectral.probes import linear_probe, mlp_probe

    x, y = sample_patches(size=8, per_image=600)
    order = np.random.default_rng(0).permutation(len(x))
    x, y = x.reshape(len(x), -1)[order], y[order]
    args = (x[:1000], y[:1000], x[1000:], y[1000:])
    top1 = mlp_probe(*args, hidden=512)
    assert top1 >= 0.93
    assert top1 > linear_probe(*args) + 0.02


def test_probe_shows_each_stage_on_screen(lfw_run, capsys):
    code, printed, err = run_cli(["probe", lfw_run], capsys)
    assert code == 0, err
    lines = [" ".join(line.split()) for line in printed.split("· ")]
    assert any(line.startswith(f"loading {lfw_run / 'model.keras'}") for line in lines)
    assert "fitting the closed-form spectral baseline (its graph first)" in lines
    assert "probing raw pixels (625 features of 160 training images): linear, kNN" in lines
    assert "probing vicreg encoder (64 features of 160 training images): linear, kNN" in lines
    assert printed.index("probing raw pixels") < printed.index("Top-1 of")


def test_probe_with_the_mlp_probe_reports_each_row_and_its_width(lfw_run, capsys):
    code, printed, err = run_cli(["probe", lfw_run, "--probe", "mlp", "--mlp-hidden", "64"], capsys)
    assert code == 0, err
    text = " ".join(printed.split())
    assert "probing raw pixels (625 features of 160 training images): MLP (2×64, 100 epochs)" in text
    assert len(re.findall(r"MLP probe: 100 epochs, [\d.]+ s", text)) == 3  # one line per row
    assert "MLP top-1" in printed and "--mlp-hidden 512 takes about a tenth" not in text
    probed = json.loads((lfw_run / "probe.json").read_text())
    assert probed["mlp_hidden"] == 64 and 0.5 < probed["probes"]["raw pixels"]["mlp_top1"] <= 1.0
    code, printed, err = run_cli(["probe", lfw_run, "--probe", "knn", "--mlp-hidden", "0"], capsys)
    assert code == 2 and "--mlp-hidden" in err


# ------------------------------------------------------------------- 5. unlabelled data: closed form and plots
@pytest.fixture(scope="module")
def photo_folder(tmp_path_factory):
    """120 16×16 patches of scikit-learn's sample photos as a flat (unlabelled) image folder."""
    return write_flat_folder(tmp_path_factory.mktemp("photos") / "photos", sample_patches(size=16)[0])


def test_spectral_on_an_unlabelled_folder_computes_the_closed_form(photo_folder, tmp_path, capsys):
    code, printed, err = run_cli(["spectral", "--dataset", photo_folder, "--out", tmp_path / "s"], capsys)
    assert code == 0, err  # before: "has no labels; `kspectral spectral` probes the closed form and needs them"
    text = " ".join(printed.split())
    assert "no probes: " in text and "has no labels; the closed form was fitted on its 120 training rows" in text
    assert "LaplacianEigenmaps (derived) on the kNN graph (k=10) on training pixels: rank 16" in text
    assert "building the knn:10 graph on the 120 training images" in text
    summary = json.loads((tmp_path / "s" / "spectral.json").read_text())
    assert summary["labelled"] is False and summary["probes"] == {} and summary["rank"] == 16
    assert summary["samples"] == 120 and math.isfinite(summary["objective"])
    code, printed, err = run_cli(["spectral", "--dataset", photo_folder, "--graph", "pairs", "--rounds", "2"], capsys)
    assert code == 0 and "LinearVICReg (derived) on the pair graph of 2×120 augmented pairs: rank 16" in " ".join(
        printed.split())
    code, _, err = run_cli(["spectral", "--dataset", photo_folder, "--graph", "labels"], capsys)
    assert code == 2 and len(err.strip().splitlines()) == 1 and "has no labels, so the label graph" in err


def test_plot_of_an_unlabelled_run_draws_from_the_training_images_and_skips_once(photo_folder, tmp_path, capsys):
    out = tmp_path / "run"
    code, printed, err = run_cli(["train", "--dataset", photo_folder, "--epochs", "1", "--batch-size", "32",
                                  "--projector", "32-32", "--set", "encoder_widths=32", "--out", out], capsys)
    assert code == 0, err
    assert "`kspectral spectral --run RUN_DIR` computes it without probes" in " ".join(printed.split())
    code, printed, err = run_cli(["plot", out], capsys)
    assert code == 0, err
    for name in ("training_curves.png", "spectrum.png", "embedding_2d.png"):  # before: only the first
        assert f"wrote {out / 'plots' / name}" in printed
    assert (printed + err).count("skipped probes.png") == 1  # before: also through the log, on stderr
    assert "encoding 120 training images for spectrum.png and embedding_2d.png" in printed
    with Image.open(out / "plots" / "embedding_2d.png") as image:
        assert image.text["Description"] == "method=pca points=120 unlabelled"
    code, printed, err = run_cli(["spectral", "--run", out], capsys)  # the run's own baseline, without probes
    assert code == 0 and "pair graph of 4×120 augmented pairs: rank 32" in " ".join(printed.split())


# ------------------------------------------------------------------- 6. captions and messages
def test_plot_captions_say_what_rankme_was_measured_on(lfw_run, capsys):
    from kspectral.plots import spectrum_caption

    code, _, err = run_cli(["plot", lfw_run], capsys)
    assert code == 0, err
    with Image.open(lfw_run / "plots" / "training_curves.png") as image:
        curves = image.text["Description"]
    assert "RankMe (effective rank) [on training-batch embeddings (B = 32)]" in curves
    assert "online probes (top-1) [on the test split (*_train_*: training views)]" in curves
    assert spectrum_caption(40).startswith("RankMe measured on these 40 test images")
    assert "training images" in spectrum_caption(120, "training images")


def test_a_token_sequence_encoder_is_told_how_to_pool_it(lfw_data):
    from kspectral.data import augmented_pairs, augmenter_for
    from kspectral.methods import VICReg

    def tokens(*head):  # each image row is a token of 25 pixels: (batch, 25, 16)
        return keras.Sequential([keras.Input(lfw_data.image_shape), keras.layers.Reshape((25, 25)),
                                 keras.layers.Dense(16), *head])

    pairs = augmented_pairs(lfw_data.x_train, augmenter_for(lfw_data.image_shape, "digits", seed=0), 40)
    model = VICReg(encoder=tokens(), projector="16")
    model.compile(optimizer="adam")
    with pytest.raises(ValueError) as error:
        model.fit(pairs, epochs=1, verbose=0)
    message = str(error.value)
    assert "returns shape (None, 25, 16), a sequence of tokens (batch, tokens, d)" in message
    assert "GlobalAveragePooling1D()" in message and "class token x[:, 0]" in message
    assert "GlobalAveragePooling2D" not in message
    pooled = VICReg(encoder=tokens(keras.layers.GlobalAveragePooling1D()), projector="16")
    pooled.compile(optimizer="adam")
    assert math.isfinite(pooled.fit(pairs, epochs=1, verbose=0).history["loss"][0])


def test_unknown_encoder_and_tfds_names_say_what_is_missing(tmp_path, capsys):
    code, _, err = run_cli(["train", "--encoder", "resnet9", "--out", tmp_path / "r"], capsys)
    assert code == 2 and "unknown encoder 'resnet9'; choose one of: mlp, conv, resnet18, resnet34, resnet50, or " \
        "keras:NAME for a keras.applications model" in err
    data_dir = write_lfw_tfds(tmp_path / "tfds")  # LFW as a TFDS dataset prepared offline, outside the catalog
    capsys.readouterr()  # TFDS's progress bars
    code, _, err = run_cli(["spectral", "--dataset", "tfds:lfw_subset"], capsys)
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "unknown TFDS dataset 'lfw_subset'" in err and "pass --data-dir DIR, the folder that holds lfw_subset/" in err
    assert "no --data-dir was given" in err
    code, _, err = run_cli(["spectral", "--dataset", "tfds:lfw_subset", "--data-dir", tmp_path], capsys)
    assert code == 2 and f"--data-dir {tmp_path} holds no lfw_subset/ folder either" in err
    code, printed, err = run_cli(["spectral", "--dataset", "tfds:lfw_subset", "--data-dir", data_dir], capsys)
    assert code == 0, err
    assert "Top-1 on the tfds:lfw_subset test split" in printed and "raw pixels" in printed
