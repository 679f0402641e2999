"""NNCLR (Dwibedi et al. 2021, arXiv:2104.14548) as a Keras model: a support-set queue, a predictor, no teacher."""

from __future__ import annotations

import keras
import numpy as np
from keras import ops

from kspectral._validation import check_positive, check_positive_int
from kspectral.errors import InputError
from kspectral.methods.base import SSLModel
from kspectral.methods.components import EmbeddingQueue, Predictor
from kspectral.methods.registry import register
from kspectral.objectives.nnclr import nearest_neighbours, nnclr
from kspectral.objectives.tensors import l2_normalize

#: the predictor's hidden width (Dwibedi et al. 2021, §4; solo-learn's CIFAR ``pred_hidden_dim``)
PREDICTOR_HIDDEN = 4096
#: the seed of the support set's initial random rows
QUEUE_SEED = 0


def _output_dim(projector):
    """The width of the projector's output (the support set's rows)."""
    if projector is None:
        raise InputError("NNCLR needs a projector: its output width is the support set's; "
                         "pass projector='2048-2048-256'")
    dim = getattr(projector, "output_dim", None) or getattr(projector, "units", None)
    if dim is None:
        raise InputError(f"cannot tell the output width of the projector {type(projector).__name__}; pass a projector "
                         "spec string or a kspectral.methods.Projector")
    return int(dim)


@register("nnclr")
@keras.saving.register_keras_serializable(package="kspectral")
class NNCLR(SSLModel):
    """NNCLR (Dwibedi, Aytar, Tompson, Sermanet & Zisserman 2021, arXiv:2104.14548, Eqs. 3–4): the nearest neighbour
    of one view's projection in a support set of past projections is the positive of the other view's prediction.

    Each view goes through the encoder, the projector (``Linear-BN-ReLU`` blocks, then ``Linear`` and, with
    ``output_batchnorm``, an affine BatchNorm: solo-learn's
    ``Linear(2048)-BN-ReLU-Linear(2048)-BN-ReLU-Linear(256)-BN``, ``solo/methods/nnclr.py``, and the paper's 3-layer
    projection MLP) and the predictor (``Linear(4096)-BN-ReLU-Linear(d)``). The loss is :func:`kspectral.objectives.nnclr` of the predictions and of the neighbours
    :func:`~kspectral.objectives.nearest_neighbours` of the projections in the support set, an
    :class:`~kspectral.methods.components.EmbeddingQueue` of ``queue_size`` unit rows (random at the start, as
    solo-learn's). The neighbours are read from the queue **before** the step's projections enter it; after every
    optimizer step the model pushes the L2-normalised projections of the first view of the **global** batch
    (``source="z_a"``, solo-learn's ``dequeue_and_enqueue(z1)`` of the gathered ``z1``), so under a strategy every
    replica holds the same support set and searches it for the same global batch. Each view is embedded on its own
    (per-view BatchNorm statistics), as solo-learn forwards each crop. No momentum teacher.

    Differences from solo-learn, by choice: the queue accepts any batch size (solo-learn asserts ``queue_size %
    batch = 0``; the queue here wraps around); the projector's hidden ``Dense`` layers have no bias (the BatchNorm
    after each has one) and its last ``Dense`` none by default (``last_bias=False``: the BatchNorm's centre after it
    makes a bias redundant; the recipes give it one, as solo-learn's has); solo-learn's ``nn_acc`` (label agreement of the neighbours) is not logged (the train step has no labels), the
    mean cosine ``nn_similarity`` between the projections and their neighbours is. The default temperature is the
    paper's 0.1 (solo-learn's CIFAR config: 0.2, the recipes' value).

    Spectral counterpart: the SimCLR family's, by analogy, on NNCLR's pair graph: its positives are nearest
    neighbours in embedding space, so the pair graph is a kNN graph of the embeddings (with the augmentation pairs),
    :meth:`pair_graph` (:mod:`kspectral.spectral.baselines`).

    Args:
        encoder: Keras model mapping inputs to ``(batch, d)`` representations.
        projector: projector spec (solo-learn / paper: ``"2048-2048-256"``) or a :class:`~kspectral.methods.Projector`.
        predictor_hidden: the predictor's hidden width (paper and solo-learn: 4096); its output width is the
            projector's.
        temperature: τ (paper 0.1; solo-learn's CIFAR config 0.2).
        queue_size: rows of the support set (solo-learn 65 536; the paper's ImageNet runs 98 304).
        output_batchnorm: end the projection with an affine BatchNorm (solo-learn's last ``BatchNorm1d``).

    Example:
        >>> import keras
        >>> encoder = keras.Sequential([keras.Input((64,)), keras.layers.Dense(32)])
        >>> model = NNCLR(encoder=encoder, projector="64-32", queue_size=256)
        >>> model.predictor.spec, tuple(model.queue.rows.shape)
        ('4096-32', (256, 32))
    """

    objective_function = staticmethod(nnclr)
    objective_options = ("temperature",)
    loss_terms = ("loss_ab", "loss_ba", "nn_similarity")
    max_views = 2

    def __init__(self, encoder, projector="2048-2048-256", predictor_hidden=PREDICTOR_HIDDEN, temperature=0.1,
                 queue_size=65536, output_batchnorm=True, **kwargs):
        super().__init__(encoder, projector, **kwargs)
        dim = _output_dim(self.projector)
        self.temperature = check_positive(temperature, "temperature")
        self.queue_size = check_positive_int(queue_size, "queue_size")
        if not isinstance(output_batchnorm, (bool, np.bool_)):
            raise TypeError(f"output_batchnorm must be True or False, got {output_batchnorm!r}")
        self.output_batchnorm = bool(output_batchnorm)
        self.predictor_hidden = check_positive_int(predictor_hidden, "predictor_hidden")
        defaults = getattr(self.projector, "layer_defaults", "keras")
        # Linear(hidden)-BN-ReLU-Linear(d): the output width is the projector's (it predicts a projection)
        self.predictor = Predictor(f"{self.predictor_hidden}-{dim}", layer_defaults=defaults, name="predictor")
        norm = {"epsilon": 1e-5, "momentum": 0.9} if defaults == "pytorch" else {}
        self.projection_batchnorm = (keras.layers.BatchNormalization(name="projection_batchnorm", **norm)
                                     if self.output_batchnorm else None)
        self.queue = EmbeddingQueue(self.queue_size, dim, seed=QUEUE_SEED, source="z_a", name="queue")

    @property
    def embedding_dim(self):
        """The width of the projections (the support set's rows)."""
        return self.queue.dim

    def build_heads(self, representation_shape):
        super().build_heads(representation_shape)
        shape = (None, self.embedding_dim)
        if self.projection_batchnorm is not None and not self.projection_batchnorm.built:
            self.projection_batchnorm.build(shape)
        if not self.predictor.built:
            self.predictor.build(shape)

    def _encode_and_project(self, inputs, training):
        h, z = super()._encode_and_project(inputs, training)
        if self.projection_batchnorm is not None:
            z = self.projection_batchnorm(z, training=training)
        return h, z

    def forward(self, view_a, view_b, training=False):
        """The default two-view outputs (``z_a``, ``z_b``: projections; ``h_a``, ``h_b``) and the predictions
        ``p_a = predictor(z_a)``, ``p_b = predictor(z_b)`` (of the projections before their normalisation, as
        solo-learn's ``forward``)."""
        outputs = dict(super().forward(view_a, view_b, training=training))
        outputs["p_a"] = self.predictor(outputs["z_a"], training=training)
        outputs["p_b"] = self.predictor(outputs["z_b"], training=training)
        return outputs

    def compute_objective(self, outputs):
        """:func:`~kspectral.objectives.nnclr` of the predictions and of the projections' neighbours in the support
        set as it stands before this step's projections enter it; ``nn_similarity`` is the mean cosine between the
        projections of both views and their neighbours."""
        support = self.queue()
        z_a, z_b = outputs["z_a"], outputs["z_b"]
        nn_a, nn_b = nearest_neighbours(z_a, support), nearest_neighbours(z_b, support)
        terms = nnclr(outputs["p_a"], outputs["p_b"], nn_a, nn_b, temperature=self.temperature, return_terms=True)
        similarity = [ops.mean(ops.sum(l2_normalize(z) * l2_normalize(n), axis=1))
                      for z, n in ((z_a, nn_a), (z_b, nn_b))]
        return {**terms, "nn_similarity": ops.stop_gradient((similarity[0] + similarity[1]) / 2)}

    @staticmethod
    def pair_graph(embeddings, k=1):
        """NNCLR's positive-pair graph: the ``k``-nearest-neighbour graph of the L2-normalised embeddings (cosine,
        as :func:`~kspectral.objectives.nearest_neighbours`), with the augmentation pairs.

        Args:
            embeddings: ``(N, d)`` embeddings of one view per sample (the graph is then the kNN graph), or a list of
                ``V ≥ 2`` per-view arrays ``(n, d)``: the nodes are their ``V·n`` rows, view-major (row ``v·n + i``
                is view ``v`` of sample ``i``), and the views of a sample are connected too
                (:func:`kspectral.spectral.pair_graph`).
            k: neighbours per row (:func:`kspectral.spectral.knn_graph`: symmetric, ``i ~ j`` if either is among
                the other's ``k`` nearest; never a self-loop).

        Returns:
            ``(N, N)`` CSR matrix of 0/1 weights, for :meth:`spectral_baseline`.
        """
        from kspectral.spectral.graphs import knn_graph
        from kspectral.spectral.graphs import pair_graph as augmentation_pairs

        if isinstance(embeddings, (list, tuple)):
            if len(embeddings) < 2:
                raise InputError("pass one (N, d) array, or a list of at least 2 per-view arrays")
            views = [np.asarray(keras.ops.convert_to_numpy(v), dtype=np.float64) for v in embeddings]
            if any(v.ndim != 2 or v.shape != views[0].shape for v in views):
                raise InputError(f"the views must be (n, d) arrays of one shape, got {[v.shape for v in views]}")
            X, pairs = np.vstack(views), augmentation_pairs(views[0].shape[0], len(views))
        else:
            X, pairs = np.asarray(keras.ops.convert_to_numpy(embeddings), dtype=np.float64), None
            if X.ndim != 2:
                raise InputError(f"embeddings must be an (N, d) array, got shape {X.shape}")
        X = X / np.maximum(np.linalg.norm(X, axis=1, keepdims=True), 1e-12)
        graph = knn_graph(X, k)
        return graph if pairs is None else graph.maximum(pairs).tocsr()

    def get_config(self):
        config = super().get_config()
        config.update(predictor_hidden=self.predictor_hidden, queue_size=self.queue_size,
                      output_batchnorm=self.output_batchnorm)
        return config
