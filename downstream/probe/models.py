"""The probe's saved models: one joblib file per classifier family and a plain-data checkpoint.

The joblib files are pickles written by this toolkit into the experiment folder: trusted
artefacts of one's own runs, like any scikit-learn model file. Loading unpickles them, which can
run code, so they are loaded only after their sha256 matches the one the checkpoint recorded
(the checkpoint itself is read with ``torch.load(weights_only=True)``); never load a probe
experiment folder from an untrusted source.
"""

from __future__ import annotations

import io as bytes_io
from pathlib import Path
from typing import Any

import joblib

from emobench.core import io
from emobench.core.config import ConfigError

CHECKPOINT_FORMAT = "emobench-probe-1"
CHECKPOINT = "dev-best.ckpt"
MODELS = "models"


def save_model(folder: Path, family: str, model: Any) -> dict[str, str]:
    """``models/<family>.joblib`` (atomic); its relative path and sha256."""
    buffer = bytes_io.BytesIO()
    joblib.dump(model, buffer)
    path = io.write_bytes(folder / MODELS / f"{family}.joblib", buffer.getvalue())
    return {"file": f"{MODELS}/{path.name}", "sha256": io.sha256_file(path)}


def load_model(folder: Path, record: dict[str, str]) -> Any:
    """A family's model, after checking its file against the recorded sha256."""
    path = folder / record["file"]
    if not path.is_file():
        raise ConfigError(f"{path}: the probe model file is missing")
    if io.sha256_file(path) != record["sha256"]:
        raise ConfigError(f"{path}: sha256 differs from the one its checkpoint recorded (the file "
                          "was changed after training); refusing to unpickle it")
    return joblib.load(path)
