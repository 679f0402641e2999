"""The scripts of ``experiments/`` as modules, for ``tests/test_experiment_*.py``.

The scripts import their shared helpers as top-level modules (``from _common import ...``), as they do when run
as ``python experiments/<name>.py``, so the folder goes on ``sys.path`` (at its end: it shadows nothing).
"""

import importlib
import sys
from pathlib import Path

EXPERIMENTS = Path(__file__).resolve().parents[1] / "experiments"


def experiment(name):
    """The module of ``experiments/<name>.py``."""
    if str(EXPERIMENTS) not in sys.path:
        sys.path.append(str(EXPERIMENTS))
    return importlib.import_module(name)
