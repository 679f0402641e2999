"""The Keras entry points of :class:`kspectral.methods.SSLModel` (``compile``, ``fit``, building before the first
batch) with kspectral's defaults and the workarounds its Keras version needs: :class:`KerasEntryPoints`, a base of
``SSLModel``."""

from __future__ import annotations

import keras
import tensorflow as tf

from kspectral.errors import InputError


class KerasEntryPoints:
    """``compile`` with an optimizer only, ``fit`` without Keras' shuffle warning, and builds that work under every
    ``tf.distribute`` strategy (a mixin placed before ``keras.Model``)."""

    def _maybe_symbolic_build(self, iterator=None, data_batch=None):
        """Keras' build before ``fit()`` / ``evaluate()`` under a strategy, from the first replica's local batch.

        Keras 3 (up to 3.15 at least) reduces the first distributed batch across replicas with ``strategy.reduce``
        to get its shapes, which fails under ``MultiWorkerMirroredStrategy`` ("Attempt to convert a value
        (PerReplica...)", keras-team/keras#20585); the first local replica's batch has the same shapes and needs no
        communication. Keras resets the iterator after the build, as with its own version.
        """
        if iterator is not None and getattr(self, "_distribute_strategy", None) is not None:
            local = self._distribute_strategy.experimental_local_results
            for _, _, batches in iterator:
                data_batch = keras.tree.map_structure(
                    lambda v: local(v)[0] if isinstance(v, tf.distribute.DistributedValues) else v, next(batches))
                break
            iterator = None
        result = super()._maybe_symbolic_build(iterator=iterator, data_batch=data_batch)
        strategy = getattr(self, "_distribute_strategy", None)
        if strategy is not None and self.online_probe is not None:
            # The probe's optimizer creates its state here, under the strategy, not in the first replica step: Adam's
            # slots created inside the traced step fail under MirroredStrategy ("You must feed a value for
            # placeholder tensor").
            with strategy.scope():
                self.online_probe.build_optimizer()
        return result

    def _ensure_built(self, inputs):
        # fit() on one device traces train_step without calling the model, so Keras never builds it;
        # building here records the input shape that `.keras` files need to restore the optimizer state.
        if not self.built:
            self.build((None, *tuple(inputs.shape)[1:]))

    def build_from_encoder(self):
        """Build the model (heads, online probe, its optimizer) from the encoder's input shape, when it is known.

        ``fit()`` calls it first: callbacks such as ``keras.callbacks.BackupAndRestore`` need a built model in
        ``on_train_begin``, before the first batch would build it. The shape is known when the encoder is a built
        Keras model with one input (e.g. ``keras.Sequential([keras.Input(shape), ...])`` or a functional model);
        otherwise nothing happens and the first batch builds the model, or build it yourself:
        ``model.build((None, *input_shape))``. Returns whether the model is built.
        """
        if self.built:
            return True
        inputs = getattr(self.encoder, "inputs", None) if self.encoder.built else None
        if not inputs or len(inputs) != 1 or inputs[0].shape is None:
            return False
        with self.distribute_strategy.scope():
            self.build((None, *tuple(inputs[0].shape)[1:]))
        return True

    def compile(self, optimizer="rmsprop", loss=None, metrics=None, loss_weights=None, weighted_metrics=None,
                **kwargs):
        """Keras ``compile`` with an optimizer only: the loss and metrics are the method's own.

        Raises:
            InputError: ``loss``, ``metrics``, ``loss_weights`` or ``weighted_metrics`` given (they would be
                ignored), or the online probe's optimizer given as the model's.
        """
        given = [n for n, v in (("loss", loss), ("metrics", metrics), ("loss_weights", loss_weights),
                                ("weighted_metrics", weighted_metrics)) if v is not None]
        if given:
            raise InputError(
                f"SSL models compute their own loss and metrics; compile them with an optimizer only "
                f"(got {', '.join(given)}), e.g. model.compile(optimizer='adam')"
            )
        if optimizer is not None and optimizer is self.online_probe_optimizer:
            raise InputError(
                "the model's optimizer and the online probe's must be two optimizer objects; pass a new one to "
                "compile() or to online_probe_optimizer="
            )
        super().compile(optimizer=optimizer, **kwargs)

    def fit(self, x=None, y=None, *args, **kwargs):
        """Keras ``fit``, with ``shuffle`` defaulting to ``False`` when ``x`` is a ``tf.data`` dataset.

        Keras' ``fit(shuffle=True)`` default cannot shuffle a ``tf.data.Dataset`` and warns ("`shuffle=True` was
        passed, but will be ignored") on every call; kspectral's pipelines (:func:`kspectral.data.augmented_pairs`,
        :func:`~kspectral.data.graph_pairs`, :func:`~kspectral.data.image_batches`) shuffle themselves, so for a
        dataset (or a ``tf.distribute`` distributed dataset) the default becomes ``False`` and nothing is printed.
        An explicit ``shuffle`` and every other argument pass through to ``keras.Model.fit`` unchanged.

        Example:
            >>> model.fit(augmented_pairs(x, digits_augmenter()), epochs=3)  # doctest: +SKIP
        """
        shuffle_given = "shuffle" in kwargs or len(args) >= 7  # shuffle is fit's 9th positional argument
        if not shuffle_given and isinstance(x, (tf.data.Dataset, tf.distribute.DistributedDataset)):
            kwargs["shuffle"] = False
        self.build_from_encoder()
        return super().fit(x, y, *args, **kwargs)

    def compile_from_config(self, config):
        """Re-compile a loaded model from its saved compile config (optimizer state included)."""
        config = keras.saving.deserialize_keras_object(config)
        self.compile(**config)
        if getattr(self, "optimizer", None) is not None and self.built:
            self.optimizer.build(self.trainable_variables)
