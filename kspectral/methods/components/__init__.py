"""Components a method is built from besides its encoder and projector, each a Keras layer saved with the model.

- :class:`MomentumTeacher`: an exponential moving average of online networks, moved after every optimizer step
  (:meth:`kspectral.methods.SSLModel.after_optimizer_step`) with ``τ`` a pure function of the step
  (:func:`momentum_schedule`);
- :class:`Predictor`: a prediction head on the projector's output;
- :class:`EmbeddingQueue`: a first-in first-out bank of past embeddings (negatives or a support set);
- :class:`Centre`: an exponential moving average of a batch statistic (e.g. the teacher's mean logits);
- :class:`DirectPredictor`: DirectPred's linear predictor, set in closed form from the projections' correlation;
- :class:`DINOHead`: DINO's MLP, L2 normalisation and weight-normalised prototype layer;
- :class:`OnlineProbe`: a linear classifier trained on the detached representations beside the objective;
- :class:`DeviceAugmentation`: the views drawn inside the train step, on the accelerator.
"""

from kspectral.methods.components.centre import Centre
from kspectral.methods.components.device_augmentation import DeviceAugmentation
from kspectral.methods.components.dino_head import DINOHead, WeightNormalizedDense
from kspectral.methods.components.directpred import DirectPredictor
from kspectral.methods.components.online_probe import OnlineProbe
from kspectral.methods.components.predictor import Predictor
from kspectral.methods.components.queue import EmbeddingQueue
from kspectral.methods.components.teacher import MomentumTeacher, momentum_schedule

__all__ = ["Centre", "DINOHead", "DeviceAugmentation", "DirectPredictor", "EmbeddingQueue", "MomentumTeacher",
           "OnlineProbe", "Predictor", "WeightNormalizedDense", "momentum_schedule"]
