"""Shared test setup: quiet TensorFlow, deterministic seeds, small shared datasets."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import numpy as np  # noqa: E402
import pytest  # noqa: E402


@pytest.fixture
def rng():
    """A seeded numpy Generator (fresh per test)."""
    return np.random.default_rng(0)


@pytest.fixture(scope="session")
def digits_data():
    """The built-in digits split (loaded once per session)."""
    from kspectral.data import digits

    return digits()
