"""One self-contained HTML page: inline CSS, figures as PNG data URIs, every text escaped.

The page loads nothing from anywhere: its Content-Security-Policy lets the browser fetch no
image but a data URI and run no script but the page's own, so a report mailed or archived shows
the same everywhere and cannot call out.
"""

from __future__ import annotations

import base64
import html
import math
from typing import Iterable

from analysis.figure_files import png_bytes

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 75em; padding: 0 1em;
       color: #222; line-height: 1.4; }
h1 { font-size: 1.5em; } h2 { font-size: 1.2em; margin-top: 2em; border-bottom: 1px solid #ccc; }
table { border-collapse: collapse; margin: 0.5em 0; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: left; vertical-align: top; }
th { background: #f0f0f0; }
pre { background: #f6f6f6; padding: 0.6em; overflow-x: auto; font-size: 0.85em; }
figure { margin: 1em 0; } figure img { max-width: 100%; height: auto; }
figcaption { font-size: 0.85em; color: #555; }
.note { color: #555; font-size: 0.9em; }
"""

# On load, the page writes into <body> how many tables it has and how many of its images
# decoded: a headless browser's DOM dump (the tests) then shows whether the page renders.
SELF_CHECK = """
window.addEventListener("load", function () {
  var images = Array.prototype.slice.call(document.images);
  document.body.dataset.images = images.length;
  document.body.dataset.imagesDecoded = images.filter(function (i) { return i.naturalWidth > 0; }).length;
  document.body.dataset.tables = document.getElementsByTagName("table").length;
});
"""

CONTENT_POLICY = "default-src 'none'; img-src data:; style-src 'unsafe-inline'; script-src 'unsafe-inline'"


def page(title: str, parts: Iterable[str]) -> str:
    """The whole document; `parts` are HTML fragments made by the functions below."""
    return "\n".join([
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{CONTENT_POLICY}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{html.escape(title)}</title>",
        f"<style>{STYLE}</style>",
        f"<script>{SELF_CHECK}</script>",
        "</head><body>",
        f"<h1>{html.escape(title)}</h1>",
        *parts,
        "</body></html>",
    ]) + "\n"


def heading(text: str) -> str:
    return f"<h2>{html.escape(text)}</h2>"


def paragraph(text: str, note: bool = False) -> str:
    opening = '<p class="note">' if note else "<p>"
    return f"{opening}{html.escape(text)}</p>"


def code(text: str) -> str:
    return f"<pre><code>{html.escape(text)}</code></pre>"


def value_text(value) -> str:
    """A value as a person reads it: 4 significant digits, '-' for nothing."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, dict):
        return ", ".join(f"{k}={value_text(v)}" for k, v in value.items())
    return str(value)


def table(rows: list[dict], columns: list[str] | None = None) -> str:
    """Rows of dicts as a table, the keys of the first row as header unless `columns` given."""
    columns = columns or (list(rows[0]) if rows else [])
    header = "".join(f"<th>{html.escape(str(c))}</th>" for c in columns)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(value_text(row.get(c)))}</td>" for c in columns) + "</tr>"
                   for row in rows)
    return f"<table><thead><tr>{header}</tr></thead><tbody>{body}</tbody></table>"


def key_value_table(mapping: dict) -> str:
    body = "".join(f"<tr><th>{html.escape(str(k))}</th><td>{html.escape(value_text(v))}</td></tr>"
                   for k, v in mapping.items())
    return f"<table><tbody>{body}</tbody></table>"


def figure(fig, caption: str) -> str:
    """A matplotlib figure as an embedded PNG (the figure is closed)."""
    data = base64.b64encode(png_bytes(fig)).decode("ascii")
    alt = html.escape(caption)
    return (f'<figure><img src="data:image/png;base64,{data}" alt="{alt}">'
            f"<figcaption>{alt}</figcaption></figure>")
