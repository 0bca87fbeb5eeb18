"""Calculus, executable: derivatives, integrals, gradients, Hessians, gradient descent."""
