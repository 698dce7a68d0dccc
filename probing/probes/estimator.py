"""A linear probe as a scikit-learn estimator, solved in closed form from moments where it can be.

Three probe families share one interface:

``"lda"``
    Shrinkage linear discriminant analysis. Everything it needs -- class counts, class
    means and the pooled within-class covariance -- comes from one pass of
    :mod:`probing.stats`, so fitting costs one ``X^T X`` plus a ``d x d`` solve. The
    covariance is shrunk towards the scaled identity, ``(1 - s) S + s (tr S / d) I``, so the
    direction cannot be dominated by a nearly constant coordinate (a diagonal target would
    let one quiet dimension take all the weight); ``reg="auto"`` picks ``s`` with the
    Oracle-Approximating-Shrinkage formula (Chen et al. 2010), a float fixes it.
``"logistic"``
    scikit-learn's ``LogisticRegression`` (L2, lbfgs) on standardised features, with
    ``C = 1 / reg`` (``reg="auto"`` means ``C = 1``); ``warm_start=True`` starts each
    refit from the previous solution.
``"mean_diff"``
    The difference of class means (nearest class mean for several classes): the
    probe with no covariance at all, a useful lower bound on what a probe adds.
"""

from __future__ import annotations

import numpy as np
import scipy.special
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.linear_model import LogisticRegression
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from probing.errors import ProbingInputError
from probing.probes.closed_form import (METHODS, check_dimension, class_scores, readout, solve_from_moments,
                                        unit_rows)
from probing.stats import ClassMoments, layer_class_moments

class LinearProbe(ClassifierMixin, BaseEstimator):
    """A linear probe: which direction of activation space separates the classes.

    Parameters
    ----------
    method : {"lda", "logistic", "mean_diff"}, default "lda"
        Probe family (see the module docstring).
    reg : "auto" or float, default "auto"
        ``lda``: shrinkage in [0, 1] (auto: OAS). ``logistic``: L2 strength, ``C = 1 / reg``
        (auto: ``C = 1``). Ignored by ``mean_diff``.
    max_iter : int, default 1000
        Iterations for the logistic solver.
    warm_start : bool, default False
        ``logistic``: start a refit from the previous solution.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
    coef_ : ndarray of shape (1, d) for two classes, else (n_classes, d)
    intercept_ : ndarray of shape (1,) or (n_classes,)
    direction_ : ndarray of shape (d,) for two classes, else (n_classes, d)
        Unit vector(s): the probe direction (class 1 minus class 0), or one
        one-vs-rest direction per class.
    subspace_ : ndarray of shape (min(n_classes - 1, d), d)
        Orthonormal basis of the discriminant subspace (``lda`` / ``mean_diff``; for
        ``logistic`` the span of the centred class weights).
    shrinkage_ : float or None
        The LDA shrinkage used.
    n_iter_ : int
        Solver iterations (logistic), 1 for the closed-form solves.
    n_features_in_ : int

    Examples
    --------
    >>> from probing.synthetic import make_concept_embeddings
    >>> aset, dirs = make_concept_embeddings(500, d=16, noise=0.3, seed=0)
    >>> probe = LinearProbe().fit(aset.layer(0), aset.labels["label"])
    >>> round(float(abs(probe.direction_ @ dirs[0])), 2)
    1.0
    """

    def __init__(self, method: str = "lda", reg="auto", max_iter: int = 1000, warm_start: bool = False):
        self.method = method
        self.reg = reg
        self.max_iter = max_iter
        self.warm_start = warm_start

    def _validate(self, X, y="no_validation", reset=True):
        try:
            return validate_data(self, X, y, reset=reset, dtype=[np.float64, np.float32])
        except ValueError as exc:
            raise ProbingInputError(f"{exc} Pass finite numeric X of shape (n_samples, n_features) "
                                    "and one label per row.") from exc

    def _check_params(self):
        if self.method not in METHODS:
            raise ProbingInputError(f"Unknown probe method {self.method!r}; choose one of {METHODS}.")
        if self.reg != "auto":
            if not isinstance(self.reg, (int, float, np.floating)) or self.reg < 0:
                raise ProbingInputError(f"reg must be 'auto' or a non-negative float; got {self.reg!r}.")
            if self.method == "lda" and self.reg > 1:
                raise ProbingInputError(f"LDA shrinkage reg must be in [0, 1]; got {self.reg}.")
            if self.method == "logistic" and self.reg == 0:
                raise ProbingInputError("Logistic reg is the L2 strength 1/C and must be > 0; use e.g. 1e-4.")

    def fit(self, X, y):
        """Fit the probe to ``X`` (n_samples, d) and labels ``y`` (n_samples,); returns ``self``."""
        self._check_params()
        X, y = self._validate(X, y)
        check_classification_targets(y)
        classes, codes = np.unique(y, return_inverse=True)
        if len(classes) < 2:
            raise ProbingInputError(f"y has only one class ({classes.tolist()}); a probe needs at least two "
                                    "classes. Pick another label or add samples of the other classes.")
        if self.method == "logistic":
            self.classes_ = classes
            self._fit_logistic(X, codes)
            return self
        check_dimension(X.shape[1])
        cm = layer_class_moments(X[:, None, :], codes, len(classes))[0][0]
        return self._fit_moments(cm, classes)

    @classmethod
    def from_moments(cls, cm: ClassMoments, classes, method: str = "lda", reg="auto",
                     dim: int | None = None) -> "LinearProbe":
        """A probe fitted from sufficient statistics alone (no data pass).

        Parameters
        ----------
        cm : ClassMoments
            Moments of the training rows; ``cm.counts[i]`` belongs to ``classes[i]``.
            A class with no training rows is never predicted.
        classes : array_like of shape (n_classes,)
        method : {"lda", "mean_diff"}
        reg : "auto" or float
        dim : int, optional
            See :func:`solve_from_moments`.

        Returns
        -------
        LinearProbe
            Fitted, exactly as ``fit`` on the rows would give.
        """
        return cls(method=method, reg=reg)._fit_moments(cm, np.asarray(classes), dim)

    def _fit_moments(self, cm: ClassMoments, classes: np.ndarray, dim: int | None = None) -> "LinearProbe":
        self._check_params()
        if self.method == "logistic":
            raise ProbingInputError("method='logistic' has no closed form; fit it on data with .fit(X, y).")
        return self._adopt(solve_from_moments(cm, self.method, self.reg, dim), classes)

    def _adopt(self, solution: dict, classes: np.ndarray) -> "LinearProbe":
        self.classes_ = classes
        self.coef_, self.intercept_, self.direction_ = readout(solution)
        self.n_features_in_ = self.coef_.shape[1]
        self.subspace_ = solution["subspace"]
        self.shrinkage_ = solution["shrinkage"]
        self.n_iter_ = 1
        return self

    def _fit_logistic(self, X, codes):
        mean, scale = X.mean(axis=0), X.std(axis=0)
        scale = np.where(scale > 0, scale, 1.0)
        C = 1.0 if self.reg == "auto" else 1.0 / float(self.reg)
        previous = getattr(self, "logistic_", None)
        if self.warm_start and previous is not None and previous.coef_.shape[1] == X.shape[1]:
            model = previous.set_params(C=C, max_iter=self.max_iter)
        else:
            model = LogisticRegression(C=C, max_iter=self.max_iter, warm_start=self.warm_start)
        model.fit((X - mean) / scale, codes)
        self.logistic_ = model
        self.n_iter_ = int(np.max(model.n_iter_))
        coef = model.coef_ / scale
        intercept = model.intercept_ - coef @ mean
        if len(self.classes_) > 2:
            centred = coef - coef.mean(axis=0)
            subspace = np.linalg.svd(centred, full_matrices=False)[2][: min(len(self.classes_) - 1, X.shape[1])]
            self.direction_ = unit_rows(centred)
        else:
            subspace = unit_rows(coef)
            self.direction_ = unit_rows(coef[0])
        self.coef_, self.intercept_, self.subspace_, self.shrinkage_ = coef, intercept, subspace, None

    @property
    def direction(self) -> np.ndarray:
        """Alias of ``direction_``."""
        check_is_fitted(self)
        return self.direction_

    def class_scores(self) -> tuple[np.ndarray, np.ndarray]:
        """Weights ``(d, n_classes)`` and offsets ``(n_classes,)`` whose argmax over ``X @ W + b`` is ``predict``."""
        check_is_fitted(self)
        return class_scores(self.coef_, self.intercept_)

    def decision_function(self, X) -> np.ndarray:
        """Scores, shape (n_samples,) for two classes (positive means ``classes_[1]``), else (n_samples, n_classes)."""
        check_is_fitted(self)
        X = self._validate(X, reset=False)
        scores = X @ self.coef_.T + self.intercept_
        return scores[:, 0] if len(self.classes_) == 2 else scores

    def predict(self, X) -> np.ndarray:
        """Predicted labels (in the original label space), shape (n_samples,)."""
        scores = self.decision_function(X)
        codes = (scores > 0).astype(int) if scores.ndim == 1 else scores.argmax(axis=1)
        return self.classes_[codes]

    def _has_proba(self) -> bool:
        return self.method != "mean_diff"

    @available_if(_has_proba)
    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities (logistic / LDA posterior), shape (n_samples, n_classes)."""
        return scores_to_proba(self.decision_function(X))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = False
        return tags


def scores_to_proba(scores: np.ndarray) -> np.ndarray:
    """Probabilities from decision scores: logistic for (n,), softmax for (n, k)."""
    if scores.ndim == 1:
        p = scipy.special.expit(scores)
        return np.column_stack([1 - p, p])
    return scipy.special.softmax(scores, axis=1)


def fit_probe(X, y, method: str = "lda", reg="auto", seed: int = 0) -> LinearProbe:
    """Fit a :class:`LinearProbe` to one layer's activations.

    Parameters
    ----------
    X : array_like of shape (n_samples, d)
    y : array_like of shape (n_samples,)
        Class labels (any hashable values; at least two classes).
    method : {"lda", "logistic", "mean_diff"}
    reg : "auto" or float
        See :class:`LinearProbe`.
    seed : int
        Accepted for a uniform interface; all three methods are deterministic.

    Returns
    -------
    LinearProbe
        Fitted; ``probe.direction_`` is the unit probe direction (d,) (or (n_classes, d)).
    """
    X = np.asarray(X)
    y = np.asarray(y)
    if y.ndim != 1 or len(y) != len(X):
        raise ProbingInputError(f"y must have one label per row of X: got y of shape {y.shape} for X of shape "
                                f"{X.shape}. Make sure labels and activations line up.")
    return LinearProbe(method=method, reg=reg).fit(X, y)
