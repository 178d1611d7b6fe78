"""Unlearning baselines: one file per method, each a loss registered by its lowercase acronym.

The registry lives in the core (`pebench.methods.METHODS`, package "baselines"): `METHODS.get("ga")`
returns the loss function; `METHODS.names()` lists them (`pebench unlearn --list`).
"""
from pebench.methods import METHODS

__all__ = ["METHODS"]
