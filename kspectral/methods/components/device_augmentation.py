"""``DeviceAugmentation``: the views of a batch of images drawn inside the train step, on the accelerator.

The ``augment_on = "device"`` setting: the model is fitted on batches of raw images and this component draws the
views, one per augmenter (a single augmenter serves two views), with the same seeding rule as the ``tf.data``
pipelines (:func:`kspectral.data.seeding.reseed`): the views of train step ``t`` are drawn from ``(each augmenter's
seed, t)``, so they do not depend on what was drawn before, and a resumed run draws what an uninterrupted one does.
"""

from __future__ import annotations

import keras
import tensorflow as tf
from keras import ops

from kspectral.errors import InputError


def check_augmenters(augmenters):
    """``augmenters`` as a non-empty list of Keras layers: one (used for two views) or ``V ≥ 2``, one per view (e.g.
    multi-crop's, global views first); configs (a ``.keras`` file's) are deserialised."""
    if isinstance(augmenters, dict):
        augmenters = keras.saving.deserialize_keras_object(augmenters)
    if isinstance(augmenters, keras.layers.Layer):
        augmenters = [augmenters]
    elif isinstance(augmenters, (list, tuple)):
        augmenters = [keras.saving.deserialize_keras_object(a) if isinstance(a, dict) else a for a in augmenters]
    else:
        raise TypeError(
            f"augmenters must be a Keras layer or a list of them (one per view), got {type(augmenters).__name__}; "
            "build them with kspectral.data.augmenter(name, image_size=...)"
        )
    if not augmenters:
        raise InputError("augmenters is an empty list; give one augmenter (both views) or one per view")
    for i, aug in enumerate(augmenters):
        if not isinstance(aug, keras.layers.Layer):
            raise TypeError(
                f"augmenters[{i}] must be a Keras layer (so that the model can save it), got {type(aug).__name__}; "
                "build one with kspectral.data.augmenter(name, image_size=...)"
            )
    return augmenters


@keras.saving.register_keras_serializable(package="kspectral")
class DeviceAugmentation(keras.layers.Layer):
    """Draw the views of a batch of images: ``(augmenters[0](x), ..., augmenters[V−1](x))``, or two draws of a
    single augmenter.

    ``uint8`` images are scaled to ``[0, 1]``; other dtypes are cast to float32 (the presets expect ``[0, 1]``).

    ``step`` (the train step's 0-based optimizer step) re-seeds every augmenter first
    (:func:`kspectral.data.seeding.reseed`: each ``SeedGenerator`` state set to ``[its seed, SEED_STRIDE·step]``),
    so the views of step ``t`` are a function of ``(seed, t)`` and of the images only; without ``step`` the
    augmenters draw from their current states (which advance).

    Under a strategy with several replicas (called in a replica context, as in ``fit()``), every replica all-gathers
    the raw images of the global batch, augments all of them with the same random state (the seed states are
    mirrored) and keeps the rows of its own slice: the views are those one device draws for the global batch. The
    cost is an all-gather of the raw batch and R times the augmentation work per replica (small next to the encoder
    for small images).

    Args:
        augmenters: a Keras augmentation layer (two views) or a list of them, one per view
            (:func:`check_augmenters`).

    Example:
        >>> from kspectral.data import digits_augmenter
        >>> views = DeviceAugmentation(digits_augmenter(seed=0))(np.zeros((4, 8, 8, 1), "float32"), step=0)
        >>> len(views), tuple(views[0].shape)
        (2, (4, 8, 8, 1))
    """

    #: no weights to train: the augmenters' random states are variables, not parameters
    trained_by_optimizer = False

    def __init__(self, augmenters, **kwargs):
        kwargs.setdefault("name", "device_augmentation")
        kwargs.setdefault("dtype", "float32")  # no autocast of the images to a mixed-precision compute dtype
        super().__init__(**kwargs)
        self.augmenters = check_augmenters(augmenters)

    @property
    def view_count(self):
        return max(len(self.augmenters), 2)

    def call(self, x, training=True, step=None):
        from kspectral.data.seeding import reseed
        from kspectral.data.views import view_augmenters

        x = ops.convert_to_tensor(x)
        scale = x.dtype == "uint8"
        ctx = tf.distribute.get_replica_context()
        replicas = 1 if ctx is None else ctx.num_replicas_in_sync
        if replicas > 1:
            sizes = ctx.all_gather(tf.shape(x)[:1], axis=0)  # the replicas' batch sizes (the last may be uneven)
            start = tf.reduce_sum(sizes[: ctx.replica_id_in_sync_group])
            # Collectives take no uint8; float16 holds the integers 0-255 exactly, in half float32's bytes. The
            # gather loses the static shape of the image axes, which the augmentation layers read.
            x = tf.ensure_shape(ctx.all_gather(ops.cast(x, "float16" if scale else "float32"), axis=0),
                                (None, *x.shape[1:]))
        x = ops.cast(x, "float32") / 255.0 if scale else ops.cast(x, "float32")
        seeded = [] if step is None else reseed(self.augmenters, step)
        with tf.control_dependencies(seeded):
            x = tf.identity(x)
        spec = self.augmenters[0] if len(self.augmenters) == 1 else self.augmenters
        views = tuple(aug(x, training=training) for aug in view_augmenters(spec))
        if replicas > 1:
            views = tuple(v[start : start + sizes[ctx.replica_id_in_sync_group]] for v in views)
        return views

    def get_config(self):
        config = super().get_config()
        config["augmenters"] = [keras.saving.serialize_keras_object(a) for a in self.augmenters]
        return config
