"""Core pieces: registry, atomic outputs, CLI error handling."""
import importlib
import json
import pkgutil

import pytest

import pebench
from pebench.cli import main
from pebench.errors import UserError
from pebench.io import atomic_dir, atomic_write_json
from pebench.registry import Registry


def test_registry_registers_and_finds_by_name():
    reg = Registry("thing")

    @reg.register("a")
    def a():
        return 1

    assert reg.get("a") is a and reg.names() == ["a"] and "a" in reg


def test_registry_rejects_duplicates_and_lists_choices_for_unknown():
    reg = Registry("thing")
    reg.register("a")(lambda: 1)
    with pytest.raises(ValueError, match="twice"):
        reg.register("a")(lambda: 2)
    with pytest.raises(UserError, match="choose from: a"):
        reg.get("b")


def test_registry_imports_out_of_tree_objects():
    assert Registry("thing").get("json:dumps") is json.dumps


def test_atomic_dir_leaves_nothing_on_failure(tmp_path):
    out = tmp_path / "out"
    with pytest.raises(RuntimeError):
        with atomic_dir(out) as tmp:
            (tmp / "half.txt").write_text("x")
            raise RuntimeError("boom")
    assert not out.exists() and list(tmp_path.iterdir()) == []


def test_atomic_dir_refuses_non_empty_folder_without_overwrite(tmp_path):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "keep.txt").write_text("x")
    with pytest.raises(UserError, match="--overwrite"):
        with atomic_dir(tmp_path / "out"):
            pass
    with atomic_dir(tmp_path / "out", overwrite=True) as tmp:
        (tmp / "new.txt").write_text("y")
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["new.txt"]


def test_atomic_write_json_is_deterministic(tmp_path):
    atomic_write_json(tmp_path / "a.json", {"b": 1, "a": [1.5, "é"]})
    atomic_write_json(tmp_path / "b.json", {"a": [1.5, "é"], "b": 1})
    assert (tmp_path / "a.json").read_bytes() == (tmp_path / "b.json").read_bytes()


def test_every_module_imports():
    for package in ("pebench", "data_builders", "baselines", "leaderboard"):
        pkg = importlib.import_module(package)
        for info in pkgutil.walk_packages(pkg.__path__, prefix=f"{package}."):
            if not info.name.endswith("__main__"):
                importlib.import_module(info.name)


def test_cli_help_lists_every_command(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    for name in ("build", "train", "evaluate", "unlearn", "leaderboard", "submit", "demo"):
        assert name in out
    assert pebench.__version__


def test_threads_flag_sets_torch_threads_and_refuses_zero(capsys, tmp_path):
    import torch

    before = torch.get_num_threads()
    try:
        assert main(["--threads", "1", "build", "--out", str(tmp_path / "d"), "--people", "0"]) == 2
        assert torch.get_num_threads() == 1
        assert main(["--threads", "0", "build", "--out", str(tmp_path / "d")]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert err[-1] == "pebench build: error: --threads must be >= 1, got 0"
    finally:
        torch.set_num_threads(before)


@pytest.mark.parametrize("argv, message", [
    (["frob"], "invalid choice: 'frob'"),
    (["train", "--data", "x"], "the following arguments are required"),
    (["evaluate", "--bootstrap", "x"], "invalid int value"),
    (["demo", "--preset", "huge", "--out", "x"], "invalid choice: 'huge'"),
])
def test_argument_errors_are_one_line_and_exit_2(capsys, argv, message):
    with pytest.raises(SystemExit) as stop:
        main(argv)
    err = capsys.readouterr().err.strip()
    assert stop.value.code == 2 and message in err and "--help" in err and len(err.splitlines()) == 1
