"""Per-path random streams: every draw depends on (seed, path index, draw number) only.

Each path owns a xoshiro256++ generator (Blackman & Vigna 2018) whose 256-bit state is derived from
``(seed, path)`` by SplitMix64 hashing. Normals come from a 256-layer ziggurat (Marsaglia & Tsang
2000) whose fast path needs one 64-bit draw, an integer comparison and a multiply, so it costs the
same on every device. Because a path's draws never depend on which thread, chunk or device runs
it, a seed fixes the result whatever ``NUMBA_NUM_THREADS`` is, and the CUDA backend reproduces the
CPU draws.

The functions here are plain Numba-compilable functions of a state held as a tuple of four
uint64. They are compiled for the CPU with ``njit`` and retargeted to CUDA device functions by
:mod:`sdekit.sde.backends.numba_cuda`; nothing in them is CPU-specific.
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np

from .specialization import specialize

__all__ = [
    "Streams",
    "check_seed",
    "child_seed",
    "normals",
    "uniforms",
    "seed_state",
    "event_state",
    "next_u64",
    "next_uniform",
    "next_normal",
]

_U64 = np.uint64
_GOLDEN_GAMMA = _U64(0x9E3779B97F4A7C15)
_MIX1 = _U64(0xBF58476D1CE4E5B9)
_MIX2 = _U64(0x94D049BB133111EB)
_MASK52 = _U64((1 << 52) - 1)
_TO_UNIT = 2.0**-53


# ---------------------------------------------------------------------------------------------
# Ziggurat tables for the standard normal, 256 layers of equal area.
# Layer i (0 <= i < 256) spans heights f(x_i)..f(x_{i+1}) over 0 <= x < x_i, where
# f(x) = exp(-x^2/2), x_1 = R is where the tail starts, x_0 = V / f(R) is the base layer's virtual
# width (base rectangle plus tail) and x_256 = 0. R and V are the standard values for 256 layers.
# ---------------------------------------------------------------------------------------------
_ZIG_R = 3.6541528853610087963519472518
_ZIG_V = 4.92867323399e-3


def _ziggurat_tables():
    n = 256
    x = np.empty(n + 1)
    x[0] = _ZIG_V / math.exp(-0.5 * _ZIG_R * _ZIG_R)
    x[1] = _ZIG_R
    for i in range(1, n - 1):
        x[i + 1] = math.sqrt(-2.0 * math.log(_ZIG_V / x[i] + math.exp(-0.5 * x[i] * x[i])))
    x[n] = 0.0
    scale = float(1 << 52)
    # accept_below[i]: a 52-bit integer u is accepted at once when u * x_i / 2^52 < x_{i+1}
    accept_below = np.array([int(scale * (x[i + 1] / x[i])) for i in range(n)], dtype=np.uint64)
    width = x[:n] / scale  # u * width[i] is the candidate abscissa
    height = np.exp(-0.5 * x * x)  # f(x_i), i = 0..256 (height[256] = 1)
    return accept_below, width, height


_ZIG_ACCEPT, _ZIG_WIDTH, _ZIG_HEIGHT = _ziggurat_tables()


@nb.njit(cache=True)
def _rotl(x, k):
    return (x << _U64(k)) | (x >> _U64(64 - k))


@nb.njit(cache=True)
def _splitmix64(z):
    z = (z ^ (z >> _U64(30))) * _MIX1
    z = (z ^ (z >> _U64(27))) * _MIX2
    return z ^ (z >> _U64(31))


@nb.njit(cache=True)
def seed_state(seed, path):
    """The generator state of path ``path`` under ``seed``: a tuple of four uint64.

    Distinct paths of one seed get distinct, unrelated starting points in the 2^256 - 1 period.
    The state is a value, not an array: threading it through calls keeps it in registers and
    avoids reference counting in the hot loop.
    """
    z = _splitmix64(_splitmix64(_U64(seed) + _GOLDEN_GAMMA) ^ _U64(path))
    z0 = z + _GOLDEN_GAMMA
    z1 = z0 + _GOLDEN_GAMMA
    z2 = z1 + _GOLDEN_GAMMA
    z3 = z2 + _GOLDEN_GAMMA
    return (_splitmix64(z0), _splitmix64(z1), _splitmix64(z2), _splitmix64(z3))


_EVENT_SALT = _U64(0x45564E54424F554E)


@nb.njit(cache=True)
def event_state(seed, path, step):
    """A generator state for the rare draws of step ``step`` of path ``path`` (boundary
    crossings), independent of the path's main stream.

    Keying these draws by (seed, path, step) instead of taking them from the main stream keeps
    the main stream's draw count fixed at one per noise component and step, whatever the
    parameters: common random numbers then give the same Wiener path when a parameter changes,
    and first-passage times move continuously with the parameters (a stream that advanced once
    more whenever a path came near a boundary would desynchronise, and the whole rest of the path
    would change).
    """
    key = _splitmix64(_splitmix64(_U64(seed) ^ _EVENT_SALT) ^ _U64(path))
    return seed_state(key, step)


@nb.njit(cache=True)
def next_u64(state):
    """xoshiro256++: returns (new state, 64 random bits)."""
    s0, s1, s2, s3 = state
    result = _rotl(s0 + s3, 23) + s0
    t = s1 << _U64(17)
    s2 ^= s0
    s3 ^= s1
    s1 ^= s2
    s0 ^= s3
    s2 ^= t
    s3 = _rotl(s3, 45)
    return (s0, s1, s2, s3), result


@nb.njit(cache=True)
def next_uniform(state):
    """Returns (new state, a double uniform on [0, 1) with 53 random bits)."""
    state, r = next_u64(state)
    # via int64: converting uint64 to double is several times slower on x86-64
    return state, float(np.int64(r >> _U64(11))) * _TO_UNIT


@nb.njit(cache=True)
def _ziggurat_candidate(state):
    """One ziggurat proposal: (new state, layer, 52-bit integer, signed abscissa)."""
    state, r = next_u64(state)
    layer = np.intp(r & _U64(0xFF))
    u = (r >> _U64(9)) & _MASK52
    # Sign applied arithmetically: a branch on a random bit mispredicts half the time.
    sign = 1.0 - 2.0 * float(np.int64((r >> _U64(8)) & _U64(1)))
    x = sign * float(np.int64(u)) * _ZIG_WIDTH[layer]
    return state, layer, u, x


@nb.njit(cache=True)
def _normal_slow_path(state, layer, x):
    """Finish a draw whose first proposal fell outside the rectangles (about 1 % of draws)."""
    while True:
        if layer == 0:
            # Tail beyond R (Marsaglia 1964): exact, two uniforms per try.
            while True:
                state, u1 = next_uniform(state)
                state, u2 = next_uniform(state)
                xx = -math.log1p(-u1) / _ZIG_R
                yy = -math.log1p(-u2)
                if yy + yy > xx * xx:
                    return state, (_ZIG_R + xx if x > 0.0 else -(_ZIG_R + xx))
        state, u1 = next_uniform(state)
        lo = _ZIG_HEIGHT[layer]
        hi = _ZIG_HEIGHT[layer + 1]
        if lo + (hi - lo) * u1 < math.exp(-0.5 * x * x):
            return state, x
        state, layer, u, x = _ziggurat_candidate(state)
        if u < _ZIG_ACCEPT[layer]:
            return state, x


@nb.njit(cache=True)
def next_normal(state):
    """Returns (new state, a standard normal draw) by a 256-layer ziggurat."""
    state, layer, u, x = _ziggurat_candidate(state)
    if u < _ZIG_ACCEPT[layer]:
        return state, x
    return _normal_slow_path(state, layer, x)


@nb.njit(cache=True, parallel=True)
def _fill_normals(seed, first_path, out):
    for i in nb.prange(out.shape[0]):
        state = seed_state(seed, first_path + i)
        for j in range(out.shape[1]):
            state, out[i, j] = next_normal(state)


@nb.njit(cache=True, parallel=True)
def _fill_uniforms(seed, first_path, out):
    for i in nb.prange(out.shape[0]):
        state = seed_state(seed, first_path + i)
        for j in range(out.shape[1]):
            state, out[i, j] = next_uniform(state)


def _seed_states(seed, first_path, n):
    states = np.empty((n, 4), dtype=np.uint64)
    for i in nb.prange(n):
        s = seed_state(seed, first_path + i)
        for k in range(4):
            states[i, k] = s[k]
    return states


def _advance(states, active, out):
    """Fill row i of ``out`` with the next draws (``_draw``) of stream i, where active."""
    for i in nb.prange(out.shape[0]):
        if not active[i]:
            continue
        s = (states[i, 0], states[i, 1], states[i, 2], states[i, 3])
        for j in range(out.shape[1]):
            s, out[i, j] = _draw(s)
        for k in range(4):
            states[i, k] = s[k]


_draw = next_normal  # bound per specialization


def _advancers(parallel):
    """Compiled (seeding, normals, uniforms) functions; a serial twin for loops that interleave
    with another thread pool (torch): Numba's OpenMP workers spin after a parallel region and
    slowed torch code in the same process 3-70x on two cores."""
    key = bool(parallel)
    if key not in _ADVANCERS:
        # _PARALLEL only tells the serial and parallel twins apart in Numba's disk cache.
        _ADVANCERS[key] = (
            specialize(_seed_states, {"_PARALLEL": key}, cache=True, parallel=key),
            specialize(_advance, {"_PARALLEL": key, "_draw": next_normal}, cache=True,
                       parallel=key),
            specialize(_advance, {"_PARALLEL": key, "_draw": next_uniform}, cache=True,
                       parallel=key),
        )
    return _ADVANCERS[key]


_ADVANCERS = {}
_PARALLEL = True


class Streams:
    """The per-path streams of ``n_paths`` paths, drawn step by step from Python.

    For loops written in NumPy or torch (a batched backend, a sampler) that must consume exactly
    the draws a compiled kernel would: path i's k-th draw is the same whichever code takes it.

    Parameters
    ----------
    seed : int
    n_paths : int
    first_path : int, optional
        Index of the first path (for chunks of a larger family).
    parallel : bool
        Draw on all cores (default), or on the calling thread only (for loops that interleave
        with another thread pool, such as torch's).

    Examples
    --------
    >>> streams = Streams(seed=1, n_paths=4)
    >>> z = streams.normals(2)          # shape (4, 2); the next call continues each stream
    """

    def __init__(self, seed, n_paths, first_path=0, parallel=True):
        self.seed = check_seed(seed)
        seed_all, self._normals, self._uniforms = _advancers(parallel)
        self.states = seed_all(np.uint64(self.seed), np.int64(first_path), int(n_paths))
        self._all = np.ones(int(n_paths), dtype=np.bool_)

    @property
    def n_paths(self):
        return self.states.shape[0]

    def _draw(self, advance, n_draws, active, out):
        if out is None:
            out = np.zeros((self.n_paths, int(n_draws)))
        active = self._all if active is None else np.ascontiguousarray(active, dtype=np.bool_)
        advance(self.states, active, out)
        return out

    def normals(self, n_draws=1, active=None, out=None):
        """The next ``n_draws`` standard normals of each path, shape (n_paths, n_draws).

        Paths where ``active`` is False draw nothing (their rows of ``out`` are left as they
        are, zeros for a new array) and their streams do not advance.
        """
        return self._draw(self._normals, n_draws, active, out)

    def uniforms(self, n_draws=1, active=None, out=None):
        """The next ``n_draws`` uniforms on [0, 1) of each path (see :meth:`normals`)."""
        return self._draw(self._uniforms, n_draws, active, out)


def check_seed(seed) -> int:
    """Return ``seed`` as a non-negative int below 2**64, drawing a fresh one for ``None``.

    Raises
    ------
    ValueError
        If ``seed`` is negative, too large or not an integer.
    """
    if seed is None:
        return int(np.random.SeedSequence().generate_state(1, dtype=np.uint64)[0])
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer)):
        raise ValueError(f"seed must be a non-negative integer or None, got {seed!r}")
    seed = int(seed)
    if not 0 <= seed < 2**64:
        raise ValueError(f"seed must lie in [0, 2**64), got {seed}")
    return seed


def child_seed(seed, *keys) -> int:
    """A seed derived from ``(seed, *keys)``, for draws that must not reuse ``seed``'s own.

    The one way sdekit derives sub-seeds: a sampler that needs a second family of random
    numbers (the prior of a score sampler, its corrector's noise, probe vectors) takes them under
    ``child_seed(seed, tag)``, a fixed tag per purpose; a loop over cells, subjects or starts
    takes ``child_seed(seed, tag, index)``. Distinct key tuples give unrelated seeds, and the
    result depends on nothing else, so a derived seed is as reproducible as its parent.

    Parameters
    ----------
    seed : int
        Parent seed, in [0, 2**64) (see :func:`check_seed`; None is not accepted here: derive
        from the seed actually used).
    *keys : int
        Non-negative integers naming the child (a purpose tag, an index...), at least one.

    Returns
    -------
    int
        A seed in [0, 2**64): the 64 bits NumPy's ``SeedSequence([seed, *keys])`` generates
        first (``generate_state(1, dtype=np.uint64)``). Its low 32 bits are
        ``SeedSequence([seed, *keys]).generate_state(1)[0]``.

    Examples
    --------
    >>> child_seed(0, 0x5052) == child_seed(0, 0x5052) != child_seed(0, 0x5053)
    True
    """
    if seed is None:
        raise ValueError("child_seed needs the parent seed actually used, not None "
                         "(check_seed(None) draws one)")
    seed = check_seed(seed)
    if not keys:
        raise ValueError("child_seed needs at least one key besides the seed")
    words = [seed]
    for key in keys:
        if isinstance(key, (bool, np.bool_)) or not isinstance(key, (int, np.integer)) or key < 0:
            raise ValueError(f"child_seed keys must be non-negative integers, got {key!r}")
        words.append(int(key))
    return int(np.random.SeedSequence(words).generate_state(1, dtype=np.uint64)[0])


def normals(seed, n_paths, n_draws, first_path=0):
    """The first ``n_draws`` standard normals of each of ``n_paths`` streams.

    Parameters
    ----------
    seed : int
        Seed of the whole family of streams.
    n_paths, n_draws : int
        Output shape.
    first_path : int, optional
        Index of the first stream, so that chunks of a large family can be drawn separately and
        still agree with one big draw.

    Returns
    -------
    ndarray, shape (n_paths, n_draws)
    """
    out = np.empty((int(n_paths), int(n_draws)))
    _fill_normals(_U64(check_seed(seed)), np.int64(first_path), out)
    return out


def uniforms(seed, n_paths, n_draws, first_path=0):
    """The first ``n_draws`` uniforms on [0, 1) of each of ``n_paths`` streams (see `normals`)."""
    out = np.empty((int(n_paths), int(n_draws)))
    _fill_uniforms(_U64(check_seed(seed)), np.int64(first_path), out)
    return out
