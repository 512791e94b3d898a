import os
import subprocess
import sys

import numpy as np
import pytest


def mean_tolerance(samples, n_se=5.0):
    """n_se standard errors of the sample mean: the tolerance a fixed-seed check may use."""
    samples = np.asarray(samples)
    return n_se * samples.std(ddof=1) / np.sqrt(samples.size)


@pytest.fixture
def tol():
    return mean_tolerance


@pytest.fixture
def cuda_simulator():
    """Run a Python script in a fresh process on Numba's CUDA simulator (the device code without
    a GPU); the script must end by printing ``ok``."""
    pytest.importorskip("numba.cuda")

    def run(script):
        env = dict(os.environ, NUMBA_ENABLE_CUDASIM="1")
        out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                             text=True)
        assert out.returncode == 0, out.stderr[-3000:]
        assert out.stdout.strip().endswith("ok")

    return run
