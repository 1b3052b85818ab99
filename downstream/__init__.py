"""Downstream tasks. Each task is one package registered in :data:`TASKS` by name.

A task module exposes ``CONFIG`` (its typed config dataclass), ``check(config)``,
``train(ctx)``, ``evaluate(ctx)`` and ``demo(root)`` (the data layer of its demo corpus).
"""

from emobench.registry import Registry

TASKS = Registry("task")
TASKS.register("emotion", "downstream.emotion.task",
               description="EMO-SUPERB soft-label emotion recognition (threshold macro-F1)")

__all__ = ["TASKS"]
