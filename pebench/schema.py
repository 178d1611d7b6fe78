"""The one dataset schema: builders write it, everything else reads it.

Row ids, task names, split names and config names are part of the public contract (the dataset card,
result files and leaderboard submissions refer to them); change them only with a schema version bump.
"""
import datasets

SCHEMA_VERSION = "1.0"

# Tasks (the `task` column).
PERSON_NAME = "person_name"  # "Who is the person in this image?" -> "This is {name}."
EVENT_DESCRIPTION = "event_description"  # "Describe the scene in detail." -> the event's description
PROFILE_JOB = "profile_job"  # text only, about a named person: cross-modal leakage
PROFILE_BIRTHPLACE = "profile_birthplace"
PROFILE_AGE = "profile_age"
WORLD_OBJECT = "world_object"  # POPE-style "Is there a {object} in the image?" -> "Yes." / "No."
PROFILE_TASKS = (PROFILE_JOB, PROFILE_BIRTHPLACE, PROFILE_AGE)
TASKS = (PERSON_NAME, EVENT_DESCRIPTION, *PROFILE_TASKS, WORLD_OBJECT)

# Splits of every forget config.
FORGET_SPLITS = (
    "forget_train",  # what unlearning may use: the targets' seen images (the forgotten task only)
    "forget_test",  # the targets' seen images held out from unlearning (PEBench generality)
    "forget_unseen",  # unseen renderings of the targets (stricter generality; MIA non-members)
    "scope",  # the *other* task on the forget images (cross-concept interference)
    "forget_profile",  # text-only profile facts of forget people (cross-modal leakage)
    "retain_train",  # what the goal model trains on: nothing that shows a forget target
    "retain_test",  # retain rows scored for utility
)

TARGETS = ("person", "event", "joint")
FORGET_CONFIGS = {
    "person_forget01": ("person", 1),
    "person_forget05": ("person", 5),
    "person_forget10": ("person", 10),
    "event_forget05": ("event", 5),
    "event_forget10": ("event", 10),
    "event_forget20": ("event", 20),
    "joint_forget05": ("joint", 5),
}
CONFIGS = ("full", *FORGET_CONFIGS, "world", "holdout", "people", "events")
# Record splits every forget config is scored on that live in another config: split -> (config, split).
SHARED_SPLITS = {
    "world": ("world", "test"),  # POPE-style object questions (world utility)
    "holdout": ("holdout", "test"),  # people never trained on (membership-inference non-members)
}
# The splits a result's records may name, in the order they are scored and stored.
RECORD_SPLITS = (*(s for s in FORGET_SPLITS if s != "retain_train"), *SHARED_SPLITS)


def splits_of(config):
    """The splits a forget config holds: an event target forgets no person, so it has no `forget_profile`."""
    event_only = FORGET_CONFIGS[config][0] == "event"
    return tuple(s for s in FORGET_SPLITS if not (event_only and s == "forget_profile"))


def record_splits(config):
    """The record splits of a forget config, in scoring order."""
    return tuple(s for s in RECORD_SPLITS if source_of(config, s) is not None)


def source_of(config, split):
    """(dataset config, split) holding the rows of a record split, or None for an unknown split."""
    if split in SHARED_SPLITS:
        return SHARED_SPLITS[split]
    return (config, split) if split in splits_of(config) else None

QA_FEATURES = datasets.Features(
    {
        "id": datasets.Value("string"),  # unique, stable: "{task}/{person_id}/{event_id}/v{variant}[/{k}]"
        "image": datasets.Image(),  # None for text-only (profile) rows
        "task": datasets.Value("string"),
        "question": datasets.Value("string"),
        "question_paraphrases": datasets.Sequence(datasets.Value("string")),
        "answer": datasets.Value("string"),
        "answer_paraphrase": datasets.Value("string"),  # same meaning, other words (truth ratio)
        "perturbed_answers": datasets.Sequence(datasets.Value("string")),  # plausible wrong answers
        "person_id": datasets.Value("string"),  # "" when the row shows no person
        "person_name": datasets.Value("string"),
        "event_id": datasets.Value("string"),  # "" for text-only rows
        "event_name": datasets.Value("string"),
        "variant": datasets.Value("int32"),  # 0 = seen in fine-tuning, >= 1 = unseen rendering; -1 text
        "negative_kind": datasets.Value("string"),  # world rows: "" (positive), random, popular, adversarial
    }
)
