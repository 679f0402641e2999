"""The run configuration: its schema (:class:`RunConfig`), its checks, its defaults and recipe files.

Three separate steps, in this order:

1. build: :meth:`RunConfig.from_dict` (a recipe, ``config.json`` or CLI options; unknown keys are an error), or
   :func:`resolve_config` (a recipe, then overrides);
2. check: :meth:`RunConfig.validate` raises ``ValueError`` naming the first bad field and its allowed values, and
   changes nothing;
3. fill in: :func:`with_defaults` returns a copy whose method-dependent defaults (the projector) are set.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
from dataclasses import dataclass, field

from kspectral.recipes import load_recipe  # noqa: F401  (re-exported: runs.load_recipe)
from kspectral.errors import InputError

PAIRS = ("augment", "knn", "labels")
DEFAULT_PROJECTOR = "1024-1024-1024"
KNN_PRESETS = ("dino", "instdisc")

#: fields that may differ when an interrupted run is resumed (e.g. a lower learning rate after a divergence)
RESUMABLE_CHANGES = ("epochs", "learning_rate", "weight_decay", "checkpoint_every", "tensorboard")


AUGMENT_ON = ("data", "device")
LR_SCALING = ("none", "linear")
BASELINES = ("auto", "linear", "none")
#: distribution strategies (:func:`kspectral.distribute.make_strategy`)
STRATEGIES = ("auto", "one", "mirrored", "multiworker", "tpu")
#: numeric precisions: Keras dtype policies float32, mixed_bfloat16, mixed_float16; "auto": bf16 on GPUs that
#: compute in bfloat16 (compute capability ≥ 8.0) and on TPUs, fp32 elsewhere (CPUs)
PRECISIONS = ("fp32", "bf16", "fp16", "auto")
#: the options of the projector (:class:`kspectral.methods.Projector`) a run may set
PROJECTOR_OPTIONS = {"batchnorm": bool, "last_bias": bool, "last_batchnorm": bool, "layer_defaults": str}
#: the options of the learning-rate schedule (:class:`kspectral.optimizers.WarmupCosine`) a run may set
SCHEDULE_OPTIONS = {"warmup_start": float, "warmup_law": str, "final_learning_rate": float}
#: XLA compilation of the train step: "auto" (on for GPUs and TPUs, off on CPUs), "on", "off"
JIT = ("auto", "on", "off")
#: the largest input dimension for which ``baseline = "auto"`` fits the linear closed form (a D×D eigenproblem)
AUTO_BASELINE_MAX_FEATURES = 4096


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
            with a projector (:func:`with_defaults`). Methods with their own heads (CISSL, DISSL) take none; their
            heads are set by ``method_options``.
        projector_options: options of the projector (:class:`kspectral.methods.Projector`): ``batchnorm``
            (``false``: hidden layers ``Linear-ReLU`` with biases and no BatchNorm, solo-learn's SimCLR head),
            ``last_bias``, ``last_batchnorm``, ``layer_defaults`` (``"pytorch"``: PyTorch's initialisation and
            BatchNorm ε/momentum, as the PyTorch sources of the recipes).
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
        >>> config = RunConfig(method="simclr", epochs=10).validate()
        >>> with_defaults(config).projector
        '1024-1024-1024'
    """

    method: str = "vicreg"
    dataset: str = "digits"
    data_dir: str | None = None
    image_size: int | None = None
    augment: str | None = None
    augment_on: str = "data"
    augment_options: dict = field(default_factory=dict)
    encoder: str = "mlp"
    encoder_widths: str | None = None
    stem: str = "auto"
    zero_init_residual: bool = False
    normalize: str | None = None
    projector: str | None = None
    projector_options: dict = field(default_factory=dict)
    pairs: str = "augment"
    knn_k: int = 10
    epochs: int = 100
    steps_per_epoch: int | None = None
    batch_size: int = 256
    optimizer: str = "adamw"
    learning_rate: float = 2e-3
    lr_scaling: str = "none"
    weight_decay: float = 1e-4
    momentum: float = 0.9
    optimizer_options: dict = field(default_factory=dict)
    warmup_epochs: int = 0
    schedule_options: dict = field(default_factory=dict)
    seed: int = 0
    test_size: float = 0.2
    baseline: str = "auto"
    baseline_dim: int = 32
    baseline_rounds: int = 4
    baseline_samples: int = 10000
    knn_preset: str = "dino"
    online_probe: bool = True
    classifier_lr: float | None = None
    tensorboard: bool = True
    strategy: str = "auto"
    cpu_devices: int | None = None
    precision: str = "fp32"
    jit: str = "auto"
    checkpoint_every: int | None = None
    deterministic: bool = False
    method_options: dict = field(default_factory=dict)

    def validate(self):
        """Raise ``ValueError`` naming the first invalid field and its allowed values; return ``self`` unchanged."""
        from kspectral import data, encoders, optimizers
        from kspectral._validation import parse_widths

        for f in dataclasses.fields(self):
            _check_type(f.name, getattr(self, f.name), FIELD_TYPES[f.name])
        method_class = _method_class(self.method)
        data.check_dataset_name(self.dataset)
        if not self.encoder.startswith(encoders.KERAS_PREFIX) and self.encoder not in encoders.ENCODERS:
            raise InputError(f"unknown encoder {self.encoder!r}; choose one of: {', '.join(encoders.ENCODERS)}, or "
                             "keras:NAME for a keras.applications model (e.g. keras:ResNet50, keras:MobileNetV2)")
        if self.augment is not None:
            _check_choice("augment", self.augment, data.AUGMENTERS)
            views, limit = data.preset_views(self.augment, self.augment_options), method_class.view_limit()
            if self.pairs == "augment" and limit is not None and views > limit:
                from kspectral.methods.registry import multiview_names

                takes = multiview_names()
                raise InputError(f"augment = {self.augment} makes {views} views, but {self.method} trains on at most "
                                 f"{limit}; use a two-view preset (e.g. cifar) or a method that takes {views} views: "
                                 f"{', '.join(takes)}")
        _check_choice("augment_on", self.augment_on, AUGMENT_ON)
        _check_choice("stem", self.stem, encoders.STEMS)
        _check_choice("pairs", self.pairs, PAIRS)
        _check_choice("optimizer", self.optimizer, optimizers.OPTIMIZERS)
        _check_choice("lr_scaling", self.lr_scaling, LR_SCALING)
        _check_choice("baseline", self.baseline, BASELINES)
        _check_choice("knn_preset", self.knn_preset, KNN_PRESETS)
        _check_choice("strategy", self.strategy, STRATEGIES)
        _check_choice("precision", self.precision, PRECISIONS)
        _check_choice("jit", self.jit, JIT)
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


#: the type of each field: a Python type, or a tuple of accepted types (``type(None)`` where ``None`` is allowed)
FIELD_TYPES = {
    "method": str, "dataset": str, "data_dir": (str, type(None)), "image_size": (int, type(None)), "augment":
    (str, type(None)), "augment_on": str, "augment_options": dict, "encoder": str, "encoder_widths":
    (str, type(None)), "stem": str, "zero_init_residual": bool, "projector": (str, type(None)), "pairs": str,
    "knn_k": int, "epochs": int, "steps_per_epoch": (int, type(None)), "batch_size": int, "optimizer": str,
    "learning_rate": float, "lr_scaling": str, "weight_decay": float, "momentum": float, "optimizer_options": dict,
    "warmup_epochs": int, "normalize": (str, type(None)), "projector_options": dict, "schedule_options": dict,
    "classifier_lr": (float, type(None)),
    "seed": int, "test_size": float, "baseline": str, "baseline_dim": int, "baseline_rounds": int,
    "baseline_samples": int, "knn_preset": str, "online_probe": bool, "tensorboard": bool, "strategy": str,
    "cpu_devices": (int, type(None)), "precision": str, "jit": str, "checkpoint_every": (int, type(None)),
    "deterministic": bool, "method_options": dict,
}


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


def _check_choice(name, value, allowed):
    if value not in allowed:
        raise InputError(f"unknown {name} {value!r}; choose one of: {', '.join(allowed)}")


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


def with_defaults(config):
    """A copy of a validated ``config`` with its method-dependent defaults filled in (the projector)."""
    filled = dataclasses.replace(config, method_options=dict(config.method_options))
    if filled.projector is None and _method_class(filled.method).uses_projector:
        filled.projector = DEFAULT_PROJECTOR
    return filled


def parse_setting(item):
    """``("key", value)`` or ``("table.key", value)`` from a ``--set KEY=VALUE`` string.

    ``VALUE`` is read as a TOML value (``0.3``, ``true``, ``"text"``, ``[1, 2]``); anything that is not one is taken
    as a plain string, so ``--set encoder=resnet18`` needs no quotes. A field that only takes text (e.g.
    ``encoder_widths``) keeps the text as written, so ``--set encoder_widths=16`` is the string ``"16"``. Types are
    checked later, as in a recipe.
    """
    import tomllib

    key, sep, text = str(item).partition("=")
    key = key.strip()
    if not sep or not key:
        raise InputError(f"--set takes KEY=VALUE (e.g. --set learning_rate=0.3), got {item!r}")
    text = text.strip()
    try:
        value = tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        value = text
    types = FIELD_TYPES.get(key, ())
    types = types if isinstance(types, tuple) else (types,)
    if str in types and not {int, float, bool} & set(types) and not isinstance(value, str):
        value = text
    return key, value


#: the config fields that are tables of options (``--set TABLE.KEY=VALUE``)
TABLES = ("method_options", "augment_options", "optimizer_options", "projector_options", "schedule_options")


def apply_settings(values, settings):
    """Apply ``--set`` strings to a dict of config fields (``table.key`` sets a key of a table field)."""
    values = {k: (dict(v) if isinstance(v, dict) else v) for k, v in values.items()}
    for item in settings:
        key, value = parse_setting(item)
        if "." in key:
            table, _, sub = key.partition(".")
            if table not in TABLES:
                raise InputError(f"--set {key}: only {', '.join(t + '.KEY' for t in TABLES)} take a dotted key")
            values.setdefault(table, {})[sub] = value
        else:
            values[key] = value
    return values


def resolve_config(recipe=None, settings=(), **overrides):
    """A :class:`RunConfig` from an optional recipe, keyword overrides (``None`` ignored) and ``--set`` strings.

    Example:
        >>> resolve_config("vicreg_mlp_bs256-100e_digits", epochs=5, settings=["learning_rate=0.01"]).learning_rate
        0.01
    """
    values = load_recipe(recipe) if recipe else {}
    values.update({k: v for k, v in overrides.items() if v is not None})
    return RunConfig.from_dict(apply_settings(values, settings))
