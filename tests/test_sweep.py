"""`pebench sweep`: a grid of methods x settings x seeds run locally and on a real local Ray instance, a
worker killed mid-sweep, the selection on validation numbers, the board's mean +- std rows, bad grids."""
import json
import os
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from pebench.cli import main

# The tiniest settings that still train: 2 optimiser steps of 4 forget rows, an 8-row validation probe.
TINY = {"steps": 2, "batch_size": 4, "curve_every": 1, "probe_size": 8}


def write_grid(folder, small_data, finetuned, goal, **changes):
    grid = {"data": str(small_data), "finetuned": str(finetuned), "goal": str(goal), "configs": ["person_forget05"],
            "seeds": [0, 1], "select": "budget", "set": dict(TINY), "evaluate": {"bootstrap": 50},
            "methods": {"ga": {"lr": [1e-4, 1e-3]}, "gd": {"lr": [1e-4, 1e-3]}}}
    grid.update(changes)
    path = Path(folder) / "grid.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump({k: v for k, v in grid.items() if v is not None}))
    return path


def result_bytes(out):
    """{path: bytes} of every result file (not the hidden stage stamps, which hold the sweep's own paths)."""
    return {p.relative_to(out).as_posix(): p.read_bytes() for p in sorted(Path(out, "results").rglob("[!.]*.json"))}


def ray_available():
    try:
        import ray  # noqa: F401
    except ImportError:
        return False
    return True


def sweep_killing_a_worker(argv):
    """Run `pebench sweep` and SIGKILL the worker process running the first unlearning; returns its output."""
    sweep = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    pids, killed, lines = {}, None, []
    for line in sweep.stdout:
        lines.append(line)
        job = re.search(r"\[job\]\s+(\S+) pid (\d+)", line)
        if job:
            pids[job.group(1)] = int(job.group(2))
        started = re.search(r"\[run\]\s+unlearn (\S+)", line)
        if started and killed is None and started.group(1) in pids:
            killed = started.group(1)
            os.kill(pids[killed], signal.SIGKILL)
    output = "".join(lines)
    assert sweep.wait() == 0, output[-3000:]
    assert killed is not None, output[-3000:]
    return output


@pytest.fixture(scope="module")
def swept(small_data, tiny_finetuned, tiny_goal, tmp_path_factory):
    """The same 2 methods x 2 lrs x 2 seeds grid through the local executor and through Ray (2 workers),
    each with the worker of its first unlearning killed mid-sweep."""
    folder = tmp_path_factory.mktemp("sweep")
    grid = write_grid(folder, small_data, tiny_finetuned, tiny_goal)
    outs, logs = {}, {}
    for executor in ("local", "ray") if ray_available() else ("local",):
        outs[executor] = folder / executor
        argv = [sys.executable, "-m", "pebench", "sweep", str(grid), "--out", str(outs[executor]), "--workers", "2",
                "--cores", "2", "--executor", executor]
        logs[executor] = sweep_killing_a_worker(argv)
    return outs, logs


def test_the_grid_runs_every_job_once_and_the_executors_agree_byte_for_byte(swept):
    swept, _ = swept
    local = result_bytes(swept["local"])
    assert len(local) == 8 and len(list(Path(swept["local"], "references").rglob("[!.]*.json"))) == 2
    if "ray" not in swept:
        pytest.skip("ray is not installed (pip install 'pebench[ray]'): the local half ran")
    ray = result_bytes(swept["ray"])
    assert sorted(ray) == sorted(local)
    assert [name for name in local if local[name] != ray[name]] == []


def test_the_chosen_setting_comes_from_validation_numbers_and_reports_its_seeds(swept):
    from pebench import selection

    out = swept[0]["local"]
    summary = json.loads((out / "summary.json").read_text())["chosen"]
    assert sorted(s["method"] for s in summary) == ["ga", "gd"]
    for item in summary:
        cards = {}
        for card_path in Path(out, "models", "person_forget05").glob(f"{item['method']}-*/unlearning.json"):
            setting = card_path.parent.name.split("-", 1)[1].rsplit("-seed", 1)[0]
            cards.setdefault(setting, []).append(json.loads(card_path.read_text()))
        assert item["setting_id"] == selection.choose(cards)  # the sweep calls the selection rule, nothing else
        assert item["seeds"] == [0, 1] and item["rule"] == "budget"
        efficacy = item["cells"]["efficacy"]
        values = [s["value"] for s in efficacy["per_seed"]]
        assert efficacy["n"] == 2 and efficacy["mean"] == pytest.approx(sum(values) / 2)
        assert all(len(s["ci95"]) == 2 for s in efficacy["per_seed"])
    rows = (out / "sweep.csv").read_text().splitlines()
    assert len(rows) == 9 and rows[0].startswith("config,method,setting,seed,chosen,status,selection_rule")
    assert sum(line.split(",")[4] == "1" for line in rows[1:]) == 4  # 2 methods x 2 seeds of the chosen settings
    assert (out / "sweep.svg").read_text().startswith("<svg") and "(chosen)" in (out / "sweep.svg").read_text()


def test_the_board_shows_seed_count_mean_std_and_setting_and_verifies_every_seed(swept, small_data, tmp_path):
    out = swept[0]["local"]
    board = (out / "leaderboard" / "leaderboard.md").read_text()
    assert "2 verified, 0 refused" in board and "| Seeds | Overall mean ± std |" in board
    rows = [line for line in board.splitlines() if line.startswith("| 1 ") or line.startswith("| 2 ")]
    assert len(rows) == 2 and all(re.search(r"\| 2 \| \d\.\d{3} ± \d\.\d{3} \|", r) and "lr=" in r for r in rows)
    csv_header = (out / "leaderboard" / "leaderboard.csv").read_text().splitlines()[0]
    assert csv_header.endswith("seeds,overall_mean,overall_std," + csv_header.split("overall_std,")[1])

    # an edited aggregate in the second seed's result is caught: every seed is recomputed
    submissions = tmp_path / "submissions"
    submissions.mkdir()
    for path in Path(out, "submissions").glob("*.json"):
        entry = json.loads(path.read_text())
        entry["seeds"][0]["aggregates"]["efficacy"] += 1.0
        (submissions / path.name).write_text(json.dumps(entry))
    assert main(["leaderboard", "--submissions", str(submissions), "--data", str(small_data), "--out",
                 str(tmp_path / "board"), "--references", str(out / "references")]) == 0
    refused = (tmp_path / "board" / "leaderboard.md").read_text()
    assert "0 verified, 2 refused" in refused and "seeds\\[0\\]: aggregates.efficacy" in refused


def test_a_rerun_skips_every_finished_job(swept, capfd):
    out = swept[0]["local"]
    before = result_bytes(out)
    assert main(["sweep", str(out.parent / "grid.yaml"), "--out", str(out)]) == 0
    err = capfd.readouterr().err
    assert "[run]" not in err and err.count("[skip]") == 8 + 2 + 1  # 8 jobs, 2 reference scorings, the board
    assert result_bytes(out) == before


@pytest.mark.parametrize("executor", ["local", "ray"])
def test_a_worker_killed_mid_sweep_loses_and_duplicates_nothing(swept, executor):
    """The killed job was run again and every job's result exists exactly once, with no temporaries left."""
    outs, logs = swept
    if executor not in outs:
        pytest.skip("ray is not installed (pip install 'pebench[ray]')")
    out, log = outs[executor], logs[executor]
    if executor == "local":
        assert "[retry]" in log  # the pool broke; its unfinished jobs went to a new one
    results = sorted(p.name for p in Path(out, "results", "person_forget05").iterdir())
    visible = [r for r in results if not r.startswith(".")]
    assert len(visible) == len(set(visible)) == 8
    assert sorted(r for r in results if r.startswith(".")) == sorted(f".{n}.stage.json" for n in visible)
    models = Path(out, "models", "person_forget05")
    assert not [p for p in models.iterdir() if ".tmp-" in p.name]
    assert sorted(p.name for p in models.iterdir() if not p.name.startswith(".")) == sorted(
        v[:-len(".json")] for v in visible)


@pytest.mark.parametrize("change, message", [
    ({"methods": {"nope": {"lr": [1e-4]}}}, "unknown method 'nope'"),
    ({"methods": {"ga": {"learning_rate": [1e-4]}}}, "unknown key(s) learning_rate"),
    ({"methods": {}}, "the grid is empty"),
    ({"methods": {"ga": {"lr": []}}}, "empty list"),
    ({"seeds": []}, "empty list"),
    ({"select": "forget_test_nll"}, "names a test split"),
    ({"select": "best"}, "unknown selection rule"),
    ({"colour": "red"}, "unknown key(s) colour"),
    ({"data": "/nonexistent/data"}, "does not exist"),
])
def test_bad_grids_are_one_line_exit_2_and_write_nothing(change, message, small_data, tiny_finetuned, tiny_goal,
                                                         tmp_path, capsys):
    grid = write_grid(tmp_path, small_data, tiny_finetuned, tiny_goal, **change)
    assert main(["sweep", str(grid), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1, err
    assert not (tmp_path / "out").exists()


def test_an_unreachable_ray_is_one_line_exit_2(small_data, tiny_finetuned, tiny_goal, tmp_path, capsys):
    grid = write_grid(tmp_path, small_data, tiny_finetuned, tiny_goal)
    code = main(["sweep", str(grid), "--out", str(tmp_path / "out"), "--executor", "ray",
                 "--address", "127.0.0.1:9"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and ("not reachable" in err or "needs Ray" in err), err
    assert not (tmp_path / "out").exists()


def test_list_names_every_job_and_job_refuses_an_index_out_of_range(small_data, tiny_finetuned, tiny_goal, tmp_path,
                                                                    capsys):
    """`--list` / `--job N`: what a Slurm array needs (one index per job), nothing run."""
    grid = write_grid(tmp_path, small_data, tiny_finetuned, tiny_goal)
    assert main(["sweep", str(grid), "--out", str(tmp_path / "out"), "--list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2 + 8 and lines[0] == "0\tfinetuned-person_forget05" and lines[-1].startswith("9\tgd-")
    assert main(["sweep", str(grid), "--out", str(tmp_path / "out"), "--job", "10"]) == 2
    assert "--job must be in 0..9" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("grid", sorted(p.name for p in (Path(__file__).parents[1] / "examples").glob("*.yaml")))
def test_every_shipped_grid_file_loads(grid, tmp_path):
    """The example grids name real methods, keys and rules (their run folders stand in as empty ones here)."""
    from pebench.schema import FORGET_CONFIGS
    from pebench.sweep import load_grid

    (tmp_path / "examples").mkdir()
    shutil.copy(Path(__file__).parents[1] / "examples" / grid, tmp_path / "examples" / grid)
    for run in ("demo", "full"):
        for folder in ("data", "models/finetuned", *(f"models/{c}/goal" for c in FORGET_CONFIGS)):
            (tmp_path / "runs" / run / folder).mkdir(parents=True, exist_ok=True)
    loaded = load_grid(tmp_path / "examples" / grid)
    assert loaded["methods"] and loaded["seeds"] and loaded["configs"]
