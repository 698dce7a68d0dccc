"""Linearity tests, Jacobians and backpropagation for the lessons' functions.

A map ``T`` is linear when it is additive, ``T(u + v) = T(u) + T(v)``, and homogeneous,
``T(c u) = c T(u)``. A matrix map passes; a translation, ReLU, softmax, ``x^2`` and the
norm fail (:func:`linearity_report` finds the counterexample on random inputs). Every
differentiable map is linear near a point: its Jacobian ``J`` (:func:`jacobian`), and
backpropagation multiplies the incoming gradient by ``J^T``: through a linear layer
``W x`` that is ``W^T`` (:func:`linear_layer_backprop`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from probing.errors import ProbingInputError
from probing.linalg.maps import as_matrix

LAYERNORM_EPS = 1e-5  # PyTorch's default


@dataclass(frozen=True)
class VectorFunction:
    """A named map ``R^n -> R^m`` with its formula and, when known, its analytic Jacobian."""

    name: str
    formula: str
    f: Callable[[np.ndarray], np.ndarray]
    jac: Callable[[np.ndarray], np.ndarray] | None = None

    def __call__(self, x) -> np.ndarray:
        return np.atleast_1d(self.f(np.asarray(x, dtype=np.float64)))


def softmax(z) -> np.ndarray:
    """``exp(z) / sum(exp(z))``, computed stably (shifted by ``max(z)``)."""
    z = np.asarray(z, dtype=np.float64)
    e = np.exp(z - z.max())
    return e / e.sum()


def layer_norm(x, eps: float = LAYERNORM_EPS) -> np.ndarray:
    """LayerNorm without gain and bias: ``(x - mean(x)) / sqrt(var(x) + eps)``."""
    x = np.asarray(x, dtype=np.float64)
    centred = x - x.mean()
    return centred / np.sqrt((centred ** 2).mean() + eps)


def _softmax_jacobian(z: np.ndarray) -> np.ndarray:
    s = softmax(z)
    return np.diag(s) - np.outer(s, s)


def _layer_norm_jacobian(x: np.ndarray) -> np.ndarray:
    n = len(x)
    y = layer_norm(x)
    sigma = np.sqrt(((x - x.mean()) ** 2).mean() + LAYERNORM_EPS)
    return (np.eye(n) - 1.0 / n - np.outer(y, y) / n) / sigma


def _norm_jacobian(x: np.ndarray) -> np.ndarray:
    norm = np.linalg.norm(x)
    return (x / norm)[None, :] if norm else np.zeros((1, len(x)))


LESSON_FUNCTIONS = ["linear map W x", "translation x + 5", "ReLU", "softmax", "x² (elementwise)", "norm ‖x‖",
                    "LayerNorm"]


def lesson_function(name: str, n: int, seed: int = 0) -> VectorFunction:
    """One of the lessons' maps on ``R^n`` (see ``LESSON_FUNCTIONS``).

    Parameters
    ----------
    name : str
        One of ``LESSON_FUNCTIONS``.
    n : int
        Input dimension.
    seed : int
        Seed of the random ``W`` (entries ``N(0, 1/n)``) of the linear map.

    Returns
    -------
    VectorFunction
    """
    if n < 1:
        raise ProbingInputError(f"n must be at least 1; got {n}.")
    if name == "linear map W x":
        W = np.random.default_rng(seed).standard_normal((n, n)) / np.sqrt(n)
        return VectorFunction(name, "T(x) = W x (W random n × n)", lambda x: W @ x, lambda x: W)
    table = {
        "translation x + 5": ("T(x) = x + 5 (affine: T(0) = 5 ≠ 0)", lambda x: x + 5.0, lambda x: np.eye(len(x))),
        "ReLU": ("T(x) = max(0, x) elementwise", lambda x: np.maximum(x, 0.0), lambda x: np.diag((x > 0) * 1.0)),
        "softmax": ("T(z) = exp(z) / Σ exp(z)", softmax, _softmax_jacobian),
        "x² (elementwise)": ("T(x) = x ⊙ x", lambda x: x * x, lambda x: np.diag(2.0 * x)),
        "norm ‖x‖": ("T(x) = ‖x‖ (R^n → R)", lambda x: np.array([np.linalg.norm(x)]), _norm_jacobian),
        "LayerNorm": ("T(x) = (x − mean x) / √(var x + 1e-5)", layer_norm, _layer_norm_jacobian),
    }
    if name not in table:
        raise ProbingInputError(f"Unknown function {name!r}; pick one of {LESSON_FUNCTIONS}.")
    formula, f, jac = table[name]
    return VectorFunction(name, formula, f, jac)


def numerical_jacobian(f: Callable, x, step: float = 1e-6) -> np.ndarray:
    """Central finite differences ``(f(x + h e_j) - f(x - h e_j)) / 2h``, column by column; shape ``(m, n)``."""
    x = np.asarray(x, dtype=np.float64)
    columns = []
    for j in range(len(x)):
        e = np.zeros_like(x)
        e[j] = step
        columns.append((np.atleast_1d(f(x + e)) - np.atleast_1d(f(x - e))) / (2 * step))
    return np.stack(columns, axis=1)


def jacobian(f, x, step: float = 1e-6) -> np.ndarray:
    """The Jacobian ``J_ij = d f_i / d x_j`` of ``f`` at ``x``: the best linear map near ``x``.

    Parameters
    ----------
    f : VectorFunction or callable
        A :class:`VectorFunction` with an analytic Jacobian uses it; any other callable
        ``R^n -> R^m`` gets central finite differences.
    x : array_like of shape (n,)
    step : float
        Finite-difference step.

    Returns
    -------
    ndarray of shape (m, n)

    Examples
    --------
    >>> J = jacobian(lesson_function("softmax", 3), [1.0, 2.0, 3.0])
    >>> bool(np.allclose(J @ np.ones(3), 0))   # J 1 = 0: softmax ignores a constant shift
    True
    """
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 1 or not len(x) or not np.isfinite(x).all():
        raise ProbingInputError(f"x must be a finite non-empty vector; got shape {x.shape}.")
    if isinstance(f, VectorFunction) and f.jac is not None:
        return np.atleast_2d(f.jac(x))
    return numerical_jacobian(f, x, step)


@dataclass(frozen=True)
class LinearityReport:
    """Additivity and homogeneity of a map, tested on random inputs.

    Attributes
    ----------
    name : str
    additivity_gap, homogeneity_gap : ndarray of shape (trials,)
        ``||T(u + v) - T(u) - T(v)||`` and ``||T(c u) - c T(u)||``, each relative to the
        size of the terms compared.
    f_zero_norm : float
        ``||T(0)||``: a linear map sends 0 to 0.
    counterexamples : dict
        For each failing property, the trial with the largest gap: the inputs and both sides.
    rtol : float
        A property holds when every gap is ``<= rtol``.
    """

    name: str
    additivity_gap: np.ndarray
    homogeneity_gap: np.ndarray
    f_zero_norm: float
    counterexamples: dict
    rtol: float

    @property
    def additive(self) -> bool:
        return bool(self.additivity_gap.max() <= self.rtol)

    @property
    def homogeneous(self) -> bool:
        return bool(self.homogeneity_gap.max() <= self.rtol)

    @property
    def linear(self) -> bool:
        return self.additive and self.homogeneous

    def summary(self) -> pd.DataFrame:
        """One row per property: holds?, how often it failed, the worst relative gap."""
        rows = []
        for prop, gap in (("additivity T(u+v) = T(u)+T(v)", self.additivity_gap),
                          ("homogeneity T(cu) = c T(u)", self.homogeneity_gap)):
            rows.append({"property": prop, "holds": bool(gap.max() <= self.rtol),
                         "trials failed": f"{int((gap > self.rtol).sum())} of {len(gap)}",
                         "worst relative gap": float(gap.max())})
        rows.append({"property": "zero test T(0) = 0", "holds": self.f_zero_norm <= self.rtol,
                     "trials failed": "", "worst relative gap": self.f_zero_norm})
        return pd.DataFrame(rows)

    def to_frame(self) -> pd.DataFrame:
        """One row per trial and property: the relative gap."""
        trials = np.arange(1, len(self.additivity_gap) + 1)
        return pd.concat([pd.DataFrame({"trial": trials, "property": "additivity", "gap": self.additivity_gap}),
                          pd.DataFrame({"trial": trials, "property": "homogeneity", "gap": self.homogeneity_gap})],
                         ignore_index=True)


def _relative(diff, *sides) -> float:
    scale = max(max(np.linalg.norm(s) for s in sides), 1e-12)
    return float(np.linalg.norm(diff) / scale)


def linearity_report(f, n: int, seed: int = 0, trials: int = 100, rtol: float = 1e-8) -> LinearityReport:
    """Test additivity and homogeneity of ``f`` on random inputs and keep the worst counterexample.

    Parameters
    ----------
    f : VectorFunction or callable
        A map ``R^n -> R^m``.
    n : int
        Input dimension.
    seed : int
        Seed for the random ``u, v ~ N(0, I)`` and scalars ``c ~ N(0, 2^2)`` (negative ones too:
        the norm is only homogeneous for ``c >= 0``).
    trials : int
        Number of random ``(u, v, c)``.
    rtol : float
        A property holds when every relative gap is ``<= rtol`` (rounding is ~1e-16).

    Returns
    -------
    LinearityReport
    """
    if n < 1 or trials < 1:
        raise ProbingInputError(f"n and trials must be at least 1; got n={n}, trials={trials}.")
    rng = np.random.default_rng(seed)
    U, V = rng.standard_normal((trials, n)), rng.standard_normal((trials, n))
    C = 2.0 * rng.standard_normal(trials)
    call = (lambda x: np.atleast_1d(f(x)).astype(np.float64))
    add, hom, worst = np.empty(trials), np.empty(trials), {}
    for t, (u, v, c) in enumerate(zip(U, V, C)):
        fu, fv, fuv, fcu = call(u), call(v), call(u + v), call(c * u)
        add[t] = _relative(fuv - fu - fv, fuv, fu + fv)
        hom[t] = _relative(fcu - c * fu, fcu, c * fu)
        if add[t] > rtol and add[t] >= worst.get("additivity", {}).get("gap", -1):
            worst["additivity"] = {"gap": add[t], "u": u, "v": v, "lhs T(u+v)": fuv, "rhs T(u)+T(v)": fu + fv}
        if hom[t] > rtol and hom[t] >= worst.get("homogeneity", {}).get("gap", -1):
            worst["homogeneity"] = {"gap": hom[t], "u": u, "c": float(c), "lhs T(cu)": fcu, "rhs c T(u)": c * fu}
    zero = float(np.linalg.norm(call(np.zeros(n))))
    return LinearityReport(getattr(f, "name", "f"), add, hom, zero, worst, float(rtol))


@dataclass(frozen=True)
class Backprop:
    """One layer ``a = act(W x)`` with loss ``0.5 ||a - target||^2``, forward and backward.

    Attributes
    ----------
    z, a : ndarray of shape (m,)
        Pre-activation ``W x`` and output.
    loss : float
    grad_a, grad_z, grad_x : ndarray
        ``dL/da = a - target``; ``dL/dz = J_act^T dL/da``; ``dL/dx = W^T dL/dz`` (the dual map).
    grad_x_numeric : ndarray of shape (n,)
        ``dL/dx`` by central finite differences, as a check.
    """

    z: np.ndarray
    a: np.ndarray
    loss: float
    grad_a: np.ndarray
    grad_z: np.ndarray
    grad_x: np.ndarray
    grad_x_numeric: np.ndarray

    def to_frame(self) -> pd.DataFrame:
        """``dL/dx`` by the chain of transposes and by finite differences, one row per input coordinate."""
        return pd.DataFrame({"coordinate": np.arange(1, len(self.grad_x) + 1), "Wᵀ (J_actᵀ dL/da)": self.grad_x,
                             "finite differences": self.grad_x_numeric})


def linear_layer_backprop(W, x, target, activation: str = "none") -> Backprop:
    """Backpropagate ``0.5 ||act(W x) - target||^2`` through one linear layer: multiply by ``J_act^T``, then ``W^T``.

    Parameters
    ----------
    W : array_like of shape (m, n)
    x : array_like of shape (n,)
    target : array_like of shape (m,)
    activation : {"none", "ReLU"}

    Returns
    -------
    Backprop
    """
    W = as_matrix(W, "W")
    x, target = np.asarray(x, dtype=np.float64), np.asarray(target, dtype=np.float64)
    if x.shape != (W.shape[1],) or target.shape != (W.shape[0],):
        raise ProbingInputError(f"W is {W.shape[0]} x {W.shape[1]}, so x needs {W.shape[1]} entries and the target "
                                f"{W.shape[0]}; got {x.size} and {target.size}.")
    if activation not in ("none", "ReLU"):
        raise ProbingInputError(f"activation must be 'none' or 'ReLU'; got {activation!r}.")
    act = (lambda z: np.maximum(z, 0.0)) if activation == "ReLU" else (lambda z: z)

    def loss(v):
        return 0.5 * float(((act(W @ v) - target) ** 2).sum())

    z = W @ x
    a = act(z)
    grad_a = a - target
    grad_z = grad_a * (z > 0) if activation == "ReLU" else grad_a
    return Backprop(z=z, a=a, loss=loss(x), grad_a=grad_a, grad_z=grad_z, grad_x=W.T @ grad_z,
                    grad_x_numeric=numerical_jacobian(loss, x)[0])
