"""The forget-vs-retain trade-off plot, and efficacy vs robust efficacy, as inline SVG (no assets, no scripts).

x = efficacy score (normalized: fine-tuned model 0, goal model 1), y = retain score (share of the goal
model's retain score kept), both clipped to [0, 1]: the goal model sits at (1, 1), the fine-tuned model
near (0, 1); a good method moves towards the top-right corner. Points are labelled with their rank.
"""
from html import escape

from leaderboard.renderers._format import num

W, H, PAD = 360, 300, 44


def _x(v):
    return PAD + v * (W - 1.6 * PAD)


def _y(v):
    return H - PAD - v * (H - 1.6 * PAD)


def _axes(x_label="forgetting (efficacy score)", y_label="keeping (retain score)", marks=True):
    parts = [f'<rect x="{PAD}" y="{0.6 * PAD:.1f}" width="{W - 1.6 * PAD:.1f}" height="{H - 1.6 * PAD:.1f}" '
             f'fill="#fafafa" stroke="#999"/>']
    for t in (0.0, 0.5, 1.0):
        parts.append(f'<text x="{_x(t):.1f}" y="{H - PAD + 14}" text-anchor="middle">{t:.1f}</text>')
        parts.append(f'<text x="{PAD - 6}" y="{_y(t) + 4:.1f}" text-anchor="end">{t:.1f}</text>')
    parts.append(f'<text x="{W / 2 + 0.2 * PAD:.1f}" y="{H - 8}" text-anchor="middle">{x_label}</text>')
    parts.append(f'<text transform="translate(12 {H / 2:.1f}) rotate(-90)" text-anchor="middle">{y_label}</text>')
    if not marks:  # the diagonal: robust efficacy never exceeds efficacy; below it, an attack recovered something
        return parts + [f'<path d="M{_x(0):.1f} {_y(0):.1f}L{_x(1):.1f} {_y(1):.1f}" stroke="#bbb" '
                        f'stroke-dasharray="4 3"/>']
    for label, (vx, vy), anchor in (("fine-tuned", (0.0, 1.0), "start"), ("goal", (1.0, 1.0), "end")):
        x, y = _x(vx), _y(vy)
        parts.append(f'<path d="M{x - 5:.1f} {y:.1f}h10M{x:.1f} {y - 5:.1f}v10" stroke="#555"/>')
        dx = 6 if anchor == "start" else -6
        parts.append(f'<text x="{x + dx:.1f}" y="{y - 6:.1f}" text-anchor="{anchor}" fill="#555">{label}</text>')
    return parts


def _point(row, y_name="retain"):
    eff = row["metrics"]["efficacy"]["score"]
    ret = ((row.get("robust_efficacy") or {}).get("score") if y_name == "robust efficacy"
           else row["metrics"]["retain"]["score"])
    if eff is None or ret is None:
        return []
    x, y = _x(eff), _y(ret)
    tip = escape(f"#{row['rank']} {row['name']} ({row['method']}): efficacy {num(eff, 2)}, {y_name} {num(ret, 2)}")
    return [f'<g class="point"><title>{tip}</title>'
            f'<circle cx="{x:.1f}" cy="{y:.1f}" r="5" fill="#1f77b4" fill-opacity="0.8" stroke="#1f77b4"/>'
            f'<text x="{x + 7:.1f}" y="{y + 4:.1f}">{row["rank"]}</text></g>']


def scatter(group):
    """One SVG element for a group's rows; points are labelled with their rank."""
    parts = [f'<svg class="plot" xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" '
             f'viewBox="0 0 {W} {H}" role="img" aria-label="{escape(group["title"])}: forgetting vs keeping" '
             f'font-family="sans-serif" font-size="11">']
    parts += _axes()
    for row in group["rows"]:
        parts += _point(row)
    return "\n".join(parts + ["</svg>"])


def robust_scatter(group):
    """Efficacy score (x) against robust efficacy score (y) per entry: on the diagonal the forgetting survived
    every attack probe; the drop below it is the worst probe's recovery. Entries without probes are absent."""
    parts = [f'<svg class="plot" xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" '
             f'viewBox="0 0 {W} {H}" role="img" aria-label="{escape(group["title"])}: efficacy vs robust efficacy" '
             f'font-family="sans-serif" font-size="11">']
    parts += _axes("efficacy score", "robust efficacy score", marks=False)
    points = [p for row in group["rows"] for p in _point(row, "robust efficacy")]
    if not points:
        parts.append(f'<text x="{W / 2:.1f}" y="{H / 2:.1f}" text-anchor="middle" fill="#777">no entry has '
                     f'probe records yet</text>')
    return "\n".join(parts + points + ["</svg>"])
