"""Page assembly shared by the reports: plain HTML with inline CSS, so a page opens from disk offline.

Everything shown comes from a run database whose code, replies and reasons were written by a proposer
(possibly an LLM), so every value passes through `esc` and the page carries a Content-Security-Policy that
only lets its own nonce-tagged script run: a hostile candidate can at worst show up as text.
"""

from __future__ import annotations

import html
import math
import os
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

VERSION_FILE = "version.txt"
"""Written last on every generation; a served page polls it and reloads when it changes."""

CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:0;color:#1d2430;background:#f6f7f9}
header{background:#1d2a3a;color:#fff;padding:14px 24px}
header h1{margin:0;font-size:20px}
header p{margin:4px 0 0;color:#c9d3df}
nav{background:#fff;border-bottom:1px solid #dde2e8;padding:6px 24px;position:sticky;top:0;z-index:1}
nav a{margin-right:14px;color:#2458a6;text-decoration:none}
main{padding:8px 24px 40px;max-width:1400px}
section{background:#fff;border:1px solid #dde2e8;border-radius:6px;padding:4px 16px 14px;margin:14px 0}
h2{font-size:17px;margin:12px 0 8px}
h3{font-size:14px;margin:12px 0 6px}
img.plot{max-width:100%;height:auto;border:1px solid #eef0f3}
table{border-collapse:collapse;font-size:13px;margin:6px 0}
th,td{border-bottom:1px solid #e6e9ee;padding:3px 8px;text-align:left;vertical-align:top}
th{background:#f0f2f5}
#leaderboard-table th{position:sticky;top:33px}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
tr.best>td{background:#fff7d6}
tr.baseline>td{color:#5a6573}
tr.cand>td{border-bottom:none;padding-top:5px}
tr.more>td{padding:0 8px 5px 22px;font-size:12px}
tr.more summary{color:#7a8594}
pre{background:#f7f8fa;border:1px solid #e6e9ee;padding:8px;overflow:auto;font-size:12px;max-height:32em;margin:4px 0}
pre.diff .add{color:#116329;background:#e6ffec;display:block}
pre.diff .del{color:#82071e;background:#ffebe9;display:block}
pre.diff .hunk{color:#6f42c1;display:block}
details{margin:2px 0}
summary{cursor:pointer;color:#2458a6}
.note{color:#6b5200;background:#fff8e1;border-left:3px solid #e0b000;padding:4px 8px;margin:6px 0}
.status{font-size:12px;padding:1px 6px;border-radius:8px;background:#e8ecf1;white-space:nowrap}
.status.ok{background:#dcf5e3}.status.screened_out{background:#eef6e6}
.status.rejected,.status.crashed,.status.invalid_output{background:#fde2e1}
.status.timeout,.status.proposal_error{background:#fdebd3}.status.duplicate{background:#e9e4f7}
.kv td:first-child{color:#5a6573;padding-right:16px}
"""

LIVE_SCRIPT = """
(function () {
  if (!location.protocol.startsWith("http")) return;
  var key = "policyforge-report:" + location.pathname;
  try {
    var saved = JSON.parse(sessionStorage.getItem(key) || "null");
    if (saved) {
      saved.open.forEach(function (id) { var d = document.getElementById(id); if (d) d.open = true; });
      window.scrollTo(0, saved.y);
    }
  } catch (e) { /* a stale or foreign entry: ignore */ }
  var seen = null;
  function poll() {
    fetch("VERSION_FILE", {cache: "no-store"}).then(function (r) { return r.ok ? r.text() : null; })
      .then(function (v) {
        if (v === null) return;
        if (seen !== null && v !== seen) {
          var open = Array.prototype.map.call(document.querySelectorAll("details[open][id]"),
                                              function (d) { return d.id; });
          sessionStorage.setItem(key, JSON.stringify({open: open, y: window.scrollY}));
          location.reload();
        }
        seen = v;
      }).catch(function () { /* server gone: keep the page as it is */ });
  }
  poll();
  setInterval(poll, 3000);
})();
""".replace("VERSION_FILE", VERSION_FILE)


@dataclass(frozen=True)
class Section:
    anchor: str
    title: str
    body: str


def esc(value: object) -> str:
    """Text for HTML: everything from a run database is untrusted."""
    return html.escape("" if value is None else str(value), quote=True)


def num(value: float | int | None, digits: int = 3) -> str:
    """A number for a table cell; blank when missing or not finite."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return ""
    if isinstance(value, int):
        return f"{value:,}"
    return f"{value:,.{digits}f}"


def table(headers: Sequence[str], rows: Iterable[Sequence[str]], numeric: Iterable[int] = (),
          row_attrs: Iterable[str] | None = None, table_id: str | None = None) -> str:
    """A table from already-escaped cells; `numeric` column indices align right."""
    right = set(numeric)
    head = "".join(f'<th class="num">{esc(h)}</th>' if i in right else f"<th>{esc(h)}</th>"
                   for i, h in enumerate(headers))
    attrs = list(row_attrs) if row_attrs is not None else None
    body = []
    for r, row in enumerate(rows):
        cells = "".join(f'<td class="num">{c}</td>' if i in right else f"<td>{c}</td>" for i, c in enumerate(row))
        body.append(f"<tr{(' ' + attrs[r]) if attrs else ''}>{cells}</tr>")
    ident = f' id="{esc(table_id)}"' if table_id else ""
    return f"<table{ident}><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def key_values(pairs: Iterable[tuple[str, str]]) -> str:
    """A two-column table of labels and already-escaped values."""
    return '<table class="kv"><tbody>' + "".join(f"<tr><td>{esc(k)}</td><td>{v}</td></tr>" for k, v in pairs) \
        + "</tbody></table>"


def pre(text: str | None) -> str:
    return f"<pre>{esc(text or '')}</pre>"


def diff_block(lines: Iterable[str]) -> str:
    """A unified diff with added, removed and hunk lines coloured."""
    out = []
    for line in lines:
        cls = "hunk" if line.startswith("@@") else "add" if line.startswith("+") and not line.startswith("+++") \
            else "del" if line.startswith("-") and not line.startswith("---") else ""
        out.append(f'<span class="{cls}">{esc(line)}</span>' if cls else esc(line) + "\n")
    return f'<pre class="diff">{"".join(out)}</pre>'


def note(text: str) -> str:
    return f'<p class="note">{esc(text)}</p>'


def image(src: str, alt: str) -> str:
    return f'<img class="plot" src="{esc(src)}" alt="{esc(alt)}">'


def page(title: str, subtitle: str, sections: Sequence[Section], live: bool = False) -> str:
    """The whole document; `live` adds the small script that reloads when the server regenerates the page."""
    nonce = secrets.token_urlsafe(12)
    policy = (f"default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; script-src 'nonce-{nonce}'; "
              "connect-src 'self'; base-uri 'none'; form-action 'none'")
    nav = "".join(f'<a href="#{esc(s.anchor)}">{esc(s.title)}</a>' for s in sections)
    body = "".join(f'<section id="{esc(s.anchor)}"><h2>{esc(s.title)}</h2>{s.body}</section>' for s in sections)
    script = f'<script nonce="{nonce}">{LIVE_SCRIPT}</script>' if live else ""
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<meta http-equiv="Content-Security-Policy" content="{esc(policy)}">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{esc(title)}</title><style>{CSS}</style></head><body>"
            f"<header><h1>{esc(title)}</h1><p>{esc(subtitle)}</p></header><nav>{nav}</nav>"
            f"<main>{body}</main>{script}</body></html>\n")


def write_atomic(path: Path, text: str) -> None:
    """Replace a file in one step, so a server never hands out half a page."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def finish_page(out_dir: Path, document: str) -> Path:
    """Write index.html, then the version stamp a live page polls."""
    index = out_dir / "index.html"
    write_atomic(index, document)
    write_atomic(out_dir / VERSION_FILE, secrets.token_hex(8))
    return index
