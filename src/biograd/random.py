"""One seeded random generator for everything biograd draws (weights, dropout masks, shuffles).

``biograd.manual_seed(0)`` makes a whole run reproducible; functions that draw also take a ``seed=``
for a local, independent stream.
"""

from __future__ import annotations

import numpy as np

# Made on first use: numpy.random is a third of numpy's import time, and `import biograd` needs none of it.
_generator: np.random.Generator | None = None


def manual_seed(seed: int) -> np.random.Generator:
    """Reset biograd's global random generator, so the same code gives the same numbers."""
    global _generator
    _generator = np.random.default_rng(seed)
    return _generator


def get_generator(seed: int | np.random.Generator | None = None) -> np.random.Generator:
    """The global generator, or a new one from ``seed`` (or ``seed`` itself if it is a Generator)."""
    global _generator
    if seed is None:
        if _generator is None:
            _generator = np.random.default_rng()
        return _generator
    if isinstance(seed, np.random.Generator):
        return seed
    return np.random.default_rng(seed)
