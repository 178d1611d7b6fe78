"""pebench: does a vision-language model really forget a person or an event?"""

__version__ = "0.1.0"


def load(path, config="full", split=None):
    """Load a pebench dataset folder offline with `datasets.load_dataset`.

    Args:
        path: a folder written by `pebench build` (or a hub id when online).
        config: one of `pebench.schema.CONFIGS`.
        split: a split name, or None for a `DatasetDict`.
    """
    import datasets

    return datasets.load_dataset(str(path), config, split=split)
