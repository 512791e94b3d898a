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


_DEP = """
import numba as nb


@nb.njit(cache=True)
def leaf(x):
    return x + {value}
"""

_USER = """
import numba as nb

from dep import leaf


@nb.njit(cache=True)
def top(x):
    return leaf(x) * 2.0
"""

_RUN = """
import sys
sys.path.insert(0, {pkg!r})
from sdekit.ddm.density._cache import register
register("test-digest", {pkg!r}, [{dep!r}])
import user
print(user.top(1.0), sum(user.top.stats.cache_hits.values()))
"""


def test_editing_a_density_source_invalidates_the_kernels_that_embed_it(tmp_path):
    # A cached kernel embeds the machine code of what it calls, but numba checks only the
    # kernel's own file: ``top`` would keep the old ``leaf`` after dep.py changes. Keyed on the
    # digest of the registered sources, its cache is dropped and ``top`` recompiled.
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    dep = pkg / "dep.py"
    dep.write_text(_DEP.format(value=1.0))
    (pkg / "user.py").write_text(_USER)
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path / "cache"))
    script = _RUN.format(pkg=str(pkg), dep=str(dep))

    def run():
        return subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                              text=True, check=True).stdout.split()

    assert run() == ["4.0", "0"]  # compiled
    assert run() == ["4.0", "1"]  # loaded from the cache
    dep.write_text(_DEP.format(value=2.0))
    assert run() == ["6.0", "0"]  # the edit reached the caller: recompiled


def test_density_digest_covers_every_density_source():
    from pathlib import Path

    import sdekit.ddm.density as density
    from sdekit.ddm.density._cache import source_digest

    sources = sorted(Path(density.__file__).parent.glob("*.py"))
    assert {p.name for p in sources} >= {"series.py", "quadrature.py", "full.py",
                                         "gradients.py", "arrays.py", "api.py"}
    assert density.DENSITY_DIGEST == source_digest(sources)
