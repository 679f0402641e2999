"""Own data and own augmentations: one augmenter feeds the model and its closed form; the closed form of any run."""

import itertools
import json

import numpy as np
import pytest

from kspectral.data import as_dataset, augmented_pairs, augmenter, augmenter_for, from_arrays
from kspectral.runs.problem import augmented_views, build_problem, fit_baseline
from kspectral.data import augmentation_graph  # takes preset names too (kspectral.spectral's does not)
from kspectral.spectral import pair_graph
from kspectral_cli.main import main


def shapes(n=96, side=8, seed=0):
    """A small labelled RGB dataset: 4 classes of coloured squares at random places on noise, uint8."""
    rng = np.random.default_rng(seed)
    colours = np.array([[230, 40, 40], [40, 230, 40], [40, 40, 230], [230, 230, 40]])
    y = np.arange(n) % 4
    x = rng.integers(0, 60, (n, side, side, 3))
    for i, c in enumerate(y):
        r, q = rng.integers(0, side - 4, 2)
        x[i, r:r + 4, q:q + 4] = colours[c]
    return x.astype(np.uint8), y


def first_batches(pipeline, count):
    views_a, views_b, index = [], [], []
    for a, b, y in itertools.islice(pipeline, count):
        views_a.append(np.asarray(a).reshape(len(a), -1))
        views_b.append(np.asarray(b).reshape(len(b), -1))
        index.append(np.asarray(y))
    return np.concatenate(views_a), np.concatenate(views_b), np.concatenate(index)


def test_the_closed_form_sees_the_views_of_augmented_pairs_first_batch_unshuffled():
    """Same augmenter preset and seed: the pair graph's features hold the first batch of augmented_pairs."""
    x, y = shapes(40)
    dataset = from_arrays(x, y, test_size=0.25, seed=0)
    pairs = augmented_pairs(dataset.x_train, augmenter("cifar", image_size=8, channels=3, seed=5), 16,
                            shuffle=False, seed=5)
    a, b = (np.asarray(v).reshape(16, -1) for v in next(iter(pairs)))
    problem = build_problem(dataset, "pairs", rounds=2, seed=5, augment="cifar", batch_size=16)
    m = problem.graph.shape[0] // 2
    assert m == 2 * len(dataset.x_train) == 60
    np.testing.assert_array_equal(problem.X[:16], a)
    np.testing.assert_array_equal(problem.X[m:m + 16], b)
    np.testing.assert_array_equal(problem.index, np.tile(np.arange(30), 2))
    assert (problem.graph != pair_graph(m)).nnz == 0
    assert not np.allclose(a, b)  # two different views


@pytest.mark.parametrize("shuffle,drop_remainder", [(False, False), (True, True)])
def test_augmented_views_replay_the_training_stream(shuffle, drop_remainder):
    """Every batch of two rounds: the views and images of augmented_pairs' resumable stream (what train fits on)."""
    x = np.random.default_rng(1).random((50, 8, 8, 3), dtype=np.float32)
    problem = augmented_views(x, "cifar", rounds=2, seed=3, batch_size=16, shuffle=shuffle,
                              drop_remainder=drop_remainder)
    per_pass = 3 if drop_remainder else 4
    stream = augmented_pairs(x, augmenter_for(x.shape[1:], "cifar", seed=3), 16, seed=3, shuffle=shuffle,
                             drop_remainder=drop_remainder, start_step=0, labels=np.arange(50))
    a, b, index = first_batches(stream, 2 * per_pass)
    m = len(index)
    assert m == (96 if drop_remainder else 100) and problem.X.shape == (2 * m, 192)
    np.testing.assert_array_equal(problem.index, index)
    np.testing.assert_array_equal(problem.X[:m], a)
    np.testing.assert_array_equal(problem.X[m:], b)
    if shuffle:
        assert not np.array_equal(index[:48], index[48:])  # each round has its own order


def test_augmented_views_take_a_layer_or_a_pair_and_check_their_input():
    x = np.random.default_rng(2).random((20, 8, 8, 3), dtype=np.float32)
    by_name = augmented_views(x, "byol", rounds=1, seed=4, batch_size=8)
    by_pair = augmented_views(x, augmenter("byol", image_size=8, seed=4), rounds=1, seed=4, batch_size=8)
    np.testing.assert_array_equal(by_name.X, by_pair.X)
    with pytest.raises(ValueError, match="augment_options go with a preset name"):
        augmented_views(x, augmenter("cifar", image_size=8), augment_options={"strength": 0.3})
    with pytest.raises(ValueError, match="leaves none of the 20 images"):
        augmented_views(x, "cifar", batch_size=32, drop_remainder=True)
    with pytest.raises(TypeError, match="an augmenter is a callable Keras layer"):
        augmented_views(x, 3)


def test_baseline_on_the_pairs_a_model_trains_on_fits_and_embeds():
    x, y = shapes(64)
    problem = augmented_views(x.astype(np.float32) / 255, "cifar", rounds=2, seed=0, batch_size=16, shuffle=True,
                              drop_remainder=True)
    baseline, summary = fit_baseline("vicreg", problem, dim=6)
    assert summary["estimator"] == "LinearVICReg" and summary["graph"] == "pair graph of 128 augmented pairs"
    assert baseline.transform(x.reshape(64, -1) / 255.0).shape == (64, 6)


def test_augmentation_graph_takes_a_keras_layer_a_preset_and_plain_functions():
    x = np.random.default_rng(3).random((30, 8, 8, 3), dtype=np.float32)
    layer = augmentation_graph(x, augmenter_for(x.shape[1:], "cifar", seed=7), draws=2, k=3)
    preset = augmentation_graph(x, "cifar", draws=2, k=3, seed=7)
    assert layer.shape == (30, 30) and layer.nnz > 0
    assert (layer != preset).nnz == 0  # a preset name is that layer with the same seed
    chunked = augmentation_graph(x, augmenter_for(x.shape[1:], "cifar", seed=7), draws=2, k=3, batch_size=10)
    assert chunked.shape == (30, 30)

    noise = np.random.default_rng(0)
    one_argument = augmentation_graph(x, lambda b: b + 0.01 * noise.standard_normal(b.shape), draws=2, k=3)
    legacy = augmentation_graph(x, lambda b, rng: b + 0.01 * rng.standard_normal(b.shape), draws=2, k=3, seed=0)
    legacy_again = augmentation_graph(x, lambda b, rng: b + 0.01 * rng.standard_normal(b.shape), draws=2, k=3,
                                      seed=0)
    assert (legacy != legacy_again).nnz == 0  # the numpy form is seeded by seed
    assert one_argument.shape == legacy.shape == (30, 30)
    # tiny noise: each sample's nearest views are its own, so no sample links to another
    assert one_argument.nnz < 30 * 3
    pair = augmentation_graph(x, augmenter("byol", image_size=8, seed=1), draws=2, k=3)
    assert pair.shape == (30, 30)
    with pytest.raises(ValueError, match="must return the shape it was given"):
        augmentation_graph(x, lambda b: b[:, :4], draws=1)
    with pytest.raises(TypeError, match="augment must be a callable"):
        augmentation_graph(x, [3], draws=1)


def test_arrays_go_anywhere_a_dataset_does():
    import tensorflow as tf

    x, y = shapes(40)
    from_tuple = as_dataset((x, y), test_size=0.25, seed=1)
    assert from_tuple.name == "arrays" and from_tuple.x_train.shape == (30, 8, 8, 3)
    assert from_tuple.x_train.dtype == np.float32 and from_tuple.x_train.max() <= 1.0
    np.testing.assert_allclose(from_tuple.x_train.max(), 230 / 255)
    for ds in (tf.data.Dataset.from_tensor_slices((x, y)), tf.data.Dataset.from_tensor_slices((x, y)).batch(7)):
        read = as_dataset(ds, test_size=0.25, seed=1)
        np.testing.assert_array_equal(read.x_train, from_tuple.x_train)
        np.testing.assert_array_equal(read.y_test, from_tuple.y_test)
    four = as_dataset((x[:30], y[:30], x[30:], y[30:]))
    assert len(four.x_train) == 30 and len(four.x_test) == 10 and four.num_classes == 4
    unlabelled = as_dataset((x, None))
    assert not unlabelled.labelled and unlabelled.x_test is None
    assert as_dataset(four) is four
    with pytest.raises(ValueError, match=r"data as a tuple is \(x, y\)"):
        as_dataset((x, y, x))
    with pytest.raises(ValueError, match="is infinite"):
        as_dataset(tf.data.Dataset.from_tensor_slices((x, y)).repeat())
    with pytest.raises(ValueError, match="exceeds the memory budget"):
        as_dataset(tf.data.Dataset.from_tensor_slices((x, y)), memory_budget=1000)
    with pytest.raises(ValueError, match="has no labels to probe with"):
        as_dataset(x)
    with pytest.raises(ValueError, match="labels y and test samples x_test but no y_test"):
        from_arrays(x, y, x[:4])


def test_train_and_spectral_take_arrays(tmp_path):
    """train(config, data=(x, y)) records "arrays"; spectral(run=..., data=...) reproduces its baseline."""
    from kspectral.runs import RunConfig, probe, spectral, train

    x, y = shapes(96)
    config = RunConfig(epochs=1, batch_size=32, projector="32-32", encoder_widths="32", augment="cifar", seed=2,
                       baseline_dim=8, baseline_rounds=2)
    result = train(config, out=tmp_path / "run", data=(x, y))
    saved = json.loads((tmp_path / "run" / "config.json").read_text())
    assert saved["dataset"] == "arrays" and result.metrics["dataset"] == "arrays"
    trained = result.metrics["probes"]["spectral baseline (vicreg)"]
    closed = spectral(run=tmp_path / "run", data=(x, y))
    row = closed.summary["probes"]["LinearVICReg (vicreg, linear)"]
    assert row["linear_top1"] == pytest.approx(trained["linear_top1"])
    assert row["knn_top1"] == pytest.approx(trained["knn_top1"])
    assert closed.summary["graph"] == result.metrics["spectral_baseline"]["graph"] == "pair graph of 2×76 augmented pairs"
    with pytest.raises(ValueError, match="pass the same data"):
        spectral(run=tmp_path / "run")
    probed = probe(tmp_path / "run", data=(x, y))  # the run's encoder and baseline, reloaded on the same arrays
    assert [r.linear for r in probed] == pytest.approx([r.linear for r in result.rows])
    assert [r.knn for r in probed] == pytest.approx([r.knn for r in result.rows])
    with pytest.raises(ValueError, match=r"in-memory data is probed with the same data: .*probe\(run_dir, data=\.\.\.\)"):
        probe(tmp_path / "run")


@pytest.fixture(scope="module")
def npz_run(tmp_path_factory):
    """`kspectral train` on an .npz of coloured shapes with the cifar preset and seed 3."""
    root = tmp_path_factory.mktemp("own")
    x, y = shapes(120, seed=1)
    np.savez(root / "shapes.npz", x=x, y=y)
    out = root / "run"
    with pytest.raises(SystemExit) as exit_info:
        main(["train", "--dataset", str(root / "shapes.npz"), "--augment", "cifar", "--seed", "3", "--epochs", "1",
              "--batch-size", "32", "--projector", "32-32", "--set", "encoder_widths='32'", "--set",
              "baseline_rounds=2", "--baseline-dim", "8", "--out", str(out)])
    assert exit_info.value.code == 0
    return root, out


def _baseline_of(path):
    return json.loads(path.read_text())["probes"]


def test_spectral_command_reproduces_the_baseline_of_a_run_on_own_data(npz_run, tmp_path, capsys):
    root, run = npz_run
    trained = _baseline_of(run / "metrics.json")["spectral baseline (vicreg)"]
    by_flags = ["spectral", "--graph", "pairs", "--dataset", str(root / "shapes.npz"), "--augment", "cifar", "--seed",
                "3", "--dim", "8", "--rounds", "2", "--out", str(tmp_path / "flags")]
    by_run = ["spectral", "--run", str(run), "--out", str(tmp_path / "run")]
    for args, out in ((by_flags, tmp_path / "flags"), (by_run, tmp_path / "run")):
        with pytest.raises(SystemExit) as exit_info:
            main(args)
        assert exit_info.value.code == 0, capsys.readouterr().err
        row = _baseline_of(out / "spectral.json")["LinearVICReg (vicreg, linear)"]
        assert row["linear_top1"] == pytest.approx(trained["linear_top1"])
        assert row["knn_top1"] == pytest.approx(trained["knn_top1"])
    summary = json.loads((tmp_path / "run" / "spectral.json").read_text())
    assert summary["dataset"] == str(root / "shapes.npz") and summary["augment"] == "cifar" and summary["seed"] == 3
    assert summary["run"] == str(run) and summary["dim"] == 8


def test_spectral_command_augment_options_and_errors(npz_run, tmp_path, capsys):
    from kspectral import runs

    root, run = npz_run
    with pytest.raises(SystemExit) as exit_info:
        main(["spectral", "--run", str(run), "--augment-option", "strength=0.1", "--augment-option",
              "scale=[0.5, 1.0]", "--out", str(tmp_path)])
    assert exit_info.value.code == 0
    expected = runs.spectral(run=run, augment_options={"strength": 0.1, "scale": [0.5, 1.0]})
    written = _baseline_of(tmp_path / "spectral.json")["LinearVICReg (vicreg, linear)"]
    assert written == pytest.approx(expected.summary["probes"]["LinearVICReg (vicreg, linear)"])
    capsys.readouterr()
    with pytest.raises(SystemExit) as exit_info:
        main(["spectral", "--run", str(tmp_path / "nowhere")])
    assert exit_info.value.code == 2
    assert "is not a kspectral run directory (no config.json)" in capsys.readouterr().err
