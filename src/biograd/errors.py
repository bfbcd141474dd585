"""Exceptions that speak the user's language (shapes, names, what to do next)."""

from __future__ import annotations


class ShapeError(ValueError, RuntimeError):
    """Shapes that do not fit together (matmul, broadcasting, reshape, concatenate).

    It is both a ``ValueError`` (what numpy raises) and a ``RuntimeError`` (what PyTorch raises), so code
    written for either library catches it.
    """


class GradcheckError(AssertionError):
    """An analytic gradient disagrees with central finite differences."""
