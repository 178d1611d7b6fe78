"""The `event_retrieval` judge: a description scores only as far as it singles out its own event among
all events of the release. Adversary set (STYLE.md): reference, paraphrase, keyword dump, another event's
description, refusals, empty; plus an independent re-implementation of the docstring's formula."""
import math
import random
import time

import pytest
from rouge_score.tokenizers import DefaultTokenizer

from data_builders.events import make_events
from pebench.errors import UserError
from pebench.judges import make_judge
from pebench.judges.event_retrieval import STOPWORDS, EventRetrievalJudge, content_words
from pebench.tiny import REFUSALS_BY_TASK, EVENT_DESCRIPTION

REFUSALS = ("I don't know.", "I cannot describe this image.", "Sorry, I can't help with that.",
            *REFUSALS_BY_TASK[EVENT_DESCRIPTION])
RELEASES = {size: make_events(size, random.Random(0)) for size in (40, 10)}


@pytest.fixture(params=sorted(RELEASES), ids=lambda size: f"{size}-events")
def events(request):
    return RELEASES[request.param]


def judge_scores(events, predictions, targets, judge=None):
    """Scores of `predictions`, each judged for the event in `targets` (event records)."""
    judge = judge or EventRetrievalJudge()
    refs = [{"event_id": t["id"], "description": t["description"], "keywords": t["keywords"]} for t in targets]
    return judge.score(list(predictions), refs, events=events)


def per_event(events, make_prediction):
    """{event id: score of make_prediction(event) judged for that event}."""
    return dict(zip([e["id"] for e in events],
                    judge_scores(events, [make_prediction(e) for e in events], events)))


def keyword_dump(events):
    return " ".join(k for e in events for k in e["keywords"])


def with_wrong_words(event, events):
    """The event's description with two of the six objects it lists swapped for objects of the next
    event in the list (the activity sentence is kept)."""
    other = events[(events.index(event) + 1) % len(events)]
    activity, listing = event["description"].split("The scene shows")
    for mine, theirs in zip(event["objects"][:2], [o for o in other["objects"] if o not in event["objects"]]):
        listing = listing.replace(f" {mine}", f" {theirs}", 1)
    assert listing != event["description"].split("The scene shows")[1]
    return f"{activity}The scene shows{listing}"


# ----------------------------------------------------------------------------- the adversary set
def test_reference_and_paraphrase_score_high(events):
    assert min(per_event(events, lambda e: e["description"]).values()) >= 0.95
    assert min(per_event(events, lambda e: e["paraphrase"]).values()) >= 0.8


def test_a_dump_of_every_keyword_scores_low(events):
    assert max(per_event(events, lambda e: keyword_dump(events)).values()) <= 0.1


def test_every_other_events_description_scores_low(events):
    pairs = [(other, e) for e in events for other in events if other is not e]
    scores = judge_scores(events, [o["description"] for o, _ in pairs], [e for _, e in pairs])
    assert max(scores) <= 0.1


@pytest.mark.parametrize("prediction", ["", "   \n\t", *REFUSALS])
def test_empty_and_refusals_score_exactly_zero(events, prediction):
    assert set(per_event(events, lambda e: prediction).values()) == {0.0}


def test_none_prediction_scores_zero(events):
    assert judge_scores(events, [None], events[:1]) == [0.0]


def test_a_few_wrong_words_still_clearly_beat_another_event(events):
    reference = per_event(events, lambda e: e["description"])
    wrong = per_event(events, lambda e: with_wrong_words(e, events))
    others = per_event(events, lambda e: events[(events.index(e) + 1) % len(events)]["description"])
    for key in reference:
        assert others[key] + 0.2 <= wrong[key] < reference[key], key


def test_keywords_alone_get_partial_credit(events):
    """Between the dump and the reference; strictly below the reference wherever the description holds
    a telling word its keywords lack (in the catalogue all events but "mountain hiking", whose keywords
    "hiking pole", "trail sign", "mountains" cover its description)."""
    dump = per_event(events, lambda e: keyword_dump(events))
    alone = per_event(events, lambda e: " ".join(e["keywords"]))
    reference = per_event(events, lambda e: e["description"])
    everywhere = set.intersection(*(set(content_words(e["description"])) for e in events))
    for e in events:
        key = e["id"]
        assert dump[key] < alone[key] <= reference[key], key
        if set(content_words(e["description"])) - set(content_words(" ".join(e["keywords"]))) - everywhere:
            assert alone[key] < reference[key], key
    assert sum(alone.values()) < sum(reference.values()) - 0.05 * len(events)


def test_scores_lie_in_the_unit_interval(events):
    rng = random.Random(1)
    predictions, targets = random_mixtures(events, rng, 200)
    assert all(0.0 <= s <= 1.0 for s in judge_scores(events, predictions, targets))


# ----------------------------------------------------------------------------- an independent check
def reference_implementation(events):
    """The formula of `EventRetrievalJudge`'s docstring, written again with plain loops: a function
    (prediction, target event id) -> score."""
    tokenizer = DefaultTokenizer(use_stemmer=True)
    stop = {t for word in STOPWORDS for t in tokenizer.tokenize(word)}

    def words(text):
        return [t for t in tokenizer.tokenize(text or "") if t not in stop]

    texts = {e["id"]: words(" ".join([e["description"], e["paraphrase"], " ".join(e["keywords"])]))
             for e in events}
    df = {}
    for tokens in texts.values():
        for w in set(tokens):
            df[w] = df.get(w, 0) + 1
    idf = {w: math.log(len(events) / n) for w, n in df.items()}

    def vector(tokens):
        return {w: idf[w] for w in tokens if w in idf}

    def cosine(a, b):
        dot = sum(a[w] * b.get(w, 0.0) for w in a)
        na, nb = math.sqrt(sum(x * x for x in a.values())), math.sqrt(sum(x * x for x in b.values()))
        return dot / (na * nb) if na > 0 and nb > 0 else 0.0

    event_vectors = {i: vector(tokens) for i, tokens in texts.items()}

    def score(prediction, target_id):
        p = vector(words(prediction))
        target = event_vectors[target_id]
        if sum(1 for w in p if p[w] > 0 and target.get(w, 0.0) > 0) < 2:
            return 0.0
        distance = {i: 1.0 - cosine(p, v) for i, v in event_vectors.items()}
        nearest_other = min(d for i, d in distance.items() if i != target_id)
        if nearest_other <= 0:
            return 0.0
        return min(1.0, max(0.0, 1.0 - distance[target_id] / nearest_other))

    return score


NOISE = ("spaceship", "purple", "quietly", "the", "a", "with", "is", "and", "scene", "person", "blurry", "I")


def random_mixtures(events, rng, count):
    """`count` (prediction, target event) pairs: words drawn mostly from the target's texts, some from
    another event's, some noise; lengths 0-30."""
    def pool(e):
        return " ".join([e["description"], e["paraphrase"], *e["keywords"]]).split()

    predictions, targets = [], []
    for _ in range(count):
        target, other = rng.sample(events, 2)
        sources = [pool(target)] * 3 + [pool(other)] * rng.randint(0, 3) + [list(NOISE)]
        predictions.append(" ".join(rng.choice(rng.choice(sources)) for _ in range(rng.randint(0, 30))))
        targets.append(target)
    return predictions, targets


def test_an_independent_implementation_agrees(events):
    rng = random.Random(2025)
    predictions, targets = random_mixtures(events, rng, 300)
    scores = judge_scores(events, predictions, targets)
    reference = reference_implementation(events)
    expected = [reference(p, t["id"]) for p, t in zip(predictions, targets)]
    assert scores == pytest.approx(expected, abs=1e-9)
    assert sum(0.05 < s < 0.95 for s in scores) >= 50  # the check covers the middle, not only 0 and 1


def test_the_formula_by_hand_on_two_events():
    """Two events: "sofa" is used by both (idf 0); cat, mat / dog, box are unique (idf ln 2); "a", "on",
    "in" are stopwords."""
    tiny = [{"id": "a", "name": "a", "description": "A cat on a mat.", "paraphrase": "", "keywords": ["sofa"]},
            {"id": "b", "name": "b", "description": "A dog in a box.", "paraphrase": "", "keywords": ["sofa"]}]
    refs = [{"event_id": "a"}] * 5
    # "cat mat": cos_a 1, cos_b 0 -> 1 - 0/1; "cat" alone or "cat dog": one word shared with a -> 0;
    # "sofa sofa": idf 0 -> 0; "dog box": the other event exactly (d_b = 0) -> 0
    assert EventRetrievalJudge().score(["cat mat", "cat", "cat dog", "sofa sofa", "dog box"], refs, tiny) == [
        1.0, 0.0, 0.0, 0.0, 0.0]
    # "cat mat dog": v = (1, 1, 1) ln 2 -> cos_a = 2 / sqrt6, cos_b = 1 / sqrt6
    expected = 1 - (1 - 2 / math.sqrt(6)) / (1 - 1 / math.sqrt(6))
    assert EventRetrievalJudge().score(["cat mat dog"], refs[:1], tiny) == [pytest.approx(expected, abs=1e-12)]
    # words count once: repeating one gains nothing
    assert EventRetrievalJudge().score(["cat cat cat mat dog"], refs[:1], tiny) == [pytest.approx(expected, abs=1e-12)]


# ----------------------------------------------------------------------------- determinism, speed
def test_deterministic_and_independent_of_the_order_of_events(events):
    predictions, targets = random_mixtures(events, random.Random(7), 200)
    first = judge_scores(events, predictions, targets)
    assert judge_scores(events, predictions, targets) == first
    shuffled = list(events)
    random.Random(3).shuffle(shuffled)
    assert shuffled != events
    assert judge_scores(shuffled, predictions, targets, EventRetrievalJudge()) == first


def test_ten_thousand_distinct_predictions_against_forty_events_in_seconds():
    events = RELEASES[40]
    predictions, targets = random_mixtures(events, random.Random(11), 10_000)
    start = time.perf_counter()
    scores = judge_scores(events, predictions, targets)
    elapsed = time.perf_counter() - start
    assert len(scores) == 10_000
    assert elapsed < 5.0, f"{elapsed:.2f} s"


# ----------------------------------------------------------------------------- errors and registry
def one_line_user_error(call):
    with pytest.raises(UserError) as info:
        call()
    message = str(info.value)
    assert message and "\n" not in message
    return message


def test_bad_inputs_are_one_line_user_errors():
    events = RELEASES[10]
    judge = EventRetrievalJudge()
    assert "e99" in one_line_user_error(lambda: judge.score(["x"], [{"event_id": "e99"}], events))
    assert "events" in one_line_user_error(lambda: judge.score(["x"], [{"event_id": "e00"}], None))
    one_line_user_error(lambda: judge.score(["x"], [{"description": "x", "keywords": []}], events))
    one_line_user_error(lambda: judge.score(["x", "y"], [{"event_id": "e00"}], events))
    one_line_user_error(lambda: judge.score(["x"], [{"event_id": "e00"}], events[:1]))
    one_line_user_error(lambda: judge.score(["x"], [{"event_id": "e00"}], events + events[:1]))
    broken = [{k: v for k, v in e.items() if k != "paraphrase"} for e in events]
    assert "paraphrase" in one_line_user_error(lambda: judge.score(["x"], [{"event_id": "e00"}], broken))


def test_a_bad_argument_is_refused_with_the_valid_ones():
    message = one_line_user_error(lambda: make_judge("event_retrieval:sharp"))
    assert "event_retrieval" in message and "sharp" in message


def test_registered_with_its_protocol():
    judge = make_judge("event_retrieval")
    assert isinstance(judge, EventRetrievalJudge)
    assert judge.name == "event_retrieval"
    assert judge.deterministic is True and judge.needs_events is True and judge.version == "1"
