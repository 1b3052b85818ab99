"""ExVo 2022 multitask (``-d exvo_mtl``): ten emotion intensities, age and country of a vocal
burst from a frozen upstream's layer-weighted functionals (PROTOCOLS.md section 3).

A target config of the generic multitask task (downstream/multitask/): its defaults are
``configs/exvo_mtl/hume_vb.yaml`` (the targets, S_MTL as the selection score, the ExVo network
and training, the ExVo-Multi submission); what remains here is its demo corpus.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from emobench.downstream.exvo.config import ExVoConfig
from emobench.downstream.multitask.task import (EARLY_FUSION, check, evaluate,
                                                evaluate_checkpoint, extract, infer,
                                                selection_of, train)

__all__ = ["CONFIG", "EARLY_FUSION", "SELECTION", "check", "demo", "evaluate",
           "evaluate_checkpoint", "extract", "infer", "selection_of", "train"]

CONFIG = ExVoConfig
SELECTION = ("val", "s_mtl", True)  # split, metric, higher is better (used by --seeds)


def demo(root: Path, layers: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Build the synthetic HUME-VB-format demo corpus under ``root``; its data config layer.

    ``layers`` (the config file's layer) is not used: the demo has one condition.
    """
    from emobench.corpora import demo_hume_vb

    # 48 speakers (24 train), 1440 bursts: enough for the baseline network to learn all three
    # tasks speaker-independently within the protocol's 20 epochs of batch 8
    data_info = demo_hume_vb.build(root, seed=0, speakers_per_country=12, bursts_per_speaker=30)
    return {"data": {"data_info": str(data_info), "audio_root": str(data_info.parent / "wav"),
                     "corpus": "demo_hume_vb"}}
