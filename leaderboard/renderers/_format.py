"""Number and label formatting shared by the renderers (fixed formats: same board, same bytes)."""



def label(name):
    """A column's label, as its cell declares it (`pebench.metrics.columns()`)."""
    from pebench.metrics import columns

    return {cell.name: cell.label for cell in columns()}.get(name, name)


def num(value, digits=3):
    """A fixed-precision number, or 'n/a'."""
    return "n/a" if value is None else f"{value:.{digits}f}"


def interval(ci, digits=2):
    """'[low, high]', or '' when there is no interval."""
    return "" if ci is None else f"[{ci[0]:.{digits}f}, {ci[1]:.{digits}f}]"


def printable(text, limit=None):
    """Replace control, format and undecodable characters by their escapes (file names may hold any)."""
    out = "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)
    if limit and len(out) > limit:
        out = out[: limit - 1] + "…"
    return out


NO_REFERENCES = ("This board holds no goal and fine-tuned reference results for this config: raw values, no "
                 "normalized scores and no overall score (build it with --references).")


def has_references(group):
    """Does the board hold both reference models for this group (else it shows raw values)?"""
    return set(group.get("references", ("goal", "finetuned"))) >= {"goal", "finetuned"}


def shown(metric, group):
    """What a table cell shows for a metric: its score against the board's references, else its raw value."""
    return metric["score"] if has_references(group) else metric["value"]


def robust_shown(row, group):
    """Robust efficacy as a table shows it: its score (raw value without references), or 'not run'."""
    robust = row.get("robust_efficacy") or {}
    value = robust.get("score") if has_references(group) else robust.get("value")
    return "not run" if value is None else num(value, 2)


def robust_rank(row):
    return str(row["robust_rank"]) if row.get("robust_overall") is not None else "n/a"


def probe_notes():
    """(name, one sentence) for every registered probe, and the robust efficacy rule, for the page."""
    from pebench.probes import PROBES

    return [(name, probe.summary) for name, probe in PROBES.items()]


ROBUST_NOTE = ("Robust efficacy = the efficacy score lowered by the largest recovery any attack probe achieves "
               "(recovery: the share of the fine-tuned/goal gap the attack brings back beyond what it brings back "
               "to the goal model); 'not run' when the entry lacks a probe the board's goal reference ran. "
               "Robust overall = the overall score with robust efficacy in place of efficacy; robust rank orders "
               "by it.")


def method_text(row):
    """The method with its declared selection ("po (budget, step 40 of 40)")."""
    return f"{row['method']} ({row['selection']})" if row.get("selection") else row["method"]
