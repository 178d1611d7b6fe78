"""Generate the pebench dataset: fictitious people x event scenes, QA rows, forget/retain configs.

`build(out, people=200, events=40, ...)` writes a folder that `datasets.load_dataset(folder, config)`
loads offline; `read_metadata(folder)` returns its seed, sizes, targets and fingerprint.
"""
from data_builders.build import build, read_metadata

__all__ = ["build", "read_metadata"]
