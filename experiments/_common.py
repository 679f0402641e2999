"""What every script in ``experiments/`` shares: one thread per process, mean ± std, the machine, results files.

Import this module before TensorFlow or numpy (``from _common import ...`` at the top of a script run as
``python experiments/<name>.py``): it pins BLAS and TensorFlow to one thread each, so that a run's numbers do not
depend on what else shares the 2-core machine, and silences TensorFlow's C++ logs.
"""

from __future__ import annotations

import json
import os
import platform
from pathlib import Path

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "TF_NUM_INTRAOP_THREADS",
             "TF_NUM_INTEROP_THREADS"):
    os.environ.setdefault(_var, "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402

SEEDS = (0, 1, 2)


def mean_std(values):
    """Mean and sample standard deviation (ddof = 1; 0.0 for a single value) of ``values``."""
    v = np.asarray(values, dtype=float)
    return float(v.mean()), (float(v.std(ddof=1)) if v.size > 1 else 0.0)


def pm(values, digits=4):
    """``values`` as the text ``"mean ± std"`` with ``digits`` decimals, as the tables in EXPERIMENTS.md print it."""
    m, s = mean_std(values)
    return f"{m:.{digits}f} ± {s:.{digits}f}"


def machine():
    """Platform, CPU count and library versions, for the ``machine`` field of a ``results.json``."""
    import keras
    import tensorflow as tf

    return {"platform": platform.platform(), "cpus": os.cpu_count(), "tensorflow": tf.__version__,
            "keras": keras.__version__, "numpy": np.__version__,
            "gpus": len(tf.config.list_physical_devices("GPU"))}


def write_results(out, result):
    """Write ``result`` (a JSON-serialisable dict) with the machine filled in to ``<out>/results.json``; returns the path."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / "results.json"
    path.write_text(json.dumps({**result, "machine": machine()}, indent=1, default=_jsonable))
    return path


def _jsonable(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def pyplot():
    """matplotlib's ``pyplot`` on the non-interactive Agg backend."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt
