"""Two-dimensional toy data sets, generated in code, and small images that ship with a package.

Every toy generator returns an array of shape (n, 2) scaled to roughly unit variance per
coordinate, drawn with ``numpy.random.default_rng(seed)`` so a seed fixes it. :func:`digits`
reads scikit-learn's 8x8 handwritten digits, which are part of its installation: nothing is
downloaded.
"""

from __future__ import annotations

import numbers

import numpy as np

__all__ = ["make_toy", "TOY_DATASETS", "digits", "IMAGE_DATASETS", "tile_images"]


def _two_moons(rng, n, noise):
    upper = n // 2
    angle = np.pi * rng.uniform(size=n)
    x = np.where(np.arange(n) < upper, np.cos(angle), 1.0 - np.cos(angle))
    y = np.where(np.arange(n) < upper, np.sin(angle), 0.5 - np.sin(angle))
    data = np.stack([x, y], axis=1) + noise * rng.standard_normal((n, 2))
    return (data - [0.5, 0.25]) / [0.87, 0.5]


def _swiss_roll(rng, n, noise):
    turn = 1.5 * np.pi * (1.0 + 2.0 * rng.uniform(size=n))
    data = np.stack([turn * np.cos(turn), turn * np.sin(turn)], axis=1) / 7.0
    return data + noise * rng.standard_normal((n, 2))


def _checkerboard(rng, n, noise):
    # 4 x 4 board on [-2, 2]^2; points fill the squares whose row + column is even
    x = 4.0 * rng.uniform(size=n) - 2.0
    col = np.floor(x + 2.0).astype(int)
    row = 2 * rng.integers(0, 2, size=n) + (col % 2)
    y = row - 2.0 + rng.uniform(size=n)
    return np.stack([x, y], axis=1) / 1.15


def _ring(rng, n, noise):
    mode = rng.integers(0, 8, size=n)
    angle = 2 * np.pi * mode / 8
    centres = 2.0 * np.stack([np.cos(angle), np.sin(angle)], axis=1)
    return (centres + 0.15 * rng.standard_normal((n, 2))) / 1.42


_GENERATORS = {"two_moons": (_two_moons, 0.05), "swiss_roll": (_swiss_roll, 0.1),
               "checkerboard": (_checkerboard, 0.0), "ring": (_ring, 0.0)}
TOY_DATASETS = tuple(_GENERATORS)


def make_toy(name, n, seed=None, noise=None):
    """``n`` points of the toy data set ``name``, shape (n, 2).

    Parameters
    ----------
    name : {"two_moons", "swiss_roll", "checkerboard", "ring"}
        ``ring`` is eight Gaussian modes on a circle.
    n : int
        Number of points.
    seed : int, optional
        Seed of ``numpy.random.default_rng``.
    noise : float, optional
        Gaussian jitter added to the moons and the roll (their defaults: 0.05 and 0.1).
    """
    if name not in _GENERATORS:
        raise ValueError(f"unknown toy data set {name!r}; choose one of {', '.join(TOY_DATASETS)}")
    if not isinstance(n, numbers.Integral) or n < 1:
        raise ValueError(f"n must be a positive integer, got {n!r}")
    generator, default_noise = _GENERATORS[name]
    rng = np.random.default_rng(seed)
    return generator(rng, int(n), default_noise if noise is None else float(noise))


IMAGE_DATASETS = ("digits",)


def digits():
    """scikit-learn's 8x8 handwritten digits as images in [-1, 1], with their labels.

    The 1,797 images of the UCI optical digits test set (grey levels 0 to 16, about 180 per
    digit) are mapped linearly so that 0 is -1 and 16 is 1.

    Returns
    -------
    images : ndarray, shape (1797, 1, 8, 8), float64
        One channel, values in [-1, 1] (-1 is the background).
    labels : ndarray, shape (1797,), int64
        The digit shown, 0 to 9.

    Raises
    ------
    ImportError
        If scikit-learn is not installed.
    """
    try:
        from sklearn.datasets import load_digits
    except ImportError as exc:
        raise ImportError(
            "the digits images ship with scikit-learn: pip install scikit-learn "
            "(or pip install 'sdekit[images]')"
        ) from exc
    bunch = load_digits()
    images = np.asarray(bunch.images, dtype=np.float64)[:, None, :, :] / 8.0 - 1.0
    return images, np.asarray(bunch.target, dtype=np.int64)


def tile_images(images, ncols, pad=1, fill=None):
    """Arrange images in a grid, for plotting.

    Parameters
    ----------
    images : array_like, shape (n, C, H, W) or (n, H, W)
        The images, C = 1 or 3.
    ncols : int
        Images per row; rows are filled left to right, top to bottom.
    pad : int
        Pixels between images.
    fill : float, optional
        Value of the padding and of empty cells (default: the smallest pixel value).

    Returns
    -------
    ndarray, shape (rows * (H + pad) - pad, ncols * (W + pad) - pad[, C])
        One image, channel last when C = 3.
    """
    images = np.asarray(images, dtype=np.float64)
    if images.ndim == 3:
        images = images[:, None]
    if images.ndim != 4 or images.shape[1] not in (1, 3) or images.shape[0] < 1:
        raise ValueError(f"images must have shape (n, C, H, W) with C = 1 or 3, got "
                         f"{images.shape}")
    if not isinstance(ncols, numbers.Integral) or ncols < 1:
        raise ValueError(f"ncols must be a positive integer, got {ncols!r}")
    n, c, h, w = images.shape
    rows = -(-n // ncols)
    fill = images.min() if fill is None else fill
    grid = np.full((c, rows * (h + pad) - pad, ncols * (w + pad) - pad), fill, dtype=np.float64)
    for k in range(n):
        r, q = divmod(k, ncols)
        grid[:, r * (h + pad):r * (h + pad) + h, q * (w + pad):q * (w + pad) + w] = images[k]
    return grid[0] if c == 1 else grid.transpose(1, 2, 0)
