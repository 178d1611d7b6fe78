"""The release's dataset card (README.md) and its preview grid: picture first, then how to load, sizes,
how it was made, licence and citation; the YAML header is what the Hugging Face hub and `datasets` read.

Both are deterministic (no time, no path, fixed PNG settings): the same build gives the same bytes. The
card names only files of the release (`data/**.parquet`, `preview.png`), so a copy of the folder on the
hub loads with `datasets.load_dataset("ORG/NAME", config)`.
"""
from io import BytesIO

from pebench import preview, schema
from pebench.cards import CITATION, HERE, LICENSE, PAPER, TAGS

SIZE_BUCKETS = ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M"),
                (10_000_000, "1M<n<10M"))


def write_preview(root, shards, plan):
    """Draw `preview.png` from the rows in memory: the first trained people x the first events.

    The same selection and drawing as `pebench show --data FOLDER` (`pebench.preview.release_grid`), which
    reads the written folder instead; a test compares the bytes.
    """
    from PIL import Image

    people = sorted((p["id"], p["name"]) for p in plan["people"] if plan["pg"][p["id"]] != "hold")
    chosen_people = preview.choose(people, None, "person", preview.DEFAULT_PEOPLE)
    chosen_events = preview.choose(sorted((e["id"], e["name"]) for e in plan["events"]), None, "event",
                                   preview.DEFAULT_EVENTS)
    pairs = {(p, e) for p, _ in chosen_people for e, _ in chosen_events}
    images = {(r["person_id"], r["event_id"], r["variant"]): Image.open(BytesIO(r["image"]["bytes"]))
              for key, rows in shards.items() if key[0] == "name" for r in rows
              if (r["person_id"], r["event_id"]) in pairs and r["variant"] in preview.VARIANTS}
    grid = preview.draw_grid(chosen_people, chosen_events, images)
    (root / preview.FILE).write_bytes(preview.png_bytes(grid))


def write_card(root, configs, files, sizes, meta):
    """Write README.md.

    Args:
        configs: config -> split -> shard keys; files: shard key -> relative path;
        sizes: relative path -> rows of each written table; meta: the `metadata.json` dict.
    """
    counts = {config: {split: sum(sizes[files[k]] for k in keys) for split, keys in configs[config].items()}
              for config in schema.CONFIGS}
    header = _header(root, configs, files, sizes, meta)
    (root / "README.md").write_text(f"---\n{header}---\n\n{_body(counts, meta)}", encoding="utf-8")


def _header(root, configs, files, sizes, meta):
    """The YAML block: licence, task, size and name for the hub; `configs` and `dataset_info` for `datasets`.

    `dataset_info` holds each config's features, not its split sizes: `datasets` checks recorded sizes
    against the data files and would refuse a folder whose card lists a split its configs no longer do
    (the reader's tests edit cards so); the sizes are in the card's text.
    """
    import datasets
    import pyarrow.parquet as pq
    from datasets.info import DatasetInfosDict
    from huggingface_hub import DatasetCardData

    infos = DatasetInfosDict()
    for config in schema.CONFIGS:
        first = files[next(iter(configs[config].values()))[0]]
        features = datasets.Features.from_arrow_schema(pq.read_schema(root / first))
        infos[config] = datasets.DatasetInfo(features=features)
    total = sum(sizes.values())
    card = DatasetCardData(
        license=LICENSE, language=["en"], pretty_name=_title(meta), size_categories=[_size_category(total)],
        task_categories=["image-text-to-text", "visual-question-answering"], tags=[*TAGS, "synthetic"],
        configs=[_config_entry(config, configs[config], files) for config in schema.CONFIGS])
    infos.to_dataset_card_data(card)
    return card.to_yaml() + "\n"


def _config_entry(config, splits, files):
    entry = {"config_name": config, **({"default": True} if config == "full" else {}), "data_files": []}
    for split, keys in splits.items():
        entry["data_files"].append({"split": split, "path": [files[k] for k in keys]})
    return entry


def _size_category(rows):
    return next((name for limit, name in SIZE_BUCKETS if rows < limit), "n>10M")


def _title(meta):
    return f"pebench: fictitious people x events ({meta['people']} x {meta['events']}, seed {meta['seed']})"


def _body(counts, meta):
    lines = [f"# {_title(meta)}", "", f"![{_ALT}]({preview.FILE})", "", _CAPTION, "", _INTRO.strip(), "",
             "## Load", "", "```python", "import datasets", "",
             f'forget = datasets.load_dataset("{HERE}", "person_forget05", split="forget_train")',
             f'people = datasets.load_dataset("{HERE}", "people", split="train")', "```", "",
             "## Configs and rows", "", "| config | rows per split |", "|---|---|"]
    lines += [f"| `{config}` | " + ", ".join(f"`{s}` {n:,}" for s, n in splits.items()) + " |"
              for config, splits in counts.items()]
    lines += ["", _CONFIGS.strip(), "", "## How it was generated", "", "| | |", "|---|---|"]
    lines += [f"| {label} | {value} |" for label, value in _generation(meta)]
    lines += ["", "Same command, same version, same seed: the same parquet bytes, hence the same fingerprint "
              "(sha256 over every data file's path and bytes; models, results and leaderboard entries record "
              "it). `metadata.json` also lists each forget config's target people and events.", "",
              "## Licence", "", _LICENCE.strip(), "", "## Citation", "",
              f"The benchmark protocol is PEBench ([arXiv 2503.12545]({PAPER})):", "", "```bibtex", CITATION,
              "```", ""]
    return "\n".join(lines)


def _generation(meta):
    command = (f"pebench build --out DIR --people {meta['people']} --events {meta['events']} --variants "
               f"{meta['variants']} --holdout {meta['holdout']} --image-size {meta['image_size']} --seed "
               f"{meta['seed']} --renderer {meta['renderer']}")
    return [("command", f"`{command}`"), ("seed", meta["seed"]), ("generator version", meta["generator_version"]),
            ("schema version", meta["schema_version"]), ("renderer", f"`{meta['renderer']}`"),
            ("image size", f"{meta['image_size']} x {meta['image_size']} px"),
            ("people", f"{meta['people']} trained + {meta['holdout']} holdout"), ("events", meta["events"]),
            ("renderings per pair", f"{meta['variants']} (variant 0 seen in fine-tuning, the rest unseen)"),
            ("min identity distance", f"{meta['min_identity_distance']} of 7 drawn attributes"),
            ("fingerprint", f"`{meta['fingerprint']}`")]


_ALT = "preview: people (rows) x events (columns), each cell a seen and an unseen rendering"
_CAPTION = ("*Rows: people; columns: events; in each cell the left picture is seen in fine-tuning (variant 0), the "
            "right one an unseen rendering of the same person at the same event (variant 1). Everyone here is "
            "fictitious. Draw any people and events with `pebench show --data FOLDER --out grid.png --people ... "
            "--events ...`.*")
_INTRO = """
Fictitious people x event scenes for benchmarking machine unlearning in vision-language models (the
PEBench protocol, TOFU-style: fine-tune, train a goal model, unlearn, evaluate, rank). Made by
`pebench build` from a seed: no real person, no scraped image. Each row is one question about one
picture (who is this, describe the scene, a profile fact, is there an object); the forget configs say
which people or events are to be forgotten and what must be kept.
"""
_CONFIGS = """
`full`: `train` is everything the fine-tuned model sees, `test` the unseen renderings. Forget configs
(`person_forget01/05/10`, `event_forget05/10/20`, `joint_forget05`): `forget_train` (what unlearning may
use), `forget_test` (the targets' seen images held out from unlearning), `forget_unseen`, `scope` (the
other task on the forget images), `retain_train` (the goal model's data), `retain_test` and, for person
and joint targets, `forget_profile` (text-only facts). `world`: POPE-style yes/no object questions;
`holdout`: people never trained on (membership non-members); `people`, `events`: one row per person /
event. Rows are stored once; a split lists the shards it is made of.

Columns of the QA configs: `id`, `image`, `task`, `question`, `question_paraphrases`, `answer`,
`answer_paraphrase`, `perturbed_answers`, `person_id`, `person_name`, `event_id`, `event_name`, `variant`,
`negative_kind`. Variant 0 is seen in fine-tuning; variants >= 1 are never trained on.
"""
_LICENCE = """
Apache-2.0, the licence of the pebench project that generated it. The people, their names and facts,
and the events are invented; the pictures are drawn procedurally by the renderer named above.
"""
