"""LoRA's view of fine-tuning: a frozen ``W0`` plus a low-rank update ``dW = B A``.

LoRA (Hu et al. 2021) does not approximate ``W``; it keeps the pretrained ``W0`` frozen
and learns ``W = W0 + B A`` with ``B`` of shape ``(m, r)`` and ``A`` of shape ``(r, n)``,
so ``rank(dW) <= r`` and ``dW`` has a kernel of dimension at least ``n - r``. Given the
weights before and after fine-tuning, :func:`lora_update` measures how low-rank the
update really is.

Effective rank, two ways (both reported):

* entropy effective rank (Roy & Vetterli 2007): ``exp(H(p))`` with ``p = sigma / sum(sigma)``;
  equals ``k`` for ``k`` equal singular values and is soft, never an integer cut;
* energy rank: the smallest ``k`` whose top ``k`` singular values hold a share ``energy``
  (default 0.9) of ``sum(sigma^2)`` = ``||dW||_F^2``: the rank LoRA would need to
  reproduce that share of the update (the lessons' ``effective_rank(W, threshold)``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from probing.errors import ProbingInputError
from probing.linalg.maps import MapReport, analyze_map, as_matrix


@dataclass(frozen=True)
class LoraUpdate:
    """The update ``dW = W - W0`` and its spectrum.

    Attributes
    ----------
    delta : ndarray of shape (m, n)
    report : MapReport
        ``analyze_map(delta)``: singular values, numerical rank, ``entropy_rank`` and ``energy_rank``.
    relative_size : float
        ``||dW||_F / ||W0||_F``.
    """

    delta: np.ndarray
    report: MapReport
    relative_size: float

    @property
    def lora_params(self) -> int:
        """``r (m + n)`` at the energy rank: the numbers a LoRA of that rank stores."""
        m, n = self.delta.shape
        return self.report.energy_rank * (m + n)

    def to_frame(self) -> pd.DataFrame:
        """The update's spectrum, one row per singular value (see :meth:`MapReport.to_frame`)."""
        return self.report.to_frame()


def lora_update(W0, W, energy: float = 0.9, rtol: float | None = None) -> LoraUpdate:
    """How low-rank is a fine-tuning update? The spectrum and effective ranks of ``dW = W - W0``.

    Parameters
    ----------
    W0 : array_like of shape (m, n)
        The frozen pretrained weight.
    W : array_like of shape (m, n)
        The fine-tuned weight.
    energy : float in (0, 1]
        Share of ``||dW||_F^2`` for the energy rank.
    rtol : float, optional
        Rank tolerance relative to the largest singular value (default numpy's).

    Returns
    -------
    LoraUpdate
    """
    W0, W = as_matrix(W0, "W0 (before fine-tuning)"), as_matrix(W, "W (after fine-tuning)")
    if W0.shape != W.shape:
        raise ProbingInputError(f"W0 and W must have the same shape; got W0 {W0.shape} and W {W.shape}. "
                                "Upload the same tensor before and after fine-tuning.")
    delta = W - W0
    norm0 = float(np.linalg.norm(W0))
    return LoraUpdate(delta=delta, report=analyze_map(delta, energy=energy, rtol=rtol),
                      relative_size=float(np.linalg.norm(delta) / norm0) if norm0 else float("inf"))


def lora_example(m: int = 512, n: int = 512, r: int = 4, noise: float = 0.0, seed: int = 0) -> tuple[np.ndarray,
                                                                                                        np.ndarray]:
    """A pretrained ``W0`` and ``W = W0 + B A + noise`` with a rank-``r`` update (the lesson's Exercise 7: 512, 4).

    ``W0`` has entries ``N(0, 0.02^2)`` (a typical initialisation scale); ``B`` and ``A`` are
    Gaussian, scaled so ``dW`` has entries of about 0.005 (``||dW||_F`` about a quarter of
    ``||W0||_F``); ``noise`` adds a full-rank ``N(0, noise^2)`` perturbation (as real
    fine-tuning would).
    """
    if not 0 <= r <= min(m, n):
        raise ProbingInputError(f"r must be between 0 and min(m, n) = {min(m, n)}; got {r}.")
    rng = np.random.default_rng(seed)
    W0 = 0.02 * rng.standard_normal((m, n))
    B, A = rng.standard_normal((m, r)), rng.standard_normal((r, n))
    W = W0 + 0.005 * B @ A / np.sqrt(max(r, 1)) + noise * rng.standard_normal((m, n))
    return W0, W
