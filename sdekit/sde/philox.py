"""Counter-based normals: Philox4x32-10 and Box–Muller, one arithmetic for every backend.

Draw k of path i under ``seed`` is a pure function of (seed, i, k): the 128-bit counter
``(k // 4, i)`` is enciphered by Philox4x32-10 (Salmon, Moraes, Dror & Shaw 2011, the
Random123 family) under the 64-bit key ``seed``, and the four 32-bit words of the result give four
normals by Box–Muller, of which draw k is number ``k % 4``. Nothing per path has to be stored
between draws, so any draw of any path can be computed anywhere.

The arithmetic is written once, as the templates :func:`_philox_template` and
:func:`_box_muller_template`, whose integer and float helpers (constants, conversions, ``frexp``,
``sqrt``) are global names bound per backend by :func:`sdekit.sde.specialization.specialize`:
to uint64 scalars for Numba (CPU, and CUDA by retargeting) and to int64 tensors masked to 32 bits
for torch. Bit-for-bit agreement of the float results needs more than the same formulas:
``log``, ``sin`` and ``cos`` of libm, CUDA's libdevice and torch's vectorised kernels differ in
their last bits, so Box–Muller here uses only operations IEEE 754 rounds exactly (``+``, ``*``,
``/``, ``frexp``, and ``sqrt`` followed by an exact correction) in a fixed order: a series for
``log`` after reduction by ``frexp``, and Taylor polynomials for ``sin`` and ``cos`` on a quarter
of the circle chosen by the integer's top bits. Their error is below 2 units in the last place.

Each 32-bit word gives a uniform ``(x + 1/2) / 2^32`` in (0, 1), so the radius
``sqrt(-2 log u)`` never exceeds 6.66 and normals beyond 6.66 standard deviations (probability
2.7e-11 per draw) are never produced; the angle has 2^32 values.
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np

from .specialization import specialize

__all__ = ["philox4x32_10", "normals", "seed_state", "next_normal", "torch_normals",
           "uint32_words"]

# Multipliers and Weyl key increments of Philox4x32 (Random123's PHILOX_M4x32_* and
# PHILOX_W32_*).
_M0_INT, _M1_INT = 0xD2511F53, 0xCD9E8D57
_W0_INT, _W1_INT = 0x9E3779B9, 0xBB67AE85
_ROUNDS = 10

# Float constants shared by both bindings.
_SQRT_HALF = 0.70710678118654752440
_LN2_HI = 6.93147180369123816490e-01  # ln 2 with its low 27 bits cleared: e * _LN2_HI is exact
_LN2_LO = 1.90821492927058770002e-10  # ln 2 - _LN2_HI
# (x + 1/2 - 2^29) * _ANGLE_STEP is the angle of a 30-bit fraction x, centred on pi/4
_ANGLE_STEP = (math.pi / 2.0) / 2.0**30
_ANGLE_CENTRE = 2.0**29 - 0.5

# Names bound per backend (see the module docstring); the values here are Numba's.
_M0, _M1 = np.uint64(_M0_INT), np.uint64(_M1_INT)
_W0, _W1 = np.uint64(_W0_INT), np.uint64(_W1_INT)
_MASK32 = np.uint64(0xFFFFFFFF)
_MASK30 = np.uint64(0x3FFFFFFF)
_ONE = np.uint64(1)
_S32 = np.uint64(32)
_S30 = np.uint64(30)
_to_float = _frexp = _as_float = _sqrt = None


# -- the templates: the generator's arithmetic, once -------------------------------------------
def _philox_template(c0, c1, c2, c3, k0, k1):
    """Philox4x32-10 of counter (c0, c1, c2, c3) under key (k0, k1), words below 2^32."""
    for r in range(_ROUNDS):
        if r > 0:
            k0 = (k0 + _W0) & _MASK32
            k1 = (k1 + _W1) & _MASK32
        # 32x32 -> 64-bit products: exact in uint64; in int64 they wrap, and the masks recover
        # the unsigned high and low words.
        p0 = _M0 * c0
        p1 = _M1 * c2
        hi0 = (p0 >> _S32) & _MASK32
        hi1 = (p1 >> _S32) & _MASK32
        c0, c1, c2, c3 = hi1 ^ c1 ^ k0, p1 & _MASK32, hi0 ^ c3 ^ k1, p0 & _MASK32
    return c0, c1, c2, c3


def _box_muller_template(x0, x1):
    """Two standard normals from two 32-bit words: radius from ``x0``, angle from ``x1``."""
    # -2 log u for u = (x0 + 1/2) / 2^32: u = m 2^e with m in [sqrt(1/2), sqrt(2)), and
    # log m = 2 atanh(s) for s = (m - 1)/(m + 1), |s| < 0.172, by its series (11 terms: the
    # next is below 2^-60 of the sum).
    m, e = _frexp(_to_float(x0) + 0.5)
    low = _as_float(m < _SQRT_HALF)
    m = m + m * low
    ef = _to_float(e) - 32.0 - low
    s = (m - 1.0) / (m + 1.0)
    s2 = s * s
    series = 2.0 / 21.0
    series = 2.0 / 19.0 + s2 * series
    series = 2.0 / 17.0 + s2 * series
    series = 2.0 / 15.0 + s2 * series
    series = 2.0 / 13.0 + s2 * series
    series = 2.0 / 11.0 + s2 * series
    series = 2.0 / 9.0 + s2 * series
    series = 2.0 / 7.0 + s2 * series
    series = 2.0 / 5.0 + s2 * series
    series = 2.0 / 3.0 + s2 * series
    log_m = s * 2.0 + s * (s2 * series)
    log_u = ef * _LN2_HI + (ef * _LN2_LO + log_m)
    # sqrt, then one correction from the exact residual (Dekker's product): the library square
    # roots of torch on the CPU are not all correctly rounded, and this makes them so.
    v = -2.0 * log_u
    r = _sqrt(v)
    big = r * 134217729.0
    hi = big - (big - r)
    lo = r - hi
    p = r * r
    err = ((hi * hi - p) + 2.0 * hi * lo) + lo * lo
    radius = r + ((v - p) - err) / (2.0 * r)
    # The angle: the top 2 bits of x1 pick the quadrant, the other 30 the angle within it,
    # written as pi/4 + a with |a| <= pi/4 so that short Taylor series are exact to an ulp.
    quadrant = x1 >> _S30
    a = (_to_float(x1 & _MASK30) - _ANGLE_CENTRE) * _ANGLE_STEP
    a2 = a * a
    sin_a = 1.0 / 355687428096000.0  # 1/17!
    sin_a = 1.0 / 1307674368000.0 - a2 * sin_a
    sin_a = 1.0 / 6227020800.0 - a2 * sin_a
    sin_a = 1.0 / 39916800.0 - a2 * sin_a
    sin_a = 1.0 / 362880.0 - a2 * sin_a
    sin_a = 1.0 / 5040.0 - a2 * sin_a
    sin_a = 1.0 / 120.0 - a2 * sin_a
    sin_a = 1.0 / 6.0 - a2 * sin_a
    sin_a = a - a * (a2 * sin_a)
    cos_a = 1.0 / 6402373705728000.0  # 1/18!
    cos_a = 1.0 / 20922789888000.0 - a2 * cos_a
    cos_a = 1.0 / 87178291200.0 - a2 * cos_a
    cos_a = 1.0 / 479001600.0 - a2 * cos_a
    cos_a = 1.0 / 3628800.0 - a2 * cos_a
    cos_a = 1.0 / 40320.0 - a2 * cos_a
    cos_a = 1.0 / 720.0 - a2 * cos_a
    cos_a = 1.0 / 24.0 - a2 * cos_a
    cos_a = 0.5 - a2 * cos_a
    cos_a = 1.0 - a2 * cos_a
    # cos and sin of psi = pi/4 + a, in (0, pi/2)
    c = (cos_a - sin_a) * _SQRT_HALF
    sn = (sin_a + cos_a) * _SQRT_HALF
    # theta = quadrant * pi/2 + psi: swap and sign by the quadrant's bits, without branches
    # (multiplying by exactly 0 or 1 keeps the arithmetic the same on every backend).
    b0 = _to_float(quadrant & _ONE)
    b1 = _to_float(quadrant >> _ONE)
    swap = 1.0 - b0
    cos_t = (1.0 - 2.0 * (b0 + b1 - 2.0 * b0 * b1)) * (c * swap + sn * b0)
    sin_t = (1.0 - 2.0 * b1) * (sn * swap + c * b0)
    return radius * cos_t, radius * sin_t


# -- Numba bindings (CPU; numba_cuda retargets them) -------------------------------------------
@nb.njit(cache=True, inline="always")
def _nb_to_float(x):
    # via int64: uint64 -> double conversion is slow on x86-64, and every value here fits
    return float(np.int64(x))


@nb.njit(cache=True, inline="always")
def _nb_frexp(v):
    return math.frexp(v)


@nb.njit(cache=True, inline="always")
def _nb_as_float(flag):
    return 1.0 if flag else 0.0


@nb.njit(cache=True, inline="always")
def _nb_sqrt(v):
    return math.sqrt(v)


_NUMBA_HELPERS = {"_to_float": _nb_to_float, "_frexp": _nb_frexp, "_as_float": _nb_as_float,
                  "_sqrt": _nb_sqrt}

_philox = specialize(_philox_template, {}, cache=True, inline="always")
_box_muller = specialize(_box_muller_template, _NUMBA_HELPERS, cache=True, inline="always")


@nb.njit(cache=True)
def philox4x32_10(c0, c1, c2, c3, k0, k1):
    """Philox4x32-10 of one counter under one key (words as integers below 2^32).

    Returns the four 32-bit output words as uint64. Checked against Random123's known-answer
    vectors in the tests.
    """
    return _philox(np.uint64(c0), np.uint64(c1), np.uint64(c2), np.uint64(c3),
                   np.uint64(k0), np.uint64(k1))


@nb.njit(cache=True, inline="always")
def _block(seed, path, block):
    """The four words of counter block ``block`` of path ``path`` (all uint64)."""
    return _philox(block & _MASK32, block >> _S32, path & _MASK32, path >> _S32,
                   seed & _MASK32, seed >> _S32)


@nb.njit(cache=True, inline="always")
def _normals4(seed, path, block):
    x0, x1, x2, x3 = _block(seed, path, block)
    z0, z1 = _box_muller(x0, x1)
    z2, z3 = _box_muller(x2, x3)
    return z0, z1, z2, z3


@nb.njit(cache=True)
def seed_state(seed, path):
    """The state of path ``path``'s normals before its first draw.

    A tuple (seed, path, draw count, and the three normals left of the current block): the
    counter is the draw count, and the cached normals only save recomputing a block that was
    already enciphered. It plays the role of :func:`sdekit.sde.random.seed_state` in the kernels.
    """
    return (np.uint64(seed), np.uint64(path), np.uint64(0), 0.0, 0.0, 0.0)


@nb.njit(cache=True)
def next_normal(state):
    """Returns (new state, draw k of the path) where k is the state's draw count."""
    seed, path, k, z1, z2, z3 = state
    lane = k & np.uint64(3)
    if lane == 0:
        a0, a1, a2, a3 = _normals4(seed, path, k >> np.uint64(2))
        return (seed, path, k + _ONE, a1, a2, a3), a0
    if lane == 1:
        return (seed, path, k + _ONE, z1, z2, z3), z1
    if lane == 2:
        return (seed, path, k + _ONE, z1, z2, z3), z2
    return (seed, path, k + _ONE, z1, z2, z3), z3


@nb.njit(cache=True, parallel=True)
def _fill_normals(seed, first_path, first_draw, out):
    for i in nb.prange(out.shape[0]):
        # start at the draw's block: next_normal enciphers each block once
        k = np.uint64(first_draw)
        state = seed_state(seed, first_path + i)
        state = (state[0], state[1], k & ~np.uint64(3), 0.0, 0.0, 0.0)
        for _ in range(k & np.uint64(3)):
            state, _z = next_normal(state)
        for j in range(out.shape[1]):
            state, out[i, j] = next_normal(state)


@nb.njit(cache=True, parallel=True)
def _fill_words(seed, first_path, out):
    for i in nb.prange(out.shape[0]):
        path = np.uint64(first_path + i)
        for j in range(out.shape[1] // 4):
            x0, x1, x2, x3 = _block(seed, path, np.uint64(j))
            out[i, 4 * j] = x0
            out[i, 4 * j + 1] = x1
            out[i, 4 * j + 2] = x2
            out[i, 4 * j + 3] = x3


def normals(seed, n_paths, n_draws, first_path=0, first_draw=0):
    """Draws ``first_draw`` .. ``first_draw + n_draws - 1`` of paths ``first_path`` onwards.

    Parameters
    ----------
    seed : int
        In [0, 2**64) (see :func:`sdekit.sde.random.check_seed`).
    n_paths, n_draws : int
        Output shape.
    first_path, first_draw : int, optional
        Index of the first path and of the first draw: any window of the family can be drawn
        without the rest.

    Returns
    -------
    ndarray, shape (n_paths, n_draws)
        The normals ``solve(..., rng="philox")`` uses.
    """
    out = np.empty((int(n_paths), int(n_draws)))
    _fill_normals(np.uint64(seed), np.int64(first_path), np.int64(first_draw), out)
    return out


def uint32_words(seed, n_paths, n_words, first_path=0):
    """The raw 32-bit outputs of each path's counter blocks 0, 1, ..., in order (for statistical
    tests of the generator itself); ``n_words`` is rounded down to a multiple of 4.

    Returns
    -------
    ndarray of uint64, shape (n_paths, n_words)
    """
    out = np.empty((int(n_paths), int(n_words) // 4 * 4), dtype=np.uint64)
    _fill_words(np.uint64(seed), np.int64(first_path), out)
    return out


# -- torch bindings -----------------------------------------------------------------------------
_TORCH = {}


def _torch_functions():
    """The templates bound to int64 / float64 torch tensors (plain Python over tensor ops)."""
    if not _TORCH:
        import types

        import torch

        def frexp(v):
            m, e = torch.frexp(v)
            return m, e

        names = {"_M0": _M0_INT, "_M1": _M1_INT, "_W0": _W0_INT, "_W1": _W1_INT,
                 "_MASK32": 0xFFFFFFFF, "_MASK30": 0x3FFFFFFF, "_ONE": 1, "_S32": 32,
                 "_S30": 30, "_to_float": lambda x: x.to(torch.float64), "_frexp": frexp,
                 "_as_float": lambda flag: flag.to(torch.float64), "_sqrt": torch.sqrt}
        for template in (_philox_template, _box_muller_template):
            namespace = dict(template.__globals__)
            namespace.update(names)
            _TORCH[template.__name__] = types.FunctionType(template.__code__, namespace,
                                                           template.__name__)
    return _TORCH["_philox_template"], _TORCH["_box_muller_template"]


def torch_words(seed, path, block):
    """Philox4x32-10 words of counter blocks ``block`` of paths ``path`` (int64 tensors of one
    shape), as four int64 tensors of that shape."""
    philox, _ = _torch_functions()
    seed = int(seed)
    mask = 0xFFFFFFFF
    return philox(block & mask, (block >> 32) & mask, path & mask, (path >> 32) & mask,
                  seed & mask, (seed >> 32) & mask)


def torch_normals(seed, path, draw):
    """Draw ``draw`` of path ``path`` (int64 tensors broadcast to one shape) as a float64
    tensor: the same numbers, bit for bit, as :func:`normals` and the Numba kernels."""
    import torch

    _, box_muller = _torch_functions()
    path, draw = torch.broadcast_tensors(path, draw)
    x0, x1, x2, x3 = torch_words(seed, path, draw >> 2)
    z0, z1 = box_muller(x0, x1)
    z2, z3 = box_muller(x2, x3)
    lane = draw & 3
    return torch.where(lane == 0, z0, torch.where(lane == 1, z1, torch.where(lane == 2, z2, z3)))
