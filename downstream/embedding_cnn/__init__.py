"""The seed-000 paper's task-specific embedding CNN, trained on hard labels (``-d embedding_cnn``)."""
