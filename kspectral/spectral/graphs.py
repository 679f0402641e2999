"""Positive-pair graphs G: constructors, validation and connected components.

Convention (``theory.md`` §1): ``G`` is an ``N×N`` symmetric, non-negative matrix with a zero diagonal;
``G_ij > 0`` iff samples ``i`` and ``j`` form a positive pair, with weight ``G_ij``. Every constructor returns a
``scipy.sparse.csr_matrix`` of float64 that satisfies this, and :func:`validate_graph` checks any user graph
against it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.sparse import csgraph

from kspectral._validation import check_labels, check_matrix, check_positive_int, check_random_state
from kspectral.errors import InputError, InputTypeError

# Past this many stored entries a label graph (one clique per class) is refused: it grows as Σ n_c².
MAX_LABEL_GRAPH_EDGES = 50_000_000
# Past this many samples knn_graph(method="auto") uses pynndescent, when installed: below it, exact search is as
# fast as NN-descent plus its one-off numba compilation, with no recall loss (timings in BENCHMARKS.md).
APPROXIMATE_KNN_MIN_SAMPLES = 100_000
# NN-descent keeps at least this many candidate neighbours per sample (and at least 2k): with only k + 1 its
# recall@10 drops (0.64 against 0.96 on 64-D features at N = 100 000; docs/notes.md).
APPROXIMATE_KNN_MIN_NEIGHBORS = 20


def _to_csr(G, name="G"):
    if sp.issparse(G):
        return sp.csr_matrix(G, dtype=np.float64)
    arr = np.asarray(G, dtype=np.float64)
    if arr.ndim != 2:
        raise InputError(f"{name} must be a square N×N matrix, got shape {arr.shape}")
    return sp.csr_matrix(arr)


def validate_graph(G, n=None, *, name="G", allow_empty=False, tol=1e-10):
    """Check that ``G`` is a valid positive-pair graph and return it as float64 CSR.

    Args:
        G: dense array or scipy sparse matrix, shape ``(N, N)``.
        n: the expected number of nodes (e.g. ``len(X)``), or ``None``.
        name: the argument's name, used in error messages.
        allow_empty: accept a graph with no edges.
        tol: relative tolerance of the symmetry check.

    Returns:
        ``scipy.sparse.csr_matrix`` of float64, zeros eliminated.

    Raises:
        ValueError: not square, wrong ``n``, NaN/inf weights, negative weights, self-loops, asymmetric, or empty.
    """
    G = _to_csr(G, name)
    if G.shape[0] != G.shape[1]:
        raise InputError(f"{name} must be square (N×N), got shape {G.shape}")
    if n is not None and G.shape[0] != n:
        raise InputError(f"{name} has {G.shape[0]} nodes but the data has {n} samples; they must match")
    if G.shape[0] == 0:
        raise InputError(f"{name} has no nodes")
    data = G.data
    if not np.all(np.isfinite(data)):
        raise InputError(f"{name} has NaN or infinite edge weights")
    if np.any(data < 0):
        raise InputError(
            f"{name} has {int(np.sum(data < 0))} negative edge weights; positive-pair graphs are non-negative"
        )
    diag = G.diagonal()
    if np.any(diag != 0):
        raise InputError(
            f"{name} has {int(np.count_nonzero(diag))} self-loops (non-zero diagonal); kspectral graphs have "
            "G_ii = 0: call G.setdiag(0); G.eliminate_zeros()"
        )
    asym = abs(G - G.T)
    if asym.nnz and asym.max() > tol * max(1.0, float(abs(G).max())):
        raise InputError(f"{name} is not symmetric (max |G − Gᵀ| = {asym.max():.3g}); symmetrise it, e.g. G.maximum(G.T)")
    G = G.copy()
    G.eliminate_zeros()
    if G.nnz == 0 and not allow_empty:
        raise InputError(f"{name} has no edges: every sample would be its own component")
    return G


def connected_components(G):
    """Number of connected components of ``G`` and each node's component label.

    Returns:
        ``(n_components, labels)`` with ``labels`` of shape ``(N,)``, as ``scipy.sparse.csgraph``.
    """
    G = _to_csr(G)
    n, labels = csgraph.connected_components(G, directed=False)
    return int(n), labels


@dataclass(frozen=True)
class GraphReport:
    """Summary of a positive-pair graph (see :func:`graph_report`)."""

    n_nodes: int
    n_edges: int
    n_components: int
    component_sizes: tuple
    n_isolated: int
    degree_min: float
    degree_mean: float
    degree_max: float

    def __str__(self):
        sizes = ", ".join(map(str, self.component_sizes[:5])) + (", …" if len(self.component_sizes) > 5 else "")
        return (
            f"{self.n_nodes} nodes, {self.n_edges} edges, {self.n_components} connected components "
            f"(largest: {sizes}), {self.n_isolated} isolated, degree min/mean/max "
            f"{self.degree_min:.3g}/{self.degree_mean:.3g}/{self.degree_max:.3g}"
        )


def graph_report(G):
    """Nodes, undirected edges, connected components and degrees of ``G``, as a :class:`GraphReport`."""
    G = validate_graph(G, allow_empty=True)
    n_comp, labels = connected_components(G)
    sizes = np.sort(np.bincount(labels))[::-1]
    degree = np.asarray(G.sum(axis=1)).ravel()
    return GraphReport(
        n_nodes=G.shape[0],
        n_edges=G.nnz // 2,
        n_components=n_comp,
        component_sizes=tuple(int(s) for s in sizes),
        n_isolated=int(np.sum(np.diff(G.indptr) == 0)),
        degree_min=float(degree.min()),
        degree_mean=float(degree.mean()),
        degree_max=float(degree.max()),
    )


def pair_graph(n, views=2):
    """Graph of ``views`` augmented views of ``n`` samples, rows ordered view-major.

    Row ``v·n + i`` is view ``v`` of sample ``i``: the layout of ``concat([view_1, view_2, ...])``. Every two
    views of the same sample are connected with weight 1, so ``G = (1_V 1_Vᵀ − I_V) ⊗ I_n``. For ``views = 2``,
    ``G = [[0, I_n], [I_n, 0]]`` and its Laplacian has eigenvalues ``{0×n, 2×n}`` (``theory.md`` §1).

    Args:
        n: number of samples (at least 1).
        views: number of views per sample (at least 2).

    Returns:
        ``(n·views, n·views)`` CSR matrix.

    Example:
        >>> pair_graph(2).toarray()
        array([[0., 0., 1., 0.],
               [0., 0., 0., 1.],
               [1., 0., 0., 0.],
               [0., 1., 0., 0.]])
    """
    n = check_positive_int(n, "n")
    views = check_positive_int(views, "views", minimum=2)
    block = np.ones((views, views)) - np.eye(views)
    return sp.csr_matrix(sp.kron(sp.csr_matrix(block), sp.identity(n, format="csr"), format="csr"), dtype=np.float64)


def label_graph(y, max_edges=MAX_LABEL_GRAPH_EDGES):
    """Graph connecting every two samples with the same label: ``G = YYᵀ − I_N`` (``theory.md`` §1).

    This is the relation "aligned with the downstream task". Its Laplacian has eigenvalue 0 with multiplicity
    C (the class indicators) and eigenvalue ``n_c`` on each class block.

    Args:
        y: labels, shape ``(N,)``, any hashable dtype.
        max_edges: refuse graphs with more stored entries (``Σ_c n_c(n_c − 1)``) than this.

    Returns:
        ``(N, N)`` CSR matrix of 0/1 weights.
    """
    y = check_labels(y, "y")
    _, inverse, counts = np.unique(y, return_inverse=True, return_counts=True)
    entries = int(np.sum(counts.astype(np.int64) * (counts - 1)))
    if entries > max_edges:
        raise InputError(
            f"the label graph of these {len(y)} samples has {entries} entries (more than max_edges={max_edges}); "
            "use a subsample, or knn_graph on features within classes"
        )
    Y = sp.csr_matrix((np.ones(len(y)), (np.arange(len(y)), inverse)), shape=(len(y), len(counts)))
    G = sp.csr_matrix(Y @ Y.T, dtype=np.float64)
    G = sp.csr_matrix(G - sp.diags(G.diagonal()))  # drop the self-pairs without changing the sparsity pattern in place
    G.eliminate_zeros()
    return G


def graph_from_pairs(i, j, n, weights=None):
    """Graph from a list of positive pairs ``(i[k], j[k])``, symmetrised.

    Repeated pairs add their weights; ``(i, j)`` and ``(j, i)`` are the same undirected edge, so listing both
    counts it twice. Self-pairs ``i[k] == j[k]`` are rejected.

    Args:
        i, j: integer node indices, shape ``(E,)``.
        n: number of nodes.
        weights: non-negative edge weights, shape ``(E,)``; default 1.

    Returns:
        ``(n, n)`` CSR matrix.
    """
    n = check_positive_int(n, "n")
    i = np.asarray(i)
    j = np.asarray(j)
    if i.ndim != 1 or j.ndim != 1 or i.shape != j.shape:
        raise InputError(f"i and j must be 1-D arrays of the same length, got shapes {i.shape} and {j.shape}")
    if i.size == 0:
        raise InputError("no pairs given: i and j are empty")
    if i.dtype.kind not in "iu" or j.dtype.kind not in "iu":
        raise TypeError("i and j must hold integer node indices")
    if min(i.min(), j.min()) < 0 or max(i.max(), j.max()) >= n:
        raise InputError(f"pair indices must lie in [0, {n - 1}], got range [{min(i.min(), j.min())}, {max(i.max(), j.max())}]")
    if np.any(i == j):
        raise InputError(f"{int(np.sum(i == j))} pairs join a node to itself; kspectral graphs have no self-loops")
    w = np.ones(i.shape) if weights is None else np.asarray(weights, dtype=np.float64)
    if w.shape != i.shape:
        raise InputError(f"weights must have shape {i.shape}, got {w.shape}")
    if not np.all(np.isfinite(w)) or np.any(w < 0):
        raise InputError("weights must be finite and non-negative")
    G = sp.coo_matrix((w, (i, j)), shape=(n, n)).tocsr()
    G = G + G.T
    G.eliminate_zeros()
    return sp.csr_matrix(G, dtype=np.float64)


def _heat_weights(dist):
    sigma = np.median(dist[dist > 0]) if np.any(dist > 0) else 1.0
    return np.exp(-((dist / sigma) ** 2))


def knn_graph(X, k, mutual=False, *, weights="connectivity", metric="euclidean", method="auto", seed=0):
    """Symmetric k-nearest-neighbour graph of the rows of ``X``.

    ``i`` and ``j`` are connected if either is among the other's ``k`` nearest neighbours (or both, with
    ``mutual=True``). The sample itself is never its own neighbour.

    Args:
        X: features, shape ``(N, D)``.
        k: neighbours per sample, ``1 ≤ k < N``.
        mutual: keep only mutual neighbours (the intersection) instead of the union.
        weights: ``"connectivity"`` (1 per edge) or ``"heat"`` (``exp(−d²/σ²)``, σ the median neighbour
            distance).
        metric: ``"euclidean"`` or ``"cosine"``.
        method: ``"exact"`` (scikit-learn), ``"approximate"`` (pynndescent, for large N) or ``"auto"``
            (approximate past :data:`APPROXIMATE_KNN_MIN_SAMPLES` = 100 000 samples when pynndescent is
            installed).
        seed: random seed of the approximate search.

    Returns:
        ``(N, N)`` CSR matrix.
    """
    X = check_matrix(X, "X", min_rows=2)
    n = X.shape[0]
    k = check_positive_int(k, "k")
    if k >= n:
        raise InputError(f"k={k} must be smaller than the number of samples N={n}")
    if weights not in ("connectivity", "heat"):
        raise InputError(f"unknown weights {weights!r}; choose 'connectivity' or 'heat'")
    if metric not in ("euclidean", "cosine"):
        raise InputError(f"unknown metric {metric!r}; choose 'euclidean' or 'cosine'")
    if method not in ("auto", "exact", "approximate"):
        raise InputError(f"unknown method {method!r}; choose 'auto', 'exact' or 'approximate'")
    if method == "auto":
        method = "approximate" if n > APPROXIMATE_KNN_MIN_SAMPLES and _has_pynndescent() else "exact"
    if method == "approximate":
        indices, dist = _knn_approximate(X, k, metric, seed)
    else:
        indices, dist = _knn_exact(X, k, metric)
    rows = np.repeat(np.arange(n), k)
    w = np.ones(rows.shape) if weights == "connectivity" else _heat_weights(dist.ravel())
    A = sp.csr_matrix((w, (rows, indices.ravel())), shape=(n, n))  # _drop_self removed every self-neighbour
    A.eliminate_zeros()
    G = A.minimum(A.T) if mutual else A.maximum(A.T)
    G = sp.csr_matrix(G, dtype=np.float64)
    G.eliminate_zeros()
    return G


def _has_pynndescent():
    try:
        import pynndescent  # noqa: F401
    except ImportError:
        return False
    return True


def _knn_exact(X, k, metric):
    from sklearn.neighbors import NearestNeighbors

    algorithm = "brute" if metric == "cosine" or X.shape[1] > 15 else "auto"
    nn = NearestNeighbors(n_neighbors=k + 1, metric=metric, algorithm=algorithm).fit(X)
    dist, idx = nn.kneighbors(X)
    return _drop_self(idx, dist, k)


def _knn_approximate(X, k, metric, seed):
    if not _has_pynndescent():
        raise ImportError("approximate kNN needs pynndescent: pip install 'kspectral[ann]'")
    from pynndescent import NNDescent

    n_neighbors = min(X.shape[0], max(k + 1, 2 * k, APPROXIMATE_KNN_MIN_NEIGHBORS))
    index = NNDescent(X, n_neighbors=n_neighbors, max_candidates=60, metric=metric, random_state=seed, n_jobs=-1)
    idx, dist = index.neighbor_graph  # sorted by distance; the sample itself comes first
    return _drop_self(idx[:, : k + 1], dist[:, : k + 1], k)


def _drop_self(idx, dist, k):
    """Remove each row's own index from its neighbour list (duplicates may push it past position 0)."""
    n = idx.shape[0]
    is_self = idx == np.arange(n)[:, None]
    keep = ~is_self
    # Rows where self was not found: drop the last (farthest) neighbour instead.
    no_self = ~is_self.any(axis=1)
    keep[no_self, -1] = False
    idx = idx[keep].reshape(n, k)
    dist = dist[keep].reshape(n, k)
    return idx, dist


def _augmenters(augment):
    """``[(function, takes_rng)]``: the augmentation of each view, cycled over the draws (see augmentation_graph)."""
    import inspect

    if isinstance(augment, str):  # presets are Keras layers: kspectral.data builds them, this package imports no TF
        raise InputTypeError(
            f"augment={augment!r} is a preset name; kspectral.spectral builds no augmenters: call "
            f"kspectral.data.augmentation_graph(X, {augment!r}, ...), which sets the preset up for the images, or pass "
            f"the layer, e.g. kspectral.data.augmenter_for(X.shape[1:], {augment!r}, seed=...)"
        )
    parts = list(augment) if isinstance(augment, (list, tuple)) else [augment]
    if not parts:
        raise InputError("augment is an empty sequence; give one augmenter, or one per view")
    out = []
    for part in parts:
        if not callable(part):
            raise TypeError(f"augment must be a callable augment(batch), a Keras layer or a sequence of them (a preset "
                            f"name goes to kspectral.data.augmentation_graph), got {type(part).__name__}")
        if callable(getattr(part, "call", None)):  # a Keras layer or model (duck typing)
            out.append((lambda batch, layer=part: layer(np.asarray(batch, np.float32), training=True), False))
            continue
        try:
            parameters = inspect.signature(part).parameters.values()
        except (TypeError, ValueError):
            parameters = ()
        positional = [p for p in parameters if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
        required = [p for p in positional if p.default is p.empty]
        out.append((part, len(required) == 2))  # the numpy form augment(x, rng)
    return out


def augmentation_graph(X, augment, *, draws=4, k=5, seed=0, batch_size=None):
    """Graph connecting samples whose augmented views land next to each other.

    A Monte-Carlo estimate of the population augmentation graph (HaoChen et al. 2021, arXiv:2106.04156): each
    sample gets ``draws`` augmented views; every view is linked to its ``k`` nearest views; ``G_ij`` counts the
    links between a view of ``i`` and a view of ``j`` (``i ≠ j``), symmetrised. Two samples are connected when their
    augmentation distributions overlap.

    The module stays free of TensorFlow and of :mod:`kspectral.data`: an augmenter is anything that maps a batch to a
    batch, detected by duck typing, so the augmenter that feeds a model (``kspectral.data.augmented_pairs``) also
    feeds this graph. A preset name is the data side's: :func:`kspectral.data.augmentation_graph` builds the preset
    for the images and calls this function.

    Args:
        X: samples, shape ``(N, ...)`` (images are flattened for the neighbour search).
        augment: the augmentation, one of

            - a Keras layer or model (anything with a ``call`` method), applied as ``augment(batch,
              training=True)`` to float32 batches; it draws from its own seeds (build it with ``seed=``), so the
              same seed gives the same views;
            - a callable ``augment(batch)`` returning a batch of the same shape;
            - the numpy form ``augment(batch, rng)`` (a callable with exactly two required positional parameters),
              given a ``numpy.random.Generator`` seeded with ``seed``;
            - a sequence of the above (e.g. a pair of Keras layers): draw ``d`` uses ``augment[d mod len]``.
        draws: augmented views per sample.
        k: neighbours per view.
        seed: the seed of the numpy form's generator.
        batch_size: samples augmented per call (``None``: all ``N`` at once); each call of a Keras layer advances
            its random state.

    Returns:
        ``(N, N)`` CSR matrix of link counts.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> X = np.repeat(rng.random((3, 4)), 5, axis=0)             # 3 groups of 5 identical samples
        >>> G = augmentation_graph(X, lambda b: b + 0.01 * rng.standard_normal(b.shape), draws=2, k=3)
        >>> G.shape, bool(G[0, 1:5].sum() > 0), float(G[0, 5:].sum())   # sample 0 links to its group only
        ((15, 15), True, 0.0)
    """
    X = np.asarray(X)
    if X.ndim < 2 or X.shape[0] < 2:
        raise InputError(f"X must hold at least 2 samples (shape (N, ...)), got shape {X.shape}")
    draws = check_positive_int(draws, "draws")
    k = check_positive_int(k, "k")
    n = X.shape[0]
    step = n if batch_size is None else check_positive_int(batch_size, "batch_size")
    rng = check_random_state(seed)
    functions = _augmenters(augment)
    views = []
    for d in range(draws):
        function, takes_rng = functions[d % len(functions)]
        chunks = []
        for start in range(0, n, step):
            batch = X[start:start + step]
            v = np.asarray(function(batch, rng) if takes_rng else function(batch))
            if v.shape != batch.shape:
                raise InputError(f"augment must return the shape it was given, {batch.shape}, got {v.shape}")
            chunks.append(v.reshape(len(batch), -1))
        views.append(np.concatenate(chunks))
    V = check_matrix(np.concatenate(views), "augmented views")
    owner = np.tile(np.arange(n), draws)
    if k >= V.shape[0]:
        raise InputError(f"k={k} must be smaller than the number of views {V.shape[0]}")
    idx, _ = _knn_exact(V, k, "euclidean")
    i = np.repeat(owner, k)
    j = owner[idx.ravel()]
    mask = i != j
    if not np.any(mask):
        raise InputError("no two samples' views are neighbours; increase k or draws, or use stronger augmentations")
    A = sp.coo_matrix((np.ones(int(mask.sum())), (i[mask], j[mask])), shape=(n, n)).tocsr()
    G = A + A.T
    G.eliminate_zeros()
    return sp.csr_matrix(G, dtype=np.float64)


def rewire(G, p, seed=0):
    """Misalign a relation: move a fraction ``p`` of ``G``'s edges to random endpoints (``theory.md`` §5).

    Each undirected edge ``(i, j)`` is kept with probability ``1 − p``; otherwise its endpoint ``j`` is replaced
    by a uniformly random node ``j' ∉ {i}`` that is not already a neighbour of ``i``, keeping the weight. The
    number of edges and their weights are preserved; ``p = 0`` returns ``G`` unchanged and ``p = 1`` a random
    graph with ``G``'s edge weights.

    Args:
        G: positive-pair graph, shape ``(N, N)``.
        p: fraction of edges to rewire, in ``[0, 1]``.
        seed: random seed.

    Returns:
        ``(N, N)`` CSR matrix.
    """
    G = validate_graph(G)
    if not 0.0 <= float(p) <= 1.0:
        raise InputError(f"p must lie in [0, 1], got {p}")
    rng = check_random_state(seed)
    n = G.shape[0]
    if n < 3 and p > 0:
        raise InputError("rewiring needs at least 3 nodes")
    upper = sp.triu(G, k=1).tocoo()
    rows, cols, w = upper.row.copy(), upper.col.copy(), upper.data.copy()
    existing = set(zip(rows.tolist(), cols.tolist()))
    move = rng.random(rows.shape[0]) < float(p)
    for e in np.flatnonzero(move):
        i = int(rows[e])
        existing.discard((i, int(cols[e])))
        for _ in range(100):
            j = int(rng.integers(n))
            key = (min(i, j), max(i, j))
            if j != i and key not in existing:
                break
        else:  # node i is adjacent to (almost) everything: keep the edge where it was
            key = (i, int(cols[e]))
        existing.add(key)
        rows[e], cols[e] = key
    R = sp.coo_matrix((w, (rows, cols)), shape=(n, n)).tocsr()
    R = R + R.T
    R.eliminate_zeros()
    return sp.csr_matrix(R, dtype=np.float64)


# ---------------------------------------------------------------------------------------------------------------
# Graph specs and structure tests
# ---------------------------------------------------------------------------------------------------------------


def parse_graph_spec(spec):
    """Parse a graph spec string into ``(kind, k)``.

    ``"knn:K"`` gives ``("knn", K)`` (``"knn"`` alone: K = 10), ``"labels"`` gives ``("labels", None)``.

    Raises:
        TypeError: ``spec`` is not a string.
        ValueError: any other string, or ``K < 1``.
    """
    if not isinstance(spec, str):
        raise TypeError(f"graph must be a spec string such as 'knn:10' or 'labels', got {type(spec).__name__}")
    kind, _, arg = spec.partition(":")
    if kind == "labels" and not arg:
        return "labels", None
    if kind == "knn":
        try:
            k = int(arg) if arg else 10
        except ValueError:
            k = 0
        if k >= 1:
            return "knn", k
    raise InputError(f"unknown graph spec {spec!r}; use 'knn:K' (K ≥ 1, e.g. 'knn:10') or 'labels'")


def build_graph(spec, X, y=None):
    """The positive-pair graph a spec string names: :func:`knn_graph` of ``X`` or :func:`label_graph` of ``y``.

    Args:
        spec: ``"knn:K"`` or ``"labels"`` (see :func:`parse_graph_spec`).
        X: features, shape ``(N, D)``.
        y: labels, shape ``(N,)``; required by ``"labels"``.

    Returns:
        ``(N, N)`` CSR matrix.
    """
    kind, k = parse_graph_spec(spec)
    if kind == "labels":
        if y is None:
            raise InputError("graph='labels' needs labels: call fit(X, y)")
        return label_graph(check_labels(y, "y", n=len(X)))
    return knn_graph(X, k)


def is_pair_graph(G):
    """Whether ``G`` is exactly :func:`pair_graph` of ``N/2`` samples with two views (rows view-major).

    Example:
        >>> is_pair_graph(pair_graph(3)), is_pair_graph(pair_graph(3, views=3))
        (True, False)
    """
    G = validate_graph(G)
    N = G.shape[0]
    if N % 2 or G.nnz != N:
        return False
    n = N // 2
    coo = G.tocoo()
    return bool(np.all(coo.data == 1.0) and np.all(np.abs(coo.row - coo.col) == n))


@dataclass(frozen=True)
class CliqueStructure:
    """How far ``G`` is a union of disjoint cliques (see :func:`clique_structure`).

    Attributes:
        n_components: C, the number of connected components.
        labels: component of each node, shape ``(N,)``.
        sizes: nodes per component, shape ``(C,)``.
        complete: every component is a complete graph (``G`` is a union of ``C`` disjoint cliques).
        uniform_weights: inside each component all edge weights are equal (up to ``rtol``).
    """

    n_components: int
    labels: np.ndarray
    sizes: np.ndarray
    complete: bool
    uniform_weights: bool

    @property
    def equal_sizes(self):
        """All components have the same number of nodes."""
        return bool(np.all(self.sizes == self.sizes[0]))


def clique_structure(G, *, rtol=1e-10):
    """Connected components of ``G`` and whether each is a clique with uniform edge weights.

    The label graph of any labelling and the ``V``-view :func:`pair_graph` are unions of uniform cliques; the
    SimCLR closed form :func:`~kspectral.spectral.simclr_simplex` needs one. An isolated node counts as a
    complete component of size 1.

    Args:
        G: positive-pair graph, shape ``(N, N)``.
        rtol: relative tolerance of the equal-weights test.

    Returns:
        :class:`CliqueStructure`.

    Example:
        >>> s = clique_structure(label_graph([0, 0, 1, 1, 1]))
        >>> s.complete, s.n_components, s.sizes.tolist()
        (True, 2, [2, 3])
    """
    G = validate_graph(G)
    n_comp, labels = connected_components(G)
    sizes = np.bincount(labels, minlength=n_comp)
    complete = bool(np.all(np.diff(G.indptr) == sizes[labels] - 1))
    coo = G.tocoo()
    comp = labels[coo.row]
    wmax = np.full(n_comp, -np.inf)
    wmin = np.full(n_comp, np.inf)
    np.maximum.at(wmax, comp, coo.data)
    np.minimum.at(wmin, comp, coo.data)
    has_edges = np.isfinite(wmax)
    uniform = bool(np.all(wmax[has_edges] - wmin[has_edges] <= rtol * wmax[has_edges]))
    return CliqueStructure(n_components=n_comp, labels=labels, sizes=sizes, complete=complete,
                           uniform_weights=uniform)


def is_clique_union(G):
    """``(True, C)`` if ``G`` is a union of ``C`` disjoint cliques (every component complete), else ``(False, C)``.

    The short form of :func:`clique_structure` (edge weights are not compared).
    """
    s = clique_structure(G)
    return s.complete, s.n_components


GEODESIC_LENGTHS = ("hops", "inverse_weights")


def graph_geodesic_distances(G, lengths="hops", *, path_method="auto"):
    """Shortest-path distances between the nodes of a connected graph ``G``, shape ``(N, N)``.

    Args:
        G: connected positive-pair graph, shape ``(N, N)``.
        lengths: ``"hops"`` (every edge has length 1) or ``"inverse_weights"`` (edge ``ij`` has length ``1/G_ij``).
        path_method: ``scipy.sparse.csgraph.shortest_path`` method (``"auto"``, ``"D"``, ``"FW"``, ...).

    Raises:
        ValueError: ``G`` has more than one connected component (some distances would be infinite).

    Example:
        >>> graph_geodesic_distances(pair_graph(1))
        array([[0., 1.],
               [1., 0.]])
    """
    G = validate_graph(G)
    if lengths not in GEODESIC_LENGTHS:
        raise InputError(f"unknown lengths {lengths!r}; choose 'hops' or 'inverse_weights'")
    W = G.copy()
    W.data = np.ones_like(W.data) if lengths == "hops" else 1.0 / W.data
    return shortest_path_distances(
        W, path_method=path_method, what="G",
        fix="ISOMAP needs a connected graph (use a kNN graph with larger k, or embed each component separately)",
    )


def shortest_path_distances(W, *, path_method="auto", what="the graph", fix="connect it"):
    """All-pairs shortest paths of the undirected graph whose sparse matrix ``W`` holds the edge lengths.

    Stored zeros are zero-length edges (as in ``scipy.sparse.csgraph``: duplicated points in a kNN graph).
    This is the one shortest-path routine of kspectral: :func:`graph_geodesic_distances` (lengths from ``G``)
    and :func:`~kspectral.spectral.geodesic_distances` (Euclidean lengths on a kNN graph) call it.

    Args:
        W: sparse ``(N, N)`` matrix of non-negative edge lengths (directed entries are read as undirected).
        path_method: ``scipy.sparse.csgraph.shortest_path`` method.
        what, fix: the graph's name and the remedy, used in the error message.

    Raises:
        ValueError: the graph is disconnected.
    """
    n_comp, _ = csgraph.connected_components(W, directed=False)
    if n_comp > 1:
        raise InputError(
            f"{what} has {n_comp} connected components, so some geodesic distances are infinite; {fix}"
        )
    return csgraph.shortest_path(sp.csr_matrix(W), method=path_method, directed=False)
