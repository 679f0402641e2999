"""Views as lists: batches of V ≥ 2 views, objectives averaged over the pairs of views, multi-crop end to end (the
pipeline, device augmentation, the closed form's pair graph, exact resume), and the hook after the optimizer step."""

import csv
import json

import keras
import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from kspectral import methods, objectives, runs
from kspectral.data import augmented_pairs, multicrop, preset_views
from kspectral.data.pairs import image_batches
from kspectral.methods.components.teacher import MomentumTeacher, momentum_schedule
from kspectral.runs.problem import augmented_views
from kspectral.spectral import pair_graph

from test_resume import StopAt, max_difference


def _linear_encoder(dim=6, seed=0):
    keras.utils.set_random_seed(seed)
    return keras.Sequential([keras.Input((dim,)), keras.layers.Dense(4, use_bias=False)])


def _views(count, batch=8, dim=6, seed=0):
    rng = np.random.default_rng(seed)
    base = rng.normal(size=(batch, dim)).astype("float32")
    return [base + 0.3 * rng.normal(size=base.shape).astype("float32") for _ in range(count)]


def _evaluated_loss(model, views):
    return model.evaluate(tf.data.Dataset.from_tensors(tuple(views)), verbose=0, return_dict=True)["loss"]


def test_vicreg_on_three_views_is_the_mean_of_its_three_pairs():
    views = _views(3)
    model = methods.VICReg(_linear_encoder(), projector=None, diagnostics=False)
    model.compile(optimizer="sgd")
    z = [model.embed(v).numpy() for v in views]
    expected = np.mean([float(objectives.vicreg(z[i], z[j])) for i, j in ((0, 1), (0, 2), (1, 2))])
    assert _evaluated_loss(model, views) == pytest.approx(expected, rel=1e-5)
    # two of the same views: the two-view objective itself
    assert _evaluated_loss(model, views[:2]) == pytest.approx(float(objectives.vicreg(z[0], z[1])), rel=1e-6)


def test_simclr_on_four_views_is_the_multi_positive_nt_xent_and_its_variants_average_the_pairs():
    views = _views(4)
    model = methods.SimCLR(_linear_encoder(), projector=None, temperature=0.5, diagnostics=False)
    model.compile(optimizer="sgd")
    z = [model.embed(v).numpy() for v in views]
    assert _evaluated_loss(model, views) == pytest.approx(float(objectives.simclr_multiview(z, 0.5)), rel=1e-5)
    # the multi-positive loss is not the pairwise mean (it would be a silent change of definition)
    pairwise = np.mean([float(objectives.simclr(z[i], z[j], 0.5)) for i in range(4) for j in range(i + 1, 4)])
    assert abs(float(objectives.simclr_multiview(z, 0.5)) - pairwise) > 1e-3
    variant = methods.create("simclr_abs", _linear_encoder(), projector=None, temperature=0.5, diagnostics=False)
    variant.compile(optimizer="sgd")
    z = [variant.embed(v).numpy() for v in views[:3]]
    expected = np.mean([float(objectives.simclr(z[i], z[j], 0.5, negatives="abs")) for i, j in
                        ((0, 1), (0, 2), (1, 2))])
    assert _evaluated_loss(variant, views[:3]) == pytest.approx(expected, rel=1e-5)


def test_view_limits_of_the_methods():
    takes = {name for name in methods.canonical_names() if methods.get(name).view_limit() is None}
    assert {"cissl", "dissl"}.isdisjoint(takes) and {"vicreg", "simclr", "barlow_twins", "tcr"} <= takes
    assert methods.CISSL.view_limit() == 2

    class TwoViewForward(methods.VICReg):  # a user's forward written for two views
        def forward(self, view_a, view_b, training=False):
            return super().forward(view_a, view_b, training=training)

    assert TwoViewForward.view_limit() == 2


def test_a_two_view_method_refuses_three_views_in_fit_naming_the_methods_that_take_them():
    model = methods.CISSL(_linear_encoder(), student_dim=4, teacher="8-4", diagnostics=False)
    model.compile(optimizer="sgd")
    with pytest.raises(ValueError, match=r"CISSL trains on at most 2 views, got 3.*simclr.*vicreg"):
        model.fit(tf.data.Dataset.from_tensors(tuple(_views(3))), verbose=0)


def test_the_configuration_refuses_multicrop_for_a_two_view_method():
    with pytest.raises(ValueError, match=r"multicrop makes 8 views, but cissl trains on at most 2.*simclr"):
        runs.RunConfig(dataset="cifar10", augment="multicrop", encoder="conv", method="cissl").validate()
    assert preset_views("multicrop", {"n_small": 2}) == 4 and preset_views("byol") == 2


@pytest.mark.parametrize("args, message", [
    (["--method", "cissl"], "multicrop makes 8 views, but cissl trains on at most 2"),
    (["--encoder", "mlp"], "the mlp encoder (it flattens a fixed image size) cannot both take"),
])
def test_the_command_line_refuses_multicrop_before_the_run_directory_exists(crops_folder, tmp_path, capsys, args,
                                                                             message):
    from kspectral_cli.main import main

    with pytest.raises(SystemExit) as exit_info:
        main(["train", "--dataset", str(crops_folder), "--augment", "multicrop", "--epochs", "1", "--batch-size", "8",
              *args,
              "--out", str(tmp_path / "run")])
    assert exit_info.value.code == 2 and message in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("augment_on", ["data", "device"])
def test_the_command_line_trains_simclr_on_multicrop(crops_folder, tmp_path, augment_on):
    """`kspectral train --augment multicrop --method simclr` on an RGB folder: 8 views a batch (2 large, 6 small
    crops, the preset's default), drawn in tf.data or on the device; the run finishes with a finite loss."""
    from kspectral_cli.main import main

    out = tmp_path / "run"
    with pytest.raises(SystemExit) as exit_info:
        main(["train", "--dataset", str(crops_folder), "--method", "simclr", "--augment", "multicrop",
              "--augment-on", augment_on, "--encoder", "conv", "--set", "encoder_widths=8", "--projector", "8-8",
              "--epochs", "1", "--batch-size", "8", "--set", "baseline=none", "--set", "tensorboard=false",
              "--out", str(out)])
    assert exit_info.value.code in (0, None)
    config = json.loads((out / "config.json").read_text())
    assert (config["method"], config["augment"], config["augment_on"]) == ("simclr", "multicrop", augment_on)
    losses = [float(row["loss"]) for row in csv.DictReader((out / "history.csv").open())]
    assert losses and all(np.isfinite(losses))


def _images(n=24, side=12, seed=0):
    return np.random.default_rng(seed).uniform(size=(n, side, side, 3)).astype("float32")


def _conv_encoder():
    from kspectral.encoders import build_encoder

    keras.utils.set_random_seed(0)
    return build_encoder("conv", (None, None, 3), "8")  # any height and width: large and small crops


@pytest.mark.parametrize("method", ["vicreg", "simclr"])
def test_multicrop_views_of_two_sizes_train_through_one_encoder(method):
    crops = multicrop("cifar", 12, n_small=2, small_size=6, seed=0)
    data = augmented_pairs(_images(), crops, batch_size=8)
    shapes = [tuple(v.shape) for v in next(iter(data))]
    assert shapes == [(8, 12, 12, 3)] * 2 + [(8, 6, 6, 3)] * 2
    model = methods.create(method, _conv_encoder(), projector="8-8", diagnostics=False)
    model.compile(optimizer=keras.optimizers.SGD(0.1))
    before = [w.copy() for w in model.get_weights()] if model.built else None
    history = model.fit(data, epochs=2, verbose=0).history
    assert all(np.isfinite(history["loss"]))
    if before is not None:
        assert max(float(np.max(np.abs(a - b))) for a, b in zip(before, model.get_weights())) > 0


def test_device_augmentation_draws_every_view_of_multicrop():
    crops = multicrop("cifar", 12, n_small=3, small_size=6, seed=0)
    model = methods.VICReg(_conv_encoder(), projector="8-8", diagnostics=False, augmenters=crops)
    model.compile(optimizer="sgd")
    views = model.augment(_images(8))
    assert [tuple(v.shape) for v in views] == [(8, 12, 12, 3)] * 2 + [(8, 6, 6, 3)] * 3
    history = model.fit(image_batches(_images(), 8), epochs=1, verbose=0).history
    assert np.isfinite(history["loss"][0])


def test_the_closed_form_pair_graph_links_every_view():
    images = _images(16)
    problem = augmented_views(images, multicrop("cifar", 12, n_small=2, small_size=6, seed=3), batch_size=8)
    assert problem.X.shape == (4 * 16, 12 * 12 * 3)
    assert (problem.graph != pair_graph(16, views=4)).nnz == 0
    # the views are the training stream's, the small crops resized to the large ones' size
    stream = augmented_pairs(images, multicrop("cifar", 12, n_small=2, small_size=6, seed=3), batch_size=8,
                             shuffle=False, start_step=0)
    first = next(iter(stream))
    np.testing.assert_allclose(problem.X[:8], first[0].numpy().reshape(8, -1), atol=1e-6)
    small = tf.image.resize(first[3], (12, 12), method="bilinear").numpy().reshape(8, -1)
    np.testing.assert_allclose(problem.X[3 * 16:3 * 16 + 8], small, atol=1e-6)


def _folder(root, per_class=16, side=12):
    rng = np.random.default_rng(0)
    for c, name in enumerate(("red", "green", "blue")):
        (root / name).mkdir(parents=True)
        for i in range(per_class):
            image = rng.integers(0, 60, (side, side, 3)).astype(np.uint8)
            image[..., c] += 150
            Image.fromarray(image).save(root / name / f"{i}.png")
    return root


@pytest.fixture(scope="module")
def crops_folder(tmp_path_factory):
    return _folder(tmp_path_factory.mktemp("crops") / "colours")


@pytest.mark.parametrize("augment_on", ["data", pytest.param("device", marks=pytest.mark.slow)])
def test_a_multicrop_run_trains_and_resumes_exactly(crops_folder, tmp_path, augment_on):
    """kspectral train on 4 views (2 large, 2 small crops), interrupted after 5 steps, resumed: the same weights and
    history as an uninterrupted run; the closed form's graph links the 4 views of each image."""
    from test_resume import history

    config = runs.RunConfig(dataset=str(crops_folder), method="simclr", encoder="conv", encoder_widths="8",
                            projector="8-8", augment="multicrop", augment_options={"n_small": 2}, epochs=2,
                            batch_size=8, baseline_dim=4, tensorboard=False, checkpoint_every=2,
                            augment_on=augment_on, online_probe=False)
    runs.train(config, out=tmp_path / "reference")
    with pytest.raises(KeyboardInterrupt):
        runs.train(config, out=tmp_path / "run", callbacks=[StopAt(5)])
    stages = []
    result = runs.train(config, out=tmp_path / "run", on_stage=stages.append)
    assert result.resumed and any("resuming from the checkpoint of step 4" in s for s in stages)
    assert max_difference(tmp_path / "reference", tmp_path / "run") == 0.0
    assert history(tmp_path / "reference") == history(tmp_path / "run")
    metrics = json.loads((tmp_path / "reference" / "metrics.json").read_text())
    assert "4-view tuples" in metrics["spectral_baseline"]["graph"]


class _EMAModel(methods.VICReg):
    """A VICReg with a momentum teacher of its encoder, updated by the hook after each optimizer step."""

    def __init__(self, encoder, teacher=None, **kwargs):
        super().__init__(encoder, **kwargs)
        self.teacher = teacher or MomentumTeacher([encoder], base_tau=0.5, final_tau=1.0, total_steps=4,
                                                  source=["encoder"])


def test_the_hook_after_the_optimizer_step_moves_a_momentum_teacher_on_its_schedule():
    views = _views(2, batch=8)
    model = _EMAModel(_linear_encoder(), projector=None, diagnostics=False)
    model.compile(optimizer=keras.optimizers.SGD(0.5))
    model.build((None, 6))
    teacher_weight = model.teacher.targets[0].weights[0]
    np.testing.assert_array_equal(teacher_weight.numpy(), model.encoder.weights[0].numpy())  # start equal
    assert all(id(v) not in {id(w) for w in model.teacher.weights} for v in model.trainable_variables)
    online = []

    class Record(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            online.append(model.encoder.weights[0].numpy().copy())

    expected = teacher_weight.numpy().copy()
    model.fit(tf.data.Dataset.from_tensors(tuple(views)).repeat(3), verbose=0, callbacks=[Record()])
    for step, weights in enumerate(online):
        tau = float(momentum_schedule(step, 4, 0.5, 1.0))
        expected = tau * expected + (1 - tau) * weights
    np.testing.assert_allclose(teacher_weight.numpy(), expected, rtol=1e-6, atol=1e-7)
    assert float(np.max(np.abs(expected - online[-1]))) > 1e-4  # the teacher lags the online network


def test_the_queue_overwrites_its_oldest_rows_and_round_trips_with_its_state():
    from kspectral.methods.components import EmbeddingQueue

    initial = keras.ops.convert_to_numpy(EmbeddingQueue(5, 2).rows)
    np.testing.assert_allclose(np.linalg.norm(initial, axis=1), 1.0, rtol=1e-5)  # MoCo's unit-norm random rows
    queue = EmbeddingQueue(5, 2, normalize=False)
    queue.push(np.arange(8, dtype="float32").reshape(4, 2))
    queue.push(np.array([[10.0, 11.0], [12.0, 13.0]], "float32"))  # wraps: row 4, then row 0
    rows = keras.ops.convert_to_numpy(queue.rows)
    np.testing.assert_array_equal(rows, [[12, 13], [2, 3], [4, 5], [6, 7], [10, 11]])
    assert int(queue.position) == 1 and int(queue.filled) == 5
    with pytest.raises(ValueError, match="does not fit a queue of 5"):
        queue.push(np.zeros((6, 2), "float32"))
    # its state is in its weights (what .keras files and checkpoints hold), its shape in its config
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(queue))
    restored.set_weights(queue.get_weights())
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(restored.rows), rows)
    assert int(restored.position) == 1 and int(restored.filled) == 5 and len(queue.weights) == 3


def test_the_centre_is_an_ema_of_the_batch_means_of_every_view():
    from kspectral.methods.components import Centre

    centre = Centre(2, momentum=0.75)
    centre.update([np.array([[1.0, 2.0]]), np.array([[3.0, 6.0]])])  # views averaged together: mean (2, 4)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(centre.value), [0.5, 1.0])
    np.testing.assert_allclose(keras.ops.convert_to_numpy(centre(np.array([[1.0, 1.0]], "float32"))), [[0.5, 0.0]])
    with pytest.raises(ValueError, match="momentum must be below 1"):
        Centre(2, momentum=1.0)


def test_a_queue_and_a_centre_with_a_source_update_from_the_steps_outputs():
    """`source=` names an output of the forward pass: the model's after_optimizer_step hook pushes it into the queue
    (a per-view list view after view) and moves the centre towards its mean; a wrong name is refused."""
    from kspectral.methods.components import Centre, EmbeddingQueue

    queue = EmbeddingQueue(4, 2, normalize=False, source="k")
    queue.update_after_step(None, 0, {"k": [np.array([[1.0, 2.0]], "float32"), np.array([[3.0, 4.0]], "float32")]})
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(queue.rows)[:2], [[1.0, 2.0], [3.0, 4.0]])
    assert int(queue.position) == 2 and int(queue.filled) == 2
    centre = Centre(2, momentum=0.5, source="t")
    centre.update_after_step(None, 0, {"t": np.array([[2.0, 4.0], [4.0, 8.0]], "float32")})
    np.testing.assert_allclose(keras.ops.convert_to_numpy(centre.value), [1.5, 3.0])
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(queue))
    assert restored.source == "k"
    with pytest.raises(ValueError, match="'k' is not an output of the forward pass .*z_a"):
        queue.update_after_step(None, 0, {"z_a": np.zeros((1, 2), "float32")})
    Centre(2).update_after_step(None, 0, {})  # without a source: the method updates it itself


def test_the_predictor_is_a_projector_named_by_its_role():
    from kspectral.methods.components import Predictor

    head = Predictor("8-3")
    assert head.name == "predictor" and tuple(head(np.zeros((4, 5), "float32")).shape) == (4, 3)
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(head))
    assert isinstance(restored, Predictor) and restored.get_config()["spec"] == head.get_config()["spec"]
