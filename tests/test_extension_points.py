"""Adding a thing touches one file: a metric file or a method file dropped into a copy of the package is
picked up by evaluation, the board and `pebench unlearn` with no other edit; the layers import downwards."""
import ast
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from pebench.methods import METHODS, config_file, hparams_of
from pebench.metrics import BOARD_KINDS, METRICS, cells, columns
from pebench.schema import RECORD_SPLITS

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("pebench", "data_builders", "baselines", "leaderboard")
# What each package may not import: the core knows no plugin; plugins know nothing above them.
FORBIDDEN = {"pebench": {"data_builders", "baselines", "leaderboard"}, "data_builders": {"baselines", "leaderboard"},
             "baselines": {"data_builders", "leaderboard"}, "leaderboard": {"baselines"}}


def imported_roots(path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.module.split(".")[0]


@pytest.mark.parametrize("package", PACKAGES)
def test_no_package_imports_a_package_above_it(package):
    bad = [f"{path.relative_to(ROOT)} imports {root}" for path in sorted((ROOT / package).rglob("*.py"))
           for root in imported_roots(path) if root in FORBIDDEN[package]]
    assert bad == []


# ------------------------------------------------------------------------------- the metric table
def test_every_cell_is_consistent_with_the_registry_and_the_schema():
    for cell in cells():
        assert cell.metric in METRICS, cell.name
        assert set(cell.splits) <= set(RECORD_SPLITS), cell.name
        assert (cell.column > 0) == (cell.board in BOARD_KINDS), cell.name
    for column in columns():  # a column declared by several blocks says the same everywhere
        same = [c for c in cells() if c.name == column.name]
        assert {(c.label, c.column, c.board, c.direction) for c in same} == {
            (column.label, column.column, column.board, column.direction)}


def _copy_package(tmp_path):
    copy = tmp_path / "copy"
    for package in PACKAGES:
        shutil.copytree(ROOT / package, copy / package, ignore=shutil.ignore_patterns("__pycache__", "submissions",
                                                                                        "board"))
    return copy


def _run(copy, code_or_args, cwd):
    env = {**os.environ, "PYTHONPATH": str(copy)}
    args = ["-c", code_or_args] if isinstance(code_or_args, str) else list(code_or_args)
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, env=env, cwd=cwd, timeout=600)


NEW_METRIC = '''
"""Answer length in words: a stand-in for a metric a contributor adds."""
from pebench.metrics import METRICS, Cell, as_groups, declare, example


@METRICS.register()
@example(["a b c", ""], expected=[3.0, 0.0])
def answer_words(predictions):
    """Per sample, the number of whitespace-separated words of a generated answer (a drop-in test)."""
    return [float(len(str(p or "").split())) for p in predictions]


def _retain_words(view):
    rows = view.rows("retain_test", None, need=("prediction",))
    return as_groups(answer_words([r["prediction"] for r in rows]))


declare(Cell("answer_words_retain", "Answer words", metric="answer_words", splits=("retain_test",),
             measure=_retain_words, column=6, board="keep"))
'''


def test_a_metric_file_dropped_in_reaches_results_and_the_board(tmp_path, small_data):
    copy = _copy_package(tmp_path)
    (copy / "pebench" / "metrics" / "answer_words.py").write_text(NEW_METRIC)
    code = f"""
import json
from leaderboard.example import make_example, references, synthetic_result
result = synthetic_result({str(small_data)!r}, "person_forget05", "ga", True,
                          references=references({str(small_data)!r}, "person_forget05"))
board = make_example({str(tmp_path / "board")!r}, {str(small_data)!r})
print(json.dumps({{"aggregates": sorted(result["aggregates"]), "columns": board["overall_metrics"],
                  "verified": board["counts"]["verified"]}}))
"""
    done = _run(copy, code, tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    got = json.loads(done.stdout.strip().splitlines()[-1])
    assert "answer_words_retain" in got["aggregates"] and got["columns"][-1] == "answer_words_retain"
    assert got["verified"] == 4
    header = (tmp_path / "board" / "leaderboard.csv").read_text().splitlines()[0].split(",")
    assert "answer_words_retain" in header and "answer_words_retain_score" in header
    assert "Answer words" in (tmp_path / "board" / "leaderboard.md").read_text()


# ----------------------------------------------------------------------------- the method protocol
NEW_METHOD = '''
"""A drop-in method: gradient ascent scaled by a factor (a stand-in for a contributor's method)."""
from baselines import METHODS
from baselines._common import nll
from pebench.methods import batch_fields, requires


def row_count(vlm, rows):
    import torch

    return torch.tensor([len(rows)])


@METHODS.register("scaled_ga")
@requires("retain")
@batch_fields(rows=row_count)
def loss(model, forget, retain, ref=None, factor=0.5):
    """Scaled gradient ascent: -factor * NLL(forget) + NLL(retain), checking its declared batch field."""
    assert int(forget["fields"]["rows"][0]) == forget["labels"].shape[0]
    return -factor * nll(model, forget) + nll(model, retain)
'''


def test_a_method_file_dropped_in_runs_through_pebench_unlearn(tmp_path, small_data, tiny_finetuned):
    copy = _copy_package(tmp_path)
    (copy / "baselines" / "scaled_ga.py").write_text(NEW_METHOD)
    out = tmp_path / "unlearned"
    done = _run(copy, ["-m", "pebench", "--threads", "1", "unlearn", "--data", str(small_data), "--config",
                       "person_forget05", "--model", str(tiny_finetuned), "--method", "scaled_ga", "--out", str(out),
                       "--set", "steps=2", "--set", "factor=0.25"], tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    card = json.loads((out / "unlearning.json").read_text())
    assert card["method"] == "scaled_ga" and card["hparams"] == {"factor": 0.25} and card["steps"] == 2
    listed = _run(copy, ["-m", "pebench", "unlearn", "--list"], tmp_path)
    assert "scaled_ga" in listed.stdout and "factor=0.5" in listed.stdout


@pytest.mark.parametrize("name", METHODS.names())
def test_a_method_yaml_holds_training_settings_only(name):
    """One source of defaults: a method's hyper-parameters live in its signature, never again in YAML."""
    from pebench.unlearning import TRAIN_DEFAULTS

    loss = METHODS.get(name)
    path = config_file(loss, name)
    values = yaml.safe_load(path.read_text()) if path.is_file() else {}
    assert set(values) <= set(TRAIN_DEFAULTS), f"{path.name} repeats {sorted(set(values) - set(TRAIN_DEFAULTS))}"
    assert not set(hparams_of(loss)) & set(TRAIN_DEFAULTS)  # a method parameter never shadows a setting
