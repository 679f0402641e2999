"""Views: which views an objective pairs, and the view-major layout of views in one batch.

- :func:`view_pairs`: the pairs of views an objective compares when a batch holds ``V ≥ 2`` views (global views
  first, then the local ones of multi-crop): every pair, each global view with every other view, or consecutive
  views. A two-view objective is averaged over the pairs (:meth:`kspectral.methods.SSLModel.compute_objective`);
  with two views there is one pair, so the value is the two-view objective's.
- :func:`join_views` / :func:`split_views`: ``[view_a; view_b]``, ``2B`` rows, row ``k`` and row ``k + B`` a pair.
  Methods that send both views through the network as one batch (SimCLR, CISSL, DISSL) and the Keras losses that
  take both views in one tensor (:class:`~kspectral.objectives.CISSLLoss`, :class:`~kspectral.objectives.DISSLLoss`)
  use this layout.
"""

from __future__ import annotations

from keras import ops

from kspectral.objectives._common import check_embeddings, tensorflow_module
from kspectral.errors import InputError


def split_views(z, name="z"):
    """Split a view-major ``(2B, dim)`` matrix into its two ``(B, dim)`` views (the first and second halves).

    The dtype is kept. An odd number of rows is an error, also when the batch size is only known at run time.

    Example:
        >>> import numpy as np
        >>> a, b = split_views(np.arange(8.0).reshape(4, 2))
        >>> np.asarray(b).tolist()
        [[4.0, 5.0], [6.0, 7.0]]
    """
    z = ops.convert_to_tensor(z)
    check_embeddings(z, name, min_batch=2)
    rows = z.shape[0]
    message = f"{name} must stack the two views' rows view-major (2B rows), got an odd number"
    if rows is not None and rows % 2:
        raise InputError(f"{message} ({rows})")
    tf = tensorflow_module()
    if rows is None and tf is not None:
        tf.debugging.assert_equal(tf.shape(z)[0] % 2, 0, message=message)
    half = ops.shape(z)[0] // 2
    return z[:half], z[half:]


def join_views(view_a, view_b, names=("view_a", "view_b")):
    """``concat([view_a, view_b])``, the view-major batch, after checking that the views have one batch size.

    Example:
        >>> import numpy as np
        >>> tuple(join_views(np.zeros((3, 2)), np.ones((3, 2))).shape)
        (6, 2)
    """
    view_a, view_b = ops.convert_to_tensor(view_a), ops.convert_to_tensor(view_b)
    a, b = view_a.shape[0], view_b.shape[0]
    message = f"{names[0]} and {names[1]} must have the same batch size (one pair per row)"
    if a is not None and b is not None and a != b:
        raise InputError(f"{message}, got {a} and {b}")
    tf = tensorflow_module()
    if (a is None or b is None) and tf is not None:
        tf.debugging.assert_equal(tf.shape(view_a)[0], tf.shape(view_b)[0], message=message)
    return ops.concatenate([view_a, view_b], axis=0)


#: the pairings of :func:`view_pairs`
PAIRINGS = ("all_pairs", "global_to_others", "consecutive")


def view_pairs(n_views, pairing="all_pairs", n_global=2):
    """The ``(i, j)`` pairs of views an objective compares, for ``n_views`` views of which the first ``n_global``
    are global (large) crops.

    - ``"all_pairs"``: every unordered pair ``i < j`` (``V(V − 1)/2`` pairs);
    - ``"global_to_others"``: each global view ``i`` with every other view ``j ≠ i``, ``i`` first (the teacher's
      view): DINO's and SwAV's multi-crop pairs (Caron et al. 2021, arXiv:2104.14294, Algorithm 1; Caron et al.
      2020, arXiv:2006.09882, Eq. 3), ``n_global · (V − 1)`` pairs;
    - ``"consecutive"``: ``(0, 1), (1, 2), …, (V − 2, V − 1)``.

    Example:
        >>> view_pairs(3)
        [(0, 1), (0, 2), (1, 2)]
        >>> view_pairs(4, "global_to_others")
        [(0, 1), (0, 2), (0, 3), (1, 0), (1, 2), (1, 3)]
    """
    if pairing not in PAIRINGS:
        raise InputError(f"unknown pairing {pairing!r}; choose one of: {', '.join(PAIRINGS)}")
    if isinstance(n_views, bool) or not isinstance(n_views, int) or n_views < 2:
        raise InputError(f"an objective pairs at least 2 views, got {n_views!r}")
    if pairing == "all_pairs":
        return [(i, j) for i in range(n_views) for j in range(i + 1, n_views)]
    if pairing == "consecutive":
        return [(i, i + 1) for i in range(n_views - 1)]
    if not 1 <= n_global <= n_views:
        raise InputError(f"n_global must lie in [1, {n_views}] (the global views come first), got {n_global!r}")
    return [(i, j) for i in range(n_global) for j in range(n_views) if j != i]


__all__ = ["PAIRINGS", "join_views", "split_views", "view_pairs"]
