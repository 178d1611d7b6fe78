"""Unlearning baselines: one file per method, each a loss registered by its lowercase acronym.

`METHODS.get("ga")` returns the loss function; `METHODS.names()` lists them (`pebench unlearn --list`).
"""
from pebench.registry import Registry

METHODS = Registry("method", "baselines")
