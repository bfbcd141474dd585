"""Special functions numpy lacks, to double precision, on plain arrays.

Kept apart from :mod:`biograd.ops` because they are numerical recipes (tables of coefficients), not
teaching material: ``ops.Erf`` states erf's derivative and calls :func:`erf` for the value.
"""

from __future__ import annotations

import numpy as np


def erf(x: np.ndarray) -> np.ndarray:
    """The error function to double precision, from W. J. Cody's rational Chebyshev approximations.

    |x| < 0.5: erf(x) = x P(x^2)/Q(x^2); 0.5 <= |x| < 4: erfc(|x|) = e^(-x^2) P(|x|)/Q(|x|);
    |x| >= 4: erfc(|x|) = e^(-x^2)/|x| (1/sqrt(pi) + z P(z)/Q(z)) with z = 1/x^2.
    """
    x = np.asarray(x)
    dtype = x.dtype if x.dtype.kind == "f" else np.float64
    x64 = x.astype(np.float64)
    ax = np.abs(x64)
    out = np.empty_like(x64)

    small = ax < 0.5
    if small.any():
        z = x64[small] ** 2
        p = (3.16112374387056560e00, 1.13864154151050156e02, 3.77485237685302021e02)
        p = (*p, 3.20937758913846947e03, 1.85777706184603153e-1)
        q = (2.36012909523441209e01, 2.44024637934444173e02, 1.28261652607737228e03)
        q = (*q, 2.84423683343917062e03)
        num = p[4] * z
        den = z
        for i in range(3):
            num = (num + p[i]) * z
            den = (den + q[i]) * z
        out[small] = x64[small] * (num + p[3]) / (den + q[3])

    mid = (ax >= 0.5) & (ax < 4.0)
    if mid.any():
        y = ax[mid]
        c = (5.64188496988670089e-1, 8.88314979438837594e00, 6.61191906371416295e01)
        c = (*c, 2.98635138197400131e02, 8.81952221241769090e02, 1.71204761263407058e03)
        c = (*c, 2.05107837782607147e03, 1.23033935479799725e03, 2.15311535474403846e-8)
        d = (1.57449261107098347e01, 1.17693950891312499e02, 5.37181101862009858e02)
        d = (*d, 1.62138957456669019e03, 3.29079923573345963e03, 4.36261909014324716e03)
        d = (*d, 3.43936767414372164e03, 1.23033935480374942e03)
        num = c[8] * y
        den = y
        for i in range(7):
            num = (num + c[i]) * y
            den = (den + d[i]) * y
        erfc = (num + c[7]) / (den + d[7]) * np.exp(-y * y)
        out[mid] = np.sign(x64[mid]) * (1 - erfc)

    large = ax >= 4.0
    if large.any():
        y = ax[large]
        z = 1 / (y * y)
        p = (3.05326634961232344e-1, 3.60344899949804439e-1, 1.25781726111229246e-1)
        p = (*p, 1.60837851487422766e-2, 6.58749161529837803e-4, 1.63153871373020978e-2)
        q = (2.56852019228982242e00, 1.87295284992346725e00, 5.27905102951428412e-1)
        q = (*q, 6.05183413124413191e-2, 2.33520497626869185e-3)
        num = p[5] * z
        den = z
        for i in range(4):
            num = (num + p[i]) * z
            den = (den + q[i]) * z
        r = z * (num + p[4]) / (den + q[4])
        erfc = (1 / np.sqrt(np.pi) - r) / y * np.exp(-y * y)
        out[large] = np.sign(x64[large]) * (1 - erfc)

    return out.astype(dtype, copy=False)
