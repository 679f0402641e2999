"""The run directory: where a run writes, and how an interrupted run resumes.

A run directory holds:

- ``config.json``: the resolved :class:`~kspectral.runs.RunConfig` (written before training starts);
- ``history.csv``: per-epoch training metrics;
- ``backup/``: Keras ``BackupAndRestore`` state while training; an interrupted run resumes from it when trained
  again with the same ``out`` directory, and it is removed when the run has finished;
- ``model.keras``: the trained model (``keras.models.load_model`` after ``import kspectral.methods``);
- ``metrics.json``: the probe table, the spectral baseline's details, final training metrics and timings;
- ``probe.json``: the probe table of the latest ``kspectral probe``.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

from kspectral.runs.config import RESUMABLE_CHANGES


def default_run_dir(config, root="runs"):
    """``runs/<method>-<dataset>-<pairs>-<YYYYmmdd-HHMMSS>``."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    return Path(root) / f"{config.method}-{config.dataset}-{config.pairs}-{stamp}"


def check_out_dir(out):
    """Raise ``ValueError`` if ``out`` exists and is not a directory."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out {out} exists and is not a directory")
    return out


def read_json(path, what):
    """A JSON file's content, or a ``ValueError`` naming the file."""
    path = Path(path)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(f"{what} {path} is not valid JSON ({exc}); restore it or choose another run") from None


def write_json(path, values):
    Path(path).write_text(json.dumps(values, indent=2))


def prepare_run_dir(out, config):
    """Create ``out`` and write ``config.json``; return ``(out, resuming)``.

    A finished run (``metrics.json``) is never overwritten. A directory with a ``backup/`` holds an interrupted
    run: it resumes if the config is the same, except for :data:`~kspectral.runs.config.RESUMABLE_CHANGES`.
    A directory without one (a run that failed before its first epoch ended) starts afresh.
    """
    out = check_out_dir(out)
    resuming = (out / "backup").is_dir()
    if (out / "metrics.json").exists():
        raise ValueError(f"run directory {out} already holds a finished run; choose another --out")
    if resuming and (out / "config.json").exists():
        old, new = read_json(out / "config.json", "run config"), config.to_dict()
        changed = sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k) and k not in RESUMABLE_CHANGES)
        if changed:
            raise ValueError(
                f"run directory {out} holds an interrupted run with another config (differs in: {', '.join(changed)}); "
                f"resume it with the same options (only {', '.join(RESUMABLE_CHANGES)} may change) or choose "
                "another --out"
            )
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / "config.json", config.to_dict())
    return out, resuming


def finite_backup(backup_dir):
    """Keras ``BackupAndRestore`` that never saves a non-finite epoch and keeps its checkpoint at the end.

    After a divergence the checkpoint is therefore the last epoch whose metrics were finite; the train workflow
    removes it only once the run has finished and been saved.
    """
    import keras

    class FiniteBackupAndRestore(keras.callbacks.BackupAndRestore):
        def on_epoch_end(self, epoch, logs=None):
            if logs and not all(math.isfinite(float(v)) for v in logs.values()):
                return
            super().on_epoch_end(epoch, logs)

    return FiniteBackupAndRestore(str(backup_dir), delete_checkpoint=False)


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
