"""The pictures of docs/sensitivity.md: a model's sensitivity map as a table (every tensor, the six
scores as colour and number, the summary), and the dashboard's layer list sorted by a dimension.

    python bench/sensitivity_picture.py [MODEL] [--out docs/sensitivity] [--sort loudness]

The map comes from the cache (measured first when it is not there, minutes on one core). Both
pictures are Chromium screenshots, as docs/screenshots/ are (Debian's chromium, Playwright).
"""

from __future__ import annotations

import argparse
import html
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

CHROMIUM = "/usr/bin/chromium"
COLOURS = {"pitch": (255, 107, 139), "loudness": (255, 176, 46), "brightness": (245, 224, 80),
           "noise": (154, 163, 178), "timing": (70, 170, 255), "timbre": (183, 166, 255)}


def table_html(found, title: str) -> str:
    dims = list(COLOURS)
    rows = []
    group = None
    for name in found.order:
        result = found.tensors.get(name)
        if result is None:
            continue
        head = name.split(".", 1)[0]
        if head != group:
            group = head
            rows.append(f'<tr class="group"><td colspan="{len(dims) + 3}">{html.escape(head)}</td></tr>')
        cells = []
        for d in dims:
            s = result.scores[d]
            r, g, b = COLOURS[d]
            cells.append(f'<td class="s" style="background: rgba({r},{g},{b},{0.08 + 0.92 * s:.3f});'
                         f'color: {"#000" if s > 0.45 else "#e7e9ee"}">{s:.2f}</td>')
        rows.append(f'<tr><td class="i">{result.index}</td><td class="n">{html.escape(name)}</td>{"".join(cells)}'
                    f'<td class="m">{html.escape(result.summary)}</td></tr>')
    heads = "".join(f"<th>{d}</th>" for d in dims)
    settings = found.settings
    return f"""<!doctype html><meta charset="utf-8"><style>
body {{ background: #0a0c10; color: #e7e9ee; font: 12px/1.2 system-ui, sans-serif; margin: 12px; }}
h1 {{ font-size: 15px; margin: 0 0 4px; }} p {{ color: #9aa3b2; margin: 0 0 8px; }}
table {{ border-collapse: collapse; }} td, th {{ padding: 2px 6px; }}
th {{ color: #9aa3b2; font-weight: 500; text-align: center; }}
.i {{ color: #9aa3b2; text-align: right; }} .n {{ font-family: monospace; }}
.s {{ text-align: center; font-variant-numeric: tabular-nums; min-width: 52px; }}
.m {{ color: #c9ced8; }} .group td {{ color: #9aa3b2; padding-top: 8px; font-weight: 600; }}
</style><h1>{html.escape(title)}</h1>
<p>Scores 0..1 per dimension (0.5: a change anyone hears), the mean over the bends
{html.escape(", ".join(settings.bends))}; probe {settings.seconds:g} s, seed {settings.seed}.</p>
<table><tr><th>#</th><th>tensor</th>{heads}<th>summary</th></tr>{"".join(rows)}</table>"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model", nargs="?", default=None)
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "sensitivity")
    parser.add_argument("--sort", default="loudness", help="the dimension the dashboard picture sorts by")
    args = parser.parse_args()

    from playwright.sync_api import sync_playwright

    from performer.model import load_model
    from performer.rig import Rig
    from performer.sensitivity.build import build_map
    from performer.sensitivity.cache import MapCache
    from performer.sensitivity.job import SensitivityJob
    from performer.web.context import WebContext
    from performer.web.server import WebServer

    model = load_model(args.model)
    found = build_map(model, cache=MapCache(), progress=lambda p: print(f"\r{p.done}/{p.total} {p.tensor:<50}",
                                                                         end="", file=sys.stderr))
    args.out.mkdir(parents=True, exist_ok=True)
    rig = Rig(model)
    web = WebServer(WebContext(rig, sensitivity=SensitivityJob(model, rig.tensors)), port=8139).start()
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
            page = browser.new_page(viewport={"width": 900, "height": 400}, device_scale_factor=1)
            page.set_content(table_html(found, f"Sensitivity map of {Path(str(model.path)).name}"))
            page.screenshot(path=str(args.out / "map.png"), full_page=True)
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            page.goto("http://127.0.0.1:8139/")
            page.wait_for_selector("body[data-ready=true][data-ws=open]", timeout=15000)
            page.select_option("#sens-order", args.sort)
            page.wait_for_timeout(300)
            page.eval_on_selector(".layers", "panel => { panel.scrollTop = 0; }")
            page.screenshot(path=str(args.out / "dashboard.png"))
            browser.close()
    finally:
        web.stop()
    print(f"\nwrote {args.out / 'map.png'} and {args.out / 'dashboard.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
