"""`pebench publish`: the dry-run folder is the hub release (card validates, every named file exists, it
loads offline); refusals are one line, exit 2, nothing uploaded and nothing written; the board as a Space."""
import os
import re
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import datasets
import pyarrow.parquet as pq
import pytest
import yaml
from huggingface_hub import DatasetCard, SpaceCard

from pebench import cards, data, preview, publish, schema
from pebench.cli import main

ROOT = Path(__file__).resolve().parents[1]
REPO = "pebench-test/pebench-small"


@pytest.fixture(scope="module")
def release(small_data, tmp_path_factory):
    out = tmp_path_factory.mktemp("release") / "upload"
    assert main(["publish", "--dataset", str(small_data), "--repo", REPO, "--dry-run", str(out)]) == 0
    return out


def card_files(card):
    files = {path for config in card.data.configs for split in config["data_files"]
             for path in ([split["path"]] if isinstance(split["path"], str) else split["path"])}
    return files | set(publish._linked_files(card.text))


def test_dataset_card_validates_and_round_trips(release):
    card = DatasetCard.load(release / "README.md")
    meta = card.data
    assert meta.license == "apache-2.0" and meta.pretty_name.startswith("pebench")
    rows = sum(pq.read_metadata(f).num_rows for f in (release / "data").rglob("*.parquet"))
    assert "image-text-to-text" in meta.task_categories and rows < 1000 and meta.size_categories == ["n<1K"]
    assert DatasetCard(str(card)).data.to_dict() == meta.to_dict()  # metadata round trip
    assert str(DatasetCard(str(card))) == (release / "README.md").read_text(encoding="utf-8")
    infos = {info["config_name"]: info for info in meta.dataset_info}
    assert set(infos) == set(schema.CONFIGS) == {c["config_name"] for c in meta.configs}
    assert [f["name"] for f in infos["person_forget05"]["features"]] == list(schema.QA_FEATURES)
    text = card.text
    assert text.index(f"![") < text.index("## Load")  # the picture comes before the prose
    for needle in (f"]({preview.FILE})", cards.CITATION, "## Licence", "Apache-2.0", f'load_dataset("{REPO}"',
                   data.fingerprint(release), "generator version", "renderer"):
        assert needle in text, needle


def test_every_file_the_card_names_exists_and_the_data_is_unchanged(release, small_data):
    named = card_files(DatasetCard.load(release / "README.md"))
    assert preview.FILE in named and all((release / f).is_file() for f in named)
    uploaded = {p.relative_to(release).as_posix() for p in release.rglob("*") if p.is_file()}
    assert uploaded == named | {"README.md", "metadata.json"}
    data_files = sorted(f for f in named if f.endswith(".parquet"))
    assert data.fingerprint_files(release, data_files) == data.fingerprint(small_data)
    assert (release / preview.FILE).read_bytes() == (small_data / preview.FILE).read_bytes()


@pytest.mark.parametrize("config", ["person_forget05", "people"])
def test_the_release_loads_offline_with_the_card_features_and_row_counts(release, config):
    loaded = datasets.load_dataset(str(release), config)
    card = DatasetCard.load(release / "README.md")
    info = {i["config_name"]: i for i in card.data.dataset_info}[config]
    for split in loaded.values():
        assert [f["name"] for f in info["features"]] == list(split.features)
    row = next(line for line in card.text.splitlines() if line.startswith(f"| `{config}` |"))
    counts = dict(re.findall(r"`(\w+)` ([\d,]+)", row.split("|")[2]))
    assert {k: int(v.replace(",", "")) for k, v in counts.items()} == {k: v.num_rows for k, v in loaded.items()}
    if config == "person_forget05":
        assert loaded["forget_train"][0]["image"].size == (64, 64)  # images decode from the hub layout


def test_a_release_edited_after_build_is_refused(small_data, tmp_path, capsys):
    copy = tmp_path / "copy"
    shutil.copytree(small_data, copy)
    victim = sorted((copy / "data" / "name").glob("*.parquet"))[0]
    victim.write_bytes(victim.read_bytes()[:-8] + b"\0" * 8)
    assert main(["publish", "--dataset", str(copy), "--repo", REPO, "--dry-run", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip()
    assert "do not match its metadata.json fingerprint" in err and len(err.splitlines()) == 1
    (copy / preview.FILE).unlink()
    assert main(["publish", "--dataset", str(copy), "--repo", REPO, "--dry-run", str(tmp_path / "out")]) == 2
    assert f"names {preview.FILE}, which the folder does not have" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


@pytest.fixture
def no_upload(monkeypatch):
    """Any call that would leave the machine fails the test."""
    from huggingface_hub import HfApi

    def forbidden(*args, **kwargs):
        raise AssertionError("the hub was called")

    for name in ("whoami", "create_repo", "upload_folder"):
        monkeypatch.setattr(HfApi, name, forbidden)


@pytest.mark.parametrize("repo, message", [
    ("pebench", "--repo must be ORG/NAME (e.g. my-org/pebench), got 'pebench'"),
    ("a/b/c", "--repo must be ORG/NAME"),
    ("org/bad name", "is not a valid hub repo id"),
])
def test_a_repo_that_is_not_org_name_is_refused_first(small_data, tmp_path, capsys, no_upload, repo, message):
    for extra in ([], ["--dry-run", str(tmp_path / "out")]):
        assert main(["publish", "--dataset", str(tmp_path / "missing"), "--repo", repo, *extra]) == 2
        err = capsys.readouterr().err.strip()
        assert message in err and len(err.splitlines()) == 1  # checked before the (missing) folder
    assert list(tmp_path.iterdir()) == []


def test_no_token_is_refused_before_the_hub(small_data, tmp_path, capsys, monkeypatch, no_upload):
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.setenv("HF_TOKEN_PATH", str(tmp_path / "no-token"))
    assert main(["publish", "--dataset", str(small_data), "--repo", REPO]) == 2
    err = capsys.readouterr().err.strip()
    assert "no Hugging Face token" in err and len(err.splitlines()) == 1
    assert list(tmp_path.iterdir()) == []


def _closed_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]  # nothing listens there once the socket is closed


def test_an_unreachable_hub_is_one_line_and_nothing_is_written(small_data, tmp_path):
    """A real process, as a user runs it: a token, the hub switched on, but nobody answers."""
    env = {k: v for k, v in os.environ.items() if k != "HF_HUB_OFFLINE"}
    env.update(HF_TOKEN="hf_notarealtoken", HF_ENDPOINT=f"http://127.0.0.1:{_closed_port()}",
               PYTHONPATH=str(ROOT), TMPDIR=str(tmp_path))
    done = subprocess.run([sys.executable, "-m", "pebench", "publish", "--dataset", str(small_data), "--repo", REPO],
                          env=env, capture_output=True, text=True, cwd=tmp_path, timeout=120)
    err = done.stderr.strip()
    assert done.returncode == 2 and len(err.splitlines()) == 1, err
    assert "cannot reach the hub at http://127.0.0.1:" in err and "nothing was uploaded" in err
    assert list(tmp_path.iterdir()) == []  # no staged copy left behind


def test_publish_uploads_the_dry_run_folder_in_one_commit(small_data, release, tmp_path, monkeypatch):
    from huggingface_hub import HfApi

    calls = []
    monkeypatch.setenv("HF_TOKEN", "hf_notarealtoken")
    monkeypatch.setattr(HfApi, "whoami", lambda self: calls.append("whoami") or {"name": "me"})
    monkeypatch.setattr(HfApi, "create_repo", lambda self, repo, **kw: calls.append(("create", repo, kw)))

    def upload_folder(self, folder_path, repo_id, repo_type, commit_message):
        files = {p.relative_to(folder_path).as_posix(): p.read_bytes() for p in Path(folder_path).rglob("*")
                 if p.is_file()}
        calls.append(("upload", repo_id, repo_type, files))

    monkeypatch.setattr(HfApi, "upload_folder", upload_folder)
    assert main(["publish", "--dataset", str(small_data), "--repo", REPO]) == 0
    assert [c if isinstance(c, str) else c[0] for c in calls] == ["whoami", "create", "upload"]
    assert calls[1][2]["repo_type"] == "dataset" and calls[2][2] == "dataset"
    expected = {p.relative_to(release).as_posix(): p.read_bytes() for p in release.rglob("*") if p.is_file()}
    assert calls[2][3] == expected  # exactly the dry-run folder


def test_the_board_publishes_as_a_static_space_or_as_a_dataset(tmp_path):
    board = ROOT / "leaderboard" / "board"
    space, table = tmp_path / "space", tmp_path / "table"
    assert main(["publish", "--board", str(board), "--repo", "me/board", "--space", "--dry-run", str(space)]) == 0
    card = SpaceCard.load(space / "README.md")
    assert card.data.sdk == "static" and card.data.app_file == "index.html"
    assert (space / "index.html").read_bytes() == (board / "index.html").read_bytes()
    assert yaml.safe_load(str(card).split("---")[1]) == card.data.to_dict()
    assert main(["publish", "--board", str(board), "--repo", "me/board", "--dry-run", str(table)]) == 0
    rows = datasets.load_dataset(str(table), split="train")
    assert rows.num_rows == (board / "leaderboard.csv").read_text().count("\n") - 1


@pytest.mark.parametrize("argv, message", [
    (["--dataset", "d", "--space"], "--space does not apply to --dataset"),
    (["--board", "b", "--result", "r.json"], "--result does not apply to --board"),
    (["--model", "m", "--base-model", "nope"], "--base-model must be ORG/NAME"),
])
def test_options_for_another_kind_are_refused(capsys, no_upload, argv, message):
    assert main(["publish", *argv, "--repo", REPO]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1
