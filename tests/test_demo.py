"""The one-command demo: stage caching, resumption after a kill, a second run, bad input."""
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pebench.cli import main
from pebench.commands.demo import _run_stage
from pebench.errors import UserError


def test_a_finished_stage_is_skipped_and_a_changed_one_reruns(tmp_path, capsys):
    out = tmp_path / "data"
    argv = ["build", "--out", str(out), "--people", "4", "--events", "3", "--workers", "1"]
    _run_stage(main, "build", argv, out, key=argv)
    first = (out / "metadata.json").stat().st_mtime_ns
    _run_stage(main, "build", argv, out, key=argv)
    assert "[skip] build" in capsys.readouterr().err
    assert (out / "metadata.json").stat().st_mtime_ns == first
    changed = [*argv[:-2], "--seed", "1"]
    _run_stage(main, "build", changed, out, key=changed)
    assert "[done] build" in capsys.readouterr().err
    assert (out / "metadata.json").stat().st_mtime_ns != first


def test_a_failed_stage_leaves_no_stamp_so_the_next_run_retries(tmp_path):
    out = tmp_path / "data"
    argv = ["build", "--out", str(out), "--people", "1", "--events", "3"]
    with pytest.raises(UserError, match="run the same command again"):
        _run_stage(main, "build", argv, out, key=argv)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("flag, value", [("--methods", "nope"), ("--configs", "person_forget99")])
def test_unknown_names_exit_2_with_one_line(tmp_path, capsys, flag, value):
    assert main(["demo", "--preset", "quick", "--out", str(tmp_path / "run"), flag, value]) == 2
    err = capsys.readouterr().err.strip()
    assert value in err and "choose from" in err and len(err.splitlines()) == 1
    assert not (tmp_path / "run").exists()


def test_methods_none_cannot_be_combined_with_a_method(tmp_path, capsys):
    assert main(["demo", "--preset", "quick", "--out", str(tmp_path / "run"), "--methods", "none,ga"]) == 2
    err = capsys.readouterr().err.strip()
    assert "'none' stands alone" in err and "ga" in err and len(err.splitlines()) == 1
    assert not (tmp_path / "run").exists()


@pytest.mark.slow
def test_quick_demo_runs_every_stage_and_builds_the_board(tmp_path):
    out = tmp_path / "quick"
    assert main(["demo", "--preset", "quick", "--out", str(out), "--pretrain"]) == 0
    base = json.loads((out / "models" / "base" / "pebench_pretrain.json").read_text())
    finetuned = json.loads((out / "models" / "finetuned" / "pebench_train.json").read_text())
    assert finetuned["model_kind"] == "base" and finetuned["base"]["fingerprint"] == base["fingerprint"]
    board = (out / "leaderboard" / "leaderboard.md").read_text()
    assert "0 refused" in board and "| goal" in board and "| ga" in board
    raw = (out / "table.md").read_text()  # raw PEBench cells, one row per model
    assert "| Finetune |" in raw and "| GA |" in raw and "| Goal |" in raw


def _demo(out, *extra):
    return [sys.executable, "-m", "pebench", "--threads", "1", "demo", "--preset", "quick", "--methods", "ga",
            "--out", str(out), *extra]


def _folder_bytes(folder):
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_a_killed_demo_resumes_and_a_finished_one_reruns_in_seconds(tmp_path):
    """Kill after the first model, resume to the end, then a second run skips every stage, same board."""
    out = tmp_path / "run"
    first = subprocess.Popen(_demo(out), stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    for line in first.stderr:
        if line.startswith("[done] train fine-tuned model"):
            first.kill()
            break
    first.wait()
    assert first.returncode != 0 and not (out / "leaderboard").exists()

    resumed = subprocess.run(_demo(out), capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert "[skip] build data" in resumed.stderr and "[skip] train fine-tuned model" in resumed.stderr
    assert "[done] build the leaderboard" in resumed.stderr
    board = _folder_bytes(out / "leaderboard")
    assert "leaderboard.md" in board and "index.html" in board

    start = time.perf_counter()
    again = subprocess.run(_demo(out), capture_output=True, text=True)
    seconds = time.perf_counter() - start
    assert again.returncode == 0, again.stderr[-2000:]
    stages = resumed.stderr.count("[run]") + resumed.stderr.count("[skip]")
    assert "[run]" not in again.stderr and again.stderr.count("[skip]") == stages
    assert "leaderboard.md" in again.stdout and "index.html" in again.stdout  # says where the board is
    assert _folder_bytes(out / "leaderboard") == board
    assert seconds < 30
    cards = [*out.glob("models/**/pebench_train.json"), *out.glob("models/**/unlearning.json"),
             *out.glob("results/**/[!.]*.json")]  # hidden files are the demo's stage stamps
    assert len(cards) >= 6 and not [c for c in cards if str(tmp_path) in c.read_text()]  # no absolute paths

    references = subprocess.run([*_demo(out)[:-4], "--methods", "none", "--out", str(out)], capture_output=True,
                                text=True)  # what `make reproduce SEEDS=N` runs before the sweep's methods
    assert references.returncode == 0, references.stderr[-2000:]
    assert "unlearn" not in references.stderr and "[run]  build the leaderboard" in references.stderr
    board = (out / "leaderboard" / "leaderboard.md").read_text()
    assert "| goal" in board and "| finetuned" in board and "| ga" not in board



@pytest.mark.slow
def test_methods_spread_over_two_workers_give_the_same_bytes_and_keys(tmp_path):
    """The methods' jobs run in a process pool with the keys of the one-process run: same result bytes."""
    one, two = tmp_path / "one", tmp_path / "two"
    one.mkdir()
    argv = [*_demo("run")[:-4], "--methods", "ga,npo", "--out", "run"]  # relative: the stage keys hold paths
    first = subprocess.run(argv, capture_output=True, text=True, cwd=one)
    assert first.returncode == 0, first.stderr[-2000:]
    shutil.copytree(one, two)
    for method in ("ga", "npo"):  # the stamps stay: only the outputs are gone, so only these stages re-run
        shutil.rmtree(two / "run" / "models" / "person_forget05" / method)
        (two / "run" / "results" / "person_forget05" / f"{method}.json").unlink()
    pooled = subprocess.run([*argv, "--workers", "2"], capture_output=True, text=True, cwd=two)
    assert pooled.returncode == 0, pooled.stderr[-2000:]
    log = pooled.stderr
    assert "[skip] train goal model" in log and "[skip] evaluate goal" in log
    assert len([line for line in log.splitlines() if line.startswith(("[job]  ga ", "[job]  npo "))]) == 2
    assert log.count("[run]  unlearn") == 2 and log.count("[run]  evaluate") == 2
    for method in ("ga", "npo"):
        result = Path("run", "results", "person_forget05", f"{method}.json")
        assert (two / result).read_bytes() == (one / result).read_bytes()
    assert "[skip] build the leaderboard" in log  # keyed by the results' bytes: nothing changed


def test_zero_workers_is_one_line_and_nothing_written(tmp_path, capsys):
    assert main(["demo", "--preset", "quick", "--out", str(tmp_path / "run"), "--workers", "0"]) == 2
    err = capsys.readouterr().err.strip()
    assert "--workers must be >= 1" in err and len(err.splitlines()) == 1 and not (tmp_path / "run").exists()


def test_a_new_generator_version_rebuilds_the_demo_data(monkeypatch):
    import data_builders.build  # noqa: F401  (the package exports a function of the same name)
    from pebench.commands.demo import _build_key

    build = sys.modules["data_builders.build"]
    argv = ["build", "--out", "run/data", "--people", "12", "--events", "6", "--seed", "0"]
    before = _build_key(argv)
    monkeypatch.setattr(build, "GENERATOR_VERSION", "99.0")
    assert _build_key(argv) != before and _build_key(argv)[:len(argv)] == argv


def test_a_new_scene_corpus_retrains_the_demo_base(monkeypatch, small_data):
    import data_builders.scenes as scenes
    from pebench.commands.demo import _pretrain_key

    argv = ["pretrain", "--data", str(small_data), "--model", "small", "--out", "run/models/base", "--seed", "0"]
    before = _pretrain_key(argv, small_data)
    monkeypatch.setattr(scenes, "CORPUS_VERSION", "99")
    after = _pretrain_key(argv, small_data)
    assert after != before and after[:len(argv)] == argv and after[-1] == "99"
