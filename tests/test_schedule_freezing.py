"""What a run gives a method about its length (``run_schedule``) and the weights a method freezes for its first
steps (``SSLModel.frozen_weights``, ``kspectral.methods.freezing``)."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from kspectral import methods, runs
from kspectral.encoders import mlp_encoder
from kspectral.runs.workflows import run_schedule


class _FrozenHead(methods.VICReg):
    """VICReg whose projector's last kernel is held fixed for the first ``frozen_steps`` optimizer steps."""

    def __init__(self, encoder, frozen_steps=2, total_steps=None, steps_per_epoch=None, **kwargs):
        super().__init__(encoder, **kwargs)
        self.frozen_steps, self.total_steps, self.steps_per_epoch = frozen_steps, total_steps, steps_per_epoch

    def frozen_weights(self):
        return [([self.projector.trainable_weights[-1]], self.frozen_steps)]


def _data(rng):
    a = rng.normal(size=(64, 8, 8, 1)).astype("float32")
    return tf.data.Dataset.from_tensor_slices((a, a + 0.1 * rng.normal(size=a.shape).astype("float32"))).batch(32)


def test_frozen_weights_do_not_move_under_decay_and_momentum_then_train(rng):
    keras.utils.set_random_seed(0)
    model = _FrozenHead(mlp_encoder((8, 8, 1), "16"), frozen_steps=2, projector="16-8", diagnostics=False)
    # decoupled weight decay and momentum would move a weight whose gradient is zero: the freeze restores it
    model.compile(optimizer=keras.optimizers.SGD(0.1, momentum=0.9, weight_decay=0.1))
    data = _data(rng)
    model.build((None, 8, 8, 1))
    frozen, free = model.projector.trainable_weights[-1], model.projector.trainable_weights[0]
    before, free_before = frozen.numpy().copy(), free.numpy().copy()
    model.fit(data, epochs=1, verbose=0)  # steps 0 and 1: frozen
    np.testing.assert_array_equal(frozen.numpy(), before)
    assert np.max(np.abs(free.numpy() - free_before)) > 1e-3
    model.fit(data.take(1), epochs=1, verbose=0)  # step 2: trained
    assert np.max(np.abs(frozen.numpy() - before)) > 1e-4


def test_the_run_gives_its_length_to_the_methods_that_take_it():
    config = runs.RunConfig(method="vicreg", epochs=3)
    assert run_schedule(config, steps=7) == {}  # VICReg takes neither argument
    methods.register("frozen_head_test", description="a test method (arXiv: none)")(_FrozenHead)
    try:
        config = runs.RunConfig(method="frozen_head_test", epochs=3)
        assert run_schedule(config, steps=7) == {"total_steps": 21, "steps_per_epoch": 7}
    finally:
        from kspectral import catalog
        from kspectral.methods import registry

        registry._METHODS.pop("frozen_head_test", None)
        catalog.METHODS.pop("frozen_head_test", None)
        _FrozenHead.registry_name = None


def test_no_frozen_weights_by_default():
    model = methods.VICReg(mlp_encoder((8, 8, 1), "8"), projector="8")
    assert model.frozen_weights() == []
    with pytest.raises(AttributeError):
        _ = model.steps_per_epoch


class _TeacherOfRegularizedEncoder(methods.VICReg):
    """VICReg with a momentum teacher of its (L2-regularised) encoder: the teacher's copy carries the regulariser."""

    def __init__(self, encoder, **kwargs):
        super().__init__(encoder, **kwargs)
        from kspectral.methods.components import MomentumTeacher

        self.teacher = MomentumTeacher([self.encoder], base_tau=0.5, source=["encoder"], name="teacher")


def test_the_loss_holds_the_regularizers_of_the_trained_networks_only(rng):
    keras.utils.set_random_seed(0)
    encoder = keras.Sequential([keras.Input((6,)), keras.layers.Dense(4, kernel_regularizer=keras.regularizers.L2(0.5))])
    model = _TeacherOfRegularizedEncoder(encoder, projector="4", diagnostics=False)
    model.build((None, 6))
    model.teacher.targets[0].layers[0].kernel.assign(np.full((6, 4), 3.0, "float32"))  # a large, distinct penalty
    a = rng.normal(size=(8, 6)).astype("float32")
    b = a + 0.1
    terms = model.compute_objective(model.forward(a, b, training=False))
    reported = float(model._with_regularizers(terms["loss"]))
    penalty = 0.5 * float(np.sum(encoder.layers[0].kernel.numpy() ** 2))
    assert reported == pytest.approx(float(terms["loss"]) + penalty, rel=1e-6)
