"""The mathematical foundations of deep learning, executable.

Three modules follow the roadmap of calculus, linear algebra and probability:

- :mod:`chainrule.mathkit.calculus` — derivatives (by autodiff and by finite differences),
  integrals, gradients, Jacobians, Hessians, critical points, gradient descent;
- :mod:`chainrule.mathkit.linalg` — norms, unit vectors, inner, cross and Frobenius products,
  Gram–Schmidt, linearity, determinants by LU, eigenvalues, SVD, low-rank approximation, PCA;
- :mod:`chainrule.mathkit.probability` — expectation, variance, the law of large numbers,
  entropy, cross-entropy, KL divergence, Bayes' rule, maximum likelihood, AIC and BIC,
  distributions.

Everything here computes in float64.

>>> from chainrule.mathkit import linalg
>>> linalg.norm([3.0, 4.0])
5.0
"""

from . import calculus, linalg, probability

__all__ = ["calculus", "linalg", "probability"]
