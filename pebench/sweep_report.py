"""A finished sweep's numbers: the chosen setting per method, mean +- std over its seeds, the full grid.

The choice is `pebench.selection.choose` on the unlearning cards (validation numbers only, mean over
seeds); the test-split numbers are read from the result files afterwards, for reporting only. Outputs:
`sweep.csv` (one row per job), `sweep.svg` (efficacy vs retain per setting, mean over seeds; the chosen
setting ringed), `summary.json` and `summary.md`.
"""
import csv
import io
import json
import math
from html import escape
from pathlib import Path

from pebench.io import atomic_write_json, atomic_write_text

SELECTION = ("rule", "step", "forget_val_nll", "retain_val_nll", "goal_forget_val_nll")


def load_rows(jobs, outcome):
    """One row per job: its identity, status, the card's selection block and the result's headline cells."""
    from pebench import results

    rows = []
    for job in jobs:
        row = {k: job[k] for k in ("config", "method", "setting", "seed", "result")}
        row["setting_id"], row["error"] = _setting_key(job["setting"]), outcome.get(job["name"])
        card_path, result_path = Path(job["model"], "unlearning.json"), Path(job["result"])
        row["card"] = json.loads(card_path.read_text()) if card_path.is_file() and not row["error"] else None
        result = results.load(result_path) if result_path.is_file() and not row["error"] else None
        row["headline"] = results.headline(result) if result else {}
        row["ci95"] = {k: (result or {}).get("ci95", {}).get(k) for k in row["headline"]}
        rows.append(row)
    return rows


def _setting_key(setting):
    from pebench.sweep import setting_id

    return setting_id(setting)


def choose(rows):
    """{(config, method): chosen setting id}, by `pebench.selection.choose` over the finished jobs' cards."""
    from pebench import selection

    by_method = {}
    for row in rows:
        if row["card"] is not None and row["headline"]:
            by_setting = by_method.setdefault((row["config"], row["method"]), {})
            by_setting.setdefault(row["setting_id"], []).append(row["card"])
    return {key: selection.choose(cards) for key, cards in sorted(by_method.items())}


def summarize(rows, chosen):
    """Per (config, method): the chosen setting, its seeds, mean and std (n - 1) of every headline cell."""
    summary = []
    for (config, method), setting in chosen.items():
        seeds = sorted((r for r in rows if (r["config"], r["method"], r["setting_id"]) == (config, method, setting)
                        and r["headline"]), key=lambda r: r["seed"])
        cells = {}
        for name in seeds[0]["headline"]:
            values = [r["headline"][name] for r in seeds if r["headline"][name] is not None]
            cells[name] = {"mean": _mean(values), "std": _std(values), "n": len(values),
                           "per_seed": [{"seed": r["seed"], "value": r["headline"][name], "ci95": r["ci95"][name]}
                                        for r in seeds]}
        summary.append({"config": config, "method": method, "setting_id": setting, "setting": seeds[0]["setting"],
                        "seeds": [r["seed"] for r in seeds], "results": [r["result"] for r in seeds],
                        "rule": (seeds[0]["card"].get("selection") or {}).get("rule"), "cells": cells})
    return summary


def _mean(values):
    return sum(values) / len(values) if values else None


def _std(values):
    if len(values) < 2:
        return None
    mean = _mean(values)
    return math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1))


# ------------------------------------------------------------------------------------------ outputs
def write_reports(out, rows, chosen, summary):
    out = Path(out)
    atomic_write_text(out / "sweep.csv", grid_csv(rows, chosen))
    atomic_write_text(out / "sweep.svg", tradeoff_svg(rows, chosen))
    atomic_write_json(out / "summary.json", {"chosen": summary})
    atomic_write_text(out / "summary.md", summary_md(summary))


def grid_csv(rows, chosen):
    names = sorted({n for r in rows for n in r["headline"]}, key=lambda n: next(
        list(r["headline"]).index(n) for r in rows if n in r["headline"]))
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["config", "method", "setting", "seed", "chosen", "status",
                     *(f"selection_{k}" for k in SELECTION),
                     *(c for n in names for c in (n, f"{n}_low", f"{n}_high")), "result"])
    for r in rows:
        selection = ((r["card"] or {}).get("selection") or {})
        ci = [c for n in names for c in (r["headline"].get(n), *(r["ci95"].get(n) or (None, None)))]
        writer.writerow([r["config"], r["method"], r["setting_id"], r["seed"],
                         int(chosen.get((r["config"], r["method"])) == r["setting_id"]), r["error"] or "done",
                         *(_cell(selection.get(k)) for k in SELECTION), *map(_cell, ci), Path(r["result"]).name])
    return buf.getvalue()


def _cell(value):
    return "" if value is None else f"{value:.6f}" if isinstance(value, float) else str(value)


def summary_md(summary):
    lines = ["# Sweep: chosen setting per method, mean +- std over its seeds", "",
             "The setting is chosen by `pebench.selection.choose` on validation numbers only (forget_val / "
             "retain_val, mean over seeds); the cells below are test-split numbers, read afterwards. "
             "Per-seed 95 % bootstrap intervals are in `summary.json`; every job is a row of `sweep.csv`.", ""]
    for config in sorted({s["config"] for s in summary}):
        items = [s for s in summary if s["config"] == config]
        names = list(items[0]["cells"])
        lines += [f"## {config}", "", "| Method | Setting | Rule | Seeds | " + " | ".join(names) + " |",
                  "|" + "---|" * (4 + len(names))]
        for s in items:
            cells = [_pm(s["cells"][n]) for n in names]
            lines.append(f"| {s['method']} | {s['setting_id']} | {s['rule'] or ''} | {len(s['seeds'])} | "
                         + " | ".join(cells) + " |")
        lines.append("")
    return "\n".join(lines)


def _pm(cell):
    if cell["mean"] is None:
        return "n/a"
    return f"{cell['mean']:.2f}" + ("" if cell["std"] is None else f" ± {cell['std']:.2f}")


# -------------------------------------------------------------------------------------------- plot
W, H, PAD = 420, 320, 50
COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf", "#7f7f7f",
           "#bcbd22")


def tradeoff_svg(rows, chosen):
    """Self-contained SVG, one panel per config: x = efficacy, y = retain (raw cells, mean over seeds)."""
    configs = sorted({r["config"] for r in rows})
    panels = [_panel(config, [r for r in rows if r["config"] == config and r["headline"]], chosen, i)
              for i, config in enumerate(configs)]
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H * len(configs)}" '
            f'font-family="sans-serif" font-size="11">' + "".join(panels) + "</svg>\n")


def _panel(config, rows, chosen, index):
    points = {}
    for r in rows:
        points.setdefault((r["method"], r["setting_id"]), []).append((r["headline"].get("efficacy"),
                                                                      r["headline"].get("retain")))
    means = {k: (_mean([x for x, _ in v if x is not None]), _mean([y for _, y in v if y is not None]))
             for k, v in points.items()}
    means = {k: v for k, v in means.items() if None not in v}
    xs, ys = [v[0] for v in means.values()] or [0, 1], [v[1] for v in means.values()] or [0, 1]
    sx, sy = _scale(min(xs), max(xs), PAD, W - PAD / 2), _scale(min(ys), max(ys), H - PAD, PAD / 2)
    top = H * index
    parts = [f'<g transform="translate(0 {top})"><text x="{W / 2}" y="14" text-anchor="middle">{escape(config)}: '
             f'efficacy vs retain per setting (mean over seeds)</text>',
             f'<rect x="{PAD}" y="{PAD / 2}" width="{W - 1.5 * PAD}" height="{H - 1.5 * PAD}" fill="#fafafa" '
             f'stroke="#999"/>', f'<text x="{W / 2}" y="{H - 12}" text-anchor="middle">efficacy</text>',
             f'<text transform="translate(14 {H / 2}) rotate(-90)" text-anchor="middle">retain</text>',
             f'<text x="{PAD}" y="{H - PAD + 14}">{min(xs):.3g}</text>',
             f'<text x="{W - PAD / 2}" y="{H - PAD + 14}" text-anchor="end">{max(xs):.3g}</text>',
             f'<text x="{PAD - 4}" y="{H - PAD}" text-anchor="end">{min(ys):.3g}</text>',
             f'<text x="{PAD - 4}" y="{PAD / 2 + 10}" text-anchor="end">{max(ys):.3g}</text>']
    methods = sorted({m for m, _ in means})
    for (method, setting), (x, y) in sorted(means.items()):
        colour = COLOURS[methods.index(method) % len(COLOURS)]
        ring = chosen.get((config, method)) == setting
        parts.append(f'<circle cx="{sx(x):.1f}" cy="{sy(y):.1f}" r="{6 if ring else 4}" fill="{colour}" '
                     f'stroke="{"#000" if ring else "none"}" stroke-width="2"><title>{escape(method)} '
                     f'{escape(setting)}: efficacy {x:.3g}, retain {y:.3g}{" (chosen)" if ring else ""}'
                     '</title></circle>')
    for i, method in enumerate(methods):
        parts.append(f'<text x="{PAD + 6}" y="{PAD / 2 + 14 + 13 * i}" fill="{COLOURS[i % len(COLOURS)]}">'
                     f'{escape(method)}</text>')
    return "".join(parts) + "</g>"


def _scale(low, high, start, end):
    span = (high - low) or 1.0
    return lambda v: start + (v - low) / span * (end - start)
