"""How a model turns a batch of views into what its objective sees: :class:`ForwardPass`, a base of
:class:`kspectral.methods.SSLModel`.

Two views go through :meth:`ForwardPass.forward` (a dict of tensors: ``z_a``, ``z_b``, ...) and the two-view
objective :meth:`ForwardPass.compute_objective`; ``V > 2`` views (multi-crop) through
:meth:`ForwardPass.forward_views` (a dict of per-view lists) and :meth:`ForwardPass.compute_multiview_objective`,
which averages the two-view objective over the pairs of :func:`kspectral.objectives.view_pairs`. A method overrides
what its paper defines otherwise.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf
from keras import ops

from kspectral.errors import InputError
from kspectral.objectives.views import join_views, split_views, view_pairs

#: the key of :meth:`ForwardPass.forward`'s outputs that holds the encoder's representations of the first view (the
#: online probe's input); it is removed before the objective sees the outputs
REPRESENTATIONS_KEY = "h_a"
#: the same for the second view (the online probe of ``online_probe_protocol="solo_learn"`` trains on both)
SECOND_REPRESENTATIONS_KEY = "h_b"
REPRESENTATIONS = (REPRESENTATIONS_KEY, SECOND_REPRESENTATIONS_KEY)


class ForwardPass:
    """The forward pass of an SSL model (a mixin of :class:`kspectral.methods.SSLModel`, which sets ``encoder``,
    ``projector``, ``objective``, ``objective_function``, ``objective_options``, ``joint_views``, ``max_views``
    and ``view_pairing``)."""

    @classmethod
    def view_limit(cls):
        """The most views a batch may hold: :attr:`max_views`, or 2 for a subclass that overrides :meth:`forward`
        (written for two views) but not :meth:`forward_views`; ``None`` for any number."""
        if cls.forward is not ForwardPass.forward and cls.forward_views is ForwardPass.forward_views:
            return 2
        return cls.max_views

    def call(self, inputs, training=False):
        """Representations ``encoder(inputs)``, shape ``(batch, d)``."""
        return self.encoder(inputs, training=training)

    def embed(self, inputs, training=False):
        """Embeddings ``projector(encoder(inputs))`` (the representations if there is no projector)."""
        inputs = ops.convert_to_tensor(inputs)
        self._ensure_built(inputs)
        return self._encode_and_project(inputs, training)[1]

    def _encode_and_project(self, inputs, training):
        h = self.encoder(inputs, training=training)
        return h, (h if self.projector is None else self.projector(h, training=training))

    def forward(self, view_a, view_b, training=False):
        """Everything the objective needs from one batch of pairs, as a dict of tensors.

        The default returns ``{"z_a": embed(view_a), "z_b": embed(view_b), "h_a": encoder(view_a), "h_b":
        encoder(view_b)}``: the two views' embeddings and representations (``h_a`` and ``h_b``,
        :data:`REPRESENTATIONS_KEY` and :data:`SECOND_REPRESENTATIONS_KEY`, which the online probe trains on and the
        objective never sees). With :attr:`joint_views` the two views go through
        the network as one concatenated batch (BatchNorm statistics over both views, as in the official SimCLR and
        ISSL code); otherwise each view is embedded separately (per-view statistics, as in the official VICReg and
        Barlow Twins code). A subclass whose ``forward`` returns no ``h_a`` still gets an online probe: it then
        encodes ``view_a`` once more, in inference mode.
        """
        if type(self).embed is not ForwardPass.embed:  # a subclass's own embeddings: no representations to share
            if self.joint_views:
                z_a, z_b = self.split_views(self.embed(self.join_views(view_a, view_b), training=training))
                return {"z_a": z_a, "z_b": z_b}
            return {"z_a": self.embed(view_a, training=training), "z_b": self.embed(view_b, training=training)}
        if self.joint_views:
            h, z = self._encode_and_project(self.join_views(view_a, view_b), training)
            z_a, z_b = self.split_views(z)
            h_a, h_b = self.split_views(h)
            return {"z_a": z_a, "z_b": z_b, REPRESENTATIONS_KEY: h_a, SECOND_REPRESENTATIONS_KEY: h_b}
        h_a, z_a = self._encode_and_project(view_a, training)
        h_b, z_b = self._encode_and_project(view_b, training)
        return {"z_a": z_a, "z_b": z_b, REPRESENTATIONS_KEY: h_a, SECOND_REPRESENTATIONS_KEY: h_b}

    @staticmethod
    def join_views(view_a, view_b):
        """``concat([view_a, view_b])``: the view-major batch of ``2B`` rows (the two views must match)."""
        return join_views(view_a, view_b)

    @staticmethod
    def split_views(z):
        """Inverse of :meth:`join_views`: the first and second halves of the rows."""
        return split_views(z)

    def compute_objective(self, outputs):
        """The loss and its terms from :meth:`forward`'s outputs: a dict with ``"loss"`` and each term.

        A method class calls its :attr:`objective_function` with the outputs and its :attr:`objective_options` as
        keyword arguments and ``return_terms=True``; a plain ``SSLModel`` applies its ``objective`` to ``z_a`` and
        ``z_b``. The representations ``h_a`` in ``outputs`` are left out.
        """
        outputs = {k: v for k, v in outputs.items() if k not in REPRESENTATIONS}
        if self.objective is None:
            options = {name: getattr(self, name) for name in self.objective_options}
            return type(self).objective_function(**outputs, **options, return_terms=True)
        value = self.objective(outputs["z_a"], outputs["z_b"])
        if isinstance(value, dict):
            return value
        return {"loss": value}

    def forward_views(self, views, training=False):
        """Everything a multi-view objective needs from a batch of ``V > 2`` views, as a dict of per-view lists.

        The default returns ``{"z": [z_1, ..., z_V], "h": [h_1, ..., h_V]}``, the embeddings and representations of
        every view (views of different sizes, e.g. multi-crop's large and small crops, go through the encoder
        separately: its pooled output has the same width for both). With :attr:`joint_views`, consecutive views of
        the same shape go through the network as one batch, as the official SwAV and DINO code group the crops of
        one resolution; otherwise each view alone. ``"h"`` is left out when :meth:`embed` is a subclass's own.
        """
        views = list(views)
        if type(self).embed is not ForwardPass.embed:
            return {"z": [self.embed(v, training=training) for v in views]}
        groups = [[views[0]]]
        for v in views[1:]:
            if self.joint_views and tuple(v.shape[1:]) == tuple(groups[-1][0].shape[1:]):
                groups[-1].append(v)
            else:
                groups.append([v])
        zs, hs = [], []
        for group in groups:
            h, z = self._encode_and_project(ops.concatenate(group, axis=0) if len(group) > 1 else group[0], training)
            count = len(group)
            hs.extend(ops.split(h, count, axis=0) if count > 1 else [h])
            zs.extend(ops.split(z, count, axis=0) if count > 1 else [z])
        return {"z": zs, "h": hs}

    def compute_multiview_objective(self, outputs):
        """The loss and its terms from :meth:`forward_views`' outputs (per-view lists of the global batch).

        The default is the two-view objective :meth:`compute_objective` averaged over the pairs of views
        :func:`kspectral.objectives.view_pairs` gives for :attr:`view_pairing` (every pair by default): each pair
        ``(i, j)`` maps each list ``k`` to ``k_a = k[i]`` and ``k_b = k[j]``, and every term is the mean over the
        pairs. With two views there is one pair: the two-view objective's value. A method whose paper defines its
        multi-view loss otherwise (SimCLR's multi-positive NT-Xent) overrides this.
        """
        count = len(next(iter(outputs.values())))
        pairs = view_pairs(count, self.view_pairing)
        total = {}
        for i, j in pairs:
            pair = {f"{k}_a": v[i] for k, v in outputs.items()} | {f"{k}_b": v[j] for k, v in outputs.items()}
            for name, value in self.compute_objective(pair).items():
                total[name] = value if name not in total else total[name] + value
        return {name: value / float(len(pairs)) for name, value in total.items()}

    def diagnostic_embeddings(self, outputs):
        """The embedding batch the diagnostics are computed on (default: the first view's)."""
        return outputs["z_a"]

    def encode(self, x, batch_size=256):
        """Representations of ``x`` (numpy array or ``tf.data.Dataset`` of inputs) as a float32 numpy array
        ``(N, d)`` (also under a mixed-precision policy, whose layers compute in float16 or bfloat16)."""

        def features(batch):
            return ops.convert_to_numpy(ops.cast(self.encoder(batch, training=False), "float32"))

        if isinstance(x, tf.data.Dataset):
            return np.concatenate([features(b) for b in x])
        x = np.asarray(x)
        if x.shape[0] == 0:
            raise InputError("encode() got no samples")
        return np.concatenate([features(x[i : i + batch_size]) for i in range(0, x.shape[0], batch_size)])
