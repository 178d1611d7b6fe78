"""Leaderboard: safe loading of hostile submissions, scores and ranking, renderers, the page in Chromium."""
import csv
import io
import json
import math
import re
import shutil
import subprocess
import tempfile
from html.parser import HTMLParser
from pathlib import Path

import pytest

from leaderboard import entries, scores
from leaderboard.build import group_rows, make_row
from leaderboard.entries import Refused
from leaderboard.renderers import RENDERERS
from leaderboard.submit import file_name, slug

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
METRICS = scores.overall_metrics()


# ---------------------------------------------------------------- hand-built results (schema shape)


def fake_result(method="ga", config="person_forget05", values=None):
    """A result dict in the documented shape, with made-up reference values."""
    values = values or vals(0.8, 0.7, 0.6)
    finetuned = {"efficacy": 0.0, "generality": 0.1, "retain": 0.2, "scope": 0.5, "world": 0.6}
    goal = {"efficacy": 1.0, "generality": 0.9, "retain": 0.9, "scope": 0.95, "world": 0.9}
    return {
        "schema_version": "1.0",
        "model": {"id": "tiny", "method": method, "hparams": {}, "seed": 0},
        "dataset": {"config": config, "target": config.split("_")[0], "fingerprint": "f" * 64, "seed": 0},
        "records": [{"id": "person_name/p000/e00/v0", "split": "forget_train"}],
        "reference": {"finetuned": finetuned, "goal": goal},
        "aggregates": dict(values),
        "ci95": {m: [v - 0.05, v + 0.05] for m, v in values.items()},
    }


def fake_board(rows_spec):
    """A board from (file, name, link, notes, method, values) tuples, as `build_board` would make it."""
    rows = []
    for file, name, link, notes, method, values in rows_spec:
        entry = {"name": name, "link": link, "notes": notes}
        rows.append(make_row(file, entry, fake_result(method, values=values)))
    return {"title": "T", "dataset": {"fingerprint": "f" * 64, "official": None},
            "overall_metrics": list(METRICS), "groups": group_rows(rows),
            "refused": [{"file": "bad<b>.json", "reason": "not valid JSON"}],
            "counts": {"verified": len(rows), "refused": 1}}


def vals(e, g, r, s=0.9, w=0.85):
    return {"efficacy": e, "generality": g, "retain": r, "scope": s, "world": w}


HOSTILE_NOTES = '</td><script>alert(1)</script><img src=x onerror=alert(2)> & "quoted"'
BOARD_SPEC = [
    ("a.json", "Alpha GA", "https://example.org/a?x=1&y=2", HOSTILE_NOTES, "ga", vals(0.9, 0.8, 0.4)),
    ("b.json", "Beta | *GD*", "", "plain", "gd", vals(0.7, 0.6, 0.8)),
    ("c.json", "=SUM(A1)", "", "-1+1", "npo", vals(0.5, 0.4, 0.7)),
]


# ---------------------------------------------------------------- entries: strict, bounded, plain


def write(folder, name, obj):
    path = Path(folder) / name
    path.write_text(obj if isinstance(obj, str) else json.dumps(obj), encoding="utf-8")
    return path


def envelope(result=None, **kw):
    return {"submission_version": "1.0", "name": "Good", "link": "", "notes": "",
            "result": result or fake_result(), **kw}


@pytest.mark.parametrize("text, reason", [
    ("{not json", "not valid JSON"),
    ('{"a": NaN}', "non-finite number NaN"),
    ('{"a": -Infinity}', "non-finite number -Infinity"),
    ('{"a": 1e999}', "non-finite number inf at $.a"),
    ('{"a": 1, "a": 2}', "duplicate key 'a'"),
    ("[" * 100000 + "]" * 100000, "nested too deeply"),
])
def test_parse_json_refuses_malformed_and_non_finite(text, reason):
    with pytest.raises(Refused, match=re.escape(reason)):
        entries.parse_json(text.encode())


def test_parse_json_refuses_non_utf8():
    with pytest.raises(Refused, match="not UTF-8"):
        entries.parse_json(b'{"a": "\xff"}')


@pytest.mark.parametrize("name", ["../x.json", ".hidden.json", "a b.json", "x.txt", "a/b.json", "a..json",
                                  "<script>.json"])
def test_unsafe_file_names_are_refused(name):
    with pytest.raises(Refused, match="unsafe file name"):
        entries.check_file_name(name)


@pytest.mark.parametrize("name, reason", [
    ("", "missing or empty"), ("x" * 81, "longer than 80"), ("<script>alert(1)</script>", "markup"),
    ("../../etc/passwd", "path traversal"), ("a\\b", "path traversal"), ("a\x00b", "control"),
    ("a\u202eb", "control"), (7, "missing or empty"),
])
def test_bad_names_are_refused(name, reason):
    with pytest.raises(Refused, match=re.escape(reason)):
        entries.check_name(name)


@pytest.mark.parametrize("link", ["javascript:alert(1)", "file:///etc/passwd", "../../admin", "//evil.org/x",
                                  "http://", 'https://a.org/"onmouseover=x', "https://a.org/ x",
                                  "data:text/html,<b>", "https://a.org/<x>"])
def test_bad_links_are_refused(link):
    with pytest.raises(Refused, match="link"):
        entries.check_link(link)


def test_good_name_link_notes_pass():
    entries.check_name("GA + KL (lr 1e-5), seed 0 — Müller")
    entries.check_link("https://example.org/paper?id=1&v=2#sec")
    entries.check_notes("two lines\nand a tab\t<b>escaped on the page</b>")


def test_huge_and_special_files_are_refused_unread(tmp_path):
    huge = tmp_path / "huge.json"
    with open(huge, "wb") as fh:
        fh.truncate(entries.MAX_BYTES + 1)  # sparse: nothing is written, nothing must be read
    with pytest.raises(Refused, match="over the 33,554,432-byte limit"):
        entries.load_submission(huge)
    (tmp_path / "dir.json").mkdir()
    with pytest.raises(Refused, match="not a regular file"):
        entries.load_submission(tmp_path / "dir.json")
    outside = write(tmp_path, "outside.txt", envelope())
    (tmp_path / "link.json").symlink_to(outside)
    with pytest.raises(Refused, match="symbolic links"):
        entries.load_submission(tmp_path / "link.json")


@pytest.mark.parametrize("change, reason", [
    ({"submission_version": "0.9"}, "submission_version '0.9' is not supported"),
    ({"extra": 1}, "unknown key(s): extra"),
    ({"result": []}, "'result' must be a JSON object"),
    ({"link": "javascript:alert(1)"}, "not an absolute http(s) URL"),
    ({"notes": "n" * 1001}, "notes must be"),
])
def test_envelope_problems_are_refused(tmp_path, change, reason):
    path = write(tmp_path, "x.json", {**envelope(), **change})
    with pytest.raises(Refused, match=re.escape(reason)):
        entries.load_submission(path)


def test_bare_result_is_refused_with_a_hint(tmp_path):
    with pytest.raises(Refused, match="pebench submit"):
        entries.load_submission(write(tmp_path, "x.json", fake_result()))


def test_submission_file_names_are_slugs_with_a_content_hash():
    a = envelope(name="../../GA: lr=1e-5 <b>")
    name = file_name(a)
    assert re.fullmatch(r"ga-lr-1e-5-b-person-forget05-ga-[0-9a-f]{8}\.json", name)
    assert file_name(a) == name and file_name(envelope(name="../../GA: lr=1e-5 <b>", notes="x")) != name
    assert slug("<<>>") == "entry"


# ---------------------------------------------------------------- scores and ranking


def test_normalize_maps_references_to_0_and_1_and_flags_degenerate():
    assert scores.normalize(0.2, 0.2, 0.9) == 0 and scores.normalize(0.9, 0.2, 0.9) == 1
    assert scores.normalize(0.55, 0.2, 0.9) == pytest.approx(0.5)
    assert scores.normalize(0.5, 0.3, 0.3) is None
    assert scores.normalize_interval([0.4, 0.6], 1.0, 0.0) == pytest.approx([0.4, 0.6])  # flipped map


def test_overall_is_clipped_harmonic_mean():
    assert scores.harmonic_mean_clipped([1.0, 0.5]) == pytest.approx(2 / 3)
    assert scores.harmonic_mean_clipped([1.7, -0.2, 0.5]) == 0.0  # -0.2 clips to 0: nothing kept
    assert scores.harmonic_mean_clipped([1.7, 1.0]) == 1.0
    assert scores.harmonic_mean_clipped([None, 0.5]) == 0.5 and scores.harmonic_mean_clipped([None]) is None


def test_overall_interval_contains_the_point():
    row = make_row("a.json", {"name": "a"}, fake_result(values=vals(0.8, 0.7, 0.6)))
    low, high = row["overall_ci95"]
    assert 0 <= low < row["overall"] < high <= 1
    m = row["metrics"]
    assert m["efficacy"]["score"] == pytest.approx(0.8) and m["generality"]["score"] == pytest.approx(0.75)
    assert m["retain"]["normalized"] == pytest.approx(4 / 7) and m["retain"]["score"] == pytest.approx(0.6 / 0.9)
    parts = [m[name]["score"] for name in METRICS]
    assert row["overall"] == pytest.approx(len(parts) / sum(1 / v for v in parts))


def test_keep_metrics_score_the_share_of_the_goal_kept_even_when_references_flip():
    # PEBench v1 person GD: retain 21.48 with fine-tuned 97.53 and goal 96.38; normalized would be +66
    m = scores.metric_scores({"retain": 21.48}, {}, {"finetuned": {"retain": 97.53}, "goal": {"retain": 96.38}},
                             metrics=("retain",))["retain"]
    assert m["normalized"] == pytest.approx(66.13, abs=0.01) and m["score"] == pytest.approx(21.48 / 96.38)


def test_rank_orders_by_overall_then_name_and_shares_ties():
    rows = [{"overall": 0.5, "name": "b", "file": "1"}, {"overall": 0.9, "name": "z", "file": "2"},
            {"overall": 0.5, "name": "a", "file": "3"}, {"overall": None, "name": "c", "file": "4"},
            {"overall": 0.5 + 1e-12, "name": "c", "file": "5"}]
    ranked = scores.rank(rows)
    assert [(r["rank"], r["name"]) for r in ranked] == [(1, "z"), (2, "a"), (2, "b"), (2, "c"), (5, "c")]


def test_groups_follow_target_and_forget_size():
    rows = [make_row(f"{c}.json", {"name": c}, fake_result(config=c))
            for c in ("joint_forget05", "event_forget10", "person_forget10", "person_forget01")]
    assert [g["key"] for g in group_rows(rows)] == ["person-01", "person-10", "event-10", "joint-05"]


# ---------------------------------------------------------------- renderers


def test_every_renderer_is_registered_and_deterministic():
    assert RENDERERS.names() == ["board.json", "index.html", "leaderboard.csv", "leaderboard.md"]
    for name, render in RENDERERS.items():
        assert render(fake_board(BOARD_SPEC)) == render(fake_board(list(reversed(BOARD_SPEC)))), name


class _Collector(HTMLParser):
    def __init__(self):
        super().__init__()
        self.scripts, self.tags, self.hrefs = 0, [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.scripts += tag == "script"
        self.hrefs += [v for k, v in attrs if k in ("href", "src")]
        assert not any(k.startswith("on") for k, _ in attrs), attrs


def test_html_escapes_every_submitted_string_and_loads_nothing_external():
    page = RENDERERS.get("index.html")(fake_board(BOARD_SPEC))
    parser = _Collector()
    parser.feed(page)
    assert parser.scripts == 1 and "img" not in parser.tags
    assert parser.hrefs == ["https://example.org/a?x=1&y=2"]  # the only link is the submitted one
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "bad&lt;b&gt;.json" in page
    assert "&amp; &quot;quoted&quot;" in page
    csp = re.search(r'Content-Security-Policy" content="([^"]+)"', page).group(1)
    assert "default-src 'none'" in csp and "unsafe-inline" not in csp


def test_markdown_escapes_table_breakers_and_html():
    md = RENDERERS.get("leaderboard.md")(fake_board(BOARD_SPEC))
    assert "Beta \\| \\*GD\\*" in md and "<script>" not in md and "bad&lt;b&gt;.json" in md
    table_lines = [line for line in md.splitlines() if line.startswith("| ")]
    assert {line.count(" | ") for line in table_lines[:4]} == {len(METRICS) + 6}  # + robust efficacy, overall, rank


def test_csv_has_raw_and_normalized_values_and_defuses_formulas():
    text = RENDERERS.get("leaderboard.csv")(fake_board(BOARD_SPEC))
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [r["name"] for r in rows] == ["Beta | *GD*", "Alpha GA", "'=SUM(A1)"]
    assert rows[2]["notes"] == "'-1+1"
    assert float(rows[0]["retain"]) == 0.8
    assert float(rows[0]["retain_normalized"]) == pytest.approx((0.8 - 0.2) / 0.7, abs=1e-6)
    assert float(rows[0]["retain_score"]) == pytest.approx(0.8 / 0.9, abs=1e-6)
    assert all(math.isfinite(float(r["overall"])) for r in rows)


# ---------------------------------------------------------------- the page in a real browser


def chromium(*args, timeout=60):
    """Run headless Chromium with the flags that work in this sandbox; return stdout."""
    profile = tempfile.mkdtemp(prefix="pebench-chromium-")
    try:
        cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
               "--disable-background-networking", "--disable-component-update", "--disable-sync",
               f"--user-data-dir={profile}", *args]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=True).stdout
    finally:
        shutil.rmtree(profile, ignore_errors=True)


def table_names(dom, key):
    body = re.search(rf'<table id="table-{key}">.*?<tbody>(.*?)</tbody>', dom, re.S).group(1)
    return [html_unescape(n) for n in re.findall(r'<td class="text" data-value="([^"]*)"', body)]


def html_unescape(text):
    import html

    return html.unescape(text)


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (run `make browser` as root)")
def test_page_sorts_on_header_click_in_headless_chromium(tmp_path):
    page = tmp_path / "index.html"
    page.write_text(RENDERERS.get("index.html")(fake_board(BOARD_SPEC)), encoding="utf-8")
    url = page.as_uri()
    as_built = table_names(chromium("--dump-dom", url), "person-05")
    assert as_built == ["Beta | *GD*", "Alpha GA", "=SUM(A1)"]  # ranked by overall
    by_name = table_names(chromium("--dump-dom", url + "#click=name"), "person-05")
    assert by_name == sorted(as_built, key=str.lower)
    by_name_desc = table_names(chromium("--dump-dom", url + "#click=name,name"), "person-05")
    assert by_name_desc == list(reversed(by_name))
    by_efficacy = table_names(chromium("--dump-dom", url + "#click=efficacy"), "person-05")
    assert by_efficacy == ["Alpha GA", "Beta | *GD*", "=SUM(A1)"]  # highest efficacy first
    dom = chromium("--dump-dom", url)
    assert "alert(1)" in dom and "<script>alert" not in dom  # the hostile note stayed text


# ---------------------------------------------------------------- real results on the fixture dataset

CONFIG = "person_forget05"


@pytest.fixture(scope="module")
def real(small_data, tmp_path_factory):
    """Two verified-to-be entries and every hostile kind beside them, in one submissions folder."""
    from leaderboard.example import references, synthetic_result, write_references
    from leaderboard.submit import submit
    from pebench import results

    refs = references(small_data, CONFIG)

    def result(method, forgets, wrong_every=0, drop=None):
        res = synthetic_result(small_data, CONFIG, method, forgets, wrong_every, references=refs)
        if drop:
            res["records"] = [r for r in res["records"] if r["id"] != drop]
        return results.recompute(res, small_data)

    root = tmp_path_factory.mktemp("board")
    subs = root / "submissions"
    subs.mkdir()
    write_references(refs, root / "references")
    good = result("ga", True, wrong_every=3)
    write(root, "good_result.json", good)
    submit(root / "good_result.json", "Good GA", subs, link="https://example.org/ga",
           notes="<script>alert('notes')</script>")
    write(root, "ok_result.json", result("po", True, wrong_every=2))
    submit(root / "ok_result.json", "Okay PO", subs)

    bad = {}
    bad["malformed.json"] = "{oops"
    bad["version.json"] = envelope({**good, "schema_version": "2.0"})
    bad["nan.json"] = json.dumps(envelope(good)).replace(f'"retain": {json.dumps(good["aggregates"]["retain"])}',
                                                         '"retain": NaN', 1)
    bad["inflated.json"] = envelope({**good, "aggregates": {**good["aggregates"],
                                                           "retain": good["aggregates"]["retain"] + 5}})
    forget_test_id = next(r["id"] for r in good["records"] if r["split"] == "forget_test")
    bad["missing.json"] = envelope(result("ga", True, wrong_every=3, drop=forget_test_id))
    bad["foreign.json"] = envelope({**good, "dataset": {**good["dataset"], "fingerprint": "0" * 64}})
    bad["script.json"] = envelope(good, name="<script>alert(1)</script>")
    bad["link.json"] = envelope(good, link="../../etc/passwd")
    bad["bare.json"] = good
    bad["up..json"] = envelope(good)
    bad["forged_refs.json"] = envelope(forged_reference(good, small_data))
    bad["other_goal.json"] = envelope(results.recompute(results.with_references(
        good, {"goal": refs["finetuned"], "finetuned": refs["finetuned"]}), small_data))
    for name, obj in bad.items():
        write(subs, name, obj)
    # the honest twin scored without any reference: the board scores it against its own references
    twin = results.recompute(results.with_references(good, {}), small_data)
    write(root, "twin_result.json", twin)
    submit(root / "twin_result.json", "Twin GA", subs)
    write(root, "outside.json", envelope(good))
    (subs / "escape.json").symlink_to("../outside.json")
    with open(subs / "huge.json", "wb") as fh:
        fh.truncate(entries.MAX_BYTES + 1)
    return {"data": small_data, "subs": subs, "root": root, "good": good, "refs": root / "references"}


def forged_reference(result, data_dir):
    """The audit's attack: lower the goal's retain and world in the reference block, re-derive the rest."""
    from pebench import results

    forged = json.loads(json.dumps(result))
    goal = forged["reference"]["goal"]
    goal["retain"], goal["world"] = 30.0, 70.0
    return results.finish(forged, results.references(data_dir, CONFIG))


REFUSALS = {
    "bare.json": "bare result file",
    "escape.json": "symbolic links",
    "foreign.json": "does not match this board's dataset",
    "huge.json": "over the 33,554,432-byte limit",
    "inflated.json": "aggregates.retain",
    "link.json": "not an absolute http(s) URL",
    "malformed.json": "not valid JSON",
    "missing.json": "split 'forget_test' misses 1 of",
    "nan.json": "non-finite number NaN",
    "script.json": "markup is not allowed",
    "up..json": "unsafe file name",
    "version.json": "schema_version '2.0' is not supported",
    "forged_refs.json": "does not match the value recomputed",
    "other_goal.json": "scored against another goal model",
}


@pytest.fixture(scope="module")
def built(real):
    from leaderboard import build_board

    board = build_board(real["subs"], real["data"], real["root"] / "out", references=real["refs"])
    return board, real["root"] / "out"


def test_hostile_submissions_are_refused_with_reasons_and_good_ones_still_rank(built):
    board, out = built
    reasons = {r["file"]: r["reason"] for r in board["refused"]}
    assert sorted(reasons) == sorted(REFUSALS)
    for name, expected in REFUSALS.items():
        assert expected in reasons[name], (name, reasons[name])
    assert "does not match the value recomputed" in reasons["inflated.json"]
    (group,) = board["groups"]
    assert group["key"] == "person-05"
    assert [(r["rank"], r["name"]) for r in group["rows"]] == [(1, "Good GA"), (1, "Twin GA"), (3, "Okay PO")]
    assert sorted(p.name for p in out.iterdir()) == RENDERERS.names()


def test_forged_references_do_not_pay_and_the_honest_twin_scores_the_same(built, real):
    """A submission's own reference block never reaches the board: forged numbers are refused, and the
    same predictions scored without references get exactly the honest entry's scores."""
    board, _ = built
    rows = {r["name"]: r for r in board["groups"][0]["rows"]}
    assert rows["Twin GA"]["overall"] == rows["Good GA"]["overall"]
    assert rows["Twin GA"]["metrics"] == rows["Good GA"]["metrics"]
    assert board["references"][CONFIG].keys() == {"goal", "finetuned"}
    forged = forged_reference(real["good"], real["data"])
    assert forged["normalized"]["retain"] != real["good"]["normalized"]["retain"]  # the attack moves the score


def test_board_numbers_are_the_evaluators_recomputation(built, real):
    board, _ = built
    row = board["groups"][0]["rows"][0]
    good = real["good"]
    for m in METRICS:
        assert row["metrics"][m]["value"] == good["aggregates"][m]
        assert row["metrics"][m]["normalized"] == pytest.approx(good["normalized"][m], abs=1e-12)
    assert row["metrics"]["efficacy"]["score"] == pytest.approx(1.0)  # forgets everything, like the goal
    assert 0 < row["metrics"]["retain"]["score"] < 1 and 0 < row["overall"] < 1
    assert row["overall_ci95"][0] <= row["overall"] <= row["overall_ci95"][1]


def test_same_inputs_give_byte_identical_outputs(built, real, tmp_path):
    from leaderboard import build_board

    _, out = built
    build_board(real["subs"], real["data"], tmp_path / "again", references=real["refs"])
    for name in RENDERERS.names():
        assert (out / name).read_bytes() == (tmp_path / "again" / name).read_bytes(), name


def test_page_escapes_submitted_strings(built):
    _, out = built
    page = (out / "index.html").read_text(encoding="utf-8")
    assert "<script>alert" not in page and "&lt;script&gt;alert(&#x27;notes&#x27;)" in page
    assert "Good GA" in page and "Okay PO" in page and "markup is not allowed" in page


def test_cli_builds_and_refuses_bad_input_with_one_line(real, tmp_path, capsys):
    from pebench.cli import main

    assert main(["leaderboard", "--submissions", str(real["subs"]), "--data", str(real["data"]),
                 "--references", str(real["refs"]), "--out", str(tmp_path / "site")]) == 0
    assert "3 verified, 14 refused" in capsys.readouterr().out
    assert main(["leaderboard", "--submissions", str(tmp_path / "none"), "--data", str(real["data"]),
                 "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "does not exist" in err and not (tmp_path / "x").exists()
    assert main(["leaderboard", "--submissions", str(real["subs"]), "--data", str(real["data"]),
                 "--out", str(tmp_path / "site")]) == 2  # not empty, no --overwrite
    assert "--overwrite" in capsys.readouterr().err
    assert main(["leaderboard", "--submissions", str(real["subs"]), "--data", str(real["data"]),
                 "--references", str(tmp_path / "nope"), "--out", str(tmp_path / "y")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "references folder" in err and not (tmp_path / "y").exists()


@pytest.mark.parametrize("args, reason", [
    (["--name", "<b>x</b>"], "markup"),
    (["--name", "../../x"], "path traversal"),
    (["--name", "ok", "--link", "javascript:alert(1)"], "not an absolute http(s) URL"),
    (["--name", "ok", "--link", "file:///etc/passwd"], "not an absolute http(s) URL"),
])
def test_submit_cli_refuses_unsafe_names_and_links(real, tmp_path, capsys, args, reason):
    from pebench.cli import main

    out = tmp_path / "subs"
    assert main(["submit", str(real["root"] / "good_result.json"), *args, "--out", str(out)]) == 2
    assert reason in capsys.readouterr().err and not out.exists()


def test_submit_cli_writes_a_safe_file_once(real, tmp_path, capsys):
    from pebench.cli import main

    cmd = ["submit", str(real["root"] / "good_result.json"), "--name", "My GA/../x", "--out", str(tmp_path)]
    assert main(cmd) == 2  # '/' and '..' in a name are refused
    cmd[3] = "My GA: run 1"
    assert main(cmd) == 0
    (written,) = tmp_path.iterdir()
    assert re.fullmatch(r"my-ga-run-1-person-forget05-ga-[0-9a-f]{8}\.json", written.name)
    assert entries.load_submission(written)["name"] == "My GA: run 1"
    assert main(cmd) == 2 and "already exists" in capsys.readouterr().err


def test_build_script_runs_standalone(real, tmp_path):
    import sys

    script = Path(__file__).resolve().parent.parent / "leaderboard" / "build.py"
    done = subprocess.run([sys.executable, str(script), "--submissions", str(real["subs"]), "--data",
                           str(real["data"]), "--out", str(tmp_path / "site")],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "site" / "index.html").is_file()


def test_example_board_ranks_the_synthetic_entries_sensibly(real, tmp_path):
    from leaderboard.example import make_example

    rows = make_example(tmp_path / "ex", real["data"])["groups"][0]["rows"]
    by_name = {r["name"].split(": ")[1]: r for r in rows}
    assert rows[0]["name"].endswith("keeps all") and by_name["forgets nothing"]["overall"] == 0.0
    assert by_name["forgets, keeps all"]["overall"] == pytest.approx(1.0)
    assert by_name["forgets, loses a third of retain"]["overall"] > by_name["forgets, loses half of retain, some scope"]["overall"]


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (run `make browser` as root)")
def test_real_board_page_in_chromium(built, tmp_path):
    _, out = built
    url = (out / "index.html").as_uri()
    assert table_names(chromium("--dump-dom", url), "person-05") == ["Good GA", "Twin GA", "Okay PO"]
    ascending = table_names(chromium("--dump-dom", url + "#click=overall,overall"), "person-05")
    assert ascending[0] == "Okay PO" and sorted(ascending[1:]) == ["Good GA", "Twin GA"]  # the twins tie
    shot = tmp_path / "board.png"
    chromium(f"--screenshot={shot}", "--window-size=1200,900", "--hide-scrollbars", url)
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_official_release_list_is_well_formed():
    from leaderboard.verify import official_releases

    releases = official_releases()
    assert releases and all(re.fullmatch(r"[0-9a-f]{64}", fp) for fp in releases)
    assert all(r["command"].startswith("pebench build ") for r in releases.values())


@pytest.mark.slow
def test_official_release_fingerprint_is_reproducible(tmp_path):
    """Rebuild each listed release (about 25-45 s each here) and compare its fingerprint."""
    import shlex

    from pebench.cli import main
    from pebench.data import metadata
    from leaderboard.verify import official_releases

    for number, (fingerprint, release) in enumerate(official_releases().items()):
        out = tmp_path / f"release{number}"
        args = shlex.split(release["command"])[1:]
        args[args.index("--out") + 1] = str(out)
        assert main(args) == 0
        assert metadata(out)["fingerprint"] == fingerprint, release["name"]


def test_a_board_without_references_says_so_and_shows_raw_values(real, tmp_path):
    from leaderboard import build_board
    from leaderboard.renderers._format import NO_REFERENCES

    board = build_board(real["subs"], real["data"], tmp_path / "raw")
    (group,) = board["groups"]
    assert group["references"] == [] and board["references"] == {}
    assert all(r["overall"] is None and r["metrics"]["efficacy"]["normalized"] is None for r in group["rows"])
    page = (tmp_path / "raw" / "leaderboard.md").read_text()
    assert NO_REFERENCES in page and f"{real['good']['aggregates']['retain']:.2f}" in page


def test_the_board_shows_the_declared_selection_rule_and_step_and_ignores_malformed_ones():
    from leaderboard.build import _selection
    from leaderboard.renderers._format import method_text
    from leaderboard.renderers.markdown import cell

    shown = _selection({"rule": "goal_nll", "step": 7, "budget_steps": 40, "epochs": 20.0})
    assert shown == "goal_nll, step 7 of 40"
    assert method_text({"method": "po", "selection": shown}) == "po (goal_nll, step 7 of 40)"
    assert _selection("best step") == _selection({"rule": "budget"}) == _selection(None) == ""
    hostile = _selection({"rule": "<script>|x", "step": 1, "budget_steps": 1})
    assert "<script>" not in cell(method_text({"method": "ga", "selection": hostile}))
