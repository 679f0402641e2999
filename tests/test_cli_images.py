"""The command line on image data: folders of images, TFDS names, --set, plots, the MLP probe, augmentation grids."""

import json

import numpy as np
import pytest
from PIL import Image

from kspectral_cli.main import main

SMALL = ["--epochs", "1", "--batch-size", "16", "--set", "encoder_widths=16", "--projector", "16-16",
         "--baseline-dim", "4"]


def run_cli(args, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(args)
    captured = capsys.readouterr()
    return exit_info.value.code, captured.out, captured.err


def write_folder(root, classes=("cat", "dog", "fox"), per_class=16, size=12, seed=0):
    rng = np.random.default_rng(seed)
    for c, name in enumerate(classes):
        folder = root / name if classes else root
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            image = rng.integers(0, 60, (size, size, 3)).astype(np.uint8)
            image[..., c % 3] += 150  # each class has its own dominant colour
            Image.fromarray(image).save(folder / f"{name}_{i}.png")
    return root


@pytest.fixture(scope="module")
def folder_run(tmp_path_factory):
    root = write_folder(tmp_path_factory.mktemp("images") / "shapes")
    out = tmp_path_factory.mktemp("runs") / "folder"
    with pytest.raises(SystemExit) as exit_info:
        main(["train", "--dataset", str(root), "--encoder", "conv", "--augment", "cifar", *SMALL, "--out", str(out)])
    assert exit_info.value.code == 0
    return out


def test_an_image_folder_trains_and_probes(folder_run):
    metrics = json.loads((folder_run / "metrics.json").read_text())
    assert set(metrics["probes"]) == {"raw pixels", "vicreg encoder", "spectral baseline (vicreg)"}
    assert metrics["probes"]["raw pixels"]["dim"] == 12 * 12 * 3
    assert metrics["probes"]["raw pixels"]["linear_top1"] > 0.9  # the classes differ in colour
    config = json.loads((folder_run / "config.json").read_text())
    assert config["encoder"] == "conv" and config["augment"] == "cifar"
    assert (folder_run / "tensorboard").is_dir()
    history = (folder_run / "history.csv").read_text().splitlines()[0].split(",")
    assert "online_knn_top1" in history and "online_linear_top1" in history


def test_probe_with_the_mlp_probe(folder_run, capsys):
    code, out, _ = run_cli(["probe", str(folder_run), "--probe", "linear", "--probe", "mlp"], capsys)
    assert code == 0 and "MLP top-1" in out and "kNN top-1" not in out
    probed = json.loads((folder_run / "probe.json").read_text())["probes"]["vicreg encoder"]
    assert set(probed) == {"dim", "linear_top1", "mlp_top1"} and 0.0 <= probed["mlp_top1"] <= 1.0


def test_plot_writes_the_pngs(folder_run, capsys):
    code, out, _ = run_cli(["plot", str(folder_run)], capsys)
    assert code == 0
    for name in ("training_curves.png", "spectrum.png", "embedding_2d.png", "probes.png"):
        assert (folder_run / "plots" / name).stat().st_size > 1000, name


def test_a_flat_folder_trains_without_probes(tmp_path, capsys):
    root = tmp_path / "flat"
    root.mkdir()
    rng = np.random.default_rng(1)
    for i in range(24):
        Image.fromarray(rng.integers(0, 255, (10, 10, 3)).astype(np.uint8)).save(root / f"{i}.png")
    code, out, _ = run_cli(["train", "--dataset", str(root), "--encoder", "conv", "--augment", "cifar", *SMALL,
                            "--out", str(tmp_path / "r")], capsys)
    assert code == 0 and "probes need labelled data" in out
    metrics = json.loads((tmp_path / "r" / "metrics.json").read_text())
    assert metrics["probes"] == {} and metrics["spectral_baseline"]["estimator"] is None


def test_augment_renders_a_grid(tmp_path, capsys):
    out = tmp_path / "grid.png"
    code, _, _ = run_cli(["augment", "digits", "--images", "3", "--views", "4", "--out", str(out)], capsys)
    assert code == 0
    from matplotlib.image import imread

    assert imread(out).ndim == 3


def test_augment_draws_a_recipes_views(tmp_path, capsys):
    from PIL import Image as PILImage

    images = np.random.default_rng(0).integers(0, 256, (6, 32, 32, 3), dtype=np.uint8)
    data = tmp_path / "rgb32.npz"
    np.savez(data, x=images, y=np.arange(6) % 2)
    out = tmp_path / "recipe.png"
    code, stdout, _ = run_cli(["augment", "--recipe", "barlow_twins_resnet18_bs256-1000e_cifar10", "--dataset",
                               str(data), "--images", "2", "--views", "4", "--out", str(out)], capsys)
    assert code == 0 and "wrote" in stdout
    description = PILImage.open(out).text["Description"]
    # the recipe's two view distributions (solo-learn's asymmetric set), alternating over the columns
    assert "distributions=D1 solo_asymmetric_view1,D2 solo_asymmetric_view2" in description
    assert "sizes=32x32,32x32,32x32,32x32,32x32" in description
    symmetric = tmp_path / "digits.png"
    code, _, _ = run_cli(["augment", "--recipe", "vicreg_mlp_bs256-100e_digits", "--images", "2", "--views", "3",
                          "--out", str(symmetric)], capsys)
    assert code == 0  # one distribution for both views, drawn once per column
    assert "distributions=digits_augmenter " in PILImage.open(symmetric).text["Description"]
    code, _, err = run_cli(["augment", "cifar", "--recipe", "vicreg_mlp_bs256-100e_digits", "--out",
                            str(tmp_path / "x.png")], capsys)
    assert code == 2 and "not both" in err


def test_set_overrides_any_field(tmp_path):
    from kspectral.runs import resolve_config

    config = resolve_config(settings=["weight_decay=1e-5", "method_options.invariance_weight=10",
                                      "encoder=conv", "online_probe=false"])
    assert config.weight_decay == 1e-5 and config.method_options == {"invariance_weight": 10}
    assert config.encoder == "conv" and config.online_probe is False


@pytest.mark.parametrize("args,message", [
    (["--set", "learnin_rate=0.1"], "unknown config keys: learnin_rate (did you mean learning_rate?)"),
    (["--set", "learning_rate"], "--set takes KEY=VALUE"),
    (["--set", "epochs=many"], "epochs must be an integer, got 'many'"),
    (["--set", "optimizer=adam"], "unknown optimizer 'adam'; choose one of: lars, sgd, adamw, lamb"),
    (["--dataset", "imagenet9000"], "imagenet9000"),
    (["--dataset", "/no/such/folder"], "does not exist"),
    (["--dataset", "cifar10", "--data-dir", "EMPTY"], "is not prepared"),
    (["--augment", "kaleidoscope"], "unknown augment 'kaleidoscope'"),
    (["--encoder", "resnet9"], "unknown encoder 'resnet9'"),
])
def test_bad_input_exits_2(args, message, tmp_path, capsys):
    args = [str(tmp_path) if a == "EMPTY" else a for a in args]
    code, _, err = run_cli(["train", *args, "--out", str(tmp_path / "r")], capsys)
    assert code == 2, err
    assert message in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "r").exists()


def test_bad_recipe_value_names_the_key(tmp_path, capsys):
    recipe = tmp_path / "r.toml"
    recipe.write_text('[train]\nmethod = "vicreg"\nbatch_size = "big"\n')
    code, _, err = run_cli(["train", "--recipe", str(recipe), "--out", str(tmp_path / "o")], capsys)
    assert code == 2 and "batch_size must be an integer, got 'big'" in err


def test_a_saved_run_loads_after_importing_kspectral_methods_alone(folder_run):
    """model.keras holds kspectral's optimizer schedule: `import kspectral.methods` must be all load_model needs."""
    import subprocess
    import sys

    code = ("import keras, kspectral.methods\n"
            f"model = keras.models.load_model({str(folder_run / 'model.keras')!r})\n"
            "print(type(model).__name__, type(model.optimizer).__name__)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.split()[-2:] == ["VICReg", "AdamW"]


def test_a_seeded_run_reproduces_across_processes(tmp_path):
    """Two `kspectral train` processes with the same seed write the same history (no unseeded randomness)."""
    import subprocess
    import sys

    histories = []
    for name in ("a", "b"):
        out = tmp_path / name
        proc = subprocess.run([sys.executable, "-m", "kspectral_cli.main", "train", "--epochs", "2", "--batch-size",
                               "128", "--set", "encoder_widths=16", "--projector", "16-16", "--baseline-dim", "4",
                               "--set", "online_probe=false", "--set", "tensorboard=false", "--out", str(out)],
                              capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, proc.stderr[-2000:]
        histories.append((out / "history.csv").read_text())
    assert histories[0] == histories[1]
