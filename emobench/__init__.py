"""emobench: an S3PRL-style benchmark toolkit for speech emotion research.

The repository's top level shows the architecture:

- ``upstream/``   frozen self-supervised models (through s3prl) and the layer-weighting featurizer;
- ``downstream/`` tasks (heads, losses, metrics, outputs), one package per task;
- ``corpora/``    preparation recipes that write a task's label files from a corpus's own files;
- ``emobench/``   what they share: registries, layered configs, the command line, experiment folders.
"""

__version__ = "0.1.0"


def __getattr__(name: str):
    """``emobench.load_predictor``: imported on first use (the package itself stays light)."""
    if name == "load_predictor":
        import importlib

        return importlib.import_module("emobench.orchestration.inference").load_predictor
    raise AttributeError(f"module 'emobench' has no attribute {name!r}")
