"""Where the engine runs: the backends and the one function that reads a ``backend=`` argument.

Every public function with a ``backend`` argument (:func:`sdekit.sde.solve`,
:func:`sdekit.score.sample`, :func:`sdekit.score.langevin`, the decision models' simulators)
reads it with :func:`resolve_backend`, so the same names and aliases are accepted everywhere
and a wrong one gets the same message. Importing this package imports no backend: each one
(``numba_cpu``, ``numba_cuda``, ``torch``) loads when a problem first runs on it.
"""

from __future__ import annotations

__all__ = ["BACKENDS", "BACKEND_ALIASES", "resolve_backend"]

BACKENDS = ("numba", "cuda", "torch")
"""Canonical backend names: Numba on the CPU cores, one CUDA thread per path, torch tensors."""

BACKEND_ALIASES = {"cpu": "numba", "gpu": "cuda"}
"""Other names accepted for a backend."""


def resolve_backend(backend, device=None, *, supported=BACKENDS, caller="solve"):
    """Validate and normalise a ``backend`` (and, for torch, a ``device``) argument.

    Parameters
    ----------
    backend : str
        A name of :data:`BACKENDS` or an alias of :data:`BACKEND_ALIASES`.
    device : str or torch.device, optional
        torch device, for ``backend="torch"`` only. None picks CUDA when torch sees a GPU, else
        the CPU.
    supported : tuple of str
        The canonical backends the caller runs on (a subset of :data:`BACKENDS`).
    caller : str
        Name of the calling function, for messages.

    Returns
    -------
    name : str
        The canonical backend name.
    device : str, torch.device or None
        The torch device to use (never None for torch); None for the other backends.

    Raises
    ------
    ValueError
        For an unknown backend, one the caller does not run on, or a device given to a backend
        other than torch; the message lists the choices.
    """
    choices = ", ".join(repr(name) for name in supported)
    aliases = ", ".join(f"{alias!r} for {name!r}" for alias, name in BACKEND_ALIASES.items()
                        if name in supported)
    choices += f" ({aliases})" if aliases else ""
    name = BACKEND_ALIASES.get(backend, backend) if isinstance(backend, str) else None
    if name not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r}: backend must be one of {choices}")
    if name not in supported:
        raise ValueError(f"{caller} does not run on backend {backend!r}: backend must be one "
                         f"of {choices}")
    if name != "torch":
        if device is not None:
            raise ValueError(f"device={device!r} applies to backend='torch' only, not "
                             f"backend={backend!r}")
        return name, None
    if device is None:
        from .torch import default_device

        device = default_device()
    return name, device
