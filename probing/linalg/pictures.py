"""Plot data for 2-D maps: a grid and its image, and the SVD as rotate -> stretch -> rotate.

Pages draw these frames; the numbers come from here so they can be tested and downloaded.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from probing.errors import ProbingInputError
from probing.linalg.maps import as_matrix


def grid_lines(A, extent: int = 2, points: int = 21) -> pd.DataFrame:
    """The unit grid in ``[-extent, extent]^2`` and its image under a ``2 x 2`` map, for plotting.

    Returns a long frame with columns ``line``, ``order``, ``x``, ``y``, ``stage``
    (``"before"`` or ``"after"``) and ``direction`` (``"horizontal"``/``"vertical"``).
    """
    A = as_matrix(A, square=True)
    if A.shape != (2, 2):
        raise ProbingInputError(f"grid_lines draws 2-D maps; got shape {A.shape}.")
    t = np.linspace(-extent, extent, points)
    frames = []
    for c in range(-extent, extent + 1):
        for direction, xy in (("horizontal", np.c_[t, np.full_like(t, c)]), ("vertical", np.c_[np.full_like(t, c), t])):
            for stage, pts in (("before", xy), ("after", xy @ A.T)):
                frames.append(pd.DataFrame({"line": f"{direction} {c}", "order": np.arange(points), "x": pts[:, 0],
                                            "y": pts[:, 1], "stage": stage, "direction": direction}))
    return pd.concat(frames, ignore_index=True)


def _angle(R: np.ndarray) -> float:
    """Angle in degrees of a 2 x 2 rotation (or of the rotation part of a reflection's first column)."""
    return float(np.degrees(np.arctan2(R[1, 0], R[0, 0])))


@dataclass(frozen=True)
class SVDSteps:
    """A ``2 x 2`` map as three steps, ``A = U diag(s) V^T``: rotate by ``V^T``, stretch by ``s``, rotate by ``U``.

    Signs are chosen so that ``V^T`` is a rotation (determinant +1); ``U`` is then a
    rotation when ``det A >= 0`` and a reflection when ``det A < 0``.

    Attributes
    ----------
    U, Vt : ndarray of shape (2, 2)
    s : ndarray of shape (2,)
        The singular values: the ellipse's semi-axes.
    """

    U: np.ndarray
    s: np.ndarray
    Vt: np.ndarray

    @property
    def first_angle(self) -> float:
        """Rotation of the first step ``V^T``, in degrees."""
        return _angle(self.Vt)

    @property
    def last_angle(self) -> float:
        """Rotation of the last step ``U`` (of its first column when ``U`` is a reflection), in degrees."""
        return _angle(self.U)

    @property
    def reflects(self) -> bool:
        return bool(np.linalg.det(self.U) < 0)

    def stages(self, points: int = 121) -> pd.DataFrame:
        """The unit circle and two marked radii after each step: columns ``stage``, ``curve``, ``order``, ``x``, ``y``.

        Stages: ``"1 unit circle"``, ``"2 after Vᵀ (rotate)"``, ``"3 after Σ (stretch)"``,
        ``"4 after U (rotate) = A x"``. Curves: ``"circle"`` and the images of the right
        singular vectors ``"v1"``, ``"v2"`` (drawn as radii: they end on the ellipse's axes).
        """
        t = np.linspace(0, 2 * np.pi, points)
        circle = np.vstack([np.cos(t), np.sin(t)])
        radii = {"v1": np.c_[[0.0, 0.0], self.Vt[0]], "v2": np.c_[[0.0, 0.0], self.Vt[1]]}
        steps = [("1 unit circle", np.eye(2)), ("2 after Vᵀ (rotate)", self.Vt),
                 ("3 after Σ (stretch)", np.diag(self.s) @ self.Vt),
                 ("4 after U (rotate) = A x", self.U @ np.diag(self.s) @ self.Vt)]
        frames = []
        for stage, M in steps:
            for curve, pts in [("circle", circle), *radii.items()]:
                xy = M @ pts
                frames.append(pd.DataFrame({"stage": stage, "curve": curve, "order": np.arange(xy.shape[1]),
                                            "x": xy[0], "y": xy[1]}))
        return pd.concat(frames, ignore_index=True)


def svd_steps(A) -> SVDSteps:
    """Split a ``2 x 2`` map into rotate -> stretch -> rotate (its SVD), for the unit-circle picture.

    Parameters
    ----------
    A : array_like of shape (2, 2)

    Returns
    -------
    SVDSteps
        ``U @ diag(s) @ Vt`` equals ``A``.
    """
    A = as_matrix(A, square=True)
    if A.shape != (2, 2):
        raise ProbingInputError(f"The unit-circle picture is for 2 x 2 maps; got shape {A.shape}.")
    U, s, Vt = np.linalg.svd(A)
    if np.linalg.det(Vt) < 0:
        Vt[1] *= -1
        U[:, 1] *= -1
    return SVDSteps(U=U, s=s, Vt=Vt)
