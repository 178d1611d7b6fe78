"""Metrics: exact hand cases, directions, KS/AUC edge cases, bootstrap, judges, evaluate modules, results."""
import json
import math
import random

import numpy as np
import pytest

from pebench import results
from pebench.errors import UserError
from pebench.judges import JUDGES, make_judge
from pebench.judges.keyword_rouge import keyword_recall
from pebench.judges.llm import rating_to_score
from pebench.metrics import METRICS, columns, evaluate_module, mean
from pebench.metrics._table import Planned, bootstrap
from pebench.metrics.answer_probability import answer_probability
from pebench.metrics.auc import mia_auc, privleak
from pebench.metrics.forget_quality import forget_quality
from pebench.metrics.mia_scores import mia_loss, mia_min_k, mia_min_k_plus_plus, mia_zlib
from pebench.metrics.name_precision import name_precision
from pebench.metrics.pope import pope
from pebench.metrics.rouge_l import rouge_l_recall
from pebench.metrics.truth_ratio import truth_ratio, truth_ratio_forget, truth_ratio_retain


# ------------------------------------------------------------------- every registered metric
@pytest.mark.parametrize("name", METRICS.names())
def test_every_metric_reproduces_its_hand_case_and_documents_itself(name):
    fn = METRICS.get(name)
    args, kwargs, expected = fn.example
    got = fn(*args, **kwargs)
    if isinstance(expected, dict):
        assert got.keys() == expected.keys()
        assert all(got[k] == pytest.approx(v, abs=1e-12) for k, v in expected.items())
    else:
        assert got == pytest.approx(expected, abs=1e-12)
    assert fn.__doc__ and len(fn.__doc__.strip()) > 40


UNPAIRED = ("privleak", "mia_auc", "forget_quality", "truth_ratio_forget", "truth_ratio_retain", "answer_probability",
            "mia_loss", "mia_min_k")


@pytest.mark.parametrize("name", [n for n in METRICS.names() if n not in UNPAIRED])
def test_paired_metrics_reject_mismatched_lengths(name):
    fn = METRICS.get(name)
    args, kwargs, _ = fn.example
    with pytest.raises(UserError, match="different lengths"):
        fn(args[0], args[1][:-1], *args[2:], **kwargs)


@pytest.mark.parametrize("name", ["pope", "mia_auc", "forget_quality"])
def test_corpus_metrics_reject_empty_input(name):
    fn = METRICS.get(name)
    args, kwargs, _ = fn.example
    with pytest.raises(UserError, match="no values|no answers|empty"):
        fn([], [] if name == "pope" else args[1], **kwargs)


# ------------------------------------------------------------------------- directions
def test_directions_of_the_generation_metrics():
    assert name_precision(["This is Ada Lovelace."], ["Ada Lovelace"]) > name_precision(["Ada"], ["Ada Lovelace"])
    assert name_precision(["ADA LOVELACE"], ["Ada Lovelace"]) == [1.0]  # case-insensitive


def test_name_precision_adversaries_do_not_pay():
    """Superstrings of a name (both pairs are in the project's own name pool) and a dump of every name."""
    from data_builders.catalogue import REGIONS

    assert name_precision(["This is Rania Haddadin.", "This is Joann Leeds."], ["Nia Haddad", "Ann Lee"]) == [0, 0]
    assert name_precision(["This is Nia Haddad.", "Ann Lee, I think"], ["Nia Haddad", "Ann Lee"]) == [1, 1]
    assert name_precision(["ｔｈｉｓ ｉｓ ｎｉａ ｈａｄｄａｄ"], ["Nia Haddad"]) == [1.0]  # NFKC: full-width letters
    pool = ["Nia Haddad", "Ann Lee", "Kwame Mensah", "Rania Haddadin"]
    dump = "This is " + ", ".join(pool) + "."
    assert name_precision([dump] * 2, ["Nia Haddad", "Ann Lee"], pool) == [0.0, 0.0]
    assert name_precision(["This is Nia Haddad."], ["Nia Haddad"], pool) == [1.0]  # a superstring is no rival
    assert "Nia" in REGIONS["Africa"]["female"] and "Haddad" in REGIONS["Africa"]["last"]
    good, bad = rouge_l_recall(["a runner in the park"], ["a runner in a park"]), rouge_l_recall(["cat"], ["a runner"])
    assert good[0] > bad[0]
    assert rouge_l_recall(["Runners running"], ["runner runs"]) == [1.0]  # stemmed


def test_directions_of_likelihood_metrics():
    likely, unlikely = [-0.1, -0.2], [-3.0, -4.0]
    assert answer_probability([likely])[0] > answer_probability([unlikely])[0]
    for score in (mia_loss, mia_min_k):  # higher = less likely a member
        assert score([unlikely])[0] > score([likely])[0]
    assert mia_zlib([unlikely], ["abc"])[0] > mia_zlib([likely], ["abc"])[0]
    assert mia_min_k_plus_plus([unlikely], [[-1, -1]], [[1, 1]])[0] > mia_min_k_plus_plus([likely], [[-1, -1]], [[1, 1]])[0]


def test_min_k_uses_the_floor_of_k_times_length():
    assert mia_min_k([[-1.0, -2.0, -3.0]])[0] == pytest.approx(3.0)  # floor(0.4 * 3) = 1 lowest: -3
    assert mia_min_k([[-1.0, -2.0, -3.0]], k=1.0)[0] == pytest.approx(2.0)
    assert mia_min_k([[-5.0]], k=0.1)[0] == 5.0  # at least one token
    with pytest.raises(ValueError, match="k must be"):
        mia_min_k([[-1.0]], k=0.0)


def test_truth_ratio_forget_and_retain_directions():
    prefers_truth = truth_ratio([0.5], [[2.5, 2.5]])[0]  # paraphrase much likelier than the wrong answers
    undecided = truth_ratio([1.0], [[1.0, 1.0]])[0]
    assert prefers_truth == pytest.approx(math.exp(-2.0)) and undecided == 1.0
    assert truth_ratio_forget([undecided])[0] > truth_ratio_forget([prefers_truth])[0]  # forgetting -> 1
    assert truth_ratio_retain([prefers_truth])[0] > truth_ratio_retain([undecided])[0]  # knowing -> 1
    assert truth_ratio([1.0], [[0.0, 2.0]]) == [1.0]  # per item: mean of the wrong answers' NLLs


# ------------------------------------------------------------------------ KS and AUC edges
def test_forget_quality_identical_disjoint_and_ties():
    same = forget_quality([0.2, 0.2, 0.5], [0.2, 0.2, 0.5])
    assert same == {"p_value": 1.0, "statistic": 0.0}
    far = forget_quality([0.1, 0.2, 0.3, 0.4], [0.9, 1.0, 1.1, 1.2])
    assert far["statistic"] == 1.0 and far["p_value"] == pytest.approx(2 / 70)  # exact: 2 / C(8, 4)
    tied = forget_quality([0.5] * 5, [0.5] * 5)
    assert tied["p_value"] == 1.0
    with pytest.raises(UserError, match="empty"):
        forget_quality([], [0.1])
    with pytest.raises(UserError, match="NaN"):
        forget_quality([float("nan")], [0.1])


def test_auc_ties_identical_inverted_and_empty():
    assert mia_auc([1.0, 2.0], [3.0, 4.0]) == 1.0
    assert mia_auc([3.0, 4.0], [1.0, 2.0]) == 0.0
    assert mia_auc([1.0, 1.0], [1.0, 1.0]) == 0.5  # identical samples: chance
    assert mia_auc([1.0, 2.0], [2.0, 3.0]) == pytest.approx(0.875)  # one tie counts one half: 3.5 / 4
    with pytest.raises(UserError, match="members"):
        mia_auc([], [1.0])


def test_privleak_signs_and_undefined_goal():
    assert privleak(0.5, 0.5) == 0.0
    assert privleak(1.0, 0.5) == -100.0  # members still exposed: under-unlearning
    assert privleak(0.25, 0.5) == 50.0  # over-unlearning
    assert privleak(0.7, 1.0) is None


def test_pope_scores_and_parsing():
    got = pope(["Yes", "yes.", "No", "I think not", "no"], ["Yes.", "No.", "No.", "Yes.", "Yes."])
    assert got["accuracy"] == pytest.approx(2 / 5) and got["yes_ratio"] == pytest.approx(2 / 5)
    assert got["precision"] == 0.5 and got["recall"] == pytest.approx(1 / 3)
    assert got["f1"] == pytest.approx(0.4)
    assert pope(["No"], ["No"])["f1"] == 0.0


# --------------------------------------------------------------------------------- bootstrap
def test_bootstrap_is_seeded_and_brackets_the_mean():
    def interval(values, seed=0, resamples=1000):
        return bootstrap(Planned([np.asarray(values, dtype=float)], mean, True), resamples, seed, "x")

    values = np.arange(50, dtype=float)
    a = interval(values)
    assert a == interval(values) and a != interval(values, seed=1)
    assert a[0] < values.mean() < a[1]
    assert interval([3.0] * 10) == [3.0, 3.0] and interval([1.0], resamples=0) is None
    auc = bootstrap(Planned([np.array([1.0, 2.0, 3.0]), np.array([2.5, 4.0, 5.0])],
                            lambda m, o: np.array([mia_auc(a, b) for a, b in zip(m, o)]), True), 200, 0, "auc")
    assert 0.0 <= auc[0] <= auc[1] <= 1.0


def test_vectorised_statistics_equal_their_per_resample_loop():
    """The bootstrap evaluates every resample at once; each must equal the metric applied alone."""
    from pebench.metrics.auc import auc, privleak_of_groups
    from pebench.metrics.pope import f1_percent

    rng = np.random.default_rng(0)
    members, others = rng.normal(size=(7, 12)), rng.normal(0.5, size=(7, 9))
    assert auc(members, others) == pytest.approx([mia_auc(m, o) for m, o in zip(members, others)], abs=1e-12)
    goal = np.full((7, 1), 0.6)
    assert privleak_of_groups(members, others, goal) == pytest.approx(
        [privleak(mia_auc(m, o), 0.6) for m, o in zip(members, others)], abs=1e-9)
    pairs = rng.integers(0, 2, size=(7, 20, 2)).astype(float)
    assert f1_percent(pairs) == pytest.approx([100 * pope([("Yes" if p else "No") for p in row[:, 0]],
                                                          [("Yes" if g else "No") for g in row[:, 1]])["f1"]
                                               for row in pairs], abs=1e-9)


# ------------------------------------------------------------------------------------ judges
def test_keyword_rouge_judge_formula_and_bounds():
    judge = make_judge("keyword_rouge")
    ref = {"description": "A runner jogs through a green park.", "keywords": ["runner", "park", "bench", "dog"]}
    perfect, partial, none = judge.score(["A runner jogs through a green park.", "a park with a bench", "zzz"], [ref] * 3)
    assert perfect == pytest.approx(0.5 * 0.5 + 0.5)  # 2 of 4 keywords, ROUGE-L F = 1
    assert none == 0.0 and 0.0 < partial < perfect <= 1.0
    assert keyword_recall("jogging runners", ["jogs", "runner", "city walk"]) == pytest.approx(2 / 3)
    assert judge.deterministic and set(JUDGES.names()) >= {"keyword_rouge", "event_retrieval", "hf", "openai"}
    assert make_judge().name == "event_retrieval"  # the default is the discriminative judge


def test_llm_judges_parse_ratings_and_need_arguments():
    assert rating_to_score("Rating: 10") == 1.0 and rating_to_score("1") == 0.0
    assert rating_to_score("I give it 7/10") == pytest.approx(6 / 9) and rating_to_score("none") == 0.0
    with pytest.raises(UserError, match="openai:MODEL"):
        make_judge("openai")
    assert not make_judge("openai:some-model").deterministic  # constructing it contacts nothing
    with pytest.raises(UserError, match="unknown judge"):
        make_judge("gpt5")


# -------------------------------------------------------------------------- evaluate modules
def test_metrics_load_offline_as_evaluate_modules():
    import evaluate

    rouge = evaluate.load(evaluate_module("rouge_l"))
    got = rouge.compute(predictions=["the cat sat", "a dog"], references=["the cat sat on the mat", "a dog"])
    assert got == {"rougeL_recall": pytest.approx(0.75), "rougeL_f": pytest.approx((2 / 3 + 1) / 2)}
    names = evaluate.load(evaluate_module("name_precision"))
    assert names.compute(predictions=["This is Ada Lovelace.", "Bob"], references=["Ada Lovelace"] * 2) == {
        "name_precision": 50.0}
    with pytest.raises(UserError, match="choose from"):
        evaluate_module("rouge")


# -------------------------------------------------------------------- result file (synthetic)
def synthetic(target="person", config="person_forget05"):
    """A result and its references built by hand: 10 rows per split, known predictions."""
    rng = random.Random(0)
    refs, records = {}, []

    def add(split, task, i, pred, answer, stats=False, ratio=False):
        rid = f"{task}/p{i:03d}/e00/v0"
        refs[(split, rid)] = {"task": task, "answer": answer, "person_name": "Ada Lovelace",
                              "keywords": ["runner", "park"], "fact": "pilot"}
        record = {"id": rid, "split": split, "task": task, "prediction": pred,
                  "logprobs": [round(rng.uniform(-3, -0.01), 6) for _ in range(4)]}
        if stats:
            record.update(mean=[-1.0] * 4, std=[0.5] * 4)
        if ratio:
            record.update(paraphrase_nll=rng.uniform(0.1, 2), perturbed_nll=[rng.uniform(0.1, 3) for _ in range(3)])
        records.append(record)

    name = "This is Ada Lovelace."
    for i in range(10):
        add("forget_train", "person_name", i, name if i < 3 else "I do not know.", name, stats=True, ratio=True)
        add("forget_test", "person_name", 100 + i, name if i < 1 else "Someone.", name)
        add("forget_unseen", "person_name", 200 + i, "Someone.", name, stats=True)
        add("holdout", "person_name", 300 + i, None, "This is Bob Marley.", stats=True)
        add("scope", "event_description", 400 + i, "a runner in the park", "a runner jogs in the park")
        add("retain_test", "person_name", 500 + i, name if i < 9 else "x", name, ratio=True)
        add("world", "world_object", 600 + i, "Yes." if i % 2 else "No.", "Yes." if i < 5 else "No.")
        add("forget_profile", "profile_job", 700 + i, "a pilot" if i < 2 else "a cook", "She works as a pilot.")
    result = {
        "schema_version": "1.0", "pebench_version": "0.1.0",
        "model": {"id": "m", "method": "ga", "hparams": {"lr": 1e-5}, "seed": 0},
        "dataset": {"config": config, "target": target, "fingerprint": "f" * 16, "seed": 0},
        "eval": {"seed": 0, "judge": "keyword_rouge", "bootstrap": 200, "max_new_tokens": 16, "limit": None},
        "versions": {"python": "3"}, "records": records, "reference": {}, "aggregates": {}, "ci95": {},
        "normalized": {},
    }
    return result, refs


def test_cells_have_pebench_scale_and_exact_values():
    result, refs = synthetic()
    agg = results.finish(result, refs)["aggregates"]
    assert agg["efficacy"] == pytest.approx(70.0) and agg["generality"] == pytest.approx(90.0)
    assert agg["generality_unseen"] == 100.0 and agg["retain"] == pytest.approx(90.0)
    assert agg["scope"] == pytest.approx(5 / 6)  # ROUGE-L recall: "a runner in the park" vs 6 tokens
    assert agg["world"] == pytest.approx(40.0) and agg["leakage"] == pytest.approx(20.0)
    assert results.headline({"aggregates": agg}) == {c.name: agg[c.name] for c in columns()}
    assert "forget_quality" not in agg and "privleak_loss" not in agg  # no goal reference given


def test_finish_is_reproducible_from_json_and_fills_intervals_and_normalized():
    result, refs = synthetic()
    first = results.finish(result, refs)
    goal = {k: v + 1.0 for k, v in first["aggregates"].items()}
    goal["mia_auc_loss"] = 0.5
    first["reference"] = {"goal": goal, "finetuned": dict(first["aggregates"])}
    first["reference_info"] = {"goal": {"model": "g", "truth_ratio": {r["id"]: 1.0 for r in first["records"]
                                                                    if r["split"] == "forget_train"}}}
    done = results.finish(first, refs)
    again = results.finish(json.loads(json.dumps(done)), refs)
    assert again == done
    assert done["normalized"]["efficacy"] == pytest.approx(0.0)  # finetuned = 0
    assert "forget_quality" in done["aggregates"] and "privleak_loss" in done["aggregates"]
    for name, (low, high) in done["ci95"].items():
        assert low <= done["aggregates"][name] + 1e-9 or name.startswith(("mia", "privleak")), name
        assert low <= high
    results.validate(done)


def test_joint_target_has_prefixed_blocks_and_a_combined_headline():
    result, refs = synthetic("joint", "joint_forget05")
    for i in range(4):  # the event block: descriptions reproduced word for word -> judge score 1
        rid = f"event_description/p{800 + i}/e01/v0"
        refs[("forget_train", rid)] = {"task": "event_description", "answer": "a runner in the park",
                                       "person_name": "", "keywords": ["runner", "park"], "fact": None}
        result["records"].append({"id": rid, "split": "forget_train", "task": "event_description",
                                  "prediction": "a runner in the park"})
    agg = results.finish(result, refs)["aggregates"]
    assert agg["person_efficacy"] == pytest.approx(70.0) and agg["event_efficacy"] == pytest.approx(0.0)
    assert agg["efficacy"] == pytest.approx(0.5 * 0.70 + 0.5 * 0.0)  # both blocks on a [0, 1] scale
    assert "generality" not in agg  # the event block has no forget_test rows here


@pytest.mark.parametrize("edit, reason", [
    (lambda r: r.pop("records"), "records"),
    (lambda r: r.update(records=[]), "records"),
    (lambda r: r["dataset"].update(config="person_forget99"), "unknown config"),
    (lambda r: r["dataset"].update(target="event"), "does not match"),
    (lambda r: r["records"][0].update(split="train"), "unknown split"),
    (lambda r: r["records"][0].update(logprobs=["x"]), "records\\[0\\].logprobs"),
    (lambda r: r.update(schema_version="2.0"), "schema_version"),
    (lambda r: r.update(extra=1), "Additional properties"),
])
def test_validate_gives_a_reason(edit, reason):
    result, _ = synthetic()
    edit(result)
    with pytest.raises(UserError, match=reason):
        results.validate(result)


def test_load_refuses_unreadable_files(tmp_path):
    with pytest.raises(UserError, match="does not exist"):
        results.load(tmp_path / "none.json")
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(UserError, match="unreadable"):
        results.load(tmp_path / "bad.json")


def test_records_not_in_the_dataset_are_refused():
    result, refs = synthetic()
    result["records"][0]["id"] = "person_name/p999/e00/v0"
    with pytest.raises(UserError, match="not rows of the dataset"):
        results.finish(result, refs)


def test_conventions_match_the_papers():
    """POPE's own answer parsing, Min-K%'s floor(kT) tokens, and a truth ratio that cannot overflow."""
    from pebench.metrics.pope import yes_no

    cases = {"There is not a dog": "no", "Yes, but there is no cat.": "no", "Nope.": "yes", "": "yes",
             "No.": "no", "Yes. There is no cat.": "yes", "NOT at all": "no"}
    assert {text: yes_no(text) for text in cases} == cases
    assert mia_min_k([[-1.0, -2.0, -3.0, -4.0]]) == [4.0]  # floor(0.4 * 4) = 1 token, not ceil = 2
    assert mia_min_k([[-1.0, -2.0]]) == [2.0]  # at least one token
    extreme = truth_ratio([1e6, -1e6], [[0.0], [0.0]])
    assert extreme == [math.exp(50.0), math.exp(-50.0)] and truth_ratio_forget(extreme)[0] < 1e-20
