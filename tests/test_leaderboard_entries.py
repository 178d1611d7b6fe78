"""The committed leaderboard: every entry verifies against a fresh build of its dataset, and the
committed board output is exactly what the builder makes from them (never hand-edited)."""
import json
from pathlib import Path

import pytest

import data_builders
from leaderboard.build import build_board

SUBMISSIONS = Path(__file__).resolve().parents[1] / "leaderboard" / "submissions"
REFERENCES = SUBMISSIONS.parent / "references"  # the board's own goal and fine-tuned results
RELEASES = json.loads((SUBMISSIONS.parent / "official_fingerprints.json").read_text())["releases"]


def test_committed_submissions_verify_against_the_rebuilt_demo_release(tmp_path):
    files = sorted(SUBMISSIONS.glob("*.json"))
    if not files:
        pytest.skip("no submissions committed")
    data = data_builders.build(tmp_path / "demo", people=50, events=10, variants=2, image_size=64, seed=0)
    fingerprint = data_builders.read_metadata(data)["fingerprint"]
    assert fingerprint in {r["fingerprint"] for r in RELEASES}, "the demo release fingerprint changed"
    board = build_board(SUBMISSIONS, data, out=tmp_path / "board", references=REFERENCES)
    assert board["refused"] == [] and board["counts"]["verified"] == len(files)
    assert board["dataset"]["official"] == "pebench-demo 50x10 v1.3"
    assert all(set(sides) == {"goal", "finetuned"} for sides in board["references"].values())
    committed = SUBMISSIONS.parent / "board"
    for page in sorted((tmp_path / "board").iterdir()):
        assert page.read_bytes() == (committed / page.name).read_bytes(), f"{page.name} is stale: rebuild it"
