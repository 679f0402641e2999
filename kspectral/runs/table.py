"""The probe table: linear, kNN (and MLP) top-1 of each representation on a dataset's test split."""

from __future__ import annotations

from dataclasses import dataclass

from kspectral.runs.honesty import probe_warnings
from kspectral.errors import InputError


@dataclass
class ProbeRow:
    """One row of the probe table.

    Attributes:
        name: the representation (``"raw pixels"``, ``"vicreg encoder"``, ...).
        dim: its dimension.
        linear: linear-probe top-1 on the test split (``None`` when not asked for).
        knn: kNN-probe top-1 on the test split (``None`` when not asked for).
        mlp: MLP-probe top-1 on the test split (``None`` when not asked for).
    """

    name: str
    dim: int
    linear: float | None
    knn: float | None
    mlp: float | None = None


#: the probes a table can hold, in column order
PROBES = ("linear", "knn", "mlp")


class ProbeTable(list):
    """A probe table: a list of :class:`ProbeRow` that also carries its ``warnings``.

    ``warnings`` is a list of ``{"code", "message"}`` (:mod:`kspectral.runs.honesty`): the baseline's warnings
    and one ``chance_level_probe`` per row probed at chance level. :func:`kspectral.runs.probe` returns one.
    """

    def __init__(self, rows=(), warnings=()):
        super().__init__(rows)
        self.warnings = list(warnings)


def check_probes(probes):
    """``probes`` as a tuple of names from :data:`PROBES`, or a ``ValueError`` naming the allowed ones."""
    probes = tuple(probes)
    unknown = [p for p in probes if p not in PROBES]
    if unknown or not probes:
        raise InputError(f"unknown probe {', '.join(map(repr, unknown)) or '(none given)'}; choose from: "
                         f"{', '.join(PROBES)}")
    return probes


def probe_row(name, train_features, test_features, dataset, knn_preset="dino", probes=("linear", "knn"), seed=0,
              on_stage=None, mlp_options=None):
    """Probe one representation: features of the training and test images of ``dataset``.

    Args:
        name: the row's name.
        train_features, test_features: ``(N_train, d)`` and ``(N_test, d)`` features.
        dataset: the :class:`~kspectral.data.ImageDataset` whose labels they are probed against.
        knn_preset: kNN preset, ``"dino"`` or ``"instdisc"``.
        probes: which of :data:`PROBES` to run.
        seed: seed of the MLP probe.
        on_stage: optional function called with a line before the row is probed (``"probing raw pixels (64
            features of 1437 training images): linear, kNN"``).
        mlp_options: keyword arguments of :func:`kspectral.probes.mlp_probe` (``hidden``, ``callbacks``, ...).
    """
    from kspectral.probes import knn_probe, linear_probe, mlp_probe

    probes = check_probes(probes)
    mlp_options = dict(mlp_options or {})
    if on_stage is not None:
        hidden, layers = mlp_options.get("hidden", 2048), mlp_options.get("layers", 2)
        names = {"linear": "linear", "knn": "kNN", "mlp": f"MLP ({layers}×{hidden}, {mlp_options.get('epochs', 100)} "
                                                          "epochs)"}
        on_stage(f"probing {name} ({train_features.shape[1]} features of {train_features.shape[0]} training "
                 f"images): {', '.join(names[p] for p in PROBES if p in probes)}")
    args = (train_features, dataset.y_train, test_features, dataset.y_test)
    return ProbeRow(
        name,
        int(train_features.shape[1]),
        linear_probe(*args) if "linear" in probes else None,
        knn_probe(*args, preset=knn_preset) if "knn" in probes else None,
        mlp_probe(*args, seed=seed, **mlp_options) if "mlp" in probes else None,
    )


def probe_dict(rows):
    """``{name: {"dim", "linear_top1", "knn_top1", "mlp_top1"}}`` of a probe table (the JSON layout of run files).

    Probes that were not run are left out.
    """
    table = {}
    for r in rows:
        entry = {"dim": r.dim}
        for probe in PROBES:
            if getattr(r, probe) is not None:
                entry[f"{probe}_top1"] = getattr(r, probe)
        table[r.name] = entry
    return table


#: the ``chance_level_probe`` warnings of a probe table (:func:`kspectral.runs.honesty.probe_warnings`, their owner)
table_warnings = probe_warnings
