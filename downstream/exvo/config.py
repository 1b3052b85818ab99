"""Typed defaults of the ExVo multitask task (ICML ExVo 2022, PROTOCOLS.md section 3): the
generic multitask config whose defaults are HUME-VB's declaration in
``configs/exvo_mtl/hume_vb.yaml`` (ten intensities, age, country; S_MTL; the ExVo outputs)."""

from __future__ import annotations

from emobench.downstream.multitask.config import declared

ExVoConfig = declared("exvo_mtl/hume_vb.yaml", "ExVoConfig")
