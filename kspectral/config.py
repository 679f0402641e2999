"""The run configuration :class:`RunConfig`, declared once: each field's type, default, section, help, CLI flag and
allowed values. TF-free.

Every field is declared with :func:`_field`, whose metadata (``dataclasses.fields(RunConfig)[i].metadata``) holds

- ``section``: one of :data:`SECTIONS` (the panel of ``kspectral train --help`` the flag is listed in);
- ``help``: the one-line help of the flag; :func:`help_text` appends the allowed values;
- ``flag``: the CLI flag (``"--epochs"``, or ``"--jit/--no-jit"`` with ``switch``), ``None`` for the fields set
  with ``--set KEY=VALUE``;
- ``choices``: the allowed values, the same tuple :meth:`RunConfig.validate` checks against (``None``: any);
- ``unset``: what a ``None`` default means, shown as the flag's default (e.g. ``"the dataset's"``);
- ``switch``: for ``--flag/--no-flag`` options of a text field, the two values they set (``("on", "off")``).

``kspectral train`` builds its options from this metadata (``cli/main.py``), so its flags, their shown defaults
and their allowed values are those of :class:`RunConfig`. The field types (:data:`FIELD_TYPES`) are read from the
annotations. This module imports no TensorFlow, so every command of the CLI can read it at start-up;
:mod:`kspectral.runs.config` builds configs from recipes and ``--set`` strings.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import types
import typing
from dataclasses import dataclass

from kspectral import catalog
from kspectral.distribute import STRATEGIES
from kspectral.errors import InputError

#: the sections of the config, in the order ``kspectral train --help`` lists them
SECTIONS = ("data", "model", "optimisation", "evaluation", "runtime")

PAIRS = ("augment", "knn", "labels")
DEFAULT_PROJECTOR = "1024-1024-1024"
KNN_PRESETS = tuple(catalog.KNN_PRESETS)

#: fields that may differ when an interrupted run is resumed (e.g. a lower learning rate after a divergence)
RESUMABLE_CHANGES = ("epochs", "learning_rate", "weight_decay", "checkpoint_every", "tensorboard")

AUGMENT_ON = ("data", "device")
LR_SCALING = ("none", "linear")
BASELINES = ("auto", "linear", "none")
#: numeric precisions: Keras dtype policies float32, mixed_bfloat16, mixed_float16; "auto": bf16 on GPUs that
#: compute in bfloat16 (compute capability ≥ 8.0) and on TPUs, fp32 elsewhere (CPUs)
PRECISIONS = ("fp32", "bf16", "fp16", "auto")
#: the options of the projector (:class:`kspectral.methods.Projector`) a run may set
PROJECTOR_OPTIONS = {"batchnorm": bool, "last_bias": bool, "last_batchnorm": bool, "layer_defaults": str,
                     "activation": str}
#: the options of the learning-rate schedule (:class:`kspectral.optimizers.WarmupCosine`) a run may set
SCHEDULE_OPTIONS = {"warmup_start": float, "warmup_law": str, "final_learning_rate": float}
#: XLA compilation of the train step: "auto" (on for GPUs and TPUs, off on CPUs), "on", "off"
JIT = ("auto", "on", "off")
#: the largest input dimension for which ``baseline = "auto"`` fits the linear closed form (a D×D eigenproblem)
AUTO_BASELINE_MAX_FEATURES = 4096
#: the dataset names written in the help of ``--dataset`` (``kspectral.data.load`` takes more)
DATASET_HELP = ("digits, a TFDS name (cifar10, cifar100, stl10, imagenette, mnist, fashion_mnist, tfds:NAME), a "
                "folder of images, or an .npz/.npy file.")


def _field(default, section, help, *, flag=None, choices=None, unset=None, switch=None):
    """A :class:`RunConfig` field with its metadata (the module docstring lists the keys); a ``dict`` default is
    an empty table (a fresh one per config)."""
    if section not in SECTIONS:
        raise ValueError(f"unknown config section {section!r}; choose one of: {', '.join(SECTIONS)}")
    metadata = {"section": section, "help": help, "flag": flag, "choices": choices, "unset": unset,
                "switch": switch}
    if default == {}:
        return dataclasses.field(default_factory=dict, metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


@dataclass
class RunConfig:
    """Everything a training run depends on; written to ``config.json``.

    Attributes:
        method: registered method name or alias (``kspectral methods`` lists them).
        dataset: ``"digits"`` (built in), a TFDS name (``cifar10``, ``cifar100``, ``stl10``, ``imagenette``,
            ``mnist``, ``fashion_mnist``, or ``tfds:NAME``), a folder of images, or an ``.npz`` / ``.npy`` file
            (:func:`kspectral.data.load`).
        data_dir: where prepared TFDS data lie (``None``: TFDS's default, ``~/tensorflow_datasets``).
        image_size: side the images are resized to (``None``: the dataset's own size).
        augment: augmentation preset (``kspectral.data.AUGMENTERS``); ``None`` picks the dataset's default.
        augment_on: ``"data"`` (augment in the ``tf.data`` pipeline, on the CPU) or ``"device"`` (inside the train
            step, on the accelerator).
        augment_options: options of the preset (e.g. ``{"strength": 0.5}``).
        encoder: built-in encoder (``mlp``, ``conv``, ``resnet18``, ``resnet34``, ``resnet50``) or ``keras:NAME``.
        encoder_widths: encoder block widths, e.g. ``"512-256"`` (``None``: the encoder's default).
        stem: ResNet stem: ``"auto"`` (CIFAR stem for images ≤ 64 px), ``"cifar"``, ``"cifar_pad2"`` (solo-learn's
            CIFAR stem: the 3×3 convolution padded by 2, 34×34 maps) or ``"imagenet"``.
        normalize: normalise the encoder's inputs with a dataset's per-channel mean and std (``"cifar10"``,
            ``"cifar100"``, ``"stl10"``, ``"imagenet"``; ``None``: none), as solo-learn's pipelines end. The
            :class:`~kspectral.data.Normalize` layer is the encoder's first layer, so the training views, the probes
            and ``model.encode`` all see normalised images alike (``model.keras`` holds it).
        zero_init_residual: start each ResNet block as the identity (the official VICReg / Barlow Twins code).
        projector: projector spec, e.g. ``"1024-1024-1024"``; ``None`` means ``"1024-1024-1024"`` for methods
            with a projector (:func:`~kspectral.runs.config.with_defaults`). Methods with their own heads (CISSL,
            DISSL) take none; their heads are set by ``method_options``.
        projector_options: options of the projector (:class:`kspectral.methods.Projector`): ``batchnorm``
            (``false``: hidden layers ``Linear-ReLU`` with biases and no BatchNorm, solo-learn's SimCLR head),
            ``last_bias``, ``last_batchnorm``, ``layer_defaults`` (``"pytorch"``: PyTorch's initialisation and
            BatchNorm ε/momentum, as the PyTorch sources of the recipes; ``"dino"``: the DINO head's), ``activation``
            (``"relu"`` or ``"gelu"``, the DINO head's).
        pairs: where positive pairs come from: ``"augment"`` (two augmentations of each image),
            ``"knn"`` (edges of a kNN graph on pixels) or ``"labels"`` (same-label pairs).
        knn_k: neighbours of the kNN graph (``pairs="knn"``).
        epochs: training epochs.
        steps_per_epoch: limit each epoch to this many steps (``None``: one pass over the data), e.g. for smoke runs.
        batch_size: pairs per batch.
        optimizer: ``"adamw"``, ``"lars"``, ``"sgd"`` or ``"lamb"`` (:func:`kspectral.optimizers.build_optimizer`).
        learning_rate: peak learning rate, after ``lr_scaling``; warm-up then cosine decay to 0.
        lr_scaling: ``"linear"`` multiplies ``learning_rate`` by ``batch_size / 256`` (the recipes' rule);
            ``"none"`` uses it as it is.
        weight_decay: weight decay (biases and normalisation parameters excluded).
        momentum: momentum of ``lars`` and ``sgd``.
        optimizer_options: further keyword arguments of the optimizer (e.g. ``{"trust_coefficient": 0.02}`` for
            LARS, ``{"beta_1": 0.95}`` for AdamW).
        warmup_epochs: linear warm-up epochs before the cosine decay. A run shorter than its warm-up (e.g. a recipe
            smoke-tested with ``--epochs 1``) warms up over the whole run, with a one-line note.
        schedule_options: options of the learning-rate schedule (:class:`kspectral.optimizers.WarmupCosine`):
            ``warmup_start`` (the rate at step 0; solo-learn's ``3e-5``), ``warmup_law`` (``"keras"`` or
            ``"pl_bolts"``, solo-learn's), ``final_learning_rate``.
        seed: seed of data split, pairs, augmentations and initialisation.
        test_size: held-out fraction for the probes (datasets without a test split).
        baseline: the closed-form spectral baseline: ``"linear"``, ``"none"``, or ``"auto"`` (linear when the
            inputs have at most 4096 features, else none).
        baseline_dim: output dimension K of the closed-form spectral baseline.
        baseline_rounds: augmentation rounds of the baseline's pair graph (``pairs="augment"``).
        baseline_samples: at most this many training images enter the baseline's graph.
        knn_preset: kNN probe preset, ``"dino"`` or ``"instdisc"``.
        online_probe: train a linear probe on the stop-gradient representations during training and report
            ``online_linear_top1`` and ``online_knn_top1`` on the test split each epoch (labelled data only).
        classifier_lr: train the online probe as solo-learn trains the classifier behind its published numbers: in
            the run's optimizer and schedule with this peak learning rate (scaled by ``lr_scaling`` as
            ``learning_rate``), no weight decay, on both views' detached representations
            (``SSLModel(online_probe_protocol="solo_learn")``); ``None``: kspectral's probe (Adam 1e-3, first view).
            Without an online probe (``online_probe = false``, or unlabelled data) it has no effect.
        tensorboard: write TensorBoard logs to ``RUN_DIR/tensorboard``.
        strategy: ``tf.distribute`` strategy: ``"auto"`` (mirrored over all GPUs when there are several, else one
            device), ``"one"``, ``"mirrored"`` (all GPUs, or the logical CPUs of ``cpu_devices``),
            ``"multiworker"`` (``MultiWorkerMirroredStrategy``, configured by ``TF_CONFIG``) or ``"tpu"``.
        cpu_devices: split the CPU into this many logical devices (``None``: leave it whole), so that ``mirrored``
            can run on a machine without GPUs; the batch size must be a multiple of it.
        precision: ``"fp32"``, ``"bf16"`` (``mixed_bfloat16``), ``"fp16"`` (``mixed_float16``, with loss scaling)
            or ``"auto"`` (bf16 on GPUs of compute capability ≥ 8.0 and on TPUs, fp32 elsewhere); the losses,
            statistics and probes compute in float32.
        jit: XLA-compile the train step: ``"auto"`` (on GPUs and TPUs, off on CPUs, where it was measured slower
            for convnets), ``"on"`` or ``"off"``.
        checkpoint_every: also checkpoint every this many steps (``None``: at the end of each epoch only).
        deterministic: make TensorFlow's ops deterministic (``tf.config.experimental.enable_op_determinism``), so
            that repeated runs are bit-identical on CPU.
        method_options: extra keyword arguments of the method class (e.g. ``{"invariance_weight": 10}``).

    Example:
        >>> from kspectral.runs import with_defaults
        >>> config = RunConfig(method="simclr", epochs=10).validate()
        >>> with_defaults(config).projector
        '1024-1024-1024'
    """

    method: str = _field("vicreg", "model", "SSL method (see `kspectral methods`).", flag="--method")
    dataset: str = _field("digits", "data", DATASET_HELP, flag="--dataset")
    data_dir: str | None = _field(None, "data", "Folder of prepared TFDS data.", flag="--data-dir",
                                  unset="~/tensorflow_datasets")
    image_size: int | None = _field(None, "data", "Resize images to this side.", flag="--image-size",
                                    unset="the dataset's")
    augment: str | None = _field(None, "data", "Augmentation preset.", flag="--augment",
                                 choices=catalog.AUGMENTERS, unset="the dataset's")
    augment_on: str = _field("data", "data", "Augment on the data pipeline (data) or in the train step (device).",
                             flag="--augment-on", choices=AUGMENT_ON)
    augment_options: dict = _field({}, "data", "Options of the augmentation preset.")
    encoder: str = _field("mlp", "model", "Encoder, or keras:NAME for a keras.applications model.",
                          flag="--encoder", choices=catalog.ENCODERS)
    encoder_widths: str | None = _field(None, "model", "Encoder block widths, e.g. 512-256.",
                                        unset="the encoder's")
    stem: str = _field("auto", "model", "ResNet stem (cifar_pad2: solo-learn's CIFAR stem).", flag="--stem",
                       choices=catalog.STEMS)
    zero_init_residual: bool = _field(False, "model", "Start each ResNet block as the identity.")
    normalize: str | None = _field(None, "data", "Normalise the encoder's inputs with a dataset's mean and std.",
                                   unset="none")
    projector: str | None = _field(None, "model", "Projector widths (methods with a projector).",
                                   flag="--projector", unset=DEFAULT_PROJECTOR)
    projector_options: dict = _field({}, "model", "Options of the projector.")
    pairs: str = _field("augment", "data", "Positive pairs: two augmentations, kNN-graph edges or same labels.",
                        flag="--pairs", choices=PAIRS)
    knn_k: int = _field(10, "data", "Neighbours of the kNN graph (--pairs knn).", flag="--knn-k")
    epochs: int = _field(100, "optimisation", "Training epochs (≥ 1).", flag="--epochs")
    steps_per_epoch: int | None = _field(None, "optimisation", "Limit each epoch to N steps.",
                                         flag="--steps-per-epoch", unset="one pass")
    batch_size: int = _field(256, "optimisation", "Pairs per batch (≥ 2).", flag="--batch-size")
    optimizer: str = _field("adamw", "optimisation", "Optimizer.", flag="--optimizer", choices=catalog.OPTIMIZERS)
    learning_rate: float = _field(2e-3, "optimisation", "Peak learning rate (> 0).", flag="--learning-rate")
    lr_scaling: str = _field("none", "optimisation", "linear: the learning rate times batch_size / 256.",
                             choices=LR_SCALING)
    weight_decay: float = _field(1e-4, "optimisation", "Weight decay (not of biases and normalisation).")
    momentum: float = _field(0.9, "optimisation", "Momentum of lars and sgd.")
    optimizer_options: dict = _field({}, "optimisation", "Further keyword arguments of the optimizer.")
    warmup_epochs: int = _field(0, "optimisation", "Linear warm-up epochs before the cosine decay.")
    schedule_options: dict = _field({}, "optimisation", "Options of the learning-rate schedule.")
    seed: int = _field(0, "runtime", "Random seed of split, pairs and initialisation.", flag="--seed")
    test_size: float = _field(0.2, "evaluation", "Held-out fraction where the data has no test split.")
    baseline: str = _field("auto", "evaluation", "The closed-form spectral baseline (auto: linear up to 4096 "
                           "features).", choices=BASELINES)
    baseline_dim: int = _field(32, "evaluation", "Dimension of the spectral baseline.", flag="--baseline-dim")
    baseline_rounds: int = _field(4, "evaluation", "Augmentation rounds of the baseline's pair graph.")
    baseline_samples: int = _field(10000, "evaluation", "At most this many training images in the baseline's graph.")
    knn_preset: str = _field("dino", "evaluation", "kNN probe preset.", choices=KNN_PRESETS)
    online_probe: bool = _field(True, "evaluation", "Train an online linear probe during training.")
    classifier_lr: float | None = _field(None, "evaluation", "Train the online probe as solo-learn's classifier, at "
                                         "this peak learning rate.", unset="kspectral's probe")
    tensorboard: bool = _field(True, "runtime", "Write TensorBoard logs to RUN_DIR/tensorboard.")
    strategy: str = _field("auto", "runtime", "tf.distribute strategy (multiworker reads TF_CONFIG).",
                           flag="--strategy", choices=STRATEGIES)
    cpu_devices: int | None = _field(None, "runtime", "Split the CPU into N logical devices (try --strategy mirrored "
                                     "without GPUs).", flag="--cpu-devices", unset="the whole CPU")
    precision: str = _field("fp32", "runtime", "Numeric precision (auto: bf16 on GPUs that support it, fp32 on "
                            "CPUs).", flag="--precision", choices=PRECISIONS)
    jit: str = _field("auto", "runtime", "XLA-compile the train step (auto: on GPUs and TPUs, off on CPUs).",
                      flag="--jit/--no-jit", choices=JIT, switch=("on", "off"))
    checkpoint_every: int | None = _field(None, "runtime", "Also checkpoint every N steps (a killed run resumes "
                                          "from there).", flag="--checkpoint-every", unset="every epoch")
    deterministic: bool = _field(False, "runtime", "Deterministic TensorFlow ops: bit-identical repeat runs on CPU.",
                                 flag="--deterministic")
    method_options: dict = _field({}, "model", "Extra keyword arguments of the method class.")

    def validate(self):
        """Raise ``ValueError`` naming the first invalid field and its allowed values; return ``self`` unchanged."""
        from kspectral import data, encoders
        from kspectral._validation import parse_widths

        for f in dataclasses.fields(self):
            _check_type(f.name, getattr(self, f.name), FIELD_TYPES[f.name])
        method_class = _method_class(self.method)
        data.check_dataset_name(self.dataset)
        for f in dataclasses.fields(self):
            value, choices = getattr(self, f.name), f.metadata["choices"]
            if choices is None or value is None or (f.name == "encoder" and value.startswith(encoders.KERAS_PREFIX)):
                continue
            also = (", or keras:NAME for a keras.applications model (e.g. keras:ResNet50, keras:MobileNetV2)"
                    if f.name == "encoder" else "")
            _check_choice(f.name, value, choices, also)
        if self.augment is not None:
            views, limit = data.preset_views(self.augment, self.augment_options), method_class.view_limit()
            if self.pairs == "augment" and limit is not None and views > limit:
                from kspectral.methods.registry import multiview_names

                takes = multiview_names()
                raise InputError(f"augment = {self.augment} makes {views} views, but {self.method} trains on at most "
                                 f"{limit}; use a two-view preset (e.g. cifar) or a method that takes {views} views: "
                                 f"{', '.join(takes)}")
        for name in ("epochs", "batch_size", "knn_k", "baseline_dim", "baseline_rounds", "baseline_samples",
                     "image_size", "steps_per_epoch", "cpu_devices", "checkpoint_every"):
            value, minimum = getattr(self, name), 2 if name in ("batch_size", "baseline_samples") else 1
            if value is not None and value < minimum:
                raise InputError(f"{name} must be an integer ≥ {minimum}, got {value!r}")
        if self.cpu_devices is not None and self.batch_size % self.cpu_devices:
            raise InputError(f"batch_size={self.batch_size} does not split over cpu_devices={self.cpu_devices}: each "
                             "replica takes batch_size / cpu_devices pairs; choose a batch size that is a multiple of "
                             "it")
        if self.warmup_epochs < 0:
            raise InputError(f"warmup_epochs must be an integer ≥ 0, got {self.warmup_epochs!r}")
        if self.normalize is not None:
            _check_choice("normalize", self.normalize, data.NORMALIZATION)
        if "normalize" in self.augment_options:
            raise InputError("normalise a run's images with its normalize setting (e.g. --set normalize=cifar10), not "
                             "augment_options.normalize: the setting puts the normalisation in the encoder, so the "
                             "test images are normalised too")
        _check_options("projector_options", self.projector_options, PROJECTOR_OPTIONS)
        _check_options("schedule_options", self.schedule_options, SCHEDULE_OPTIONS)
        if self.classifier_lr is not None:
            if not math.isfinite(self.classifier_lr) or self.classifier_lr <= 0:
                raise InputError(f"classifier_lr must be a positive number, got {self.classifier_lr!r}")
        if not 0 <= self.seed < 2**32:
            raise InputError(f"seed must be an integer in [0, 2³²), got {self.seed!r}")
        for name, positive in (("learning_rate", True), ("weight_decay", False), ("test_size", True),
                               ("momentum", False)):
            value = getattr(self, name)
            if not math.isfinite(value) or (value <= 0 if positive else value < 0):
                raise InputError(f"{name} must be a {'positive' if positive else 'non-negative'} number, got {value!r}")
        if not self.test_size < 1.0:
            raise InputError(f"test_size must lie strictly between 0 and 1, got {self.test_size!r}")
        if self.encoder_widths is not None:
            parse_widths(self.encoder_widths, what="encoder")
        if self.projector_options and not method_class.uses_projector:
            raise InputError(f"{self.method} has no projector (its heads are set by method_options); drop "
                             "projector_options")
        if self.projector is not None:
            if not method_class.uses_projector:
                raise InputError(f"{self.method} has no projector (its heads are set by method_options); "
                                 "drop --projector")
            parse_widths(self.projector)
        allowed = method_option_names(self.method)
        unknown = sorted(set(self.method_options) - set(allowed))
        if unknown:
            raise InputError(f"unknown method_options for {self.method}: {', '.join(unknown)}; "
                             f"allowed: {', '.join(allowed)}")
        return self

    def to_dict(self):
        """The config as a JSON-ready dict (the layout of ``config.json``)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values):
        """A config from a dict (e.g. a recipe or ``config.json``); unknown keys are an error."""
        if not isinstance(values, dict):
            raise InputError(f"a run config must be a table of fields, got {type(values).__name__}")
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            hints = [f"{k} (did you mean {m[0]}?)" if (m := difflib.get_close_matches(k, known, n=1)) else k
                     for k in unknown]
            raise InputError(f"unknown config keys: {', '.join(hints)}; allowed keys: {', '.join(sorted(known))}")
        return cls(**values)


def _accepted_types(annotation):
    """A field annotation as the type or tuple of types a value may have (``str | None`` → ``(str, NoneType)``)."""
    return typing.get_args(annotation) if isinstance(annotation, types.UnionType) else annotation


#: the type of each field, from its annotation: a Python type, or a tuple of accepted types (``type(None)`` where
#: ``None`` is allowed)
FIELD_TYPES = {name: _accepted_types(hint) for name, hint in typing.get_type_hints(RunConfig).items()}


def help_text(f):
    """The help of a field's flag: its ``help`` metadata, then its allowed values when it has ``choices`` (for a
    ``--x/--no-x`` switch, the value each of the two sets)."""
    choices, switch = f.metadata["choices"], f.metadata["switch"]
    if switch:
        on, off = f.metadata["flag"].split("/")
        return f"{f.metadata['help']} {on}: {switch[0]}, {off}: {switch[1]}."
    return f.metadata["help"] + (f" One of: {', '.join(choices)}." if choices else "")


def default_text(f):
    """A field's default as ``--help`` shows it: the value (``on`` / ``off`` for a boolean), or what ``None``
    means (its ``unset`` metadata)."""
    if f.default is None:
        return f.metadata["unset"]
    if isinstance(f.default, bool):
        return "on" if f.default else "off"
    return "{}" if f.default is dataclasses.MISSING else str(f.default)


def field_named(name):
    """The :class:`dataclasses.Field` of the :class:`RunConfig` field ``name``."""
    return next(f for f in dataclasses.fields(RunConfig) if f.name == name)


def _type_name(types):
    names = {str: "a string", int: "an integer", float: "a number", bool: "true or false", dict: "a table",
             type(None): "none"}
    types = types if isinstance(types, tuple) else (types,)
    return " or ".join(names[t] for t in types)


def _check_type(name, value, types):
    types = types if isinstance(types, tuple) else (types,)
    ok = any(
        (t is float and isinstance(value, (int, float)) and not isinstance(value, bool))
        or (t is int and isinstance(value, int) and not isinstance(value, bool))
        or (t not in (int, float) and isinstance(value, t))
        for t in types
    )
    if not ok:
        raise InputError(f"{name} must be {_type_name(types)}, got {value!r}")


def _check_choice(name, value, allowed, also=""):
    if value not in allowed:
        raise InputError(f"unknown {name} {value!r}; choose one of: {', '.join(allowed)}{also}")


def _check_options(name, options, allowed):
    """A table of options whose keys and value types are those of ``allowed`` (``{key: type}``)."""
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise InputError(f"unknown {name}: {', '.join(unknown)}; allowed: {', '.join(allowed)}")
    for key, value in options.items():
        _check_type(f"{name}.{key}", value, allowed[key])


def _method_class(method):
    from kspectral import methods

    return methods.get(method)


def method_option_names(method):
    """The keyword arguments a method takes besides its encoder and heads (its ``method_options``).

    An alias's fixed options (e.g. ``negatives`` for ``simclr_abs``) are not among them.
    """
    import inspect

    from kspectral import methods

    cls, fixed = methods.resolve(method)
    params = inspect.signature(cls.__init__).parameters
    return [n for n, p in params.items()
            if n not in ("self", "encoder", "projector", *fixed) and p.kind is p.POSITIONAL_OR_KEYWORD]
