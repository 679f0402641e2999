"""kspectral.plots: the augmentation grid and the figures of a run directory."""

import json
import math
import subprocess
import sys

import numpy as np
import pytest

from kspectral import plots

PROBES = {
    "raw pixels": {"dim": 64, "linear_top1": 0.95, "knn_top1": 0.97},
    "vicreg encoder": {"dim": 32, "linear_top1": 0.81, "knn_top1": 0.77},
    "spectral baseline (vicreg)": {"dim": 8, "linear_top1": 0.9, "knn_top1": float("nan")},
}


def png(path):
    """(pixel array, text metadata) of a PNG, checking its signature."""
    from matplotlib.image import imread
    from PIL import Image

    with open(path, "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"
    with Image.open(path) as image:
        text = dict(image.text)
    return imread(path), text


def write_history(path, rows, columns):
    path.write_text(",".join(columns) + "\n" + "\n".join(",".join(str(v) for v in row) for row in rows) + "\n")


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    """A run directory as `kspectral train` writes it, built by hand: a tiny untrained VICReg on digits."""
    import keras

    from kspectral import encoders, methods
    from kspectral.runs import RunConfig

    run = tmp_path_factory.mktemp("plots") / "run"
    run.mkdir()
    config = RunConfig(method="vicreg", dataset="digits", encoder="mlp", encoder_widths="32", projector="24-24",
                       epochs=3, seed=0, test_size=0.2)
    (run / "config.json").write_text(json.dumps(config.to_dict()))
    keras.utils.set_random_seed(0)
    model = methods.VICReg(encoders.build_encoder("mlp", (8, 8, 1), "32"), projector="24-24")
    model.build((None, 8, 8, 1))
    model.save(run / "model.keras")
    columns = ["epoch", "covariance", "dimension_contrastive", "embedding_std", "invariance", "loss", "rankme",
               "sample_contrastive", "variance", "online_linear_top1", "online_knn_top1"]
    write_history(run / "history.csv", [
        [0, 4.0, 0.5, 0.05, 0.2, 30.0, 3.1, 0.6, 1.2, 0.3, 0.2],
        [1, "nan", "nan", "nan", "nan", "nan", "nan", "nan", "nan", "", ""],  # a diverged epoch
        [2, 0.04, 0.1, 0.15, 0.1, 2.0, 12.0, 0.2, 0.3, 0.8, 0.7],
    ], columns)
    (run / "metrics.json").write_text(json.dumps({"method": "vicreg", "probes": PROBES}))
    return run, model


# ---------------------------------------------------------------------------------------------- augmentation grid
def test_grid_has_one_row_per_image_and_views_plus_one_columns(digits_data, tmp_path):
    out = plots.augmentation_grid(digits_data.x_test[:3], "digits", views=4, out=tmp_path / "a" / "grid.png")
    assert out == tmp_path / "a" / "grid.png"
    pixels, text = png(out)
    assert "rows=3 columns=5 views=4" in text["Description"]
    assert "sizes=8x8,8x8,8x8,8x8,8x8" in text["Description"]
    assert pixels.shape[1] == round(5 * 1.3 * plots.DPI)
    narrow, _ = png(plots.augmentation_grid(digits_data.x_test[:3], "digits", views=2, out=tmp_path / "b.png"))
    tall, _ = png(plots.augmentation_grid(digits_data.x_test[:5], "digits", views=2, out=tmp_path / "c.png"))
    assert narrow.shape[1] * 5 == pixels.shape[1] * 3  # width ∝ columns
    assert tall.shape[0] - narrow.shape[0] == round(2 * 1.3 * plots.DPI)  # two more rows


def test_grid_same_seed_same_bytes_other_seed_other_views(digits_data, tmp_path):
    x = digits_data.x_test[:2]
    a = plots.augmentation_grid(x, "digits", views=3, seed=5, out=tmp_path / "a.png").read_bytes()
    b = plots.augmentation_grid(x, "digits", views=3, seed=5, out=tmp_path / "b.png").read_bytes()
    c = plots.augmentation_grid(x, "digits", views=3, seed=6, out=tmp_path / "c.png").read_bytes()
    assert a == b
    assert a != c


def test_grid_cycles_view_distributions_and_leaves_augmenter_state(tmp_path):
    import keras

    from kspectral.data import augmenter

    x = np.random.default_rng(0).random((2, 16, 16, 3)).astype("float32")
    pair = augmenter("byol", image_size=16, seed=3)
    states = [v for a in pair for v in a.non_trainable_variables if "seed_generator_state" in v.path]
    before = [keras.ops.convert_to_numpy(v.value).copy() for v in states]
    first = plots.augmentation_grid(x, pair, views=3, seed=1, out=tmp_path / "a.png")
    second = plots.augmentation_grid(x, pair, views=3, seed=1, out=tmp_path / "b.png")
    assert first.read_bytes() == second.read_bytes()
    assert all(np.array_equal(keras.ops.convert_to_numpy(v.value), b) for v, b in zip(states, before))
    _, text = png(first)
    assert "distributions=D1 byol_view1,D2 byol_view2" in text["Description"]
    assert "rows=2 columns=4" in text["Description"]


def test_grid_multicrop_small_views_keep_their_size(tmp_path):
    x = np.random.default_rng(1).random((2, 32, 32, 3)).astype("float32")
    out = plots.augmentation_grid(x, "multicrop", views=5, out=tmp_path / "mc.png",
                                  augment_options={"base": "cifar", "n_small": 3, "small_size": 12})
    _, text = png(out)
    assert "distributions=D1 large,D2 large,D3 small,D4 small,D5 small" in text["Description"]
    assert "sizes=32x32,32x32,32x32,12x12,12x12,12x12" in text["Description"]


def test_grid_grayscale_is_drawn_in_gray(digits_data, tmp_path):
    pixels, _ = png(plots.augmentation_grid(digits_data.x_test[:2], "digits", views=1, out=tmp_path / "g.png"))
    rgb = pixels[..., :3]
    assert np.allclose(rgb[..., 0], rgb[..., 1]) and np.allclose(rgb[..., 1], rgb[..., 2])


@pytest.mark.parametrize(("images", "message"), [
    (np.full((2, 8, 8, 1), 255.0), "/ 255"),
    (np.zeros((2, 8, 8, 4)), "C = 1"),
    (np.zeros((0, 8, 8, 1)), "non-empty"),
    (np.full((1, 8, 8, 1), np.nan), "NaN"),
])
def test_grid_rejects_bad_images(images, message, tmp_path):
    with pytest.raises(ValueError, match=message.replace("/", "\\/")):
        plots.augmentation_grid(images, "digits", out=tmp_path / "x.png")


def test_grid_rejects_unknown_preset_and_bad_views(digits_data, tmp_path):
    with pytest.raises(ValueError, match="unknown augmentation preset 'simclrr'"):
        plots.augmentation_grid(digits_data.x_test[:1], "simclrr", out=tmp_path / "x.png")
    with pytest.raises(ValueError, match="views must be at least 1"):
        plots.augmentation_grid(digits_data.x_test[:1], "digits", views=0, out=tmp_path / "x.png")
    assert not (tmp_path / "x.png").exists()


# ---------------------------------------------------------------------------------------------- run plots
def test_plot_run_writes_the_four_figures(finished_run, tmp_path, digits_data):
    run, model = finished_run
    written = plots.plot_run(run, model=model, dataset=digits_data, out_dir=tmp_path / "p")
    assert [p.name for p in written] == list(plots.RUN_PLOTS)
    assert written.skipped == {}
    shapes = {p.name: png(p)[0].shape for p in written}
    # 5 panels (loss, terms, RankMe, diagnostics, online probes; no lr): 3 × 2 grid of 4.2 × 3-inch panels
    assert shapes["training_curves.png"][:2] == (600, 1260)
    assert shapes["spectrum.png"][:2] == (400, 600)
    assert shapes["embedding_2d.png"][:2] == (500, 600)
    assert shapes["probes.png"][1] == 750
    assert all(s[2] == 4 for s in shapes.values())


def test_plot_run_loads_model_and_dataset_from_the_run_dir(finished_run):
    from kspectral.spectral import rankme

    run, model = finished_run
    written = plots.plot_run(run)
    assert [p.parent for p in written] == [run / "plots"] * 4
    assert written.skipped == {}
    _, text = png(run / "plots" / "spectrum.png")
    # the loaded model encodes the same test split as the in-memory one (digits, test_size 0.2, seed 0)
    from kspectral.data import digits

    h = model.encode(digits(test_size=0.2, seed=0).x_test)
    assert f"representations D=32 rankme={rankme(h.astype(np.float64)):.3f}" in text["Description"]
    assert "embeddings D=24" in text["Description"]
    _, text = png(run / "plots" / "embedding_2d.png")
    assert text["Description"] == "method=pca points=360 10 classes"


def test_plot_run_skips_missing_inputs_with_a_note(tmp_path, caplog):
    run = tmp_path / "partial"
    run.mkdir()
    write_history(run / "history.csv", [[0, 1.0], [1, 0.5]], ["epoch", "loss"])
    with caplog.at_level("WARNING", logger="kspectral.plots"):
        written = plots.plot_run(run)
    assert [p.name for p in written] == ["training_curves.png"]
    assert set(written.skipped) == {"spectrum.png", "embedding_2d.png", "probes.png"}
    assert "model.keras is missing" in written.skipped["spectrum.png"]
    assert "no probe table" in written.skipped["probes.png"]
    assert "skipped probes.png" in caplog.text


def test_plot_run_missing_run_dir_names_it(tmp_path):
    with pytest.raises(FileNotFoundError, match="run directory .*nowhere does not exist"):
        plots.plot_run(tmp_path / "nowhere")


def test_all_nan_history_is_skipped_not_an_error(tmp_path):
    run = tmp_path / "nan"
    run.mkdir()
    write_history(run / "history.csv", [[0, "nan"], [1, "nan"]], ["epoch", "loss"])
    written = plots.plot_run(run)
    assert list(written) == []
    assert "no finite values" in written.skipped["training_curves.png"]


def test_read_history_and_panel_groups(finished_run):
    run, _ = finished_run
    history = plots.read_history(run / "history.csv")
    assert history["loss"][0] == 30.0 and math.isnan(history["loss"][1]) and math.isnan(history["online_knn_top1"][1])
    groups = {title: cols for title, cols, _ in plots._history_groups(history)}
    assert groups == {
        "loss": ["loss"],
        "loss terms": ["covariance", "invariance", "variance"],
        "RankMe (effective rank)": ["rankme"],
        "collapse diagnostics": ["dimension_contrastive", "embedding_std", "sample_contrastive"],
        "online probes (top-1)": ["online_linear_top1", "online_knn_top1"],
    }
    assert plots._spans_decades([history["covariance"]])  # 4 → 0.04: log scale
    assert not plots._spans_decades([history["rankme"]])  # 3.1 → 12
    assert not plots._spans_decades([np.array([-1.0, 100.0])])  # not positive: linear


def test_validation_columns_join_their_panels_and_na_columns_are_dropped(tmp_path):
    """Keras' CSVLogger writes NA for metrics an epoch did not compute (validation without validation data)."""
    write_history(tmp_path / "h.csv", [[0, 2.0, 0.5, 0.6, "NA", 2.5], [1, 1.0, 0.4, 0.5, "NA", 1.5]],
                  ["epoch", "loss", "variance", "val_variance", "val_rankme", "val_loss"])
    history = plots.read_history(tmp_path / "h.csv")
    assert np.isnan(history["val_rankme"]).all()
    groups = {title: cols for title, cols, _ in plots._history_groups(history)}
    assert groups == {"loss": ["loss", "val_loss"], "loss terms": ["variance", "val_variance"]}
    pixels, _ = png(plots.plot_training_curves(history, tmp_path / "c.png"))
    assert pixels.shape[:2] == (300, 840)


def test_probe_table_merges_a_later_probe_file(finished_run, tmp_path):
    run, _ = finished_run
    other = tmp_path / "run"
    other.mkdir()
    (other / "metrics.json").write_text((run / "metrics.json").read_text())
    (other / "probe.json").write_text(json.dumps({"probes": {"vicreg encoder": {"mlp_top1": 0.85}}}))
    table = plots._probe_table(other)
    assert table["vicreg encoder"] == {"dim": 32, "linear_top1": 0.81, "knn_top1": 0.77, "mlp_top1": 0.85}
    assert plots.plot_probes({"x": {"dim": 3}}, tmp_path / "none.png") is None
    (other / "metrics.json").write_text("{not json")
    with pytest.raises(ValueError, match="metrics.json is not a valid run file"):
        plots._probe_table(other)


def test_embedding_2d_unlabelled_and_tsne(tmp_path, rng):
    h = rng.normal(size=(60, 5))
    _, text = png(plots.plot_embedding_2d(h, None, tmp_path / "u.png"))
    assert text["Description"] == "method=pca points=60 unlabelled"
    _, text = png(plots.plot_embedding_2d(h, np.arange(60) % 3, tmp_path / "t.png", method="tsne"))
    assert text["Description"] == "method=tsne points=60 3 classes"
    with pytest.raises(ValueError, match="'pca' or 'tsne'"):
        plots.plot_embedding_2d(h, None, tmp_path / "x.png", method="umap")


def test_spectrum_of_a_collapsed_representation(tmp_path, rng):
    """Three of eight dimensions used: RankMe (uncentred) and the curve stop at three eigenvalues."""
    from kspectral.spectral import rankme

    z = np.zeros((200, 8))
    z[:, :3] = rng.normal(size=(200, 3)) * [1.0, 0.1, 0.01]
    _, text = png(plots.plot_spectrum({"collapsed": z}, tmp_path / "s.png"))
    assert text["Description"] == f"collapsed D=8 rankme={rankme(z):.3f}"
    assert rankme(z) < 3


def test_plotting_imports_neither_pyplot_nor_tensorflow(tmp_path):
    code = (
        "import sys, kspectral, kspectral.plots as p\n"
        f"p.plot_probes({{'a': {{'dim': 2, 'linear_top1': 0.5}}}}, {str(tmp_path / 'p.png')!r})\n"
        "assert 'matplotlib' in sys.modules\n"
        "print(sorted(m for m in ('matplotlib.pyplot', 'tensorflow') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.slow
def test_plot_run_on_a_trained_run(tmp_path):
    """End to end: `train` writes a run, `plot_run` draws it from the run directory alone."""
    from kspectral.runs import RunConfig, train

    result = train(RunConfig(epochs=2, batch_size=128, encoder_widths="32", projector="32-32", baseline_dim=8),
                   out=tmp_path / "run")
    written = plots.plot_run(result.run_dir)
    assert [p.name for p in written] == list(plots.RUN_PLOTS), written.skipped
    assert all(png(p)[0].ndim == 3 for p in written)


def test_training_curves_show_the_offline_probes_and_the_online_warning(finished_run, tmp_path):
    run, _ = finished_run
    other = tmp_path / "run"
    other.mkdir()
    for name in ("config.json", "history.csv"):
        (other / name).write_text((run / name).read_text())
    message = "the online linear probe's top-1 on the test split at the last epoch, 0.500, is 0.310 below …"
    (other / "metrics.json").write_text(json.dumps({"probes": PROBES, "warnings": [
        {"code": "chance_level_probe", "message": "not this one"}, {"code": "online_probe_behind", "message": message}]}))
    references, notes = plots._online_notes(other)
    assert references == {"offline linear probe, final": 0.81, "offline kNN probe, final": 0.77}
    assert notes == [message]
    plain = png(plots.plot_training_curves(plots.read_history(other / "history.csv"), tmp_path / "plain.png"))
    written = plots.plot_run(other, out_dir=tmp_path / "p", model=None, dataset=None)
    pixels, text = png(tmp_path / "p" / "training_curves.png")
    assert text["Description"].endswith(f"; note: {message}") and "not this one" not in text["Description"]
    assert pixels.shape == plain[0].shape  # the note fits in the same figure
    assert not np.array_equal(pixels, plain[0])
    assert plots._batch_size(other) == 256 and plots._batch_size(tmp_path) is None
    assert "training_curves.png" not in written.skipped


def test_the_spectrum_caption_names_the_images_it_was_measured_on(tmp_path, rng):
    z = rng.normal(size=(50, 4))
    test, _ = png(plots.plot_spectrum({"representations": z}, tmp_path / "t.png"))
    train, _ = png(plots.plot_spectrum({"representations": z}, tmp_path / "r.png", source="training images"))
    assert test.shape == train.shape and not np.array_equal(test, train)  # the title and the caption differ
    assert plots.PANEL_CAPTIONS["RankMe (effective rank)"].format(batch="B = 64") == (
        "on training-batch embeddings (B = 64)")
