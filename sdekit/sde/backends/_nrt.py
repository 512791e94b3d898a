"""Borrowed array views that skip Numba's reference counting in hot loops.

Each Numba function that receives an array increments and decrements its reference count, an
atomic operation. Inside a loop over time steps that calls small helpers this cost dominated the
step itself (measured: 40 ns against 2 ns per path-step). :func:`unmanaged` returns a view of an
array without its memory-management pointer, so those counts become no-ops. It is only used on
arrays that a caller provably keeps alive for the whole call.
"""

from __future__ import annotations

import numpy as np
from numba.core import cgutils, types
from numba.extending import intrinsic

__all__ = ["unmanaged", "unmanaged_identity", "stack_array"]


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


_stack_allocators = {}


def stack_array(shape):
    """A compiled function ``alloc()`` returning a float64 array of ``shape`` on the stack.

    The array lives in the calling function's frame and is not reference counted. Once the
    per-path loop is inlined into the kernel, LLVM keeps small stack arrays in registers, so the
    state vector of a 1-D SDE costs what a scalar does.
    """
    shape = tuple(int(s) for s in shape)
    allocator = _stack_allocators.get(shape)
    if allocator is not None:
        return allocator
    n_items = int(np.prod(shape))
    strides = tuple(8 * int(np.prod(shape[k + 1:])) for k in range(len(shape)))
    array_type = types.Array(types.float64, len(shape), "C")

    @intrinsic
    def alloc(typingctx):
        def codegen(context, builder, signature, args):
            intp = context.get_value_type(types.intp)
            data = cgutils.alloca_once(builder, context.get_data_type(types.float64),
                                       size=n_items)
            array = context.make_array(array_type)(context, builder)
            context.populate_array(array, data=data, shape=[intp(s) for s in shape],
                                   strides=[intp(s) for s in strides], itemsize=intp(8),
                                   meminfo=None)
            return array._getvalue()

        return array_type(), codegen

    alloc.__name__ = f"stack_array_{'x'.join(map(str, shape))}"
    _stack_allocators[shape] = alloc
    return alloc
