"""The five SERAB classifier families and the grid search on the predefined train/dev split.

Every grid point is fitted on train and scored on dev; the best point (ties: the first in grid
order) is refitted on train (or train + dev). Every warning a fit raises (scikit-learn's
ConvergenceWarning, QDA's collinearity warning, ...) is captured, counted per message and
returned: the caller records it in scores.json and the log, nothing is printed raw.
"""

from __future__ import annotations

import contextlib
import warnings
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.model_selection import ParameterGrid
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from emobench.core.config import ConfigError
from emobench.core.errors import UserError
from emobench.core.registry import Registry
from emobench.downstream.probe.config import default_grids
from emobench.downstream.probe.metrics import all_metrics

FAMILIES = Registry("classifier family")
_HERE = "emobench.downstream.probe.classifiers"
FAMILIES.register("logistic_regression", f"{_HERE}:logistic_regression", aliases=("lr",))
FAMILIES.register("svm", f"{_HERE}:svm", aliases=("svc",))
FAMILIES.register("lda", f"{_HERE}:lda")
FAMILIES.register("qda", f"{_HERE}:qda")
FAMILIES.register("random_forest", f"{_HERE}:random_forest", aliases=("rf",))


def logistic_regression(seed: int, max_iter: int) -> BaseEstimator:
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(max_iter=max_iter, random_state=seed)


def svm(seed: int, max_iter: int) -> BaseEstimator:
    from sklearn.svm import SVC

    return SVC(max_iter=max_iter, random_state=seed)


def lda(seed: int, max_iter: int) -> BaseEstimator:
    from sklearn.discriminant_analysis import LinearDiscriminantAnalysis

    return LinearDiscriminantAnalysis()


def qda(seed: int, max_iter: int) -> BaseEstimator:
    from sklearn.discriminant_analysis import QuadraticDiscriminantAnalysis

    return QuadraticDiscriminantAnalysis()


def random_forest(seed: int, max_iter: int) -> BaseEstimator:
    from sklearn.ensemble import RandomForestClassifier

    return RandomForestClassifier(random_state=seed, n_jobs=1)


@dataclass
class Search:
    """One family's grid search: every point's dev score, the chosen point, the refitted model."""

    family: str
    params: dict[str, Any]
    model: Pipeline
    grid: list[dict[str, Any]]
    warnings: dict[str, int] = field(default_factory=dict)


def grid_points(family: str, grid: Any) -> list[dict[str, Any]]:
    """The grid's points; a malformed grid or an unknown parameter is a ConfigError.

    >>> grid_points("qda", {"reg_param": [0.0, 0.5]})
    [{'reg_param': 0.0}, {'reg_param': 0.5}]
    """
    where = f"probe.grids.{family}"
    try:
        points = list(ParameterGrid(grid if grid is not None else {}))
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{where}: not a grid ({exc})") from None
    known = FAMILIES.get(family)(0, 1).get_params()
    unknown = sorted({key for point in points for key in point if key not in known})
    if unknown:
        raise ConfigError(f"{where}: {unknown} are not parameters of {family} "
                          f"({', '.join(sorted(known))})")
    return points


def pipeline(family: str, params: dict[str, Any], seed: int, max_iter: int,
             standardize: bool) -> Pipeline:
    estimator = FAMILIES.get(family)(seed, max_iter).set_params(**params)
    steps = [("scale", StandardScaler())] if standardize else []
    return Pipeline([*steps, ("classifier", estimator)])


def first_line(message: object) -> str:
    """A warning's first line (scikit-learn's go on with generic advice and links).

    >>> first_line("lbfgs failed to converge (status=1):\\nSTOP: TOTAL NO. OF ITERATIONS")
    'lbfgs failed to converge (status=1):'
    """
    lines = str(message).strip().splitlines()
    return lines[0].strip() if lines else ""


@contextlib.contextmanager
def recording(caught: Counter) -> Iterator[None]:
    """Every warning raised inside is added to ``caught`` (``"Category: first line"`` ->
    count) instead of being printed."""
    with warnings.catch_warnings(record=True) as raised:
        warnings.simplefilter("always")
        yield
    for item in raised:
        caught[f"{item.category.__name__}: {first_line(item.message)}"] += 1


def fit_recording(model: Pipeline, x: np.ndarray, y: np.ndarray,
                  caught: Counter) -> Pipeline:
    """Fit ``model``, adding every warning it raises to ``caught`` (message -> count)."""
    with recording(caught):
        model.fit(x, y)
    return model


def search(family: str, grid: Any, splits: dict[str, tuple[np.ndarray, np.ndarray]], *,
           seed: int, max_iter: int, standardize: bool, refit: str, metric: str,
           log: Callable[[str], None] = lambda _: None) -> Search:
    """Grid search of one family: fit on ``splits["train"]``, score on ``splits["dev"]``."""
    points = grid_points(family, grid)
    (x_train, y_train), (x_dev, y_dev) = splits["train"], splits["dev"]
    caught: Counter = Counter()
    scored, best = [], None
    for params in points:
        try:
            model = fit_recording(pipeline(family, params, seed, max_iter, standardize),
                                  x_train, y_train, caught)
        except (ValueError, np.linalg.LinAlgError) as exc:  # this point cannot be fitted
            error = f"{type(exc).__name__}: {first_line(exc)}"
            caught[f"fit failed for {params}: {error}"] += 1
            scored.append({"params": params, "error": error})
            log(f"{family} {params}: fit failed ({exc})")
            continue
        with recording(caught):
            dev = all_metrics(y_dev, model.predict(x_dev))
        scored.append({"params": params, "dev": dev})
        if best is None or dev[metric] > best[1]:
            best = (params, dev[metric])
        log(f"{family} {params}: dev {metric} {dev[metric]:.4f}")
    if best is None:
        raise UserError(f"probe.grids.{family}: no grid point could be fitted; first error: "
                        f"{scored[0]['error']}")
    if refit == "train_dev":
        x_fit, y_fit = np.concatenate([x_train, x_dev]), np.concatenate([y_train, y_dev])
    else:
        x_fit, y_fit = x_train, y_train
    model = fit_recording(pipeline(family, best[0], seed, max_iter, standardize), x_fit, y_fit,
                          caught)
    return Search(family, best[0], model, scored, dict(caught))


def check_families(families: list[str], grids: dict[str, Any]) -> list[str]:
    """Canonical family names, each with a valid grid (``grids``' or the default);
    unknown names are errors."""
    if not families:
        raise ConfigError("probe.families is empty: name at least one of "
                          f"{', '.join(FAMILIES.names())}")
    canonical = [FAMILIES.canonical(f) for f in families]
    for family in canonical:
        grid_points(family, grids.get(family, default_grids()[family]))
    extra = sorted(set(grids) - set(FAMILIES.names()))
    if extra:
        raise ConfigError(f"probe.grids: unknown classifier families {extra}; known: "
                          f"{', '.join(FAMILIES.names())}")
    return canonical
