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


@pytest.fixture(autouse=True, scope="session")
def one_torch_thread():
    """One torch thread for every test: tiny models gain nothing from two, and on a busy 2-core machine
    two OpenMP threads mostly wait on each other (a 0.4 M-parameter step went from 0.06 s to 2.9 s)."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def small_data(tmp_path_factory):
    """A 12-person x 6-event dataset folder (seconds to build), shared by every test."""
    import data_builders

    return data_builders.build(tmp_path_factory.mktemp("data") / "small", **SMALL)


# Tiny models trained on `small_data` (model part) at the `tiny` preset's defaults (40 epochs, lr 3e-3).
# One torch thread while training: on a shared 2-core machine two OpenMP threads wait on each other and
# a 0.3 M-parameter step took 2.9 s instead of 0.06 s.
TINY_TRAIN = dict(config="person_forget05", model="tiny", seed=0, progress=False)


def _train_tiny(small_data, tmp_path_factory, subset):
    from pebench.training import train

    out = tmp_path_factory.mktemp("models") / f"tiny_{subset}"
    train(small_data, subset=subset, out=out, **TINY_TRAIN)
    return out


@pytest.fixture(scope="session")
def tiny_finetuned(small_data, tmp_path_factory):
    """Checkpoint folder: the `tiny` preset fine-tuned on `full/train` (knows every person)."""
    return _train_tiny(small_data, tmp_path_factory, "full")


@pytest.fixture(scope="session")
def tiny_goal(small_data, tmp_path_factory):
    """Checkpoint folder: the `tiny` preset trained on `person_forget05/retain_train` only (the goal model)."""
    return _train_tiny(small_data, tmp_path_factory, "retain")



@pytest.fixture(scope="session")
def family_checkpoint(small_data, tmp_path_factory):
    """Factory: `family_checkpoint(name)` -> a saved tiny checkpoint folder of a `pebench.families` family.

    The tokenizer is trained on `small_data`'s texts; each family is built once per session (well under a
    second). A family whose optional packages are missing here (Qwen2-VL without a working torchvision)
    skips with the one-line reason the user would get.
    """
    from pebench import families, tiny
    from pebench.errors import UserError

    texts, built = tiny.dataset_texts(small_data), {}

    def make(name):
        if name not in built:
            try:
                built[name] = families.create(name, texts, tmp_path_factory.mktemp("families") / name)
            except UserError as err:
                built[name] = err
        if isinstance(built[name], UserError):
            pytest.skip(f"blocked: {built[name]}")
        return built[name]

    return make
