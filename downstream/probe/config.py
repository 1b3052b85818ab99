"""Typed defaults of the probe task (``-d probe``); corpus configs under configs/probe/ override
them. The data section is the emotion task's (the same label folders, audio and feature cache)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from emobench.downstream.emotion.config import DataConfig

FAMILIES = ("logistic_regression", "svm", "lda", "qda", "random_forest")


def grid_of(settings: "ProbeSettings", family: str) -> Any:
    """The family's grid: the config's, else the default one."""
    return settings.grids[family] if family in settings.grids else default_grids()[family]


def default_grids() -> dict[str, Any]:
    """The toolkit's grids (SERAB's paper names the five families but gives no grid values).

    A family's grid is a mapping ``{parameter: [values]}`` or a list of such mappings
    (scikit-learn's ``ParameterGrid``); every parameter is the estimator's own keyword.
    """
    return {
        "logistic_regression": {"C": [1e-3, 1e-2, 1e-1, 1.0, 10.0, 100.0]},
        "svm": [{"kernel": ["linear"], "C": [1e-3, 1e-2, 1e-1, 1.0, 10.0]},
                {"kernel": ["rbf"], "C": [0.1, 1.0, 10.0, 100.0], "gamma": ["scale"]}],
        "lda": [{"solver": ["svd"]}, {"solver": ["lsqr"], "shrinkage": ["auto", 0.1, 0.5, 0.9]}],
        # scikit-learn >= 1.7 refuses QDA's default svd solver when a class has fewer samples
        # than features: covariance shrinkage (eigen solver) instead
        "qda": {"solver": ["eigen"], "shrinkage": ["auto", 0.1, 0.5, 0.9]},
        "random_forest": {"n_estimators": [100, 300], "max_depth": [None, 10, 20]},
    }


@dataclass
class FeaturesConfig:
    # per hidden state: its time-mean, or time-mean and standard deviation (from the cache's
    # mean and mean of squares). -l N uses hidden state N alone; without it every hidden
    # state's functionals are concatenated.
    functionals: Literal["mean", "mean_std"] = "mean"
    # z-score every feature by the mean and std of each speaker's own utterances (all splits,
    # features only, never labels) before anything else; needs SpkrID in the label file
    speaker_standardize: bool = False
    # z-score by training statistics inside every classifier's pipeline (fitted on what the
    # classifier is fitted on)
    standardize: bool = True


@dataclass
class ProbeSettings:
    families: list[str] = field(default_factory=lambda: list(FAMILIES))
    # {family: grid} replacing that family's default grid (default_grids) as a whole
    grids: dict[str, Any] = field(default_factory=dict)
    # what the chosen hyper-parameters are refitted on: train (SERAB) or train + dev
    refit: Literal["train", "train_dev"] = "train"
    # grid points and families are compared on dev by this metric (ties: the first in order)
    select_metric: Literal["accuracy", "uar", "macro_f1"] = "accuracy"
    max_iter: int = 1000  # logistic regression's and the linear SVM's iteration cap


@dataclass
class ProbeConfig:
    data: DataConfig = field(default_factory=DataConfig)
    features: FeaturesConfig = field(default_factory=FeaturesConfig)
    probe: ProbeSettings = field(default_factory=ProbeSettings)
    batch_size: int = 32  # of the upstream's feature extraction
