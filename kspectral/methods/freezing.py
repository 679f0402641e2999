"""Weights held fixed for the first optimizer steps of a run: DINO's last layer (its first epoch) and SwAV's
prototypes (their first epochs).

A method lists them in :meth:`kspectral.methods.SSLModel.frozen_weights` as ``(weights, steps)`` pairs: those
weights do not move while the optimizer step ``k < steps``. The official code drops their gradients for those
iterations (DINO's ``cancel_gradients_last_layer`` sets ``p.grad = None``; SwAV's ``freeze_prototypes_niters``;
solo-learn's ``on_after_backward``), so the optimizer skips them. Here, inside one traced train step, their
gradients are zeroed and their values restored after the update (weight decay and momentum would otherwise move
them), so frozen weights are bit-for-bit the same as before the step. The one difference: an optimizer with a
momentum buffer decays that buffer with the zero gradient for those steps (PyTorch leaves the buffer untouched).
"""

from __future__ import annotations

from keras import ops


def frozen_masks(frozen, step):
    """``{id(weight): active}``: a boolean tensor per frozen weight, true while ``step < steps``."""
    masks = {}
    for weights, steps in frozen:
        if not steps:
            continue
        active = ops.less(ops.cast(step, "int64"), int(steps))
        for w in weights:
            masks[id(w)] = active
    return masks


def zero_frozen_gradients(grads, variables, masks):
    """The gradients with those of the frozen weights set to zero while they are frozen."""
    if not masks:
        return grads
    return [g if g is None or id(v) not in masks else ops.where(masks[id(v)], ops.zeros_like(g), g)
            for g, v in zip(grads, variables)]


def snapshot(variables, masks):
    """The values of the frozen weights before the optimizer's update (copies: ``convert_to_tensor`` of a Keras
    variable is the variable itself, read later)."""
    return [(v, ops.copy(v)) for v in variables if id(v) in masks]


def restore_frozen(saved, masks):
    """Put the frozen weights back to their values before the update while they are frozen."""
    for v, old in saved:
        v.assign(ops.where(masks[id(v)], old, v))
