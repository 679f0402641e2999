"""A method written as a user would write one: a tiny MoCo (He et al. 2020, arXiv:1911.05722) on kspectral's parts.

``ToyMoCo`` subclasses :class:`kspectral.methods.SSLModel` and adds two components of
:mod:`kspectral.methods.components`:

- ``teacher``: a :class:`MomentumTeacher` of the encoder and the projector (``source=["encoder", "projector"]``), which
  the model's ``after_optimizer_step`` hook moves after every optimizer step with ``τ(step)``;
- ``queue``: an :class:`EmbeddingQueue` of past keys, the negatives.

Its loss is the symmetric InfoNCE of MoCo v2/v3: the online embedding of each view against the teacher's key of the
other view (the positive) and the queue's rows (the negatives), at temperature ``T``. The keys are those of the
**global** batch (``SSLModel.gather`` all-gathers the forward pass's outputs, so every replica sees the same keys);
the queue's ``source="k_b"`` makes the model push the gathered keys of the second view after every optimizer step
(``SSLModel.after_optimizer_step``), after the loss has read the queue, so every replica holds the same queue.

Used by ``tests/test_user_method.py`` in process, and in child processes by ``scripts/kspectral_killed_at.py`` and
``scripts/user_method_replicas.py`` (``--call user_method:register`` makes ``--method toy_moco`` selectable).
"""

import keras
from keras import ops

from kspectral.methods import SSLModel
from kspectral.methods.components import EmbeddingQueue, MomentumTeacher

NAME = "toy_moco"


def _normalize(x):
    return x / ops.maximum(ops.norm(x, axis=1, keepdims=True), 1e-12)


def info_nce(queries, keys, negatives, temperature):
    """Mean over the rows of ``−log softmax([q·k⁺, q·n₁, …, q·n_Q] / T)[0]``; every input is L2-normalised."""
    positive = ops.sum(queries * keys, axis=1, keepdims=True)
    logits = ops.concatenate([positive, ops.matmul(queries, ops.transpose(negatives))], axis=1) / temperature
    return ops.mean(ops.logsumexp(logits, axis=1) - logits[:, 0])


@keras.saving.register_keras_serializable(package="kspectral_tests")
class ToyMoCo(SSLModel):
    """Symmetric MoCo with a momentum teacher of ``[encoder, projector]`` and a queue of ``queue_size`` keys."""

    max_views = 2
    loss_terms = ("positive_similarity",)

    def __init__(self, encoder, projector="32-16", temperature=0.2, queue_size=128, base_tau=0.9, final_tau=1.0,
                 total_steps=None, **kwargs):
        super().__init__(encoder, projector=projector, **kwargs)
        if self.projector is None:
            raise ValueError("ToyMoCo needs a projector (its output width is the queue's)")
        self.temperature = float(temperature)
        self.queue_size = int(queue_size)
        self.base_tau, self.final_tau = float(base_tau), float(final_tau)
        self.total_steps = None if total_steps is None else int(total_steps)
        self.teacher = MomentumTeacher([self.encoder, self.projector], base_tau=self.base_tau,
                                       final_tau=self.final_tau, total_steps=self.total_steps,
                                       source=["encoder", "projector"], name="teacher")
        self.queue = EmbeddingQueue(self.queue_size, self.projector.output_dim, seed=7, source="k_b", name="queue")

    def forward(self, view_a, view_b, training=False):
        outputs = dict(super().forward(view_a, view_b, training=training))
        outputs["k_a"] = self.teacher(view_a, training=training)
        outputs["k_b"] = self.teacher(view_b, training=training)
        return outputs

    def compute_objective(self, outputs):
        q_a, q_b = _normalize(outputs["z_a"]), _normalize(outputs["z_b"])
        k_a, k_b = _normalize(outputs["k_a"]), _normalize(outputs["k_b"])
        negatives = self.queue()  # the queue before this batch's keys enter it
        loss = (info_nce(q_a, k_b, negatives, self.temperature) + info_nce(q_b, k_a, negatives, self.temperature)) / 2
        return {"loss": loss, "positive_similarity": ops.mean(ops.sum(q_a * k_b, axis=1))}

    def get_config(self):
        config = super().get_config()
        config.update(temperature=self.temperature, queue_size=self.queue_size, base_tau=self.base_tau,
                      final_tau=self.final_tau, total_steps=self.total_steps)
        return config


def register():
    """Make ``ToyMoCo`` selectable as ``--method toy_moco`` in this process (a child process of a test).

    ``register(name, description=...)`` adds a user's method to the catalogue and the registry. Not done at import: a test process that imported this module would otherwise list
    ``toy_moco`` among kspectral's own methods in every later test file of the same worker.
    """
    from kspectral.methods import register as register_method

    register_method(NAME, description="a user's MoCo (tests/user_method.py)")(ToyMoCo)
    return ToyMoCo


def unregister():
    """Undo :func:`register`."""
    from kspectral import catalog
    from kspectral.methods import registry

    registry._METHODS.pop(NAME, None)
    catalog.METHODS.pop(NAME, None)
    ToyMoCo.registry_name = None
