"""Bad input, one test per class (docs/bad_input.md lists them): each gives one line naming the problem and the fix
(CLI exit 2, Python ``ValueError`` / ``TypeError``), and none loses a finished run or a checkpoint. Also the
security checks: recipes are data, ``.keras`` files load in safe mode, and no recipe or ``--set`` value makes a run
write outside its run directory.
"""

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest
import scipy.sparse as sp
from PIL import Image

from kspectral import objectives as O
from kspectral import runs, spectral
from kspectral.data import load
from kspectral_cli.main import main

TINY = dict(epochs=1, batch_size=64, encoder_widths="16", projector="16-16", baseline_dim=4, tensorboard=False)
TINY_CLI = ["--epochs", "1", "--batch-size", "64", "--set", 'encoder_widths="16"', "--projector", "16-16",
            "--baseline-dim", "4", "--set", "tensorboard=false"]


def run_cli(capsys, args):
    """``(exit code, stderr)`` of ``kspectral ARGS`` run in this process."""
    with pytest.raises(SystemExit) as exit_info:
        main(list(map(str, args)))
    return exit_info.value.code, capsys.readouterr().err


def one_line_error(capsys, args, *fragments, code=2):
    """Run the CLI, check the exit code and that stderr is one error line holding every fragment; return it."""
    got, err = run_cli(capsys, args)
    lines = err.strip().splitlines()
    assert got == code, err
    assert len(lines) == 1 and lines[0].startswith("kspectral: "), err
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


def tree(root):
    """``{relative path: (size, mtime_ns)}`` of every file under ``root``."""
    root = Path(root)
    return {str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns) for p in root.rglob("*") if p.is_file()}


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """A finished tiny digits run, trained with the working directory set to an empty folder.

    Returns ``(workdir, run_dir, files_before)``: ``files_before`` lists the working directory before training.
    """
    work = tmp_path_factory.mktemp("work")
    before = tree(work)
    cwd = os.getcwd()
    os.chdir(work)
    try:
        runs.train(runs.RunConfig(**TINY), out=Path("run"))
    finally:
        os.chdir(cwd)
    return work, work / "run", before


def copy_run(finished, tmp_path, name="copy"):
    import shutil

    return Path(shutil.copytree(finished[1], tmp_path / name))


# --------------------------------------------------------------------------------------------------- objectives

_z = np.random.default_rng(0).normal(size=(8, 4)).astype("float32")

#: every objective function of kspectral.objectives, with how many embedding matrices it takes
ONE = [O.coding_rate, O.exp_covariance_term, O.sample_contrastive, O.dimension_contrastive, O.regularizer_lreg,
       O.double_normalize, O.duality_gap, O.sample_norms4, O.dimension_norms4, O.variance_term, O.covariance_term,
       O.batch_standardize, O.standardize_dimensions, O.split_views,
       lambda z: O.project_to_ball(z, 1.0)]
TWO = [O.vicreg, O.vicreg_exp, O.vicreg_ctr, O.barlow_twins, O.spectral_contrastive, O.simclr, O.dcl,
       O.simclr_official, O.tcr, O.invariance_term, O.cross_correlation]
FOUR = [O.cissl, O.dissl]
LOSSES = [O.VICRegLoss(), O.VICRegExpLoss(), O.VICRegCtrLoss(), O.BarlowTwinsLoss(), O.SpectralContrastiveLoss(),
          O.SimCLRLoss(), O.DCLLoss(), O.TCRLoss(), O.CISSLLoss(), O.DISSLLoss()]


def _call(fn, z):
    arity = 1 if fn in ONE else 4 if fn in FOUR else 2
    return fn(*[z] * arity)


def _name(fn):
    return getattr(fn, "__name__", type(fn).__name__)


@pytest.mark.parametrize("fn", ONE + TWO + FOUR + LOSSES, ids=_name)
@pytest.mark.parametrize("z", [_z[0], _z[None]], ids=["rank1", "rank3"])
def test_objectives_refuse_a_wrong_rank(fn, z):
    with pytest.raises(ValueError, match=r"must be a batch-first \(batch, dim\) matrix, got shape \((4,|1, 8, 4)\); "
                                         "flatten or pool"):
        _call(fn, z)


@pytest.mark.parametrize("fn", TWO + FOUR, ids=_name)
def test_objectives_refuse_views_of_different_shapes(fn):
    other = _z[:, :3]
    args = (_z, other) if fn in TWO else (_z, _z, other, other)
    with pytest.raises(ValueError, match=r"must (all )?have the same .*shape.*\(8, 4\).*\(8, 3\)"):
        fn(*args)


@pytest.mark.parametrize("fn", [f for f in ONE + TWO + FOUR if f not in (
    O.invariance_term, O.sample_contrastive, O.dimension_contrastive, O.regularizer_lreg, O.double_normalize,
    O.duality_gap, O.sample_norms4, O.dimension_norms4, O.coding_rate, O.standardize_dimensions, O.dissl, ONE[-1])],
    ids=_name)
def test_objectives_that_take_batch_statistics_refuse_a_batch_of_one(fn):
    with pytest.raises(ValueError, match="has batch size 1; this objective needs at least 2 samples"):
        _call(fn, _z[:1])


@pytest.mark.parametrize("fn", ONE + TWO + FOUR + LOSSES, ids=_name)
def test_objectives_refuse_nan_inputs(fn):
    z = _z.copy()
    z[2, 1] = np.nan
    with pytest.raises(ValueError, match="contains NaN or infinite values"):
        _call(fn, z)


@pytest.mark.parametrize("call,message", [
    (lambda: O.vicreg(_z, _z, invariance_weight=-1), "invariance_weight must be a finite non-negative number, got -1"),
    (lambda: O.vicreg(_z, _z, variance_weight=float("nan")), "variance_weight must be a finite non-negative"),
    (lambda: O.vicreg_exp(_z, _z, temperature=0.0), "temperature must be a finite positive number, got 0"),
    (lambda: O.vicreg_ctr(_z, _z, covariance_weight=-2.0), "covariance_weight must be a finite non-negative"),
    (lambda: O.barlow_twins(_z, _z, redundancy_weight=-0.1), "redundancy_weight must be a finite non-negative"),
    (lambda: O.spectral_contrastive(_z, _z, mu=0), "mu must be a finite positive"),
    (lambda: O.simclr(_z, _z, temperature=-0.1), "temperature must be a finite positive"),
    (lambda: O.dcl(_z, _z, temperature=float("inf")), "temperature must be a finite positive"),
    (lambda: O.simclr_official(_z, _z, temperature=0), "temperature must be a finite positive"),
    (lambda: O.tcr(_z, _z, invariance_weight=-1), "invariance_weight must be a finite non-negative"),
    (lambda: O.tcr(_z, _z, epsilon=0), "epsilon must be a finite positive"),
    (lambda: O.cissl(_z, _z, _z, _z, temperature=0), "temperature must be a finite positive"),
    (lambda: O.dissl(_z, _z, _z, _z, marginal_weight=-1), "marginal_weight must be a finite non-negative"),
    (lambda: O.dissl(_z, _z, _z, _z, student_temperature=0), "student_temperature must be a finite positive"),
    (lambda: O.variance_term(_z, epsilon=-1), "epsilon must be a finite positive"),
    (lambda: O.project_to_ball(_z, -1.0), "radius must be a finite positive"),
    (lambda: O.double_normalize(_z, iterations=-1), "iterations must be at least 0"),
])
def test_objective_functions_check_their_hyper_parameters_as_the_method_classes_do(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_a_weight_of_the_wrong_type_is_a_type_error():
    with pytest.raises(TypeError, match="invariance_weight must be a number, got 'a'"):
        O.vicreg(_z, _z, invariance_weight="a")
    with pytest.raises(TypeError, match="iterations must be an integer"):
        O.double_normalize(_z, iterations="a")


# ------------------------------------------------------------------------------------------- data and pipelines

def test_nan_inputs_in_a_dataset_file_and_in_a_closed_form(tmp_path, capsys):
    x = np.random.default_rng(0).random((30, 4)).astype("float32")
    x[3, 2] = np.nan
    np.savez(tmp_path / "nan.npz", x=x)
    one_line_error(capsys, ["train", "--dataset", tmp_path / "nan.npz", "--out", tmp_path / "r"],
                   "nan.npz: x contains NaN or infinite values")
    assert not (tmp_path / "r").exists()
    G = spectral.knn_graph(np.nan_to_num(x), 5)
    with pytest.raises(ValueError, match="features contains 1 NaN or infinite values; drop or impute them first"):
        spectral.spectral_baseline("vicreg", G, 2, features=x)


def test_nan_images_are_refused_by_the_pipelines():
    from kspectral.data import augmented_pairs, digits_augmenter, image_batches

    x = np.zeros((70, 8, 8, 1), "float32")
    x[5, 1, 1, 0] = np.nan
    for make in (lambda: augmented_pairs(x, digits_augmenter(), 32), lambda: image_batches(x, 32)):
        with pytest.raises(ValueError, match="x contains NaN or infinite values"):
            make()


def test_an_empty_dataset(tmp_path, capsys):
    np.savez(tmp_path / "empty.npz", x=np.zeros((0, 4), "float32"))
    one_line_error(capsys, ["train", "--dataset", tmp_path / "empty.npz"], "with N ≥ 1, got (0, 4)")
    (tmp_path / "folder").mkdir()
    one_line_error(capsys, ["train", "--dataset", tmp_path / "folder"], "folder contains no images (.png")


def _png(path, size):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (*size, 3), dtype=np.uint8)).save(path)


def test_an_image_folder_with_mixed_sizes_or_an_unreadable_image(tmp_path, capsys):
    for i in range(3):
        _png(tmp_path / "mixed" / "a" / f"{i}.png", (8, 8))
        _png(tmp_path / "mixed" / "b" / f"{i}.png", (12, 10))
    one_line_error(capsys, ["train", "--dataset", tmp_path / "mixed"], "differ in size",
                   "pass image_size=S (--image-size S)")
    for i in range(3):
        _png(tmp_path / "broken" / "a" / f"{i}.png", (8, 8))
        _png(tmp_path / "broken" / "b" / f"{i}.png", (8, 8))
    (tmp_path / "broken" / "b" / "bad.png").write_bytes(b"not a png")
    one_line_error(capsys, ["train", "--dataset", tmp_path / "broken"], "cannot read image",
                   "bad.png", "remove or replace the file")


def test_a_tfds_name_that_does_not_exist(capsys):
    one_line_error(capsys, ["train", "--dataset", "tfds:no_such_dataset_xyz"],
                   "unknown TFDS dataset 'no_such_dataset_xyz'", "tfds.list_builders()")


def test_offline_without_prepared_tfds_data(tmp_path, capsys):
    one_line_error(capsys, ["train", "--dataset", "cifar10", "--data-dir", tmp_path],
                   f"cifar10 is not prepared in {tmp_path}", "tfds build cifar10", "--data-dir DIR")
    one_line_error(capsys, ["train", "--dataset", "cifar10", "--data-dir", tmp_path / "nowhere"],
                   "does not exist")


def test_a_batch_larger_than_the_dataset_fails_before_the_run_directory(tmp_path):
    with pytest.raises(ValueError, match="batch_size=5000 is larger than the 1437 training images; lower --batch-size"):
        runs.train(runs.RunConfig(**{**TINY, "batch_size": 5000}), out=tmp_path / "r")
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize("args,fragments", [
    (["--batch-size", "1"], ["batch_size must be an integer ≥ 2, got 1"]),
    (["--batch-size", "64", "--cpu-devices", "3"], ["batch_size=64 does not split over cpu_devices=3",
                                                    "multiple of it"]),
    (["--projector", "abc"], ["projector spec 'abc' is not valid", "e.g. '2048-2048-2048'"]),
    (["--projector", "16--3"], ["projector spec '16--3' is not valid"]),
    (["--method", "vicregg"], ["unknown method 'vicregg'; choose one of:", "vicreg"]),
    (["--augment", "simclrr"], ["unknown augment 'simclrr'; choose one of: simclr"]),
    (["--set", "lerning_rate=0.1"], ["unknown config keys: lerning_rate (did you mean learning_rate?)"]),
    (["--recipe", "no_such_recipe"], ["no recipe file or shipped recipe named 'no_such_recipe'; shipped recipes:"]),
    (["--set", "normalize=svhn"], ["unknown normalize 'svhn'; choose one of: cifar10, cifar100, stl10, imagenet"]),
    (["--set", "augment_options.normalize=cifar10"], ["not augment_options.normalize", "test images are normalised"]),
    (["--set", "projector_options.dropout=0.1"], ["unknown projector_options: dropout; allowed: batchnorm"]),
    (["--set", "schedule_options.warmup_law=torch"], ["bad schedule_options: unknown warmup_law 'torch'"]),
    (["--optimizer", "lars", "--set", "optimizer_options.rule=bolts"], ["bad optimizer_options for lars: unknown "
                                                                       "LARS rule 'bolts'"]),
    (["--set", "classifier_lr=-1.0"], ["classifier_lr must be a positive number, got -1.0"]),
    (["--stem", "cifar_pad2"], ["stem='cifar_pad2' applies to the ResNet encoders only"]),
])
def test_bad_training_options_exit_2_before_anything_is_written(tmp_path, capsys, args, fragments):
    one_line_error(capsys, ["train", *args, "--out", tmp_path / "r"], *fragments)
    assert not (tmp_path / "r").exists()


def test_an_unknown_augmentation_preset_for_the_augment_command(tmp_path, capsys):
    one_line_error(capsys, ["augment", "foo", "--out", tmp_path / "a.png"],
                   "unknown augmentation preset 'foo'; choose one of: simclr")


# ------------------------------------------------------------------------------------------------- closed forms

def test_k_larger_than_n_for_a_closed_form(capsys):
    X = np.random.default_rng(0).normal(size=(30, 5))
    G = spectral.knn_graph(X, 5)
    with pytest.raises(ValueError, match="asked for 100 eigenvectors, but a graph of N=30 nodes has only N − 1 = 29 "
                                         "non-constant ones; use dim ≤ N − 1"):
        spectral.LaplacianEigenmaps(n_components=100, graph="precomputed").fit(G)
    with pytest.raises(ValueError, match="dim=100 is too large: the graph has N=30 nodes"):
        spectral.SpectralContrastiveEmbedding(n_components=100, graph="precomputed").fit(G)
    one_line_error(capsys, ["spectral", "--dim", "100000"], "asked for 100000 eigenvectors", "use dim ≤ N − 1")
    one_line_error(capsys, ["spectral", "--dim", "100", "--graph", "labels"],
                   "dim=100 exceeds the 64 input features of the linear regime")


def test_an_empty_or_disconnected_graph():
    X = np.random.default_rng(0).normal(size=(30, 5))
    empty = sp.csr_matrix((30, 30))
    for estimator in (spectral.LaplacianEigenmaps(graph="precomputed"), spectral.GraphIsomap(),
                      spectral.SpectralClustering(n_clusters=2, graph="precomputed")):
        with pytest.raises(ValueError, match="G has no edges: every sample would be its own component"):
            estimator.fit(empty)
    with pytest.raises(ValueError, match="G has no edges"):
        spectral.LinearVICReg().fit(X, graph=empty)
    disconnected = sp.csr_matrix(sp.block_diag([np.ones((3, 3)) - np.eye(3)] * 10))
    with pytest.raises(ValueError, match="G has 10 connected components.*ISOMAP needs a connected graph"):
        spectral.GraphIsomap().fit(disconnected)
    # a closed form defined on a disconnected graph returns its component indicators (documented), not an error
    Z = spectral.LaplacianEigenmaps(n_components=2, graph="precomputed").fit_transform(disconnected)
    for block in range(10):
        np.testing.assert_allclose(Z[3 * block: 3 * block + 3], np.tile(Z[3 * block], (3, 1)), atol=1e-8)


# ------------------------------------------------------------------------------ run directories and .keras files

def test_probe_of_a_corrupt_model_keras_names_the_file_and_keeps_the_run(finished, tmp_path, capsys):
    run = copy_run(finished, tmp_path)
    (run / "model.keras").write_bytes(b"garbage")
    before = tree(run)
    line = one_line_error(capsys, ["probe", run], f"{run / 'model.keras'} is not a .keras archive",
                          "train the run again")
    assert "File not found" not in line
    assert tree(run) == before
    with pytest.raises(ValueError, match="is not a .keras archive"):
        runs.load_run_model(run)


def test_probe_of_a_plain_keras_model_is_one_line(finished, tmp_path, capsys):
    run = copy_run(finished, tmp_path)
    keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)]).save(run / "model.keras")
    one_line_error(capsys, ["probe", run], "holds a Sequential, not a kspectral model",
                   "probe a run directory written by `kspectral train`")


def test_a_run_loads_with_keras_load_model_after_importing_kspectral(finished):
    import kspectral.methods  # noqa: F401 - registers the classes, as the run directory's docs say

    model = keras.models.load_model(finished[1] / "model.keras")
    x = load("digits").x_test[:4]
    np.testing.assert_allclose(model.encode(x), runs.load_run_model(finished[1]).encode(x), rtol=0, atol=0)


@pytest.mark.parametrize("content,fragment", [
    ("{bad", "run config {config} is not valid JSON"),
    (json.dumps({"method": "vicreg", "epochz": 3}), "{config}: unknown config keys: epochz (did you mean epochs?)"),
    (json.dumps({"method": "vicreg", "epochs": 0}), "{config}: epochs must be an integer ≥ 1, got 0"),
])
def test_probe_of_a_bad_config_json_names_the_file(finished, tmp_path, capsys, content, fragment):
    run = copy_run(finished, tmp_path)
    (run / "config.json").write_text(content)
    one_line_error(capsys, ["probe", run], fragment.format(config=run / "config.json"))
    assert (run / "model.keras").exists() and (run / "metrics.json").exists()


def test_probe_of_a_missing_or_unfinished_run(tmp_path, capsys):
    one_line_error(capsys, ["probe", tmp_path / "nowhere"], "does not exist")
    (tmp_path / "half").mkdir()
    (tmp_path / "half" / "config.json").write_text("{}")
    one_line_error(capsys, ["probe", tmp_path / "half"], "is not a finished run: model.keras is missing")


def test_an_occupied_or_unwritable_output(finished, tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("keep me")
    one_line_error(capsys, ["train", "--out", blocker, *TINY_CLI], f"--out {blocker} exists and is not a directory")
    one_line_error(capsys, ["spectral", "--out", blocker], f"--out {blocker} exists and is not a directory")
    before = tree(finished[1])
    one_line_error(capsys, ["plot", finished[1], "--out", blocker],
                   f"--out {blocker} exists and is not a directory; choose a folder for the PNGs")
    one_line_error(capsys, ["plot", finished[1], "--out", blocker / "sub"], f"{blocker / 'sub'}: not a directory",
                   "a part of the path is a file, not a folder")
    one_line_error(capsys, ["spectral", "--out", blocker / "sub"], "not a directory")
    assert blocker.read_text() == "keep me" and tree(finished[1]) == before


# -------------------------------------------------------------------------------------------------- recipes

def test_a_recipe_that_is_not_utf8_or_not_toml_is_named(tmp_path, capsys):
    latin = tmp_path / "latin.toml"
    latin.write_bytes("method = 'vicr\xe9g'\n".encode("latin-1"))
    one_line_error(capsys, ["train", "--recipe", latin], f"recipe {latin} is not UTF-8 text", "save it as UTF-8")
    one_line_error(capsys, ["recipes", "--show", latin], f"recipe {latin} is not UTF-8 text")
    bad = tmp_path / "bad.toml"
    bad.write_text("method = \n")
    one_line_error(capsys, ["train", "--recipe", bad], f"recipe {bad} is not valid TOML", "line 1")
    mixed = tmp_path / "mixed.toml"
    mixed.write_text("epochs = 3\n[train]\nmethod = 'simclr'\n")
    one_line_error(capsys, ["train", "--recipe", mixed], "has keys outside its [train] table (epochs)")


# ------------------------------------------------------------------------------------------------- security

def test_a_recipe_is_data_python_in_a_string_stays_a_string(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code = "__import__('pathlib').Path('PWNED').touch()"
    recipe = tmp_path / "evil.toml"
    recipe.write_text(f"[train]\nmethod = {json.dumps(code)}\nencoder_widths = {json.dumps(code)}\n")
    assert runs.load_recipe(recipe) == {"method": code, "encoder_widths": code}
    one_line_error(capsys, ["train", "--recipe", recipe, "--out", tmp_path / "r"], "unknown method", "PWNED")
    one_line_error(capsys, ["train", "--set", f"encoder_widths={code}", "--out", tmp_path / "r"],
                   "encoder spec", "is not valid")
    assert not (tmp_path / "PWNED").exists() and not (tmp_path / "r").exists()


def test_a_keras_file_with_python_bytecode_is_refused_and_never_runs(finished, tmp_path, capsys):
    run = copy_run(finished, tmp_path)
    marker = tmp_path / "lambda_ran"
    model = keras.Sequential([keras.Input((4,)), keras.layers.Lambda(
        lambda x, p=str(marker): (__import__("pathlib").Path(p).touch(), x)[1])])
    model.save(run / "model.keras")
    marker.unlink()  # building the model ran it once, here
    one_line_error(capsys, ["probe", run], "holds Python code (e.g. a Lambda layer) and was refused",
                   "Keras safe mode")
    from keras.src.backend.common import global_state  # to restore the setting that the next line changes

    previous = global_state.get_global_attribute("safe_mode_saving")
    keras.config.enable_unsafe_deserialization()  # even a process that allows it globally loads runs safely
    try:
        with pytest.raises(ValueError, match="holds Python code"):
            runs.load_run_model(run)
    finally:
        global_state.set_global_attribute("safe_mode_saving", previous)
    assert not marker.exists()


@pytest.mark.parametrize("toml", ['out = "../x"', 'run_dir = "/tmp/x"', '[train]\nout = "../x"',
                                  '[train]\nmetrics = "../m.json"'])
def test_no_recipe_key_sets_an_output_path(tmp_path, capsys, toml):
    recipe = tmp_path / "out.toml"
    recipe.write_text(toml + "\n")
    one_line_error(capsys, ["train", "--recipe", recipe, "--out", tmp_path / "r"], "unknown config keys:")
    one_line_error(capsys, ["train", "--set", "out=../x", "--out", tmp_path / "r"], "unknown config keys: out")
    assert not (tmp_path / "r").exists() and not (tmp_path.parent / "x").exists()


def test_the_only_path_fields_are_read_only_inputs():
    paths = {f for f, t in runs.config.FIELD_TYPES.items() if t in (str, (str, type(None)))}
    written = {"data_dir", "dataset"}  # both are read: a TFDS folder (download=False), a folder or array file
    assert {f for f in paths if "dir" in f or "path" in f or "file" in f or f == "dataset"} == written


@pytest.mark.parametrize("dataset,name", [("../../../a/b/x.npy", "x.npy"), ("/abs/../faces", "faces"),
                                          ("tfds:svhn_cropped", "tfds_svhn_cropped"), ("..", "data")])
def test_a_dataset_path_cannot_move_the_default_run_directory_out_of_runs(dataset, name):
    out = runs.default_run_dir(runs.RunConfig(dataset=dataset), root="runs")
    assert out.parent == Path("runs") and out.name.startswith(f"vicreg-{name}-augment-")


def test_a_finished_digits_run_writes_only_inside_its_run_directory(finished):
    work, run, before = finished
    after = tree(work)
    new = sorted(set(after) - set(before))
    assert before == {} and all(path.startswith("run/") for path in new), new
    assert {"run/config.json", "run/model.keras", "run/history.csv", "run/metrics.json"} <= set(new)
    assert not (run / "backup").exists()  # removed once the run finished


# ---------------------------------------------------------------------------------------------------- Ctrl-C

def test_ctrl_c_during_train_prints_the_resume_line_and_keeps_the_checkpoint(tmp_path):
    from kspectral.runs.checkpoints import committed

    out = tmp_path / "run"
    launcher = Path(__file__).parent / "scripts" / "kspectral_killed_at.py"
    # Ctrl-C at a known step (the child sends itself SIGINT right after step 7, the checkpoint of step 6 written)
    command = [sys.executable, str(launcher), "--kill-at-step", "7", "--signal", "INT", "--", "train", "--epochs", "500",
               "--batch-size", "64", "--set", 'encoder_widths="16"', "--projector", "16-16", "--baseline-dim", "4",
               "--set", "tensorboard=false", "--set", "checkpoint_every=3", "--out", str(out)]
    # a child of a shell that ignores SIGINT would ignore it too: restore the default before Python starts
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    _, err = process.communicate(timeout=60)
    assert process.returncode == 130, err
    lines = [line for line in err.strip().splitlines() if line.startswith("kspectral")]
    assert lines == [f"kspectral: interrupted; its last checkpoint is kept: resume it with the same options and "
                     f"--out {out}"], err
    assert (out / "backup").is_dir() and (out / "config.json").exists() and not (out / "metrics.json").exists()
    assert [json.loads(path.read_text())["step"] for path in committed(out / "backup")][0] == 6


def test_an_interrupt_outside_train_exits_130_with_a_line(monkeypatch, capsys):
    from kspectral.runs import workflows

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(workflows, "spectral", interrupted)
    monkeypatch.setattr(runs, "spectral", interrupted)
    one_line_error(capsys, ["spectral"], "kspectral: interrupted", code=130)
