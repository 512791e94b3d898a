"""Built-in models compile once per machine: a second process loads the kernel from disk."""

import os
import subprocess
import sys

_SCRIPT = """
import sdekit as sk
from sdekit.sde.backends import numba_cpu
sk.solve(sk.DriftDiffusion(v=1.0), 0.5, [0, 1], dt=1e-2, n_paths=10, seed=1,
         boundaries=sk.Boundaries(1.0, 0.0))
kernel = next(iter(numba_cpu._compiled.values()))[0]
print(sum(kernel.stats.cache_hits.values()), sum(kernel.stats.cache_misses.values()))
"""


def test_second_process_loads_cached_kernel(tmp_path):
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path))
    runs = [
        subprocess.run([sys.executable, "-c", _SCRIPT], env=env, capture_output=True, text=True,
                       check=True).stdout.split()
        for _ in range(2)
    ]
    assert runs[0] == ["0", "1"]  # compiled and saved
    assert runs[1] == ["1", "0"]  # loaded, not compiled
