"""Page first render and revisit on the bundled data, each page in a fresh process (Streamlit AppTest).

For each page in ``dashboard/views``: a new Python process runs ``app.py`` once (the home
page; not timed), then times the switch to the page (first render: cold imports and empty
caches, what the first visitor of a fresh server waits for) and a rerun with the same
settings (revisit: warm imports and ``st.cache_data``). Targets (issue 18): first render
<= 1.5 s, revisit <= 0.3 s. The reference column is the target itself, so the ratio reads
as "fraction of the budget used".

Work a page does not do on opening waits behind a switch (``widgets.asked_for``). So the
first render does not hide that cost, each switch in :data:`SWITCHES` is then turned on and
the run it starts is timed too (cold: nothing of it was imported or cached before); these
rows have no target.

Run: ``.venv/bin/python benchmarks/bench_pages.py [--pages probes pca]`` (one run per page)
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from benchmarks.record import record  # noqa: E402

FIRST_RENDER_TARGET_S, REVISIT_TARGET_S = 1.5, 0.3
SWITCHES = {"coherence": ["coh_exp_run"], "lens": ["lens_run"], "steering": ["steer_lm_open"],
            "superposition": ["sup_sweep_run", "sup_interference_run"]}
"""The ``widgets.asked_for`` switches of each page, turned on one after the other after the revisit."""


def child(page: str) -> None:
    """Time one page in this (fresh) process and print a JSON line."""
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=300)
    at.run()
    at.switch_page(f"dashboard/views/{page}.py")
    start = time.perf_counter()
    at.run()
    first = time.perf_counter() - start
    start = time.perf_counter()
    at.run()
    revisit = time.perf_counter() - start
    switched = {}
    for key in SWITCHES.get(page, []):
        at.toggle(key=key).set_value(True)
        start = time.perf_counter()
        at.run()
        switched[f"{key}: {at.toggle(key=key).label}"] = time.perf_counter() - start
    errors = [str(e.value) for e in [*at.exception, *at.error]]
    print(json.dumps({"first": first, "revisit": revisit, "switched": switched, "errors": errors}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", nargs="+", help="page names (default: every file in dashboard/views)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child)
        return
    pages = args.pages or sorted(p.stem for p in (ROOT / "dashboard" / "views").glob("*.py") if p.stem != "__init__")
    env = {**os.environ, "PROBING_WORKSPACE": tempfile.mkdtemp(prefix="bench-pages-")}
    env.pop("PROBING_ACCESS_TOKEN", None)
    for page in pages:
        out = subprocess.run([sys.executable, __file__, "--child", page], env=env, cwd=ROOT, capture_output=True,
                             text=True, timeout=600)
        lines = [line for line in out.stdout.splitlines() if line.startswith("{")]
        if not lines:
            print(f"{page}: no result\n{out.stderr[-2000:]}")
            continue
        result = json.loads(lines[-1])
        note = f"errors: {result['errors']}" if result["errors"] else ""
        record("bench_pages", f"{page} page, first render (fresh process, bundled data)", result["first"],
               "target", FIRST_RENDER_TARGET_S, "<= 1.0", note)
        record("bench_pages", f"{page} page, revisit with the same settings", result["revisit"],
               "target", REVISIT_TARGET_S, "<= 1.0", note)
        for switch, seconds in result["switched"].items():
            record("bench_pages", f"{page} page, then switched on: {switch} (cold)", seconds,
                   "first-render target", FIRST_RENDER_TARGET_S, "", "asked for, not part of opening")


if __name__ == "__main__":
    main()
