"""``DINOHead``: DINO's projection head, an MLP, L2 normalisation and a weight-normalised linear layer onto the
prototypes (Caron et al. 2021, arXiv:2104.14294, §3.1 and Appendix; ``DINOHead`` of the official
``vision_transformer.py`` and of solo-learn's ``solo/methods/dino.py``)."""

from __future__ import annotations

import math

import keras
from keras import ops

from kspectral._validation import check_positive_int
from kspectral.errors import InputError
from kspectral.methods.projector import Projector


@keras.saving.register_keras_serializable(package="kspectral")
class WeightNormalizedDense(keras.layers.Layer):
    """A linear layer without bias whose every output unit's weight vector is normalised: ``y = x W``, ``W[:, k] =
    g_k v[:, k] / ‖v[:, k]‖`` (Salimans & Kingma 2016, arXiv:1602.07868; PyTorch's ``nn.utils.weight_norm`` of an
    ``nn.Linear`` normalises each output row of its weight, which is a column of the Keras kernel ``v``).

    ``v`` starts as PyTorch's ``nn.Linear`` does (``U(±1/√d_in)``) and ``g`` at 1, as the official DINO head sets it
    (``weight_g.data.fill_(1)``). With ``norm_last_layer=True`` (official default) ``g`` is fixed at 1 and is not a
    weight at all: ``W``'s columns are unit vectors (the prototypes), and only ``v``'s direction matters.

    Args:
        units: the number of output units (DINO's prototypes).
        norm_last_layer: ``g ≡ 1`` (``True``) or a trainable ``g`` starting at 1.

    Example:
        >>> import numpy as np
        >>> layer = WeightNormalizedDense(3)
        >>> y = layer(np.eye(2, dtype="float32"))   # the rows of W: the prototypes' unit columns
        >>> np.allclose(np.linalg.norm(keras.ops.convert_to_numpy(y), axis=0), 1.0)
        True
    """

    def __init__(self, units, norm_last_layer=True, **kwargs):
        super().__init__(**kwargs)
        self.units = check_positive_int(units, "units")
        self.norm_last_layer = bool(norm_last_layer)
        # drawn here, so that its seed follows the construction order (as Keras' layers' initialisers)
        self._uniform = keras.initializers.RandomUniform(-1.0, 1.0)

    def build(self, input_shape):
        fan_in = int(input_shape[-1])
        bound = 1.0 / math.sqrt(fan_in)
        self.v = self.add_weight(shape=(fan_in, self.units), name="v",
                                 initializer=lambda shape, dtype=None: self._uniform(shape, dtype) * bound)
        self.g = None if self.norm_last_layer else self.add_weight(shape=(self.units,), name="g",
                                                                   initializer="ones")
        self.built = True

    def kernel(self):
        """``W = g · v / ‖v‖`` (column norms), ``(d_in, units)``."""
        v = ops.convert_to_tensor(self.v)
        w = v / ops.sqrt(ops.sum(ops.square(v), axis=0, keepdims=True))
        return w if self.g is None else w * ops.convert_to_tensor(self.g)

    def call(self, inputs):
        return ops.matmul(inputs, ops.cast(self.kernel(), inputs.dtype))

    def compute_output_shape(self, input_shape):
        return (*tuple(input_shape)[:-1], self.units)

    def get_config(self):
        config = super().get_config()
        config.update(units=self.units, norm_last_layer=self.norm_last_layer)
        return config


def dino_mlp(spec="2048-2048-256", use_bn=False, layer_defaults="dino", name="dino_mlp"):
    """The official DINO head's MLP as a :class:`~kspectral.methods.Projector`: ``(Linear-[BN]-GELU) × (n − 1)``, then
    ``Linear`` to the bottleneck, every ``Linear`` with a bias, kernels ``N(0, 0.02²)`` and zero biases
    (``layer_defaults="dino"``; ``"pytorch"`` or ``"keras"`` for other initialisations). ``"2048-2048-256"`` is the
    official ``nlayers=3, hidden_dim=2048, bottleneck_dim=256``; one width, e.g. ``"256"``, is ``nlayers=1`` (one
    ``Linear``).

    The official ``N(0, 0.02²)`` kernels keep the scale of the activations at the official widths (``√2048 · 0.02 ≈
    0.9`` per layer) but shrink it at small ones (``√16 · 0.02 = 0.08``): a tiny MLP's bottleneck is then near zero
    and its L2 normalisation multiplies the gradients by ``1/‖x‖`` (a factor of 10⁴ for ``"16-16-8"`` on 8-d
    features). ``layer_defaults="pytorch"`` (``U(±1/√fan_in)``) suits small heads."""
    return Projector(spec, last_bias=True, batchnorm=bool(use_bn), layer_defaults=layer_defaults, activation="gelu",
                     name=name)


@keras.saving.register_keras_serializable(package="kspectral")
class DINOHead(keras.layers.Layer):
    """``last_layer(normalize(mlp(h)))``: DINO's head, from the representations to the logits over the prototypes.

    Args:
        mlp: a spec such as ``"2048-2048-256"`` (hidden widths, then the bottleneck; :func:`dino_mlp`, the official
            head: GELU, no BatchNorm unless ``use_bn``), or any Keras layer (e.g. the
            :class:`~kspectral.methods.Projector` that ``kspectral train`` builds from ``projector`` and
            ``projector_options``), used as is.
        num_prototypes: ``K``, the width of the logits (official 65536; solo-learn's CIFAR 4096).
        norm_last_layer: the last layer's ``g ≡ 1`` (official default ``True``); see :class:`WeightNormalizedDense`.
        use_bn: BatchNorm in the MLP built from a spec (official and solo-learn default ``False``); with a given layer
            it must stay ``False`` (that layer has its own setting).
        layer_defaults: the initialisation of the MLP built from a spec (:func:`dino_mlp`; official ``"dino"``);
            a given layer keeps its own.

    Input ``(batch, d)``; output ``(batch, num_prototypes)``. The bottleneck is L2-normalised as PyTorch's
    ``F.normalize`` (``x / max(‖x‖, 1e-12)``).

    Example:
        >>> import numpy as np
        >>> head = DINOHead("16-8", num_prototypes=32)
        >>> tuple(head(np.zeros((4, 5), "float32")).shape)
        (4, 32)
    """

    def __init__(self, mlp="2048-2048-256", num_prototypes=4096, norm_last_layer=True, use_bn=False,
                 layer_defaults="dino", **kwargs):
        super().__init__(**kwargs)
        if isinstance(mlp, dict):
            mlp = keras.saving.deserialize_keras_object(mlp)
        if isinstance(mlp, keras.layers.Layer):
            if use_bn:
                raise InputError("use_bn shapes the MLP DINOHead builds from a spec; the given layer has its own "
                                 "BatchNorm setting (a Projector's batchnorm option): drop use_bn")
            self.mlp = mlp
        elif isinstance(mlp, (str, list, tuple)):
            self.mlp = dino_mlp(mlp, use_bn=use_bn, layer_defaults=layer_defaults)
        else:
            raise TypeError(f"mlp must be a spec such as '2048-2048-256' or a Keras layer, got {type(mlp).__name__}")
        self.num_prototypes = check_positive_int(num_prototypes, "num_prototypes")
        self.norm_last_layer = bool(norm_last_layer)
        self.last_layer = WeightNormalizedDense(self.num_prototypes, self.norm_last_layer, name="last_layer")

    def build(self, input_shape):
        if not self.mlp.built:
            self.mlp.build(tuple(input_shape))
        bottleneck = self.mlp.compute_output_shape(tuple(input_shape))
        if not self.last_layer.built:
            self.last_layer.build(bottleneck)
        self.built = True

    def bottleneck(self, inputs, training=False):
        """The L2-normalised bottleneck ``mlp(h) / ‖mlp(h)‖``."""
        x = self.mlp(inputs, training=training)
        return x / ops.maximum(ops.sqrt(ops.sum(ops.square(x), axis=-1, keepdims=True)), 1e-12)

    def call(self, inputs, training=False):
        return self.last_layer(self.bottleneck(inputs, training=training))

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.num_prototypes)

    def get_config(self):
        config = super().get_config()
        config.update(mlp=keras.saving.serialize_keras_object(self.mlp), num_prototypes=self.num_prototypes,
                      norm_last_layer=self.norm_last_layer)
        return config
