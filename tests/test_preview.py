"""The preview grid: its size, one cell per requested (person, event) pair holding that pair's seen and
unseen renderings, the same bytes from the builder and from `pebench show`, in any process."""
import os
import subprocess
import sys
from pathlib import Path

import datasets
import pytest
from PIL import Image

from pebench import preview
from pebench.cli import main
from pebench.schema import PERSON_NAME

ROOT = Path(__file__).resolve().parents[1]


def renderings(data_dir):
    """{(person, event, variant): PIL image} of every trained person's name rows."""
    out = {}
    for split in ("train", "test"):
        for row in datasets.load_dataset(str(data_dir), "full", split=split):
            if row["task"] == PERSON_NAME:
                out[(row["person_id"], row["event_id"], row["variant"])] = row["image"].convert("RGB")
    return out


def test_grid_has_its_size_and_a_cell_per_requested_pair(small_data):
    people = datasets.load_dataset(str(small_data), "people", split="train")
    by_id = dict(zip(people["id"], people["name"]))
    wanted_people = ["p003", by_id["p001"]]  # by id and by name, in the order asked
    grid = preview.release_grid(small_data, wanted_people, ["e02", "e00", "e05"])
    thumb = 64  # the fixture's image size
    assert grid.size == preview.grid_size(2, 3, thumb)
    source = renderings(small_data)
    for row, pid in enumerate(["p003", "p001"]):
        for column, eid in enumerate(["e02", "e00", "e05"]):
            for variant in preview.VARIANTS:
                cell = grid.crop(preview.cell_box(row, column, variant, thumb))
                assert cell.tobytes() == source[(pid, eid, variant)].tobytes(), (pid, eid, variant)
    seen, unseen = (grid.crop(preview.cell_box(0, 0, v, thumb)).tobytes() for v in preview.VARIANTS)
    assert seen != unseen  # an unseen rendering is a new picture, not a copy


def test_builder_preview_is_the_show_grid_in_any_process(small_data, tmp_path):
    """The card's picture (drawn from rows in memory) = `pebench show`'s (read back), byte for byte."""
    out = tmp_path / "grid.png"
    assert main(["show", "--data", str(small_data), "--out", str(out)]) == 0
    assert out.read_bytes() == (small_data / preview.FILE).read_bytes()
    again = tmp_path / "again.png"
    env = {**os.environ, "PYTHONHASHSEED": "7", "PYTHONPATH": str(ROOT)}
    subprocess.run([sys.executable, "-m", "pebench", "show", "--data", str(small_data), "--out", str(again)],
                   check=True, env=env, capture_output=True, cwd=ROOT)
    assert again.read_bytes() == out.read_bytes()
    with Image.open(out) as image:
        assert image.size == preview.grid_size(preview.DEFAULT_PEOPLE, preview.DEFAULT_EVENTS, 64)
        assert not image.info  # no metadata chunks (times, software names)


def test_a_holdout_person_can_be_shown(small_data, tmp_path):
    people = datasets.load_dataset(str(small_data), "people", split="train")
    holdout = [pid for pid, hold in zip(people["id"], people["holdout"]) if hold][0]
    grid = preview.release_grid(small_data, [holdout], ["e00"])
    blank = Image.new("RGB", (64, 64), preview.MISSING).tobytes()
    assert all(grid.crop(preview.cell_box(0, 0, v, 64)).tobytes() != blank for v in preview.VARIANTS)


@pytest.mark.parametrize("argv, message", [
    (["--people", "p999"], "unknown person 'p999'; give ids or names, e.g. p000"),
    (["--events", "e00,nowhere"], "unknown event 'nowhere'"),
    (["--thumb", "4"], "--thumb must be between 16 and 512"),
])
def test_show_refuses_bad_input_in_one_line_and_writes_nothing(small_data, tmp_path, capsys, argv, message):
    out = tmp_path / "grid.png"
    assert main(["show", "--data", str(small_data), "--out", str(out), *argv]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1
    assert list(tmp_path.iterdir()) == []
