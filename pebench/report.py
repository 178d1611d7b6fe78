"""PEBench's raw table (Table 1; Table 2 for the joint target) read back from result files.

Columns come from the metric table (`pebench.metrics.columns()`): the board's columns at PEBench's
scales; on the joint target each block's columns, prefixed, then the columns shared by both blocks.
Every number is read from `results/<config>/<model>.json`; nothing is recomputed.
"""
import json
from pathlib import Path

from pebench.io import atomic_write_text
from pebench.schema import FORGET_CONFIGS

TITLE = "# PEBench's cells per model (Table 1; Table 2 for the joint target)"
REFERENCES = {"finetuned": "Finetune", "goal": "Goal"}


def table_columns(target):
    """[(aggregate name, label)] of the raw table for a target."""
    from pebench.metrics import cells, columns

    if target != "joint":
        return [(c.name, c.label) for c in columns()]
    board = [c.name for c in columns()]
    per_block = sorted((c for c in cells() if c.block and c.name in board), key=lambda c: (c.block, board.index(c.name)))
    shared = [c for c in columns() if c.block is None]
    return ([(f"{c.block}_{c.name}", f"{c.block.capitalize()} {c.label.lower()}") for c in per_block]
            + [(c.name, c.label) for c in shared])


def write_table(out, configs):
    """OUT/table.md from the result files under `out`; returns its path."""
    parts = [TITLE, "", "Numbers are read from the result files under `results/` (higher is better everywhere; "
             "scales as in PEBench v1). *Unlearn time*: the training loop's wall time from the model's "
             "`unlearning.json`.", ""]
    for config in configs:
        parts += _config_table(Path(out), config)
        parts += _probe_table(Path(out), config)
    atomic_write_text(Path(out) / "table.md", "\n".join(parts) + "\n")
    return Path(out) / "table.md"


def _config_table(out, config):
    folder = out / "results" / config
    # Hidden files are `pebench demo`'s stage stamps, not results.
    names = sorted(p.stem for p in folder.glob("*.json") if not p.name.startswith(".") and p.stem not in REFERENCES)
    columns = table_columns(FORGET_CONFIGS[config][0])
    header = ["Method", *(label for _, label in columns), "Kept step (rule)", "Unlearn time (s)"]
    lines = [f"## {config}", "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for name in ("finetuned", *names, "goal"):
        path = folder / f"{name}.json"
        if path.is_file():
            lines.append(_row(out, config, name, json.loads(path.read_text()), columns))
    return lines + [""]


def _row(out, config, name, result, columns):
    label = REFERENCES.get(name, name.upper().replace("_KL", " (KL+BGD)"))
    cells = [_fmt(result["aggregates"].get(key)) for key, _ in columns]
    chosen = result.get("model", {}).get("selection")
    cells.append(f"{chosen['step']} of {chosen['budget_steps']} ({chosen['rule']})" if chosen else "")
    card = out / "models" / config / name / "unlearning.json"
    cells.append(f"{json.loads(card.read_text())['wall_time_s']:.1f}" if card.is_file() else "")
    return "| " + " | ".join([label, *cells]) + " |"


def _probe_table(out, config):
    """Per model, each attack probe's recovery [95 % CI] (`pebench.probes`): 0 = the attack brings back no
    more than it teaches the goal model, 1 = everything the fine-tuned model knew. Empty without probes."""
    folder = out / "results" / config
    results = {p.stem: json.loads(p.read_text()) for p in sorted(folder.glob("*.json")) if not p.name.startswith(".")}
    probes = sorted({k.split(":")[0] for r in results.values() for k in r["aggregates"] if k.endswith(":recovery")})
    if not probes:
        return []
    lines = [f"### {config}: recovery under attack [95 % CI]", "",
             "| Method | " + " | ".join(probes) + " |", "|" + "---|" * (len(probes) + 1)]
    for name in ("finetuned", *sorted(set(results) - set(REFERENCES)), "goal"):
        if name in results:
            lines.append(_probe_row(name, results[name], probes))
    return lines + [""]


def _probe_row(name, result, probes):
    cells = []
    for probe in probes:
        value, ci = result["aggregates"].get(f"{probe}:recovery"), result.get("ci95", {}).get(f"{probe}:recovery")
        cells.append("not run" if value is None else _fmt(value) + (f" [{_fmt(ci[0])}, {_fmt(ci[1])}]" if ci else ""))
    return "| " + " | ".join([REFERENCES.get(name, name.upper()), *cells]) + " |"


def _fmt(value):
    return "" if value is None else f"{value:.2f}".replace("-0.00", "0.00")
