"""The train / probe workflow behind ``kspectral train`` and ``kspectral probe``, usable from Python.

A run directory holds:

- ``config.json``: the resolved :class:`RunConfig` (written before training starts);
- ``history.csv``: per-epoch training metrics;
- ``backup/``: Keras ``BackupAndRestore`` state while training; an interrupted run resumes from it when
  trained again with the same ``out`` directory, and it is removed when training completes;
- ``model.keras``: the trained model (``keras.models.load_model`` after ``import kspectral.methods``);
- ``metrics.json``: the probe table, the spectral baseline's details, final training metrics and timings.
"""

from __future__ import annotations

import dataclasses
import json
import math
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

PAIRS = ("augment", "knn", "labels")
DEFAULT_PROJECTOR = "1024-1024-1024"
KNN_PRESETS = ("dino", "instdisc")


def method_option_names(method):
    """The keyword arguments a method class takes besides its encoder and heads (its ``method_options``)."""
    import inspect

    from kspectral import methods

    params = inspect.signature(methods.get(method).__init__).parameters
    return [n for n, p in params.items() if n not in ("self", "encoder", "projector") and p.kind is p.POSITIONAL_OR_KEYWORD]


@dataclass
class RunConfig:
    """Everything a training run depends on; written to ``config.json``.

    Attributes:
        method: registered method name (``kspectral.methods.names()``).
        dataset: built-in dataset (``"digits"``).
        encoder: built-in encoder (``"mlp"``, ``"conv"``).
        encoder_widths: encoder block widths, e.g. ``"512-256"``.
        projector: projector spec, e.g. ``"1024-1024-1024"``; ``None`` resolves to ``"1024-1024-1024"`` for methods
            with a projector. Methods with their own heads (CISSL, DISSL) take none; their heads are set by
            ``method_options``.
        pairs: where positive pairs come from: ``"augment"`` (two augmentations of each image),
            ``"knn"`` (edges of a kNN graph on pixels) or ``"labels"`` (same-label pairs).
        knn_k: neighbours of the kNN graph (``pairs="knn"``).
        epochs, batch_size: training length and batch size.
        learning_rate, weight_decay: AdamW with cosine decay to 0.
        seed: seed of data split, pairs, augmentations and initialisation.
        test_size: held-out fraction for the probes.
        baseline_dim: output dimension K of the closed-form spectral baseline.
        baseline_rounds: augmentation rounds of the baseline's pair graph (``pairs="augment"``).
        knn_preset: kNN probe preset, ``"dino"`` or ``"instdisc"``.
        method_options: extra keyword arguments of the method class (e.g. ``{"invariance_weight": 10}``).
    """

    method: str = "vicreg"
    dataset: str = "digits"
    encoder: str = "mlp"
    encoder_widths: str = "512-256"
    projector: str | None = None
    pairs: str = "augment"
    knn_k: int = 10
    epochs: int = 100
    batch_size: int = 256
    learning_rate: float = 2e-3
    weight_decay: float = 1e-4
    seed: int = 0
    test_size: float = 0.2
    baseline_dim: int = 32
    baseline_rounds: int = 4
    knn_preset: str = "dino"
    method_options: dict = field(default_factory=dict)

    def validate(self):
        """Raise ``ValueError`` naming the first invalid field and its allowed values."""
        from kspectral import data, encoders, methods

        methods.get(self.method)
        if self.dataset not in data.DATASETS:
            raise ValueError(f"unknown dataset {self.dataset!r}; choose one of: {', '.join(data.DATASETS)}")
        if self.encoder not in encoders.ENCODERS:
            raise ValueError(f"unknown encoder {self.encoder!r}; choose one of: {', '.join(encoders.ENCODERS)}")
        if self.pairs not in PAIRS:
            raise ValueError(f"unknown pairs {self.pairs!r}; choose one of: {', '.join(PAIRS)}")
        if self.knn_preset not in KNN_PRESETS:
            raise ValueError(f"unknown knn_preset {self.knn_preset!r}; choose one of: {', '.join(KNN_PRESETS)}")
        for name in ("method", "dataset", "encoder", "pairs", "knn_preset", "encoder_widths"):
            if not isinstance(getattr(self, name), str):
                raise ValueError(f"{name} must be a string, got {getattr(self, name)!r}")
        for name in ("epochs", "batch_size", "knn_k", "baseline_dim", "baseline_rounds"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < (2 if name == "batch_size" else 1):
                raise ValueError(f"{name} must be an integer ≥ {2 if name == 'batch_size' else 1}, got {value!r}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or not 0 <= self.seed < 2**32:
            raise ValueError(f"seed must be an integer in [0, 2³²), got {self.seed!r}")
        for name, positive in (("learning_rate", True), ("weight_decay", False), ("test_size", True)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or (
                value <= 0 if positive else value < 0
            ):
                raise ValueError(f"{name} must be a {'positive' if positive else 'non-negative'} number, got {value!r}")
        if not self.test_size < 1.0:
            raise ValueError(f"test_size must lie strictly between 0 and 1, got {self.test_size!r}")
        methods.parse_widths(self.encoder_widths)
        uses_projector = methods.get(self.method).uses_projector
        if self.projector is None and uses_projector:
            self.projector = DEFAULT_PROJECTOR
        elif self.projector is not None and not uses_projector:
            raise ValueError(f"{self.method} has no projector (its heads are set by method_options); drop --projector")
        if self.projector is not None:
            methods.parse_widths(self.projector)
        if not isinstance(self.method_options, dict):
            raise ValueError("method_options must be a table of keyword arguments")
        allowed = method_option_names(self.method)
        unknown = sorted(set(self.method_options) - set(allowed))
        if unknown:
            raise ValueError(f"unknown method_options for {self.method}: {', '.join(unknown)}; "
                             f"allowed: {', '.join(allowed)}")
        return self

    def to_dict(self):
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values):
        """A config from a dict (e.g. a recipe or ``config.json``); unknown keys are an error."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"unknown config keys: {', '.join(unknown)}; allowed keys: {', '.join(sorted(known))}")
        return cls(**values)


@dataclass
class ProbeRow:
    """One row of the probe table."""

    name: str
    dim: int
    linear: float
    knn: float


def probe_dict(rows):
    """``{name: {"dim", "linear_top1", "knn_top1"}}`` of a probe table (the JSON layout of run files)."""
    return {r.name: {"dim": r.dim, "linear_top1": r.linear, "knn_top1": r.knn} for r in rows}


def default_run_dir(config, root="runs"):
    stamp = time.strftime("%Y%m%d-%H%M%S")
    return Path(root) / f"{config.method}-{config.dataset}-{config.pairs}-{stamp}"


#: fields that may differ when an interrupted run is resumed (e.g. a lower learning rate after a divergence)
RESUMABLE_CHANGES = ("epochs", "learning_rate", "weight_decay")


def _prepare_run_dir(out, config):
    """Create ``out`` and write ``config.json``; return ``(out, resuming)``.

    A finished run (``metrics.json``) is never overwritten. A directory with a ``backup/`` holds an interrupted
    run: it resumes if the config is the same, except for :data:`RESUMABLE_CHANGES`. A directory without one
    (a run that failed before its first epoch ended) starts afresh.
    """
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out {out} exists and is not a directory")
    resuming = (out / "backup").is_dir()
    if (out / "metrics.json").exists():
        raise ValueError(f"run directory {out} already holds a finished run; choose another --out")
    if resuming and (out / "config.json").exists():
        old, new = json.loads((out / "config.json").read_text()), config.to_dict()
        changed = sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k) and k not in RESUMABLE_CHANGES)
        if changed:
            raise ValueError(
                f"run directory {out} holds an interrupted run with another config (differs in: {', '.join(changed)}); "
                f"resume it with the same options (only {', '.join(RESUMABLE_CHANGES)} may change) or choose "
                "another --out"
            )
    out.mkdir(parents=True, exist_ok=True)
    (out / "config.json").write_text(json.dumps(config.to_dict(), indent=2))
    return out, resuming


def _finite_backup(backup_dir):
    """Keras ``BackupAndRestore`` that never saves a non-finite epoch and keeps its checkpoint at the end.

    After a divergence the checkpoint is therefore the last epoch whose metrics were finite, and :func:`train`
    removes it only once the run has finished and been saved.
    """
    import keras

    class FiniteBackupAndRestore(keras.callbacks.BackupAndRestore):
        def on_epoch_end(self, epoch, logs=None):
            if logs and not all(math.isfinite(float(v)) for v in logs.values()):
                return
            super().on_epoch_end(epoch, logs)

    return FiniteBackupAndRestore(str(backup_dir), delete_checkpoint=False)


def build_pairs(config, dataset):
    """The ``tf.data`` pipeline of positive pairs and the graph they come from (``None`` for augment)."""
    from kspectral.data import augmented_pairs, augmenter, graph_pairs
    from kspectral.spectral import knn_graph, label_graph

    if config.pairs == "augment":
        aug = augmenter(dataset.name)
        return augmented_pairs(dataset.x_train, aug, config.batch_size, seed=config.seed), None
    if config.pairs == "knn":
        graph = knn_graph(dataset.flat("train"), config.knn_k)
    else:
        graph = label_graph(dataset.y_train)
    return graph_pairs(dataset.x_train, graph, config.batch_size, seed=config.seed), graph


def build_model(config, dataset):
    """The method's Keras model with the configured encoder and projector, compiled with AdamW."""
    import keras

    from kspectral import encoders, methods

    cls = methods.get(config.method)
    encoder = encoders.build_encoder(config.encoder, dataset.image_shape, config.encoder_widths)
    heads = {"projector": config.projector} if cls.uses_projector else {}
    try:
        model = cls(encoder=encoder, **heads, **config.method_options)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"bad method_options for {config.method}: {exc}") from None
    steps = config.epochs * (len(dataset.x_train) // config.batch_size) if config.pairs == "augment" else (
        config.epochs * math.ceil(len(dataset.x_train) / config.batch_size)
    )
    schedule = keras.optimizers.schedules.CosineDecay(config.learning_rate, max(steps, 1))
    model.compile(optimizer=keras.optimizers.AdamW(schedule, weight_decay=config.weight_decay))
    model.build((None, *dataset.image_shape))
    return model


def baseline_problem(config, dataset):
    """Features ``X`` and graph ``G`` of the closed-form baseline, matching the training pairs.

    - ``augment``: ``X`` stacks ``baseline_rounds`` rounds of two augmented views of every training image
      (view-major) and ``G`` is their pair graph: the positive pairs the model is trained on.
    - ``knn`` / ``labels``: the training pixels and the same kNN or label graph the pairs are drawn from.
    """
    from kspectral.data import augmenter
    from kspectral.spectral import knn_graph, label_graph, pair_graph

    x = dataset.x_train
    if config.pairs == "augment":
        import keras

        keras.utils.set_random_seed(config.seed + 1)
        aug = augmenter(dataset.name)
        views_a, views_b = [], []
        for _ in range(config.baseline_rounds):
            views_a.append(np.asarray(aug(x, training=True)).reshape(len(x), -1))
            views_b.append(np.asarray(aug(x, training=True)).reshape(len(x), -1))
        X = np.concatenate(views_a + views_b).astype(np.float64)
        G = pair_graph(len(x) * config.baseline_rounds)
        description = f"pair graph of {config.baseline_rounds}×{len(x)} augmented pairs"
    elif config.pairs == "knn":
        X = dataset.flat("train").astype(np.float64)
        G = knn_graph(X, config.knn_k)
        description = f"kNN graph (k={config.knn_k}) on training pixels"
    else:
        X = dataset.flat("train").astype(np.float64)
        G = label_graph(dataset.y_train)
        description = "label graph of the training labels"
    return X, G, description


def spectral_baseline(config, dataset):
    """Fit the method's closed form in the linear regime; return (estimator, graph description)."""
    from kspectral import methods

    X, G, description = baseline_problem(config, dataset)
    dim = min(config.baseline_dim, X.shape[1])
    estimator = methods.get(config.method).spectral_baseline(G, dim, features=X)
    return estimator, description


def baseline_summary(method, baseline, description, dim):
    """JSON-ready description of a fitted closed form (``objective`` is ``None`` where none is known)."""
    from kspectral import methods

    objective = float(getattr(baseline, "objective_", float("nan")))
    return {
        "estimator": type(baseline).__name__,
        "counterpart": methods.get(method).spectral_counterpart,
        "graph": description,
        "dim": int(dim),
        "rank": int(getattr(baseline, "rank_", dim)),
        "objective": objective if math.isfinite(objective) else None,
    }


def probe_table(config, dataset, model, baseline):
    """Linear and kNN top-1 on the test split for raw inputs, the encoder and the spectral baseline."""
    from kspectral.probes import knn_probe, linear_probe

    def row(name, ftr, fte):
        return ProbeRow(
            name,
            int(ftr.shape[1]),
            linear_probe(ftr, dataset.y_train, fte, dataset.y_test),
            knn_probe(ftr, dataset.y_train, fte, dataset.y_test, preset=config.knn_preset),
        )

    raw_tr, raw_te = dataset.flat("train"), dataset.flat("test")
    return [
        row("raw pixels", raw_tr, raw_te),
        row(f"{config.method} encoder", model.encode(dataset.x_train), model.encode(dataset.x_test)),
        row(f"spectral baseline ({config.method})", baseline.transform(raw_tr), baseline.transform(raw_te)),
    ]


@dataclass
class RunResult:
    """What :func:`train` produced."""

    run_dir: Path
    rows: list
    metrics: dict
    resumed: bool


def train(config, out=None, callbacks=(), verbose=0, on_stage=None):
    """Train ``config``'s method on its dataset, save the run, probe it beside its spectral baseline.

    Args:
        config: :class:`RunConfig`.
        out: run directory (default ``runs/<method>-<dataset>-<pairs>-<time>``).
        callbacks: extra Keras callbacks (e.g. a progress display).
        verbose: Keras ``fit`` verbosity.
        on_stage: optional function called with a short description of each stage.

    Returns:
        :class:`RunResult`.
    """
    import keras

    from kspectral.data import load

    stage = on_stage or (lambda message: None)
    config.validate()
    started = time.perf_counter()
    keras.utils.set_random_seed(config.seed)
    dataset = load(config.dataset, test_size=config.test_size, seed=config.seed)
    if config.batch_size > len(dataset.x_train):
        raise ValueError(f"batch_size={config.batch_size} is larger than the {len(dataset.x_train)} training images")
    pairs, _ = build_pairs(config, dataset)  # everything that can reject the config runs before the run dir exists
    model = build_model(config, dataset)
    out, resuming = _prepare_run_dir(out or default_run_dir(config), config)
    stage(("resuming" if resuming else "training") + f" {config.method} on {config.dataset} ({config.pairs} pairs)")
    fit_callbacks = [
        _finite_backup(out / "backup"),
        keras.callbacks.CSVLogger(str(out / "history.csv"), append=resuming),
        keras.callbacks.TerminateOnNaN(),
        *callbacks,
    ]
    train_start = time.perf_counter()
    history = model.fit(pairs, epochs=config.epochs, callbacks=fit_callbacks, verbose=verbose, shuffle=False)
    train_time = time.perf_counter() - train_start
    final = {k: float(v[-1]) for k, v in history.history.items() if v}
    if not all(math.isfinite(v) for v in final.values()):
        kept = (f"the last finite epoch is kept in {out / 'backup'}: train again with the same --out and a lower "
                "--learning-rate to resume from it") if (out / "backup").is_dir() else "lower --learning-rate"
        raise FloatingPointError(f"training diverged (non-finite loss); {kept}")
    model.save(out / "model.keras")
    stage("fitting the closed-form spectral baseline")
    baseline, description = spectral_baseline(config, dataset)
    stage("probing")
    rows = probe_table(config, dataset, model, baseline)
    metrics = {
        "method": config.method,
        "dataset": config.dataset,
        "pairs": config.pairs,
        "probes": probe_dict(rows),
        "knn_preset": config.knn_preset,
        "spectral_baseline": baseline_summary(config.method, baseline, description, rows[-1].dim),
        "final_train_metrics": final,
        "epochs": config.epochs,
        "train_time_s": round(train_time, 2),
        "wall_time_s": round(time.perf_counter() - started, 2),
        "resumed": resuming,
    }
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2))
    shutil.rmtree(out / "backup", ignore_errors=True)
    return RunResult(out, rows, metrics, resuming)


def probe(run_dir, knn_preset=None):
    """Re-evaluate a saved run: reload its model and config, recompute the probe table.

    The table is also written to ``RUN_DIR/probe.json``.

    Returns:
        list of :class:`ProbeRow`.
    """
    import keras

    import kspectral.methods  # noqa: F401  (registers the model classes for loading)
    from kspectral.data import load

    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise FileNotFoundError(f"run directory {run_dir} does not exist")
    for needed in ("config.json", "model.keras"):
        if not (run_dir / needed).exists():
            raise FileNotFoundError(f"{run_dir} is not a finished run: {needed} is missing")
    config = RunConfig.from_dict(json.loads((run_dir / "config.json").read_text()))
    if knn_preset is not None:
        config.knn_preset = knn_preset
    config.validate()
    model = keras.models.load_model(run_dir / "model.keras")
    dataset = load(config.dataset, test_size=config.test_size, seed=config.seed)
    baseline, _ = spectral_baseline(config, dataset)
    rows = probe_table(config, dataset, model, baseline)
    (run_dir / "probe.json").write_text(json.dumps({"knn_preset": config.knn_preset, "probes": probe_dict(rows)},
                                                   indent=2))
    return rows


SPECTRAL_GRAPHS = ("knn:K", "labels", "pairs", "augment")
REGIMES = ("auto", "linear", "nonparametric")


@dataclass
class SpectralResult:
    """What :func:`spectral` produced."""

    rows: list
    summary: dict


def _spectral_graph(graph, X, dataset, config):
    """Build the graph named by ``graph`` on the rows of ``X`` (training data, or all data when transductive)."""
    from kspectral.data import augmenter
    from kspectral.spectral import augmentation_graph, build_graph

    if graph == "augment":
        import keras

        aug = augmenter(dataset.name)
        shape = dataset.image_shape

        def draw(batch, rng):
            keras.utils.set_random_seed(int(rng.integers(2**31)))
            return np.asarray(aug(batch.reshape(len(batch), *shape).astype(np.float32), training=True))

        return augmentation_graph(X.reshape(len(X), *shape), draw, draws=config.baseline_rounds, k=5,
                                  seed=config.seed), f"augmentation graph ({config.baseline_rounds} draws, k=5)"
    G = build_graph(graph, X, dataset.y_train if graph == "labels" else None)
    return G, ("label graph of the training labels" if graph == "labels" else f"{graph} graph on pixels")


def spectral(method="vicreg", graph="knn:10", dim=16, regime="auto", dataset="digits", seed=0, knn_preset="dino",
             out=None):
    """Compute a method's closed-form spectral baseline on a dataset and graph, and probe it like a trained run.

    Args:
        method: registered method name; its ``spectral_baseline`` is computed.
        graph: ``"knn:K"``, ``"labels"``, ``"pairs"`` (two augmented views of each image, the pairs ``kspectral
            train`` uses) or ``"augment"`` (images linked when their augmented views are neighbours).
        dim: K, the embedding dimension.
        regime: ``"linear"`` (fit ``Z = XW`` on the training split, apply it to the test split),
            ``"nonparametric"`` (embed train and test images together on a graph over all of them; the test
            labels are never used) or ``"auto"`` (nonparametric for ``knn`` and ``augment``, linear for
            ``labels`` and ``pairs``, which cannot reach test images without their labels or views).
        dataset: built-in dataset.
        seed: seed of the split and the augmentations.
        knn_preset: kNN probe preset.
        out: optional directory; ``spectral.json`` is written there.

    Returns:
        :class:`SpectralResult`.
    """
    from kspectral import methods
    from kspectral.data import load
    from kspectral.probes import knn_probe, linear_probe
    from kspectral.spectral import graph_report, parse_graph_spec

    cls = methods.get(method)
    if out is not None and Path(out).exists() and not Path(out).is_dir():
        raise ValueError(f"--out {out} exists and is not a directory")
    if graph not in ("labels", "pairs", "augment"):
        try:
            parse_graph_spec(graph)
        except ValueError:
            raise ValueError(f"unknown graph {graph!r}; choose one of: {', '.join(SPECTRAL_GRAPHS)}") from None
    if regime not in REGIMES:
        raise ValueError(f"unknown regime {regime!r}; choose one of: {', '.join(REGIMES)}")
    if knn_preset not in KNN_PRESETS:
        raise ValueError(f"unknown knn_preset {knn_preset!r}; choose one of: {', '.join(KNN_PRESETS)}")
    if regime == "auto":
        regime = "linear" if graph in ("labels", "pairs") else "nonparametric"
    if regime == "nonparametric" and graph in ("labels", "pairs"):
        raise ValueError(f"graph {graph!r} cannot reach the test images (it needs their labels or views); "
                         "use --regime linear")
    started = time.perf_counter()
    data = load(dataset, seed=seed)
    config = RunConfig(method=method, dataset=dataset, seed=seed, pairs="augment", baseline_dim=dim)
    xtr, xte = data.flat("train").astype(np.float64), data.flat("test").astype(np.float64)
    if regime == "linear":
        if dim > xtr.shape[1]:
            raise ValueError(f"dim={dim} exceeds the {xtr.shape[1]} input features of the linear regime")
        if graph == "pairs":
            X, G, description = baseline_problem(config, data)
        else:
            X = xtr
            G, description = _spectral_graph(graph, X, data, config)
        baseline = cls.spectral_baseline(G, dim, features=X)
        ftr, fte = baseline.transform(xtr), baseline.transform(xte)
    else:
        X = np.concatenate([xtr, xte])
        G, description = _spectral_graph(graph, X, data, config)
        description += " over train and test images (transductive; no test labels)"
        baseline = cls.spectral_baseline(G, dim)
        Z = baseline.embedding_
        ftr, fte = Z[: len(xtr)], Z[len(xtr):]
    seconds = time.perf_counter() - started

    def row(name, a, b):
        return ProbeRow(name, int(a.shape[1]), linear_probe(a, data.y_train, b, data.y_test),
                        knn_probe(a, data.y_train, b, data.y_test, preset=knn_preset))

    rows = [row("raw pixels", xtr, xte), row(f"{type(baseline).__name__} ({method}, {regime})", ftr, fte)]
    summary = baseline_summary(method, baseline, description, rows[-1].dim)
    summary.update(regime=regime, graph_report=str(graph_report(G)), seconds=round(seconds, 2),
                   probes=probe_dict(rows),
                   knn_preset=knn_preset, method=method, dataset=dataset)
    if out is not None:
        Path(out).mkdir(parents=True, exist_ok=True)
        (Path(out) / "spectral.json").write_text(json.dumps(summary, indent=2))
    return SpectralResult(rows, summary)
