"""ExVo-Generate scores (ICML ExVo 2022, paper 001 section 5.2): pure functions of numpy arrays.

- FID, eq. (3): ``||mu - mu*||^2 + Tr(C + C* - 2 (C C*)^(1/2))`` between the Gaussians fitted
  (mean, sample covariance with N - 1) to two feature sets, here the features of a classifier
  trained on the reference corpus instead of Inception's.
- HEEP, eq. (4): ``sigma_TH / sqrt(sigma_T^2 sigma_H^2)``, the Pearson correlation between the
  vectorised target matrix T (N x E dummies, 1 for the targeted emotion of each generated burst)
  and the vectorised rating matrix H (N x E average human intensity ratings, normed to 0-1).
- S_GEN per emotion, eq. (5): ``(1 / FID_e + HEEP_e) / 2``; across emotions the mean over every
  emotion, an emotion without generated samples counting 0 (Table 3: Triumph 0.00, mean 0.174).

The matrix square root. ``Tr((C C*)^(1/2))`` is computed without forming ``(C C*)^(1/2)``: with
``S = C^(1/2)`` (symmetric, from ``eigh``), ``C C*`` shares its non-zero eigenvalues with the
symmetric positive semi-definite ``S C* S``, so the trace is the sum of the square roots of the
eigenvalues of ``S C* S``. Everything stays real and symmetric: no imaginary parts arise (scipy's
``sqrtm`` of the non-symmetric ``C C*`` returns rounding-level imaginary parts, and for singular
covariances, as with fewer clips than feature dimensions, it may not converge at all). Rounding
makes eigenvalues of a positive semi-definite matrix come out as tiny negatives; they are set to
0, and a distance that rounds below 0 is returned as 0. A covariance that is not symmetric or has
a clearly negative eigenvalue (below ``-1e-8`` times its largest) is an error, not clamped.
Singular covariances (N - 1 < feature dimension) are valid and give the exact Frechet distance
of the fitted degenerate Gaussians; such small samples make FID biased upwards, which
:func:`rank_deficient` lets a report flag.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

MIN_CLIPS = 2  # a sample covariance needs two feature vectors
_NEGATIVE = 1e-8  # relative tolerance for negative eigenvalues of a covariance


def gaussian(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and sample covariance (N - 1) of ``(N, D)`` features, in float64.

    >>> mu, cov = gaussian(np.array([[0.0, 1.0], [2.0, 1.0]]))
    >>> mu.tolist(), cov.tolist()
    ([1.0, 1.0], [[2.0, 0.0], [0.0, 0.0]])
    """
    x = np.asarray(features, dtype=np.float64)
    if x.ndim != 2:
        raise ValueError(f"features must be (N, D), got shape {x.shape}")
    if len(x) < MIN_CLIPS:
        raise ValueError(f"{len(x)} feature vector(s): a covariance needs at least {MIN_CLIPS}")
    if not np.isfinite(x).all():
        raise ValueError("features contain NaN or infinite values")
    return x.mean(axis=0), np.atleast_2d(np.cov(x, rowvar=False))


def _psd_sqrt(cov: np.ndarray, name: str) -> np.ndarray:
    """The symmetric square root of a covariance (eigenvalues clamped at 0 after the checks)."""
    if not np.allclose(cov, cov.T, rtol=1e-10, atol=1e-12 * max(1.0, np.abs(cov).max())):
        raise ValueError(f"{name} is not symmetric")
    values, vectors = np.linalg.eigh((cov + cov.T) / 2.0)
    if values.min() < -_NEGATIVE * max(values.max(), 0.0) - 1e-300:
        raise ValueError(f"{name} is not positive semi-definite (eigenvalue {values.min():.3g})")
    return (vectors * np.sqrt(np.clip(values, 0.0, None))) @ vectors.T


def trace_sqrt_product(cov1: np.ndarray, cov2: np.ndarray) -> float:
    """``Tr((C1 C2)^(1/2))`` of two covariances, via the eigenvalues of ``C1^(1/2) C2 C1^(1/2)``.

    >>> trace_sqrt_product(np.diag([4.0, 9.0]), np.diag([1.0, 4.0]))  # sqrt(4) + sqrt(36)
    8.0
    >>> trace_sqrt_product(np.diag([1.0, 0.0]), np.diag([0.0, 5.0]))  # singular: C1 C2 = 0
    0.0
    """
    root = _psd_sqrt(np.atleast_2d(np.asarray(cov1, dtype=np.float64)), "covariance 1")
    _psd_sqrt(np.atleast_2d(np.asarray(cov2, dtype=np.float64)), "covariance 2")  # the checks
    middle = root @ np.asarray(cov2, dtype=np.float64) @ root
    values = np.linalg.eigvalsh((middle + middle.T) / 2.0)
    return float(np.sqrt(np.clip(values, 0.0, None)).sum())


def frechet_distance(mu1: np.ndarray, cov1: np.ndarray, mu2: np.ndarray,
                     cov2: np.ndarray) -> float:
    """Eq. (3): ``||mu1 - mu2||^2 + Tr(C1 + C2 - 2 (C1 C2)^(1/2))``, never below 0.

    >>> frechet_distance(np.zeros(2), np.eye(2), np.ones(2), np.eye(2))  # shifted by (1, 1)
    2.0
    >>> frechet_distance(np.zeros(1), np.eye(1) * 4.0, np.zeros(1), np.eye(1))  # (2 - 1)^2
    1.0
    """
    mu1, mu2 = np.atleast_1d(mu1).astype(np.float64), np.atleast_1d(mu2).astype(np.float64)
    cov1, cov2 = np.atleast_2d(cov1), np.atleast_2d(cov2)
    if not (mu1.shape == mu2.shape and cov1.shape == cov2.shape == (len(mu1), len(mu1))):
        raise ValueError(f"Frechet distance of Gaussians of different dimensions: means "
                         f"{mu1.shape} and {mu2.shape}, covariances {cov1.shape} and {cov2.shape}")
    diff = mu1 - mu2
    value = (diff @ diff + np.trace(cov1) + np.trace(cov2)
             - 2.0 * trace_sqrt_product(cov1, cov2))
    return float(max(value, 0.0))


def fid(features1: np.ndarray, features2: np.ndarray) -> float:
    """FID between two ``(N, D)`` feature sets (their Gaussians of :func:`gaussian`).

    >>> x = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    >>> fid(x, x)
    0.0
    >>> round(fid(x, x + [3.0, 4.0]), 12)  # only the means differ: 3^2 + 4^2
    25.0
    """
    return frechet_distance(*gaussian(features1), *gaussian(features2))


def rank_deficient(n_clips: int, dim: int) -> bool:
    """True when ``n_clips`` feature vectors give a singular ``dim``-dimensional covariance.

    >>> rank_deficient(100, 64), rank_deficient(64, 64)
    (False, True)
    """
    return n_clips - 1 < dim


def fid_per_emotion(generated: Mapping[str, np.ndarray],
                    reference: Mapping[str, np.ndarray]) -> dict[str, float]:
    """FID of every generated emotion against the reference features of the same emotion.

    >>> ref = {"Awe": np.array([[0.0], [2.0]]), "Fear": np.array([[5.0], [7.0]])}
    >>> fid_per_emotion({"Awe": np.array([[1.0], [3.0]])}, ref)
    {'Awe': 1.0}
    """
    missing = sorted(set(generated) - set(reference))
    if missing:
        raise ValueError(f"no reference features for {missing}")
    return {name: fid(features, reference[name]) for name, features in generated.items()}


def fid_matrix(rows: Mapping[str, np.ndarray], columns: Mapping[str, np.ndarray]
               ) -> dict[str, dict[str, float]]:
    """``{row emotion: {column emotion: FID}}`` (Table 3 above: training rows, validation
    columns; its diagonal is the lower bound to expect from a generator).

    >>> m = fid_matrix({"a": np.array([[0.0], [2.0]])}, {"a": np.array([[0.0], [2.0]]),
    ...                                                   "b": np.array([[3.0], [5.0]])})
    >>> m
    {'a': {'a': 0.0, 'b': 9.0}}
    """
    stats = {name: gaussian(x) for name, x in columns.items()}
    return {r: {c: frechet_distance(*gaussian(x), *stats[c]) for c in columns}
            for r, x in rows.items()}


def dominant(values: np.ndarray) -> np.ndarray:
    """``(N, E)`` bool: the emotion(s) with the largest intensity of each row (argmax; a tie
    assigns the row to every tied emotion, as the paper's "value 1" bins do). A row whose
    largest value is 0 or that holds NaN belongs to no emotion.

    >>> dominant(np.array([[0.2, 0.9, 0.1], [1.0, 1.0, 0.0], [0.0, 0.0, 0.0]])).astype(int)
    array([[0, 1, 0],
           [1, 1, 0],
           [0, 0, 0]])
    """
    x = np.asarray(values, dtype=np.float64)
    valid = np.isfinite(x).all(axis=1)
    top = np.where(valid, np.nan_to_num(x, nan=-np.inf).max(axis=1), np.nan)
    return valid[:, None] & (top[:, None] > 0) & (x == top[:, None])


def heep(targets: Sequence[int], ratings: np.ndarray) -> float:
    """Eq. (4): the Pearson correlation of vec(T) and vec(H); ``targets`` is the targeted
    emotion's column index of each rated burst, ``ratings`` their ``(N, E)`` average intensity
    ratings. NaN when the ratings are all equal (the correlation is undefined).

    >>> H = np.array([[0.9, 0.1, 0.0], [0.6, 0.3, 0.2]])
    >>> round(heep([0, 0], H), 4)
    0.9137
    >>> heep([0, 1], np.full((2, 3), 0.5))
    nan
    """
    h = np.asarray(ratings, dtype=np.float64)
    if h.ndim != 2 or len(h) != len(targets) or len(h) == 0:
        raise ValueError(f"ratings must be (N, E) with one row per target, got {h.shape} for "
                         f"{len(targets)} target(s)")
    t = np.zeros_like(h)
    t[np.arange(len(h)), np.asarray(targets, dtype=int)] = 1.0
    t, h = t.ravel(), h.ravel()
    ct, ch = t - t.mean(), h - h.mean()
    denominator = np.sqrt((ct @ ct) * (ch @ ch))
    if not denominator > 0:
        return float("nan")
    return float(np.clip(ct @ ch / denominator, -1.0, 1.0))  # rounding stays within [-1, 1]


def s_gen(fid_value: float, heep_value: float) -> float:
    """Eq. (5): ``(1 / FID + HEEP) / 2`` (Table 3: Amusement 4.92 and 0.49 give 0.347).

    >>> round(s_gen(4.92, 0.49), 3), round(s_gen(8.27, 0.036), 3)
    (0.347, 0.078)
    """
    if not fid_value > 0:
        raise ValueError(f"S_GEN needs FID > 0, got {fid_value}")
    return (1.0 / fid_value + heep_value) / 2.0


def s_gen_mean(per_emotion: Mapping[str, float], emotions: Sequence[str]) -> float:
    """The mean S_GEN over all ``emotions``, 0 for one not scored (Table 3's row: 0.1735).

    >>> table3 = dict(zip("Amu Awe Awk Dis Exc Fea Hor Sad Sur".split(),
    ...                   [0.347, 0.334, 0.078, 0.242, 0.125, 0.109, 0.224, 0.084, 0.192]))
    >>> round(s_gen_mean(table3, [*table3, "Triumph"]), 4)
    0.1735
    """
    unknown = sorted(set(per_emotion) - set(emotions))
    if unknown:
        raise ValueError(f"S_GEN of unknown emotion(s) {unknown}")
    return float(sum(per_emotion.get(e, 0.0) for e in emotions) / len(emotions))


def summary(values: Mapping[str, float]) -> dict[str, float | int | str]:
    """The distribution of per-emotion values: count, mean, population std, median, min, max
    and the emotions at the extremes.

    >>> summary({"a": 1.0, "b": 3.0})
    {'count': 2, 'mean': 2.0, 'std': 1.0, 'median': 2.0, 'min': 1.0, 'max': 3.0, 'argmin': 'a', 'argmax': 'b'}
    """
    if not values:
        raise ValueError("summary of no values")
    names, x = list(values), np.array(list(values.values()), dtype=np.float64)
    return {"count": len(x), "mean": float(x.mean()), "std": float(x.std()),
            "median": float(np.median(x)), "min": float(x.min()), "max": float(x.max()),
            "argmin": names[int(x.argmin())], "argmax": names[int(x.argmax())]}
