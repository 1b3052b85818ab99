"""The generic multitask task: targets declared in the config (docs/tasks.md)."""
