"""The one reader of dataset folders: metadata, fingerprint, splits and rows, with one set of errors.

Every stage (train, unlearn, evaluate, recompute, the board) reads a `pebench build` folder through
these functions, so a missing folder, config or split is reported the same way everywhere.
"""
import json
from pathlib import Path

from pebench.errors import UserError


def metadata(data_dir):
    """The folder's `metadata.json` (seed, sizes, per-config targets, fingerprint)."""
    path = Path(data_dir, "metadata.json")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserError(f"{data_dir} is not a pebench dataset folder (no metadata.json); "
                        "build one with `pebench build`") from None
    except (OSError, ValueError) as err:
        raise UserError(f"{path} is unreadable: {_first_line(err)}") from None


def fingerprint(data_dir):
    """The dataset's fingerprint (sha256 over its data files): what results and cards record."""
    value = metadata(data_dir).get("fingerprint")
    if not isinstance(value, str) or not value:
        raise UserError(f"{data_dir}/metadata.json has no fingerprint")
    return value


def fingerprint_files(root, paths):
    """sha256 over each data file's relative path and bytes, in the order given (sorted by the builder).

    The one definition: the builder records it in `metadata.json`; `pebench publish` checks a release
    against it before uploading.
    """
    import hashlib

    digest = hashlib.sha256()
    for rel in paths:
        digest.update(rel.encode())
        digest.update(Path(root, rel).read_bytes())
    return digest.hexdigest()


def load_split(data_dir, config, split, required=True):
    """One split as a `datasets.Dataset` (offline); None when it is absent and not `required`.

    The prepared Arrow cache is kept per dataset fingerprint (`cache_dir`): `datasets` keys a local
    folder's cache by its card and paths, not by the files' contents, so a release rebuilt in the same
    folder was served from the old cache (seen: an events table without the column the new generator added).
    """
    import datasets
    from datasets.exceptions import DatasetGenerationError

    try:
        return datasets.load_dataset(str(data_dir), config, split=split, cache_dir=cache_dir(data_dir))
    except DatasetGenerationError as err:  # e.g. a shard without rows or a corrupt file
        raise UserError(f"cannot read split {split!r} of config {config!r} in {data_dir}: "
                        f"{_first_line(err.__cause__ or err)}") from None
    except (ValueError, KeyError, FileNotFoundError) as err:
        if not required:
            return None
        raise UserError(f"{data_dir} has no split {split!r} in config {config!r} ({_first_line(err)})") from None


def cache_dir(data_dir):
    """Where `datasets` keeps this release's prepared Arrow files: one folder per fingerprint."""
    import datasets

    return str(Path(datasets.config.HF_DATASETS_CACHE) / "pebench" / fingerprint(data_dir)[:16])


def load_rows(data_dir, config, split, columns=None):
    """Rows of one split as dicts, images left undecoded and dropped unless `columns` asks for them."""
    ds = load_split(data_dir, config, split)
    keep = columns or [c for c in ds.column_names if c != "image"]
    return ds.select_columns(keep).to_list()


def _first_line(err):
    text = str(err).strip()
    return (text.splitlines()[0] if text else type(err).__name__)[:160]
