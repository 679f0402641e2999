"""The three workflows behind the command line: :func:`train`, :func:`probe` and :func:`spectral`."""

from __future__ import annotations

import dataclasses
import math
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

from kspectral.runs.config import AUTO_BASELINE_MAX_FEATURES, KNN_PRESETS, RunConfig, with_defaults
from kspectral.runs.execution import building, worker_run_dir
from kspectral.runs.execution import prepare as prepare_execution
from kspectral.runs.honesty import online_probe_warnings
from kspectral.runs.problem import (
    GRAPHS,
    build_problem,
    canonical_method,
    check_graph_spec,
    device_augmenters,
    fit_baseline,
    graph_for_pairs,
    training_pairs,
)
from kspectral.runs.rundir import (
    TRAINED,
    check_out_dir,
    check_run_dir,
    default_run_dir,
    history_logger,
    prepare_run_dir,
    read_json,
    read_trained,
    truncate_history,
    write_json,
)
from kspectral.runs.table import ProbeTable, check_probes, probe_dict, probe_row, table_warnings
from kspectral.spectral.baselines import REGIMES
from kspectral.errors import InputError


@dataclass
class RunResult:
    """What :func:`train` produced.

    Attributes:
        run_dir: the run directory.
        rows: the probe table (:class:`~kspectral.runs.ProbeRow` list).
        metrics: the content of ``metrics.json``.
        resumed: whether an interrupted run was resumed.
        warnings: ``[{"code", "message"}]``: the flagged results (:mod:`kspectral.runs.honesty`), as in
            ``metrics.json``.
    """

    run_dir: Path
    rows: list
    metrics: dict
    resumed: bool
    warnings: list = field(default_factory=list)


@dataclass
class SpectralResult:
    """What :func:`spectral` produced: the probe table, the content of ``spectral.json`` and its ``warnings``
    (``[{"code", "message"}]``, :mod:`kspectral.runs.honesty`)."""

    rows: list
    summary: dict
    warnings: list = field(default_factory=list)


def steps_per_epoch(config, dataset):
    """Optimizer steps per epoch: ``config.steps_per_epoch``, or one pass over the pre-training data.

    ``augment`` pairs drop the last partial batch (:func:`kspectral.data.augmented_pairs`); graph pairs keep it.
    :func:`train` fits its endless stream with this many steps per epoch; the stream's own passes over the data
    stay whole passes when ``config.steps_per_epoch`` differs.
    """
    if config.steps_per_epoch is not None:
        return config.steps_per_epoch
    if config.pairs == "augment":
        return max(dataset.num_pretrain // config.batch_size, 1)
    return math.ceil(len(dataset.x_train) / config.batch_size)


def build_encoder(config, dataset):
    """The configured backbone for ``dataset``'s inputs (:func:`kspectral.encoders.build_encoder`)."""
    from kspectral import encoders

    options = {}
    if config.encoder.startswith("resnet"):
        options = {"stem": config.stem, "zero_init_residual": config.zero_init_residual}
    elif config.stem != "auto":
        raise InputError(f"stem={config.stem!r} applies to the ResNet encoders only; drop --stem for {config.encoder}")
    elif config.zero_init_residual:
        raise InputError(f"zero_init_residual applies to the ResNet encoders only, not to {config.encoder}")
    shape = tuple(dataset.image_shape)
    if multisize_views(config) and config.encoder == "mlp":
        raise InputError("augment = multicrop makes large and small crops, which the mlp encoder (it flattens a fixed "
                         "image size) cannot both take; use a convolutional encoder (--encoder conv or resnet18)")
    if multisize_views(config) and len(shape) == 3:
        shape = (None, None, shape[-1])  # multi-crop: the large and the small crops go through the same encoder
    encoder = encoders.build_encoder(config.encoder, shape, config.encoder_widths, **options)
    if config.normalize is not None:
        encoder = encoders.with_input_normalization(encoder, shape, config.normalize)
    return encoder


def multisize_views(config):
    """Whether the run's views come in more than one size (``multicrop``'s large and small crops), so that its
    encoder takes images of any height and width."""
    return config.pairs == "augment" and config.augment == "multicrop"


def warmup_steps(config, steps):
    """The warm-up's optimizer steps: ``warmup_epochs × steps``, clipped to the run (all but its last step)."""
    return min(config.warmup_epochs * steps, max(config.epochs * steps, 1) - 1)


def warmup_note(config, steps):
    """A one-line note when the run is shorter than its warm-up (the warm-up is then clipped), else ``None``."""
    if config.warmup_epochs <= 0 or config.warmup_epochs < config.epochs:
        return None
    return (f"note: warmup_epochs={config.warmup_epochs} is not shorter than epochs={config.epochs}; the warm-up is "
            f"clipped to the run ({warmup_steps(config, steps)} of its {config.epochs * steps} steps) and the cosine "
            "decay does not start")


def _schedule(config, steps, peak):
    from kspectral import optimizers

    total = max(config.epochs * steps, 1)
    try:
        return optimizers.WarmupCosine(peak, total, warmup_steps=warmup_steps(config, steps),
                                       **config.schedule_options)
    except (TypeError, ValueError) as exc:  # the options come from the user: report them as bad input
        raise InputError(f"bad schedule_options: {exc}") from None


def _peak(config, learning_rate):
    from kspectral import optimizers

    if config.lr_scaling == "linear":
        return optimizers.scaled_learning_rate(learning_rate, config.batch_size)
    return learning_rate


def build_optimizer(config, steps):
    """The configured optimizer with a warm-up cosine schedule over ``config.epochs × steps`` steps.

    The peak learning rate is ``learning_rate``, times ``batch_size / 256`` with ``lr_scaling = "linear"``.
    """
    return _optimizer(config, _schedule(config, steps, _peak(config, config.learning_rate)), config.weight_decay)


def _optimizer(config, schedule, weight_decay):
    from kspectral import optimizers

    try:
        return optimizers.build_optimizer(config.optimizer, schedule, weight_decay=weight_decay,
                                          momentum=config.momentum, **config.optimizer_options)
    except (TypeError, ValueError) as exc:  # the options come from the user: report them as bad input
        raise InputError(f"bad optimizer_options for {config.optimizer}: {exc}") from None


def build_probe_optimizer(config, steps):
    """The online probe's optimizer when ``classifier_lr`` is set: solo-learn's classifier parameter group.

    solo-learn trains its online classifier in the run's optimizer as a parameter group with ``lr =
    classifier_lr`` (scaled with the batch as ``lr``) and ``weight_decay = 0``, under the run's schedule
    (``solo/methods/base.py``, ``learnable_params``). A parameter group is an optimizer of the same class and
    options over its own variables, stepped with the others: so this is the run's optimizer, built again with the
    schedule at ``classifier_lr`` and no weight decay. ``None`` without ``classifier_lr`` (the model's default
    probe optimizer, Adam 1e-3).
    """
    if config.classifier_lr is None:
        return None
    return _optimizer(config, _schedule(config, steps, _peak(config, config.classifier_lr)), 0.0)


def online_probe_classes(config, dataset):
    """The number of classes of the run's online linear probe, or ``None`` when it has none.

    The probe trains on the labels that ride along with the training batches: it needs labelled in-memory training
    images (a streamed pre-training set such as STL-10's unlabelled split has no labels; its runs keep the kNN
    monitor only).
    """
    if not (config.online_probe and dataset.labelled and dataset.pretrain is None):
        return None
    return int(dataset.num_classes)


#: the method arguments a run fills from its length (a method that takes them gets them unless its
#: ``method_options`` set them): a momentum teacher's cosine schedule, DINO's and SwAV's step-based freezes
SCHEDULE_ARGUMENTS = ("total_steps", "steps_per_epoch")


def run_schedule(config, steps):
    """``{"total_steps": epochs × steps, "steps_per_epoch": steps}``, restricted to the arguments the run's method
    class takes (:data:`SCHEDULE_ARGUMENTS`)."""
    import inspect

    from kspectral import methods

    accepted = inspect.signature(methods.get(config.method).__init__).parameters
    values = {"total_steps": int(config.epochs) * int(steps), "steps_per_epoch": int(steps)}
    return {name: value for name, value in values.items() if name in accepted}


def build_model(config, dataset, steps=None, jit_compile="auto"):
    """The method's Keras model with the configured encoder and projector, compiled with the configured optimizer.

    With ``augment_on = "device"`` the model carries the augmenters; with ``online_probe`` an online linear probe.
    Build it inside :func:`kspectral.runs.execution.building` to give it the run's strategy and dtype policy;
    ``jit_compile`` is passed to ``compile()``.
    """
    from kspectral import methods

    from kspectral.methods import make_projector

    steps = steps or steps_per_epoch(config, dataset)
    encoder = build_encoder(config, dataset)
    heads = {}
    if config.projector is not None:
        try:
            # the method's own head options (e.g. MoCo v3's last BatchNorm), then the run's
            defaults = methods.get(config.method).projector_defaults
            heads["projector"] = make_projector(config.projector, **{**defaults, **config.projector_options})
        except (TypeError, ValueError) as exc:
            raise InputError(f"bad projector_options: {exc}") from None
    extras = {}
    if (augmenters := device_augmenters(config, dataset)) is not None:
        extras["augmenters"] = augmenters
    if (classes := online_probe_classes(config, dataset)) is not None:
        extras["online_probe_classes"] = classes
        if config.classifier_lr is not None:
            extras["online_probe_optimizer"] = build_probe_optimizer(config, steps)
            extras["online_probe_protocol"] = "solo_learn"
    try:
        # every BatchNorm, the encoder's too, normalises over the global batch under a strategy, as the official
        # VICReg and Barlow Twins code does with SyncBatchNorm (docs/distributed.md)
        options = {"sync_batchnorm": "all", **run_schedule(config, steps), **config.method_options}
        model = methods.create(config.method, encoder, **heads, **extras, **options)
    except (TypeError, ValueError) as exc:  # the options come from the user: report them as bad input
        raise InputError(f"bad method_options for {config.method}: {exc}") from None
    model.compile(optimizer=build_optimizer(config, steps), jit_compile=jit_compile)
    model.build((None, *dataset.image_shape))
    # the optimizer's slots are created here, under the strategy's scope that build_model runs in: a resumed run
    # loads its checkpoint into them, and a MirroredStrategy refuses to create them outside its scope
    model.optimizer.build(model.trainable_variables)
    return model


def _load_dataset(config):
    from kspectral.data import load

    return load(config.dataset, data_dir=config.data_dir, image_size=config.image_size, test_size=config.test_size,
                seed=config.seed)


def baseline_plan(config, dataset):
    """``(regime, reason)``: ``("linear", None)`` when the run fits its closed form, else ``(None, why not)``."""
    features = int(math.prod(dataset.image_shape))
    if config.baseline == "none":
        return None, "baseline = none"
    if not dataset.labelled:
        return None, ("the dataset has no labels to probe the baseline with; `kspectral spectral --run RUN_DIR` "
                      "computes it without probes")
    if config.baseline == "auto" and features > AUTO_BASELINE_MAX_FEATURES:
        return None, (f"the inputs have {features} features (more than {AUTO_BASELINE_MAX_FEATURES}); set "
                      "baseline = linear to fit it anyway, or a smaller image_size")
    return "linear", None


def _run_problem(config, dataset, needed):
    if config.pairs == "labels" and not dataset.labelled:
        raise InputError("pairs = labels needs a labelled dataset; use pairs = augment or knn")
    if config.pairs == "augment" and not needed:
        return None
    return build_problem(dataset, graph_for_pairs(config.pairs, config.knn_k), rounds=config.baseline_rounds,
                         seed=config.seed, max_samples=config.baseline_samples, augment=config.augment,
                         augment_options=config.augment_options)


def _run_table(config, dataset, model, baseline, probes=("linear", "knn"), stage=None, mlp_options=None):
    if not dataset.labelled:
        return []
    raw_train, raw_test = dataset.flat("train"), dataset.flat("test")
    options = {"knn_preset": config.knn_preset, "probes": probes, "seed": config.seed, "on_stage": stage,
               "mlp_options": mlp_options}
    rows = [
        probe_row("raw pixels", raw_train, raw_test, dataset, **options),
        probe_row(f"{config.method} encoder", model.encode(dataset.x_train), model.encode(dataset.x_test), dataset,
                  **options),
    ]
    if baseline is not None:
        rows.append(probe_row(f"spectral baseline ({config.method})", baseline.transform(raw_train),
                              baseline.transform(raw_test), dataset, **options))
    return rows


def _monitors(config, dataset):
    from kspectral.callbacks import OnlineProbeMonitor

    if not (config.online_probe and dataset.labelled):
        return []
    # solo-learn validates its online classifier with the backbone in eval mode (BatchNorm's moving statistics):
    # a run at its protocol (classifier_lr) reports that number, the one its tables publish
    calibration = {"calibration": 0} if config.classifier_lr is not None else {}
    return [OnlineProbeMonitor(dataset.x_train, dataset.y_train, dataset.x_test, dataset.y_test,
                               knn_preset=config.knn_preset, seed=config.seed, **calibration)]


def _baseline_dim(config, problem):
    return min(config.baseline_dim, problem.X.shape[1])


def _save_model(model, out):
    """``model.keras``, written to a temporary name and renamed (a kill never leaves half a model)."""
    import os

    partial = out / "model-partial.keras"  # Keras wants the .keras suffix
    model.save(partial)
    os.replace(partial, out / "model.keras")


def _divergence(out, epoch, checkpoint):
    """The ``FloatingPointError`` of a run whose loss became NaN or Inf in ``epoch``."""
    if checkpoint is None:
        return FloatingPointError(f"training diverged (non-finite loss) in epoch {epoch} before its first "
                                  "checkpoint; lower --learning-rate")
    return FloatingPointError(
        f"training diverged (non-finite loss) in epoch {epoch}; the last finite checkpoint (step {checkpoint}) is "
        f"kept in {out / 'backup'}: train again with the same --out and a lower --learning-rate to resume from it"
    )


def _train_model(config, dataset, problem, model, out, steps, labels, resuming, callbacks, verbose, stage):
    """Fit ``model`` from the newest checkpoint of ``out`` (or from scratch) to ``config.epochs``.

    The training stream is endless and its batch ``t`` depends on ``(seed, t)`` only
    (:func:`~kspectral.runs.problem.training_pairs` with ``start_step``), so resuming at step ``t0`` is the stream from
    ``t0``. A checkpoint in the middle of epoch ``e`` (``p`` of its ``S`` steps done) first runs the rest of that
    epoch as its own ``fit(initial_epoch=e, epochs=e + 1, steps_per_epoch=S − p)``, its metric trackers set to their
    saved running means, then ``fit(initial_epoch=e + 1, ...)``; the learning-rate schedule follows the optimizer's
    step counter, restored with the weights.

    Returns:
        ``(final_logs, epochs_trained, steps_trained, seconds)``.
    """
    import keras

    from kspectral.distribute import shard_by_data
    from kspectral.runs.checkpoints import BACKUP, checkpoint_callback, committed, restore_checkpoint

    backup = out / BACKUP
    info = restore_checkpoint(backup, model) if resuming else None
    start = 0 if info is None else int(info["step"])
    epoch, batch = divmod(start, steps)
    if info is not None:
        stage(f"resuming from the checkpoint of step {start} (epoch {epoch}, batch {batch})")
    truncate_history(out / "history.csv", epoch)  # rows of the epochs this run (re)does
    last_epoch = None if info is None else info.get("last_epoch")
    last_logs = None if info is None else info.get("last_logs")
    checkpoint = checkpoint_callback(backup, steps, config.checkpoint_every, start_step=start,
                                     metric_states=info["metric_states"] if info is not None and batch else None,
                                     last_logs=last_logs, last_epoch=last_epoch)
    monitors = _monitors(config, dataset)

    def fit(first, last, n_steps):
        # every worker of a multi-worker run reads the same stream and takes its slice of each global batch
        pairs = shard_by_data(training_pairs(config, dataset, problem, labels=labels, start_step=checkpoint.step))
        fit_callbacks = [
            *monitors,  # before the loggers: they write online_*_top1 into the epoch logs
            history_logger(out / "history.csv", append=True),
            checkpoint,  # after the history row: a kill between the two redoes the epoch and drops its row
            keras.callbacks.TerminateOnNaN(),
            *([keras.callbacks.TensorBoard(log_dir=str(out / "tensorboard"))] if config.tensorboard else []),
            *callbacks,
        ]
        model.fit(pairs, initial_epoch=first, epochs=last, steps_per_epoch=n_steps, callbacks=fit_callbacks,
                  verbose=verbose, shuffle=False)

    started = time.perf_counter()
    model.stop_training = False
    if batch and epoch < config.epochs:  # the rest of the interrupted epoch
        fit(epoch, epoch + 1, steps - batch)
        epoch += 1
    if epoch < config.epochs and not model.stop_training:
        fit(epoch, config.epochs, steps)
    seconds = time.perf_counter() - started
    if checkpoint.epoch_logs:
        last_epoch = max(checkpoint.epoch_logs)
        last_logs = checkpoint.epoch_logs[last_epoch]
        if not all(math.isfinite(float(v)) for v in last_logs.values()):
            newest = committed(backup)
            raise _divergence(out, last_epoch, int(newest[0].stem.split("-")[1]) if newest else None)
    if last_logs is None:
        raise InputError(f"no epoch was trained in {out}: train with --epochs 1 or more")
    return last_logs, last_epoch + 1, checkpoint.step, seconds


def _result_warnings(summary, rows, dataset):
    """The warnings of a result: its closed form's (``summary["warnings"]``), then its probe table's."""
    return summary.get("warnings", []) + table_warnings(rows, dataset)


def _validated(config, given=False):
    """``config.validate()``; with ``given`` data (``data=`` of :func:`train` / :func:`probe`) every field but
    ``dataset``, which then only names the data."""
    if not given:
        return config.validate()
    dataclasses.replace(config, dataset="digits").validate()
    return config


def train(config, out=None, callbacks=(), verbose=0, on_stage=None, data=None):
    """Train ``config``'s method on its dataset, save the run, probe it beside its spectral baseline.

    The baseline is the method's linear-regime closed form on the graph the training pairs come from (``knn``,
    ``labels``), or on the pair graph of augmented views of the training images (``augment``).

    Fault tolerance (``docs/fault_tolerance.md``): the run checkpoints at each epoch's end and every
    ``checkpoint_every`` steps (:mod:`kspectral.runs.checkpoints`); started again with the same ``out`` and options,
    an interrupted or killed run resumes from its newest usable checkpoint and ends with the weights of an
    uninterrupted run (the data stream resumes at the same batch). A NaN or Inf loss stops training with a
    ``FloatingPointError`` and keeps the last finite checkpoint. Once trained, ``model.keras`` and ``training.json``
    are saved before the baseline and probe stages, which a resumed run then runs without training again. Asking
    a resumed run for fewer epochs than it has trained is a ``ValueError``. ``deterministic`` enables
    TensorFlow's op determinism (process-wide), for bit-identical repeat runs.

    Args:
        config: :class:`~kspectral.runs.RunConfig` (validated here; its defaults are filled in).
        out: run directory (default ``runs/<method>-<dataset>-<pairs>-<time>``): new, empty, or one of an
            interrupted run.
        callbacks: extra Keras callbacks (e.g. a progress display).
        verbose: Keras ``fit`` verbosity.
        on_stage: optional function called with a short description of each stage.
        data: the data itself instead of ``config.dataset``: an :class:`~kspectral.data.ImageDataset`, numpy arrays
            ``(x, y)`` / ``(x_train, y_train, x_test, y_test)`` or a finite ``tf.data.Dataset`` of ``(image,
            label)`` (read into memory up to 4 GiB; :func:`kspectral.data.as_dataset` gives the rules), split with
            ``config.test_size`` and ``config.seed`` where it has no test split. ``config.dataset`` is then recorded
            as ``"arrays"`` (an ImageDataset: its ``name``); resume such a run with the same ``data``.

    Returns:
        :class:`RunResult`.

    Example:
        >>> import numpy as np
        >>> x = np.random.default_rng(0).integers(0, 256, (200, 16, 16, 3), dtype=np.uint8)
        >>> result = train(RunConfig(epochs=2, batch_size=32, encoder="conv"), data=(x, np.arange(200) % 4))
        ...                                                                         # doctest: +SKIP
    """
    import keras

    from kspectral.data import as_dataset

    stage = on_stage or (lambda message: None)
    config = with_defaults(_validated(config, given=data is not None))
    execution = prepare_execution(config)  # devices first: TensorFlow cannot change them once it has started
    given_data = None
    if data is not None:  # the data's name replaces config.dataset, which is not loaded
        given_data = as_dataset(data, test_size=config.test_size, seed=config.seed)
        config.dataset = given_data.name
    out = worker_run_dir(Path(out or default_run_dir(config)), execution.strategy)
    out = check_run_dir(out)  # read-only: a foreign or finished directory fails fast
    if config.deterministic:
        import tensorflow as tf

        tf.config.experimental.enable_op_determinism()
    started = time.perf_counter()
    dataset = _load_dataset(config) if given_data is None else given_data
    if config.batch_size > dataset.num_pretrain:
        raise InputError(f"batch_size={config.batch_size} is larger than the {dataset.num_pretrain} training images; "
                         "lower --batch-size")
    if config.pairs == "augment" and config.augment is None:  # record the preset that runs in config.json
        config.augment = dataset.default_augment
    regime, no_baseline = baseline_plan(config, dataset)
    # everything that can reject the config runs before the run directory exists
    problem = _run_problem(config, dataset, needed=regime is not None)
    steps = steps_per_epoch(config, dataset)
    labels = dataset.y_train if online_probe_classes(config, dataset) is not None else None
    training_pairs(config, dataset, problem, labels=labels, start_step=0)  # checks the pipeline's options
    keras.utils.set_random_seed(config.seed)  # the initialisation
    with building(execution):
        model = build_model(config, dataset, steps, jit_compile=execution.jit_compile)
    out, resuming = prepare_run_dir(out, config, steps)
    if execution.replicas > 1 or execution.policy != "float32" or execution.jit_compile:
        stage(f"running on {execution.describe()}")
    if (note := warmup_note(config, steps)) is not None:
        stage(note)
    trained = read_trained(out) if resuming else None
    if trained is not None and trained.get("requested_epochs") == config.epochs:
        stage(f"training finished before the interruption: loading {out / 'model.keras'}")
        model = load_run_model(out)
        final, epochs_done, train_time = trained["final_train_metrics"], trained["epochs"], trained["train_time_s"]
    else:
        stage(("resuming" if resuming else "training") + f" {config.method} on {config.dataset} ({config.pairs} "
              f"pairs) → {out}")
        (out / TRAINED).unlink(missing_ok=True)
        final, epochs_done, steps_done, train_time = _train_model(config, dataset, problem, model, out, steps, labels,
                                                                  resuming, callbacks, verbose, stage)
        _save_model(model, out)
        write_json(out / TRAINED, {"final_train_metrics": final, "epochs": epochs_done, "steps": steps_done,
                                   "requested_epochs": config.epochs, "train_time_s": round(train_time, 2)})
    baseline, summary = None, {"estimator": None, "skipped": no_baseline}
    if regime is not None:
        stage("fitting the closed-form spectral baseline")
        baseline, summary = fit_baseline(config.method, problem, _baseline_dim(config, problem), regime)
    if not dataset.labelled:
        stage("no probes: the dataset has no labels (probes need labelled data)")
    rows = _run_table(config, dataset, model, baseline, stage=stage)
    warnings = _result_warnings(summary, rows, dataset) + online_probe_warnings(final, rows, dataset,
                                                                                epochs_done * steps)
    metrics = {
        "method": config.method,
        "dataset": config.dataset,
        "pairs": config.pairs,
        "image_shape": list(dataset.image_shape),
        "augment": config.augment,
        "probes": probe_dict(rows),
        "knn_preset": config.knn_preset,
        "spectral_baseline": summary,
        "final_train_metrics": final,
        "epochs": epochs_done,
        "steps_per_epoch": steps,
        "train_time_s": round(train_time, 2),
        "wall_time_s": round(time.perf_counter() - started, 2),
        "resumed": resuming,
        "warnings": warnings,
    }
    write_json(out / "metrics.json", metrics)
    shutil.rmtree(out / "backup", ignore_errors=True)
    (out / TRAINED).unlink(missing_ok=True)  # metrics.json holds it now
    return RunResult(out, rows, metrics, resuming, warnings)


def load_run_model(run_dir):
    """The ``model.keras`` of a run directory, loaded in Keras safe mode; a clear error if it is not a kspectral model.

    Python bytecode in the file (a ``Lambda`` layer's function, serialised as ``__lambda__``) is refused before
    Keras reads it, and the file is loaded with ``safe_mode=True``: loading a run never runs code from it, also in
    a process that called ``keras.config.enable_unsafe_deserialization()`` (which overrides Keras' own
    ``safe_mode`` argument).

    Raises:
        FileNotFoundError: there is no ``model.keras``.
        ValueError: the file is not a ``.keras`` archive, holds Python code, cannot be rebuilt, or holds another
            Keras model than a kspectral :class:`~kspectral.methods.SSLModel`.
    """
    import json
    import zipfile

    import keras

    from kspectral.methods import SSLModel

    path = Path(run_dir) / "model.keras"
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing; probe a finished run directory written by `kspectral train`")
    if not zipfile.is_zipfile(path):
        raise InputError(f"{path} is not a .keras archive (a .keras file is a zip archive; this one is damaged or "
                         "is another kind of file); restore it from a copy, or train the run again")
    refused = InputError(f"{path} holds Python code (e.g. a Lambda layer) and was refused: kspectral loads .keras "
                         "files in Keras safe mode and never runs code from them; use a model written by "
                         "`kspectral train`")

    def holds_bytecode(node):
        if isinstance(node, dict):
            return node.get("class_name") == "__lambda__" or any(holds_bytecode(v) for v in node.values())
        return isinstance(node, list) and any(holds_bytecode(v) for v in node)

    try:
        with zipfile.ZipFile(path) as archive:
            config = json.loads(archive.read("config.json"))
    except (KeyError, zipfile.BadZipFile, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"{path} is not a .keras archive ({type(exc).__name__}: {exc}); restore it from a copy, or "
                         "train the run again") from None
    if holds_bytecode(config):
        raise refused
    try:
        model = keras.models.load_model(path, safe_mode=True)
    except Exception as exc:  # noqa: BLE001 - Keras raises many kinds for a damaged or foreign file
        text, chained, seen = str(exc), exc, 0
        while (chained := chained.__cause__ or chained.__context__) is not None and seen < 10:  # Keras wraps it
            text, seen = f"{text} {chained}", seen + 1
        if "safe_mode" in text or "arbitrary code" in text:
            raise refused from None
        first = str(exc).splitlines()[0][:300] if str(exc) else "no message"
        raise InputError(f"{path} could not be loaded as a kspectral model ({type(exc).__name__}: {first}); the file "
                         "is damaged or was written by another kspectral version: load it with that version, or train "
                         "the run again") from None
    if not isinstance(model, SSLModel):
        raise InputError(f"{path} holds a {type(model).__name__}, not a kspectral model; probe a run directory "
                         "written by `kspectral train`")
    return model


def _check_loadable(config, run_dir):
    from kspectral.data import check_dataset_name

    try:
        check_dataset_name(config.dataset)
    except ValueError as exc:
        raise InputError(f"{run_dir}'s dataset {config.dataset!r} cannot be loaded ({exc}); a run trained from Python "
                         "on in-memory data is probed with the same data: kspectral.runs.probe(run_dir, data=...)"
                         ) from None


def probe(run_dir, knn_preset=None, probes=("linear", "knn"), data=None, on_stage=None, mlp_options=None):
    """Re-evaluate a saved run: reload its model and config, recompute the probe table.

    The table is also written to ``RUN_DIR/probe.json``.

    Args:
        run_dir: a run directory written by :func:`train`.
        data: the data of a run trained with ``train(..., data=...)`` (the same arrays, ``ImageDataset`` or
            ``tf.data`` dataset; split again with the run's seed and ``test_size``); ``None`` loads the run's
            ``dataset``.
        knn_preset: kNN probe preset (default: the run's).
        probes: which probes to run: ``"linear"``, ``"knn"``, ``"mlp"`` (the 2×2048 MLP probe of Dubois et al.
            2022, :func:`kspectral.probes.mlp_probe`).
        on_stage: optional function called with a short description of each stage (loading, the baseline, each
            row of the table).
        mlp_options: keyword arguments of each :func:`kspectral.probes.mlp_probe` (``hidden``: the width, 2048 by
            default; ``callbacks``: e.g. a progress display).

    Returns:
        :class:`~kspectral.runs.table.ProbeTable`: the list of :class:`~kspectral.runs.ProbeRow`, with its
        ``warnings`` (``[{"code", "message"}]``, also in ``probe.json``).
    """
    probes = check_probes(probes)
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise FileNotFoundError(f"run directory {run_dir} does not exist")
    for needed in ("config.json", "model.keras"):
        if not (run_dir / needed).exists():
            raise FileNotFoundError(f"{run_dir} is not a finished run: {needed} is missing")
    try:
        config = RunConfig.from_dict(read_json(run_dir / "config.json", "run config"))
        if data is None:
            _check_loadable(config, run_dir)
        _validated(config, given=data is not None)
    except ValueError as exc:
        message = str(exc)
        if "config.json" not in message:  # a field error: say which file holds it
            message = f"{run_dir / 'config.json'}: {message}; restore the file or probe another run"
        raise InputError(message) from None
    if knn_preset is not None:
        config.knn_preset = knn_preset
    config = with_defaults(_validated(config, given=data is not None))
    stage = on_stage or (lambda message: None)
    stage(f"loading {run_dir / 'model.keras'} and the {config.dataset} data")
    model = load_run_model(run_dir)
    if data is None:
        dataset = _load_dataset(config)
    else:
        from kspectral.data import as_dataset

        dataset = as_dataset(data, test_size=config.test_size, seed=config.seed)
    if not dataset.labelled:
        raise InputError(f"{run_dir} was trained on unlabelled data ({config.dataset}); probes need labels")
    regime, _ = baseline_plan(config, dataset)
    if regime is not None:
        stage("fitting the closed-form spectral baseline (its graph first)")
    problem = _run_problem(config, dataset, needed=regime is not None)
    baseline, summary = None, {}
    if regime is not None:
        baseline, summary = fit_baseline(config.method, problem, _baseline_dim(config, problem), regime)
    rows = _run_table(config, dataset, model, baseline, probes, stage=stage, mlp_options=mlp_options)
    warnings = _result_warnings(summary, rows, dataset)
    record = {"knn_preset": config.knn_preset, "probes": probe_dict(rows), "warnings": warnings}
    if "mlp" in probes:
        record["mlp_hidden"] = int((mlp_options or {}).get("hidden", 2048))
    write_json(run_dir / "probe.json", record)
    return ProbeTable(rows, warnings)


#: the defaults of :func:`spectral`'s options left at ``None`` (without ``run``)
SPECTRAL_DEFAULTS = {"method": "vicreg", "graph": "knn:10", "dim": 16, "dataset": "digits", "seed": 0,
                     "knn_preset": "dino", "rounds": 4, "test_size": 0.2, "max_samples": None, "data_dir": None,
                     "image_size": None, "augment": None, "augment_options": None}


def _run_settings(run):
    """The options of :func:`spectral` that reproduce the baseline of the run in directory ``run``."""
    run = Path(run)
    if not (run / "config.json").is_file():
        raise InputError(f"{run} is not a kspectral run directory (no config.json); give the --out folder of "
                         "`kspectral train`")
    try:
        config = with_defaults(RunConfig.from_dict(read_json(run / "config.json", "run config")))
    except ValueError as exc:
        raise InputError(f"{run / 'config.json'}: {exc}") from None
    return config, {
        "method": config.method, "graph": graph_for_pairs(config.pairs, config.knn_k), "dim": config.baseline_dim,
        "dataset": config.dataset, "seed": config.seed, "knn_preset": config.knn_preset,
        "rounds": config.baseline_rounds, "test_size": config.test_size, "max_samples": config.baseline_samples,
        "data_dir": config.data_dir, "image_size": config.image_size, "augment": config.augment,
        "augment_options": dict(config.augment_options),
    }


def spectral(method=None, graph=None, dim=None, regime="auto", dataset=None, seed=None, knn_preset=None,
             rounds=None, out=None, data_dir=None, image_size=None, test_size=None, augment=None, augment_options=None,
             *, data=None, run=None, max_samples=None, on_stage=None):
    """Compute a method's closed-form spectral baseline on a dataset and graph, and probe it like a trained run.

    Unlabelled data (a flat folder of images, arrays without ``y``) get the closed form without probes: it is
    fitted on the training images (in the nonparametric regime too, as they have no test split), ``rows`` is empty
    and ``spectral.json`` holds the summary (estimator, rank, objective, graph, warnings); ``graph="labels"`` needs
    labels and is refused.

    ``spectral(graph="pairs", dataset=X, augment=P, seed=S)`` reproduces the baseline of ``train`` with the same
    dataset, augmentation and seed (the same graph, the same views, the same probe numbers), and ``spectral(run=
    RUN_DIR)`` takes all of them from a run's ``config.json``: the closed form of any run. Options given beside
    ``run`` override the run's.

    Args:
        method: registered method name or alias; its closed form is computed (default ``vicreg``).
        graph: ``"knn:K"`` (default ``knn:10``), ``"labels"``, ``"pairs"`` (two augmented views of each image, the
            baseline graph of ``kspectral train``) or ``"augment"`` (images linked when their augmented views are
            neighbours).
        dim: K, the embedding dimension (default 16; a run's ``baseline_dim``, capped at the input features in the
            linear regime as ``train`` caps it).
        regime: ``"linear"`` (fit ``Z = XW`` on the training split, apply it to the test split),
            ``"nonparametric"`` (embed train and test images together on a graph over all of them; the test
            labels are never used) or ``"auto"`` (linear for a run's baseline and for ``labels`` and ``pairs``,
            which cannot reach test images without their labels or views; nonparametric for ``knn`` and
            ``augment``).
        dataset: a dataset name or path, as ``kspectral train --dataset`` (default ``digits``).
        seed: seed of the split and the augmentations (as ``kspectral train --seed``; default 0).
        knn_preset: kNN probe preset (default ``dino``).
        rounds: augmentation rounds (``pairs``) or draws (``augment``) (default 4; a run's ``baseline_rounds``).
        out: optional directory; ``spectral.json`` is written there.
        data_dir, image_size, test_size: as in :class:`~kspectral.runs.RunConfig`.
        augment: the augmentation of ``pairs`` / ``augment`` graphs: a preset name (default: the dataset's), a Keras
            layer or a sequence of them (as ``kspectral.data.augmented_pairs`` takes).
        augment_options: a preset's options (``--augment-option KEY=VALUE``).
        data: the data itself instead of ``dataset``: an :class:`~kspectral.data.ImageDataset`, ``(x, y)`` /
            ``(x_train, y_train, x_test, y_test)`` numpy arrays or a finite ``tf.data.Dataset`` of ``(image,
            label)`` (:func:`kspectral.data.as_dataset`); recorded as ``"arrays"`` (an ImageDataset: its name).
        run: a run directory of :func:`train`; its method, graph, baseline dimension and rounds, dataset,
            augmentation, seed and probe preset are the defaults.
        max_samples: at most this many training images enter a ``pairs`` graph (a run's ``baseline_samples``).
        on_stage: optional function called with a short description of each stage (loading, the graph, the closed
            form, the probes).

    Returns:
        :class:`SpectralResult`.
    """
    from kspectral.data import as_dataset, load
    from kspectral.spectral import graph_report

    given = {"method": method, "graph": graph, "dim": dim, "dataset": dataset, "seed": seed,
             "knn_preset": knn_preset, "rounds": rounds, "test_size": test_size, "max_samples": max_samples,
             "data_dir": data_dir, "image_size": image_size, "augment": augment, "augment_options": augment_options}
    settings = dict(SPECTRAL_DEFAULTS)
    run_config = None
    if run is not None:
        run_config, from_run = _run_settings(run)
        settings.update(from_run)
        if regime == "auto":
            regime = "linear"  # a run's baseline is its linear-regime closed form
    settings.update({k: v for k, v in given.items() if v is not None})
    if data is not None and dataset is not None:
        raise InputError("give the data either by name (dataset=) or as arrays (data=), not both")
    method, graph, dim, seed = settings["method"], settings["graph"], settings["dim"], settings["seed"]
    knn_preset, rounds = settings["knn_preset"], settings["rounds"]
    canonical_method(method)
    if out is not None:
        check_out_dir(out)
    check_graph_spec(graph)
    if regime not in ("auto", *REGIMES):
        raise InputError(f"unknown regime {regime!r}; choose one of: auto, {', '.join(REGIMES)}")
    if knn_preset not in KNN_PRESETS:
        raise InputError(f"unknown knn_preset {knn_preset!r}; choose one of: {', '.join(KNN_PRESETS)}")
    if regime == "auto":
        regime = "linear" if graph in ("labels", "pairs") else "nonparametric"
    if out is not None:  # an unwritable --out fails now, not after the computation
        Path(out).mkdir(parents=True, exist_ok=True)
    stage = on_stage or (lambda message: None)
    started = time.perf_counter()
    if data is None:
        stage(f"loading {settings['dataset']}")
    if data is not None:
        loaded = as_dataset(data, test_size=settings["test_size"], seed=seed)
    else:
        if run_config is not None and given["dataset"] is None:
            from kspectral.data.datasets import _looks_like_path, check_dataset_name

            try:
                check_dataset_name(settings["dataset"])
            except ValueError:
                if _looks_like_path(settings["dataset"]):
                    raise
                raise InputError(f"{run} was trained on data passed in memory ({settings['dataset']!r}), which a run "
                                 "does not store; pass the same data: spectral(run=..., data=...)") from None
        loaded = load(settings["dataset"], data_dir=settings["data_dir"], image_size=settings["image_size"],
                      test_size=settings["test_size"], seed=seed)
    name = loaded.name if data is not None else settings["dataset"]
    if not loaded.labelled and graph == "labels":
        raise InputError(f"{name} has no labels, so the label graph has no edges; use --graph knn:K, pairs or augment "
                         "(the closed form is then computed without probes)")
    has_test = loaded.x_test is not None and len(loaded.x_test) > 0
    raw_train = loaded.flat("train").astype("float64")
    raw_test = loaded.flat("test").astype("float64") if has_test else None
    if run_config is not None and given["dim"] is None:
        dim = min(dim, raw_train.shape[1])  # as train caps its baseline_dim
    if regime == "linear" and dim > raw_train.shape[1]:
        raise InputError(f"dim={dim} exceeds the {raw_train.shape[1]} input features of the linear regime")
    transductive = regime == "nonparametric" and has_test  # no test split: the training images alone
    stage(f"building the {graph} graph on the {len(raw_train) + (len(raw_test) if transductive else 0)} "
          f"{'training and test' if transductive else 'training'} images")
    problem = build_problem(loaded, graph, transductive=transductive, rounds=rounds, seed=seed,
                            max_samples=settings["max_samples"], augment=settings["augment"],
                            augment_options=settings["augment_options"])
    stage(f"fitting {method}'s closed form ({regime} regime, dim {dim}) on {problem.X.shape[0]} rows")
    baseline, summary = fit_baseline(method, problem, dim, regime)
    seconds = time.perf_counter() - started
    rows = []
    if loaded.labelled:
        if regime == "linear":
            features_train, features_test = baseline.transform(raw_train), baseline.transform(raw_test)
        else:
            Z = baseline.embedding_
            features_train, features_test = Z[: len(raw_train)], Z[len(raw_train):]
        rows = [
            probe_row("raw pixels", raw_train, raw_test, loaded, knn_preset, seed=seed, on_stage=stage),
            probe_row(f"{summary['estimator']} ({method}, {regime})", features_train, features_test, loaded,
                      knn_preset, seed=seed, on_stage=stage),
        ]
    augment_name = settings["augment"] or loaded.default_augment
    augment_name = augment_name if isinstance(augment_name, str) else type(augment_name).__name__
    summary.update(graph_report=str(graph_report(problem.graph)), seconds=round(seconds, 2), probes=probe_dict(rows),
                   knn_preset=knn_preset, method=method, dataset=name, graph_spec=graph, seed=seed,
                   augment=augment_name if graph in ("pairs", "augment") else None,
                   run=None if run is None else str(run), labelled=bool(loaded.labelled),
                   samples=int(problem.X.shape[0]))
    warnings = _result_warnings(summary, rows, loaded)
    summary["warnings"] = warnings
    if out is not None:
        write_json(Path(out) / "spectral.json", summary)
    return SpectralResult(rows, summary, warnings)


__all__ = ["GRAPHS", "RunResult", "SpectralResult", "build_model", "load_run_model", "probe", "spectral", "train"]
