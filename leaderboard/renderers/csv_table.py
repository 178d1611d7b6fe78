"""`leaderboard.csv`: one row per verified entry, raw and normalized values with their intervals."""
import csv
import io

from leaderboard.renderers import RENDERERS
from leaderboard.renderers._format import method_text, printable

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def text(value):
    """A submitted string made inert for spreadsheets (a leading =, +, -, @ would run as a formula)."""
    value = printable(str(value or ""))
    return "'" + value if value.startswith(_FORMULA_START) else value


def number(value):
    return "" if value is None else f"{value:.6f}"


def header(metrics):
    cols = ["target", "forget_percent", "rank", "name", "method", "model", "config", "overall",
            "overall_low", "overall_high"]
    for m in metrics:
        cols += [m, f"{m}_low", f"{m}_high", f"{m}_normalized", f"{m}_normalized_low",
                 f"{m}_normalized_high",
                 f"{m}_score", f"{m}_score_low", f"{m}_score_high"]
    cols += ["robust_efficacy", "robust_efficacy_normalized", "robust_efficacy_score", "robust_efficacy_score_low",
             "robust_efficacy_score_high", "robust_overall", "robust_overall_low", "robust_overall_high",
             "robust_rank", "probes"]
    return cols + ["records", "link", "notes", "file"]


def _pair(ci):
    return (None, None) if ci is None else (ci[0], ci[1])


def line(group, row, metrics):
    cells = [group["target"], str(group["forget"]), str(row["rank"]), text(row["name"]), text(method_text(row)),
             text(row["model"]), row["config"], number(row["overall"]), *map(number, _pair(row["overall_ci95"]))]
    for m in metrics:
        s = row["metrics"][m]
        cells += [number(s["value"]), *map(number, _pair(s["ci95"])), number(s["normalized"]),
                  *map(number, _pair(s["normalized_ci95"])), number(s["score"]), *map(number, _pair(s["score_ci95"]))]
    robust = row.get("robust_efficacy") or {}
    cells += [number(robust.get("value")), number(robust.get("normalized")), number(robust.get("score")),
              *map(number, _pair(robust.get("score_ci95"))), number(row.get("robust_overall")),
              *map(number, _pair(row.get("robust_overall_ci95"))),
              str(row["robust_rank"]) if row.get("robust_overall") is not None else "",
              text(robust.get("reason") or "; ".join(f"{k}: {v}" for k, v in sorted((row.get("probes") or {}).items())))]
    return cells + [str(row["records"]), text(row["link"]), text(row["notes"]), text(row["file"])]


def seed_header(metrics):
    """Columns only a board holding sweep entries has (`pebench sweep`: one entry per chosen setting)."""
    return ["seeds", "overall_mean", "overall_std", *(c for m in metrics for c in (f"{m}_mean", f"{m}_std")),
            "setting"]


def seed_line(row, metrics):
    if "seeds" not in row:
        return ["1", *[""] * (2 + 2 * len(metrics)), ""]
    spread = row["spread"]
    values = [v for key in ("overall", *metrics) for v in spread[key]]
    setting = ";".join(f"{k}={v}" for k, v in row["setting"].items())
    return [str(row["seeds"]), *map(number, values), text(setting)]


@RENDERERS.register("leaderboard.csv")
def render(board):
    metrics = board["overall_metrics"]
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    seeded = any("seeds" in row for group in board["groups"] for row in group["rows"])
    writer.writerow(header(metrics) + (seed_header(metrics) if seeded else []))
    for group in board["groups"]:
        for row in group["rows"]:
            writer.writerow(line(group, row, metrics) + (seed_line(row, metrics) if seeded else []))
    return buf.getvalue()
