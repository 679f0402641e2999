"""Which closed form is each SSL method's spectral counterpart, and how firmly: one table.

Balestriero & LeCun (2022, "Contrastive and Non-Contrastive Self-Supervised Learning Recover Global and Local
Spectral Embedding Methods", arXiv:2205.11508) map the non-contrastive losses to local spectral embeddings
(Laplacian eigenmaps; LPP in the linear regime) and the contrastive ones to global embeddings (MDS / ISOMAP).
:data:`BASELINES` records, for every canonical method name and each regime, the scikit-learn estimator of
:mod:`kspectral.spectral.estimators` that computes the counterpart and the status of the correspondence:

- ``"theorem"``: a published theorem says the estimator computes the loss's optimum;
- ``"derived"``: the optimum, derived in ``docs/spec/theory.md`` and checked numerically (float64) against a
  direct minimisation of the loss;
- ``"analogy"``: the nearest closed form of the same family; not the loss's optimum.

A regime can hold several cases: the SimCLR family has an exact optimum only when ``G`` is a union of at most
``K + 1`` equal cliques, and linear Barlow Twins is CCA only on the two-view pair graph. :func:`spectral_baseline`
fits the case that applies; :func:`counterpart` and :func:`status` name it; :func:`markdown_table` writes the
README's table from the same data. numpy / scipy / scikit-learn only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from kspectral import catalog
from kspectral._validation import check_matrix, check_positive_int
from kspectral.errors import InputError

# The table is read without scipy or scikit-learn (``kspectral methods`` answers at once): the graph checks and
# the estimators are imported by the functions that use them.

STATUSES = ("theorem", "derived", "analogy")
REGIMES = catalog.REGIMES


@dataclass(frozen=True)
class Counterpart:
    """One case of a method's counterpart in one regime.

    Attributes:
        estimator: class name in :mod:`kspectral.spectral.estimators`.
        status: ``"theorem"``, ``"derived"`` or ``"analogy"`` (see the module docstring).
        description: what the estimator computes, in a few words.
        citation: where the correspondence comes from.
        condition: when this case applies, in words (``""``: on any graph).
        applies: ``applies(G, dim) -> bool`` on a validated graph (``None``: on any graph).
    """

    estimator: str
    status: str
    description: str
    citation: str
    condition: str = ""
    applies: Callable | None = field(default=None, compare=False, repr=False)

    def __post_init__(self):
        if self.status not in STATUSES:
            raise InputError(f"status must be one of {STATUSES}, got {self.status!r}")
        from kspectral.spectral import _EXPORTS  # the package's export table: names, without importing them

        if self.estimator not in _EXPORTS["estimators"]:
            raise InputError(f"{self.estimator!r} is not an estimator of kspectral.spectral.estimators")


@dataclass(frozen=True)
class Baseline:
    """A method's counterparts: per regime, the special cases first and the general case (any graph) last."""

    method: str
    nonparametric: tuple
    linear: tuple

    def cases(self, regime):
        """The cases of ``regime`` (``"nonparametric"`` or ``"linear"``)."""
        if regime not in REGIMES:
            raise InputError(f"unknown regime {regime!r}; choose 'nonparametric' or 'linear'")
        return getattr(self, regime)


def _simplex_applies(G, dim):
    if dim is None:
        raise InputError("whether the simplex closed form applies depends on the embedding dimension: pass dim=K")
    from kspectral.spectral.nonparametric import simplex_obstacle

    return simplex_obstacle(G, dim) is None


def _pair_graph_applies(G, dim):
    from kspectral.spectral.graphs import is_pair_graph

    return is_pair_graph(G)


_THEORY = "docs/spec/theory.md"
_BL = "Balestriero & LeCun 2022, arXiv:2205.11508"

_EIGENMAPS = Counterpart(
    "LaplacianEigenmaps", "derived", "Laplacian eigenmaps √N·U_{2:K+1} (the hard-constraint limit)",
    f"{_BL}: the invariance term is the Dirichlet energy tr(ZᵀLZ); {_THEORY} §3.2",
)
_LINEAR_VICREG = Counterpart(
    "LinearVICReg", "derived", "XᵀLX w = ν XᵀHX w, an LPP-type projection",
    f"{_BL} (kernel LPP in data space); {_THEORY} §4",
)


def _as_analogy(case, citation):
    return Counterpart(case.estimator, "analogy", case.description, citation, case.condition, case.applies)


_SIMPLEX = Counterpart(
    "SimplexEmbedding", "derived", "class collapse onto a regular simplex",
    f"Graf, Hofer, Niethammer & Kwitt 2021 (balanced classes); {_THEORY} §3.3",
    condition="G is a union of C ≤ K + 1 equal cliques with uniform weights", applies=_simplex_applies,
)
_ISOMAP = Counterpart(
    "GraphIsomap", "analogy", "ISOMAP (classical MDS) of G's shortest-path distances",
    f"{_BL} relate sample-contrastive losses to MDS / ISOMAP; the kernel that would make it exact is not established",
)
_LINEAR_CONTRASTIVE_ANALOGY = Counterpart(
    "LinearSpectralContrastive", "analogy", "the spectral contrastive closed form with a linear encoder",
    "the sample-contrastive loss with a linear closed form; none is known for this loss",
)


def _global_family(simplex_status, simplex_citation=None):
    simplex = _SIMPLEX if simplex_status == "derived" else _as_analogy(_SIMPLEX, simplex_citation)
    return (simplex, _ISOMAP), (_LINEAR_CONTRASTIVE_ANALOGY,)


def _clustering(citation):
    """The clustering family (DISSL, DINO, SwAV): spectral clustering of G, by analogy, for the reason ``citation``
    gives; linear: k-means on linear VICReg's coordinates."""
    return ((Counterpart("SpectralClustering", "analogy", "k-means on Laplacian eigenmaps into K + 1 clusters",
                         citation),),
            (Counterpart("LinearSpectralClustering", "analogy", "k-means on linear VICReg's K coordinates",
                         "the linear analogue of spectral clustering"),))


_NOT_FOR_THIS_LOSS = "SimCLR's clique optimum (Graf et al. 2021); not established for this loss"
_MOCO = ("InfoNCE against momentum keys (and queue negatives) is the NT-Xent family: SimCLR's clique optimum "
         "(Graf et al. 2021); not established with a momentum teacher and a queue")
_DIRECTPRED = ("Tian, Chen & Ganguli 2021, arXiv:2102.06810 (DirectPred): with a linear predictor the predictor "
               "comes to share the eigenbasis of the online projections' correlation F and the weights align with "
               "F's leading eigenvectors, so the learnt subspace is the leading eigen-directions of the "
               "augmentation-averaged correlation; the invariance 2 − 2 cos is the pair graph's Dirichlet energy on "
               "the sphere; VICReg's closed form, not this loss's optimum")

_ENTRIES = [
    Baseline("vicreg", (_EIGENMAPS,), (_LINEAR_VICREG,)),
    Baseline(
        "vicreg_exp",
        (_as_analogy(_EIGENMAPS, "VICReg-exp (Garrido et al. 2023, arXiv:2206.02574, Eq. 12) keeps VICReg's "
                                 "invariance term and whitening target; VICReg's closed form"),),
        (_as_analogy(_LINEAR_VICREG, "VICReg's linear closed form"),),
    ),
    Baseline("vicreg_ctr", *_global_family("analogy", _NOT_FOR_THIS_LOSS)),
    Baseline(
        "barlow_twins",
        (Counterpart("BarlowTwinsEmbedding", "derived", "orthonormal centred basis of the L-nullspace",
                     f"Zbontar et al. 2021, arXiv:2103.03230: the loss is 0 on whitened view-invariant Z; "
                     f"{_THEORY} §3.5"),),
        (
            Counterpart("LinearBarlowTwins", "derived", "symmetric CCA of the two views (the span, up to a rotation)",
                        f"{_THEORY} §3.5", condition="G is the two-view pair graph", applies=_pair_graph_applies),
            Counterpart("LinearBarlowTwins", "analogy", "graph CCA, XᵀGX w = ρ XᵀDX w",
                        "the graph analogue of CCA"),
        ),
    ),
    Baseline(
        "tcr",
        (_as_analogy(_EIGENMAPS, "TCR (Yu et al. 2020; Tong et al. 2023, arXiv:2304.03977) is dimension-"
                                 "contrastive (Garrido et al. 2023); VICReg's closed form"),),
        (_as_analogy(_LINEAR_VICREG, "VICReg's linear closed form"),),
    ),
    Baseline(
        "spectral_contrastive",
        (Counterpart("SpectralContrastiveEmbedding", "theorem",
                     "D_w^{-1/2} V_K √μ_K, the top eigenvectors of D^{-1/2} G D^{-1/2}",
                     "HaoChen, Wei, Gaidon & Ma 2021, arXiv:2106.04156: the loss is a low-rank matrix "
                     "factorisation of the normalised adjacency; Eckart–Young"),),
        (Counterpart("LinearSpectralContrastive", "derived", "the same low-rank fit of G projected onto span X",
                     f"{_THEORY} §4"),),
    ),
    Baseline("simclr", *_global_family("derived")),
    Baseline("dcl", *_global_family("analogy", _NOT_FOR_THIS_LOSS)),
    Baseline("cissl", *_global_family("analogy", _NOT_FOR_THIS_LOSS)),
    # NNCLR (Dwibedi et al. 2021, arXiv:2104.14548): SimCLR's cross-entropy with each view's nearest neighbour in the
    # support set as the positive, so its positives are a kNN graph of the embeddings (NNCLR.pair_graph builds it)
    Baseline("nnclr", *_global_family(
        "analogy", "Dwibedi et al. 2021, arXiv:2104.14548: the positives are nearest neighbours in embedding space, "
                   "i.e. the pair graph is a kNN graph of the embeddings; SimCLR's clique optimum on that graph "
                   "by analogy")),
    # InfoNCE of online queries against momentum keys (and, for MoCo v2, queue negatives) is the NT-Xent family
    Baseline("mocov3", *_global_family("analogy", _MOCO)),
    Baseline("mocov2", *_global_family("analogy", _MOCO)),
    # BYOL and SimSiam: no negatives; the predictor (with the stop-gradient) is what keeps them from collapsing
    *(Baseline(name, (_as_analogy(_EIGENMAPS, _DIRECTPRED),), (_as_analogy(_LINEAR_VICREG, _DIRECTPRED),))
      for name in ("byol", "simsiam")),
    Baseline("dissl", *_clustering(
        "Dubois et al. 2022, arXiv:2209.06235: a balanced partition that few positive pairs cross; spectral clustering "
        "is its spectral relaxation")),
    Baseline("dino", *_clustering(
        "Caron et al. 2021, arXiv:2104.14294: the teacher's centring (against one prototype taking every sample) and "
        "sharpening (against uniform rows) make its softmax a balanced, near-hard assignment of the samples to the "
        "prototypes, which the views of a sample must share, as DISSL's; spectral clustering is the balanced cut's "
        "spectral relaxation")),
    Baseline("swav", *_clustering(
        "Caron et al. 2020, arXiv:2006.09882: Sinkhorn is the balanced (doubly-stochastic) normalisation of the "
        "sample–prototype affinity, so the codes are an equipartition that the positive pairs share; spectral "
        "clustering of the pair graph is the balanced cut's spectral relaxation")),
]

#: Canonical method name → :class:`Baseline`.
BASELINES = {entry.method: entry for entry in _ENTRIES}


def _baseline(method):
    if not isinstance(method, str) or method not in BASELINES:
        raise InputError(f"unknown method {method!r}; the methods with a spectral baseline are: "
                         f"{', '.join(sorted(BASELINES))}")
    return BASELINES[method]


def resolve(method, regime="nonparametric", graph=None, dim=None):
    """The :class:`Counterpart` case of ``method`` in ``regime`` on ``graph`` (the general case without a graph).

    Args:
        method: canonical method name (a key of :data:`BASELINES`).
        regime: ``"nonparametric"`` or ``"linear"``.
        graph: positive-pair graph ``G``, or ``None`` for the case that holds on any graph.
        dim: K; needed with a graph when the choice depends on it (the SimCLR family's simplex: ``C ≤ K + 1``).
    """
    cases = _baseline(method).cases(regime)
    if graph is None:
        return cases[-1]
    from kspectral.spectral.graphs import validate_graph

    G = validate_graph(graph)
    dim = None if dim is None else check_positive_int(dim, "dim")
    return next(case for case in cases if case.applies is None or case.applies(G, dim))


def counterpart(method, regime="nonparametric", graph=None, dim=None):
    """Class name of the estimator :func:`spectral_baseline` returns for ``method`` in ``regime``.

    With ``graph`` (and ``dim``), the estimator for that graph; without, the one for a general graph.

    Example:
        >>> counterpart("simclr"), counterpart("simclr", "linear")
        ('GraphIsomap', 'LinearSpectralContrastive')
    """
    return resolve(method, regime, graph, dim).estimator


def status(method, regime="nonparametric", graph=None, dim=None):
    """``"theorem"``, ``"derived"`` or ``"analogy"``: how firmly :func:`counterpart` is ``method``'s optimum.

    Example:
        >>> status("spectral_contrastive"), status("vicreg", "linear"), status("dissl")
        ('theorem', 'derived', 'analogy')
    """
    return resolve(method, regime, graph, dim).status


def spectral_baseline(method, graph, dim, features=None, **options):
    """Fit ``method``'s closed-form counterpart on ``graph``: nonparametric, or linear when ``features`` are given.

    Args:
        method: canonical method name (a key of :data:`BASELINES`).
        graph: positive-pair graph ``G``, shape ``(N, N)``.
        dim: K, the embedding dimension (a clustering counterpart gets ``K + 1`` clusters, so that its embedding
            has ``K`` coordinates).
        features: ``X`` of shape ``(N, D)`` for the linear regime; ``None`` for the nonparametric one.
        **options: hyperparameters of the chosen estimator (e.g. ``variant``, ``invariance_weight``, ``ridge``
            for :class:`~kspectral.spectral.LinearVICReg`).

    Returns:
        The fitted estimator, of class :func:`counterpart(method, regime, graph, dim) <counterpart>`.

    Raises:
        ValueError: unknown method, invalid graph, or ``features`` whose rows do not match ``graph``.
        TypeError: an option the chosen estimator does not take.

    Example:
        >>> from kspectral.spectral import label_graph
        >>> est = spectral_baseline("simclr", label_graph([0, 0, 1, 1, 2, 2]), dim=2)
        >>> type(est).__name__, est.rank_
        ('SimplexEmbedding', 2)
    """
    from sklearn.base import ClusterMixin

    from kspectral.spectral import estimators as _estimators
    from kspectral.spectral.graphs import validate_graph

    dim = check_positive_int(dim, "dim")
    regime = "nonparametric" if features is None else "linear"
    if features is not None:
        features = check_matrix(features, "features", min_rows=2)
    G = validate_graph(graph, n=None if features is None else features.shape[0])
    case = resolve(method, regime, G, dim)
    cls = getattr(_estimators, case.estimator)
    accepted = set(cls().get_params()) - {"graph", "n_components", "n_clusters"}
    unknown = sorted(set(options) - accepted)
    if unknown:
        raise TypeError(
            f"{cls.__name__} (the {regime} counterpart of {method} on this graph) takes no option "
            f"{', '.join(map(repr, unknown))}; it takes: {', '.join(sorted(accepted))}"
        )
    size = {"n_clusters": dim + 1} if issubclass(cls, ClusterMixin) else {"n_components": dim}
    if features is None:
        return cls(graph="precomputed", **size, **options).fit(G)
    return cls(**size, **options).fit(features, graph=G)


def _cell(cases):
    parts = []
    for i, case in enumerate(cases):
        when = f" if {case.condition}" if case.condition else (" otherwise" if i else "")
        parts.append(f"`{case.estimator}`: {case.description}{when}")
    return "; ".join(parts)


def _status_cell(entry):
    def statuses(cases):
        return [case.status for case in cases]

    every = statuses(entry.nonparametric) + statuses(entry.linear)
    if len(set(every)) == 1:
        return every[0]
    return "; ".join(f"{regime}: {' / '.join(statuses(entry.cases(regime)))}" for regime in REGIMES)


def markdown_table():
    """The README's Methods table (method, nonparametric counterpart, linear counterpart, status), as Markdown.

    Where a regime has several cases, they are listed in order, with the condition of each, and the status
    column lists their statuses in the same order.
    """
    lines = [
        "| method | nonparametric counterpart | linear counterpart | status |",
        "|---|---|---|---|",
    ]
    for entry in _ENTRIES:
        lines.append(f"| `{entry.method}` | {_cell(entry.nonparametric)} | {_cell(entry.linear)} | "
                     f"{_status_cell(entry)} |")
    return "\n".join(lines) + "\n"
