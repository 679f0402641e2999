"""The run directory: where a run writes, and how an interrupted run resumes.

A run directory holds:

- ``config.json``: the resolved :class:`~kspectral.runs.RunConfig` (written before training starts);
- ``history.csv``: per-epoch training metrics;
- ``backup/``: step checkpoints while training (:mod:`kspectral.runs.checkpoints`); an interrupted run resumes from
  the newest usable one when trained again with the same ``out`` directory, and they are removed when the run has
  finished;
- ``model.keras``: the trained model (``keras.models.load_model`` after ``import kspectral.methods``);
- ``training.json``: written once training has finished and ``model.keras`` is saved (final training metrics,
  epochs, steps, time): a run interrupted in its baseline or probe stage resumes there without training again;
- ``metrics.json``: the probe table, the spectral baseline's details, final training metrics and timings;
- ``probe.json``: the probe table of the latest ``kspectral probe``.

Safety: an existing non-empty directory that is not a kspectral run directory (no ``config.json`` of kspectral's) is
refused, a finished run (``metrics.json``) is never overwritten, and an unwritable directory is a ``ValueError``
naming ``--out``.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import math
import shutil
import time
from pathlib import Path

from kspectral.runs.checkpoints import atomic_write_text
from kspectral.runs.config import RESUMABLE_CHANGES, RunConfig
from kspectral.errors import InputError

#: the file that records that training finished (the model is saved)
TRAINED = "training.json"


def default_run_dir(config, root="runs"):
    """``runs/<method>-<dataset>-<pairs>-<YYYYmmdd-HHMMSS>``, always a direct child of ``root``.

    A dataset given as a path contributes only its last component, with every character other than letters, digits,
    ``_``, ``.`` and ``-`` replaced by ``_`` (``../../data/faces.npz`` → ``faces.npz``, ``tfds:svhn_cropped`` →
    ``tfds_svhn_cropped``), so that no dataset name can lead the run directory out of ``root``.
    """
    import re

    stamp = time.strftime("%Y%m%d-%H%M%S")
    dataset = re.sub(r"[^A-Za-z0-9_.-]+", "_", Path(str(config.dataset)).name).strip(".") or "data"
    return Path(root) / f"{config.method}-{dataset}-{config.pairs}-{stamp}"


def check_out_dir(out):
    """Raise ``ValueError`` if ``out`` exists and is not a directory."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise InputError(f"--out {out} exists and is not a directory")
    return out


def read_json(path, what):
    """A JSON file's content, or a ``ValueError`` naming the file."""
    path = Path(path)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"{what} {path} is not valid JSON ({exc}); restore it or choose another run") from None


def write_json(path, values):
    """Write ``values`` as JSON to ``path`` atomically (a temporary file, then ``os.replace``)."""
    atomic_write_text(path, json.dumps(values, indent=2))


def _is_run_config(path):
    """Whether ``path`` holds a kspectral ``config.json`` (a JSON table of :class:`RunConfig` fields)."""
    try:
        values = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    known = {f.name for f in dataclasses.fields(RunConfig)}
    return isinstance(values, dict) and bool(values) and set(values) <= known


def check_run_dir(out):
    """Check, without writing, that ``out`` may hold a run; return it as a ``Path``.

    Raises:
        ValueError: ``out`` is a file, a non-empty directory that is not a kspectral run directory, or a finished
            run.
    """
    out = check_out_dir(out)
    if not out.is_dir():
        return out
    try:
        empty = not any(out.iterdir())
    except OSError as exc:
        raise InputError(f"--out {out} cannot be read ({exc.strerror}); choose a readable directory") from None
    if empty:
        return out
    if not _is_run_config(out / "config.json"):
        raise InputError(f"--out {out} is a non-empty directory that is not a kspectral run directory (no kspectral "
                         "config.json); choose a new or empty directory with --out")
    if (out / "metrics.json").exists():
        raise InputError(f"run directory {out} already holds a finished run; choose another --out")
    return out


def read_trained(out):
    """The content of ``out/training.json`` when training has finished and ``model.keras`` is saved, else ``None``."""
    out = Path(out)
    if not ((out / TRAINED).is_file() and (out / "model.keras").is_file()):
        return None
    try:
        return read_json(out / TRAINED, "training record")
    except ValueError:
        return None


def prepare_run_dir(out, config, steps_per_epoch=None):
    """Check ``out``, create it and write ``config.json``; return ``(out, resuming)``.

    A finished run (``metrics.json``) is never overwritten, and a non-empty directory that is not a run directory
    is refused (:func:`check_run_dir`). A directory with a committed checkpoint in ``backup/``, or whose training
    has finished (``training.json``), holds an interrupted run: it resumes if the config is the same, except for
    :data:`~kspectral.runs.config.RESUMABLE_CHANGES`; with ``steps_per_epoch``, asking for fewer epochs than it has
    already trained is an error. A run directory without either (a run that failed before its first checkpoint)
    starts afresh.

    Raises:
        ValueError: any of the above, or ``out`` cannot be written (the message names ``--out``).
    """
    from kspectral.runs.checkpoints import BACKUP, committed

    out = check_run_dir(out)
    backup = out / BACKUP
    trained = read_trained(out)
    newest = committed(backup)
    resuming = bool(newest) or trained is not None
    if resuming and (out / "config.json").exists():
        old, new = read_json(out / "config.json", "run config"), config.to_dict()
        changed = sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k) and k not in RESUMABLE_CHANGES)
        if changed:
            raise InputError(
                f"run directory {out} holds an interrupted run with another config (differs in: {', '.join(changed)}); "
                f"resume it with the same options (only {', '.join(RESUMABLE_CHANGES)} may change) or choose "
                "another --out"
            )
    if resuming and steps_per_epoch:
        done = int(trained["steps"]) if trained is not None else _checkpoint_step(newest[0])
        if done > config.epochs * steps_per_epoch:
            epochs_done = math.ceil(done / steps_per_epoch)
            raise InputError(
                f"run directory {out} has already trained {done} steps ({steps_per_epoch} per epoch), more than "
                f"--epochs {config.epochs} asks for; resume it with --epochs {epochs_done} or more, or choose another "
                "--out"
            )
    try:
        out.mkdir(parents=True, exist_ok=True)
        if not resuming:
            shutil.rmtree(backup, ignore_errors=True)  # partial files of a save that never committed
            for stale in ("history.csv", TRAINED):
                (out / stale).unlink(missing_ok=True)
        write_json(out / "config.json", config.to_dict())
    except OSError as exc:
        raise InputError(f"--out {out} cannot be written ({exc.strerror or exc}); choose a writable directory with "
                         "--out") from None
    return out, resuming


def _checkpoint_step(path):
    try:
        return int(json.loads(Path(path).read_text(encoding="utf-8"))["step"])
    except (OSError, ValueError, KeyError, TypeError):
        return 0


def truncate_history(path, epoch):
    """Keep only the rows of epochs before ``epoch`` in ``history.csv`` (those a resumed run does not redo).

    A divergence leaves a NaN row, and a kill may leave rows of epochs after the checkpoint; the resumed run writes
    those epochs again.
    """
    path = Path(path)
    if not path.is_file():
        return
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    if not rows:
        return
    header, body = rows[0], rows[1:]
    column = header.index("epoch") if "epoch" in header else 0
    kept = [r for r in body if r and r[column].isdigit() and int(r[column]) < epoch]
    if not kept:
        path.unlink()
        return
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(kept)
    atomic_write_text(path, buffer.getvalue())


def history_logger(path, append=False):
    """Keras ``CSVLogger`` for ``history.csv``, without the ``val_*`` columns it adds when there is no validation data.

    Keras' logger adds a ``val_`` twin of every column whenever the first epoch's logs have none; a run has no
    validation data, so those columns would always read ``NA``.
    """
    import keras

    class HistoryLogger(keras.callbacks.CSVLogger):
        def on_epoch_end(self, epoch, logs=None):
            if self.keys is None and logs:
                self.keys = sorted(logs)
            super().on_epoch_end(epoch, logs)

    return HistoryLogger(str(path), append=append)
