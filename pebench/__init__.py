"""pebench: does a vision-language model really forget a person or an event?"""

__version__ = "0.1.0"


def load(path, config="full", split=None):
    """Load a pebench dataset folder offline with `datasets.load_dataset`.

    Args:
        path: a folder written by `pebench build` (or a hub id when online).
        config: one of `pebench.schema.CONFIGS`.
        split: a split name, or None for a `DatasetDict`.
    """
    from pathlib import Path

    import datasets

    from pebench.data import cache_dir

    if Path(path).is_dir():  # a local release: its prepared cache is keyed by its fingerprint
        return datasets.load_dataset(str(path), config, split=split, cache_dir=cache_dir(path))
    return datasets.load_dataset(str(path), config, split=split)


def versions():
    """Versions of what the numbers depend on (no timestamps, no paths: same inputs -> same bytes)."""
    import platform

    import datasets
    import numpy
    import scipy
    import torch
    import transformers

    return {"python": platform.python_version(), "pebench": __version__, "torch": torch.__version__,
            "transformers": transformers.__version__, "datasets": datasets.__version__, "numpy": numpy.__version__,
            "scipy": scipy.__version__}
