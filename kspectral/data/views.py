"""One owner for the augmenter spec: what a spec names, as one augmenter per view.

Every place that augments takes the same three spellings of "the augmentation" and turns them into the views' layers
with :func:`view_augmenters`: a single callable (both views of a pair), a sequence of ``V ≥ 2`` callables (one per
view: BYOL's pair, multi-crop's large views then its small crops), or a preset name of
:data:`kspectral.data.AUGMENTERS`. Its users: :func:`kspectral.data.augmented_pairs`,
:func:`kspectral.runs.problem.augmented_views` (and ``build_problem``), :func:`kspectral.plots.augmentation_grid`,
and :func:`augmentation_graph` here, the data-side entry point of :func:`kspectral.spectral.augmentation_graph`
that also takes a preset name (the spectral package builds no augmenter: it imports neither TensorFlow nor
:mod:`kspectral.data`).
"""

from __future__ import annotations

import inspect

from kspectral.errors import InputError, InputTypeError


def _options(options, what="options"):
    if options is None:
        return {}
    if not isinstance(options, dict):
        raise InputError(f"{what} must be a dict of the preset's options, got {type(options).__name__}")
    return dict(options)


def _preset(name, image_size, channels, seed, options):
    """The augmenter(s) of preset ``name``: ``augmenter(name, image_size=, seed=, channels= if accepted, **options)``."""
    from kspectral.data.augment import AUGMENTERS, augmenter

    if name not in AUGMENTERS:
        raise InputError(f"unknown augmentation preset {name!r}; choose one of: {', '.join(AUGMENTERS)}")
    kwargs = {"image_size": image_size, "seed": seed}
    if channels is not None and "channels" in inspect.signature(AUGMENTERS[name]).parameters:
        kwargs["channels"] = int(channels)
    kwargs.update(options)  # the preset's options win over the images' size, channels and the seed
    return augmenter(name, **kwargs)


def view_augmenters(spec, *, image_size=None, channels=None, seed=None, options=None, name="augmenter"):
    """The augmenter of each view that ``spec`` names: a tuple of ``V ≥ 2`` callables, view ``v`` drawn by the ``v``-th.

    - a callable (a Keras layer or model, or any function of a batch) → ``(spec, spec)``: the same object twice, so
      both views of a pair come from one distribution and one ``SeedGenerator`` stream (view a drawn first);
    - a list or tuple of ``V ≥ 2`` callables → ``tuple(spec)``, in their order (as multi-crop's preset gives them:
      the global views first, then the small crops);
    - a preset name of :data:`kspectral.data.AUGMENTERS` → built with ``kspectral.data.augmenter(spec,
      image_size=image_size, seed=seed, channels=channels, **options)`` (``channels`` only if the preset takes it;
      ``options`` override the others), then expanded as above (``"cifar"`` → ``(aug, aug)``, ``"byol"`` → its
      pair, ``"multicrop"`` → its ``2 + n_small`` views).

    Layers are returned as they are: nothing is built, copied or re-seeded, so the views draw from the given
    layers' own seeds and their states stay shared with the caller (a model's augmenters, a checkpoint).

    Args:
        spec: a callable, a list/tuple of ``≥ 2`` callables, or a preset name.
        image_size: a preset's output side or ``(height, width)`` (``None``: the preset's default, which keeps the
            input size where the preset allows); used for a preset name only.
        channels: the images' channel count (1 or 3) for a preset that takes ``channels``; a preset name only.
        seed: a preset's seed (``None`` draws fresh randomness); a preset name only: given layers keep theirs.
        options: a preset's options (e.g. ``{"strength": 0.5}``, ``{"n_small": 4}``); only with a preset name.
        name: the argument's name in error messages (e.g. ``"augmenters"``).

    Returns:
        ``tuple`` of ``V ≥ 2`` callables, one per view.

    Raises:
        InputError: an empty sequence, a sequence of one augmenter, an unknown preset name, or ``options`` given with
            augmenter objects.
        InputTypeError: (a ``TypeError`` and an ``InputError``) ``spec`` or one of its elements is neither callable
            nor (``spec`` itself only) a preset name.

    Example:
        >>> from kspectral.data import digits_augmenter
        >>> aug = digits_augmenter(seed=0)
        >>> a, b = view_augmenters(aug)
        >>> a is b is aug
        True
        >>> [v.name for v in view_augmenters("byol", image_size=16, seed=0)]
        ['byol_view1', 'byol_view2']
        >>> len(view_augmenters("multicrop", image_size=32, options={"base": "cifar", "n_small": 3}))
        5
    """
    if isinstance(spec, str):
        spec = _preset(spec, image_size, channels, seed, _options(options))
    elif options:
        raise InputError(f"options go with a preset name, not with augmenter objects; set the options of your own "
                         f"{name} when you build it")
    if callable(spec):
        return (spec, spec)
    if not isinstance(spec, (list, tuple)):
        raise InputTypeError(
            f"{name}: an augmenter is a callable Keras layer/model, a sequence of them (one per view) or a preset "
            f"name (kspectral.data.AUGMENTERS), got {type(spec).__name__}; build one with "
            "kspectral.data.augmenter(name, image_size=...)"
        )
    if not spec:
        raise InputError(f"{name} is an empty list of augmenters; give one augmenter (used for both views) or one "
                         "per view (at least 2)")
    if len(spec) < 2:
        raise InputError(
            f"a sequence of augmenters gives one per view and needs at least 2, got {len(spec)}; pass a single "
            "augmenter to use it for both views"
        )
    for i, aug in enumerate(spec):
        if not callable(aug):
            raise InputTypeError(f"{name}[{i}] must be a callable Keras layer/model, got {type(aug).__name__}; build one "
                            "with kspectral.data.augmenter(name, image_size=...)")
    return tuple(spec)


def augmentation_graph(X, augment, *, draws=4, k=5, seed=0, batch_size=None, options=None):
    """:func:`kspectral.spectral.augmentation_graph` that also takes a preset name: the one-call graph of a preset.

    A preset name is set up for the images' shape by :func:`kspectral.data.augmenter_for` (their channels; their
    size, except ``digits``' own 8 px) with ``options`` and seeded with ``seed``, then handed to
    :func:`kspectral.spectral.augmentation_graph`, which draws ``draws`` views per sample (draw ``d`` with the
    preset's view ``d mod V``) and links samples whose views are among each other's ``k`` nearest. Any other
    ``augment`` (a Keras layer, a sequence of them, ``augment(batch)`` or the numpy form ``augment(batch, rng)``)
    goes to it unchanged.

    Args:
        X: samples ``(N, ...)``; images ``(N, H, W, C)`` in ``[0, 1]`` for a preset.
        augment: a preset name of :data:`kspectral.data.AUGMENTERS`, or what
            :func:`kspectral.spectral.augmentation_graph` takes.
        draws, k, seed, batch_size: as :func:`kspectral.spectral.augmentation_graph` (``seed`` also seeds the preset).
        options: a preset's options (e.g. ``{"strength": 0.5}``); only with a preset name.

    Returns:
        ``(N, N)`` scipy CSR matrix of link counts (float64, symmetric, zero diagonal).

    Example:
        >>> import numpy as np
        >>> x = np.random.default_rng(0).random((30, 8, 8, 3), dtype=np.float32)
        >>> augmentation_graph(x, "cifar", draws=2, k=3, seed=7).shape
        (30, 30)
    """
    import numpy as np

    from kspectral.spectral.graphs import augmentation_graph as graph_of_views

    if isinstance(augment, str):
        from kspectral.data.datasets import augmenter_for

        augment = augmenter_for(np.shape(X)[1:], augment, _options(options, "augment_options"), seed=seed)
    elif options:
        raise InputError("augment_options go with a preset name; set the options of your own augmenter when you "
                         "build it")
    return graph_of_views(X, augment, draws=draws, k=k, seed=seed, batch_size=batch_size)
