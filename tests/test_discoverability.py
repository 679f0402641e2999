"""A new user's path (issue 11): no warning from a user's ``fit()``, every config field in ``kspectral train
--help``, the live progress display, and a lazily importing ``kspectral.spectral``."""

import dataclasses
import io
import re
import subprocess
import sys
import warnings

import pytest
from rich.console import Console

from process_helpers import cli_imports

import kspectral_cli.main as cli
from kspectral.data import augmented_pairs, digits_augmenter, graph_pairs, image_batches
from kspectral.encoders import mlp_encoder
from kspectral.methods import VICReg
from kspectral.runs.config import RunConfig
from kspectral.spectral import label_graph


def _fit_warnings(model, data, **kwargs):
    model.compile(optimizer="adam")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model.fit(data, epochs=1, steps_per_epoch=2, verbose=0, **kwargs)
    return [f"{w.category.__name__}: {w.message}" for w in caught]


@pytest.mark.parametrize("pipeline", ["augmented_pairs", "graph_pairs", "image_batches"])
def test_user_fit_on_kspectral_pipelines_emits_no_warning(pipeline, digits_data):
    x, y = digits_data.x_train[:64], digits_data.y_train[:64]
    augmenters = None
    if pipeline == "augmented_pairs":
        data = augmented_pairs(x, digits_augmenter(seed=0), batch_size=16)
    elif pipeline == "graph_pairs":
        data = graph_pairs(x, label_graph(y), batch_size=16)
    else:
        data = image_batches(x, batch_size=16)
        augmenters = [digits_augmenter(seed=0), digits_augmenter(seed=1)]
    model = VICReg(encoder=mlp_encoder((8, 8, 1), "16"), projector="8", augmenters=augmenters)
    assert _fit_warnings(model, data) == []


def test_fit_passes_an_explicit_shuffle_through(digits_data):
    """Only the default changes: an explicit ``shuffle=True`` reaches Keras (which then warns, as it should)."""
    model = VICReg(encoder=mlp_encoder((8, 8, 1), "16"), projector="8")
    data = augmented_pairs(digits_data.x_train[:64], digits_augmenter(seed=0), batch_size=16)
    caught = _fit_warnings(model, data, shuffle=True)
    assert len([m for m in caught if "shuffle=True" in m]) == 1, caught
    assert model.optimizer.iterations.numpy() == 2  # and the model trained


# ----------------------------------------------------------------------------- kspectral train --help


def _train_help(capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["train", "--help"])
    assert exit_info.value.code in (0, None)
    return capsys.readouterr().out


def test_train_help_lists_every_config_field_with_its_default(capsys, monkeypatch):
    monkeypatch.setattr(cli, "console", Console(width=120))  # the captured stdout, wide enough for one line each
    out = _train_help(capsys)
    command = cli.typer.main.get_command(cli.app).commands["train"]
    flags = {p.name: p.opts for p in command.params}
    defaults = RunConfig()
    unflagged = []
    for field in dataclasses.fields(RunConfig):
        if field.name in flags:
            assert any(opt in out for opt in flags[field.name]), field.name
        else:
            unflagged.append(field.name)
            line = f"{field.name} = {cli._config_value(getattr(defaults, field.name))}"
            assert re.search(rf"\b{field.name} +{re.escape(line.split(' ', 1)[1])}", out), line
    assert "weight_decay" in unflagged and "method_options" in unflagged and "learning_rate" not in unflagged
    assert "--set KEY=VALUE" in out


def test_config_values_print_as_toml():
    assert [cli._config_value(v) for v in (None, True, False, "auto", 1e-4, 10, {}, {"strength": 0.5})] == [
        "unset", "true", "false", '"auto"', "0.0001", "10", "{}", "{strength = 0.5}"]


def test_only_train_help_imports_the_config_module():
    assert cli_imports(["recipes"], ("kspectral.runs.config", "tensorflow"))[-1] == "imported: []"


# ----------------------------------------------------------------------------- the progress display


def test_progress_shows_compiling_then_steps_eta_and_metrics(monkeypatch):
    """A fake Keras callback sequence (2 epochs of 4 steps), with a fake clock: no training needed."""
    monkeypatch.setattr(cli, "console", Console(file=io.StringIO(), width=200))
    now = [100.0]
    callback = cli._progress_callback(2, clock=lambda: now[0])
    callback.set_params({"epochs": 2, "steps": 4, "verbose": 0})
    callback.on_train_begin()
    task = callback.progress.tasks[0]
    assert task.fields["step"] == "compiling the train step…" and task.total == 8 and task.completed == 0
    callback.on_epoch_begin(0)
    assert task.fields["step"] == "compiling the train step…"  # still compiling until the first batch ends
    now[0] += 30.0  # the first step: tracing and compiling
    callback.on_train_batch_end(0, {"loss": 23.456789123, "rankme": 12.3456})
    assert task.fields["step"] == "step 1/4" and task.completed == 1
    assert task.fields["eta"] == ""  # no step timed yet: the first one holds the compilation
    assert task.fields["metrics"] == "loss=23.4568 rankme=12.35"
    for batch in (1, 2, 3):
        now[0] += 2.0
        callback.on_train_batch_end(batch, {"loss": 20.0 - batch})
    # 2 s a step (the compilation left out), 4 steps left in epoch 2
    assert task.fields["step"] == "step 4/4" and task.fields["eta"] == "ETA 0:00:08" and task.completed == 4
    callback.on_epoch_end(0, {"loss": 17.25, "rankme": 7.0, "online_linear_top1": 0.875})
    assert task.fields["metrics"] == "loss=17.25 rankme=7 online_linear_top1=0.8750"
    callback.on_epoch_begin(1)
    assert task.fields["epoch"] == "epoch 2/2" and task.fields["step"] == "step 0/4"
    for batch in range(4):
        now[0] += 2.0
        callback.on_train_batch_end(batch, {"loss": 1.0})
    assert task.fields["eta"] == "ETA 0:00:00"
    callback.on_epoch_end(1, {"loss": 1.0})
    callback.on_train_end()
    assert task.completed == 8 and task.fields["eta"] == ""
    printed = cli.console.file.getvalue()
    assert "epoch 2/2" in printed and "step 4/4" in printed and "loss=1" in printed


def test_progress_learns_the_epoch_length_when_keras_does_not_know_it(monkeypatch):
    monkeypatch.setattr(cli, "console", Console(file=io.StringIO(), width=200))
    now = [0.0]
    callback = cli._progress_callback(3, clock=lambda: now[0])
    callback.set_params({"epochs": 3, "steps": None, "verbose": 0})
    callback.on_train_begin()
    task = callback.progress.tasks[0]
    assert task.total is None
    callback.on_epoch_begin(0)
    for batch in range(5):
        now[0] += 1.0
        callback.on_train_batch_end(batch, {"loss": 2.0})
    assert task.fields["step"] == "step 5" and task.fields["eta"] == ""
    callback.on_epoch_end(0, {"loss": 2.0})
    assert task.total == 15 and task.completed == 5
    callback.on_epoch_begin(1)
    now[0] += 1.0
    callback.on_train_batch_end(0, {"loss": 2.0})
    assert task.fields["step"] == "step 1/5" and task.fields["eta"] == "ETA 0:00:09"  # 1 s a step, 9 steps left
    callback.stop()


# ----------------------------------------------------------------------------- kspectral.spectral imports lazily


def test_spectral_package_exports_every_public_name_of_its_submodules():
    import importlib

    import kspectral.spectral as spectral

    for module, names in spectral._EXPORTS.items():
        mod = importlib.import_module(f"kspectral.spectral.{module}")
        for name in names:
            assert getattr(spectral, name) is getattr(mod, name), name
    assert len(spectral.__all__) == len(set(spectral.__all__)) == 80
    assert set(spectral.__all__) <= set(dir(spectral)) and "graphs" in dir(spectral)
    assert callable(spectral.laplacian)  # the function, not the submodule of the same name
    from kspectral.spectral import laplacian

    assert laplacian is importlib.import_module("kspectral.spectral.laplacian").laplacian
    with pytest.raises(AttributeError, match="has no attribute 'nope'"):
        spectral.nope  # noqa: B018


def test_spectral_graphs_import_without_scikit_learn():
    code = ("import sys; import kspectral.spectral as s; assert 'scipy' not in sys.modules\n"
            "from kspectral.spectral import knn_graph, laplacian; import kspectral.spectral.laplacian\n"
            "assert callable(s.laplacian) and s.laplacian is laplacian\n"
            "print(sorted(m for m in ('sklearn', 'tensorflow', 'keras') if m in sys.modules))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"
