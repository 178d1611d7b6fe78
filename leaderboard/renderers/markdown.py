"""`leaderboard.md`: the board as GitHub-flavoured Markdown tables, one per target and forget size."""
import html

from leaderboard.renderers import RENDERERS
from leaderboard.renderers._format import (method_text, NO_REFERENCES, ROBUST_NOTE, has_references, interval, label, num, printable,
                                           probe_notes, robust_rank, robust_shown, shown)

_MARKDOWN_SPECIAL = "\\`*_[]|#~!"


def cell(text):
    """Text safe inside a Markdown table cell: HTML escaped (GitHub renders inline HTML), Markdown
    punctuation backslash-escaped, line breaks flattened."""
    text = html.escape(printable(" ".join(str(text).split())), quote=True)
    return "".join("\\" + c if c in _MARKDOWN_SPECIAL else c for c in text)


def entry_cell(row):
    name = cell(row["name"])
    return f"[{name}](<{row['link']}>)" if row["link"] else name


@RENDERERS.register("leaderboard.md")
def render(board):
    metrics = board["overall_metrics"]
    lines = [f"# {board['title']}", "", _dataset_line(board), "", _SCORE_NOTE, ""]
    for group in board["groups"]:
        lines += [f"## {group['title']}", ""] + ([] if has_references(group) else [NO_REFERENCES, ""])
        seeded = any("seeds" in row for row in group["rows"])
        header = ["Rank", "Entry", "Method", "Overall [95% CI]"] + [label(m) for m in metrics]
        header += ["Robust efficacy", "Robust overall [95% CI]", "Robust rank"]
        header += SEED_COLUMNS if seeded else []
        lines.append("| " + " | ".join(header) + " |")
        lines.append("|" + "|".join(["---:", ":---", ":---", "---:"] + ["---:"] * (len(metrics) + 3)
                                    + ([":---"] * len(SEED_COLUMNS) if seeded else [])) + "|")
        for row in group["rows"]:
            cells = [str(row["rank"]), entry_cell(row), cell(method_text(row)),
                     f"{num(row['overall'])} {interval(row['overall_ci95'])}".strip()]
            cells += [num(shown(row["metrics"][m], group), 2) for m in metrics]
            cells += [robust_shown(row, group),
                      f"{num(row.get('robust_overall'))} {interval(row.get('robust_overall_ci95'))}".strip(),
                      robust_rank(row)]
            cells += seed_cells(row, metrics) if seeded else []
            lines.append("| " + " | ".join(cells) + " |")
        lines.append("")
    if not board["groups"]:
        lines += ["No verified entries yet.", ""]
    lines += ["## Attack probes", "", ROBUST_NOTE, ""]
    lines += [f"- `{name}`: {summary}" for name, summary in probe_notes()] + [""]  # our own sentences
    lines += _refused(board["refused"])
    return "\n".join(lines).rstrip("\n") + "\n"


SEED_COLUMNS = ["Seeds", "Overall mean ± std", "Raw mean ± std over seeds", "Setting"]


def seed_cells(row, metrics):
    """A sweep's entry (`pebench sweep`): seed count, mean ± std over seeds, and the chosen setting.

    The other cells of the row are its first seed's (with that seed's bootstrap interval).
    """
    if "seeds" not in row:
        return ["1", "", "", ""]
    spread = row["spread"]
    raw = "; ".join(f"{label(m)} {mean_std(spread[m])}" for m in metrics if spread[m][0] is not None)
    setting = ", ".join(f"{k}={v}" for k, v in row["setting"].items())
    return [str(row["seeds"]), mean_std(spread["overall"], 3), cell(raw), cell(setting)]


def mean_std(pair, digits=2):
    mean, std = pair
    if mean is None:
        return "n/a"
    return f"{mean:.{digits}f}" + ("" if std is None else f" ± {std:.{digits}f}")


def _dataset_line(board):
    data = board["dataset"]
    release = f"official release {cell(data['official'])}" if data["official"] else "not an official release"
    return (f"Dataset fingerprint `{data['fingerprint']}` ({release}). "
            f"{board['counts']['verified']} verified, {board['counts']['refused']} refused.")


_SCORE_NOTE = (
    "Efficacy and generality are normalized (fine-tuned model = 0, goal model = 1); retain, scope and "
    "world are the share of the goal model's score kept; all clipped to [0, 1]. Overall = their harmonic "
    "mean; its interval is the overall score at every metric's 95% bootstrap interval ends. Raw values, "
    "normalized values and intervals are in `leaderboard.csv`."
)


def _refused(refused):
    if not refused:
        return []
    lines = ["## Refused submissions", "", "| File | Reason |", "|:---|:---|"]
    lines += [f"| {cell(item['file'])} | {cell(item['reason'])} |" for item in refused]
    return lines + [""]
