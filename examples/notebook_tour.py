"""Run ``notebook_tour.ipynb`` without Jupyter and keep what each cell displays.

The code cells run in order in one namespace, like a kernel; the value of a cell's last
expression is "displayed" the way Jupyter would: its ``_repr_png_`` is written to
``OUT/cell-NN.png`` and its ``_repr_html_`` (or ``repr``) goes into ``OUT/index.html``,
a self-contained page of the whole tour.

The cell tagged ``parameters`` (the papermill convention) holds the tour's knobs; values
given to :func:`run_notebook` (``--crop W,H`` here) are assigned right after it.

    python examples/notebook_tour.py [--out notebook-tour] [--crop 320,240]
"""

from __future__ import annotations

import argparse
import ast
import html
import json
from pathlib import Path

HERE = Path(__file__).resolve().parent


def run_notebook(path: Path, out: Path, parameters: dict | None = None) -> list[dict]:
    """Execute the code cells of ``path``; write pictures and ``index.html`` into ``out``.

    ``parameters`` (name → value) are set after the cell tagged ``parameters``. Returns one
    entry per displayed value: cell index, type, whether it has HTML, its PNG file name."""
    nb = json.loads(path.read_text(encoding="utf-8"))
    out.mkdir(parents=True, exist_ok=True)
    namespace: dict = {"__name__": "__notebook__"}
    page, shown = [], []
    for i, cell in enumerate(nb["cells"]):
        src = "".join(cell["source"])
        if cell["cell_type"] == "markdown":
            page.append(f"<pre class='md'>{html.escape(src)}</pre>")
            continue
        tree = ast.parse(src, filename=f"cell {i}")
        last = tree.body.pop() if tree.body and isinstance(tree.body[-1], ast.Expr) else None
        exec(compile(tree, f"cell {i}", "exec"), namespace)  # noqa: S102 - our own notebook
        if "parameters" in cell.get("metadata", {}).get("tags", ()) and parameters:
            namespace.update(parameters)
            src += "".join(f"\n{k} = {v!r}   # injected" for k, v in parameters.items())
        page.append(f"<pre class='code'>{html.escape(src)}</pre>")
        if last is None:
            continue
        value = eval(compile(ast.Expression(last.value), f"cell {i}", "eval"), namespace)  # noqa: S307
        entry = {"cell": i, "type": type(value).__name__}
        png = getattr(value, "_repr_png_", lambda: None)()
        if png:
            (out / f"cell-{i:02d}.png").write_bytes(png)
            entry["png"] = f"cell-{i:02d}.png"
        rich = getattr(value, "_repr_html_", lambda: None)()
        entry["html"] = bool(rich)
        page.append(rich or f"<pre>{html.escape(repr(value))}</pre>")
        shown.append(entry)
    doc = ("<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>camtwin notebook "
           "tour</title><style>body{font-family:sans-serif;max-width:1100px;margin:2em auto}"
           "pre.code{background:#f4f4f4;padding:.5em}pre.md{white-space:pre-wrap;"
           "font-family:inherit}</style></head><body>" + "\n".join(page) + "</body></html>")
    (out / "index.html").write_text(doc, encoding="utf-8")
    return shown


def main(argv: list[str] | None = None) -> list[dict]:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--notebook", type=Path, default=HERE / "notebook_tour.ipynb")
    ap.add_argument("--out", type=Path, default=Path("notebook-tour"))
    ap.add_argument("--crop", default=None,
                    help="Sensor crop W,H [px] of the tour (default: the notebook's CROP).")
    args = ap.parse_args(argv)
    params = {}
    if args.crop:
        from camtwin.crop import parse_crop

        params["CROP"] = parse_crop(args.crop)
    shown = run_notebook(args.notebook, args.out, params)
    for e in shown:
        print(f"cell {e['cell']:2d}: {e['type']:<16} {e.get('png', '')}")
    print(f"wrote {args.out / 'index.html'}")
    return shown


if __name__ == "__main__":
    main()
