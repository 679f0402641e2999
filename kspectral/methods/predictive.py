"""BYOL and SimSiam as Keras models: an online branch with a predictor against a target without gradient, and
DirectPred's closed-form predictor (Tian, Chen & Ganguli 2021, arXiv:2102.06810) as an option of both."""

from __future__ import annotations

import keras
from keras import ops

from kspectral._validation import check_positive_int
from kspectral.errors import InputError
from kspectral.methods.base import SSLModel
from kspectral.methods.components import MomentumTeacher, Predictor
from kspectral.methods.components.teacher import TeacherSettings
from kspectral.methods.components.directpred import (
    DirectPredictor,
    correlation,
    eigenbasis_alignment,
    predictor_matrix,
)
from kspectral.methods.diagnostics import diagnostics_due
from kspectral.methods.projector import make_projector
from kspectral.methods.registry import register
from kspectral.objectives.predictive import byol, simsiam

#: the predictors a predictive method takes (``predictor=...``)
PREDICTORS = ("mlp", "directpred")
#: the key of the objective's terms that carries the alignment's weight (1 where it was computed, 0 elsewhere)
_ALIGNMENT_WEIGHT = "_predictor_alignment_weight"


def _projection_dim(projector, method):
    """The output width of the projector: the predictor maps it to itself."""
    if projector is None:
        raise InputError(f"{method} needs a projector: its predictor maps the projection to the projection's width")
    for attribute in ("output_dim", "units"):
        if isinstance(getattr(projector, attribute, None), int):
            return getattr(projector, attribute)
    raise InputError(f"{method} cannot tell the output width of the projector {type(projector).__name__}; give a "
                     "projector spec such as '4096-256' (or a kspectral Projector)")


class _PredictiveMethod(SSLModel):
    """Shared body of :class:`BYOL` and :class:`SimSiam`: a predictor on the online projection, the targets, and the
    ``predictor_alignment`` diagnostic."""

    max_views = 2
    loss_terms = ("similarity", "predictor_alignment")

    def __init__(self, encoder, projector, predictor="mlp", predictor_hidden=4096, predictor_options=None,
                 directpred_rho=0.3, directpred_eps=0.1, **kwargs):
        super().__init__(encoder, projector, **kwargs)
        method = type(self).__name__
        if not self.diagnostics:  # the alignment is a diagnostic: without them it is neither computed nor reported
            self.loss_terms = tuple(t for t in self.loss_terms if t != "predictor_alignment")
            kept = [i for i, n in enumerate(self._metric_names) if n != "predictor_alignment"]
            self._metric_names = [self._metric_names[i] for i in kept]
            self._trackers = [self._trackers[i] for i in kept]
        if predictor not in PREDICTORS:
            raise InputError(f"unknown predictor {predictor!r} for {method}; choose one of: {', '.join(PREDICTORS)}")
        if predictor_options is not None and not isinstance(predictor_options, dict):
            raise InputError(f"predictor_options must be a dict of Predictor options (e.g. {{'layer_defaults': "
                             f"'pytorch'}}), got {type(predictor_options).__name__}")
        self.predictor_kind = predictor
        self.predictor_hidden = check_positive_int(predictor_hidden, "predictor_hidden")
        self.predictor_options = None if predictor_options is None else dict(predictor_options)
        self.directpred_rho = float(directpred_rho)
        self.directpred_eps = float(directpred_eps)
        dim = _projection_dim(self.projector, method)
        if predictor == "directpred":
            if self.predictor_options:
                raise InputError("predictor_options apply to the MLP predictor; DirectPred's is linear (drop them)")
            self.predictor = DirectPredictor(dim, rho=self.directpred_rho, eps=self.directpred_eps, name="predictor")
        else:
            options = self.predictor_options
            if options is None:  # the projector's layer defaults (PyTorch's in the solo-learn recipes)
                defaults = getattr(self.projector, "layer_defaults", None)
                options = {} if defaults is None else {"layer_defaults": defaults}
            try:
                self.predictor = Predictor(f"{self.predictor_hidden}-{dim}", name="predictor", **options)
            except TypeError as exc:
                raise InputError(f"bad predictor_options: {exc}") from None

    def build_heads(self, representation_shape):
        """Build the projector and the predictor (on the projection's width)."""
        super().build_heads(representation_shape)
        if not self.predictor.built:
            self.predictor.build((None, _projection_dim(self.projector, type(self).__name__)))

    def _predict(self, outputs, training):
        outputs["p_a"] = self.predictor(outputs["z_a"], training=training)
        outputs["p_b"] = self.predictor(outputs["z_b"], training=training)
        return outputs

    # ------------------------------------------------------------------ the diagnostic
    def predictor_alignment(self, z):
        """DirectPred's alignment of the predictor with the correlation of its inputs on a batch of projections
        ``z`` ``(N, d)``: :func:`~kspectral.methods.components.directpred.eigenbasis_alignment` of the predictor's
        matrix (:func:`~kspectral.methods.components.directpred.predictor_matrix`: exact for DirectPred's linear
        predictor, the batch-mean Jacobian for the MLP) in the eigenbasis of ``F = E[z zᵀ]``. 1: the predictor is
        diagonal in ``F``'s eigenbasis (DirectPred's fixed point); about ``1/d`` for an unrelated matrix."""
        z = ops.stop_gradient(ops.cast(z, "float32"))
        return ops.stop_gradient(eigenbasis_alignment(predictor_matrix(self.predictor, z), correlation(z)))

    def _alignment_terms(self, outputs):
        """``predictor_alignment`` on the online projections of both views (``2B`` rows), computed on the batches
        where the batch diagnostics are due (:func:`~kspectral.methods.diagnostics.diagnostics_due`: its ``d × d``
        eigendecomposition costs about one RankMe), with its weight (0 elsewhere, so that the metric is the mean
        over the batches where it was computed). Nothing without diagnostics (``diagnostics=False``)."""
        if not self.diagnostics:
            return {}
        zero = ops.zeros((), "float32")
        z = ops.concatenate([outputs["z_a"], outputs["z_b"]], axis=0)
        if self.diagnostics_every == 1:
            return {"predictor_alignment": self.predictor_alignment(z), _ALIGNMENT_WEIGHT: ops.ones((), "float32")}
        # the loss tracker's count before this batch is the batch's index in the epoch (as SSLModel's diagnostics)
        due = diagnostics_due(self._trackers[0].count, self.diagnostics_every)
        value = ops.cond(due, lambda: self.predictor_alignment(z), lambda: zero)
        return {"predictor_alignment": value, _ALIGNMENT_WEIGHT: ops.cast(due, "float32")}

    def _update_metrics(self, terms, outputs):
        terms = dict(terms)
        weight = terms.pop(_ALIGNMENT_WEIGHT, None)
        if weight is not None and "predictor_alignment" in terms:
            tracker = self._trackers[self._metric_names.index("predictor_alignment")]
            tracker.update_state(terms.pop("predictor_alignment"), sample_weight=weight)
        return super()._update_metrics(terms, outputs)

    def get_config(self):
        config = super().get_config()
        config.update(predictor=self.predictor_kind, predictor_hidden=self.predictor_hidden,
                      predictor_options=self.predictor_options, directpred_rho=self.directpred_rho,
                      directpred_eps=self.directpred_eps)
        return config


@register("byol")
@keras.saving.register_keras_serializable(package="kspectral")
class BYOL(TeacherSettings, _PredictiveMethod):
    """BYOL (Grill et al. 2020, arXiv:2006.07733): an online predictor against a momentum teacher's projection.

    The online branch is ``encoder → projector → predictor``; the target branch a
    :class:`~kspectral.methods.components.MomentumTeacher` of ``[encoder, projector]``, moved after every optimizer
    step by ``t ← τ t + (1 − τ) o`` with ``τ`` cosine from ``base_tau`` to ``final_tau`` over ``total_steps`` (the run
    passes them; without ``total_steps`` τ stays ``base_tau``). The loss is :func:`kspectral.objectives.byol`, the two
    directions summed as in the paper's symmetrised loss and solo-learn's. Each view goes through the networks on its
    own (per-view BatchNorm statistics), and the teacher runs in training mode on the targets (its BatchNorm on the
    batch's statistics, as BYOL's and solo-learn's momentum networks, which are in ``train()`` mode under
    ``torch.no_grad()``), its BatchNorm moving statistics its own. No gradient reaches the teacher. Two views
    (``max_views = 2``).

    Heads: a spec string builds ``Projector(spec, last_bias=True)``, the paper's ``Linear(4096)-BN-ReLU-Linear(256)``
    (the hidden ``Dense`` without bias: BatchNorm follows); the predictor is
    :class:`~kspectral.methods.components.Predictor` ``"{predictor_hidden}-{d}"`` with ``d`` the projector's output
    width (the paper's ``Linear(4096)-BN-ReLU-Linear(256)``), with the projector's ``layer_defaults`` unless
    ``predictor_options`` say otherwise. ``predictor="directpred"`` replaces it by DirectPred's linear predictor set
    in closed form from the running correlation of the projections
    (:class:`~kspectral.methods.components.directpred.DirectPredictor`; Tian, Chen & Ganguli 2021,
    arXiv:2102.06810).

    Defaults: the paper's ImageNet ``τ_base = 0.996`` (the official code's ``base_target_ema``); solo-learn's CIFAR
    recipes use 0.99 (``recipes/byol_*_cifar*.toml``). The metrics add ``similarity`` (the mean cosine of predictions
    and targets) and ``predictor_alignment`` (DirectPred's diagnostic, :meth:`predictor_alignment`, on the batches
    where the diagnostics are due).

    Spectral counterpart: by analogy, VICReg's: the invariance ``2 − 2 cos`` is the Dirichlet energy of the pair
    graph on the sphere, and DirectPred's analysis (the predictor shares the eigenbasis of the projections'
    correlation; in the linear regime the weights align with its leading eigenvectors) makes the learnt subspace the
    leading eigen-directions of the augmentation-averaged correlation, Laplacian eigenmaps / linear VICReg's family
    (:mod:`kspectral.spectral.baselines`; no closed form of BYOL's own optimum is established).

    Args:
        encoder: Keras model mapping inputs to ``(batch, d)`` representations.
        projector: projector spec (paper: ``"4096-256"``) or a projector layer.
        predictor: ``"mlp"`` (the paper's) or ``"directpred"`` (DirectPred's closed form).
        predictor_hidden: the MLP predictor's hidden width (paper 4096).
        predictor_options: options of the MLP :class:`~kspectral.methods.components.Predictor`
            (``layer_defaults``, ``last_bias``, ...); default: the projector's ``layer_defaults``.
        directpred_rho, directpred_eps: DirectPred's ρ (0.3) and ε (0.1), with ``predictor="directpred"``.
        base_tau, final_tau: the teacher's momentum range (paper 0.996 → 1).
        total_steps: the run's optimizer steps, for τ's cosine schedule (``kspectral train`` passes it).

    Example:
        >>> import keras
        >>> encoder = keras.Sequential([keras.Input((64,)), keras.layers.Dense(32)])
        >>> model = BYOL(encoder=encoder, projector="64-16", predictor_hidden=64, total_steps=100)
        >>> model.compile(optimizer="adam")
    """

    projector_defaults = {"last_bias": True}

    objective_function = staticmethod(byol)

    def __init__(self, encoder, projector="4096-256", predictor="mlp", predictor_hidden=4096, predictor_options=None,
                 directpred_rho=0.3, directpred_eps=0.1, base_tau=0.996, final_tau=1.0, total_steps=None, **kwargs):
        if isinstance(projector, (str, list, tuple)):
            projector = make_projector(projector, **self.projector_defaults)
        super().__init__(encoder, projector, predictor, predictor_hidden, predictor_options, directpred_rho,
                         directpred_eps, **kwargs)
        self.teacher = MomentumTeacher([self.encoder, self.projector], base_tau=base_tau, final_tau=final_tau,
                                       total_steps=total_steps, source=["encoder", "projector"], name="teacher")

    def forward(self, view_a, view_b, training=False):
        """The online projections ``z``, predictions ``p`` and representations ``h`` of both views, and the
        teacher's targets ``t_a = teacher(view_a)``, ``t_b = teacher(view_b)`` (stop-gradient)."""
        outputs = self._predict(dict(super().forward(view_a, view_b, training=training)), training)
        outputs["t_a"] = self.teacher(view_a, training=training)
        outputs["t_b"] = self.teacher(view_b, training=training)
        return outputs

    def compute_objective(self, outputs):
        terms = byol(outputs["p_a"], outputs["p_b"], outputs["t_a"], outputs["t_b"], return_terms=True)
        return {**terms, **self._alignment_terms(outputs)}

    def get_config(self):
        config = super().get_config()
        config.update(base_tau=self.base_tau, final_tau=self.final_tau, total_steps=self.total_steps)
        return config


@register("simsiam")
@keras.saving.register_keras_serializable(package="kspectral")
class SimSiam(_PredictiveMethod):
    """SimSiam (Chen & He 2021, arXiv:2011.10566): a predictor against the other view's stop-gradient projection.

    One network, no teacher: ``encoder → projector → predictor`` on both views, the loss
    :func:`kspectral.objectives.simsiam` (``−½ [cos(p_a, sg z_b) + cos(p_b, sg z_a)]``), each view through the
    networks on its own (per-view BatchNorm statistics, as the official code). Two views (``max_views = 2``).

    Heads: a spec string builds ``Projector(spec, last_batchnorm=True)``, the paper's ``(Linear-BN-ReLU) × 2 →
    Linear → BN`` with the last BatchNorm without affine parameters (and no bias on any ``Dense`` but the
    predictor's last); a projector layer is used as given (the CIFAR recipes set ``projector_options.last_batchnorm
    = true``). The predictor is :class:`~kspectral.methods.components.Predictor` ``"{predictor_hidden}-{d}"``, the
    paper's ``Linear(512)-BN-ReLU-Linear(2048)`` bottleneck, or DirectPred's closed form
    (``predictor="directpred"``, as :class:`BYOL`'s). The official code and solo-learn keep the predictor's learning
    rate fixed (``--fix-pred-lr``, ``static_lr``) while the rest follows the cosine schedule; kspectral's
    optimizer schedules every variable alike (a deviation).

    The metrics add ``similarity`` (``−loss``) and ``predictor_alignment`` (as :class:`BYOL`'s).

    Spectral counterpart: by analogy, VICReg's, for the reason given in :class:`BYOL` (DirectPred's analysis covers
    SimSiam, the momentum-free case; :mod:`kspectral.spectral.baselines`).

    Args:
        encoder: Keras model mapping inputs to ``(batch, d)`` representations.
        projector: projector spec (paper: ``"2048-2048-2048"``) or a projector layer.
        predictor: ``"mlp"`` (the paper's) or ``"directpred"``.
        predictor_hidden: the MLP predictor's hidden width (paper 512).
        predictor_options: options of the MLP predictor; default: the projector's ``layer_defaults``.
        directpred_rho, directpred_eps: DirectPred's ρ (0.3) and ε (0.1), with ``predictor="directpred"``.
    """

    projector_defaults = {"last_batchnorm": True}

    objective_function = staticmethod(simsiam)

    def __init__(self, encoder, projector="2048-2048-2048", predictor="mlp", predictor_hidden=512,
                 predictor_options=None, directpred_rho=0.3, directpred_eps=0.1, **kwargs):
        if isinstance(projector, (str, list, tuple)):
            projector = make_projector(projector, **self.projector_defaults)
        super().__init__(encoder, projector, predictor, predictor_hidden, predictor_options, directpred_rho,
                         directpred_eps, **kwargs)

    def forward(self, view_a, view_b, training=False):
        """The online projections ``z``, predictions ``p`` and representations ``h`` of both views."""
        return self._predict(dict(super().forward(view_a, view_b, training=training)), training)

    def compute_objective(self, outputs):
        terms = simsiam(outputs["p_a"], outputs["p_b"], outputs["z_a"], outputs["z_b"], return_terms=True)
        return {**terms, **self._alignment_terms(outputs)}
