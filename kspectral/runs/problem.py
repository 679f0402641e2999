"""Dataset → positive-pair graph → training pairs and the closed-form baseline problem.

One builder, :func:`build_problem`, makes every graph that ``kspectral train``, its spectral baseline and
``kspectral spectral`` use, so that the baseline is computed on the very graph the training pairs are drawn
from (``knn`` and ``labels`` pairs), or on the pair graph of augmented views of the training images (``augment``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from kspectral.catalog import GRAPHS, REGIMES  # noqa: F401  (re-exported: runs.GRAPHS)
from kspectral.errors import InputError



@dataclass
class GraphProblem:
    """A positive-pair graph over the rows of a feature matrix.

    Attributes:
        X: ``(N, D)`` float64 features, one row per node of ``graph`` (flattened images or augmented views).
        graph: ``(N, N)`` symmetric scipy sparse graph of positive pairs.
        description: what the graph is, for run summaries (e.g. ``"kNN graph (k=10) on training pixels"``).
        spec: the graph specification it was built from (``"knn:10"``, ``"labels"``, ``"pairs"``, ``"augment"``).
        transductive: whether the rows are the training and the test images together.
        index: for a pair graph of views (:func:`augmented_views`), the ``(M,)`` training image of each pair;
            ``None`` otherwise.
    """

    X: np.ndarray
    graph: object
    description: str
    spec: str
    transductive: bool = False
    index: np.ndarray | None = None


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
            raise InputError(f"graph {spec!r}: knn:K needs an integer K ≥ 1 (the neighbours per node), e.g. "
                             "knn:10") from None
        raise InputError(f"unknown graph {spec!r}; choose one of: {', '.join(GRAPHS)}") from None
    if not str(spec).startswith("knn:"):
        raise InputError(f"unknown graph {spec!r}; choose one of: {', '.join(GRAPHS)}")
    return spec


#: images augmented together when the closed form draws its views (a "batch" of the seeding convention)
VIEW_BATCH = 256


def dataset_augmenter(dataset, preset=None, options=None, seed=None):
    """The augmenter of ``dataset``'s images: a preset by name (default: the dataset's own), or a given augmenter.

    A preset is set up for the images (:func:`kspectral.data.augmenter_for`: their channels and size) and seeded
    with ``seed`` (``None`` draws fresh randomness); a Keras layer or a sequence of them is returned as it is.
    """
    from kspectral.data import augmenter_for
    from kspectral.data.views import view_augmenters

    if preset is not None and not isinstance(preset, str):
        if options:
            raise InputError("augment_options go with a preset name; set the options of your own augmenter when "
                             "you build it")
        view_augmenters(preset)  # checks it
        return preset
    name = preset or dataset.default_augment
    try:
        return augmenter_for(dataset.image_shape, name, options, seed=seed)
    except ValueError as exc:  # no preset applies to the samples: say which dataset holds them
        if len(dataset.image_shape) != 3 or dataset.default_augment is None:
            raise InputError(f"{dataset.name}: {exc}") from None
        raise


def _flat_view(view, size=None):
    """One view of a batch flattened to float64 ``(B, D)``; an image view of another ``size`` ``(H, W)`` (multi-crop's
    small crops) is first resized to it (bilinear), so that every view is a point of the same input space."""
    if size is not None and len(view.shape) == 4 and tuple(view.shape[1:3]) != size:
        import tensorflow as tf

        view = tf.image.resize(view, size, method="bilinear")
    return np.asarray(view, dtype=np.float64).reshape(view.shape[0], -1)


def augmented_views(x, augmenter, rounds=1, seed=0, *, batch_size=VIEW_BATCH, shuffle=False, drop_remainder=False,
                    augment_options=None):
    """The augmented views an augmenter and a seed give, and their pair graph: the closed form's input.

    Views are drawn as :func:`kspectral.data.augmented_pairs` draws the batches of its resumable stream (the stream
    ``kspectral train`` fits on): round ``r`` goes over the images in batches of ``batch_size``; before batch ``t``
    (counted over all rounds) is augmented, the state of every ``SeedGenerator`` of the augmenters is set to
    ``(its seed, 64·t)`` (:func:`kspectral.data.seeding.reseed`), then the views are drawn in order (view a, view b, ...). So, for the same augmenter (or preset and ``seed``),
    the views are exactly those of ``augmented_pairs(x, augmenter, batch_size, seed=seed, shuffle=shuffle,
    drop_remainder=drop_remainder, start_step=0)``, batch for batch:

    - ``shuffle=False, drop_remainder=False`` (the default, the closed form's baseline of ``kspectral train``):
      every image in every round, in order; the views of batch ``t`` equal the stream's batch ``t`` with
      ``shuffle=False, drop_remainder=False``, and the first ``N // batch_size`` batches (all of them when
      ``batch_size`` divides ``N``) equal those of the unshuffled stream with ``drop_remainder=True``;
    - ``shuffle=True, drop_remainder=True`` with a run's ``batch_size`` and ``seed``: the pairs of the first
      ``rounds`` epochs of a ``kspectral train --augment-on data`` run with one pass per epoch (round ``r``'s order is
      the stream's stateless shuffle seeded ``(seed, r)``; the last ``N mod batch_size`` images of each round are
      left out, as in training).

    Args:
        x: images ``(N, H, W, C)`` in ``[0, 1]``, or an :class:`~kspectral.data.ImageDataset` (its ``x_train``).
        augmenter: a Keras layer/model (both views), a sequence of them (one per view: every view enters the graph,
            multi-crop's small crops resized to the first view's size, bilinear), or a
            preset name (:data:`kspectral.data.AUGMENTERS`) set up for the images and seeded with ``seed``. A given
            augmenter keeps its own seeds (build it with ``seed=``); its seed states are left at the last batch's.
        rounds: passes over the images (≥ 1).
        seed: the shuffle seed (as ``augmented_pairs``' ``seed``) and a preset's seed (as ``kspectral train
            --seed``, which seeds both).
        batch_size: images per batch (the run's ``batch_size`` to reproduce its pairs).
        shuffle, drop_remainder: as in ``augmented_pairs`` (see above).
        augment_options: a preset's options (e.g. ``{"strength": 0.5}``).

    Returns:
        :class:`GraphProblem` with ``X`` the ``(V·M, D)`` float64 flattened views of ``M`` images, view-major (rows
        ``m``, ``M + m``, …, ``(V − 1)M + m`` are the ``V`` views of image ``m``, in the stream's order; ``V = 2``
        for a pair), ``graph`` the pair graph :func:`kspectral.spectral.pair_graph` ``(M, views=V)`` (every two
        views of an image linked), and ``index`` the ``(M,)`` image index of each row block.

    Example:
        The closed form of the pairs a model trains on: views of the first 3 epochs of ``kspectral train --augment
        cifar --batch-size 64 --seed 0`` on your own images, and VICReg's linear-regime closed form on them:

        >>> import numpy as np
        >>> from kspectral.runs.problem import augmented_views, fit_baseline
        >>> images = np.random.default_rng(0).random((200, 16, 16, 3), dtype=np.float32)
        >>> problem = augmented_views(images, "cifar", rounds=3, seed=0, batch_size=64, shuffle=True,
        ...                           drop_remainder=True)
        >>> problem.X.shape, problem.graph.shape, problem.index[:3]
        ((1152, 768), (1152, 1152), array([ 30, 143, 130]))
        >>> baseline, summary = fit_baseline("vicreg", problem, dim=8)
        >>> baseline.transform(images.reshape(200, -1)).shape
        (200, 8)
    """
    import math

    import tensorflow as tf

    from kspectral._validation import check_positive_int
    from kspectral.data.datasets import ImageDataset, augmenter_for
    from kspectral.data.seeding import reseed, seed_states
    from kspectral.data.views import view_augmenters
    from kspectral.spectral import pair_graph

    images = x.x_train if isinstance(x, ImageDataset) else x
    images = np.asarray(images, dtype=np.float32)
    if images.ndim < 2 or len(images) == 0:
        raise InputError(f"x must be a non-empty batch of images (N, H, W, C), got shape {images.shape}")
    rounds = check_positive_int(rounds, "rounds")
    batch_size = check_positive_int(batch_size, "batch_size")
    n = len(images)
    if isinstance(augmenter, str):
        augmenter = augmenter_for(images.shape[1:], augmenter, augment_options, seed=seed)
    elif augment_options:
        raise InputError("augment_options go with a preset name; set the options of your own augmenter when you "
                         "build it")
    augmenters = view_augmenters(augmenter)
    per_pass = n // batch_size if drop_remainder else math.ceil(n / batch_size)
    if per_pass == 0:
        raise InputError(f"batch_size={batch_size} with drop_remainder=True leaves none of the {n} images; use at "
                         f"most {n}")
    states = seed_states(list(augmenters))
    drawn, index = [[] for _ in augmenters], []
    for r in range(rounds):
        order = np.arange(n)
        if shuffle:  # the order of pass r of augmented_pairs' stream
            order = tf.random.experimental.stateless_shuffle(tf.range(n, dtype=tf.int64),
                                                             seed=tf.constant([seed, r], tf.int64)).numpy()
        for b in range(per_pass):
            t = r * per_pass + b
            reseed(states, t)
            rows = order[b * batch_size:(b + 1) * batch_size]
            batch = tf.constant(images[rows])
            views = [aug(batch, training=True) for aug in augmenters]
            size = tuple(views[0].shape[1:3]) if len(views[0].shape) == 4 else None
            for k, view in enumerate(views):
                drawn[k].append(_flat_view(view, size))
            index.append(rows)
    index = np.concatenate(index).astype(np.int64)
    widths = {d[0].shape[1] for d in drawn}
    if len(widths) > 1:
        raise InputError(f"the views have different sizes ({', '.join(str(d[0].shape[1]) for d in drawn)} values); "
                         "give augmenters with the same output size")
    X = np.concatenate([np.concatenate(d) for d in drawn])
    what = f"{rounds}×{n}" if not drop_remainder else f"{len(index)}"
    views = len(augmenters)
    kind = "pairs" if views == 2 else f"{views}-view tuples"
    return GraphProblem(X, pair_graph(len(index), views=views), f"pair graph of {what} augmented {kind}", "pairs",
                        index=index)


def build_problem(dataset, spec, *, transductive=False, rounds=4, seed=0, max_samples=None, augment=None,
                  augment_options=None, batch_size=VIEW_BATCH):
    """The features and positive-pair graph named by ``spec`` on ``dataset``.

    Args:
        dataset: a :class:`kspectral.data.ImageDataset`.
        spec: ``"knn:K"`` (kNN graph on pixels), ``"labels"`` (same-label pairs of the training images),
            ``"pairs"`` (``rounds`` rounds of two augmented views of each training image, linked in pairs: the
            pairs ``kspectral train`` trains on, drawn by :func:`augmented_views`) or ``"augment"`` (images linked
            when their augmented views are neighbours, :func:`kspectral.spectral.augmentation_graph`).
        transductive: build the graph over the training and the test images together (``knn`` and ``augment``
            only; the test labels are never used).
        rounds: augmentation rounds (``pairs``) or draws (``augment``).
        max_samples: for ``pairs``, at most this many training images (a seeded random subset) enter the graph.
        augment: the augmentation: a preset name (default: the dataset's), a Keras layer or a sequence of them.
        augment_options: the preset's options.
        seed: the run's seed: it seeds a preset as ``kspectral train --seed`` seeds the training augmenter, so
            ``pairs`` views follow the training stream's convention (:func:`augmented_views` with
            ``shuffle=False``: batch ``t`` of the images in order has the views of the stream's batch ``t`` when
            unshuffled), and ``kspectral spectral --seed S`` rebuilds the baseline graph of a run with ``--seed S``.
        batch_size: images augmented together for ``pairs`` (the batches of the seeding convention).

    Returns:
        :class:`GraphProblem`.
    """
    from kspectral.spectral import augmentation_graph, knn_graph, label_graph, parse_graph_spec

    check_graph_spec(spec)
    if transductive and spec in ("labels", "pairs"):
        raise InputError(f"graph {spec!r} cannot reach the test images (it needs their labels or views); "
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
        images = dataset.x_train if rows is None else dataset.x_train[rows]
        aug = dataset_augmenter(dataset, augment, augment_options, seed=seed)
        problem = augmented_views(images, aug, rounds, seed, batch_size=batch_size)
        if rows is not None:
            problem.index = rows[problem.index]
        return problem
    if spec == "augment":
        from kspectral.data.views import view_augmenters

        aug = view_augmenters(dataset_augmenter(dataset, augment, augment_options, seed=seed))[0]
        images = X.reshape(len(X), *dataset.image_shape).astype(np.float32)
        graph = augmentation_graph(images, aug, draws=rounds, k=5, seed=seed, batch_size=batch_size)
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
            raise InputError(f"augment_on = device applies to augment pairs; {config.pairs} pairs are graph edges, "
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


def fit_baseline(method, problem, dim, regime="linear", **options):
    """Fit ``method``'s closed form on ``problem`` and describe it, with the warnings of a degenerate result.

    Args:
        method: method name or alias.
        problem: :class:`GraphProblem`.
        dim: K; in the linear regime at most the number of features.
        regime: ``"linear"`` (``Z = XW``, applies to new data) or ``"nonparametric"`` (one row per node).
        **options: hyperparameters of the estimator that runs (e.g. ``ridge=1e-3`` for
            :class:`~kspectral.spectral.LinearVICReg`), as :func:`kspectral.spectral.baselines.spectral_baseline`.

    Returns:
        ``(estimator, summary)``: the fitted estimator and a JSON-ready dict naming the estimator that ran,
        the status of its correspondence to the loss (theorem / derived / analogy), the regime, the graph, the
        dimension, the rank, the objective value (``None`` where none is known), the ``options`` given (when any)
        and ``warnings``: ``[{"code", "message"}]`` of :func:`kspectral.runs.honesty.baseline_warnings` (rank below
        ``dim``, fewer samples than features, a disconnected kNN graph).

    Raises:
        ValueError: an unknown regime, a transductive problem in the linear regime, or a graph with no edges.

    Example:
        >>> import numpy as np
        >>> from kspectral.spectral import knn_graph
        >>> X = np.random.default_rng(0).normal(size=(200, 8))
        >>> _, summary = fit_baseline("vicreg", GraphProblem(X, knn_graph(X, 10), "kNN graph", "knn:10"), dim=4)
        >>> summary["estimator"], summary["rank"], summary["warnings"]
        ('LinearVICReg', 4, [])
    """
    import math

    from kspectral.runs.honesty import baseline_warnings, empty_graph_warning
    from kspectral.spectral import baselines

    if regime not in REGIMES:
        raise InputError(f"unknown regime {regime!r}; choose one of: {', '.join(REGIMES)}")
    name = canonical_method(method)
    if regime == "linear":
        if problem.transductive:
            raise InputError("the linear regime is fitted on training rows only; build the problem without "
                             "transductive=True")
        features = problem.X
    else:
        features = None
    if (empty := empty_graph_warning(problem.graph, f"the {problem.description}", problem.spec)) is not None:
        raise InputError(empty["message"])
    estimator = baselines.spectral_baseline(name, problem.graph, dim, features=features, **options)
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
    if options:
        summary["options"] = dict(options)
    summary["warnings"] = baseline_warnings(summary, problem, dim, regime, method=name, options=options)
    return estimator, summary
