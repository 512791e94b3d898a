"""Borrowed array views that skip Numba's reference counting in hot loops.

Each Numba function that receives an array increments and decrements its reference count, an
atomic operation. Inside a loop over time steps that calls small helpers this cost dominated the
step itself (measured: 40 ns against 2 ns per path-step). :func:`unmanaged` returns a view of an
array without its memory-management pointer, so those counts become no-ops. It is only used on
arrays that a caller provably keeps alive for the whole call.
"""

from __future__ import annotations

from numba.core import cgutils
from numba.extending import intrinsic

__all__ = ["unmanaged", "unmanaged_identity"]


@intrinsic
def unmanaged(typingctx, array):
    """A view of ``array`` whose reference counting is a no-op (the caller owns the data)."""

    def codegen(context, builder, signature, args):
        source = context.make_array(array)(context, builder, value=args[0])
        view = context.make_array(array)(context, builder)
        for name in ("parent", "nitems", "itemsize", "data", "shape", "strides"):
            setattr(view, name, getattr(source, name))
        view.meminfo = cgutils.get_null_value(view.meminfo.type)
        return view._getvalue()

    return array(array), codegen


def unmanaged_identity(array):
    """The CUDA counterpart: device arrays carry no reference counts."""
    return array
