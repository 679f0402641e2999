"""DirectPred (Tian, Chen & Ganguli 2021, "Understanding self-supervised learning dynamics without contrastive
pairs", arXiv:2102.06810): the predictor of BYOL / SimSiam and the eigenbasis of the embeddings' correlation.

The paper's analysis of the linear regime shows the predictor ``W_p`` and the correlation ``F = E[z zᵀ]`` of the
online projections (the predictor's inputs) come to share their eigenbasis during training, and DirectPred sets
``W_p`` from ``F``'s eigendecomposition instead of training it (§5, Eqs. 18-19). This module holds:

- :func:`correlation`: ``F`` of a batch;
- :func:`directpred_matrix`: the closed-form predictor ``W_p = U diag(p) Uᵀ`` of a correlation;
- :func:`eigenbasis_alignment`: how far a matrix is from being diagonal in ``F``'s eigenbasis (the diagnostic);
- :func:`predictor_matrix`: the (effective) linear map of a predictor on a batch;
- :class:`DirectPredictor`: the linear predictor set in closed form from a running ``F̂`` after every step.
"""

from __future__ import annotations

import keras
from keras import ops

from kspectral._validation import check_number, check_positive_int
from kspectral.errors import InputError


def correlation(z):
    """``F = zᵀz / N``: the uncentred correlation ``E[z zᵀ]`` of the ``N`` rows of ``z`` ``(N, d)``, as DirectPred
    accumulates it (``dyn_zero_mean=False``, the official default).

    Example:
        >>> import numpy as np
        >>> keras.ops.convert_to_numpy(correlation(np.array([[1.0, 0.0], [1.0, 2.0]]))).tolist()
        [[1.0, 1.0], [1.0, 2.0]]
    """
    z = ops.convert_to_tensor(z)
    return ops.matmul(ops.transpose(z), z) / ops.cast(ops.shape(z)[0], z.dtype)


def directpred_matrix(F, eps=0.1):
    """DirectPred's predictor of a correlation ``F`` (Tian et al. 2021, arXiv:2102.06810, Eqs. 18-19).

    With the eigendecomposition ``F = U diag(s) Uᵀ``: ``W_p = U diag(p) Uᵀ`` with
    ``p_j = max(√(max(s_j, 0) / max_k s_k) + ε, 10⁻⁴)``: the official code's ``balance_type="boost_scale"`` with
    ``dyn_convert=2`` (the square root) and ``dyn_eps=ε`` added outside the root (``dyn_eps_inside=False``), then
    clamped at ``1e-4`` (``facebookresearch/luckmatters``, ``ssl/real-dataset/byol_trainer.py``,
    ``compute_w_corr``). ``F`` is symmetrised first (the official code takes the real part of a general
    eigendecomposition of the symmetric ``F̂``).

    Args:
        F: a ``(d, d)`` correlation matrix (symmetric, positive semi-definite).
        eps: ε, the boost of the small eigen-directions (default 0.1, as the paper's text; the official README's
            example command uses ``dyn_eps=0.01``).

    Example:
        >>> import numpy as np
        >>> W = directpred_matrix(np.diag([4.0, 1.0, 0.0]), eps=0.1)
        >>> np.round(np.diag(keras.ops.convert_to_numpy(W)), 6).tolist()  # √1 + ε, √¼ + ε, √0 + ε
        [1.1, 0.6, 0.1]
    """
    F = ops.convert_to_tensor(F)
    F = (F + ops.transpose(F)) / 2.0
    s, U = ops.eigh(F)
    s = ops.maximum(s, 0.0)
    top = ops.maximum(ops.max(s), 1e-12)
    p = ops.maximum(ops.sqrt(s / top) + ops.cast(eps, F.dtype), 1e-4)
    return ops.matmul(U * p[None, :], ops.transpose(U))


def eigenbasis_alignment(W, F):
    """``‖diag(Uᵀ W U)‖² / ‖Uᵀ W U‖²_F``, the share of ``W``'s energy on the diagonal in ``F``'s eigenbasis ``U``.

    The diagnostic of DirectPred's claim (Tian et al. 2021, arXiv:2102.06810, §4: the predictor and the correlation
    of its inputs come to share their eigenvectors). It is 1 exactly when ``W = U diag(w) Uᵀ`` for some ``w``
    (``W`` symmetric with ``F``'s eigenvectors, as DirectPred's predictor) and below 1 otherwise; the asymmetric
    part of ``W`` counts against it. For a ``d × d`` matrix with i.i.d. Gaussian entries it is about ``1/d``
    (``2/(d + 1)`` for a random symmetric one): the chance level. Invariant to the scale of ``W`` and to ``W → Wᵀ``;
    ``U`` from ``eigh`` of the symmetrised ``F`` (within an eigenspace of ``F`` with repeated eigenvalues the basis is
    not unique, and neither is the value). Cost: one ``d × d`` eigendecomposition and two ``d × d`` products.

    Args:
        W: ``(d, d)``, the predictor's matrix (:func:`predictor_matrix`).
        F: ``(d, d)``, the correlation of the predictor's inputs (:func:`correlation`).

    Example:
        >>> import numpy as np
        >>> F = np.diag([3.0, 2.0, 1.0])
        >>> float(eigenbasis_alignment(np.diag([1.0, 5.0, 2.0]), F))
        1.0
        >>> round(float(eigenbasis_alignment(np.array([[1.0, 1.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]), F)), 6)
        0.75
    """
    W, F = ops.convert_to_tensor(W), ops.convert_to_tensor(F)
    _, U = ops.eigh((F + ops.transpose(F)) / 2.0)
    A = ops.matmul(ops.transpose(U), ops.matmul(W, U))
    total = ops.sum(ops.square(A))
    return ops.sum(ops.square(ops.diagonal(A))) / ops.maximum(total, 1e-30)


def predictor_matrix(predictor, z):
    """The ``(d, d)`` linear map ``M`` (``p ≈ z M``, rows as samples) of a predictor on a batch ``z`` ``(N, d)``.

    - :class:`DirectPredictor`: its matrix (exact: the predictor is linear).
    - A :class:`~kspectral.methods.components.Predictor` (``(Linear-BN-ReLU) × (n − 1)``, ``Linear``): the mean
      over the batch of its Jacobian ``∂p/∂z``, with each BatchNorm's normalisation taken at the batch's statistics
      (held constant) and each ReLU at the batch's mean activation pattern: ``M = K₁ diag(γ₁/σ₁ ⊙ m̄₁) K₂ ⋯``
      (``K`` the kernels, ``γ/σ`` the BatchNorm's scale over the batch's standard deviation, ``m̄`` the fraction of
      the batch for which each ReLU is active). Exact (the batch mean of the per-sample Jacobians) with one hidden
      layer, BYOL's and SimSiam's predictor; with more, the product of the layers' batch means.

    Cost: the predictor's forward pass on ``z`` and the products of its kernels, ``O(N d h + d² h)``.
    """
    if isinstance(predictor, DirectPredictor):
        return ops.convert_to_tensor(predictor.matrix)
    blocks = getattr(predictor, "blocks", None)
    if blocks is None:
        raise InputError(f"predictor_matrix reads a kspectral Predictor or DirectPredictor, got "
                         f"{type(predictor).__name__}")
    x = ops.convert_to_tensor(z)
    M = None
    for layer in blocks:
        if isinstance(layer, keras.layers.Dense):
            kernel = ops.cast(ops.convert_to_tensor(layer.kernel), x.dtype)
            M = kernel if M is None else ops.matmul(M, kernel)
            x = ops.matmul(x, kernel)
            if layer.use_bias:
                x = x + ops.cast(ops.convert_to_tensor(layer.bias), x.dtype)
        elif isinstance(layer, keras.layers.BatchNormalization):
            mean = ops.mean(x, axis=0)
            scale = ops.rsqrt(ops.mean(ops.square(x - mean), axis=0) + layer.epsilon)
            if layer.scale:
                scale = scale * ops.cast(ops.convert_to_tensor(layer.gamma), x.dtype)
            x = (x - mean) * scale
            if layer.center:
                x = x + ops.cast(ops.convert_to_tensor(layer.beta), x.dtype)
            M = M * scale[None, :]
        elif isinstance(layer, keras.layers.ReLU):
            active = ops.cast(x > 0, x.dtype)
            M = M * ops.mean(active, axis=0)[None, :]
            x = ops.relu(x)
        else:
            raise InputError(f"predictor_matrix does not know the predictor's layer {type(layer).__name__}")
    return M


@keras.saving.register_keras_serializable(package="kspectral")
class DirectPredictor(keras.layers.Layer):
    """DirectPred's linear predictor ``p = z W_p`` with ``W_p`` set in closed form after every optimizer step.

    Tian, Chen & Ganguli 2021 (arXiv:2102.06810, §5, Eqs. 17-19; the official ``predictor_reg="corr"``,
    ``predictor_freq=1``, ``dyn_lambda=ρ``, ``balance_type="boost_scale"``, no bias): after each optimizer step the
    running correlation ``F̂ ← ρ F̂ + (1 − ρ) F`` absorbs the step's batch correlation ``F`` (:func:`correlation` of
    the online projections of **both** views, ``2B`` rows; the first step sets ``F̂ = F``, as the official
    ``Accumulator``), and ``W_p ← directpred_matrix(F̂, ε)``. The batch is the **global** batch under a strategy
    (the model hands :meth:`update_after_step` the gathered outputs), so every replica holds the same ``F̂`` and
    ``W_p``. Before the first step ``W_p`` is Glorot-uniform (the official code's ``xavier_uniform_``). ``W_p``, ``F̂``
    and the count of updates are non-trainable model variables (the optimizer never moves them): ``.keras`` files
    and checkpoints hold them, so a resumed run goes on with the same ``F̂``. Gradients flow through ``W_p`` to the
    projector and encoder.

    Args:
        dim: the projection width ``d`` (input and output).
        rho: ρ, the weight of the past in the running average (official 0.3).
        eps: ε of :func:`directpred_matrix` (default 0.1).
        source: the outputs of the forward pass whose rows feed ``F̂`` (default the online projections
            ``("z_a", "z_b")``).

    Example:
        >>> import numpy as np
        >>> pred = DirectPredictor(2, rho=0.3, eps=0.0)
        >>> pred.update(np.array([[2.0, 0.0], [0.0, 1.0]]))  # F = diag(2, 0.5)
        >>> np.round(keras.ops.convert_to_numpy(pred.matrix), 6).tolist()  # diag(√1, √¼)
        [[1.0, 0.0], [0.0, 0.5]]
    """

    #: set in closed form, not by the model's optimizer
    trained_by_optimizer = False

    def __init__(self, dim, rho=0.3, eps=0.1, source=("z_a", "z_b"), **kwargs):
        kwargs.setdefault("name", "predictor")
        super().__init__(**kwargs)
        self.dim = check_positive_int(dim, "dim")
        self.rho = check_number(rho, "rho", minimum=0.0, maximum=1.0)
        if self.rho == 1.0:
            raise InputError("rho must be below 1 (the running correlation would never move), got 1.0")
        self.eps = check_number(eps, "eps")
        self.source = [str(s) for s in source]
        self.matrix = self.add_weight(shape=(self.dim, self.dim), initializer="glorot_uniform", trainable=False,
                                      dtype="float32", name="matrix")
        self.running_correlation = self.add_weight(shape=(self.dim, self.dim), initializer="zeros", trainable=False,
                                                   dtype="float32", name="running_correlation")
        self.updates = self.add_weight(shape=(), initializer="zeros", trainable=False, dtype="int32", name="updates")
        self.built = True

    def call(self, inputs, training=False):
        return ops.matmul(inputs, ops.cast(self.matrix, inputs.dtype))

    def update(self, z):
        """Absorb the batch ``z`` ``(N, dim)`` (or a list of such, stacked) into ``F̂`` and set ``W_p`` from it."""
        if isinstance(z, (list, tuple)):
            z = ops.concatenate([ops.convert_to_tensor(v) for v in z], axis=0)
        z = ops.cast(ops.stop_gradient(ops.convert_to_tensor(z)), "float32")
        F = correlation(z)
        first = ops.equal(self.updates, 0)
        running = ops.where(first, F, self.rho * self.running_correlation + (1.0 - self.rho) * F)
        self.running_correlation.assign(running)
        self.matrix.assign(directpred_matrix(running, self.eps))
        self.updates.assign(self.updates + 1)

    def update_after_step(self, model, step, outputs):
        """The model's hook after each optimizer step: :meth:`update` from ``outputs[source]`` (the gathered online
        projections of the step's forward pass)."""
        missing = [name for name in self.source if name not in outputs]
        if missing:
            raise InputError(f"DirectPredictor's source {missing} is not among the forward pass's outputs "
                             f"({', '.join(sorted(outputs))})")
        self.update([outputs[name] for name in self.source])

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.dim)

    def get_config(self):
        config = super().get_config()
        config.update(dim=self.dim, rho=self.rho, eps=self.eps, source=list(self.source))
        return config


__all__ = ["DirectPredictor", "correlation", "directpred_matrix", "eigenbasis_alignment", "predictor_matrix"]
