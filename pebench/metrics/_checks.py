"""Input checks shared by the metrics (not a metric: underscore modules are not registered)."""
import numpy as np

from pebench.errors import UserError


def same_length(name, *seqs):
    sizes = {len(s) for s in seqs}
    if len(sizes) > 1:
        raise UserError(f"{name}: inputs have different lengths {sorted(sizes)}")


def non_empty(name, values, what="values"):
    if len(values) == 0:
        raise UserError(f"{name}: no {what} to score (the split or subset is empty)")


def as_float_array(name, values):
    array = np.asarray(values, dtype=np.float64)
    non_empty(name, array)
    if not np.all(np.isfinite(array)):
        raise UserError(f"{name}: inputs contain NaN or infinite values")
    return array
