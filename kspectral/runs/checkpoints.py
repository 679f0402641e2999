"""Step checkpoints of a training run: written atomically, verified on restore, exact to resume from.

A checkpoint of step ``t`` (the number of optimizer steps done) in ``RUN_DIR/backup/`` is two files:

- ``ckpt-<t>.weights.h5``: ``model.save_weights``: the model's weights and the state of its optimizer and of the
  online probe's optimizer (their step counters included, which the learning-rate schedule follows);
- ``ckpt-<t>.json``, written last, which commits the checkpoint: the step, the epoch and batch it falls in, the
  SHA-256 of the weights file, the ``keras.random.SeedGenerator`` states of the model (its ``augment_on = "device"``
  augmenters; ``save_weights`` leaves them out), the states of the metric trackers in the middle of an epoch (so
  that the resumed epoch's logged means are those of an uninterrupted run), and the logs of the last finished
  epoch.

Each file is written to a temporary name, flushed to disk and renamed with ``os.replace``; the two newest committed
checkpoints are kept. A kill during a save therefore leaves the previous checkpoint intact, and
:func:`restore_checkpoint` falls back to it when the newest one is truncated or damaged (its checksum differs, or
Keras cannot load it). A non-finite state (a NaN or Inf loss, or a weight) is never saved.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from pathlib import Path
from kspectral.errors import InputError

#: the checkpoint folder of a run directory
BACKUP = "backup"
#: how many committed checkpoints are kept
KEEP = 2
_FORMAT = 1


def _name(step):
    return f"ckpt-{step:010d}"


def _sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _fsync(path):
    with open(path, "rb+") as f:
        os.fsync(f.fileno())


def _fsync_dir(path):
    """Make a rename in folder ``path`` durable (where the platform allows opening a folder)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_write_text(path, text):
    """Write ``text`` to ``path`` through a temporary file and ``os.replace`` (never a half-written file)."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    _fsync_dir(path.parent)


def committed(backup_dir):
    """The committed checkpoints' JSON files of ``backup_dir``, newest first."""
    backup_dir = Path(backup_dir)
    if not backup_dir.is_dir():
        return []
    return sorted(backup_dir.glob("ckpt-*.json"), reverse=True)


def is_finite_state(model, logs=None):
    """Whether every value of ``logs`` and every weight of ``model`` is finite (a state worth checkpointing)."""
    import tensorflow as tf

    if logs and not all(math.isfinite(float(v)) for v in logs.values()):
        return False
    return all(bool(tf.reduce_all(tf.math.is_finite(v.value))) for v in model.weights
               if "float" in str(v.dtype))


def write_checkpoint(backup_dir, model, step, steps_per_epoch, last_logs=None, last_epoch=None, keep=KEEP):
    """Save the checkpoint of ``step`` in ``backup_dir`` (atomically) and drop all but the ``keep`` newest.

    Args:
        backup_dir: the checkpoint folder (created if missing).
        model: the compiled, built model.
        step: optimizer steps done.
        steps_per_epoch: steps per epoch (places ``step`` in its epoch).
        last_logs: the logs of the last finished epoch (``None`` before the first).
        last_epoch: the index of that epoch.
        keep: committed checkpoints to keep (≥ 1).

    Returns:
        The path of the checkpoint's JSON file.
    """
    import numpy as np

    from kspectral.data.pairs import seed_states

    backup_dir = Path(backup_dir)
    backup_dir.mkdir(parents=True, exist_ok=True)
    name = _name(step)
    weights = backup_dir / f"{name}.weights.h5"
    tmp = backup_dir / "partial.weights.h5"  # Keras wants the .weights.h5 suffix
    model.save_weights(str(tmp))
    _fsync(tmp)
    os.replace(tmp, weights)
    _fsync_dir(backup_dir)
    epoch, batch = divmod(step, steps_per_epoch)
    info = {
        "format": _FORMAT,
        "step": int(step),
        "epoch": int(epoch),
        "batch": int(batch),
        "weights": weights.name,
        "sha256": _sha256(weights),
        "seed_states": [[int(s) for s in np.asarray(v.numpy()).ravel()] for v in seed_states(model)],
        # the epoch's running means, needed to resume in its middle (fit resets them at each epoch's start)
        "metric_states": None if batch == 0 else [[[float(x) for x in np.asarray(v.numpy()).ravel()]
                                                   for v in m.variables] for m in model.metrics],
        "last_logs": None if last_logs is None else {k: float(v) for k, v in last_logs.items()},
        "last_epoch": last_epoch,
    }
    path = backup_dir / f"{name}.json"
    atomic_write_text(path, json.dumps(info, indent=1))
    _prune(backup_dir, keep)
    return path


def _prune(backup_dir, keep):
    """Keep the ``keep`` newest committed checkpoints; delete older ones and temporary files a kill left behind."""
    kept = committed(backup_dir)[:keep]
    names = {p.stem for p in kept}
    for path in backup_dir.iterdir():
        stem = path.name.split(".")[0]
        stale = path.name.startswith("ckpt-") and stem not in names
        if stale or (path.name.startswith(".ckpt-") and path.name.endswith(".tmp")):
            path.unlink(missing_ok=True)


def _load(model, path):
    """Load one committed checkpoint into ``model``; return its info, or raise ``ValueError`` saying why not."""
    import numpy as np

    from kspectral.data.pairs import seed_states

    try:
        info = json.loads(path.read_text(encoding="utf-8"))
        weights = path.with_name(info["weights"])
        expected = info["sha256"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise InputError(f"{path} is not a readable checkpoint record ({type(exc).__name__})") from None
    if not weights.is_file():
        raise InputError(f"{weights} is missing")
    if _sha256(weights) != expected:
        raise InputError(f"{weights} is truncated or damaged (its checksum differs from the one saved with it)")
    try:
        model.load_weights(str(weights))
    except Exception as exc:  # noqa: BLE001 - h5py and Keras raise many kinds for a damaged file
        first = str(exc).splitlines()[0] if str(exc) else "no message"
        raise InputError(f"{weights} could not be loaded ({type(exc).__name__}: {first})") from None
    states = seed_states(model)
    if len(states) != len(info["seed_states"]):
        raise InputError(f"{path} holds {len(info['seed_states'])} random-generator states, the model "
                         f"{len(states)}: it was written by another model")
    for variable, values in zip(states, info["seed_states"]):
        variable.assign(np.asarray(values, dtype="int64").reshape(variable.shape))
    return info


def restore_checkpoint(backup_dir, model):
    """Load the newest usable checkpoint of ``backup_dir`` into ``model`` (optimizers built first).

    A damaged newest checkpoint falls back to the previous one.

    Returns:
        The checkpoint's info (``step``, ``epoch``, ``batch``, ``metric_states``, ``last_logs``, ...), or ``None``
        when ``backup_dir`` holds no committed checkpoint (a run killed before its first one was written).

    Raises:
        ValueError: there are checkpoints and none is usable (the message names the newest and the fix).
    """
    paths = committed(backup_dir)
    if not paths:
        return None
    build_optimizers(model)
    problems = []
    for path in paths:
        try:
            return _load(model, path)
        except ValueError as exc:
            problems.append(str(exc))
    raise InputError(f"no usable checkpoint in {backup_dir}: {problems[0]}"
                     f"{' (and the earlier ones too)' if len(problems) > 1 else ''}; delete {backup_dir} to restart "
                     "the run from its first step, or choose another --out")


def build_optimizers(model):
    """Create the variables of the model's optimizer (and the online probe's), so that a checkpoint can fill them."""
    if model.optimizer is not None and not model.optimizer.built:
        model.optimizer.build(model.trainable_variables)
    if getattr(model, "online_probe", None) is not None:
        model.online_probe.build_optimizer()


def restore_metric_states(model, states):
    """Set the model's metric trackers to saved ``states`` (one list of flat values per variable of each tracker)."""
    import numpy as np

    for metric, values in zip(model.metrics, states):
        for variable, flat in zip(metric.variables, values):
            variable.assign(np.asarray(flat, dtype=variable.dtype).reshape(variable.shape))


def checkpoint_callback(backup_dir, steps_per_epoch, every=None, start_step=0, metric_states=None,
                        last_logs=None, last_epoch=None):
    """A Keras callback that checkpoints at each epoch's end and every ``every`` steps, finite states only.

    It counts the steps itself from ``start_step`` (a resumed run's checkpoint step), sets the metric trackers to
    ``metric_states`` when the first epoch begins (a resumed half epoch), and keeps each epoch's logs in
    ``epoch_logs`` (epoch index → logs) and the step count in ``step``.
    """
    import keras

    class StepCheckpoint(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.step = int(start_step)
            self.pending = metric_states
            self.epoch_logs = {}
            self.last = (last_epoch, last_logs)

        def on_epoch_begin(self, epoch, logs=None):
            if self.pending is not None:  # after fit() reset the trackers
                restore_metric_states(self.model, self.pending)
                self.pending = None

        def _save(self, logs):
            if is_finite_state(self.model, logs):
                write_checkpoint(backup_dir, self.model, self.step, steps_per_epoch, last_logs=self.last[1],
                                 last_epoch=self.last[0])

        def on_train_batch_end(self, batch, logs=None):
            self.step += 1
            if every and self.step % every == 0 and self.step % steps_per_epoch:
                self._save(logs)

        def on_epoch_end(self, epoch, logs=None):
            logs = dict(logs or {})
            self.epoch_logs[epoch] = logs
            finite = all(math.isfinite(float(v)) for v in logs.values())
            if finite:
                self.last = (epoch, logs)
                self._save(logs)

    return StepCheckpoint()
