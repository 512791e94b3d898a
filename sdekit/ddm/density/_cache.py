"""Numba's on-disk caches invalidated by the density sources themselves.

Numba keys a cached function on the source file it is defined in (its modification time and
size, checked on load), yet the machine code it saves embeds every compiled function it calls.
A kernel in ``arrays.py`` or ``sampling.py`` therefore keeps the old code of a series or
quadrature routine after ``series.py`` or ``quadrature.py`` is edited, unless its own file changes
too. This module extends the stamp numba checks: for every source file under a registered
directory the stamp also carries a SHA-256 digest of the registered source files, so editing any
of them makes numba discard and recompile the dependent caches.

The locators registered here are subclasses of numba's own, tried in numba's order (the directory
``NUMBA_CACHE_DIR`` when set, else ``__pycache__`` next to the source, else the per-user cache),
and apply only to files under the registered directories; numba's list of locators is otherwise
left as it is.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from numba.core import caching

__all__ = ["source_digest", "register", "DENSITY_DIGEST"]

# name -> (directory prefix of dependent files, digest); several may be registered
_REGISTRY: dict[str, tuple[str, str]] = {}


def source_digest(paths) -> str:
    """SHA-256 hex digest of the contents of ``paths`` (sorted by name, so the order given does
    not matter); a file that cannot be read contributes its name only."""
    h = hashlib.sha256()
    for p in sorted(Path(x) for x in paths):
        h.update(p.name.encode())
        try:
            h.update(p.read_bytes())
        except OSError:
            pass
    return h.hexdigest()


def _digest_for(py_file: str) -> str | None:
    path = os.path.abspath(py_file)
    found = [d for prefix, d in _REGISTRY.values() if path.startswith(prefix)]
    return "/".join(sorted(found)) if found else None


def _locator_class(base):
    class _Locator(base):
        """``base`` with the registered source digest appended to the source stamp."""

        def __init__(self, py_func, py_file):
            super().__init__(py_func, py_file)
            self._sdekit_digest = _digest_for(py_file)

        def get_source_stamp(self):
            return (super().get_source_stamp(), self._sdekit_digest)

        @classmethod
        def from_function(cls, py_func, py_file):
            if _digest_for(py_file) is None:
                return None
            return super().from_function(py_func, py_file)

    _Locator.__name__ = _Locator.__qualname__ = "Digest" + base.__name__.lstrip("_")
    return _Locator


def _numba_locator(name):
    # public names since numba 0.60, underscored before
    return getattr(caching, name, None) or getattr(caching, "_" + name)


_LOCATORS = tuple(_locator_class(_numba_locator(n))
                  for n in ("UserProvidedCacheLocator", "InTreeCacheLocator",
                            "UserWideCacheLocator"))


def register(name: str, dependents: str, sources) -> str:
    """Make the numba caches of every file under ``dependents`` depend on ``sources``.

    Must run before the dependent functions are decorated (numba picks a function's locator when
    ``cache=True`` takes effect).

    Parameters
    ----------
    name : str
        Key of this registration; registering the same name again replaces it.
    dependents : str
        Directory whose source files' caches are keyed on the digest.
    sources : iterable of path-like
        Files whose contents make up the digest.

    Returns
    -------
    str
        The digest.
    """
    digest = source_digest(sources)
    prefix = os.path.join(os.path.abspath(dependents), "")
    _REGISTRY[name] = (prefix, digest)
    classes = caching.CacheImpl._locator_classes
    for loc in reversed(_LOCATORS):
        if loc not in classes:
            classes.insert(0, loc)
    return digest


_HERE = Path(__file__).resolve().parent
#: Digest of the density sources; the caches of every kernel in ``sdekit/ddm`` (the density
#: package, sampling, the fitter's kernels) are keyed on it.
DENSITY_DIGEST = register("sdekit.ddm.density", str(_HERE.parent), sorted(_HERE.glob("*.py")))
