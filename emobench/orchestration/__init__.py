"""Orchestration: the command line, one module per mode, sweeps and report tables.

The top layer: it may import every other layer; nothing imports it.
"""
