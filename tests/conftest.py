import numpy as np
import pytest


def mean_tolerance(samples, n_se=5.0):
    """n_se standard errors of the sample mean: the tolerance a fixed-seed check may use."""
    samples = np.asarray(samples)
    return n_se * samples.std(ddof=1) / np.sqrt(samples.size)


@pytest.fixture
def tol():
    return mean_tolerance
