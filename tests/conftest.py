"""Shared fixtures. Heavy artefacts (dataset, tiny models) are built once per session and reused.

The Hugging Face caches point at a temporary folder and the hub is off: tests never touch the network.
"""
import os
import tempfile

_HF = tempfile.mkdtemp(prefix="pebench-hf-")
os.environ.update(
    HF_HOME=_HF,
    HF_DATASETS_CACHE=os.path.join(_HF, "datasets"),
    HF_HUB_OFFLINE="1",
    HF_DATASETS_OFFLINE="1",
    TRANSFORMERS_OFFLINE="1",
    TOKENIZERS_PARALLELISM="false",
)

import pytest  # noqa: E402

SMALL = dict(people=12, events=6, variants=2, image_size=64, seed=0)


@pytest.fixture(scope="session")
def small_data(tmp_path_factory):
    """A 12-person x 6-event dataset folder (seconds to build), shared by every test."""
    import data_builders

    return data_builders.build(tmp_path_factory.mktemp("data") / "small", **SMALL)
