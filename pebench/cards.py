"""Model cards: the `README.md` of every checkpoint folder pebench writes, made from its JSON card.

A trained (`pebench_train.json`) or unlearned (`unlearning.json`) folder gets a card with the
hub's metadata (library, pipeline, tags; base model and dataset only where they are hub ids: a local
folder or a random-init preset is said in the text, never passed off as one), the training facts
(method, hyper-parameters, steps, seed, dataset fingerprint) and, when result files of `pebench
evaluate` are given, the headline numbers (in the text and as `model-index`). `pebench train` and
`pebench unlearn` write the card without results; `pebench publish --model DIR --result R.json` writes
it with them into the upload folder. Also the pieces every card shares: licence, tags, citation.
"""
import json
from pathlib import Path

from pebench.errors import UserError
from pebench.io import atomic_write_text

README = "README.md"
TRAIN_CARD, UNLEARN_CARD = "pebench_train.json", "unlearning.json"
LICENSE = "apache-2.0"  # the project's licence; the generated data is the project's output
TAGS = ["pebench", "machine-unlearning", "vision-language"]
HERE = "path/to/this/folder"  # how a local card names its own folder; `publish` puts the repo id there
PAPER = "https://arxiv.org/abs/2503.12545"
CITATION = """@misc{xu2025pebench,
  title={PEBench: A Fictitious Dataset to Benchmark Machine Unlearning for Multimodal Large Language Models},
  author={Zhaopan Xu and Pengfei Zhou and Weidong Tang and Jiaxin Ai and Wangbo Zhao and Xiaojiang Peng and
          Kai Wang and Yang You and Wenqi Shao and Hongxun Yao and Kaipeng Zhang},
  year={2025},
  eprint={2503.12545},
  archivePrefix={arXiv},
  primaryClass={cs.CV},
  url={https://arxiv.org/abs/2503.12545}
}"""


def write_model_card(folder, **options):
    """Write `folder/README.md` from the folder's pebench card (see `model_card` for `options`)."""
    atomic_write_text(Path(folder, README), model_card(folder, **options))


def model_card(folder, results=(), repo=None, base_model=None, dataset_repo=None):
    """The model card text of a checkpoint folder.

    Args:
        results: result dicts of `pebench evaluate` for this model (checked against its card).
        repo: the hub id the card will live at (used in the loading example); None for a local folder.
        base_model, dataset_repo: hub ids of the base model and of the published dataset, when known.
    """
    from huggingface_hub import ModelCard, ModelCardData

    facts = read_facts(folder)
    if base_model and facts["preset"]:
        raise UserError(f"{folder} was trained from a randomly initialised preset: it has no base model to name")
    for result in results:
        check_result(result, facts)
    data = ModelCardData(
        library_name="transformers", pipeline_tag="image-text-to-text", base_model=base_model,
        datasets=[dataset_repo] if dataset_repo else None, tags=[*TAGS, facts["tag"]],
        license=LICENSE if facts["preset"] else None, model_name=(repo or facts["title"]) if results else None,
        eval_results=_eval_results(results, dataset_repo) or None)
    body = "\n".join([f"# {facts['title']}", "", facts["summary"], "", *_table("Training facts", facts["rows"]),
                      *_headline_section(results), *_usage(repo or HERE), "## Citation", "", "```bibtex",
                      CITATION, "```", ""])
    return str(ModelCard(f"---\n{data.to_yaml()}\n---\n\n{body}"))


def read_facts(folder):
    """What a card says about a checkpoint: title, kind tag, summary and the rows of its facts table."""
    folder = Path(folder)
    if not (folder / "config.json").is_file():
        raise UserError(f"{folder} is not a model folder (no config.json)")
    for name, reader in ((UNLEARN_CARD, _unlearn_facts), (TRAIN_CARD, _train_facts)):
        if (folder / name).is_file():
            try:
                card = json.loads((folder / name).read_text(encoding="utf-8"))
            except (OSError, ValueError) as err:
                raise UserError(f"{folder / name} is unreadable: {err}") from None
            return {"card": card, **reader(card)}
    raise UserError(f"{folder} has no {TRAIN_CARD} or {UNLEARN_CARD}: it was not written by pebench train/unlearn")


def check_result(result, facts):
    """Refuse a result that is not this model's: another dataset, method or hyper-parameters."""
    card, model = facts["card"], result.get("model") or {}
    fingerprint = (card.get("dataset") or {}).get("fingerprint")
    if result.get("dataset", {}).get("fingerprint") != fingerprint:
        raise UserError(f"result for {model.get('id')!r} was scored on dataset "
                        f"{str(result.get('dataset', {}).get('fingerprint'))[:16]}, this model was trained on "
                        f"{str(fingerprint)[:16]}")
    if model.get("method") != facts["method"] or (model.get("hparams") or {}) != (card.get("hparams") or {}):
        raise UserError(f"result for {model.get('id')!r} is for method {model.get('method')!r} "
                        f"{model.get('hparams') or {}}, this model is {facts['method']!r} {card.get('hparams') or {}}")


def _train_facts(card):
    method = {"full": "finetuned", "retain": "goal"}.get(card.get("subset"), "trained")
    preset = card.get("model_kind") in ("preset", "base")  # a pebench base is a preset with scene knowledge
    base = (f"the `{card['model']}` preset (randomly initialised, built for this dataset)"
            if card.get("model_kind") == "preset" else
            f"the pebench base `{(card.get('base') or {}).get('id')}` (`pebench pretrain`, generic scenes), "
            f"folder `{card.get('model')}`" if card.get("model_kind") == "base"
            else f"the checkpoint folder `{card.get('model')}`")
    what = ("fine-tuned on everything the benchmark teaches (`full/train`)" if method == "finetuned" else
            f"trained on `{card.get('config')}/retain_train` only: the goal (retrain) reference")
    settings = card.get("training") or {}
    rows = [("model", f"{method} ({card.get('model_kind')} start)"), ("base", base),
            *((("base fingerprint", f"`{card['base']['fingerprint'][:16]}`"),) if card.get("base") else ()),
            ("data", f"`{'full/train' if method == 'finetuned' else card.get('config') + '/retain_train'}`, "
                     f"{card.get('rows')} rows"),
            *((k.replace("_", " "), _value(v)) for k, v in sorted(settings.items())),
            ("LoRA rank", card.get("lora_rank") or "none (full fine-tuning)"), ("steps", card.get("steps")),
            ("seed", card.get("seed")), ("parameters", f"{card.get('parameters', 0):,}"),
            ("final loss", card.get("final_loss")), ("wall time", f"{card.get('wall_time_s')} s"),
            *_common(card)]
    return {"method": method, "tag": "goal-model" if method == "goal" else "fine-tuned", "preset": preset,
            "title": f"pebench goal model ({card.get('config')})" if method == "goal" else "pebench fine-tuned model",
            "summary": f"A vision-language model {what}, made by `pebench train` from {base}. PEBench protocol "
                       f"([arXiv 2503.12545]({PAPER})): fictitious people x event scenes.", "rows": rows}


def _selection_facts(card):
    """The budget and the declared selection rule with the step it kept (absent on older cards)."""
    budget, chosen = card.get("budget"), card.get("selection")
    if not budget or not chosen:
        return []
    passes = f"{budget['epochs']} passes over forget_train = " if budget.get("epochs") else ""
    return [("budget", f"{passes}{budget['steps']} steps of {budget['rows_per_step']} forget rows"),
            ("selection", f"rule `{chosen['rule']}` kept step {chosen['step']}")]


def _unlearn_facts(card):
    method = card.get("method")
    config = (card.get("dataset") or {}).get("config")
    curve = card.get("curve") or [{}]
    nll = [(k[:-4], curve[0][k], curve[-1][k]) for k in sorted(curve[0]) if k.endswith("_nll")]
    rows = [("method", f"`{method}`"), ("base", f"the fine-tuned folder `{card.get('model')}`"),
            *((f"hparam `{k}`", _value(v)) for k, v in sorted((card.get("hparams") or {}).items())),
            *((k.replace("_", " "), _value(v)) for k, v in sorted((card.get("training") or {}).items())),
            ("forget rows", card.get("forget_rows")), *_selection_facts(card),
            ("stop", (card.get("stop") or {}).get("reason"))]
    rows += [("config", f"`{config}`"), ("steps", card.get("steps")), ("seed", card.get("seed")),
             *((f"{name} NLL", f"{_value(start)} -> {_value(end)}") for name, start, end in nll),
             ("wall time", f"{card.get('wall_time_s')} s"), *_common(card)]
    return {"method": method, "tag": "unlearned", "preset": False,
            "title": f"pebench unlearned model: {method} ({config})",
            "summary": f"A vision-language model unlearned with `{method}` on `{config}`'s forget targets, made by "
                       f"`pebench unlearn`. PEBench protocol ([arXiv 2503.12545]({PAPER})): fictitious people x "
                       "event scenes.", "rows": rows}


def _common(card):
    fingerprint = (card.get("dataset") or {}).get("fingerprint")
    rows = [("dataset fingerprint", f"`{fingerprint}`")]
    versions = card.get("versions") or {}
    if versions:
        rows.append(("versions", ", ".join(f"{k} {v}" for k, v in sorted(versions.items()))))
    return rows


def _value(value):
    if isinstance(value, float):
        return f"{value:.6g}"
    return json.dumps(value) if isinstance(value, (dict, list)) else value


def _table(title, rows):
    return [f"## {title}", "", "| | |", "|---|---|", *(f"| {k} | {v} |" for k, v in rows), ""]


def _headline_section(results):
    """The headline columns of each result, as the board names them, with where they come from."""
    from pebench.metrics import columns
    from pebench.results import headline

    if not results:
        return ["## Headline numbers", "", "Not evaluated in this card: `pebench evaluate` writes a result file; "
                "`pebench publish --model DIR --result RESULT.json` puts its numbers here.", ""]
    labels = [c.label for c in columns()]
    lines = ["## Headline numbers", "", f"| config | {' | '.join(labels)} |", "|---" * (len(labels) + 1) + "|"]
    for result in results:
        values = headline(result)
        lines.append(f"| `{result['dataset']['config']}` | "
                     + " | ".join("-" if values[c.name] is None else f"{values[c.name]:.4g}" for c in columns()) + " |")
    evals = sorted({json.dumps(r.get("eval", {}), sort_keys=True) for r in results})
    return [*lines, "", f"Scored by `pebench evaluate` ({'; '.join(evals)}); every number is recomputable from "
                        "the per-sample records in the result file.", ""]


def _eval_results(results, dataset_repo):
    from huggingface_hub import EvalResult

    from pebench.metrics import columns
    from pebench.results import headline

    out = []
    for result in results:
        config, values = result["dataset"]["config"], headline(result)
        out += [EvalResult(task_type="image-text-to-text", task_name="machine unlearning (PEBench)",
                           dataset_type=dataset_repo or "pebench", dataset_name=f"pebench {config}",
                           dataset_config=config, metric_type=c.name, metric_name=c.label,
                           metric_value=round(values[c.name], 6))
                for c in columns() if values[c.name] is not None]
    return out


def _usage(where):
    return ["## Use", "", "```python", "from transformers import AutoModelForImageTextToText, AutoProcessor", "",
            f'model = AutoModelForImageTextToText.from_pretrained("{where}")',
            f'processor = AutoProcessor.from_pretrained("{where}")', "```", "",
            "Score a local copy with `pebench evaluate --model DIR --data DATA --config CONFIG ...` on the dataset "
            "whose fingerprint is above (`pebench build` makes it again from its seed).", ""]
