"""``-m inference -e EXPERIMENT --audio FILE|FOLDER|LIST.txt``: predict new recordings with a
trained model and write one CSV row per file (docs/inference.md)."""

from __future__ import annotations

from pathlib import Path

from emobench.core import io
from emobench.core.errors import UserError
from emobench.core.experiment import LOG, setup_logging
from emobench.downstream.inference import audio_files
from emobench.orchestration.inference import load_predictor
from emobench.orchestration.request import Request


def run(request: Request) -> int:
    if not request.past_exp:
        raise UserError("-m inference needs -e EXPERIMENT (a trained experiment folder or its "
                        "checkpoint)")
    if not request.audio:
        raise UserError("-m inference needs --audio FILE, FOLDER or LIST.txt")
    if request.trainable or request.trainable_layers is not None:
        raise UserError("-f/--upstream_trainable applies to training: -m inference uses the "
                        "upstream as the checkpoint records it")
    files = audio_files(request.audio)  # every bad path named before anything is written
    predictor = load_predictor(request.past_exp, request.device, request.upstream_ckpt,
                               request.override)
    folder = (Path(request.expdir).absolute() if request.expdir
              else predictor.restored.checkpoint.parent / "inference")
    setup_logging(folder, request.verbose)
    LOG.info("inference: %d file(s) from %s with %s (%s)", len(files), request.audio,
             predictor.restored.checkpoint, predictor.task)
    predictions = predictor.predict(files)
    out = predictions.to_csv(folder / "predictions.csv")
    io.write_json(folder / "inference.json",
                  {"task": predictor.task, "checkpoint": str(predictor.restored.checkpoint),
                   "audio": str(request.audio), "files": len(files),
                   "csv": out.name, "info": predictions.info})
    LOG.info("wrote %s (%d rows)", out, len(files))
    print(out)
    return 0
