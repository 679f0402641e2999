"""Optimisers and learning-rate schedules of the SSL literature, as Keras 3 objects.

- :class:`LARS`: layer-wise adaptive rate scaling (You, Gitman & Ginsburg 2017, arXiv:1708.03888), the optimiser of
  SimCLR, Barlow Twins and VICReg, with biases and normalisation parameters excluded from weight decay and from the
  trust ratio as in the official VICReg (Bardes, Ponce & LeCun 2022, arXiv:2105.04906) and Barlow Twins
  (Zbontar et al. 2021, arXiv:2103.03230) code; ``rule="solo_learn"`` with ``clip_lr=True`` is solo-learn's
  LARS, which trained its published CIFAR numbers.
- :class:`WarmupCosine`: linear warm-up (from 0, or from a start rate), then cosine decay (Loshchilov & Hutter
  2017, arXiv:1608.03983).
- :func:`scaled_learning_rate`: the linear scaling rule ``base_lr × batch / 256`` (Goyal et al. 2017,
  arXiv:1706.02677) that the recipes state their learning rates in.
- :func:`build_optimizer`: ``lars``, ``sgd``, ``adamw`` or ``lamb`` by name.

Everything here is written with ``keras.ops`` and runs on any Keras backend.
"""

from __future__ import annotations

import math
import re

import keras
from keras import ops

from kspectral import catalog
from kspectral._validation import check_nonnegative, check_number, check_positive, check_positive_int
from kspectral.errors import InputError

__all__ = ["LARS", "LARS_RULES", "OPTIMIZERS", "WarmupCosine", "build_optimizer", "scaled_learning_rate"]

#: the trust-ratio rules of :class:`LARS`
LARS_RULES = ("official", "solo_learn")


@keras.saving.register_keras_serializable(package="kspectral")
class LARS(keras.optimizers.Optimizer):
    """Layer-wise Adaptive Rate Scaling with momentum (You, Gitman & Ginsburg 2017, arXiv:1708.03888, Algorithm 1).

    For each variable ``w`` with gradient ``g``, learning rate ``lr`` (the schedule's value at this step), weight
    decay ``λ`` and trust coefficient ``η``, one step is, with ``rule="official"`` (the default)::

        g ← g + λ · w                                  (unless w is excluded from weight decay)
        q ← η ‖w‖ / (‖g‖ + ε)  if ‖w‖ > 0 and ‖g‖ > 0,
            1                   otherwise               (q = 1 for variables excluded from adaptation)
        m ← momentum · m + q · g
        w ← w − lr · m

    and with ``rule="solo_learn"`` (solo-learn's ``solo/utils/lars.py``, from PyTorch Lightning Bolts;
    ``spec/protocols.md`` §2)::

        if w is adapted, ‖w‖ > 0 and ‖g‖ > 0:
            q ← η ‖w‖ / (‖g‖ + λ‖w‖ + ε)               (note: ‖g‖ + λ‖w‖, not ‖g + λw‖)
            g ← q · (g + λ · w)                         (λ = 0 for variables excluded from weight decay)
        m ← momentum · m + g
        w ← w − lr · m

    (a variable that is not adapted, or has ``‖w‖ = 0`` or ``‖g‖ = 0``, takes the plain gradient, without weight
    decay). ``clip_lr=True`` clips the trust ratio to ``q ← min(q / lr, 1)`` under either rule, so that the step of
    an adapted variable is ``lr · min(q/lr, 1) = min(q, lr)`` times its gradient: the schedule's ``lr`` then only
    caps the step (solo-learn's CIFAR configs: ``clip_lr: True``, ``eta: 0.02``; at their settings the trust ratio
    is below ``lr``, so the step is the trust ratio alone).

    Norms are Frobenius norms over the whole variable (one trust ratio per variable, the "layer" of the paper). The
    official VICReg and Barlow Twins code and solo-learn (``exclude_bias_n_norm``) all exclude the variables with
    ``p.ndim == 1`` (biases and BatchNorm/LayerNorm scales and offsets) from weight decay and from adaptation;
    here ``exclude_bias_and_norm=True`` does the same for every variable with ``ndim <= 1``.

    Weight decay is coupled (added to the gradient before the trust ratio), as in the paper, not the decoupled
    decay that other Keras optimisers apply through their ``weight_decay`` argument. The momentum buffer starts at
    zero, so the first step's buffer is the first (scaled) gradient, as PyTorch's, which initialises it to that
    gradient.

    Args:
        learning_rate: a float or a ``keras.optimizers.schedules.LearningRateSchedule`` (e.g.
            :class:`WarmupCosine`).
        momentum: heavy-ball momentum ``μ`` in ``[0, 1)``.
        weight_decay: L2 coefficient added to the gradient (VICReg uses ``1e-6``, Barlow Twins ``1.5e-6``).
        trust_coefficient: ``η`` of the trust ratio (``0.001`` in the paper and in the official code; solo-learn's
            CIFAR configs: ``0.02``).
        epsilon: ``ε`` of the trust ratio's denominator; default ``0`` (the official code) for ``rule="official"``,
            ``1e-8`` (solo-learn's) for ``rule="solo_learn"``.
        exclude_bias_and_norm: exclude every variable with ``ndim <= 1`` (biases, normalisation parameters)
            from weight decay and from the trust ratio.
        rule: ``"official"`` (VICReg / Barlow Twins) or ``"solo_learn"``.
        clip_lr: clip the trust ratio to ``min(q / lr, 1)``.
        name: optimiser name.
        **kwargs: the base optimiser's arguments (``clipnorm``, ``global_clipnorm``, ``use_ema``,
            ``loss_scale_factor``, ``gradient_accumulation_steps``...).

    More variables can be excluded by name or object, before the first step, with
    :meth:`exclude_from_weight_decay` and :meth:`exclude_from_adaptation`.

    Example:
        >>> import keras
        >>> from kspectral.optimizers import LARS, WarmupCosine, scaled_learning_rate
        >>> lr = WarmupCosine(scaled_learning_rate(0.3, batch_size=256), total_steps=1000, warmup_steps=100)
        >>> optimizer = LARS(lr, weight_decay=1e-6)
        >>> solo = LARS(lr, weight_decay=1e-4, trust_coefficient=0.02, rule="solo_learn", clip_lr=True)
        >>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
        >>> model.compile(optimizer=optimizer, loss="mse")
    """

    def __init__(
        self,
        learning_rate=0.1,
        momentum=0.9,
        weight_decay=0.0,
        trust_coefficient=0.001,
        epsilon=None,
        exclude_bias_and_norm=True,
        rule="official",
        clip_lr=False,
        name=None,
        **kwargs,
    ):
        # The base class applies *decoupled* decay when its own weight_decay is set; LARS couples it to the
        # gradient in update_step, so the base class is given none.
        super().__init__(learning_rate=learning_rate, weight_decay=None, name=name, **kwargs)
        self.momentum = check_number(momentum, "momentum", minimum=0.0, maximum=1.0)
        if self.momentum == 1.0:
            raise InputError("momentum must be below 1 (the momentum buffer would never forget), got 1.0")
        self.lars_weight_decay = check_nonnegative(weight_decay, "weight_decay")
        self.trust_coefficient = check_positive(trust_coefficient, "trust_coefficient")
        if rule not in LARS_RULES:
            raise InputError(f"unknown LARS rule {rule!r}; choose one of: {', '.join(LARS_RULES)}")
        self.rule = rule
        if epsilon is None:
            epsilon = 1e-8 if rule == "solo_learn" else 0.0
        self.epsilon = check_nonnegative(epsilon, "epsilon")
        if not isinstance(clip_lr, bool):
            raise TypeError(f"clip_lr must be True or False, got {clip_lr!r}")
        self.clip_lr = clip_lr
        if not isinstance(exclude_bias_and_norm, bool):
            raise TypeError(f"exclude_bias_and_norm must be True or False, got {exclude_bias_and_norm!r}")
        self.exclude_bias_and_norm = exclude_bias_and_norm
        self._excluded = {"weight_decay": (set(), None), "adaptation": (set(), None)}

    def _set_exclusions(self, kind, var_list, var_names):
        if self.built:
            raise InputError(
                f"exclude_from_{kind}() must be called before the optimizer is built (before its first step)"
            )
        keys = {self._var_key(v) for v in var_list or ()}
        pattern = re.compile("|".join(sorted(set(var_names)))) if var_names else None
        self._excluded[kind] = (keys, pattern)

    def exclude_from_weight_decay(self, var_list=None, var_names=None):
        """Exclude variables from weight decay (on top of ``exclude_bias_and_norm``).

        Args:
            var_list: variables to exclude.
            var_names: regular expressions; a variable whose path (e.g. ``"encoder/dense/kernel"``) matches any
                of them is excluded.
        """
        self._set_exclusions("weight_decay", var_list, var_names)

    def exclude_from_adaptation(self, var_list=None, var_names=None):
        """Exclude variables from the trust ratio (their step is plain momentum SGD); arguments as in
        :meth:`exclude_from_weight_decay`."""
        self._set_exclusions("adaptation", var_list, var_names)

    def _is_excluded(self, kind, variable):
        if self.exclude_bias_and_norm and len(variable.shape) <= 1:
            return True
        keys, pattern = self._excluded[kind]
        if self._var_key(variable) in keys:
            return True
        path = getattr(variable, "path", variable.name)
        return pattern is not None and pattern.search(path) is not None

    def build(self, variables):
        """Create one momentum buffer per variable and fix which variables are decayed and adapted."""
        if self.built:
            return
        super().build(variables)
        self.momentums = self.add_optimizer_variables(variables, "momentum")
        self._decayed = tuple(not self._is_excluded("weight_decay", v) for v in variables)
        self._adapted = tuple(not self._is_excluded("adaptation", v) for v in variables)

    def _trust_ratio(self, ratio, learning_rate):
        """``ratio``, or ``min(ratio / lr, 1)`` with ``clip_lr``."""
        if not self.clip_lr:
            return ratio
        return ops.minimum(ratio / learning_rate, ops.ones_like(ratio))

    def update_step(self, gradient, variable, learning_rate):
        """One LARS step for one variable (see the class docstring)."""
        index = self._get_variable_index(variable)
        dtype = variable.dtype
        learning_rate = ops.cast(learning_rate, dtype)
        gradient = ops.cast(gradient, dtype)
        decay = ops.cast(self.lars_weight_decay if self._decayed[index] else 0.0, dtype)
        epsilon = ops.cast(self.epsilon, dtype)
        if self.rule == "official":
            if self._decayed[index] and self.lars_weight_decay > 0:
                gradient = ops.add(gradient, ops.multiply(decay, variable))
            if self._adapted[index]:
                w_norm = ops.sqrt(ops.sum(ops.square(variable)))
                g_norm = ops.sqrt(ops.sum(ops.square(gradient)))
                both_positive = ops.logical_and(ops.greater(w_norm, 0.0), ops.greater(g_norm, 0.0))
                safe_g_norm = ops.where(ops.greater(g_norm, 0.0), g_norm, ops.ones_like(g_norm))
                ratio = self._trust_ratio(self.trust_coefficient * w_norm / (safe_g_norm + epsilon), learning_rate)
                gradient = ops.multiply(ops.where(both_positive, ratio, ops.ones_like(ratio)), gradient)
        elif self._adapted[index]:  # solo-learn: decay and ratio only for adapted variables with ‖w‖, ‖g‖ > 0
            w_norm = ops.sqrt(ops.sum(ops.square(variable)))
            g_norm = ops.sqrt(ops.sum(ops.square(gradient)))
            both_positive = ops.logical_and(ops.greater(w_norm, 0.0), ops.greater(g_norm, 0.0))
            denominator = g_norm + decay * w_norm + epsilon
            safe = ops.where(ops.greater(denominator, 0.0), denominator, ops.ones_like(denominator))
            ratio = self._trust_ratio(self.trust_coefficient * w_norm / safe, learning_rate)
            scaled = ops.multiply(ratio, ops.add(gradient, ops.multiply(decay, variable)))
            gradient = ops.where(both_positive, scaled, gradient)
        m = self.momentums[index]
        self.assign(m, ops.add(ops.multiply(m, ops.cast(self.momentum, dtype)), gradient))
        self.assign_sub(variable, ops.multiply(learning_rate, m))

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "momentum": self.momentum,
                "weight_decay": self.lars_weight_decay,
                "trust_coefficient": self.trust_coefficient,
                "epsilon": self.epsilon,
                "exclude_bias_and_norm": self.exclude_bias_and_norm,
                "rule": self.rule,
                "clip_lr": self.clip_lr,
            }
        )
        return config


@keras.saving.register_keras_serializable(package="kspectral")
class WarmupCosine(keras.optimizers.schedules.LearningRateSchedule):
    """Linear warm-up from ``warmup_start`` to ``base_learning_rate``, then cosine decay to ``final_learning_rate``.

    At step ``t`` (``T = total_steps``, ``W = warmup_steps``, ``η = base_learning_rate``, ``η_0 = warmup_start``,
    ``η_f = final_learning_rate``), with ``warmup_law="keras"`` (the default)::

        lr(t) = η_0 + (η − η_0) · t / W                            for t < W
        lr(t) = η_f + (η − η_f) · ½ (1 + cos(π (t − W) / (T − W)))  for W ≤ t ≤ T
        lr(t) = η_f                                                for t > T

    (Goyal et al. 2017, arXiv:1706.02677, for the warm-up; Loshchilov & Hutter 2017, arXiv:1608.03983, for the
    cosine; with ``η_0 = 0`` it is ``keras.optimizers.schedules.CosineDecay`` with ``warmup_target=η``.)
    ``warmup_law="pl_bolts"`` is PyTorch Lightning Bolts' ``LinearWarmupCosineAnnealingLR``, which solo-learn steps
    once per optimiser step: the warm-up reaches the peak one step earlier, ``lr(t) = η_0 + (η − η_0) · t / (W − 1)``
    for ``t < W`` (the cosine is the same). The official VICReg code warms up for 10 epochs and decays to
    ``η_f = 0.001 η``; SimCLR and Barlow Twins use 10 epochs of warm-up and decay to 0; solo-learn warms up for 10
    epochs from ``η_0 = 3·10⁻⁵`` and decays to 0.

    Args:
        base_learning_rate: the peak learning rate, reached at the end of the warm-up (already scaled with the
            batch; see :func:`scaled_learning_rate`).
        total_steps: optimiser steps of the whole run, warm-up included.
        warmup_steps: steps of linear warm-up (``0``: start at the peak).
        final_learning_rate: the learning rate at ``total_steps`` and after.
        warmup_start: the learning rate at step 0 of the warm-up, ``≥ 0``.
        warmup_law: ``"keras"`` or ``"pl_bolts"``.
        name: schedule name.

    Example:
        >>> schedule = WarmupCosine(1.0, total_steps=100, warmup_steps=10)
        >>> [round(float(schedule(t)), 4) for t in (0, 5, 10, 55, 100)]
        [0.0, 0.5, 1.0, 0.5, 0.0]
    """

    def __init__(self, base_learning_rate, total_steps, warmup_steps=0, final_learning_rate=0.0, warmup_start=0.0,
                 warmup_law="keras", name="warmup_cosine"):
        super().__init__()
        self.base_learning_rate = check_positive(base_learning_rate, "base_learning_rate")
        self.total_steps = check_positive_int(total_steps, "total_steps")
        self.warmup_steps = check_positive_int(warmup_steps, "warmup_steps", minimum=0)
        if self.warmup_steps >= self.total_steps:
            raise InputError(
                f"warmup_steps ({self.warmup_steps}) must be smaller than total_steps ({self.total_steps}); "
                "shorten the warm-up or train for more steps"
            )
        self.final_learning_rate = check_nonnegative(final_learning_rate, "final_learning_rate")
        self.warmup_start = check_nonnegative(warmup_start, "warmup_start")
        if warmup_law not in WARMUP_LAWS:
            raise InputError(f"unknown warmup_law {warmup_law!r}; choose one of: {', '.join(WARMUP_LAWS)}")
        self.warmup_law = warmup_law
        self.name = name

    def __call__(self, step):
        t = ops.cast(step, "float32")
        peak, start, final = self.base_learning_rate, self.warmup_start, self.final_learning_rate
        warmup = float(self.warmup_steps)
        span = warmup - 1.0 if self.warmup_law == "pl_bolts" else warmup
        decay_steps = float(self.total_steps - self.warmup_steps)
        progress = ops.clip((t - warmup) / decay_steps, 0.0, 1.0)
        cosine = final + (peak - final) * 0.5 * (1.0 + ops.cos(math.pi * progress))
        if self.warmup_steps == 0:
            return cosine
        rising = start + (peak - start) * (t / span if span > 0 else ops.ones_like(t))
        return ops.where(t < warmup, ops.minimum(rising, peak), cosine)

    def get_config(self):
        return {
            "base_learning_rate": self.base_learning_rate,
            "total_steps": self.total_steps,
            "warmup_steps": self.warmup_steps,
            "final_learning_rate": self.final_learning_rate,
            "warmup_start": self.warmup_start,
            "warmup_law": self.warmup_law,
            "name": self.name,
        }


#: the warm-up laws of :class:`WarmupCosine`
WARMUP_LAWS = ("keras", "pl_bolts")


def scaled_learning_rate(base_lr, batch_size, reference=256):
    """The linear scaling rule: ``base_lr × batch_size / reference`` (Goyal et al. 2017, arXiv:1706.02677).

    SimCLR, Barlow Twins and VICReg state their LARS learning rates per 256 images (e.g. VICReg's ``base_lr=0.2``
    at batch 2048 gives 1.6).

    Example:
        >>> scaled_learning_rate(0.2, 2048)
        1.6
    """
    base_lr = check_positive(base_lr, "base_lr")
    batch_size = check_positive_int(batch_size, "batch_size")
    reference = check_positive_int(reference, "reference")
    return base_lr * batch_size / reference


#: Names accepted by :func:`build_optimizer` (listed in :data:`kspectral.catalog.OPTIMIZERS`).
OPTIMIZERS = catalog.OPTIMIZERS

# Keras names biases "bias" and the scale and offset of its normalisation layers "gamma" and "beta"; the pattern
# matches both the Keras variable name and the TensorFlow one ("dense/bias:0") that some backends check.
_BIAS_AND_NORM_NAMES = [r"(^|/)(bias|gamma|beta)(:\d+)?$"]


def build_optimizer(name, learning_rate, weight_decay=0.0, momentum=0.9, *, exclude_bias_and_norm=True, **kwargs):
    """An optimiser by name, as the run configuration and recipes name them.

    Args:
        name: ``"lars"`` (:class:`LARS`), ``"sgd"`` (``keras.optimizers.SGD`` with momentum), ``"adamw"``
            (``keras.optimizers.AdamW``) or ``"lamb"`` (``keras.optimizers.Lamb``; You et al. 2020,
            arXiv:1904.00962).
        learning_rate: a float or a learning-rate schedule (e.g. :class:`WarmupCosine`).
        weight_decay: weight-decay coefficient. For ``lars`` it is coupled (added to the gradient, as in the
            paper); for ``sgd``, ``adamw`` and ``lamb`` it is Keras' decoupled decay ``w ← w − lr·wd·w``.
        momentum: momentum of ``lars`` and ``sgd`` (``adamw``/``lamb`` use ``beta_1``; pass it in ``kwargs``).
        exclude_bias_and_norm: keep biases and normalisation parameters out of weight decay (and, for ``lars``,
            out of the trust ratio). ``lars`` excludes every variable with ``ndim <= 1``; the Keras optimisers
            exclude the variables named ``bias``, ``gamma`` and ``beta`` (Keras' names for biases and
            normalisation parameters).
        **kwargs: further arguments of the optimiser's constructor (e.g. ``trust_coefficient``, ``beta_1``,
            ``clipnorm``).

    Raises:
        ValueError: unknown ``name``.

    Example:
        >>> optimizer = build_optimizer("lars", learning_rate=0.3, weight_decay=1e-4)
        >>> type(optimizer).__name__
        'LARS'
    """
    key = str(name).lower()
    if key not in OPTIMIZERS:
        raise InputError(f"unknown optimizer {name!r}; choose one of: {', '.join(OPTIMIZERS)}")
    weight_decay = check_nonnegative(weight_decay, "weight_decay")
    if key == "lars":
        return LARS(
            learning_rate,
            momentum=momentum,
            weight_decay=weight_decay,
            exclude_bias_and_norm=exclude_bias_and_norm,
            **kwargs,
        )
    decay = weight_decay if weight_decay > 0 else None
    if key == "sgd":
        optimizer = keras.optimizers.SGD(learning_rate, momentum=float(momentum), weight_decay=decay, **kwargs)
    elif key == "adamw":
        optimizer = keras.optimizers.AdamW(learning_rate, weight_decay=weight_decay, **kwargs)
    else:
        optimizer = keras.optimizers.Lamb(learning_rate, weight_decay=decay, **kwargs)
    if exclude_bias_and_norm and optimizer.weight_decay:
        optimizer.exclude_from_weight_decay(var_names=_BIAS_AND_NORM_NAMES)
    return optimizer
