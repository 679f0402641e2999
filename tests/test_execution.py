"""How `kspectral train` executes: strategies and logical CPUs, mixed precision, XLA (kspectral.runs.execution)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest

from process_helpers import free_ports

from kspectral.runs import RunConfig, train
from kspectral.runs.execution import Execution, dtype_policy, resolve_jit

ROOT = Path(__file__).resolve().parents[1]
# SGD: an adaptive optimizer's first steps are ±lr on every coordinate whatever the gradient's size, so it turns the
# float rounding of a different reduction order (about 1e-7) into weight differences of about 1e-5 (AdamW, 6 steps)
RUN = ["--epochs", "2", "--steps-per-epoch", "3", "--batch-size", "64", "--projector", "32-32", "--set",
       "encoder_widths=64-32", "--set", "tensorboard=false", "--set", "baseline=none", "--set", "online_probe=false",
       "--optimizer", "sgd", "--learning-rate", "0.05"]


def kspectral(*args, env=None, wait=True, kill_at_step=None):
    """``kspectral ARGS`` in a child process; with ``kill_at_step=K`` it SIGKILLs itself right after optimizer step K
    (``scripts/kspectral_killed_at.py``: the command line's entry point plus one callback)."""
    command = [sys.executable, "-c", "from kspectral_cli.main import main; main()", *args]
    if kill_at_step is not None:
        command = [sys.executable, str(ROOT / "tests" / "scripts" / "kspectral_killed_at.py"), "--kill-at-step",
                   str(kill_at_step), "--", *args]
    environment = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", **(env or {}))
    if not wait:
        return subprocess.Popen(command, cwd=ROOT, env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True)
    return subprocess.run(command, cwd=ROOT, env=environment, capture_output=True, text=True, timeout=600)


def weights(run_dir):
    import kspectral.methods  # noqa: F401 - registers the classes the file names

    model = keras.models.load_model(Path(run_dir) / "model.keras")
    return model.get_weights()


def max_relative_difference(a, b):
    return max(float(np.max(np.abs(x - y)) / max(np.max(np.abs(x)), 1e-12)) for x, y in zip(a, b))


def test_jit_auto_is_off_on_a_cpu_and_explicit_values_win():
    assert resolve_jit("auto") is False  # no GPU or TPU on the test machines
    assert resolve_jit("on") is True and resolve_jit("off") is False
    with pytest.raises(ValueError, match="unknown jit 'yes'; choose one of: auto, on, off"):
        resolve_jit("yes")


def test_dtype_policy_is_set_inside_the_block_and_restored_after_it():
    before = keras.config.dtype_policy().name
    with dtype_policy("bf16") as name:
        assert name == "mixed_bfloat16" and keras.config.dtype_policy().name == "mixed_bfloat16"
    assert keras.config.dtype_policy().name == before
    with pytest.raises(ValueError, match="unknown precision 'fp8'; choose one of: fp32, bf16, fp16"):
        with dtype_policy("fp8"):
            pass


def test_execution_describes_itself():
    import tensorflow as tf

    line = Execution(tf.distribute.get_strategy(), 1, "mixed_bfloat16", False).describe()
    assert line == "one device, mixed_bfloat16, XLA off"
    assert Execution(tf.distribute.get_strategy(), 2, "float32", True).describe().startswith("2 replicas (")


@pytest.mark.parametrize("precision,policy,optimizer", [("bf16", "mixed_bfloat16", "AdamW"),
                                                        ("fp16", "mixed_float16", "LossScaleOptimizer")])
def test_mixed_precision_run_trains_in_half_precision_with_float32_losses(tmp_path, precision, policy, optimizer):
    config = RunConfig(epochs=2, steps_per_epoch=3, batch_size=64, projector="32-32", encoder_widths="64-32",
                       tensorboard=False, baseline="none", precision=precision, online_probe=False)
    result = train(config, out=tmp_path / "run")
    assert keras.config.dtype_policy().name == "float32"  # the run does not leak its policy
    model = keras.models.load_model(tmp_path / "run" / "model.keras")
    assert model.projector.dtype_policy.name == policy and type(model.optimizer).__name__ == optimizer
    assert model.encode(np.zeros((2, 8, 8, 1), "float32")).dtype == np.float32  # probes get float32 features
    final = result.metrics["final_train_metrics"]
    assert np.isfinite(final["loss"]) and final["loss"] > 0
    assert result.rows[1].linear > 0.5  # the half-precision encoder learned something a probe can read


@pytest.mark.slow
def test_cli_mirrored_on_two_logical_cpus_equals_one_device(tmp_path):
    one = kspectral("train", *RUN, "--strategy", "one", "--out", str(tmp_path / "one"))
    assert one.returncode == 0, one.stderr[-2000:]
    two = kspectral("train", *RUN, "--strategy", "mirrored", "--cpu-devices", "2", "--out", str(tmp_path / "two"))
    assert two.returncode == 0, two.stderr[-2000:]
    assert "running on 2 replicas (MirroredStrategy), float32, XLA off" in two.stdout
    moved = max_relative_difference(weights(tmp_path / "one"), _initial_weights())
    assert moved > 1e-3  # training moved the weights ...
    assert max_relative_difference(weights(tmp_path / "one"), weights(tmp_path / "two")) < 1e-5  # ... identically
    h_one = (tmp_path / "one" / "history.csv").read_text().splitlines()
    h_two = (tmp_path / "two" / "history.csv").read_text().splitlines()
    assert h_one[0] == h_two[0]
    loss = h_one[0].split(",").index("loss")
    for a, b in zip(h_one[1:], h_two[1:]):
        assert abs(float(a.split(",")[loss]) - float(b.split(",")[loss])) <= 1e-5 * abs(float(a.split(",")[loss]))


def _initial_weights():
    from kspectral.data import load
    from kspectral.runs import with_defaults
    from kspectral.runs.workflows import build_model

    config = with_defaults(RunConfig(projector="32-32", encoder_widths="64-32", batch_size=64, steps_per_epoch=3,
                                     epochs=2, online_probe=False, optimizer="sgd", learning_rate=0.05).validate())
    keras.utils.set_random_seed(config.seed)
    return build_model(config, load("digits", seed=0), 3).get_weights()


@pytest.mark.slow
def test_cli_two_workers_on_loopback_equal_one_device(tmp_path):
    ports = free_ports(2)
    cluster = {"worker": [f"localhost:{p}" for p in ports]}
    out = tmp_path / "mw"
    workers = [kspectral("train", *RUN, "--strategy", "multiworker", "--out", str(out), wait=False,
                         env={"TF_CONFIG": json.dumps({"cluster": cluster, "task": {"type": "worker", "index": i}})})
               for i in range(2)]
    results = [w.communicate(timeout=600) for w in workers]
    for w, (stdout, stderr) in zip(workers, results):
        assert w.returncode == 0, stderr[-2000:]
    assert "running on 2 replicas (CollectiveAllReduceStrategy)" in results[0][0]  # MultiWorkerMirroredStrategy
    assert (out / "metrics.json").exists() and (tmp_path / "mw.worker1" / "model.keras").exists()
    one = kspectral("train", *RUN, "--strategy", "one", "--out", str(tmp_path / "one"))
    assert one.returncode == 0, one.stderr[-2000:]
    assert max_relative_difference(weights(tmp_path / "one"), weights(out)) < 1e-5
    assert max_relative_difference(weights(out), weights(tmp_path / "mw.worker1")) == 0.0


def test_cpu_devices_with_gpus_is_refused(monkeypatch):
    import tensorflow as tf

    from kspectral.distribute import make_strategy

    real = tf.config.list_physical_devices
    monkeypatch.setattr(tf.config, "list_physical_devices",
                        lambda kind=None: ["/physical_device:GPU:0"] if kind == "GPU" else real(kind))
    with pytest.raises(ValueError, match=r"this one has 1 GPU\(s\): drop --cpu-devices"):
        make_strategy("mirrored", cpu_devices=2)


@pytest.mark.slow
def test_cli_mirrored_run_killed_mid_epoch_resumes_and_equals_one_device(tmp_path):
    """A run on 2 logical CPUs SIGKILLs itself after step 5 (epoch 1, batch 2; the newest checkpoint is step 4's),
    is started again, and ends like one device."""
    import signal

    from kspectral.runs.checkpoints import committed

    args = [*RUN, "--epochs", "3", "--checkpoint-every", "2", "--strategy", "mirrored", "--cpu-devices", "2"]
    out = tmp_path / "mirrored"
    process = kspectral("train", *args, "--out", str(out), wait=False, kill_at_step=5)
    one = kspectral("train", *RUN, "--epochs", "3", "--strategy", "one", "--out", str(tmp_path / "one"), wait=False)
    stdout, stderr = process.communicate(timeout=600)
    assert process.returncode == -signal.SIGKILL and "killing at step 5" in stdout, stderr[-2000:]
    assert not (out / "model.keras").exists()
    newest = json.loads(committed(out / "backup")[0].read_text())
    assert (newest["step"], newest["epoch"], newest["batch"]) == (4, 1, 1)
    resumed = kspectral("train", *args, "--out", str(out))
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert "resuming from the checkpoint of step 4 (epoch 1, batch 1)" in resumed.stdout
    _, stderr = one.communicate(timeout=600)
    assert one.returncode == 0, stderr[-2000:]
    assert max_relative_difference(weights(tmp_path / "one"), weights(out)) < 1e-5
