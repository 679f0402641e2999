"""Honest results: the checks that flag a degenerate closed form, a singular linear regime, a disconnected or empty
graph and a probe at chance level.

A closed form can run to the end and still mean nothing: Barlow Twins' invariant closed form on a connected kNN
graph has rank 0 (every feature is 0), a linear baseline fitted on fewer samples than features is restricted to
the range of the training data, and a probe of such features sits at chance level. The workflows of
:mod:`kspectral.runs` attach the warnings of this module to their results and JSON files, as
``"warnings": [{"code": ..., "message": ...}]``, and the command line prints each as one yellow ``warning: ...``
line after the table. Every message gives the reason and the fix.

Codes (stable; ``docs/bad_input.md`` "Results that are flagged" has the table; :data:`CODES`):

- ``rank_deficient``: the closed form's rank is below the asked dimension (some of its columns are 0);
- ``fewer_samples_than_features``: linear regime with ``N ≤ D`` (the feature covariance is singular);
- ``disconnected_graph``: a graph meant to be connected (kNN, augmentation) has several connected components;
- ``empty_graph``: the graph has no edges (no closed form exists: :func:`kspectral.runs.fit_baseline` raises a
  ``ValueError`` with this message);
- ``chance_level_probe``: a probe's top-1 is at most ``chance + margin``, with ``chance = max(1/C, majority
  rate of the test split)`` and ``margin = max(0.02, 2σ)``, ``σ = √(chance·(1 − chance)/n_test)`` the binomial
  standard deviation of a chance-level top-1 on ``n_test`` test images (:func:`chance_margin`);
- ``online_probe_behind``: the online linear probe's top-1 at the last epoch is below the offline linear probe of
  the same encoder by more than ``max(0.02, 2σ)`` (``σ`` the binomial spread at their mean) and more than a tenth of
  the offline probe's gain over chance (:func:`online_probe_warnings`): its head, trained one step per batch beside
  the encoder, has not converged, so the online curve does not show what the representation is worth.

Pure Python, numpy and scipy; TensorFlow is never imported.
"""

from __future__ import annotations

import numpy as np
from kspectral.errors import InputError

#: the stable warning codes, with the condition each flags
CODES = {
    "rank_deficient": "the closed form's rank is below the asked dimension",
    "fewer_samples_than_features": "linear regime with at most as many samples as features (N ≤ D)",
    "disconnected_graph": "a kNN or augmentation graph with more than one connected component",
    "empty_graph": "a graph with no edges",
    "chance_level_probe": "a probe's top-1 is at most max(1/C, majority rate of the test split) + max(0.02, 2σ)",
    "online_probe_behind": "the online linear probe's last top-1 is below the offline linear probe of the same encoder "
                           "by more than max(0.02, 2σ) and a tenth of its gain over chance",
}
#: the smallest margin above chance level within which a probe is flagged (top-1 ≤ chance + margin)
CHANCE_MARGIN = 0.02
#: graph specifications whose components are meant (one per class, one per pair of views): never flagged
COMPONENT_GRAPHS = ("labels", "pairs")
#: the linear estimators of :mod:`kspectral.spectral.estimators` that take ``ridge``
RIDGE_ESTIMATORS = ("LinearVICReg", "LPP", "KernelLPP", "LinearBarlowTwins", "LinearSpectralClustering")
#: the nonparametric estimators that embed Laplacian eigenvectors (the constant vector skipped)
_EIGENMAP_ESTIMATORS = ("LaplacianEigenmaps", "SpectralClustering")


def warning(code, message):
    """One warning, ``{"code": code, "message": message}``; ``code`` must be one of :data:`CODES`."""
    if code not in CODES:
        raise InputError(f"unknown warning code {code!r}; choose one of: {', '.join(CODES)}")
    return {"code": code, "message": message}


def _components(graph):
    """``(connected components, isolated nodes, edges)`` of a scipy sparse or dense graph."""
    import scipy.sparse as sp
    from scipy.sparse import csgraph

    G = sp.csr_matrix(graph)
    G.eliminate_zeros()
    n_comp, _ = csgraph.connected_components(G, directed=False)
    isolated = int(np.sum(np.diff(G.indptr) == 0))
    return int(n_comp), isolated, int(G.nnz)


def graph_fix(spec):
    """What to do about a graph that is too sparse, in the words of the command line."""
    spec = "" if spec is None else str(spec)
    if spec.startswith("knn:"):
        k = spec.split(":", 1)[1]
        bigger = max(int(k) * 2, 10) if k.isdigit() else 20
        return f"use a larger k (--graph knn:{bigger}, or --knn-k {bigger} in kspectral train) or another --graph"
    if spec == "labels":
        return "no two samples share a label: use --graph knn:K or --graph pairs"
    if spec == "augment":
        return "use more draws (rounds) or another --graph (knn:K with a larger K)"
    return "use another --graph (knn:K with a larger K)"


def empty_graph_warning(graph, description="the positive-pair graph", spec=None):
    """The ``empty_graph`` warning when ``graph`` has no edges, else ``None``."""
    if _components(graph)[2]:
        return None
    n = graph.shape[0]
    return warning("empty_graph", f"{description} has no edges: each of its {n} nodes is its own component, so "
                                  "no positive pair constrains the embedding and no closed form exists; "
                                  f"{graph_fix(spec)}")


def _rank_message(estimator, method, rank, dim, objective, n_comp, problem, regime):
    lost = dim - rank
    unknown = "" if objective is not None else " and its objective is unknown"
    lower = f"lower the dimension to {rank} (--dim, or --baseline-dim in kspectral train)"
    if estimator == "BarlowTwinsEmbedding":
        why = ("Barlow Twins' invariant closed form spans the centred L-nullspace of the graph, one dimension per "
               "connected component minus the constant vector (which centring removes)")
        if n_comp <= 1:
            return (f"BarlowTwinsEmbedding has rank 0 of the asked dim {dim}: {why}, and the {problem.description} "
                    f"is connected (1 component), so nothing is left: every feature is 0{unknown}; the invariant "
                    "closed form needs a graph with many components: use --graph labels or --graph pairs (linear "
                    "regime), or another --method (e.g. vicreg)")
        return (f"BarlowTwinsEmbedding has rank {rank} of the asked dim {dim}: {why}, and the graph has {n_comp} "
                f"components, so {lost} of its columns are 0{unknown}; {lower}, or use a graph with more "
                "components (--graph labels or pairs)")
    if estimator == "SimplexEmbedding":
        return (f"SimplexEmbedding has rank {rank} of the asked dim {dim}: the clique optimum puts each of the "
                f"{n_comp} classes on a vertex of a regular simplex, which spans {n_comp} − 1 dimensions, so {lost} "
                f"of its columns are 0; {lower}")
    if regime == "linear":
        n, d = problem.X.shape
        fixes = [lower if rank else "use another --graph"]
        if estimator in RIDGE_ESTIMATORS:
            fixes.append(f"add a ridge (ridge=, e.g. {estimator}(ridge=1e-3) or fit_baseline(..., ridge=1e-3))")
        return (f"{estimator} ({method}, linear) has rank {rank} of the asked dim {dim}: the right-hand side of its "
                f"eigenproblem (the covariance of the {n} × {d} features) has rank {rank} (constant or collinear "
                f"features), so {lost} of its columns are 0{unknown}; {', or '.join(fixes)}")
    return (f"{estimator} ({method}, {regime}) has rank {rank} of the asked dim {dim}: {lost} of its columns are 0 "
            f"(the graph supports no more directions){unknown}; {lower}, or use another --graph")


def _disconnected_message(estimator, method, n_comp, isolated, dim, regime, problem):
    where = f"the {problem.description} has {n_comp} connected components"
    if isolated:
        where += f" ({isolated} of them isolated nodes)"
    if estimator == "BarlowTwinsEmbedding":
        effect = (f"Barlow Twins' invariant subspace (the L-nullspace) has one dimension per component, so its "
                  f"{min(dim, n_comp - 1)} columns are centred component indicators and say nothing within a "
                  "component")
    elif estimator in _EIGENMAP_ESTIMATORS:
        effect = (f"Laplacian eigenmaps skip only the one constant vector, so the first {min(dim, n_comp - 1)} of "
                  f"the {dim} columns are component indicators (eigenvalue 0, zero invariance cost) instead of "
                  "structure within the components" + (", and which indicators it keeps is arbitrary"
                                                       if n_comp - 1 > dim else ""))
    elif estimator == "SpectralContrastiveEmbedding":
        effect = (f"the top eigenvalue 1 of D^-1/2 G D^-1/2 has multiplicity {n_comp}, so the first "
                  f"{min(dim, n_comp)} columns are degree-weighted component indicators")
    elif regime == "linear":
        effect = ("no positive pair links the components, so the closed form (and a model trained on these pairs) "
                  "may separate them at no invariance cost")
    else:
        effect = f"the {method} closed form sees no positive pair between the components"
    return f"{where}: {effect}; {graph_fix(problem.spec)}"


def baseline_warnings(summary, problem, dim, regime, method=None, options=None):
    """The warnings of a fitted closed form (the summary of :func:`kspectral.runs.fit_baseline`).

    Args:
        summary: the baseline summary (``estimator``, ``rank``, ``objective``).
        problem: the :class:`~kspectral.runs.problem.GraphProblem` it was fitted on.
        dim: K, the asked dimension.
        regime: ``"linear"`` or ``"nonparametric"``.
        method: canonical method name, for the messages.
        options: the estimator options it was fitted with (a ``ridge > 0`` silences ``fewer_samples_than_features``).

    Returns:
        list of ``{"code", "message"}``: ``rank_deficient`` (rank < K), ``fewer_samples_than_features`` (linear
        regime, N ≤ D, no ridge), ``disconnected_graph`` (several components on a graph other than ``labels`` or
        ``pairs``, whose components are meant).

    Example:
        >>> import numpy as np
        >>> from kspectral.runs.problem import GraphProblem
        >>> from kspectral.spectral import knn_graph
        >>> X = np.random.default_rng(0).normal(size=(20, 50))
        >>> problem = GraphProblem(X, knn_graph(X, 3), "kNN graph (k=3)", "knn:3")
        >>> summary = {"estimator": "LinearVICReg", "rank": 4, "objective": 0.1}
        >>> [w["code"] for w in baseline_warnings(summary, problem, 4, "linear", "vicreg")]
        ['fewer_samples_than_features']
    """
    estimator, method = summary.get("estimator"), method or "the method"
    found = []
    n_comp, isolated, _ = _components(problem.graph)
    rank = summary.get("rank")
    if rank is not None and rank < dim:
        found.append(warning("rank_deficient", _rank_message(estimator, method, int(rank), int(dim),
                                                             summary.get("objective"), n_comp, problem, regime)))
    if regime == "linear":
        n, d = problem.X.shape
        ridge = float((options or {}).get("ridge", 0.0) or 0.0)
        if n <= d and ridge <= 0:
            fixes = ["use --regime nonparametric (kspectral spectral)"]
            if estimator in RIDGE_ESTIMATORS:
                fixes.append(f"a ridge (ridge=, e.g. {estimator}(ridge=1e-3) or fit_baseline(..., ridge=1e-3))")
            fixes.append("fewer features (a smaller --image-size) or more samples")
            found.append(warning(
                "fewer_samples_than_features",
                f"the linear regime has fewer samples than features (N={n} ≤ D={d}): the feature covariance is "
                f"singular, so {estimator} is restricted to the (at most {n - 1}-dimensional) range of the training "
                f"data and can probe below raw pixels; {', '.join(fixes[:-1])} or {fixes[-1]}",
            ))
    if n_comp > 1 and problem.spec not in COMPONENT_GRAPHS:
        found.append(warning("disconnected_graph",
                             _disconnected_message(estimator, method, n_comp, isolated, int(dim), regime, problem)))
    return found


def chance_level(y_test, num_classes=None):
    """``max(1/C, majority rate)``: the top-1 of the best constant prediction on the test labels.

    ``C`` is ``num_classes`` (default: the classes present in ``y_test``); the majority rate is the frequency of
    the most common test label.

    Example:
        >>> chance_level([0, 0, 0, 1], num_classes=10)
        0.75
    """
    y = np.asarray(y_test).ravel()
    if y.size == 0:
        raise InputError("chance_level needs test labels; got an empty array")
    _, counts = np.unique(y, return_counts=True)
    classes = int(num_classes) if num_classes else len(counts)
    return float(max(1.0 / classes, counts.max() / y.size))


def chance_margin(chance, n_test, minimum=CHANCE_MARGIN):
    """``max(minimum, 2σ)``, ``σ = √(chance·(1 − chance)/n_test)``: the margin above chance level within which a
    top-1 on ``n_test`` test images is flagged.

    2σ is the spread of the top-1 of a representation that carries no class information (a binomial proportion
    with success rate ``chance``): on digits' 360 test images 0.032, on CIFAR-10's 10 000 the minimum 0.02.

    Example:
        >>> round(chance_margin(0.1, 360), 4), chance_margin(0.1, 10000)
        (0.0316, 0.02)
    """
    return float(max(minimum, 2.0 * np.sqrt(chance * (1.0 - chance) / max(int(n_test), 1))))


def _probe_fix(name):
    if name == "raw pixels":
        return ("the inputs themselves do not separate the classes: check the labels, or use a larger --image-size")
    if name.endswith(" encoder"):
        return ("the encoder learnt no class information: train longer (--epochs) or with another --learning-rate, "
                "and check the loss in history.csv")
    return ("the closed form carries no class information: check its rank and graph (the warnings above, if any), "
            "and use another --graph or a lower --dim")


def probe_warnings(rows, dataset, margin=None):
    """``chance_level_probe`` warnings: one per row of the probe table with a probe at chance level.

    A probe is at chance level when its top-1 is at most ``chance + margin``: ``chance = max(1/C, majority
    rate)`` (:func:`chance_level` on the test labels, ``C = dataset.num_classes``) and ``margin =
    max(0.02, 2σ)`` (:func:`chance_margin`).

    Args:
        rows: :class:`~kspectral.runs.ProbeRow` list (``name``, ``linear``, ``knn``, ``mlp``).
        dataset: anything with ``y_test`` (and optionally ``num_classes``): the labels the rows were probed on.
        margin: a fixed margin above chance instead of :func:`chance_margin`.
    """
    rows = list(rows)
    if not rows or getattr(dataset, "y_test", None) is None or len(dataset.y_test) == 0:
        return []
    classes = getattr(dataset, "num_classes", None)
    chance = chance_level(dataset.y_test, classes)
    if margin is None:
        margin = chance_margin(chance, len(dataset.y_test))
    limit = chance + margin
    labels = {"linear": "linear", "knn": "kNN", "mlp": "MLP"}
    classes = classes or len(np.unique(dataset.y_test))
    found = []
    for row in rows:
        low = [f"{labels[p]} top-1 {getattr(row, p):.3f}" for p in labels
               if getattr(row, p, None) is not None and getattr(row, p) <= limit]
        if low:
            found.append(warning(
                "chance_level_probe",
                f"{row.name!r}: {', '.join(low)} {'is' if len(low) == 1 else 'are'} at chance level "
                f"(≤ {limit:.3f} = max(1/C, majority rate) {chance:.3f} + {margin:.3f}, {classes} classes, "
                f"{len(dataset.y_test)} test images): {_probe_fix(row.name)}",
            ))
    return found


#: ``online_probe_behind`` needs the online top-1 to miss more than this fraction of the offline probe's gain over
#: chance (besides the test split's noise): a head trained by SGD beside the encoder is expected to lag a converged
#: logistic regression by a little (the default digits run: 0.967 against 0.994, 3 % of the gain)
ONLINE_LAG_FRACTION = 0.1


def online_probe_warnings(final_logs, rows, dataset, head_steps=None):
    """``online_probe_behind``: the online linear probe's last top-1 lags the offline linear probe of the encoder.

    The online head (:class:`~kspectral.methods.SSLModel` with ``online_probe_classes``) trains one step per batch
    beside the encoder, from zeros; the offline linear probe (:func:`kspectral.probes.linear_probe`) fits a
    logistic regression to convergence on the final representations. Flagged when ``offline − online`` exceeds both
    ``max(0.02, 2σ)``, ``σ = √(p̄(1 − p̄)/n_test)`` the binomial spread of a top-1 at their mean ``p̄`` (more than
    test-split noise), and :data:`ONLINE_LAG_FRACTION` (a tenth) of ``offline − chance`` (more than the small lag
    expected of such a head): the online curve then shows the head's progress rather than the representation's
    (LFW's 200 faces / non-faces, 40 steps: online 0.75, offline 1.00, margin 0.10, a tenth of the gain 0.05).

    Args:
        final_logs: the last epoch's logs (``online_linear_top1``; nothing is flagged without it).
        rows: the probe table; the row whose name ends with ``" encoder"`` gives the offline linear top-1.
        dataset: anything with ``y_test``.
        head_steps: how many steps the head trained, for the message.

    Returns:
        ``[]`` or ``[{"code": "online_probe_behind", "message": ...}]``.

    Example:
        >>> from kspectral.runs import ProbeRow
        >>> rows = [ProbeRow("vicreg encoder", 128, 1.0, 0.825)]
        >>> class Split: y_test = [0, 1] * 20
        >>> [w["code"] for w in online_probe_warnings({"online_linear_top1": 0.5}, rows, Split, head_steps=40)]
        ['online_probe_behind']
    """
    online = (final_logs or {}).get("online_linear_top1")
    y_test = getattr(dataset, "y_test", None)
    encoder = next((r for r in rows if r.name.endswith(" encoder") and r.linear is not None), None)
    if online is None or encoder is None or y_test is None or len(y_test) == 0:
        return []
    online = float(online)
    if not np.isfinite(online):
        return []
    n_test, offline = len(y_test), float(encoder.linear)
    mean = (online + offline) / 2
    chance = chance_level(y_test, getattr(dataset, "num_classes", None))
    margin = max(chance_margin(mean, n_test), ONLINE_LAG_FRACTION * (offline - chance))
    if offline - online <= margin:
        return []
    at_chance = (f", at chance level (max(1/C, majority rate) {chance:.3f})"
                 if online <= chance + chance_margin(chance, n_test) else "")
    steps = f" after {head_steps} steps of its head" if head_steps else ""
    return [warning(
        "online_probe_behind",
        f"the online linear probe's top-1 on the test split at the last epoch, {online:.3f}{at_chance}, is "
        f"{offline - online:.3f} below the offline linear probe of the same encoder, {offline:.3f} (more than the "
        f"margin {margin:.3f}, the larger of the noise of {n_test} test images and a tenth of the gain over chance)"
        f"{steps}: the online head trains one step per batch beside the encoder and has not converged, so the "
        "online_linear_top1 curve (history.csv, training_curves.png) shows the head's progress, not what the "
        "representation is worth; read the offline probes of the table, or train more steps (--epochs, a smaller "
        "--batch-size) for a curve that tracks them",
    )]


__all__ = ["CHANCE_MARGIN", "CODES", "baseline_warnings", "chance_level", "chance_margin", "empty_graph_warning",
           "online_probe_warnings", "probe_warnings", "warning"]
