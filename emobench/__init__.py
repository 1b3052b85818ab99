"""emobench: an S3PRL-style benchmark toolkit for speech emotion research.

The repository's top level shows the architecture:

- ``upstream/``   frozen self-supervised models (through s3prl) and the layer-weighting featurizer;
- ``downstream/`` tasks (heads, losses, metrics, outputs), one package per task;
- ``corpora/``    preparation recipes that write a task's label files from a corpus's own files;
- ``emobench/``   what they share: registries, layered configs, the command line, experiment folders.
"""

__version__ = "0.1.0"
