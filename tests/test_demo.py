"""The one-command demo: stage caching, resumption, bad input; the whole quick run is a slow test."""
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


@pytest.mark.slow
def test_quick_demo_runs_every_stage_and_builds_the_board(tmp_path):
    out = tmp_path / "quick"
    assert main(["demo", "--preset", "quick", "--out", str(out)]) == 0
    board = (out / "leaderboard" / "leaderboard.md").read_text()
    assert "0 refused" in board and "| goal" in board and "| ga" in board
    raw = (out / "table.md").read_text()  # raw PEBench cells, one row per model
    assert "| Finetune |" in raw and "| GA |" in raw and "| Goal |" in raw
