"""Checks every method of the teacher / queue families shares (imported by the per-method test files).

``assert_resumes_exactly`` trains a tiny ``kspectral train`` run on digits in process, interrupts it after step 5
(``KeyboardInterrupt`` from a callback, as Ctrl-C), resumes it from the checkpoint of step 4 and requires the weights
of ``model.keras`` — the method's components (teacher, queue, centre, prototypes) are model variables, so they are
among them — and ``history.csv`` to equal those of an uninterrupted run bit for bit. The SIGKILL path of the same
checkpoints is tested once, method-independently, in ``test_resume.py`` and ``test_user_method.py``.
"""

from __future__ import annotations

import pytest

from kspectral import runs
from test_resume import StopAt, history, max_difference

#: the run of :func:`assert_resumes_exactly`: 2 epochs of 4 steps of 64 digits, a checkpoint every 2 steps
RESUME_RUN = dict(epochs=2, steps_per_epoch=4, batch_size=64, encoder="mlp", encoder_widths="32", baseline="none",
                  tensorboard=False, checkpoint_every=2, online_probe=False)


def assert_resumes_exactly(tmp_path, method, **settings):
    """Interrupt ``method``'s run after step 5, resume it, and compare with an uninterrupted run (``settings``
    override :data:`RESUME_RUN`, e.g. ``projector="32-16"``, ``method_options={...}``, ``augment="multicrop"``)."""
    config = runs.RunConfig(method=method, **{**RESUME_RUN, **settings})
    runs.train(config, out=tmp_path / "reference")
    with pytest.raises(KeyboardInterrupt):
        runs.train(config, out=tmp_path / "run", callbacks=[StopAt(5)])
    stages = []
    result = runs.train(config, out=tmp_path / "run", on_stage=stages.append)
    assert result.resumed and any("resuming from the checkpoint of step 4" in s for s in stages), stages
    assert max_difference(tmp_path / "reference", tmp_path / "run") == 0.0
    assert history(tmp_path / "reference") == history(tmp_path / "run")
    return result
