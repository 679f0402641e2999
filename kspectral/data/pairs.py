"""Training batches as ``tf.data`` pipelines: each yields the batches that an SSL model's ``fit()`` consumes.

- :func:`augmented_pairs`: two independent augmentations of each sample (the pair graph of augmented views), or
  one view per augmenter (asymmetric pairs, multi-crop); augmented on the CPU inside ``tf.data``.
- :func:`graph_pairs`: pairs ``(x_i, x_j)`` drawn from the edges of a graph ``G`` with probability ``∝ G_ij``
  (kNN, label or any user graph from :mod:`kspectral.spectral`).
- :func:`image_batches`: shuffled batches of raw images, for a model that draws its views itself on the accelerator
  (``SSLModel(..., augmenters=...)``, the ``augment_on = "device"`` setting).

Labels ride along for the online linear probe (``SSLModel(..., online_probe_classes=C)``): given ``labels``, each
pipeline also yields the batch's class indices ``y`` as the last element, with ``−1`` marking unlabelled samples
(e.g. STL-10's ``unlabelled`` split), which the probe skips.

Resumable streams (``start_step=t0``): each pipeline can instead be one endless stream whose batch ``t`` is a pure
function of ``(seed, t)``, starting at batch ``t0``. This is what ``kspectral train`` fits on, so that a run killed
at step ``t0`` and resumed sees exactly the batches an uninterrupted run would:

- the samples of pass ``e`` (``⌊t / batches_per_pass⌋``) are ordered by a stateless shuffle seeded with
  ``(seed, e)`` (``tf.random.experimental.stateless_shuffle``); batch ``t`` is the ``t mod batches_per_pass``-th
  batch of that order. Only index batches are skipped to reach ``t0``, so starting mid-pass costs nothing;
- graph pairs of batch ``t`` are drawn with ``tf.random.stateless_uniform`` seeded with ``(seed, t)``;
- before the augmenters draw batch ``t``, the state of each of their ``keras.random.SeedGenerator`` s is set to
  ``(its seed, 64·t)`` by :func:`kspectral.data.seeding.reseed` (batches are augmented one after the other), so the
  views of batch ``t`` do not depend on what was drawn before. The seeds repeat after 2³¹/64 ≈ 33 million steps;
- a streamed ``tf.data.Dataset`` ``x`` cannot be indexed: its order is replayed (a seeded shuffle buffer, repeated)
  and the first ``t0`` batches are skipped before any augmentation; the stream itself must read in a fixed order.
"""

from __future__ import annotations

import math

import numpy as np
import tensorflow as tf

from kspectral._validation import check_labels, check_positive_int
# SEED_STRIDE and seed_states live in kspectral.data.seeding (the seeding rule); re-exported here, where they were.
from kspectral.data.seeding import SEED_STRIDE, reseed, seed_states  # noqa: F401
from kspectral.data.views import view_augmenters
from kspectral.errors import InputError, InputTypeError
from kspectral.spectral.graphs import validate_graph


#: default shuffle buffer of a streamed ``tf.data.Dataset`` (samples held in the buffer)
SHUFFLE_BUFFER = 10_000
#: the last step index of an endless stream
_ENDLESS = 2**62


def _check_start(start_step):
    if start_step is None:
        return None
    if isinstance(start_step, bool) or not isinstance(start_step, (int, np.integer)) or start_step < 0:
        raise InputError(f"start_step must be None or an integer ≥ 0 (the first batch of the stream), got {start_step!r}")
    return int(start_step)


def _indexed_batches(n, batch_size, seed, drop_remainder, shuffle, start_step):
    """``(t, indices)`` from batch ``start_step`` on: pass ``e`` orders the samples by a shuffle seeded ``(seed, e)``."""
    per_pass = n // batch_size if drop_remainder else math.ceil(n / batch_size)
    first_pass, offset = divmod(start_step, per_pass)

    def one_pass(e):
        order = tf.range(n, dtype=tf.int64)
        if shuffle:
            order = tf.random.experimental.stateless_shuffle(order, seed=tf.stack([tf.constant(seed, tf.int64), e]))
        indices = tf.data.Dataset.from_tensor_slices(order).batch(batch_size, drop_remainder=drop_remainder)
        return tf.data.Dataset.zip((tf.data.Dataset.range(e * per_pass, (e + 1) * per_pass), indices))

    return tf.data.Dataset.range(first_pass, _ENDLESS).flat_map(one_pass).skip(offset)


def _as_samples(x, name="x"):
    x = np.asarray(x)
    if x.ndim < 2:
        raise InputError(f"{name} must be a batch of samples of shape (N, ...), got shape {x.shape}")
    if x.shape[0] == 0:
        raise InputError(f"{name} is empty: no samples to make pairs from")
    if x.dtype.kind == "f" and not np.all(np.isfinite(x)):
        raise InputError(f"{name} contains NaN or infinite values")
    return x.astype(np.float32) if x.dtype != np.float32 else x


def _as_labels(labels, n, name="labels"):
    """``labels`` as int64 class indices ``≥ −1`` (−1 = unlabelled), one per sample, or ``None``."""
    if labels is None:
        return None
    y = check_labels(labels, name, n=n)
    if y.dtype.kind == "f":
        if not np.all(y == np.round(y)):
            raise InputError(f"{name} must be integer class indices, got non-integer values")
    elif y.dtype.kind not in "iu":
        raise TypeError(
            f"{name} must be integer class indices (−1 for unlabelled samples), got dtype {y.dtype}; map class "
            "names to indices first, e.g. np.unique(labels, return_inverse=True)[1]"
        )
    y = y.astype(np.int64)
    if y.min() < -1:
        raise InputError(f"{name} must be class indices ≥ 0, or −1 for unlabelled samples; got {int(y.min())}")
    return y


def _check_batch(batch_size, n):
    batch_size = check_positive_int(batch_size, "batch_size", minimum=2)
    if n is not None and batch_size > n:
        raise InputError(f"batch_size={batch_size} is larger than the {n} training samples; use at most {n}")
    return batch_size


def _check_remainder(n, batch_size, drop_remainder):
    if not drop_remainder and n is not None and n % batch_size == 1:
        raise InputError(
            f"{n} samples in batches of {batch_size} leave a last batch of one sample, whose batch "
            "statistics are undefined; use drop_remainder=True or another batch_size"
        )


def _stream_spec(ds, name="x"):
    """Check a streamed dataset of unbatched samples or ``(sample, label)`` pairs; return whether it has labels."""
    spec = ds.element_spec
    if isinstance(spec, tf.TensorSpec):
        return False
    if isinstance(spec, tuple) and len(spec) == 2 and all(isinstance(s, tf.TensorSpec) for s in spec):
        if spec[1].shape.rank != 0 or not spec[1].dtype.is_integer:
            raise InputError(
                f"{name} must yield unbatched samples or (sample, label) pairs with a scalar integer label, got "
                f"labels of shape {spec[1].shape} and dtype {spec[1].dtype.name}"
            )
        return True
    raise InputError(
        f"{name} must be a tf.data.Dataset of unbatched samples or of (sample, label) pairs, got elements {spec}"
    )


def _samples_dataset(x, labels, batch_size, shuffle, seed, shuffle_buffer, drop_remainder, name="x",
                     start_step=None):
    """Shuffled batches of ``x`` (array or unbatched ``tf.data.Dataset``), as ``images`` or ``(images, labels)``.

    Returns the batched dataset and whether it carries labels. With ``start_step``, the dataset is the endless stream
    of ``(t, images)`` or ``(t, images, labels)`` from batch ``start_step`` on (see the module's docstring).
    """
    if isinstance(x, tf.data.Dataset):
        if labels is not None:
            raise InputError(
                f"labels= goes with an array {name}; a tf.data.Dataset brings its own labels as (image, label) pairs"
            )
        has_labels = _stream_spec(x, name)
        count = int(x.cardinality())
        if count == tf.data.INFINITE_CARDINALITY:
            raise InputError(f"{name} is an infinite dataset; pass a finite one (fit() repeats it every epoch)")
        n = count if count >= 0 else None
        if n == 0:
            raise InputError(f"{name} is empty: no samples to make pairs from")
        batch_size = _check_batch(batch_size, n)
        _check_remainder(n, batch_size, drop_remainder)
        image_dtype = (x.element_spec[0] if has_labels else x.element_spec).dtype
        ds = x
        if image_dtype != tf.float32:
            # Cast only: the augmenters expect values in [0, 1], which is the caller's to ensure.
            ds = ds.map((lambda im, y: (tf.cast(im, tf.float32), tf.cast(y, tf.int64))) if has_labels
                        else (lambda im: tf.cast(im, tf.float32)))
        elif has_labels:
            ds = ds.map(lambda im, y: (im, tf.cast(y, tf.int64)))
        if shuffle:
            buffer = SHUFFLE_BUFFER if shuffle_buffer is None else check_positive_int(shuffle_buffer, "shuffle_buffer")
            if n is not None:
                buffer = min(buffer, n)
            ds = ds.shuffle(buffer, seed=seed, reshuffle_each_iteration=True)
        ds = ds.batch(batch_size, drop_remainder=drop_remainder)
        if start_step is not None:  # replay the seeded order, skipping whole batches before any augmentation
            ds = ds.repeat().skip(start_step)
            ds = tf.data.Dataset.zip((tf.data.Dataset.range(start_step, _ENDLESS), ds))

            def flat(t, batch):
                return (t, *batch) if has_labels else (t, batch)

            ds = ds.map(flat)
        return ds, has_labels
    x = _as_samples(x, name)
    y = _as_labels(labels, x.shape[0])
    batch_size = _check_batch(batch_size, x.shape[0])
    _check_remainder(x.shape[0], batch_size, drop_remainder)
    if start_step is not None:
        samples = tf.constant(x)
        node_labels = None if y is None else tf.constant(y, tf.int64)

        def gather(t, i):
            return (t, tf.gather(samples, i)) if y is None else (t, tf.gather(samples, i), tf.gather(node_labels, i))

        indexed = _indexed_batches(x.shape[0], batch_size, seed, drop_remainder, shuffle, start_step)
        return indexed.map(gather), y is not None
    ds = tf.data.Dataset.from_tensor_slices(x if y is None else (x, y))
    if shuffle:
        ds = ds.shuffle(x.shape[0], seed=seed, reshuffle_each_iteration=True)
    return ds.batch(batch_size, drop_remainder=drop_remainder), y is not None


def _view_augmenters(augmenter):
    """One augmenter per view (:func:`kspectral.data.views.view_augmenters`); a preset name is refused here."""
    if isinstance(augmenter, (str, bytes)):
        raise InputTypeError(
            f"augmenter must be a callable Keras layer/model or a sequence of them (one per view), got the name "
            f"{augmenter!r}; build it with kspectral.data.augmenter_for(x.shape[1:], {augmenter!r}, seed=...)"
        )
    return view_augmenters(augmenter)


def augmented_pairs(x, augmenter, batch_size=256, *, shuffle=True, seed=0, drop_remainder=True,
                    deterministic=True, labels=None, shuffle_buffer=None, start_step=None):
    """Batches of augmented views of the same samples: two views, or one per augmenter.

    Each pass reshuffles the samples and draws new augmentations, so every epoch sees new pairs.

    Keras' random layers draw from a stateful seed generator: mapped in parallel, the batches would race for
    it and a seed would not reproduce a run. With ``deterministic=True`` (the default) batches are augmented one
    after the other (the augmentation is vectorised over the batch and prefetched, so this rarely limits
    training); ``deterministic=False`` maps in parallel for throughput, at the cost of reproducibility.
    Augmenters built with a seed (e.g. ``augmenter("cifar", seed=0)``), iterated with the same ``seed`` here, give
    the same views; each iteration of the dataset advances their random state and draws new views.

    Args:
        x: samples, shape ``(N, ...)``; or a ``tf.data.Dataset`` of unbatched samples or of ``(sample, label)``
            pairs (a streamed dataset, e.g. ``ImageDataset.pretrain_images()``), shuffled through a buffer of
            ``shuffle_buffer`` samples. Images are float in ``[0, 1]`` (other dtypes are cast, not rescaled).
        augmenter: a callable Keras layer/model applied as ``augmenter(batch, training=True)`` to make both views,
            or a sequence of ``V ≥ 2`` of them, one per view (e.g. the pair from ``augmenter("byol", ...)`` or the
            list from :func:`kspectral.data.multicrop`).
        batch_size: samples per batch (``2 ≤ batch_size ≤ N``).
        shuffle: reshuffle the samples every pass.
        seed: shuffling seed (the augmentations follow the augmenters' seeds, or ``keras.utils.set_random_seed``).
        drop_remainder: drop the last incomplete batch (batch statistics need full batches).
        deterministic: augment batches sequentially, so that a seed reproduces the views.
        labels: optional integer class indices ``(N,)`` of an array ``x``, ``−1`` for unlabelled samples; they are
            then yielded after the views (for the online probe). A dataset ``x`` of ``(sample, label)`` pairs
            yields its labels without this argument.
        shuffle_buffer: shuffle buffer of a dataset ``x`` (default ``min(N, SHUFFLE_BUFFER)``, 10 000).
        start_step: ``None`` (a finite dataset, one pass per iteration, as above), or ``t0 ≥ 0``: the endless
            resumable stream from batch ``t0`` on, whose batch ``t`` (samples and views) depends on ``(seed, t)``
            and the augmenters' seeds only, whatever was drawn before (see the module's docstring). Fit it with
            ``steps_per_epoch``; batches are then always augmented one after the other.

    Returns:
        ``tf.data.Dataset`` of ``(view_a, view_b)`` (or a ``V``-tuple of views), each of shape
        ``(batch_size, ...)`` as its augmenter makes it; with labels, ``(view_a, view_b, y)`` with ``y`` int64 of
        shape ``(batch_size,)``.

    Example:
        >>> from kspectral.data import digits, digits_augmenter
        >>> ds = digits()
        >>> pairs = augmented_pairs(ds.x_train, digits_augmenter(), batch_size=32, labels=ds.y_train)
        >>> a, b, y = next(iter(pairs))
        >>> tuple(a.shape), tuple(b.shape), tuple(y.shape)
        ((32, 8, 8, 1), (32, 8, 8, 1), (32,))
    """
    augmenters = _view_augmenters(augmenter)
    start_step = _check_start(start_step)
    ds, has_labels = _samples_dataset(x, labels, batch_size, shuffle, seed, shuffle_buffer, drop_remainder,
                                      start_step=start_step)
    if start_step is not None:
        states = seed_states(list(augmenters))

        def stream_views(t, batch, *y):
            with tf.control_dependencies(reseed(states, t)):
                return (*(aug(batch, training=True) for aug in augmenters), *y)

        return ds.map(stream_views).prefetch(tf.data.AUTOTUNE)

    if has_labels:
        def views(batch, y):
            return (*(aug(batch, training=True) for aug in augmenters), y)
    else:
        def views(batch):
            return tuple(aug(batch, training=True) for aug in augmenters)

    parallel = None if deterministic else tf.data.AUTOTUNE
    return ds.map(views, num_parallel_calls=parallel).prefetch(tf.data.AUTOTUNE)


def image_batches(x, batch_size=256, *, labels=None, shuffle=True, seed=0, drop_remainder=True,
                  shuffle_buffer=None, start_step=None):
    """Shuffled batches of raw (un-augmented) images, for a model that augments them on the accelerator.

    The ``augment_on = "device"`` pipeline: an :class:`~kspectral.methods.SSLModel` built with ``augmenters=...``
    draws its two views inside the train step, so the input pipeline only shuffles and batches. Each pass
    reshuffles the samples (``seed`` reproduces the order).

    Args:
        x: samples, shape ``(N, ...)``, or a ``tf.data.Dataset`` of unbatched samples or ``(sample, label)``
            pairs (shuffled through a buffer of ``shuffle_buffer`` samples).
        batch_size: samples per batch (``2 ≤ batch_size ≤ N``).
        labels: optional integer class indices ``(N,)`` of an array ``x``, ``−1`` for unlabelled samples.
        shuffle: reshuffle the samples every pass.
        seed: shuffling seed.
        drop_remainder: drop the last incomplete batch (batch statistics need full batches).
        shuffle_buffer: shuffle buffer of a dataset ``x`` (default ``min(N, SHUFFLE_BUFFER)``).
        start_step: ``None`` (a finite dataset, one pass per iteration), or ``t0 ≥ 0``: the endless resumable stream
            from batch ``t0`` on, whose batch ``t`` depends on ``(seed, t)`` only (the module's docstring). The
            model's augmenters keep their own state: ``kspectral train`` checkpoints it.

    Returns:
        ``tf.data.Dataset`` of float32 image batches ``(batch_size, ...)``, or of ``(images, y)`` with labels.

    Example:
        >>> from kspectral.data import digits
        >>> ds = digits()
        >>> x, y = next(iter(image_batches(ds.x_train, 64, labels=ds.y_train)))
        >>> tuple(x.shape), tuple(y.shape)
        ((64, 8, 8, 1), (64,))
    """
    start_step = _check_start(start_step)
    ds, has_labels = _samples_dataset(x, labels, batch_size, shuffle, seed, shuffle_buffer, drop_remainder,
                                      start_step=start_step)
    if start_step is not None:

        def drop_step(t, images, *y):
            return (images, *y) if has_labels else images

        ds = ds.map(drop_step)
    return ds.prefetch(tf.data.AUTOTUNE)


def graph_pairs(x, graph, batch_size=256, *, steps_per_epoch=None, seed=0, augmenter=None, labels=None,
                start_step=None):
    """Batches of pairs ``(x_i, x_j)`` sampled from the edges of a positive-pair graph.

    Ordered pairs are drawn with probability ``G_ij / Σ G`` (both orientations of each edge), so a node is
    picked in proportion to its degree. Each pass draws new pairs.

    Args:
        x: samples, shape ``(N, ...)``; node ``i`` of the graph is ``x[i]``.
        graph: positive-pair graph, shape ``(N, N)`` (see :mod:`kspectral.spectral.graphs`).
        batch_size: pairs per batch.
        steps_per_epoch: batches per pass; default ``ceil(N / batch_size)``.
        seed: sampling seed.
        augmenter: optional Keras augmentation applied to both views.
        labels: optional integer class indices ``(N,)``, ``−1`` for unlabelled nodes; each batch then also yields
            the labels of the first view's nodes ``y = labels[i]``.
        start_step: ``None`` (``steps_per_epoch`` batches per iteration, new pairs each iteration), or ``t0 ≥ 0``:
            the endless resumable stream from batch ``t0`` on, whose batch ``t`` is drawn with
            ``tf.random.stateless_uniform`` seeded ``(seed, t)`` (the augmenter re-seeded likewise), so it depends on
            ``(seed, t)`` only; ``steps_per_epoch`` is then unused.

    Returns:
        ``tf.data.Dataset`` of ``(view_a, view_b)``, each of shape ``(batch_size, ...)``; with labels,
        ``(view_a, view_b, y)``.
    """
    x = _as_samples(x)
    n = x.shape[0]
    y = _as_labels(labels, n)
    start_step = _check_start(start_step)
    G = validate_graph(graph, n=n, name="graph").tocoo()
    batch_size = check_positive_int(batch_size, "batch_size", minimum=2)
    if steps_per_epoch is None:
        steps = math.ceil(n / batch_size)
    else:
        steps = check_positive_int(steps_per_epoch, "steps_per_epoch")
    cdf = np.cumsum(G.data, dtype=np.float64)
    cdf /= cdf[-1]
    rows = tf.constant(G.row, dtype=tf.int64)
    cols = tf.constant(G.col, dtype=tf.int64)
    cdf_t = tf.constant(cdf, dtype=tf.float64)
    samples = tf.convert_to_tensor(x)
    node_labels = None if y is None else tf.constant(y, dtype=tf.int64)
    last = len(cdf) - 1

    def draw(r):
        # Dataset.random yields integers uniform on [0, 2³²): map them to uniforms on [0, 1).
        u = tf.cast(tf.math.floormod(r, 2**32), tf.float64) / float(2**32)
        return pick(u)

    def pick(u):
        e = tf.minimum(tf.searchsorted(cdf_t, u, side="right"), last)
        i = tf.gather(rows, e)
        a = tf.gather(samples, i)
        b = tf.gather(samples, tf.gather(cols, e))
        if augmenter is not None:
            a, b = augmenter(a, training=True), augmenter(b, training=True)
        if node_labels is None:
            return a, b
        return a, b, tf.gather(node_labels, i)

    if start_step is not None:
        states = seed_states([augmenter]) if augmenter is not None else []

        def draw_step(t):
            u = tf.random.stateless_uniform([batch_size], seed=tf.stack([tf.constant(seed, tf.int64), t]),
                                            dtype=tf.float64)
            with tf.control_dependencies(reseed(states, t)):
                return pick(u)

        stream = tf.data.Dataset.range(start_step, _ENDLESS)
        return stream.map(draw_step, num_parallel_calls=tf.data.AUTOTUNE if augmenter is None else None).prefetch(tf.data.AUTOTUNE)
    ds = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True).batch(batch_size).take(steps)
    # Pair indices come from Dataset.random, so parallel mapping is reproducible unless an augmenter draws.
    parallel = tf.data.AUTOTUNE if augmenter is None else None
    return ds.map(draw, num_parallel_calls=parallel).prefetch(tf.data.AUTOTUNE)
