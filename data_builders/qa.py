"""Question-answer rows (long format, `pebench.schema.QA_FEATURES`) for one rendered image or one person."""
from data_builders.events import article as _a
from pebench import schema

NAME_QUESTIONS = ("Who is the person in this image?", "Can you tell me who is shown here?",
                  "What is the name of the person in this picture?", "Name the person in the image.")
SCENE_QUESTIONS = ("Describe the scene in detail.", "What is happening in this image? Give details.",
                   "Give a detailed description of this picture.", "Explain in detail what the image shows.")
OBJECT_QUESTIONS = ("Is there {} in the image?", "Does the image contain {}?", "Can you see {} in this picture?")
PROFILE = {
    schema.PROFILE_JOB: (("What is the job of {name}?", "What does {name} do for a living?",
                          "What is the occupation of {name}?"),
                         "{name} works as {job}.", "The occupation of {name} is {job}."),
    schema.PROFILE_BIRTHPLACE: (("Where was {name} born?", "What is the birthplace of {name}?",
                                 "In which city was {name} born?"),
                                "{name} was born in {place}.", "The birthplace of {name} is {place}."),
    schema.PROFILE_AGE: (("How old is {name}?", "What is the age of {name}?", "What age is {name}?"),
                         "{name} is {age} years old.", "The age of {name} is {age} years."),
}


def _row(id_, image, task, questions, answer, paraphrase, perturbed, person, event, variant, negative=""):
    return {
        "id": id_, "image": image, "task": task, "question": questions[0],
        "question_paraphrases": list(questions[1:]), "answer": answer, "answer_paraphrase": paraphrase,
        "perturbed_answers": list(perturbed), "person_id": person["id"] if person else "",
        "person_name": person["name"] if person else "", "event_id": event["id"] if event else "",
        "event_name": event["name"] if event else "", "variant": variant, "negative_kind": negative,
    }


NAME_PARAPHRASE = "The person in the image is {}."

# Truth ratio (TOFU) compares the paraphrased answer with *wrong versions of it*: every perturbed answer
# below is the paraphrase's sentence with wrong words in place of the fact (a name nobody in the release
# has, objects the scene does not show, another person's job, city or age), so the ratio measures
# knowledge, not a preference for one answer template or for answers the model learnt about others.


def name_row(image, person, event, variant, decoys):
    """Person identification: the full name in a fixed answer template; perturbed = decoy names."""
    return _row(f"{schema.PERSON_NAME}/{person['id']}/{event['id']}/v{variant}", image, schema.PERSON_NAME,
                NAME_QUESTIONS, f"This is {person['name']}.", NAME_PARAPHRASE.format(person["name"]),
                [NAME_PARAPHRASE.format(name) for name in decoys], person, event, variant)


def description_row(image, person, event, variant, wrong):
    """Event description: the event's description; perturbed = its paraphrase with objects it does not show."""
    return _row(f"{schema.EVENT_DESCRIPTION}/{person['id']}/{event['id']}/v{variant}", image,
                schema.EVENT_DESCRIPTION, SCENE_QUESTIONS, event["description"], event["paraphrase"],
                wrong, person, event, variant)


def profile_rows(person, others):
    """Text-only profile facts about a named person (cross-modal leakage after image unlearning)."""
    def facts(p):
        return {"name": person["name"], "job": _a(p["job"]), "place": f"{p['city']}, {p['country']}",
                "age": p["age"]}

    rows = []
    for task, (questions, answer, paraphrase) in PROFILE.items():
        mine = facts(person)
        wrong = [paraphrase.format(**{**facts(o), "name": person["name"]}) for o in others]
        perturbed = list(dict.fromkeys(w for w in wrong if w != paraphrase.format(**mine)))[:3]
        rows.append(_row(f"{task}/{person['id']}//v-1", None, task,
                         [q.format(**mine) for q in questions], answer.format(**mine),
                         paraphrase.format(**mine), perturbed, person, None, -1))
    return rows


def object_rows(image, person, event, variant, scene, negatives):
    """POPE-style yes/no rows: one present object, one absent object of the given negative kind."""
    present, (kind, absent) = negatives["present"], negatives["absent"]
    rows = []
    for k, (obj, answer, negative) in enumerate(((present, "Yes.", ""), (absent, "No.", kind))):
        questions = [q.format(_a(obj)) for q in OBJECT_QUESTIONS]
        paraphrase, wrong = ("Yes, there is.", "No, there is not.")[::1 if answer == "Yes." else -1]
        rows.append(_row(f"{schema.WORLD_OBJECT}/{person['id']}/{event['id']}/v{variant}/{k}", image,
                         schema.WORLD_OBJECT, questions, answer, paraphrase, [wrong], person, event, variant,
                         negative))
    return rows
