"""How a run executes: its devices and ``tf.distribute`` strategy, its numeric precision and XLA compilation.

:func:`execution` is the one place where :func:`kspectral.runs.train` turns the config's ``cpu_devices``,
``strategy``, ``precision`` and ``jit`` into TensorFlow and Keras settings:

- ``cpu_devices`` splits the CPU into logical devices (before anything initialises TensorFlow's devices);
- ``strategy`` picks the ``tf.distribute`` strategy (:func:`kspectral.distribute.make_strategy`); the model is built
  and compiled under its scope, and ``fit()`` splits each global batch of ``batch_size`` pairs over the replicas;
- ``precision`` sets Keras' global dtype policy while the model is built (``fp32`` → ``float32``, ``bf16`` →
  ``mixed_bfloat16``, ``fp16`` → ``mixed_float16``, which Keras trains with a ``LossScaleOptimizer``; ``auto`` →
  ``bf16`` where the accelerator computes in bfloat16, :func:`resolve_precision`); the objective, the batch
  statistics and the probes compute in float32 whatever the policy;
- ``jit`` is ``compile(jit_compile=...)``: ``"auto"`` is XLA on GPUs and TPUs and none on CPUs, where it was measured
  slower for convnets (``BENCHMARKS.md``, "Precision and XLA").
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from kspectral.errors import InputError

#: the Keras dtype policy of each ``precision``
POLICIES = {"fp32": "float32", "bf16": "mixed_bfloat16", "fp16": "mixed_float16"}


@dataclass
class Execution:
    """The resolved execution settings of a run.

    Attributes:
        strategy: the ``tf.distribute.Strategy`` the model is built under.
        replicas: ``strategy.num_replicas_in_sync``.
        policy: the Keras dtype policy name the model was built with.
        jit_compile: whether the train step is compiled with XLA.
    """

    strategy: object
    replicas: int
    policy: str
    jit_compile: bool

    def describe(self):
        """One line for the CLI, e.g. ``"2 replicas (MirroredStrategy), mixed_bfloat16, XLA off"``."""
        where = "one device" if self.replicas == 1 else f"{self.replicas} replicas ({type(self.strategy).__name__})"
        return f"{where}, {self.policy}, XLA {'on' if self.jit_compile else 'off'}"


def resolve_jit(jit):
    """``compile(jit_compile=...)`` for a config's ``jit``: ``"on"``, ``"off"``, or ``"auto"`` (XLA where there
    is a GPU or a TPU, none on CPUs)."""
    if jit == "on":
        return True
    if jit == "off":
        return False
    if jit != "auto":
        raise InputError(f"unknown jit {jit!r}; choose one of: auto, on, off")
    import tensorflow as tf

    return bool(tf.config.list_logical_devices("GPU") or tf.config.list_logical_devices("TPU"))


def resolve_precision(precision):
    """The precision a config's ``precision`` runs at: ``"auto"`` is ``"bf16"`` on TPUs and on GPUs of compute
    capability ≥ 8.0 (Ampere and later, which have bfloat16 tensor cores), ``"fp32"`` elsewhere (CPUs, older
    GPUs); the other values are kept."""
    if precision != "auto":
        return precision
    import tensorflow as tf

    if tf.config.list_logical_devices("TPU"):
        return "bf16"
    gpus = tf.config.list_physical_devices("GPU")
    capabilities = [tf.config.experimental.get_device_details(gpu).get("compute_capability") for gpu in gpus]
    if gpus and all(c is not None and tuple(c) >= (8, 0) for c in capabilities):
        return "bf16"
    return "fp32"


@contextlib.contextmanager
def _policy(name):
    """Keras' global dtype policy ``name`` inside the block, the previous one restored after it."""
    import keras

    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(name)
    try:
        yield name
    finally:
        keras.config.set_dtype_policy(previous)


def dtype_policy(precision):
    """Set Keras' global dtype policy for ``precision`` inside the block, and restore the previous one after it."""
    precision = resolve_precision(precision) if precision == "auto" else precision
    if precision not in POLICIES:
        raise InputError(f"unknown precision {precision!r}; choose one of: {', '.join(POLICIES)}, auto")
    return _policy(POLICIES[precision])


def prepare(config):
    """The run's :class:`Execution`: split the CPU into ``config.cpu_devices`` logical devices (if set) and make the
    configured strategy. Call it before anything else touches TensorFlow's devices.

    Raises:
        ValueError: a strategy this machine cannot provide, or logical devices that can no longer be configured.
    """
    from kspectral import distribute

    strategy = distribute.make_strategy(config.strategy, cpu_devices=config.cpu_devices)
    replicas = int(strategy.num_replicas_in_sync)
    if config.batch_size % replicas:
        raise InputError(f"batch_size={config.batch_size} does not split over the {replicas} replicas of "
                         f"--strategy {config.strategy}: choose a batch size that is a multiple of {replicas}")
    return Execution(strategy, replicas, POLICIES[resolve_precision(config.precision)], resolve_jit(config.jit))


def worker_run_dir(out, strategy):
    """The run directory this process writes: ``out``, or ``out.workerN`` beside it on worker ``N`` of a
    multi-worker run that is not the chief (every worker trains and checkpoints the same model; the chief's
    directory holds the run)."""
    from pathlib import Path

    from kspectral import distribute

    out = Path(out)
    if distribute.is_chief(strategy):
        return out
    return out.with_name(f"{out.name}.worker{strategy.cluster_resolver.task_id}")


@contextlib.contextmanager
def building(execution):
    """The scope a run's model is built and compiled in: its strategy's scope and its dtype policy."""
    with execution.strategy.scope(), _policy(execution.policy):
        yield


__all__ = ["POLICIES", "Execution", "building", "dtype_policy", "prepare", "resolve_jit", "resolve_precision",
           "worker_run_dir"]
