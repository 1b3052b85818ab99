"""The shared core: configs, registries, files, audio, scores, experiment folders.

It knows nothing of upstreams, tasks or corpora (tests/test_architecture.py checks this).
"""
