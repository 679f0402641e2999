"""The ``kspectral`` command line (Typer + Rich).

Installed as the ``kspectral_cli`` package (the source folder is ``cli/``); the console script calls :func:`main`,
which turns every error into one line on stderr and a non-zero exit code: 2 for bad input (unknown method, bad
value, missing run directory), 1 for a failed run or an internal error (rerun with ``--debug`` for its
traceback), 130 for an interrupt (checkpoints are kept). Each command parses its options, calls one function of
:mod:`kspectral.runs` (which does every check) and prints what it returns.
"""

from __future__ import annotations

import contextlib
import dataclasses
import inspect
import os
import re
import sys
import tempfile
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console

from kspectral.catalog import GRAPHS, REGIMES
from kspectral.config import FIELD_TYPES, SECTIONS, RunConfig, default_text, field_named, help_text
from kspectral.errors import InputError

app = typer.Typer(
    name="kspectral",
    help="Self-supervised learning for Keras 3, beside the closed-form spectral embedding each loss recovers.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console()


@app.callback()
def _options(
    debug: bool = typer.Option(False, "--debug", help="Show the traceback of an error instead of one line."),
):
    """Self-supervised learning for Keras 3, beside the closed-form spectral embedding each loss recovers."""


# Typer ≥ 0.29 vendors click as typer._click, older Typer uses click itself: take the classes from Typer's exports.
_ClickException = next(c for c in typer.BadParameter.__mro__ if c.__name__ == "ClickException")


@contextlib.contextmanager
def _quiet_native_stderr():
    """Hide TensorFlow's C++ start-up notices (CUDA probing, oneDNN) written straight to file descriptor 2.

    What was written is replayed if the block raises, so real import errors stay visible.
    """
    if os.environ.get("KSPECTRAL_VERBOSE_TF"):
        yield
        return
    try:
        saved = os.dup(2)
    except OSError:
        yield
        return
    with tempfile.TemporaryFile() as sink:
        sys.stderr.flush()
        os.dup2(sink.fileno(), 2)
        try:
            yield
        except BaseException:
            os.dup2(saved, 2)
            sink.seek(0)
            sys.stderr.write(sink.read().decode(errors="replace"))
            raise
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)


def _import_tensorflow():
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    with _quiet_native_stderr():
        import tensorflow as tf

        tf.config.list_physical_devices()  # device discovery prints its own notices
        import keras  # noqa: F401


def _progress_callback(epochs, clock=None):
    """The live training display of ``kspectral train``: a Keras callback drawing one Rich progress line.

    The line shows the epoch (``epoch 3/100``), a bar over all the run's steps, the step within the epoch
    (``step 12/50``), the elapsed time, an ETA and the latest metrics (the running ``loss`` to 6 significant
    digits, ``rankme``, and the online probe's ``online_linear_top1`` at the end of each epoch). Until the first
    batch of a ``fit()`` call ends, the step column reads "compiling the train step…": Keras traces (and with XLA
    compiles) the step then, which can take longer than many steps. The ETA is the mean time per step since that
    first batch times the steps left, so compilation does not inflate it.

    Args:
        epochs: the run's total epochs (``config.epochs``; a resumed run's ``fit`` starts at a later epoch).
        clock: seconds as a float (default ``time.monotonic``); tests pass a fake clock.

    Returns:
        A ``keras.callbacks.Callback`` with a ``stop()`` method, which ends the live display (also after Ctrl-C).
    """
    import datetime
    import time

    import keras
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    clock = clock or time.monotonic
    compiling = "compiling the train step…"

    def duration(seconds):
        return str(datetime.timedelta(seconds=round(max(seconds, 0.0))))

    def shown_metrics(logs):
        parts = []
        for key, spec in (("loss", ".6g"), ("rankme", ".4g"), ("online_linear_top1", ".4f")):
            if key in (logs or {}):
                try:
                    parts.append(f"{key}={float(logs[key]):{spec}}")
                except (TypeError, ValueError):  # a value Keras could not reduce to a number: leave it out
                    continue
        return " ".join(parts)

    class RichProgress(keras.callbacks.Callback):
        """Epoch, step within the epoch, ETA and the latest loss and diagnostics, on one live line."""

        def on_train_begin(self, logs=None):
            self.stop()  # a resumed run calls fit() twice (the rest of an epoch, then the others)
            self.steps = self.params.get("steps")  # None: the data's length is unknown until an epoch ends
            self.epoch = 0
            self.first_step_time = None  # clock() when the first batch of this fit() call ended
            self.steps_timed = 0  # batches ended since then
            self.batches = 0  # batches ended in the current epoch
            self.progress = Progress(
                TextColumn("[bold]{task.fields[epoch]}"),
                BarColumn(bar_width=20),
                TextColumn("{task.fields[step]}", markup=False),
                TimeElapsedColumn(),
                TextColumn("{task.fields[eta]}", markup=False),
                TextColumn("{task.fields[metrics]}", markup=False),
                console=console,
                transient=False,
            )
            self.task = self.progress.add_task("train", total=self._total(), epoch=f"epoch -/{epochs}",
                                               step=compiling, eta="", metrics="")
            self.progress.start()

        def _total(self):
            return None if self.steps is None else epochs * self.steps

        def on_epoch_begin(self, epoch, logs=None):
            self.epoch = epoch
            self.batches = 0
            fields = {"epoch": f"epoch {epoch + 1}/{epochs}"}
            if self.steps is not None:
                fields["completed"] = epoch * self.steps
            if self.first_step_time is not None:
                fields["step"] = self._step_text(0)
            self.progress.update(self.task, **fields)

        def _step_text(self, done):
            return f"step {done}/{self.steps}" if self.steps is not None else f"step {done}"

        def on_train_batch_end(self, batch, logs=None):
            now = clock()
            if self.first_step_time is None:
                self.first_step_time = now
            else:
                self.steps_timed += 1
            done = self.batches = batch + 1
            fields = {"step": self._step_text(done), "metrics": shown_metrics(logs)}
            if self.steps is not None:
                fields["completed"] = self.epoch * self.steps + done
                if self.steps_timed:
                    per_step = (now - self.first_step_time) / self.steps_timed
                    left = (epochs - self.epoch - 1) * self.steps + (self.steps - done)
                    fields["eta"] = f"ETA {duration(per_step * left)}"
            self.progress.update(self.task, **fields)

        def on_epoch_end(self, epoch, logs=None):
            if self.steps is None and self.batches:  # learnt from the first epoch: the bar and the ETA can start
                self.steps = self.batches
                self.progress.update(self.task, total=self._total())
            fields = {"metrics": shown_metrics(logs)}
            if self.steps is not None:
                fields["completed"] = (epoch + 1) * self.steps
            if epoch + 1 >= epochs:
                fields["eta"] = ""
            self.progress.update(self.task, **fields)

        def on_train_end(self, logs=None):
            self.stop()

        def stop(self):
            """Stop the live display (also when training is interrupted, so the terminal is left clean)."""
            progress = getattr(self, "progress", None)
            if progress is not None:
                progress.stop()

    return RichProgress()


def _stage(message):
    """Print one stage line of a long command (``· probing raw pixels …``), dimmed."""
    console.print(f"· {message}", style="dim", markup=False, highlight=False, soft_wrap=True)


def _epoch_progress(what="MLP probe"):
    """A Keras callback drawing one live Rich line per ``fit`` on a terminal (``MLP probe ━━━━ epoch 12/100 0:00:31
    ETA 0:02:10``), then one line with the epochs and seconds it took (also when the output is a file)."""
    import time

    import keras
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    class EpochProgress(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.epochs = self.params.get("epochs") or 0
            self.done, self.started, self.progress = 0, time.monotonic(), None
            if not console.is_terminal:  # a file gets the summary line only
                return
            self.progress = Progress(TextColumn(f"  {what}"), BarColumn(bar_width=20),
                                     TextColumn("{task.fields[step]}", markup=False), TimeElapsedColumn(),
                                     TextColumn("ETA"), TimeRemainingColumn(), console=console, transient=True)
            self.task = self.progress.add_task(what, total=self.epochs, step=f"epoch 0/{self.epochs}")
            self.progress.start()

        def on_epoch_end(self, epoch, logs=None):
            self.done = epoch + 1
            if self.progress is not None:
                self.progress.update(self.task, completed=self.done, step=f"epoch {self.done}/{self.epochs}")

        def on_train_end(self, logs=None):
            if self.progress is not None:
                self.progress.stop()
            _stage(f"{what}: {self.done} epochs, {time.monotonic() - self.started:.1f} s")

    return EpochProgress()


class Interrupted(Exception):
    """A run stopped by Ctrl-C; the message says where it resumes from.

    Typer turns a ``KeyboardInterrupt`` raised inside a command into a silent exit code 130, so a command that has
    something to say about the interrupt (``train``: which ``--out`` resumes it) raises this instead, and
    :func:`main` prints it.
    """


def _default_out(config):
    """``runs/<method>-<dataset>-<pairs>-<time>`` (:func:`kspectral.runs.default_run_dir`, which keeps it in ``runs/``).

    Only ``--out`` chooses where a run writes; a recipe or ``--set`` value never places it elsewhere.
    """
    from kspectral.runs import default_run_dir

    return default_run_dir(config)


def _print_table(rows, title):
    from rich.table import Table

    table = Table(title=title)
    columns = [(probe, title) for probe, title in (("linear", "linear top-1"), ("knn", "kNN top-1"),
                                                   ("mlp", "MLP top-1")) if any(getattr(r, probe) is not None
                                                                                for r in rows)]
    table.add_column("representation")
    table.add_column("dim", justify="right")
    for _, title in columns:
        table.add_column(title, justify="right")
    for r in rows:
        table.add_row(r.name, str(r.dim), *(f"{getattr(r, probe):.4f}" for probe, _ in columns))
    console.print(table)


def _config_value(value):
    """A config default as it is written in a recipe or after ``--set KEY=`` (TOML; ``unset`` for ``None``)."""
    import json

    if value is None:
        return "unset"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k} = {_config_value(v)}" for k, v in value.items()) + "}"
    return repr(value)


def _fields_without_flag():
    """``[(name, default)]`` of the :class:`~kspectral.config.RunConfig` fields that have no flag (``--set`` only)."""
    defaults = RunConfig()
    return [(f.name, getattr(defaults, f.name)) for f in dataclasses.fields(RunConfig) if f.metadata["flag"] is None]


class _TrainCommand(typer.core.TyperCommand):
    """``kspectral train``'s help ends with the config fields that have no flag, each with its default."""

    title = "Config fields without a flag: set with --set KEY=VALUE (defaults shown)"

    def format_help(self, ctx, formatter):
        super().format_help(ctx, formatter)
        rows = [(name, _config_value(value)) for name, value in _fields_without_flag()]
        if formatter.getvalue():  # click's plain help (Typer without Rich formatting)
            with formatter.section(self.title):
                formatter.write_dl([(name, f"= {value}") for name, value in rows])
            return
        from rich.panel import Panel
        from rich.table import Table

        table = Table.grid(padding=(0, 1))
        for name, value in rows:
            table.add_row(name, "=", value)
        console.print(Panel(table, title=self.title, title_align="left", border_style="dim"), highlight=False)


def _config_option(name, *, default=None, flag=None, help=None, show_default=None, **options):
    """The ``typer.Option`` of the :class:`~kspectral.config.RunConfig` field ``name``: its flag, help (with the
    allowed values) and shown default come from the field's declaration, except where a command that is not
    ``train`` gives its own (``help="... (as kspectral train)"``, or the default of a run directory)."""
    f = field_named(name)
    flag = flag or f.metadata["flag"] or "--" + name.replace("_", "-")
    return typer.Option(default, flag, help=help or help_text(f),
                        show_default=show_default or default_text(f),
                        rich_help_panel=f.metadata["section"].capitalize(), **options)


def _config_annotation(f):
    """``Optional[T]`` for the value a field's flag takes: ``bool`` for a ``--x/--no-x`` switch, else the field's
    type without ``None``; the flags default to ``None`` (not given: the recipe's or the field's default holds)."""
    types = FIELD_TYPES[f.name]
    types = types if isinstance(types, tuple) else (types,)
    return Optional[bool if f.metadata["switch"] else next(t for t in types if t is not type(None))]


def _with_config_flags(command):
    """``command`` taking one keyword option per :class:`RunConfig` field with a flag (Typer reads the generated
    ``__signature__``), before its own parameters; it receives them as ``**fields``."""
    parameters = [inspect.Parameter(f.name, inspect.Parameter.KEYWORD_ONLY, default=_config_option(f.name),
                                    annotation=_config_annotation(f))
                  for f in dataclasses.fields(RunConfig) if f.metadata["flag"] is not None]
    parameters.sort(key=lambda p: SECTIONS.index(field_named(p.name).metadata["section"]))  # one panel a section
    own = [p.replace(kind=p.KEYWORD_ONLY) for p in inspect.signature(command).parameters.values()
           if p.kind is not p.VAR_KEYWORD]
    command.__signature__ = inspect.Signature([*parameters, *own])
    return command


def _field_values(fields):
    """The config fields given on the command line (``None``: not given); a switch's ``True`` / ``False`` as the
    two values it stands for (``--jit`` → ``"on"``)."""
    values = {}
    for name, value in fields.items():
        switch = field_named(name).metadata["switch"]
        values[name] = switch[0 if value else 1] if switch and value is not None else value
    return values


@app.command(cls=_TrainCommand)
@_with_config_flags
def train(
    out: Optional[Path] = typer.Option(
        None, help="Run directory; an interrupted run there resumes.",
        show_default="runs/<method>-<dataset>-<pairs>-<time>",
    ),
    recipe: Optional[str] = typer.Option(
        None, help="Recipe: a TOML file or a shipped recipe name (see `kspectral recipes`); options override it."
    ),
    settings: Optional[list[str]] = typer.Option(
        None, "--set", metavar="KEY=VALUE", help="Set any config field, KEY=VALUE (repeatable), e.g. --set weight_decay=1e-5 or "
        "--set method_options.invariance_weight=10; applied last.",
    ),
    **fields,
):
    """Train an SSL method (default: VICReg on scikit-learn's bundled digits, offline) and probe it.

    Prints linear and kNN top-1 on the test split for raw pixels, the trained encoder and the closed-form
    spectral baseline on the same positive-pair graph, and writes config.json, model.keras, history.csv,
    metrics.json and TensorBoard logs to the run directory.

    Every field of config.json can be set: the options below set the common ones, --set KEY=VALUE any of them
    (the fields without an option are listed at the end, with their defaults), and a --recipe sets many at once.
    """
    from kspectral.runs import resolve_config

    config = resolve_config(recipe, settings or (), **_field_values(fields))
    _import_tensorflow()
    from kspectral import runs

    out = Path(out) if out is not None else _default_out(config)  # named here: the interrupt line shows it
    progress = _progress_callback(config.epochs)
    try:
        result = runs.train(
            config,
            out=out,
            callbacks=[progress],
            on_stage=_stage,
        )
    except KeyboardInterrupt:
        progress.stop()
        from kspectral.runs.checkpoints import BACKUP, committed

        if committed(out / BACKUP) or (out / "model.keras").exists():  # a committed checkpoint, or a trained model
            kept = f"its last checkpoint is kept: resume it with the same options and --out {_quote(out)}"
        else:
            kept = "it stopped before its first checkpoint: nothing to resume, start it again"
        raise Interrupted(f"interrupted; {kept}") from None
    m = result.metrics
    if result.rows:
        _print_table(result.rows, f"Top-1 on the {config.dataset} test split (kNN preset: {config.knn_preset})")
    sb = m["spectral_baseline"]
    if sb.get("estimator"):
        console.print(f"spectral baseline: {sb['estimator']} ({sb['status']}) on the {sb['graph']} (rank {sb['rank']})")
    else:
        console.print(f"spectral baseline: none ({sb['skipped']})")
    console.print(f"run directory: {result.run_dir}   train {m['train_time_s']:.1f} s, wall {m['wall_time_s']:.1f} s")
    for flagged in result.warnings:  # one yellow line each: the reason and the fix
        console.print(f"warning: {flagged['message']}", style="yellow", markup=False, highlight=False, soft_wrap=True)


@app.command()
def probe(
    run_dir: Path = typer.Argument(..., help="A run directory written by `kspectral train`."),
    knn_preset: Optional[str] = _config_option("knn_preset", show_default="the run's"),
    probes: Optional[list[str]] = typer.Option(
        None, "--probe", help="Probe to run: linear, knn or mlp (Dubois et al.'s 2×2048 MLP); repeatable.",
        show_default="linear and knn",
    ),
    mlp_hidden: int = typer.Option(
        2048, "--mlp-hidden", min=1, help="Units of the MLP probe's two hidden layers (2048: Dubois et al.; 512 ran "
        "about 10× faster for the same top-1 within 0.015 on small data).",
    ),
):
    """Re-evaluate a saved run: probes of raw inputs, its encoder and its spectral baseline on the test split."""
    _import_tensorflow()
    from kspectral import runs

    probes = probes or ("linear", "knn")
    if "mlp" in probes and mlp_hidden > 512:
        _stage(f"the MLP probe trains 2×{mlp_hidden} units for 100 epochs per row, minutes on a CPU for thousands "
               "of samples; --mlp-hidden 512 takes about a tenth")
    rows = runs.probe(run_dir, knn_preset=knn_preset, probes=probes, on_stage=_stage,
                      mlp_options={"hidden": mlp_hidden, "callbacks": [_epoch_progress()]})
    _print_table(rows, f"Top-1 of {run_dir} on its test split")
    for flagged in rows.warnings:  # one yellow line each: the reason and the fix
        console.print(f"warning: {flagged['message']}", style="yellow", markup=False, highlight=False, soft_wrap=True)


#: what each closed-form regime of :data:`kspectral.catalog.REGIMES` does, for ``spectral --regime``
_REGIME_HELP = {"linear": "Z = XW, applied to the test split",
                "nonparametric": "train and test embedded together, no test labels"}


@app.command()
def spectral(
    method: Optional[str] = _config_option("method", help="Method whose closed form to compute (see `kspectral "
                                           "methods`)."),
    graph: Optional[str] = typer.Option(None, help="Positive-pair graph: " + ", ".join(GRAPHS[:-1]) + " or " + GRAPHS[-1] + ".",
                                        show_default="knn:10"),
    dim: Optional[int] = typer.Option(None, min=1, help="Embedding dimension K.", show_default="16"),
    regime: str = typer.Option("auto", help=", ".join(f"{r} ({_REGIME_HELP[r]})" for r in REGIMES) + " or auto."),
    dataset: Optional[str] = _config_option("dataset"),
    data_dir: Optional[str] = _config_option("data_dir"),
    image_size: Optional[int] = _config_option("image_size"),
    test_size: Optional[float] = _config_option("test_size"),
    augment: Optional[str] = _config_option("augment"),
    augment_options: Optional[list[str]] = typer.Option(
        None, "--augment-option", metavar="KEY=VALUE", help="An option of the preset, KEY=VALUE (repeatable), as "
        "`kspectral train --set augment_options.KEY=VALUE`, e.g. --augment-option strength=0.5.",
    ),
    rounds: Optional[int] = typer.Option(None, min=1, help="Augmentation rounds (pairs) or draws (augment).",
                                         show_default="4"),
    seed: Optional[int] = _config_option("seed", min=0),
    knn_preset: Optional[str] = _config_option("knn_preset"),
    run: Optional[Path] = typer.Option(
        None, "--run", help="A run directory of `kspectral train`: compute the closed form of its baseline (its "
        "method, graph, dataset, augmentation and seed; options given here override them).",
    ),
    out: Optional[Path] = typer.Option(None, help="Directory to write spectral.json to."),
):
    """Compute a method's closed-form spectral baseline on a dataset and graph, and probe it like a trained run.

    `kspectral spectral --graph pairs --dataset X --augment P --seed S` reproduces the baseline of `kspectral train
    --dataset X --augment P --seed S`; `kspectral spectral --run RUN_DIR` the baseline of that run.
    """
    from kspectral.runs.config import parse_setting

    options = None
    if augment_options:
        options = dict(parse_setting(item) for item in augment_options)  # TOML values, as --set
    _import_tensorflow()
    from kspectral import runs

    result = runs.spectral(method=method, graph=graph, dim=dim, regime=regime, dataset=dataset, seed=seed,
                           knn_preset=knn_preset, rounds=rounds, out=out, data_dir=data_dir, image_size=image_size,
                           test_size=test_size, augment=augment, augment_options=options, run=run, on_stage=_stage)
    s = result.summary
    if result.rows:
        _print_table(result.rows, f"Top-1 on the {s['dataset']} test split (kNN preset: {s['knn_preset']})")
    else:
        console.print(f"no probes: {s['dataset']} has no labels; the closed form was fitted on its {s['samples']} "
                      "training rows", highlight=False)
    objective = "unknown" if s["objective"] is None else f"{s['objective']:.6g}"
    console.print(f"{s['estimator']} ({s['status']}) on the {s['graph']}: rank {s['rank']}, objective {objective}, "
                  f"{s['seconds']:.2f} s")
    console.print(f"graph: {s['graph_report']}")
    for flagged in result.warnings:  # one yellow line each: the reason and the fix
        console.print(f"warning: {flagged['message']}", style="yellow", markup=False, highlight=False, soft_wrap=True)


@app.command()
def methods():
    """List the methods, the closed form each recovers (nonparametric / linear regime) and the status of each."""
    from kspectral import catalog
    from kspectral.spectral import baselines

    console.print(f"[bold]{'name':22s} {'class':34s} {'closed form: nonparametric / linear':58s} status[/]",
                  soft_wrap=True)
    for name in catalog.names():
        canonical, options = catalog.resolve_name(name)
        model = catalog.METHODS[canonical].class_name
        if options:
            model += f"({', '.join(f'{k}={v!r}' for k, v in options.items())})"
        forms = f"{baselines.counterpart(canonical, 'nonparametric')} / {baselines.counterpart(canonical, 'linear')}"
        status = f"{baselines.status(canonical, 'nonparametric')} / {baselines.status(canonical, 'linear')}"
        console.print(f"{name:22s} {model:34s} {forms:58s} {status}", soft_wrap=True, highlight=False)
    console.print("statuses: theorem (published), derived (derived and checked numerically), analogy (nearest closed "
                  "form of the family); README.md's Methods table gives the conditions.", soft_wrap=True)


@app.command()
def recipes(
    show: Optional[str] = typer.Option(None, "--show", help="Print this recipe (a shipped name or a file).")
):
    """List the shipped training recipes (use one with `kspectral train --recipe NAME`), or print one."""
    from kspectral.recipes import find_recipe, list_recipes, read_recipe_text, recipe_summary

    if show is not None:
        path = find_recipe(show)
        console.print(f"[dim]# {path}[/]")
        console.print(read_recipe_text(path), highlight=False, markup=False, soft_wrap=True)
        return
    for path in list_recipes():
        summary = recipe_summary(path).splitlines()
        aim = next((line for line in summary if line.startswith("Aims at")), "no published reference number")
        console.print(f"[bold]{path.stem}[/]  {aim}", highlight=False, soft_wrap=True)


@app.command()
def plot(
    run_dir: Path = typer.Argument(..., help="A run directory written by `kspectral train`."),
    out: Optional[Path] = typer.Option(None, help="Folder for the PNGs.", show_default="RUN_DIR/plots"),
):
    """Write PNGs of a run: training curves, covariance spectra, a 2-D embedding of the test set, the probe table."""
    import logging

    _import_tensorflow()
    from kspectral.plots import plot_run

    # the skips are printed below, once: not also through the kspectral.plots log (Python's last-resort handler)
    log = logging.getLogger("kspectral.plots")
    quiet = logging.NullHandler()
    log.addHandler(quiet)
    propagate, log.propagate = log.propagate, False
    try:
        written = plot_run(run_dir, out_dir=out, on_stage=_stage)
    finally:
        log.removeHandler(quiet)
        log.propagate = propagate
    for path in written:
        console.print(f"wrote {path}", highlight=False, soft_wrap=True)
    for name, reason in written.skipped.items():
        console.print(f"skipped {name}: {reason}", style="yellow", markup=False, highlight=False, soft_wrap=True)


@app.command()
def augment(
    preset: Optional[str] = typer.Argument(None, help="Augmentation preset (see `kspectral train --help`, --augment); "
                                           "or give --recipe."),
    recipe: Optional[str] = typer.Option(None, help="Draw a recipe's views instead of a preset's (its augment preset "
                                         "and options; its dataset unless --dataset is given)."),
    dataset: Optional[str] = _config_option("dataset", show_default="digits, or the recipe's"),
    data_dir: Optional[str] = _config_option("data_dir"),
    image_size: Optional[int] = _config_option("image_size"),
    images: int = typer.Option(6, min=1, help="Rows: how many images."),
    views: int = typer.Option(6, min=1, help="Columns: how many augmented views of each."),
    seed: int = _config_option("seed", default=field_named("seed").default, min=0, help="Seed of the views."),
    out: Path = typer.Option(Path("augmentations.png"), help="PNG file to write."),
):
    """Render a grid of augmented views of the same images, to look at a preset or a recipe's views before training."""
    if (preset is None) == (recipe is None):
        raise typer.BadParameter("give a preset (e.g. `kspectral augment cifar`) or --recipe NAME, not both",
                                 param_hint="PRESET / --recipe")
    _import_tensorflow()
    from kspectral.data import load, recipe_augmenters
    from kspectral.plots import augmentation_grid
    from kspectral.runs import load_recipe

    if recipe is not None:
        fields = load_recipe(recipe)
        dataset = dataset or fields.get("dataset", field_named("dataset").default)
        image_size = image_size if image_size is not None else fields.get("image_size")
    dataset = dataset or field_named("dataset").default
    data = load(dataset, data_dir=data_dir, image_size=image_size, seed=seed)
    source = data.x_test if data.x_test is not None and len(data.x_test) else data.x_train
    if recipe is not None:
        built = recipe_augmenters(recipe, image_size=source.shape[1:3], seed=seed)
        distinct = [a for i, a in enumerate(built) if all(a is not b for b in built[:i])]  # a shared view once
        path = augmentation_grid(source[:images], distinct, views=views, seed=seed, out=out,
                                 title=f"recipe {Path(recipe).stem} on {dataset}")
    else:
        path = augmentation_grid(source[:images], preset, views=views, seed=seed, out=out,
                                 title=f"{preset} on {dataset}")
    console.print(f"wrote {path}", highlight=False)


#: a terminal control sequence (colour, bold, cursor): Keras writes some into its error messages
_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b[@-Z\\-_]")


def _plain(text):
    """``text`` without terminal control sequences (Keras puts bold ``\\x1b[1m…\\x1b[0m`` in its errors)."""
    return _ANSI.sub("", str(text))


def _first_line(text):
    """The first non-empty line of ``text`` (Keras' errors continue with the arguments of the failing call)."""
    return next((line.strip() for line in _plain(text).splitlines() if line.strip()), "")


def _error(message):
    sys.stdout.flush()  # the stage lines printed so far come first
    print(f"kspectral: error: {_plain(message)}", file=sys.stderr, flush=True)


def _quote(path):
    """``path`` as a shell word (quoted when it holds spaces or shell characters)."""
    import shlex

    return shlex.quote(str(path))


#: the line printed for an interrupt that no command explains further
INTERRUPTED = ("interrupted (a training run resumes from its last checkpoint when started again with the same "
               "options and --out)")


def _os_error_message(exc):
    """One line for an ``OSError``: the path, the problem, the fix (Python's own text lacks the fix)."""
    if exc.filename is None or exc.strerror is None:  # raised by kspectral with its own message
        return str(exc)
    path = exc.filename if exc.filename2 is None else f"{exc.filename} → {exc.filename2}"
    fixes = {
        "FileNotFoundError": "check the path",
        "FileExistsError": "remove it or choose another path",
        "NotADirectoryError": "a part of the path is a file, not a folder; choose another path",
        "IsADirectoryError": "give a file, not a folder",
        "PermissionError": "choose a path you may write to (or change its permissions)",
    }
    fix = fixes.get(type(exc).__name__, "check the path, its permissions and the free disk space")
    return f"{path}: {exc.strerror.lower()}; {fix}"


def main(argv=None):
    """Console-script entry point: run the app, report errors in one line with a proper exit code.

    Exit codes: 0 success, 2 bad input (a :class:`kspectral.errors.InputError` or a missing file: the message names
    the problem and the fix), 1 a failed run (divergence) or an internal error (any other exception, a
    ``ValueError`` from inside kspectral or a library included), 130 an interrupt. ``--debug`` anywhere on the command
    line (or ``KSPECTRAL_DEBUG=1``) shows the traceback of an error instead.
    """
    command = typer.main.get_command(app)
    argv = sys.argv[1:] if argv is None else list(argv)
    debug = "--debug" in argv or bool(os.environ.get("KSPECTRAL_DEBUG"))
    argv = [a for a in argv if a != "--debug"]
    if not argv:  # a bare `kspectral` asks for help: print it and succeed
        argv = ["--help"]
    if debug:
        return command.main(args=argv, prog_name="kspectral")
    try:
        code = command.main(args=argv, prog_name="kspectral", standalone_mode=False)
        if code == 130:  # Typer returns 130 for a KeyboardInterrupt raised inside a command
            print(f"kspectral: {INTERRUPTED}", file=sys.stderr, flush=True)
    except typer.Exit as exc:
        code = exc.exit_code
    except _ClickException as exc:
        _error(exc.format_message())
        code = exc.exit_code
    except Interrupted as exc:
        print(f"kspectral: {exc}", file=sys.stderr, flush=True)
        code = 130
    except (typer.Abort, KeyboardInterrupt):
        print(f"kspectral: {INTERRUPTED}", file=sys.stderr, flush=True)
        code = 130
    except OSError as exc:  # bad input: a path
        _error(_os_error_message(exc))
        code = 2
    except InputError as exc:  # bad input: a value, a recipe, a file's content; the message names the fix
        _error(exc)
        code = 2
    except FloatingPointError as exc:  # a run that diverged; its message says how to resume
        _error(exc)
        code = 1
    except Exception as exc:  # noqa: BLE001 - anything else is a bug in kspectral, not the user's input
        _error(f"internal error: {type(exc).__name__}: {_first_line(exc)} (this is a bug; rerun with --debug for the "
               "traceback and report it)")
        code = 1
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":  # pragma: no cover
    main()
