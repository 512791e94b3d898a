"""argparse value types shared by the command-line tools."""

from __future__ import annotations

import argparse

__all__ = ["positive_int", "positive_float", "non_negative_int", "non_negative_float"]


def _typed(text, convert, accept, what):
    """``convert(text)`` if ``accept`` holds for it, otherwise an argparse error naming ``what``
    was expected and what was given."""
    try:
        value = convert(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
    if not accept(value):
        raise argparse.ArgumentTypeError(f"expected {what}, got {value}")
    return value


def positive_int(text):
    """An integer >= 1."""
    return _typed(text, int, lambda v: v >= 1, "a positive integer")


def non_negative_int(text):
    """An integer >= 0."""
    return _typed(text, int, lambda v: v >= 0, "an integer >= 0")


def positive_float(text):
    """A finite number > 0."""
    return _typed(text, float, lambda v: 0 < v < float("inf"), "a positive number")


def non_negative_float(text):
    """A finite number >= 0."""
    return _typed(text, float, lambda v: 0 <= v < float("inf"), "a number >= 0")
