"""Downstream tasks. Each task is one package registered in :data:`TASKS` by name.

A task module exposes ``CONFIG`` (its typed config dataclass) and ``run(mode, ctx)``.
"""

from emobench.registry import Registry

TASKS = Registry("task")
TASKS.register("emotion", "downstream.emotion.task",
               description="EMO-SUPERB soft-label emotion recognition (threshold macro-F1)")

__all__ = ["TASKS"]
