"""The ``kspectral`` command line (Typer + Rich).

Installed as the ``kspectral_cli`` package (the source folder is ``cli/``); the console script calls :func:`main`,
which turns every error into one line on stderr and a non-zero exit code: 2 for bad input (unknown method, bad
value, missing run directory), 1 for a failed run, 130 for an interrupt (checkpoints are kept).
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console

app = typer.Typer(
    name="kspectral",
    help="Self-supervised learning for Keras 3, beside the closed-form spectral embedding each loss recovers.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console()


# Typer ≥ 0.29 vendors click as typer._click, older Typer uses click itself: take the classes from Typer's exports.
_ClickException = next(c for c in typer.BadParameter.__mro__ if c.__name__ == "ClickException")


class CLIError(Exception):
    """An error to report as one line with the given exit code."""

    def __init__(self, message, code=2):
        super().__init__(message)
        self.code = code


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


def _load_recipe(path):
    import tomllib

    from kspectral.recipes import find_recipe

    recipe_path = find_recipe(path)
    try:
        values = tomllib.loads(recipe_path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise CLIError(f"recipe {recipe_path} is not valid TOML: {exc}") from None
    return values.get("train", values)


def _progress_callback(epochs):
    import keras
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    class RichProgress(keras.callbacks.Callback):
        """Epoch progress bar with the latest loss and diagnostics."""

        def on_train_begin(self, logs=None):
            self.progress = Progress(
                TextColumn("[bold]epoch"),
                MofNCompleteColumn(),
                BarColumn(bar_width=20),
                TimeElapsedColumn(),
                TextColumn("{task.fields[metrics]}"),
                console=console,
                transient=False,
            )
            self.task = self.progress.add_task("train", total=epochs, metrics="")
            self.progress.start()

        def on_epoch_end(self, epoch, logs=None):
            logs = logs or {}
            shown = " ".join(f"{k}={float(v):.4g}" for k, v in logs.items() if k in ("loss", "rankme"))
            self.progress.update(self.task, completed=epoch + 1, metrics=shown)

        def on_train_end(self, logs=None):
            self.progress.stop()

    return RichProgress()


def _print_table(rows, title):
    from rich.table import Table

    table = Table(title=title)
    table.add_column("representation")
    table.add_column("dim", justify="right")
    table.add_column("linear top-1", justify="right")
    table.add_column("kNN top-1", justify="right")
    for r in rows:
        table.add_row(r.name, str(r.dim), f"{r.linear:.4f}", f"{r.knn:.4f}")
    console.print(table)


@app.command()
def train(
    method: Optional[str] = typer.Option(None, help="SSL method (see `kspectral methods`).", show_default="vicreg"),
    epochs: Optional[int] = typer.Option(None, min=1, help="Training epochs.", show_default="100"),
    batch_size: Optional[int] = typer.Option(None, "--batch-size", min=2, help="Pairs per batch.", show_default="256"),
    pairs: Optional[str] = typer.Option(
        None, help="Positive pairs: augment (two augmentations), knn (kNN-graph edges) or labels.",
        show_default="augment",
    ),
    out: Optional[Path] = typer.Option(
        None, help="Run directory; an interrupted run there resumes.",
        show_default="runs/<method>-<dataset>-<pairs>-<time>",
    ),
    seed: Optional[int] = typer.Option(None, min=0, help="Random seed of split, pairs and initialisation.",
                                       show_default="0"),
    projector: Optional[str] = typer.Option(None, help="Projector widths, e.g. 1024-1024-1024 (methods with a projector).",
                                            show_default="1024-1024-1024"),
    encoder: Optional[str] = typer.Option(None, help="Built-in encoder: mlp or conv.", show_default="mlp"),
    learning_rate: Optional[float] = typer.Option(None, "--learning-rate", help="AdamW peak learning rate (> 0).",
                                                  show_default="0.002"),
    knn_k: Optional[int] = typer.Option(None, "--knn-k", min=1, help="Neighbours of the kNN graph (--pairs knn).",
                                        show_default="10"),
    baseline_dim: Optional[int] = typer.Option(None, "--baseline-dim", min=1, help="Dimension of the spectral baseline.",
                                               show_default="32"),
    recipe: Optional[str] = typer.Option(
        None, help="Recipe: a TOML file or a shipped recipe name (see `kspectral recipes`); options override it."
    ),
):
    """Train an SSL method (default: VICReg on scikit-learn's bundled digits, offline) and probe it.

    Prints linear and kNN top-1 on the test split for raw pixels, the trained encoder and the closed-form
    spectral baseline on the same positive-pair graph, and writes config.json, model.keras, history.csv and
    metrics.json to the run directory.
    """
    from kspectral.runs import RunConfig

    values = _load_recipe(recipe) if recipe else {}
    overrides = {
        "method": method, "epochs": epochs, "batch_size": batch_size, "pairs": pairs, "seed": seed,
        "projector": projector, "encoder": encoder, "learning_rate": learning_rate, "knn_k": knn_k,
        "baseline_dim": baseline_dim,
    }
    values.update({k: v for k, v in overrides.items() if v is not None})
    config = RunConfig.from_dict(values)
    _import_tensorflow()
    from kspectral import runs

    config.validate()
    run_dir = out or runs.default_run_dir(config)
    console.print(f"[bold]kspectral train[/] → {run_dir}")
    result = runs.train(
        config,
        out=run_dir,
        callbacks=[_progress_callback(config.epochs)],
        on_stage=lambda message: console.print(f"[dim]· {message}[/]"),
    )
    m = result.metrics
    _print_table(result.rows, f"Top-1 on the {config.dataset} test split (kNN preset: {config.knn_preset})")
    sb = m["spectral_baseline"]
    console.print(f"spectral baseline: {sb['estimator']} on the {sb['graph']} (rank {sb['rank']})")
    console.print(f"run directory: {result.run_dir}   train {m['train_time_s']:.1f} s, wall {m['wall_time_s']:.1f} s")


@app.command()
def probe(
    run_dir: Path = typer.Argument(..., help="A run directory written by `kspectral train`."),
    knn_preset: Optional[str] = typer.Option(None, "--knn-preset", help="kNN preset: dino (k=20, T=0.07) or instdisc."),
):
    """Re-evaluate a saved run: linear and kNN probes for raw inputs, its encoder and its spectral baseline."""
    if not run_dir.is_dir():
        raise CLIError(f"run directory {run_dir} does not exist")
    _import_tensorflow()
    from kspectral import runs

    rows = runs.probe(run_dir, knn_preset=knn_preset)
    _print_table(rows, f"Top-1 of {run_dir} on its test split")


@app.command()
def spectral(
    method: str = typer.Option("vicreg", help="Method whose closed form to compute (see `kspectral methods`)."),
    graph: str = typer.Option("knn:10", help="Positive-pair graph: knn:K, labels, pairs or augment."),
    dim: int = typer.Option(16, min=1, help="Embedding dimension K."),
    regime: str = typer.Option(
        "auto", help="linear (Z = XW, applied to the test split), nonparametric (train and test embedded together, "
        "no test labels) or auto."
    ),
    seed: int = typer.Option(0, min=0, help="Seed of the split and augmentations."),
    knn_preset: str = typer.Option("dino", "--knn-preset", help="kNN probe preset: dino or instdisc."),
    out: Optional[Path] = typer.Option(None, help="Directory to write spectral.json to."),
):
    """Compute a method's closed-form spectral baseline on digits and a graph, and probe it like a trained run."""
    _import_tensorflow()
    from kspectral import runs

    result = runs.spectral(method=method, graph=graph, dim=dim, regime=regime, seed=seed, knn_preset=knn_preset,
                           out=out)
    s = result.summary
    _print_table(result.rows, f"Top-1 on the digits test split (kNN preset: {knn_preset})")
    console.print(f"{s['estimator']} on the {s['graph']}: rank {s['rank']}, objective {s['objective']}, "
                  f"{s['seconds']:.2f} s")
    console.print(f"graph: {s['graph_report']}")


@app.command()
def methods():
    """List the registered SSL methods and the spectral method each recovers."""
    _import_tensorflow()
    from kspectral import methods as registry

    for name in registry.names():
        cls = registry.get(name)
        console.print(f"{name:24s} {cls.__name__:24s} spectral counterpart: {cls.spectral_counterpart or '-'}")


@app.command()
def recipes():
    """List the shipped training recipes (use one with `kspectral train --recipe NAME`)."""
    from kspectral.recipes import list_recipes

    for path in list_recipes():
        console.print(path.stem)


def _error(message):
    print(f"kspectral: error: {message}", file=sys.stderr, flush=True)


def main(argv=None):
    """Console-script entry point: run the app, report errors in one line with a proper exit code.

    Set ``KSPECTRAL_DEBUG=1`` to get the traceback of an error instead.
    """
    command = typer.main.get_command(app)
    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv:  # a bare `kspectral` asks for help: print it and succeed
        argv = ["--help"]
    if os.environ.get("KSPECTRAL_DEBUG"):
        return command.main(args=argv, prog_name="kspectral")
    try:
        code = command.main(args=argv, prog_name="kspectral", standalone_mode=False)
    except typer.Exit as exc:
        code = exc.exit_code
    except _ClickException as exc:
        _error(exc.format_message())
        code = exc.exit_code
    except (typer.Abort, KeyboardInterrupt):
        print("kspectral: interrupted (a training run resumes from its last completed epoch when started again "
              "with the same --out)", file=sys.stderr, flush=True)
        code = 130
    except CLIError as exc:
        _error(exc)
        code = exc.code
    except (ValueError, TypeError, OSError, ImportError) as exc:
        _error(exc)
        code = 2
    except (FloatingPointError, RuntimeError) as exc:
        _error(exc)
        code = 1
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":  # pragma: no cover
    main()
