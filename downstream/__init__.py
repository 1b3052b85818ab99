"""Downstream tasks. Each task is one package registered in :data:`TASKS` by name.

A task module exposes ``CONFIG`` (its typed config dataclass), ``check(config)``,
``train(ctx)``, ``evaluate(ctx)``, ``extract(ctx, shard)``, ``demo(root)`` (the data layer of
its demo corpus) and ``SELECTION`` (the validation split, metric and direction that
``--seeds`` uses to pick the best seed; ``selection_of(config)``, when the task has it, gives
them for a config). ``EARLY_FUSION = True`` says the task takes several upstreams (``-u a,b``);
without it a comma list is refused.
"""

from emobench.core.registry import Registry

TASKS = Registry("task")
TASKS.register("emotion", "emobench.downstream.emotion.task",
               description="EMO-SUPERB soft-label emotion recognition (threshold macro-F1)")
TASKS.register("multitask", "emobench.downstream.multitask.task",
               description="any targets declared in the config (categorical, soft labels, "
                           "intensities, regression; docs/tasks.md)")
TASKS.register("exvo_mtl", "emobench.downstream.exvo.task", aliases=("exvo_multitask",),
               description="ICML ExVo 2022 multitask on HUME-VB: 10 intensities (CCC), age "
                           "(MAE), country (UAR), S_MTL (a multitask target config)")
TASKS.register("exvo_fewshot", "emobench.downstream.exvo.fewshot_task",
               description="ICML ExVo 2022 few-shot: per-speaker personalisation from k support "
                           "clips, query CCC")
TASKS.register("probe", "emobench.downstream.probe.task",
               description="SERAB's classical classifiers (LR, SVM, LDA, QDA, RF) grid-searched "
                           "on pooled features (docs/serab.md)")

TASKS.register("embedding_cnn", "emobench.downstream.embedding_cnn.task",
               description="the seed-000 paper's Raw/Zff CNN embedding on hard labels (-u "
                           "raw_cnn or zff_cnn; its checkpoint is then their -k)")

__all__ = ["TASKS"]
