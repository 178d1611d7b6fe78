"""`index.html`: a static page (no server, no external assets) with sortable tables and trade-off plots.

Every submitted string is HTML-escaped. As a second line of defence the page's Content-Security-Policy
allows only its own inline script and style (by SHA-256 hash) and no network at all, so even a string
that slipped through escaping could neither run a script nor load anything.

Sorting: clicking a column header sorts that table (again: reverse). For tests, the URL hash
`#click=KEY[,KEY...]` clicks those headers once the page has loaded (e.g. `index.html#click=name`).
"""
import base64
import hashlib
from html import escape

from leaderboard.renderers import RENDERERS
from leaderboard.renderers._format import (method_text, NO_REFERENCES, ROBUST_NOTE, has_references, interval, label, num, printable,
                                           probe_notes, shown)
from leaderboard.renderers._scatter import robust_scatter, scatter

STYLE = """
body{font-family:sans-serif;margin:24px;color:#222;max-width:1200px}
table{border-collapse:collapse;margin:8px 0 16px;font-size:14px}
th,td{border-bottom:1px solid #ddd;padding:4px 8px;text-align:right}
th{cursor:pointer;background:#f3f3f3;user-select:none}
th[aria-sort=ascending]::after{content:" \\25B2"}th[aria-sort=descending]::after{content:" \\25BC"}
td.text,th.text{text-align:left}td.notes{max-width:260px;color:#555;font-size:12px}
.ci{color:#777;font-size:11px}.group{display:flex;flex-wrap:wrap;gap:24px;align-items:flex-start}
.note{color:#555;font-size:13px;max-width:900px}
"""

SCRIPT = """
(function () {
  function key(cell, numeric) {
    var v = cell.getAttribute("data-value");
    if (v === null) v = cell.textContent;
    if (!numeric) return v.toLowerCase();
    var x = parseFloat(v);
    return isNaN(x) ? null : x;
  }
  function sortBy(th) {
    var table = th.closest("table"), body = table.tBodies[0], col = th.cellIndex;
    var numeric = th.getAttribute("data-type") === "number";
    var dir = th.getAttribute("aria-sort") === "descending" ? "ascending" :
              th.getAttribute("aria-sort") === "ascending" ? "descending" :
              (numeric && th.getAttribute("data-key") !== "rank" ? "descending" : "ascending");
    var sign = dir === "ascending" ? 1 : -1;
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (a, b) {
      var x = key(a.cells[col], numeric), y = key(b.cells[col], numeric);
      if (x === null || y === null) {
        if (x !== y) return x === null ? 1 : -1;
      } else if (x !== y) {
        return x < y ? -sign : sign;
      }
      return a.getAttribute("data-order") - b.getAttribute("data-order");
    });
    rows.forEach(function (r) { body.appendChild(r); });
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (c) { c.removeAttribute("aria-sort"); });
    th.setAttribute("aria-sort", dir);
  }
  var heads = document.querySelectorAll("th[data-key]");
  Array.prototype.forEach.call(heads, function (th) {
    th.addEventListener("click", function () { sortBy(th); });
    th.addEventListener("keydown", function (e) { if (e.key === "Enter") sortBy(th); });
  });
  var m = /^#click=([A-Za-z0-9_,-]+)$/.exec(window.location.hash);
  if (m) m[1].split(",").forEach(function (k) {
    Array.prototype.forEach.call(document.querySelectorAll('th[data-key="' + k + '"]'),
                                 function (th) { th.click(); });
  });
})();
"""


def _hash(text):
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode() + "'"


CSP = (f"default-src 'none'; script-src {_hash(SCRIPT)}; style-src {_hash(STYLE)}; img-src data:; "
       "base-uri 'none'; form-action 'none'")


def esc(text):
    return escape(printable(str(text)), quote=True)


def _th(key, label, kind):
    cls = ' class="text"' if kind == "text" else ""
    return f'<th data-key="{key}" data-type="{kind}"{cls} tabindex="0" scope="col">{label}</th>'


def _num_td(value, ci=None, title=""):
    shown = num(value, 2) + (f' <span class="ci">{interval(ci)}</span>' if ci else "")
    data = "" if value is None else f"{value:.9f}"
    title = f' title="{title}"' if title else ""
    return f'<td data-value="{data}"{title}>{shown}</td>'


def _entry_td(row):
    name = esc(row["name"])
    if row["link"]:
        name = f'<a href="{esc(row["link"])}" rel="nofollow noopener noreferrer">{name}</a>'
    return f'<td class="text" data-value="{esc(row["name"])}">{name}</td>'


def _row(order, row, metrics, group):
    cells = [f'<td data-value="{row["rank"]}">{row["rank"]}</td>', _entry_td(row),
             f'<td class="text">{esc(method_text(row))}</td>', _num_td(row["overall"], row["overall_ci95"])]
    for m in metrics:
        s = row["metrics"][m]
        raw = f'raw {num(s["value"], 4)} {interval(s["ci95"], 4)}; normalized {num(s["normalized"], 3)}'
        cells.append(_num_td(shown(s, group), title=raw))
    cells += _robust_tds(row, group)
    cells.append(f'<td class="text notes">{esc(row["notes"] or "")}</td>')
    if any("seeds" in r for r in group["rows"]):
        cells += _seed_tds(row)
    return f'<tr data-order="{order}">' + "".join(cells) + "</tr>"


def _robust_tds(row, group):
    robust = row.get("robust_efficacy") or {}
    value = robust.get("score") if has_references(group) else robust.get("value")
    probes = "; ".join(f"{k}: {v}" for k, v in sorted((row.get("probes") or {}).items())) or "no probe records"
    if value is None:
        efficacy = f'<td data-value="" title="{esc(robust.get("reason") or probes)}">not run</td>'
    else:
        worst = f"worst probe {robust['worst']}" if robust.get("worst") else "no probe recovered anything"
        efficacy = _num_td(value, robust.get("score_ci95"), title=esc(f"{worst}; raw {num(robust.get('value'), 4)}"))
    ranked = row.get("robust_overall") is not None
    return [efficacy, _num_td(row.get("robust_overall"), row.get("robust_overall_ci95")),
            f'<td data-value="{row["robust_rank"] if ranked else ""}">{row["robust_rank"] if ranked else "n/a"}</td>']


def _seed_tds(row):
    """A sweep's entry: seed count, overall mean ± std over seeds, the chosen setting (other cells: seed 1)."""
    if "seeds" not in row:
        return ['<td data-value="1">1</td>', '<td data-value=""></td>', '<td class="text"></td>']
    mean, std = row["spread"]["overall"]
    shown = num(mean, 3) + ("" if std is None else f" ± {num(std, 3)}")
    setting = ", ".join(f"{k}={v}" for k, v in row["setting"].items())
    return [f'<td data-value="{row["seeds"]}">{row["seeds"]}</td>',
            f'<td data-value="{"" if mean is None else f"{mean:.9f}"}">{esc(shown)}</td>',
            f'<td class="text">{esc(setting)}</td>']


def table(group, metrics):
    heads = [_th("rank", "Rank", "number"), _th("name", "Entry", "text"), _th("method", "Method", "text"),
             _th("overall", "Overall", "number")]
    heads += [_th(m, label(m), "number") for m in metrics]
    heads += [_th("robust_efficacy", "Robust efficacy", "number"), _th("robust_overall", "Robust overall", "number"),
              _th("robust_rank", "Robust rank", "number"), _th("notes", "Notes", "text")]
    if any("seeds" in r for r in group["rows"]):
        heads += [_th("seeds", "Seeds", "number"), _th("overall_mean", "Overall mean ± std", "number"),
                  _th("setting", "Setting", "text")]
    rows = [_row(i, row, metrics, group) for i, row in enumerate(group["rows"])]
    return (f'<table id="table-{group["key"]}"><thead><tr>{"".join(heads)}</tr></thead>\n<tbody>\n'
            + "\n".join(rows) + "\n</tbody></table>")


def _refused(refused):
    if not refused:
        return ""
    items = "\n".join(f'<li><code>{esc(r["file"])}</code>: {esc(r["reason"])}</li>' for r in refused)
    return f'<h2>Refused submissions</h2>\n<ul class="refused">\n{items}\n</ul>'


@RENDERERS.register("index.html")
def render(board):
    data, metrics = board["dataset"], board["overall_metrics"]
    release = f"official release {esc(data['official'])}" if data["official"] else "not an official release"
    body = [f"<h1>{esc(board['title'])}</h1>",
            f'<p class="note">Dataset fingerprint <code>{esc(data["fingerprint"])}</code> ({release}); '
            f'{board["counts"]["verified"]} verified, {board["counts"]["refused"]} refused. Efficacy and '
            "generality are normalized (fine-tuned model = 0, goal model = 1); retain, scope and world are "
            "the share of the goal model's score kept; all clipped to [0, 1]. Overall is their harmonic "
            "mean. Click a header to sort; hover a score for its raw and normalized values.</p>"]
    for group in board["groups"]:
        body += [f'<h2>{esc(group["title"])}</h2>']
        body += [] if has_references(group) else [f'<p class="note">{esc(NO_REFERENCES)}</p>']
        body += [f'<div class="group">{table(group, metrics)}\n{scatter(group)}\n{robust_scatter(group)}</div>']
    if not board["groups"]:
        body.append("<p>No verified entries yet.</p>")
    items = "\n".join(f"<li><code>{esc(name)}</code>: {esc(summary)}</li>" for name, summary in probe_notes())
    body.append(f'<h2>Attack probes: removal or suppression?</h2>\n<p class="note">{esc(ROBUST_NOTE)}</p>\n'
                f'<ul class="probes">\n{items}\n</ul>')
    body.append(_refused(board["refused"]))
    return ("<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
            f'<meta http-equiv="Content-Security-Policy" content="{CSP}">\n'
            f"<title>{esc(board['title'])}</title>\n<style>{STYLE}</style></head>\n<body>\n"
            + "\n".join(b for b in body if b) + f"\n<script>{SCRIPT}</script>\n</body></html>\n")
