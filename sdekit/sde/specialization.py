"""Compile one Python template for several targets with its helper functions swapped in.

A kernel template is an ordinary Python function that calls its collaborators (drift, diffusion,
scheme step, boundaries) by global name. :func:`specialize` copies the function with those names
bound to concrete compiled functions and compiles the copy for the CPU (``numba.njit``) or as a
CUDA device function or kernel. The arithmetic therefore exists once, in readable Python, and each
(SDE, scheme, boundaries, target) combination is its own compiled function.

Numba can only cache a compiled function on disk when nothing process-specific enters its cache
key. Closures over compiled functions fail that test (numba issues 6264 and 2065), but a function
whose collaborators are globals passes it. Each specialization gets a qualified name derived from
its bindings' sources, so different specializations never share a cache entry and an edited
collaborator gets a new one. Callers ask for caching only when every binding is importable
library code; user-written coefficient functions compile once per process.
"""

from __future__ import annotations

import hashlib
import inspect
import types

import numba as nb

__all__ = ["specialize", "source_key"]


def _python_function(fn):
    return getattr(fn, "py_func", fn)


def source_key(fn) -> str:
    """A stable description of a function or value for cache naming: its code, not its identity."""
    py = _python_function(fn)
    if isinstance(py, types.FunctionType):
        try:
            text = inspect.getsource(py)
        except (OSError, TypeError):
            text = repr(py.__code__.co_code) + repr(py.__code__.co_consts)
        return f"{py.__module__}.{py.__qualname__}:{text}"
    return repr(fn)


_ENGINE_FINGERPRINT = []


def _engine_fingerprint():
    """Hash of sdekit's sources. Numba checks only the template file's date before reusing a
    cached specialization, so a change anywhere in the library (a helper the template calls, a
    score function of sdekit.score bound into a reverse SDE) must change the specialization's
    name instead."""
    if not _ENGINE_FINGERPRINT:
        from pathlib import Path

        digest = hashlib.sha1()
        for path in sorted(Path(__file__).parent.parent.rglob("*.py")):
            digest.update(path.read_bytes())
        _ENGINE_FINGERPRINT.append(digest.hexdigest())
    return _ENGINE_FINGERPRINT[0]


def specialize(template, bindings, *, target="cpu", cache=False, kernel=False, **jit_options):
    """Compile ``template`` with the global names in ``bindings`` replaced.

    Parameters
    ----------
    template : function
        Plain Python function (or a Numba dispatcher, whose Python function is used).
    bindings : dict
        Global name -> object. Functions must already be compiled for ``target``.
    target : {"cpu", "cuda"}
        ``"cpu"`` compiles with ``numba.njit``; ``"cuda"`` with ``numba.cuda.jit``.
    cache : bool
        Cache the compiled code on disk (CPU only). Only safe when every binding is library code
        whose source determines its behaviour.
    kernel : bool
        For ``target="cuda"``: compile a kernel rather than a device function.
    **jit_options
        Passed to the compiler, e.g. ``parallel=True``.
    """
    py = _python_function(template)
    namespace = dict(py.__globals__)
    namespace.update(bindings)
    fn = types.FunctionType(py.__code__, namespace, py.__name__, py.__defaults__, py.__closure__)
    digest = hashlib.sha1(
        "\n".join([_engine_fingerprint()]
                  + [f"{k}={source_key(v)}" for k, v in sorted(bindings.items())]).encode()
    ).hexdigest()[:16]
    fn.__qualname__ = f"{py.__qualname__}__{digest}"
    fn.__doc__ = py.__doc__
    if target == "cpu":
        return nb.njit(cache=cache, **jit_options)(fn)
    if target == "cuda":
        from numba import cuda

        return cuda.jit(device=not kernel, **jit_options)(fn)
    raise ValueError(f"unknown compilation target {target!r}")
