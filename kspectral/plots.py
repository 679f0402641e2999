"""Figures of a run and of an augmentation preset, written as PNG files (matplotlib, no display needed).

- :func:`augmentation_grid`: one row per image, the image then ``views`` augmented views of it (the
  ``kspectral augment`` command);
- :func:`plot_run`: the figures of a finished run directory (the ``kspectral plot`` command): training curves,
  the covariance spectrum of the representations and embeddings, a 2-D map of the test representations coloured by
  label, and the probe table as a bar chart.

The figures are drawn on ``matplotlib.figure.Figure`` objects and saved with the Agg renderer: ``pyplot`` is never
imported, so nothing here changes the matplotlib backend of the caller (a notebook keeps its own), and importing
``kspectral`` does not import matplotlib at all. Same inputs give the same PNG bytes.

Example:
    >>> from kspectral.plots import augmentation_grid, plot_run
    >>> from kspectral.data import digits
    >>> augmentation_grid(digits().x_test[:4], "digits", views=6, out="grid.png")      # doctest: +SKIP
    PosixPath('grid.png')
    >>> plot_run("runs/quick")                                                         # doctest: +SKIP
    [PosixPath('runs/quick/plots/training_curves.png'), PosixPath('runs/quick/plots/spectrum.png'), ...]
"""

from __future__ import annotations

import csv
import json
import logging
import math
from pathlib import Path

import numpy as np

from kspectral._validation import check_positive, check_positive_int
from kspectral.errors import InputError

logger = logging.getLogger(__name__)

#: resolution of every figure, dots per inch
DPI = 100
#: the history columns of the representation diagnostics (:mod:`kspectral.methods.diagnostics`)
COLLAPSE_DIAGNOSTICS = ("embedding_std", "sample_contrastive", "dimension_contrastive")
#: history columns that are not loss terms
_NOT_TERMS = {"epoch", "loss", "rankme", "lr", "learning_rate", *COLLAPSE_DIAGNOSTICS}
#: normalised eigenvalues at or below this are numerical zeros (float32 features): the spectrum curve ends there
SPECTRUM_FLOOR = 1e-12
#: at most this many test images are encoded for the spectrum and the 2-D map
MAX_POINTS = 2000
#: the file names :func:`plot_run` writes
RUN_PLOTS = ("training_curves.png", "spectrum.png", "embedding_2d.png", "probes.png")


def _figure(width, height):
    """A ``Figure`` of ``width × height`` inches, not attached to pyplot (saved with the Agg renderer)."""
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=DPI)


def _save(fig, path, description):
    """Save ``fig`` as a PNG at ``path`` (folders created) with ``description`` in its text metadata."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="png", dpi=DPI, metadata={"Description": description})
    return path


# ---------------------------------------------------------------------------------------------- augmentation grid
def _check_images(images):
    """``images`` as float32 ``(n, H, W, C)`` with ``C ∈ {1, 3}`` and values in ``[0, 1]``."""
    x = np.asarray(images)
    if x.ndim == 3:
        x = x[..., None]
    if x.ndim != 4 or x.shape[0] == 0 or x.shape[-1] not in (1, 3):
        raise InputError(
            f"images must be a non-empty array (n, H, W, C) with C = 1 (grayscale) or 3 (RGB), got shape {x.shape}"
        )
    if not np.issubdtype(x.dtype, np.number) or np.issubdtype(x.dtype, np.complexfloating):
        raise InputError(f"images must hold real numbers, got dtype {x.dtype}")
    x = x.astype(np.float32)
    if not np.all(np.isfinite(x)):
        raise InputError("images contain NaN or infinite values")
    if x.min() < 0.0 or x.max() > 1.0:
        raise InputError(
            f"images must have values in [0, 1], got [{x.min():g}, {x.max():g}]; scale them first "
            "(e.g. images / 255 for 8-bit images)"
        )
    return x


#: the grid draws from counter ``seed · GRID_STRIDE`` of the augmenters' generators (``kspectral.data.seeding``'s
#: rule with ``t = seed`` and this stride), away from the counters ``64·t`` of the first training batches
GRID_STRIDE = 1000003


def _distributions(augmenter, images, seed, image_size, options):
    """The view distributions of the grid: ``kspectral.data.views.view_augmenters`` of ``augmenter``, a preset built
    for ``images`` (their channels, and their size unless ``image_size`` says otherwise) and seeded with ``seed``; a
    single augmenter (both views the same object) is one distribution."""
    from kspectral.data.views import view_augmenters

    if isinstance(augmenter, str):
        size = image_size if image_size is not None else images.shape[1:3]
        views = view_augmenters(augmenter, image_size=size, channels=images.shape[-1], seed=seed, options=options)
    else:
        if image_size is not None or options:
            raise InputError("image_size and augment_options apply to a preset name, not to augmenter objects")
        if isinstance(augmenter, (list, tuple)) and len(augmenter) == 1:  # a list of one distribution
            augmenter = augmenter[0]
        views = view_augmenters(augmenter)
    return [views[0]] if all(v is views[0] for v in views) else list(views)


def _draw_views(augmenters, images, views, seed):
    """``views`` batches of views of ``images``, cycling through ``augmenters``: a list of ``(k, array)``.

    The random generators of the augmenters draw from counter ``seed · GRID_STRIDE`` (their own seeds kept:
    :func:`kspectral.data.seeding.reseeded`) and are restored afterwards, so the grid is reproducible and the
    augmenters' streams are left as they were.
    """
    import keras

    from kspectral.data.seeding import reseeded

    with reseeded(list(augmenters), seed, stride=GRID_STRIDE):
        out = []
        for j in range(views):
            k = j % len(augmenters)
            view = keras.ops.convert_to_numpy(augmenters[k](images, training=True))
            if view.ndim != 4 or view.shape[0] != images.shape[0]:
                raise InputError(f"augmenter {k} returned shape {view.shape} for images of shape {images.shape}; "
                                 "an augmenter must map (n, H, W, C) to (n, H', W', C')")
            out.append((k, view))
        return out


def _distribution_labels(augmenters, preset=None):
    """One short label per view distribution: ``D1 large``/``D3 small`` for multi-crop, else ``D1 <name>``."""
    if preset == "multicrop":
        return [f"D{k + 1} {'large' if k < 2 else 'small'}" for k in range(len(augmenters))]
    names = [getattr(a, "name", None) or type(a).__name__ for a in augmenters]
    if len(augmenters) == 1:
        return names
    if len(set(names)) < len(names):
        return [f"D{k + 1}" for k in range(len(augmenters))]
    return [f"D{k + 1} {name}" for k, name in enumerate(names)]


def _show(ax, image, canvas):
    """Draw ``image`` (H, W, C) at its own size, centred on a ``canvas = (H, W)`` panel."""
    h, w = image.shape[:2]
    ch, cw = canvas
    left, top = (cw - w) / 2, (ch - h) / 2
    image = np.clip(image, 0.0, 1.0)
    kwargs = dict(extent=(left, left + w, top + h, top), interpolation="nearest")
    if image.shape[-1] == 1:
        ax.imshow(image[..., 0], cmap="gray", vmin=0.0, vmax=1.0, **kwargs)
    else:
        ax.imshow(image, **kwargs)
    ax.set_xlim(0, cw)
    ax.set_ylim(ch, 0)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_facecolor("#e8e8e8")


def augmentation_grid(images, augmenter, *, views=6, seed=0, out="grid.png", title=None, image_size=None,
                      augment_options=None, panel_size=1.3):
    """Render a grid of augmented views: one row per image, the original then ``views`` views of it.

    With several view distributions (``byol``/``vicreg``: two; ``multicrop``: two large then the small ones) the
    columns cycle through them and each column title names its distribution (``D1 byol_view1``, ``D3 small``, ...)
    and the view's size. Every image is drawn at its own size on a panel of the largest size in the grid
    (nearest-neighbour pixels, no upscaling), so multi-crop's small views appear smaller than the large ones, as the
    network sees them; grayscale images are shown in gray. Values are clipped to ``[0, 1]`` for display (additive
    noise can leave it).

    The random generators of the augmenters draw from counter ``seed · 1000003`` (their own seeds kept) and are
    restored after the draws: the same ``images``, ``augmenter`` and ``seed`` give the same PNG bytes, and a preset
    name is built with ``seed=seed``. The PNG's ``Description`` metadata reads
    ``rows=n columns=views+1 ... sizes=HxW,...`` (one size per column).

    Args:
        images: array ``(n, H, W, C)`` (or ``(n, H, W)``), ``C`` 1 or 3, values in ``[0, 1]``.
        augmenter: a preset name of :data:`kspectral.data.AUGMENTERS` (built for these images: their channels and,
            unless ``image_size`` says otherwise, their size), a Keras augmenter called as
            ``augmenter(x, training=True)``, or a tuple/list of them (one per view distribution).
        views: augmented views per image, ``≥ 1``.
        seed: seed of the views.
        out: PNG path (folders created).
        title: figure title (default: the preset name, or nothing).
        image_size: output size of a preset's views (default: the images' size).
        augment_options: options of a preset (e.g. ``{"strength": 0.5}`` or ``{"n_small": 4}``).
        panel_size: side of one panel, in inches (at :data:`DPI` dots per inch).

    Returns:
        the path of the PNG; the image is ``(views + 1) · panel_size · DPI`` pixels wide.

    Example:
        >>> from kspectral.data import digits
        >>> augmentation_grid(digits().x_test[:3], "digits", views=4, out="digits_grid.png")   # doctest: +SKIP
        PosixPath('digits_grid.png')
    """
    x = _check_images(images)
    views = check_positive_int(views, "views")
    seed = check_positive_int(seed, "seed", minimum=0)
    panel_size = check_positive(panel_size, "panel_size")
    if isinstance(augmenter, str) and title is None:
        title = f"augmentation preset {augmenter!r}"
    augmenters = _distributions(augmenter, x, seed, image_size, augment_options)
    drawn = _draw_views(augmenters, x, views, seed)
    labels = _distribution_labels(augmenters, augmenter if isinstance(augmenter, str) else None)

    rows, cols = x.shape[0], views + 1
    canvas = (max([x.shape[1]] + [v.shape[1] for _, v in drawn]), max([x.shape[2]] + [v.shape[2] for _, v in drawn]))
    header = 0.55 + (0.35 if title else 0.0)
    width, height = cols * panel_size, rows * panel_size + header
    fig = _figure(width, height)
    fig.subplots_adjust(left=0.005, right=0.995, bottom=0.05 / height, top=1 - header / height, wspace=0.06,
                        hspace=0.06)
    axes = fig.subplots(rows, cols, squeeze=False)
    small = 7 if panel_size < 1.6 else 8
    for i in range(rows):
        _show(axes[i, 0], x[i], canvas)
        for j, (k, view) in enumerate(drawn, start=1):
            _show(axes[i, j], view[i], canvas)
    axes[0, 0].set_title(f"original\n{x.shape[1]}×{x.shape[2]}", fontsize=small)
    for j, (k, view) in enumerate(drawn, start=1):
        axes[0, j].set_title(f"{labels[k]}\n{view.shape[1]}×{view.shape[2]}", fontsize=small)
    if title:
        sizes = {x.shape[1:3]} | {v.shape[1:3] for _, v in drawn}
        if len(sizes) > 1:
            title += " (each view at its own size, not upscaled)"
        fig.suptitle(title, fontsize=10, y=1 - 0.12 / height)
    sizes = [f"{x.shape[1]}x{x.shape[2]}"] + [f"{v.shape[1]}x{v.shape[2]}" for _, v in drawn]
    description = (f"rows={rows} columns={cols} views={views} seed={seed} distributions={','.join(labels)} "
                   f"sizes={','.join(sizes)}")
    return _save(fig, out, description)


# ---------------------------------------------------------------------------------------------- run plots
class Plots(list):
    """The PNG paths :func:`plot_run` wrote (a list of ``Path``), with ``skipped``: ``{file name: reason}``."""

    def __init__(self, paths=(), skipped=None):
        super().__init__(paths)
        self.skipped = dict(skipped or {})


def read_history(path):
    """``history.csv`` (Keras ``CSVLogger``) as ``{column: float array}``; unparsable or empty cells are NaN.

    Example:
        >>> read_history("runs/quick/history.csv")["loss"]          # doctest: +SKIP
        array([12.3, 10.9])
    """
    with open(path, newline="") as f:
        reader = csv.DictReader(f)
        columns = {name: [] for name in (reader.fieldnames or []) if name}
        for row in reader:
            for name in columns:
                try:
                    columns[name].append(float(row.get(name) or "nan"))
                except ValueError:
                    columns[name].append(math.nan)
    return {name: np.asarray(values, dtype=float) for name, values in columns.items()}


def _spans_decades(series):
    """Whether the finite values of ``series`` (list of arrays) are positive and span a factor ≥ 10 within one
    series or ≥ 100 across them (then a log axis reads better)."""
    finite = [s[np.isfinite(s)] for s in series]
    finite = [s for s in finite if s.size]
    if not finite or any(s.min() <= 0 for s in finite):
        return False
    within = max(s.max() / s.min() for s in finite)
    across = max(s.max() for s in finite) / min(s.min() for s in finite)
    return within >= 10 or across >= 100


def _history_groups(history):
    """The panels of the training curves: ``[(title, [column, ...], y-range or None)]``, empty groups left out."""
    present = [c for c in history if c != "epoch" and np.isfinite(history[c]).any()]
    groups = [
        ("loss", [c for c in ("loss", "val_loss") if c in present], None),
        ("loss terms", [c for c in present if c.removeprefix("val_") not in _NOT_TERMS
                        and not c.removeprefix("val_").startswith("online_")], None),
        ("RankMe (effective rank)", [c for c in ("rankme", "val_rankme") if c in present], None),
        ("collapse diagnostics", [c for c in present if c.removeprefix("val_") in COLLAPSE_DIAGNOSTICS], None),
        ("online probes (top-1)", [c for c in present if c.startswith(("online_", "val_online_"))], (0.0, 1.02)),
        ("learning rate", [c for c in ("lr", "learning_rate") if c in present], None),
    ]
    return [(title, cols, ylim) for title, cols, ylim in groups if cols]


#: what each panel's values were measured on, shown under its title (``{batch}``: the training batch size)
PANEL_CAPTIONS = {
    "RankMe (effective rank)": "on training-batch embeddings ({batch})",
    "collapse diagnostics": "on training-batch embeddings ({batch})",
    "online probes (top-1)": "on the test split (*_train_*: training views)",
}


def _wrapped(text, width):
    import textwrap

    return "\n".join(textwrap.wrap(text, width=width, break_on_hyphens=False))


def plot_training_curves(history, out, *, references=None, notes=(), batch_size=None):
    """Training curves of a ``history`` (``{column: array}``, :func:`read_history`), one panel per group.

    Groups: the loss; the method's loss terms; RankMe; the collapse diagnostics (embedding std, sample- and
    dimension-contrastive); the online probes (``online_*``, top-1 in ``[0, 1]``) and the learning rate, each where
    present. A panel is in log scale when its values are positive and span a decade within a series or two across
    them. Validation columns (``val_*``, from ``fit(validation_data=...)``) are dashed, in the colour of their
    training column. NaN values (a diverged epoch, a diagnostic not computed) leave gaps; all-NaN columns (Keras
    writes ``NA`` for metrics not computed) are dropped. Under the titles of the RankMe, collapse and online-probe
    panels a caption says what they were measured on (:data:`PANEL_CAPTIONS`): the diagnostics on the embeddings of
    training batches (RankMe is at most the batch size), the online probes on the test split.

    Args:
        history: ``{column: array}``.
        out: PNG path.
        references: ``{label: top-1}`` drawn as dotted horizontal lines in the online-probe panel (e.g. the final
            offline probes of the encoder, which :func:`plot_run` takes from ``metrics.json``).
        notes: lines printed under the figure, e.g. the warning that the online curve is uninformative; the
            online-probe panel's title then says so. The PNG's ``Description`` ends with ``note: …`` for each.
        batch_size: the training batch size, named in the captions.

    Returns:
        the PNG path, or ``None`` when the history has no epoch with a finite value.
    """
    groups = _history_groups(history)
    if not groups:
        return None
    notes = [str(n) for n in notes or ()]
    batch = f"B = {batch_size}" if batch_size else "one batch at a time"
    n = len(next(iter(history.values())))
    epochs = history.get("epoch", np.arange(n, dtype=float))
    epochs = np.where(np.isfinite(epochs), epochs, np.arange(n)) + 1  # CSVLogger counts epochs from 0
    cols = min(len(groups), 3)
    rows = math.ceil(len(groups) / cols)
    width = 4.2 * cols
    fig = _figure(width, 3.0 * rows)
    axes = fig.subplots(rows, cols, squeeze=False).ravel()
    marker = "o" if n <= 30 else None
    from matplotlib.ticker import MaxNLocator
    for ax, (title, columns, ylim) in zip(axes, groups):
        online = title == "online probes (top-1)"
        if online:
            for k, (label, value) in enumerate((references or {}).items()):
                if isinstance(value, (int, float)) and math.isfinite(value):
                    ax.axhline(value, color=f"C{(len(columns) + k) % 10}", linestyle=":", linewidth=1.2,
                               label=f"{label} {value:.3f}")
        bases = list(dict.fromkeys(c.removeprefix("val_") for c in columns))
        for column in sorted(columns, key=lambda c: (bases.index(c.removeprefix("val_")), c.startswith("val_"))):
            validation = column.startswith("val_")
            ax.plot(epochs, history[column], marker=marker, markersize=3, label=column,
                    color=f"C{bases.index(column.removeprefix('val_')) % 10}", linestyle="--" if validation else "-")
        if _spans_decades([history[c] for c in columns]):
            ax.set_yscale("log")
        elif ylim is not None:
            ax.set_ylim(*ylim)
        caption = PANEL_CAPTIONS.get(title, "").format(batch=batch)
        if online and notes:
            caption = "uninformative here: see the note below"
        ax.set_title(f"{title}\n{caption}" if caption else title, fontsize=10 if not caption else 9,
                     color="firebrick" if online and notes else "black")
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    for ax in axes[len(groups):]:
        ax.set_visible(False)
    if notes:
        text = "\n".join(_wrapped(f"note: {note}", int(width * 17)) for note in notes)
        lines = text.count("\n") + 1
        fig.text(0.01, 0.005, text, ha="left", va="bottom", fontsize=7, color="firebrick")
        fig.tight_layout(rect=(0, min(0.5, lines * 0.11 / (3.0 * rows)), 1, 1))
    else:
        fig.tight_layout()
    description = "training curves: " + "; ".join(
        title + (f" [{caption}]" if (caption := PANEL_CAPTIONS.get(title, "").format(batch=batch)) else "")
        for title, _, _ in groups)
    description += "".join(f"; note: {note}" for note in notes)
    return _save(fig, out, description)


def _batched(fn, x, batch_size=256):
    import keras

    return np.concatenate([keras.ops.convert_to_numpy(fn(x[i:i + batch_size])) for i in range(0, len(x), batch_size)])


def representations(model, x):
    """``(representations, embeddings)`` of images ``x`` as numpy arrays (``model.encode`` / ``model.embed``).

    ``embeddings`` is ``None`` for a model without a projector (its embeddings are its representations).
    """
    h = np.asarray(model.encode(x), dtype=np.float64)
    if getattr(model, "projector", True) is None:
        return h, None
    z = _batched(model.embed, x).astype(np.float64)
    return h, z


def spectrum_caption(n, source="test images"):
    """The caption of ``spectrum.png``: what its RankMe values were measured on."""
    return (f"RankMe measured on these {n} {source} (representations: encoder output; embeddings: projector "
            "output),\nnot on training batches as in training_curves.png")


def plot_spectrum(features, out, *, source="test images"):
    """Normalised covariance eigenvalue spectra ``λ_k / Σλ`` (log scale, descending) of ``{label: (N, D) array}``.

    Eigenvalues of ``Cov(Z) = ZᵀHZ/N`` (:func:`kspectral.spectral.covariance_spectrum`); a curve that drops
    by decades marks dimensions the representation barely uses (dimensional collapse, Jing, Vincent, LeCun &
    Tian 2022, arXiv:2110.09348, Fig. 2); eigenvalues at or below :data:`SPECTRUM_FLOOR` of the total (numerical
    zeros, lost dimensions) end the curve early. The legend gives each
    array's dimension and RankMe effective rank (Garrido et al. 2023, arXiv:2210.02885,
    :func:`kspectral.spectral.rankme`), and a caption says what it was measured on: the ``N`` rows of the arrays,
    which ``source`` names (``"test images"``; :func:`plot_run` says ``"training images"`` for a dataset without a
    test split), not the training batches of the training curves' RankMe (at most the batch size).

    Returns:
        the PNG path.
    """
    from kspectral.spectral import covariance_spectrum, rankme

    fig = _figure(6.0, 4.0)
    ax = fig.subplots()
    summary = []
    for label, z in features.items():
        eig = covariance_spectrum(z)
        total = eig.sum()
        normalised = eig / total if total > 0 else eig
        rank = rankme(z)
        keep = normalised > SPECTRUM_FLOOR
        k = np.arange(1, eig.size + 1)
        ax.plot(k[keep], normalised[keep], marker="." if eig.size <= 64 else None,
                label=f"{label} (D={z.shape[1]}, RankMe {rank:.1f})")
        summary.append(f"{label} D={z.shape[1]} rankme={rank:.3f}")
    ax.set_yscale("log")
    ax.set_xlabel("eigenvalue index k")
    ax.set_ylabel("λ_k / Σ λ")
    n = next(iter(features.values())).shape[0]
    ax.set_title(f"covariance spectrum of {n} {source}", fontsize=10)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    fig.text(0.01, 0.01, spectrum_caption(n, source), ha="left", va="bottom", fontsize=7, color="dimgray")
    fig.tight_layout(rect=(0, 0.06, 1, 1))
    return _save(fig, out, "; ".join(summary))


def _labels(dataset, n, split="test"):
    """The labels of ``split`` (``"test"`` or ``"training"``) as an int array, or ``None`` for unlabelled data (no
    labels, or all negative)."""
    y = getattr(dataset, "y_test" if split == "test" else "y_train", None)
    if y is None:
        return None
    y = np.asarray(y)
    if y.shape[:1] != (n,) or y.ndim != 1 or y.size == 0 or np.all(y < 0):
        return None
    return y.astype(np.int64)


def plot_embedding_2d(h, y, out, *, method="pca", seed=0, class_names=None, source="test"):
    """A 2-D map of representations ``h`` ``(N, D)`` coloured by label ``y`` (``None``: unlabelled, one colour).

    ``source`` names the images in the title (``"test"``, or ``"training"`` for a dataset without a test split).
    ``method="pca"``: the first two principal components (scikit-learn ``PCA``); ``"tsne"``: t-SNE
    (van der Maaten & Hinton 2008; scikit-learn ``TSNE``, PCA initialisation, perplexity ``min(30, (N − 1)/3)``).

    Returns:
        the PNG path.
    """
    if method not in ("pca", "tsne"):
        raise InputError(f"method must be 'pca' or 'tsne', got {method!r}")
    if h.shape[0] < 3:
        raise InputError(f"a 2-D map needs at least 3 points, got {h.shape[0]}")
    if method == "pca":
        from sklearn.decomposition import PCA

        pca = PCA(n_components=min(2, h.shape[1]), random_state=seed)
        xy = pca.fit_transform(h)
        ratio = pca.explained_variance_ratio_
        axis_names = [f"PC{i + 1} ({100 * r:.1f} % of variance)" for i, r in enumerate(ratio)]
    else:
        from sklearn.manifold import TSNE

        perplexity = float(min(30.0, max(1.0, (h.shape[0] - 1) / 3)))
        xy = TSNE(n_components=2, init="pca", perplexity=perplexity, random_state=seed).fit_transform(h)
        axis_names = ["t-SNE 1", "t-SNE 2"]
    if xy.shape[1] == 1:  # a 1-D representation: spread it along one axis
        xy = np.column_stack([xy[:, 0], np.zeros(len(xy))])
        axis_names.append("(1-D representation)")
    fig = _figure(6.0, 5.0)
    ax = fig.subplots()
    if y is None:
        ax.scatter(xy[:, 0], xy[:, 1], s=6, color="tab:blue", alpha=0.7, linewidths=0, label="unlabelled")
    else:
        classes = np.unique(y)
        if classes.size <= 20:
            import matplotlib

            cmap = matplotlib.colormaps["tab10" if classes.size <= 10 else "tab20"]
            for i, c in enumerate(classes):
                mask = y == c
                name = class_names[c] if class_names is not None and 0 <= c < len(class_names) else str(c)
                ax.scatter(xy[mask, 0], xy[mask, 1], s=6, color=cmap(i), alpha=0.8, linewidths=0, label=name)
            ax.legend(fontsize=7, markerscale=2, loc="center left", bbox_to_anchor=(1.0, 0.5), frameon=False)
        else:
            points = ax.scatter(xy[:, 0], xy[:, 1], s=6, c=y, cmap="viridis", alpha=0.8, linewidths=0)
            fig.colorbar(points, ax=ax, label="label")
    ax.set_xlabel(axis_names[0])
    ax.set_ylabel(axis_names[1])
    labelled = "unlabelled" if y is None else f"{np.unique(y).size} classes"
    ax.set_title(f"{method.upper() if method == 'pca' else 't-SNE'} of {h.shape[0]} {source} representations "
                 f"({labelled})", fontsize=10)
    fig.tight_layout()
    return _save(fig, out, f"method={method} points={h.shape[0]} {labelled}")


def plot_probes(probes, out):
    """The probe table ``{name: {"dim", "linear_top1", "knn_top1", ...}}`` as grouped horizontal bars (top-1 %).

    One group per representation, one bar per probe (every ``*_top1`` key present in some row: linear, kNN, MLP,
    ...), its value written at its end; a missing or non-finite value is marked ``n/a``.

    Returns:
        the PNG path, or ``None`` when no row has a top-1 value.
    """
    names = list(probes)
    keys = []
    for name in names:
        for key in probes[name] or {}:
            if key.endswith("_top1") and key not in keys:
                keys.append(key)
    if not names or not keys:
        return None
    height = 0.8 / len(keys)
    fig = _figure(7.5, 0.9 + 0.45 * len(names) * max(1, len(keys)) ** 0.8)
    ax = fig.subplots()
    import matplotlib

    cmap = matplotlib.colormaps["tab10"]
    for j, key in enumerate(keys):
        offsets = np.arange(len(names)) - 0.4 + height * (j + 0.5)
        values = []
        for name in names:
            value = (probes[name] or {}).get(key)
            values.append(float(value) if isinstance(value, (int, float)) and math.isfinite(value) else math.nan)
        values = 100 * np.asarray(values)
        ax.barh(offsets, np.nan_to_num(values), height=height * 0.9, color=cmap(j),
                label=key.removesuffix("_top1").replace("_", " "))
        for off, value in zip(offsets, values):
            text = "n/a" if math.isnan(value) else f"{value:.1f}"
            ax.text((0 if math.isnan(value) else value) + 1, off, text, va="center", fontsize=7)
    dims = [(probes[name] or {}).get("dim") for name in names]
    ax.set_yticks(np.arange(len(names)),
                  [f"{name} (D={d})" if d is not None else name for name, d in zip(names, dims)], fontsize=8)
    ax.invert_yaxis()
    ax.set_xlim(0, 112)
    ax.set_xlabel("top-1 accuracy on the test split (%)")
    ax.grid(axis="x", alpha=0.3)
    ax.legend(fontsize=8, loc="lower left", bbox_to_anchor=(0.0, 1.0), ncol=len(keys), frameon=False)
    ax.set_title("probes", fontsize=10, loc="right")
    fig.tight_layout()
    return _save(fig, out, "probes: " + ", ".join(names))


def load_run_model(run_dir):
    """The trained model of a run: ``RUN_DIR/model.keras`` (:func:`kspectral.runs.load_run_model`)."""
    from kspectral.runs import load_run_model as load

    path = Path(run_dir) / "model.keras"
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing (not a finished run)")
    return load(run_dir)


def load_run_dataset(run_dir):
    """The dataset of a run, split as in training: ``RUN_DIR/config.json``'s dataset, test size and seed."""
    from kspectral.data import load
    from kspectral.runs import RunConfig

    path = Path(run_dir) / "config.json"
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing (not a run directory)")
    config = RunConfig.from_dict(json.loads(path.read_text()))
    extra = {k: getattr(config, k) for k in ("data_dir", "image_size") if getattr(config, k, None) is not None}
    return load(config.dataset, test_size=config.test_size, seed=config.seed, **extra)


def _probe_table(run_dir):
    """The probe table of ``metrics.json``, updated with ``probe.json`` (a later ``kspectral probe``) if present."""
    probes = {}
    for name in ("metrics.json", "probe.json"):
        path = run_dir / name
        if path.exists():
            try:
                table = json.loads(path.read_text()).get("probes")
            except (json.JSONDecodeError, AttributeError) as exc:
                raise InputError(f"{path} is not a valid run file ({exc}); rerun `kspectral probe`") from None
            for row, values in (table or {}).items():
                probes.setdefault(row, {}).update(values or {})
    return probes


def _online_notes(run_dir):
    """``(references, notes)`` for the online-probe panel: the encoder's final offline probes and the
    ``online_probe_behind`` warnings of ``metrics.json`` (empty when it is missing or holds neither)."""
    path = run_dir / "metrics.json"
    try:
        metrics = json.loads(path.read_text()) if path.exists() else {}
    except json.JSONDecodeError:
        return {}, []  # the probe table's reader names the damaged file
    metrics = metrics if isinstance(metrics, dict) else {}
    references = {}
    for name, row in (metrics.get("probes") or {}).items():
        if name.endswith(" encoder") and isinstance(row, dict):
            for key, label in (("linear_top1", "offline linear probe, final"), ("knn_top1", "offline kNN probe, final")):
                if isinstance(row.get(key), (int, float)):
                    references[label] = float(row[key])
    notes = [w.get("message", "") for w in metrics.get("warnings") or []
             if isinstance(w, dict) and w.get("code") == "online_probe_behind"]
    return references, notes


def _batch_size(run_dir):
    try:
        return int(json.loads((run_dir / "config.json").read_text())["batch_size"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def plot_run(run_dir, *, model=None, dataset=None, out_dir=None, embedding="pca", max_points=MAX_POINTS, seed=0,
             on_stage=None):
    """Write the figures of a run directory as PNGs into ``RUN_DIR/plots/`` (or ``out_dir``).

    - ``training_curves.png`` from ``history.csv`` (:func:`plot_training_curves`), with the encoder's final offline
      probes of ``metrics.json`` as dotted lines in the online-probe panel, and ``metrics.json``'s
      ``online_probe_behind`` warning, when it has one, as a note under the figure;
    - ``spectrum.png``: covariance spectra of the test representations and embeddings (:func:`plot_spectrum`);
    - ``embedding_2d.png``: PCA (or t-SNE) map of the test representations coloured by label
      (:func:`plot_embedding_2d`);
    - ``probes.png``: the probe table of ``metrics.json`` (and ``probe.json``) (:func:`plot_probes`).

    The spectrum and the map use ``model`` and ``dataset.x_test`` (at most ``max_points`` images, a fixed random
    subset), or ``dataset.x_train`` for a dataset without a test split (an unlabelled folder: one colour, the
    captions say "training images"); when they are not given, ``RUN_DIR/model.keras`` (:func:`load_run_model`) and
    the dataset of ``RUN_DIR/config.json`` (:func:`load_run_dataset`) are loaded. A figure whose input is missing or
    cannot be loaded is skipped, with the reason in the result's ``skipped`` and in the ``kspectral.plots`` log
    (one warning each).

    Args:
        run_dir: a run directory written by :func:`kspectral.runs.train`.
        model: the trained :class:`~kspectral.methods.SSLModel` (``encode``, ``embed``), or ``None``.
        dataset: a :class:`~kspectral.data.ImageDataset` (``x_test``, ``y_test``), or ``None``.
        out_dir: folder of the PNGs (default ``RUN_DIR/plots``).
        embedding: ``"pca"`` or ``"tsne"``.
        max_points: at most this many test images for the spectrum and the map.
        seed: seed of the subset and of t-SNE.
        on_stage: optional function called with a short description of each stage (loading, encoding, drawing).

    Returns:
        :class:`Plots`: the written paths, in the order above, with ``skipped = {file name: reason}``.

    Raises:
        FileNotFoundError: ``run_dir`` does not exist.
        ValueError: ``out_dir`` exists and is not a directory.
        OSError: ``out_dir`` cannot be created (e.g. no permission).

    Example:
        >>> written = plot_run("runs/quick")            # doctest: +SKIP
        >>> [p.name for p in written], written.skipped   # doctest: +SKIP
        (['training_curves.png', 'spectrum.png', 'embedding_2d.png', 'probes.png'], {})
    """
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise FileNotFoundError(f"run directory {run_dir} does not exist")
    if embedding not in ("pca", "tsne"):
        raise InputError(f"embedding must be 'pca' or 'tsne', got {embedding!r}")
    max_points = check_positive_int(max_points, "max_points", minimum=3)
    out_dir = Path(out_dir) if out_dir is not None else run_dir / "plots"
    if out_dir.exists() and not out_dir.is_dir():
        raise InputError(f"--out {out_dir} exists and is not a directory; choose a folder for the PNGs")
    out_dir.mkdir(parents=True, exist_ok=True)  # an unwritable place fails here, before any figure is drawn
    result = Plots()
    stage = on_stage or (lambda message: None)

    def skip(name, reason):
        result.skipped[name] = reason
        logger.warning("skipped %s: %s", name, reason)

    history = run_dir / "history.csv"
    if not history.exists():
        skip("training_curves.png", f"{history} is missing")
    else:
        stage("drawing training_curves.png from history.csv")
        references, notes = _online_notes(run_dir)
        path = plot_training_curves(read_history(history), out_dir / "training_curves.png", references=references,
                                    notes=notes, batch_size=_batch_size(run_dir))
        result.append(path) if path else skip("training_curves.png", f"{history} has no finite values")

    reason = None
    if model is None or dataset is None:
        stage("loading the run's model and dataset")
    try:
        if model is None:
            model = load_run_model(run_dir)
        if dataset is None:
            dataset = load_run_dataset(run_dir)
    except Exception as exc:  # noqa: BLE001 - a damaged model or an unavailable dataset skips two figures
        reason = f"could not load the run's model and dataset: {type(exc).__name__}: {exc}"
    split = None
    if reason is None:
        for name, x in (("test", getattr(dataset, "x_test", None)), ("training", getattr(dataset, "x_train", None))):
            if x is not None and len(x) >= 3:
                split = name
                break
    if reason is not None:
        for name in ("spectrum.png", "embedding_2d.png"):
            skip(name, reason)
    elif split is None:
        for name in ("spectrum.png", "embedding_2d.png"):
            skip(name, "the dataset has fewer than 3 test and 3 training images")
    else:
        x = np.asarray(dataset.x_test if split == "test" else dataset.x_train)
        index = np.arange(len(x))
        if len(x) > max_points:
            index = np.sort(np.random.default_rng(seed).choice(len(x), max_points, replace=False))
        stage(f"encoding {len(index)} {split} images for spectrum.png and embedding_2d.png")
        h, z = representations(model, x[index])
        features = {"representations": h} if z is None else {"representations": h, "embeddings": z}
        result.append(plot_spectrum(features, out_dir / "spectrum.png", source=f"{split} images"))
        stage(f"drawing embedding_2d.png ({embedding.upper() if embedding == 'pca' else 't-SNE'})")
        y = _labels(dataset, len(x), split)
        result.append(plot_embedding_2d(h, None if y is None else y[index], out_dir / "embedding_2d.png",
                                        method=embedding, seed=seed, source=split,
                                        class_names=getattr(dataset, "class_names", None)))

    probes = _probe_table(run_dir)
    if not probes:
        skip("probes.png", f"no probe table in {run_dir / 'metrics.json'}")
    else:
        path = plot_probes(probes, out_dir / "probes.png")
        result.append(path) if path else skip("probes.png", "the probe table has no top-1 values")
    return result
