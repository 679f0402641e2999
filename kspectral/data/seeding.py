"""The one seeding rule of kspectral's augmenters: the views of batch ``t`` are drawn from ``(the augmenter's seed, t)``.

Keras' random layers draw from ``keras.random.SeedGenerator`` s, each holding an int64 state variable
``[seed, counter]`` of shape ``(2,)``: a draw reads the state and adds 1 to the counter (the seed part never
changes). :func:`reseed` sets every state of a set of layers to ``[its own seed, stride·t]`` (``stride`` =
:data:`SEED_STRIDE` = 64 by default), so that what they draw next is a pure function of their seeds and ``t``,
whatever they drew before. Three users follow it:

- :func:`kspectral.data.augmented_pairs` and :func:`kspectral.data.graph_pairs` re-seed before augmenting batch
  ``t`` of a resumable stream (``start_step=...``), inside the ``tf.data`` map function;
- :func:`kspectral.runs.problem.augmented_views` re-seeds, eagerly, before drawing the closed form's views of batch
  ``t``, so that they equal the stream's batch ``t`` exactly;
- :func:`kspectral.plots.augmentation_grid` draws its grid inside :func:`reseeded` (its own stride, the states
  restored afterwards).

One batch may use up to ``SEED_STRIDE`` draws per generator before its counters reach those of batch ``t + 1``.
Keras' TensorFlow backend reduces each state modulo ``2³¹ − 2`` before a stateless kernel reads it, so the states of
batch ``t`` repeat after about ``2³¹ / 64 ≈ 33`` million steps.
"""

from __future__ import annotations

import contextlib

import numpy as np
import tensorflow as tf

from kspectral.errors import InputError

#: counter values reserved for one batch (the random draws of one generator per batch, at most): batch ``t`` starts
#: at counter ``SEED_STRIDE · t``
SEED_STRIDE = 64
#: the path suffix of a ``keras.random.SeedGenerator`` state variable
_STATE_SUFFIX = "seed_generator_state"


def _is_state(v):
    return isinstance(getattr(v, "path", None), str) and v.path.endswith(_STATE_SUFFIX)


def seed_states(layers):
    """The ``keras.random.SeedGenerator`` state variables of ``layers`` (a layer, or a sequence of them), deduplicated.

    Each is an int64 variable ``[seed, counter]`` of shape ``(2,)``; a random draw reads it and adds 1 to the
    counter. Nested layers are included (a ``keras.Sequential``'s or a model's ``variables`` hold its sublayers'), in
    the order of ``layers``, then of each layer's ``variables``; a layer met twice (e.g. ``(aug, aug)``) counts once.
    An element that is itself a state variable, or a ``keras.random.SeedGenerator``, contributes its own state.

    Example:
        >>> from kspectral.data import digits_augmenter
        >>> aug = digits_augmenter(seed=0)
        >>> len(seed_states([aug, aug])) == len(seed_states(aug)) > 0
        True
    """
    layers = layers if isinstance(layers, (list, tuple)) else [layers]
    states, seen = [], set()
    for layer in layers:
        if _is_state(layer):
            found = [layer]
        elif _is_state(getattr(layer, "state", None)):  # a keras.random.SeedGenerator
            found = [layer.state]
        else:
            found = [v for v in getattr(layer, "variables", ()) if _is_state(v)]
        for v in found:
            if id(v) not in seen:
                seen.add(id(v))
                states.append(v)
    return states


def _check_stride(stride):
    if isinstance(stride, bool) or not isinstance(stride, (int, np.integer)) or stride < 1:
        raise InputError(f"stride must be an integer ≥ 1 (counter values per batch), got {stride!r}")
    return int(stride)


def reseed(layers_or_states, t, *, stride=SEED_STRIDE):
    """Set every ``SeedGenerator`` state of ``layers_or_states`` to ``[its own seed, stride·t]``; return the updates.

    The rule of every resumable stream: call it before augmenting batch ``t``, and the views of batch ``t`` depend
    only on the augmenters' seeds and ``t`` (not on what they drew before). For each state variable ``s`` (int64,
    ``(2,)``) it assigns ``[s[0], stride · t]``: the seed part is read from the variable itself, so this runs as it
    is eagerly, inside a ``tf.function`` (a train step: ``reseed(self.augmenters, step)``) and inside a ``tf.data``
    map function, and never calls ``.numpy()``. In those graphs the draws that follow in program order see the new
    states (TensorFlow's automatic control dependencies order the ops of one resource variable); to order other
    ops after it, put them under ``tf.control_dependencies(reseed(...))``.

    Args:
        layers_or_states: a Keras layer/model, a ``SeedGenerator``, a state variable, or a sequence of them
            (:func:`seed_states` finds and deduplicates the states; a layer without random draws contributes none).
        t: the batch index, a Python int or an integer scalar tensor (a step counter), ``≥ 0``.
        stride: counter values per batch, default :data:`SEED_STRIDE` (64, the streams' and the closed form's).

    Returns:
        a list with one update per state, in :func:`seed_states` order: the output of the assignment of
        ``[seed, stride·t]`` (in a graph, an int64 ``(2,)`` tensor that depends on it; eagerly, the assigned
        variable); empty when the layers draw nothing.

    Example:
        >>> from kspectral.data import digits_augmenter
        >>> aug = digits_augmenter(seed=3)
        >>> _ = reseed(aug, 2)
        >>> [list(map(int, s.numpy())) for s in seed_states(aug)][0]
        [3, 128]
    """
    stride = _check_stride(stride)
    if isinstance(t, (int, np.integer)) and not isinstance(t, bool) and t < 0:
        raise InputError(f"t must be a batch index ≥ 0, got {t}")
    updates = []
    for state in seed_states(layers_or_states):
        target = state.value  # the backend tf.Variable (or a distributed one); a tensor inside a stateless scope
        new = tf.cast(tf.stack([tf.cast(target[0], tf.int64), tf.cast(t, tf.int64) * stride]), state.dtype)
        # A tf.Variable's assign gives the assignment's own output (Keras' Variable.assign returns its input).
        updates.append(target.assign(new) if isinstance(target, tf.Variable) else state.assign(new))
    return updates


@contextlib.contextmanager
def reseeded(layers_or_states, t, *, stride=SEED_STRIDE):
    """Draw at batch ``t`` and put the states back: ``with reseeded(augmenters, t): views = aug(x, training=True)``.

    On entry every ``SeedGenerator`` state of ``layers_or_states`` is saved, then set by :func:`reseed` to
    ``[its own seed, stride·t]``; on exit (also on an exception) each is restored to its saved value, so the
    augmenters' own streams are left as they were. Eager only (it reads the states with ``.numpy()``); inside a
    graph use :func:`reseed`.

    Yields:
        the list of state variables.

    Example:
        >>> import numpy as np
        >>> from kspectral.data import digits_augmenter
        >>> aug, x = digits_augmenter(seed=0), np.zeros((2, 8, 8, 1), np.float32)
        >>> with reseeded(aug, 5):
        ...     a = aug(x, training=True).numpy()
        >>> with reseeded(aug, 5):
        ...     b = aug(x, training=True).numpy()
        >>> bool(np.array_equal(a, b))
        True
    """
    states = seed_states(layers_or_states)
    saved = [np.array(s.numpy(), copy=True) for s in states]
    try:
        reseed(states, t, stride=stride)
        yield states
    finally:
        for state, value in zip(states, saved):
            state.assign(value)
