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
