"""Attack probes (removal or suppression?): controls, determinism, recomputation, not-run, adversaries, CLI.

One module fixture evaluates the tiny goal, fine-tuned and a GA-unlearned model with every probe on the
12 x 6 test data (the goal first, as every probe's control), so each test reads results, not models.
"""
import json
import sys
from pathlib import Path

import pytest

from pebench import probes, results
from pebench.probes import PROBES, SEP
from pebench.schema import TARGETS

CONFIG = "person_forget05"
KW = dict(bootstrap=100, progress=False)


@pytest.fixture(scope="module")
def probed(small_data, tiny_finetuned, tiny_goal, tmp_path_factory):
    from pebench.evaluation import evaluate
    from pebench.io import atomic_write_json
    from pebench.unlearning import unlearn

    root = tmp_path_factory.mktemp("probed")
    every = PROBES.names()
    goal = evaluate(small_data, CONFIG, tiny_goal, probes=every, **KW)  # a reference is its own control
    atomic_write_json(root / "goal.json", goal)
    finetuned = evaluate(small_data, CONFIG, tiny_finetuned, goal=root / "goal.json", probes=every, **KW)
    atomic_write_json(root / "finetuned.json", finetuned)
    # a GA run strong enough to silence every forget name on this small build (the probes are under test,
    # not GA's defaults, which are tuned on the demo data)
    unlearn(small_data, CONFIG, tiny_finetuned, "ga", root / "ga", seed=0, overrides={"lr": 1e-3})
    refs = dict(goal=root / "goal.json", finetuned=root / "finetuned.json")
    ga = evaluate(small_data, CONFIG, root / "ga", probes=every, **refs, **KW)
    goal = results.finish(results.with_references(goal, {"goal": goal, "finetuned": finetuned}),
                          results.references(small_data, CONFIG))
    return {"goal": goal, "finetuned": finetuned, "ga": ga, "root": root, "data": small_data}


def _value(result, probe, cell="efficacy"):
    return result["aggregates"].get(f"{probe}{SEP}{cell}")


# ------------------------------------------------------------------------------ the registry
def test_every_probe_is_declared_completely():
    assert PROBES.names(), "no probe registered"
    for name, probe in PROBES.items():
        assert name == probe.name and name.islower()
        assert probe.summary.endswith((".", "?")) and "\n" not in probe.summary, name
        json.dumps(probe.settings)  # stored in every result
        assert set(probe.targets) <= set(TARGETS) and probe.targets, name
        for target in probe.targets:
            placed = probes.placements(probe, target)
            assert placed, (name, target)
            names = {f"{name}{SEP}{n}" for n, _, _ in placed}
            assert names <= results.aggregate_names(target), name
            assert (probe.headline is None) == (not probes.headlines(probe, target)), name


def test_select_and_settings_refuse_bad_input_with_the_choices():
    from pebench.errors import UserError

    assert probes.select("none") == [] and "relearn" not in probes.select("cheap", "person")
    assert set(probes.select("all", "event")) == {n for n, p in PROBES.items() if "event" in p.targets}
    with pytest.raises(UserError, match="unknown probe 'nope'; choose from: .*prompts"):
        probes.select("prompts,nope")
    with pytest.raises(UserError, match="steps must be a whole number >= 1"):
        probes.settings_of(["relearn"], {"relearn": {"steps": 0}})
    with pytest.raises(UserError, match="has no setting 'stepz'"):
        probes.settings_of(["relearn"], {"relearn": {"stepz": 3}})
    with pytest.raises(UserError, match="PROBE.KEY=VALUE"):
        probes.parse_overrides(["steps=3"])


# ------------------------------------------------------------------------------ controls
def test_the_goal_model_keeps_its_efficacy_under_every_non_training_probe(probed):
    """The control: a model that never knew the person must not be made to name it by the attack."""
    goal = probed["goal"]
    checked = [n for n, p in PROBES.items() if not p.training and p.headline and "person" in p.targets]
    assert {"quantize_int8", "quantize_int4", "prompts", "logit_lens"} <= set(checked)
    for name in checked:
        assert goal["probes"][name]["status"] == "run", (name, goal["probes"][name])
        assert _value(goal, name) >= 95.0, name
        assert goal["aggregates"][f"{name}{SEP}recovery"] == pytest.approx(0.0)  # its own control


def test_the_finetuned_model_is_not_made_to_forget_by_a_probe(probed):
    ft = probed["finetuned"]
    plain = ft["aggregates"]["efficacy"]
    assert plain <= 10.0  # it knows the forget person: the direction the probes must not flatter
    for name, probe in PROBES.items():
        if not probe.training and probe.headline:
            assert _value(ft, name) <= plain + 5.0, name


def test_relearning_recovers_the_gap_only_beyond_the_goal_control(probed):
    ga, goal = probed["ga"], probed["goal"]
    assert ga["aggregates"]["efficacy"] == 100.0 and ga["aggregates"]["generality"] == 100.0  # "forgot all"
    section = ga["probes"]["relearn"]
    assert section["status"] == "run" and not any(r["split"] == "forget_train" for r in section["records"])
    assert "relearn:efficacy" not in ga["aggregates"]  # forget_train is what the attacker trained on
    recovery = ga["aggregates"]["relearn:recovery"]
    g, g_a = goal["aggregates"]["generality"], _value(goal, "relearn", "generality")
    f, u, a = probed["finetuned"]["aggregates"]["generality"], ga["aggregates"]["generality"], \
        _value(ga, "relearn", "generality")
    assert recovery == pytest.approx(((u - a) - (g - g_a)) / (g - f))
    low, high = ga["ci95"]["relearn:recovery"]
    assert low <= recovery <= high


def test_the_worst_variant_counts_so_one_refused_wording_does_not_pay():
    """A gaming model that refuses the benchmark's own question but answers a paraphrase is caught."""
    records = [{"split": "forget_train", "task": "person_name", "id": "a", "variant": v, "score": s}
               for v, s in (("question", 0.0), ("paraphrase_0", 1.0), ("prefill_0", 0.0))]
    records.append({"split": "forget_train", "task": "person_name", "id": "b", "variant": "question", "score": 0.0})
    worst = {r["id"]: r["variant"] for r in probes.worst_case(records)}
    assert worst == {"a": "paraphrase_0", "b": "question"}


def test_prefill_variants_start_the_answer_and_every_paraphrase_is_asked(probed):
    section = probed["ga"]["probes"]["prompts"]
    prefilled = [r for r in section["records"] if r["variant"].startswith("prefill")]
    assert prefilled and all(r["prediction"].startswith("This is") for r in prefilled)
    rows = probes.dataset_rows(str(probed["data"]), CONFIG)
    n_para = len(rows["forget_train"][0]["question_paraphrases"])
    variants = {r["variant"] for r in section["records"] if r["id"] == rows["forget_train"][0]["id"]}
    assert variants == {"question", "prefill_0", *(f"paraphrase_{i}" for i in range(n_para))}


def test_the_plain_question_variant_is_the_evaluations_own_answer(probed):
    """Not generated twice: the prompts probe's "question" record is the plain record's prediction."""
    for name in ("goal", "ga"):
        plain = {(r["split"], r["id"]): r["prediction"] for r in probed[name]["records"]}
        asked = [r for r in probed[name]["probes"]["prompts"]["records"] if r["variant"] == "question"]
        assert asked and all(r["prediction"] == plain[(r["split"], r["id"])] for r in asked)


# ------------------------------------------------------------------ determinism, recomputation
def test_same_seed_same_bytes(probed, small_data):
    from pebench.evaluation import evaluate

    again = evaluate(small_data, CONFIG, probed["root"] / "ga", goal=probed["root"] / "goal.json",
                     finetuned=probed["root"] / "finetuned.json", probes=["relearn", "quantize_int4"], **KW)
    for name in ("relearn", "quantize_int4"):
        assert json.dumps(again["probes"][name], sort_keys=True) == json.dumps(probed["ga"]["probes"][name],
                                                                               sort_keys=True)
        for key in (k for k in again["aggregates"] if k.startswith(name + SEP)):
            assert again["aggregates"][key] == probed["ga"]["aggregates"][key]


def test_the_board_recomputes_probe_numbers_and_refuses_a_tampered_one(probed):
    from leaderboard.entries import Refused
    from leaderboard.verify import verify_result

    ga, data = probed["ga"], probed["data"]
    fresh = results.recompute(ga, data)
    assert fresh["aggregates"] == ga["aggregates"] and fresh["ci95"] == ga["ci95"]
    refs = {"goal": probed["goal"], "finetuned": probed["finetuned"]}
    fingerprint = ga["dataset"]["fingerprint"]
    verify_result(ga, data, fingerprint, references=refs)  # the honest file passes
    tampered = json.loads(json.dumps(ga))
    tampered["aggregates"]["relearn:generality"] = 100.0  # "relearning brought nothing back"
    with pytest.raises(Refused, match="aggregates.relearn:generality = 100 does not match"):
        verify_result(tampered, data, fingerprint, references=refs)


# ------------------------------------------------------------------------------ not run
def test_a_probe_that_cannot_run_is_recorded_as_not_run_with_the_reason(probed, small_data, tiny_goal,
                                                                          monkeypatch):
    from pebench.evaluation import evaluate

    monkeypatch.setitem(sys.modules, "optimum.quanto", None)  # as if the library were not installed
    result = evaluate(small_data, CONFIG, tiny_goal, probes=["quantize_int8"], bootstrap=0, progress=False)
    section = result["probes"]["quantize_int8"]
    assert section["status"] == "not_run" and "optimum-quanto is not installed" in section["reason"]
    assert not [k for k in result["aggregates"] if k.startswith("quantize_int8" + SEP)]  # never a 0
    results.validate(result)


# ------------------------------------------------------------------------------ the board
def _envelope(result, name):
    return {"submission_version": "1.0", "name": name, "result": result}


def _rescored(result, data):
    return results.finish(result, results.references(data, CONFIG))


@pytest.fixture(scope="module")
def board(probed, tmp_path_factory):
    """A board whose references ran every probe: the honest GA and the ways a submitter could game it."""
    from leaderboard import build_board

    data, ga = probed["data"], probed["ga"]
    root = tmp_path_factory.mktemp("probe-board")
    (root / "refs").mkdir()
    (root / "subs").mkdir()
    for side in ("goal", "finetuned"):
        (root / "refs" / f"{side}.json").write_text(json.dumps(probed[side]))
    entries = {"honest.json": ga}
    # the same records scored against the goal only (no recovery: the board fills it in, nothing to compare)
    entries["goal_only.json"] = _rescored(results.with_references(ga, {"goal": probed["goal"]}), data)
    claims = json.loads(json.dumps(ga))  # claims every probe could not run (and drops the numbers)
    claims["probes"] = {n: {"status": "not_run", "reason": "kernel missing"} for n in claims["probes"]}
    entries["claims_not_run.json"] = _rescored(claims, data)
    deleted = json.loads(json.dumps(ga))  # deletes the records, keeps the flattering numbers
    del deleted["probes"]
    entries["deleted_records.json"] = deleted
    dropped = json.loads(json.dumps(ga))  # drops the rows the relearning attack recovered
    dropped["probes"]["relearn"]["records"] = [r for r in dropped["probes"]["relearn"]["records"]
                                               if r["split"] != "forget_test"]
    entries["dropped_rows.json"] = _rescored(dropped, data)
    weaker = json.loads(json.dumps(ga))  # ran a weaker attack: 1 relearning step
    weaker["probes"]["relearn"]["settings"]["steps"] = 1
    entries["weaker_attack.json"] = _rescored(weaker, data)
    unknown = json.loads(json.dumps(ga))
    unknown["probes"]["my_probe"] = {"status": "not_run", "reason": "x"}
    entries["unknown_probe.json"] = unknown
    for name, result in entries.items():
        (root / "subs" / name).write_text(json.dumps(_envelope(result, name[:-5])))
    return build_board(root / "subs", data, root / "out", references=root / "refs"), root / "out"


BOARD_REFUSALS = {
    "deleted_records.json": "aggregates.",
    "dropped_rows.json": "probes.relearn misses",
    "weaker_attack.json": "probes.relearn.settings",
    "unknown_probe.json": "probes.my_probe: unknown probe",
}


def test_gaming_the_probes_does_not_pay(board):
    built, _ = board
    reasons = {r["file"]: r["reason"] for r in built["refused"]}
    assert sorted(reasons) == sorted(BOARD_REFUSALS)
    for name, expected in BOARD_REFUSALS.items():
        assert expected in reasons[name], (name, reasons[name])
    rows = {r["name"]: r for r in built["groups"][0]["rows"]}
    honest, claims = rows["honest"], rows["claims_not_run"]
    assert honest["overall"] == claims["overall"]  # PEBench's overall is as today
    assert claims["robust_efficacy"]["score"] is None and claims["robust_overall"] is None
    assert "not run: " in claims["robust_efficacy"]["reason"] and "kernel missing" in claims["robust_efficacy"]["reason"]
    assert honest["robust_overall"] is not None and honest["robust_rank"] < claims["robust_rank"]
    assert rows["goal_only"]["robust_efficacy"] == honest["robust_efficacy"]


def test_robust_efficacy_is_efficacy_lowered_by_the_worst_recovery(board, probed):
    built, out = board
    honest = {r["name"]: r for r in built["groups"][0]["rows"]}["honest"]
    robust, eff = honest["robust_efficacy"], honest["metrics"]["efficacy"]
    recoveries = {k: v for k, v in probed["ga"]["aggregates"].items() if k.endswith(SEP + "recovery")}
    assert {k.split(SEP)[0] for k in recoveries} == {n for n, p in PROBES.items() if p.headline}
    worst = max(0.0, max(recoveries.values()))
    assert robust["normalized"] == pytest.approx(eff["normalized"] - worst)
    assert robust["score"] <= eff["score"]
    assert worst > 0.5 and robust["worst"] == "relearn"  # GA's forgetting does not survive relearning
    page = (out / "index.html").read_text(encoding="utf-8")
    md = (out / "leaderboard.md").read_text(encoding="utf-8")
    for name, probe in PROBES.items():
        assert f"<code>{name}</code>" in page and f"`{name}`" in md
    assert "efficacy vs robust efficacy" in page and "| Robust efficacy |" in md


def test_committed_entries_show_a_robust_efficacy_exactly_when_their_probes_ran():
    board = Path(__file__).resolve().parents[1] / "leaderboard" / "board" / "board.json"
    rows = [row for group in json.loads(board.read_text())["groups"] for row in group["rows"]]
    assert rows
    for row in rows:
        if row["probes"] and all(status == "run" for status in row["probes"].values()):
            assert row["robust_efficacy"]["score"] is not None and row["robust_overall"] is not None, row["name"]
        else:
            assert row["robust_efficacy"]["score"] is None and row["robust_efficacy"]["reason"].startswith("not run")


# ------------------------------------------------------------------------------ the CLI
def _cli_args(probed, *extra):
    return ["--data", str(probed["data"]), "--config", CONFIG, "--model", str(probed["root"] / "ga"),
            "--out", str(probed["root"] / "cli.json"), *extra]


@pytest.mark.parametrize("command, extra, message", [
    ("evaluate", ["--probes", "nope"], "unknown probe 'nope'"),
    ("probe", ["--goal", "G", "--probe-set", "relearn.steps=0"], "steps must be a whole number >= 1"),
    ("probe", [], "missing --goal"),
    ("evaluate", ["--probes", "prompts"], "need the goal model as their control"),
    ("probe", ["--goal", "GOALJSON", "--probes", "relearn", "--probe-set", "relearn.steps=7"],
     "holds no records of probe(s) relearn with these settings"),
])
def test_bad_probe_input_is_one_line_and_exit_2(probed, capsys, command, extra, message):
    from pebench.cli import main

    extra = [str(probed["root"] / "goal.json") if e == "GOALJSON" else e for e in extra]
    assert main([command, *_cli_args(probed, *extra)]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1, err
    assert not (probed["root"] / "cli.json").exists()  # nothing half-written


def test_probe_command_lists_and_reports(probed, capsys):
    from pebench.cli import main

    assert main(["probe", "--list"]) == 0
    listed = capsys.readouterr().out
    assert all(name in listed for name in PROBES.names())
    assert main(["probe", *_cli_args(probed, "--goal", str(probed["root"] / "goal.json"), "--finetuned",
                                     str(probed["root"] / "finetuned.json"), "--probes", "quantize_int8,logit_lens",
                                     "--bootstrap", "0", "--quiet")]) == 0
    out = capsys.readouterr().out
    assert "quantize_int8" in out and "logit_lens" in out and "recovery" in out
    written = results.load(probed["root"] / "cli.json")
    assert sorted(written["probes"]) == ["logit_lens", "quantize_int8"]
    (probed["root"] / "cli.json").unlink()


def test_a_board_whose_references_ran_other_settings_holds_entries_to_them(probed, tmp_path):
    """The board's own settings come from its goal reference: a submission attacked otherwise is refused."""
    from leaderboard import build_board

    refs, subs = tmp_path / "refs", tmp_path / "subs"
    refs.mkdir()
    subs.mkdir()
    goal = json.loads(json.dumps(probed["goal"]))
    goal["probes"]["relearn"]["settings"]["steps"] = 7  # as if the board ran a longer relearning attack
    (refs / "goal.json").write_text(json.dumps(goal))
    (refs / "finetuned.json").write_text(json.dumps(probed["finetuned"]))
    (subs / "ga.json").write_text(json.dumps(_envelope(probed["ga"], "ga")))
    built = build_board(subs, probed["data"], references=refs)
    (refused,) = built["refused"]
    assert "probes.relearn.settings" in refused["reason"] and "'steps': 7" in refused["reason"]
