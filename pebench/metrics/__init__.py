"""Metrics: small functions returning per-sample values (or one corpus-level number), found by name.

One file per metric; a module registers its functions with `@METRICS.register()`. Whether higher is
better belongs to the *use* of a metric (see `pebench.results.CELLS`): name precision is bad on the
forget set and good on the retain set, so docstrings state the raw direction only. Every metric
carries `fn.example = (args, kwargs, expected)`, a hand case the registry-wide test runs. Modules whose
names start with "_" are helpers, not metrics.
"""
from pebench.registry import Registry

METRICS = Registry("metric", "pebench.metrics")


def example(*args, expected, **kwargs):
    """Decorator attaching a hand-checked call and its exact result to a metric."""

    def attach(fn):
        fn.example = (args, kwargs, expected)
        return fn

    return attach


def evaluate_module(name):
    """Folder of the offline `evaluate` module for a metric: `evaluate.load(evaluate_module("rouge_l"))`."""
    from pathlib import Path

    from pebench.errors import UserError

    folder = Path(__file__).with_name("evaluate_modules") / name
    if not (folder / f"{name}.py").is_file():
        choices = sorted(p.name for p in folder.parent.iterdir() if p.is_dir() and not p.name.startswith("_"))
        raise UserError(f"no evaluate module {name!r}; choose from: {', '.join(choices)}")
    return str(folder)
