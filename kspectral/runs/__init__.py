"""The train / probe / spectral workflows behind the ``kspectral`` command, usable from Python.

- :mod:`~kspectral.runs.config`: the run configuration (:class:`RunConfig`), its checks, defaults and recipes;
- :mod:`~kspectral.runs.problem`: dataset → positive-pair graph → training pairs and the baseline problem
  (one graph builder for training, the baseline and ``spectral``);
- :mod:`~kspectral.runs.rundir`: the run directory, its safety checks and resuming;
- :mod:`~kspectral.runs.checkpoints`: atomic step checkpoints and their restore (``docs/fault_tolerance.md``);
- :mod:`~kspectral.runs.table`: the probe table;
- :mod:`~kspectral.runs.workflows`: :func:`train`, :func:`probe`, :func:`spectral`.

Example:
    >>> from kspectral.runs import RunConfig, train
    >>> result = train(RunConfig(epochs=3), out="runs/quick")      # doctest: +SKIP
    >>> result.metrics["probes"]["vicreg encoder"]["linear_top1"]  # doctest: +SKIP
"""

from kspectral.runs.config import (
    DEFAULT_PROJECTOR,
    KNN_PRESETS,
    PAIRS,
    RESUMABLE_CHANGES,
    RunConfig,
    load_recipe,
    method_option_names,
    resolve_config,
    with_defaults,
)
from kspectral.runs.checkpoints import restore_checkpoint, write_checkpoint
from kspectral.runs.problem import GRAPHS, GraphProblem, augmented_views, build_problem, fit_baseline
from kspectral.spectral.baselines import REGIMES
from kspectral.runs.rundir import check_run_dir, default_run_dir, prepare_run_dir
from kspectral.runs.table import ProbeRow, probe_dict, probe_row
from kspectral.runs.workflows import RunResult, SpectralResult, build_model, load_run_model, probe, spectral, train

__all__ = [
    "DEFAULT_PROJECTOR",
    "GRAPHS",
    "KNN_PRESETS",
    "PAIRS",
    "REGIMES",
    "RESUMABLE_CHANGES",
    "GraphProblem",
    "ProbeRow",
    "RunConfig",
    "RunResult",
    "SpectralResult",
    "augmented_views",
    "build_model",
    "build_problem",
    "check_run_dir",
    "default_run_dir",
    "fit_baseline",
    "load_recipe",
    "load_run_model",
    "method_option_names",
    "prepare_run_dir",
    "probe",
    "probe_dict",
    "probe_row",
    "resolve_config",
    "restore_checkpoint",
    "spectral",
    "train",
    "with_defaults",
    "write_checkpoint",
]
