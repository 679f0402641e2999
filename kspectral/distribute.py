"""Distribution strategies for ``kspectral train``: several GPUs, logical CPUs, several machines, TPUs.

Every kspectral model computes its objective on the global batch (:meth:`kspectral.methods.SSLModel.gather`) and,
by default, normalises its projector and heads with BatchNorm statistics of the global batch
(``SSLModel(sync_batchnorm="heads")``; the encoders built by name synchronise theirs too), so R replicas fed
batches of B pairs take the same step as one device fed batches of R·B (``docs/distributed.md``).

The call sequence, before TensorFlow runs any operation:

1. :func:`configure_cpu_devices` (only to split a CPU into logical devices; TensorFlow cannot change its device
   layout once initialised), or :func:`make_strategy` with ``cpu_devices=N``, which calls it;
2. ``strategy = make_strategy(name, cpu_devices)`` (``"multiworker"`` first of all, on every worker);
3. build and compile the model inside ``with strategy.scope():``;
4. ``model.fit(dataset)`` where ``dataset`` yields **global** batches (Keras splits each into one slice per
   replica); with several workers, every worker builds the same dataset (same seed) and :func:`shard_by_data`
   makes worker ``w`` take its contiguous slice of each global batch.

TensorFlow is imported inside the functions, so importing this module is cheap.

Example:
    >>> from kspectral.distribute import make_strategy, replicas
    >>> replicas(make_strategy("one"))
    1
"""

from __future__ import annotations

import json
import os
from kspectral.errors import InputError

#: the strategy names :func:`make_strategy` accepts (the ``strategy`` field of a run's config)
STRATEGIES = ("auto", "one", "mirrored", "multiworker", "tpu")

_TF_CONFIG_EXAMPLE = (
    'TF_CONFIG=\'{"cluster": {"worker": ["host0:12345", "host1:12345"]}, "task": {"type": "worker", "index": 0}}\''
)


def _check_count(n, name):
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise InputError(f"{name} must be a positive integer, got {n!r}")
    return n


def configure_cpu_devices(n):
    """Split the first physical CPU into ``n`` logical devices ``/cpu:0`` … ``/cpu:{n-1}``.

    A :func:`make_strategy` ``"mirrored"`` strategy then has one replica per logical CPU, which runs multi-replica
    training (and its tests) on a machine without accelerators. The split must happen before TensorFlow initialises
    (its first operation): calling it again with the same ``n`` afterwards is a no-op.

    Args:
        n: the number of logical CPU devices (≥ 1).

    Returns:
        The names of the logical CPU devices, e.g. ``["/job:localhost/replica:0/task:0/device:CPU:0", ...]``.

    Raises:
        ValueError: ``n`` is not a positive integer, or TensorFlow is already initialised with another number of
            logical CPUs (the layout cannot change after initialisation).
    """
    import tensorflow as tf

    n = _check_count(n, "cpu_devices")
    cpu = tf.config.list_physical_devices("CPU")[0]
    current = tf.config.get_logical_device_configuration(cpu)
    if current is not None and len(current) == n:
        return [d.name for d in tf.config.list_logical_devices("CPU")]
    try:
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration() for _ in range(n)])
    except RuntimeError:  # TensorFlow is initialised: its layout is fixed
        have = len(tf.config.list_logical_devices("CPU"))
        if have != n:
            raise InputError(
                f"cannot split the CPU into {n} logical devices: TensorFlow is already initialised with {have}, and "
                "its device layout cannot change after initialisation; call configure_cpu_devices before any "
                "TensorFlow operation (kspectral train does it first)"
            ) from None
    return [d.name for d in tf.config.list_logical_devices("CPU")]


def _tf_config():
    """The parsed ``TF_CONFIG`` of a multi-worker run, checked; ValueError naming the fix otherwise."""
    raw = os.environ.get("TF_CONFIG")
    if not raw:
        raise InputError(
            "strategy 'multiworker' needs the TF_CONFIG environment variable naming the workers and this one's index, "
            f"e.g. {_TF_CONFIG_EXAMPLE} (see docs/distributed.md), or use --strategy auto on one machine"
        )
    try:
        config = json.loads(raw)
    except json.JSONDecodeError as err:
        raise InputError(f"TF_CONFIG is not valid JSON ({err.msg} at position {err.pos}); expected e.g. "
                         f"{_TF_CONFIG_EXAMPLE}") from None
    cluster = config.get("cluster") if isinstance(config, dict) else None
    task = config.get("task") if isinstance(config, dict) else None
    hosts = [h for role in ("chief", "worker") for h in (cluster or {}).get(role, []) or []] \
        if isinstance(cluster, dict) else []
    if not hosts or not all(isinstance(h, str) and ":" in h for h in hosts):
        raise InputError(f"TF_CONFIG needs cluster.worker, a list of 'host:port' addresses, got {raw}; expected e.g. "
                         f"{_TF_CONFIG_EXAMPLE}")
    if not isinstance(task, dict) or task.get("type") not in ("chief", "worker") or not isinstance(
            task.get("index"), int) or isinstance(task.get("index"), bool):
        raise InputError(f"TF_CONFIG needs task = {{'type': 'worker', 'index': i}} naming this machine, got {raw}; "
                         f"expected e.g. {_TF_CONFIG_EXAMPLE}")
    role = cluster.get(task["type"]) or []
    if not 0 <= task["index"] < len(role):
        raise InputError(f"TF_CONFIG's task index {task['index']} is outside cluster.{task['type']} "
                         f"({len(role)} entries); give each machine its own index 0 … {len(role) - 1}")
    return config


def _tpu_strategy():
    import tensorflow as tf

    try:
        resolver = tf.distribute.cluster_resolver.TPUClusterResolver()
        tf.config.experimental_connect_to_cluster(resolver)
        tf.tpu.experimental.initialize_tpu_system(resolver)
    except (ValueError, RuntimeError, tf.errors.NotFoundError, tf.errors.InvalidArgumentError) as err:
        reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise InputError(f"no TPU found ({reason}); use --strategy auto on this machine") from None
    return tf.distribute.TPUStrategy(resolver)


def make_strategy(name="auto", cpu_devices=None):
    """The ``tf.distribute`` strategy ``name``, or a ValueError naming the fix when this machine cannot provide it.

    Args:
        name: one of :data:`STRATEGIES`:
            ``"auto"``: ``MirroredStrategy`` over all GPUs when there are several, over the logical CPUs when
            ``cpu_devices ≥ 2`` splits a machine without GPUs, else the default strategy (one device);
            ``"one"``: ``OneDeviceStrategy`` on the first GPU, else on the CPU;
            ``"mirrored"``: ``MirroredStrategy`` over all GPUs, or, without GPUs, over the ``cpu_devices ≥ 2``
            logical CPUs;
            ``"multiworker"``: ``MultiWorkerMirroredStrategy`` (each worker's GPUs, or its CPU), configured by the
            ``TF_CONFIG`` environment variable; create it first in the program, on every worker;
            ``"tpu"``: ``TPUStrategy`` on the TPU that ``TPUClusterResolver`` finds.
        cpu_devices: split the CPU into this many logical devices first (:func:`configure_cpu_devices`);
            ``None`` leaves it whole. Only ``"auto"`` and ``"mirrored"`` use them.

    Returns:
        A ``tf.distribute.Strategy``; build the model under its ``scope()``.

    Raises:
        ValueError: an unknown name; ``"mirrored"`` without GPUs and without ``cpu_devices ≥ 2``;
            ``cpu_devices ≥ 2`` with ``"one"``, ``"multiworker"`` or ``"tpu"``; a missing or malformed
            ``TF_CONFIG``; no TPU.
    """
    if name not in STRATEGIES:
        raise InputError(f"unknown strategy {name!r}; choose one of: {', '.join(STRATEGIES)}")
    if cpu_devices is not None:
        _check_count(cpu_devices, "cpu_devices")
        if cpu_devices > 1 and name not in ("auto", "mirrored"):
            raise InputError(f"cpu_devices={cpu_devices} splits one machine's CPU for --strategy mirrored (or auto); "
                             f"drop --cpu-devices with --strategy {name}")
    if name == "multiworker":
        _tf_config()  # before TensorFlow starts: a clear message rather than a hang waiting for absent workers
    import tensorflow as tf

    if name == "multiworker":
        return tf.distribute.MultiWorkerMirroredStrategy()
    if name == "tpu":
        return _tpu_strategy()
    gpus = tf.config.list_physical_devices("GPU")
    if gpus and cpu_devices is not None and cpu_devices > 1:
        raise InputError(f"cpu_devices={cpu_devices} splits the CPU of a machine without GPUs, but this one has "
                         f"{len(gpus)} GPU(s): drop --cpu-devices (--strategy mirrored mirrors over the GPUs)")
    if cpu_devices is not None:
        configure_cpu_devices(cpu_devices)
    if name == "one":
        return tf.distribute.OneDeviceStrategy("/gpu:0" if gpus else "/cpu:0")
    if gpus:
        if name == "mirrored" or len(gpus) > 1:
            return tf.distribute.MirroredStrategy()
        return tf.distribute.get_strategy()
    cpus = len(tf.config.list_logical_devices("CPU"))
    if cpus > 1 and (cpu_devices is not None or name == "mirrored"):
        return tf.distribute.MirroredStrategy([f"/cpu:{i}" for i in range(cpus)])
    if name == "mirrored":
        raise InputError("strategy 'mirrored' found no GPU and one CPU device: pass --cpu-devices N (N ≥ 2) to "
                         "mirror over N logical CPUs, or use --strategy auto")
    return tf.distribute.get_strategy()


def replicas(strategy=None):
    """The number of replicas that train in sync under ``strategy`` (default: the current strategy)."""
    import tensorflow as tf

    return int((strategy or tf.distribute.get_strategy()).num_replicas_in_sync)


def is_chief(strategy=None):
    """Whether this process should write the run's files: ``True`` except on the non-chief workers of a
    multi-worker run (``TF_CONFIG`` task ``worker`` with index > 0 when there is no ``chief``, or any ``worker``
    when there is one)."""
    import tensorflow as tf

    strategy = strategy or tf.distribute.get_strategy()
    if not isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        return True
    resolver = strategy.cluster_resolver
    task_type, task_id = resolver.task_type, resolver.task_id
    if task_type == "chief" or task_type is None:
        return True
    return task_type == "worker" and task_id == 0 and "chief" not in resolver.cluster_spec().as_dict()


def shard_by_data(dataset):
    """``dataset`` with the auto-shard policy ``DATA``: under ``MultiWorkerMirroredStrategy`` every worker reads
    the whole (identically seeded) pipeline and Keras' ``experimental_distribute_dataset`` gives worker ``w`` the
    ``w``-th contiguous slice of each global batch, so the all-gathered batch is the one a single device sees.

    The default policy (``AUTO``) shards a pipeline that reads files (TFRecords, TFDS) by file instead, so that the
    workers' batches come from different files and the global batch differs from one device's. Under the other
    strategies the option has no effect.
    """
    import tensorflow as tf

    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return dataset.with_options(options)


__all__ = ["STRATEGIES", "configure_cpu_devices", "is_chief", "make_strategy", "replicas", "shard_by_data"]
