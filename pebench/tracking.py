"""Experiment tracking the ecosystem's way: the Trainer's own `report_to` integrations.

`pebench train|unlearn --report-to tensorboard|wandb|mlflow` hands the name to `TrainingArguments`
(`pebench.training.trainer_arguments`); "none" (the default) reports nowhere, as before. TensorBoard
event files go to `OUT/runs/` (where the hub shows a model repo's training metrics), or to
`TENSORBOARD_LOGGING_DIR` when that is set; wandb and mlflow follow their own settings (`WANDB_*`,
`MLFLOW_*`; e.g. `WANDB_MODE=offline`).
"""
import contextlib
import importlib.util
import os
import shutil
from pathlib import Path

from pebench.errors import UserError

REPORT_TO = ("none", "tensorboard", "wandb", "mlflow")
# what each integration imports (transformers' own availability checks), and what to install
PACKAGES = {"tensorboard": (("tensorboard", "tensorboardX"), "tensorboardX"), "wandb": (("wandb",), "wandb"),
            "mlflow": (("mlflow",), "mlflow")}
LOG_DIR = "runs"
ENV = "TENSORBOARD_LOGGING_DIR"


def report_to(name):
    """The `TrainingArguments.report_to` value for `name`; a clear error for an unknown or missing one."""
    if name not in REPORT_TO:
        raise UserError(f"unknown --report-to {name!r}; choose from: {', '.join(REPORT_TO)}")
    if name == "none":
        return []
    modules, package = PACKAGES[name]
    if not any(importlib.util.find_spec(module) for module in modules):
        raise UserError(f"--report-to {name} needs the {package} package: pip install {package} "
                        "(or pip install 'pebench[tracking]')")
    return [name]


@contextlib.contextmanager
def tensorboard_logs(out, name):
    """Around a run: TensorBoard writes beside `out`, and the event files move into `out/runs/` after it.

    Why beside: the run's model folder is written at the end in one rename (`pebench.io.atomic_dir`), so
    nothing can be written inside it while training. A set `TENSORBOARD_LOGGING_DIR` is left alone.
    """
    if name != "tensorboard" or os.environ.get(ENV):
        yield
        return
    staging = Path(out).resolve().parent / f".{Path(out).name}.runs"
    os.environ[ENV] = str(staging)
    try:
        yield
    finally:  # a diverged unlearning run raises after saving its model: its logs go with it too
        os.environ.pop(ENV, None)
        if staging.is_dir() and Path(out, "config.json").is_file():
            shutil.rmtree(Path(out, LOG_DIR), ignore_errors=True)
            shutil.move(str(staging), str(Path(out, LOG_DIR)))
