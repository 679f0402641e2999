"""``Centre``: an exponential moving average of a batch mean (DINO's centring of the teacher's logits)."""

from __future__ import annotations

import keras
from keras import ops

from kspectral._validation import check_number, check_positive_int
from kspectral.errors import InputError


@keras.saving.register_keras_serializable(package="kspectral")
class Centre(keras.layers.Layer):
    """``c ← m·c + (1 − m)·mean(batch)``, a vector of dimension ``dim`` that starts at zero.

    DINO (Caron et al. 2021, arXiv:2104.14294, Eq. 4 and Algorithm 1) subtracts it from the teacher's logits and
    updates it from the teacher's outputs on the global views of the **global** batch (the official code
    all-reduces the batch sum and divides by the global count): under a strategy the model gives :meth:`update` the
    all-gathered outputs, so every replica holds the same centre. The centre is a model variable: ``.keras`` files
    and checkpoints hold it.

    Args:
        dim: the dimension.
        momentum: ``m ∈ [0, 1)`` (DINO: 0.9).
        source: ``None`` (the method calls :meth:`update` itself), or the name of an output of the model's forward
            pass (a tensor or a per-view list, e.g. the teacher's logits of the global views): the model then updates
            the centre from those outputs of the **global** batch after every optimizer step
            (:meth:`update_after_step`), after the objective has used the centre, as DINO's ``update_center``.

    Example:
        >>> import numpy as np
        >>> centre = Centre(2, momentum=0.9)
        >>> centre.update(np.array([[1.0, 3.0], [3.0, 5.0]]))
        >>> np.round(keras.ops.convert_to_numpy(centre.value).astype(float), 3).tolist()
        [0.2, 0.4]
    """

    def __init__(self, dim, momentum=0.9, source=None, **kwargs):
        super().__init__(**kwargs)
        self.source = None if source is None else str(source)
        self.dim = check_positive_int(dim, "dim")
        self.momentum = check_number(momentum, "momentum", minimum=0.0, maximum=1.0)
        if self.momentum == 1.0:
            raise InputError("momentum must be below 1 (the centre would never move), got 1.0")
        self.centre = self.add_weight(shape=(self.dim,), initializer="zeros", trainable=False, dtype="float32",
                                      name="centre")
        self.built = True

    @property
    def value(self):
        """The current centre, ``(dim,)``."""
        return ops.convert_to_tensor(self.centre)

    def update(self, batch):
        """Move the centre towards ``mean(batch, axis=0)``; ``batch`` is ``(B, dim)`` (or a list of such, one per
        view, averaged together)."""
        if isinstance(batch, (list, tuple)):
            batch = ops.concatenate([ops.convert_to_tensor(b) for b in batch], axis=0)
        batch = ops.cast(ops.stop_gradient(ops.convert_to_tensor(batch)), "float32")
        mean = ops.mean(batch, axis=0)
        self.centre.assign(self.momentum * self.centre + (1.0 - self.momentum) * mean)

    def update_after_step(self, model, step, outputs):
        """Update from ``outputs[source]`` (the gathered outputs of the step's forward pass) when :attr:`source` is
        set."""
        if self.source is None:
            return
        if self.source not in outputs:
            raise InputError(f"the centre's source {self.source!r} is not an output of the forward pass "
                             f"(outputs: {', '.join(sorted(outputs))}); name one of them")
        self.update(outputs[self.source])

    def call(self, inputs):
        """``inputs − centre``."""
        return inputs - ops.cast(self.value, inputs.dtype)

    def get_config(self):
        config = super().get_config()
        config.update(dim=self.dim, momentum=self.momentum, source=self.source)
        return config
