"""Dataset → positive-pair graph → training pairs and the closed-form baseline problem.

One builder, :func:`build_problem`, makes every graph that ``kspectral train``, its spectral baseline and
``kspectral spectral`` use, so that the baseline is computed on the very graph the training pairs are drawn
from (``knn`` and ``labels`` pairs), or on the pair graph of augmented views of the training images (``augment``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: graph specifications :func:`build_problem` takes
GRAPHS = ("knn:K", "labels", "pairs", "augment")
#: the regimes of a closed form
REGIMES = ("linear", "nonparametric")


@dataclass
class GraphProblem:
    """A positive-pair graph over the rows of a feature matrix.

    Attributes:
        X: ``(N, D)`` float64 features, one row per node of ``graph`` (flattened images or augmented views).
        graph: ``(N, N)`` symmetric scipy sparse graph of positive pairs.
        description: what the graph is, for run summaries (e.g. ``"kNN graph (k=10) on training pixels"``).
        spec: the graph specification it was built from (``"knn:10"``, ``"labels"``, ``"pairs"``, ``"augment"``).
        transductive: whether the rows are the training and the test images together.
    """

    X: np.ndarray
    graph: object
    description: str
    spec: str
    transductive: bool = False


def graph_for_pairs(pairs, knn_k):
    """The graph specification behind a run's ``pairs`` setting (``augment`` → the pair graph of views)."""
    return {"augment": "pairs", "knn": f"knn:{knn_k}", "labels": "labels"}[pairs]


def check_graph_spec(spec):
    """Raise ``ValueError`` unless ``spec`` is one of :data:`GRAPHS` (``knn:K`` with a positive integer K)."""
    from kspectral.spectral import parse_graph_spec

    if spec in ("labels", "pairs", "augment"):
        return spec
    try:
        parse_graph_spec(spec)
    except (TypeError, ValueError):
        if str(spec).startswith("knn:"):
            raise ValueError(f"graph {spec!r}: knn:K needs an integer K ≥ 1 (the neighbours per node), e.g. "
                             "knn:10") from None
        raise ValueError(f"unknown graph {spec!r}; choose one of: {', '.join(GRAPHS)}") from None
    if not str(spec).startswith("knn:"):
        raise ValueError(f"unknown graph {spec!r}; choose one of: {', '.join(GRAPHS)}")
    return spec


def dataset_augmenter(dataset, preset=None, options=None, seed=None):
    """The augmentation preset ``preset`` (default: the dataset's own) for ``dataset``'s images.

    Presets that take a channel count get the dataset's; ``seed=None`` draws fresh randomness.
    """
    import inspect

    from kspectral.data import AUGMENTERS, augmenter

    name = preset or dataset.default_augment
    if name is None:
        raise ValueError(f"{dataset.name} holds flat features, for which there is no augmentation preset; train on "
                         "graph pairs (--pairs knn or labels) or name a preset with --augment")
    options = dict(options or {})
    parameters = inspect.signature(AUGMENTERS[name]).parameters if name in AUGMENTERS else {}
    if "channels" in parameters:
        options.setdefault("channels", dataset.channels)
    if "image_size" in parameters and name != "digits" and len(dataset.image_shape) == 3:
        options.setdefault("image_size", tuple(dataset.image_shape[:2]))  # views keep the images' size
    return augmenter(name, seed=None if seed is None else int(seed), **options)


def _view_pair(aug):
    """The augmenters of the two views: one augmenter twice, or the first two of a sequence (e.g. BYOL's pair, or
    multi-crop's two large views)."""
    return (aug[0], aug[1]) if isinstance(aug, (list, tuple)) else (aug, aug)


def _augment(aug, x, chunk=1024):
    return np.concatenate([np.asarray(aug(x[i:i + chunk], training=True)).reshape(len(x[i:i + chunk]), -1)
                           for i in range(0, len(x), chunk)])


def augmented_views(dataset, rounds, seed, rows=None, augment=None, augment_options=None):
    """``rounds`` rounds of two augmented views of every training image, view-major, flattened to float64.

    Row ``r·N + i`` (first half) and row ``(rounds + r)·N + i`` (second half) are the two views of image ``i``
    in round ``r``: the layout of :func:`kspectral.spectral.pair_graph` with ``N·rounds`` pairs. The augmenter is
    seeded with ``seed``, so the same seed gives the same views whatever the global random state. A preset with one
    augmenter per view (``byol``, ``vicreg``, ``multicrop``) draws each view from its own distribution (multi-crop:
    the two large views).
    """
    aug_a, aug_b = _view_pair(dataset_augmenter(dataset, augment, augment_options, seed=seed))
    x = dataset.x_train if rows is None else dataset.x_train[rows]
    first, second = [], []
    for _ in range(rounds):
        first.append(_augment(aug_a, x))
        second.append(_augment(aug_b, x))
    return np.concatenate(first + second).astype(np.float64)


def build_problem(dataset, spec, *, transductive=False, rounds=4, seed=0, max_samples=None, augment=None,
                  augment_options=None):
    """The features and positive-pair graph named by ``spec`` on ``dataset``.

    Args:
        dataset: a :class:`kspectral.data.ImageDataset`.
        spec: ``"knn:K"`` (kNN graph on pixels), ``"labels"`` (same-label pairs of the training images),
            ``"pairs"`` (``rounds`` rounds of two augmented views of each training image, linked in pairs: the
            pairs ``kspectral train`` trains on) or ``"augment"`` (images linked when their augmented views are
            neighbours, :func:`kspectral.spectral.augmentation_graph`).
        transductive: build the graph over the training and the test images together (``knn`` and ``augment``
            only; the test labels are never used).
        rounds: augmentation rounds (``pairs``) or draws (``augment``).
        max_samples: for ``pairs``, at most this many training images (a seeded random subset) enter the graph.
        augment, augment_options: the augmentation preset and its options (default: the dataset's preset).
        seed: the run's seed; the augmentations here are seeded with ``seed + 1`` (the training pipeline's with
            ``seed``), so ``kspectral spectral --seed S`` rebuilds the baseline graph of a run with ``--seed S``.

    Returns:
        :class:`GraphProblem`.
    """
    from kspectral.spectral import augmentation_graph, knn_graph, label_graph, pair_graph, parse_graph_spec

    check_graph_spec(spec)
    if transductive and spec in ("labels", "pairs"):
        raise ValueError(f"graph {spec!r} cannot reach the test images (it needs their labels or views); "
                         "use --regime linear")
    where = "training and test" if transductive else "training"
    X = dataset.flat("train")
    if transductive:
        X = np.concatenate([X, dataset.flat("test")])
    X = X.astype(np.float64)
    if spec == "labels":
        return GraphProblem(X, label_graph(dataset.y_train), "label graph of the training labels", spec)
    if spec == "pairs":
        n = len(dataset.x_train)
        rows = None
        if max_samples is not None and n > max_samples:
            rows = np.sort(np.random.default_rng(seed).choice(n, max_samples, replace=False))
            n = max_samples
        views = augmented_views(dataset, rounds, seed + 1, rows=rows, augment=augment, augment_options=augment_options)
        description = f"pair graph of {rounds}×{n} augmented pairs"
        return GraphProblem(views, pair_graph(n * rounds), description, spec)
    if spec == "augment":
        aug = _view_pair(dataset_augmenter(dataset, augment, augment_options, seed=seed + 1))[0]
        shape = dataset.image_shape

        def draw(batch, rng):  # the augmenter carries its own seeded state; rng is not needed
            return np.asarray(aug(batch.reshape(len(batch), *shape).astype(np.float32), training=True))

        graph = augmentation_graph(X.reshape(len(X), *shape), draw, draws=rounds, k=5, seed=seed)
        return GraphProblem(X, graph, f"augmentation graph of {where} images ({rounds} draws, k=5)", spec,
                            transductive)
    k = parse_graph_spec(spec)[1]
    return GraphProblem(X, knn_graph(X, k), f"kNN graph (k={k}) on {where} pixels", spec, transductive)


def training_pairs(config, dataset, problem, repeat=False, labels=None, start_step=None):
    """The ``tf.data`` pipeline a run trains on.

    - ``augment`` pairs, ``augment_on = "data"``: two fresh augmentations of each pre-training image per epoch;
    - ``augment`` pairs, ``augment_on = "device"``: shuffled batches of raw images, which the model augments in its
      train step (:func:`device_augmenters`);
    - ``knn`` / ``labels`` pairs: edges of ``problem.graph`` (the graph the baseline is computed on).

    ``labels`` (class indices of the training images) ride along as a third element, for the online probe.
    ``repeat`` makes the pipeline endless, for runs with a fixed ``steps_per_epoch``.

    ``start_step=t0`` gives instead the endless resumable stream from batch ``t0`` on, whose batch ``t`` depends on
    ``(config.seed, t)`` only (:mod:`kspectral.data.pairs`): :func:`kspectral.runs.train` fits on it, so that a run
    resumed at step ``t0`` sees the batches an uninterrupted run would (``repeat`` is then unused).
    """
    from kspectral.data.pairs import augmented_pairs, graph_pairs, image_batches

    stream = {} if start_step is None else {"start_step": start_step}
    if config.pairs == "augment":
        source = dataset.x_train if dataset.pretrain is None else dataset.pretrain  # in memory, or streamed
        if dataset.pretrain is not None:
            labels = None
        if config.augment_on == "device":
            pipeline = image_batches(source, config.batch_size, labels=labels, seed=config.seed, **stream)
        else:
            aug = dataset_augmenter(dataset, config.augment, config.augment_options, seed=config.seed)
            pipeline = augmented_pairs(source, aug, config.batch_size, seed=config.seed, labels=labels, **stream)
    else:
        if config.augment_on == "device":
            raise ValueError(f"augment_on = device applies to augment pairs; {config.pairs} pairs are graph edges, "
                             "not augmentations: drop --augment-on device")
        pipeline = graph_pairs(dataset.x_train, problem.graph, config.batch_size, seed=config.seed, labels=labels,
                               **stream)
    return pipeline.repeat() if repeat and start_step is None else pipeline


def device_augmenters(config, dataset):
    """The augmenters a model draws its views with in the train step (``augment_on = "device"``), else ``None``.

    Seeded with the run's seed; their ``SeedGenerator`` states advance one draw per train step, and
    :func:`kspectral.runs.train` saves them in each checkpoint (``save_weights`` leaves them out), so that a resumed
    run draws the views an uninterrupted one would.
    """
    if config.pairs != "augment" or config.augment_on != "device":
        return None
    return dataset_augmenter(dataset, config.augment, config.augment_options, seed=config.seed)


def canonical_method(method):
    """The canonical method name behind a registered name or alias (TensorFlow is not imported)."""
    from kspectral import catalog

    return catalog.resolve_name(method)[0]


def fit_baseline(method, problem, dim, regime="linear"):
    """Fit ``method``'s closed form on ``problem`` and describe it.

    Args:
        method: method name or alias.
        problem: :class:`GraphProblem`.
        dim: K; in the linear regime at most the number of features.
        regime: ``"linear"`` (``Z = XW``, applies to new data) or ``"nonparametric"`` (one row per node).

    Returns:
        ``(estimator, summary)``: the fitted estimator and a JSON-ready dict naming the estimator that ran,
        the status of its correspondence to the loss (theorem / derived / analogy), the regime, the graph, the
        dimension, the rank and the objective value (``None`` where none is known).
    """
    import math

    from kspectral.spectral import baselines

    if regime not in REGIMES:
        raise ValueError(f"unknown regime {regime!r}; choose one of: {', '.join(REGIMES)}")
    name = canonical_method(method)
    if regime == "linear":
        if problem.transductive:
            raise ValueError("the linear regime is fitted on training rows only; build the problem without "
                             "transductive=True")
        features = problem.X
    else:
        features = None
    estimator = baselines.spectral_baseline(name, problem.graph, dim, features=features)
    objective = float(getattr(estimator, "objective_", float("nan")))
    summary = {
        "estimator": type(estimator).__name__,
        "status": baselines.status(name, regime, problem.graph, dim=dim),
        "regime": regime,
        "graph": problem.description,
        "dim": int(dim),
        "rank": int(getattr(estimator, "rank_", dim)),
        "objective": objective if math.isfinite(objective) else None,
    }
    return estimator, summary
