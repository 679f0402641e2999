"""``kspectral ARGV`` that SIGKILLs itself right after optimizer step ``K``: a deterministic crash for resume tests.

Usage: ``kspectral_killed_at.py [--kill-at-step K] [--signal KILL|INT] [--call MODULE:FUNCTION ...] -- train ARGS...``

It runs the command line's own entry point (``kspectral_cli.main.main``) on ``ARGS``; the only difference from
``kspectral train`` is one more Keras callback, appended after the run's own (so after its step checkpoint): at the
end of the batch after which the optimizer has taken ``K`` steps, the process sends itself ``SIGKILL`` — no
``finally`` block, no ``atexit`` handler, no flush runs, as when the machine loses power or the OOM killer strikes.
``--signal INT`` sends ``SIGINT`` instead (a Ctrl-C at that step: Python raises ``KeyboardInterrupt``, which the
command line reports). Without ``--kill-at-step`` the run is not killed (an uninterrupted reference run through the same launcher).

``--call MODULE:FUNCTION`` imports a module of ``tests/`` (on the path) and calls the function first, e.g.
``user_method:register``, which registers a user-written method so that ``--method toy_moco`` selects it.

Before it kills itself the child prints ``killing at step K`` (flushed) on stdout, so a test can tell a deliberate
kill from a crash.
"""

import argparse
import importlib
import os
import signal
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/: the modules a test shares with its child
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def kill_at_step_callback(step, signal_name="KILL"):
    """A Keras callback that sends this process ``SIG<signal_name>`` once the optimizer has taken ``step`` steps."""
    import keras

    class KillAtStep(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            if int(self.model.optimizer.iterations.numpy()) == step:
                print(f"killing at step {step}", flush=True)
                sys.stderr.flush()
                os.kill(os.getpid(), getattr(signal, f"SIG{signal_name}"))

    return KillAtStep()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--kill-at-step", type=int, default=None)
    parser.add_argument("--signal", choices=("KILL", "INT"), default="KILL")
    parser.add_argument("--call", dest="calls", action="append", default=[])
    args, rest = parser.parse_known_args()
    if rest[:1] == ["--"]:
        rest = rest[1:]
    for call in args.calls:
        module, _, function = call.partition(":")
        imported = importlib.import_module(module)
        if function:
            getattr(imported, function)()
    if args.kill_at_step is not None:
        from kspectral import runs

        real_train = runs.train

        def train(config, out=None, callbacks=(), **kwargs):
            return real_train(config, out=out, callbacks=[*callbacks, kill_at_step_callback(args.kill_at_step, args.signal)],
                              **kwargs)

        runs.train = train  # the command line calls kspectral.runs.train(config, out=..., callbacks=[progress], ...)
    from kspectral_cli.main import main as kspectral

    kspectral(rest)


if __name__ == "__main__":
    main()
