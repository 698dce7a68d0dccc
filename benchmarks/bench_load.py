"""Load test: many concurrent browser sessions against one ``streamlit run`` server on loopback.

Each session (its own headless Chromium context, all in one browser) opens the app,
generates its own synthetic dataset on the Data page with a distinct seed, then opens the
Probes page, which runs a cross-validated probe sweep over every layer. A session passes
when it saw no error and the Probes page names *its own* dataset fingerprint (no
cross-talk: the expected fingerprint is recomputed here from the seed). The server's
resident memory (``/proc/<pid>/status``) is sampled throughout.

    .venv/bin/python benchmarks/bench_load.py --sessions 20

Prints latency percentiles per step and the server's peak RSS; exits non-zero on any
failed session. Bounded by ``--timeout`` seconds.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from probing.synthetic import make_concept_embeddings  # noqa: E402
from dashboard.local_server import served_app  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
STEPS = ("open", "generate", "probe sweep")
# The Data page's Generate form defaults (dashboard/views/data.py); only the seed changes per session.
GENERATE_DEFAULTS = dict(n_samples=1000, d=64, n_concepts=2, noise=1.0, n_layers=4, concept_cosine=0.0)


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


class PeakMemory(threading.Thread):
    """Samples a process's RSS every ``interval`` seconds and keeps the maximum."""

    def __init__(self, pid: int, interval: float = 0.1):
        super().__init__(daemon=True)
        self.pid, self.interval, self.peak_mb, self.start_mb = pid, interval, 0.0, rss_mb(pid)
        self._done = threading.Event()

    def run(self) -> None:
        while not self._done.is_set():
            try:
                self.peak_mb = max(self.peak_mb, rss_mb(self.pid))
            except OSError:
                return
            time.sleep(self.interval)

    def stop(self) -> float:
        self._done.set()
        self.join()
        return self.peak_mb


async def wait_idle(page, timeout_ms: int) -> None:
    try:
        await page.wait_for_selector("[data-testid='stApp'][data-test-script-state='running']", timeout=2_000)
    except Exception:
        pass
    await page.wait_for_selector("[data-testid='stApp'][data-test-script-state='notRunning']", timeout=timeout_ms)


async def open_app(browser, url: str, timeout_ms: int):
    """A new context (a new user) on the app's first page, after its script run finished."""
    context = await browser.new_context()
    context.set_default_timeout(timeout_ms)
    page = await context.new_page()
    await page.goto(url, wait_until="commit")
    await wait_idle(page, timeout_ms)
    return context, page


async def session(browser, url: str, seed: int, delay_s: float, timeout_ms: int) -> dict:
    """One user arriving after ``delay_s``: open, generate with ``seed``, probe sweep; step times and what it saw."""
    await asyncio.sleep(delay_s)
    times, error, context = {}, None, None
    try:
        t0 = time.perf_counter()
        context, page = await open_app(browser, url, timeout_ms)
        times["open"] = time.perf_counter() - t0

        await page.get_by_role("link", name="Data").first.click()
        await wait_idle(page, timeout_ms)
        await page.get_by_role("tab", name="Generate").click()
        form = page.locator("[data-testid='stForm']")
        seed_box = form.get_by_label("Seed")
        await seed_box.fill(str(seed))
        await seed_box.press("Tab")
        t0 = time.perf_counter()
        await form.get_by_role("button", name="Generate and open").click()
        await page.get_by_text("is now active and saved").wait_for(state="attached", timeout=timeout_ms)
        times["generate"] = time.perf_counter() - t0

        t0 = time.perf_counter()
        await page.get_by_role("link", name="Probes").first.click()
        await page.get_by_text("Accuracy by layer").wait_for(timeout=timeout_ms)
        await wait_idle(page, timeout_ms)
        times["probe sweep"] = time.perf_counter() - t0
        text = await page.inner_text("[data-testid='stMain']")
        shown = re.search(r"fingerprint\s+([0-9a-f]{8,64})", text)
        errors = await page.locator("[data-testid='stException'], [data-testid='stAlertContentError']").count()
        if errors:
            error = f"{errors} error box(es) on the Probes page"
        return {"seed": seed, "times": times, "fingerprint": shown.group(1) if shown else None, "error": error}
    except Exception as exc:  # a timeout or a missing element is a failed session, reported below
        return {"seed": seed, "times": times, "fingerprint": None, "error": f"{type(exc).__name__}: {exc}"[:300]}
    finally:
        if context is not None:
            await context.close()


async def run_sessions(url: str, pid: int, seeds: list[int], stagger_s: float, timeout_ms: int):
    """The cold first load (imports, bundled data), then all sessions at once.

    Returns (cold load seconds, server RSS in MB after it, one result per session).
    """
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
            "--no-first-run", "--disable-sync"])
        try:
            t0 = time.perf_counter()
            context, _ = await open_app(browser, url, timeout_ms)
            cold = time.perf_counter() - t0
            await context.close()
            baseline = rss_mb(pid)
            results = await asyncio.gather(*(session(browser, url, seed, i * stagger_s, timeout_ms)
                                             for i, seed in enumerate(seeds)))
            return cold, baseline, results
        finally:
            await browser.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=20)
    parser.add_argument("--stagger", type=float, default=0.1, help="seconds between two sessions' arrivals")
    parser.add_argument("--timeout", type=float, default=540, help="seconds for the whole run")
    args = parser.parse_args()
    seeds = [1000 + i for i in range(args.sessions)]
    expected = {seed: make_concept_embeddings(seed=seed, **GENERATE_DEFAULTS)[0].fingerprint for seed in seeds}

    with tempfile.TemporaryDirectory() as tmp:
        env = {"PROBING_WORKSPACE": str(Path(tmp) / "workspace"), "PROBING_ACCESS_TOKEN": ""}
        with served_app(env) as (url, server):
            memory = PeakMemory(server.pid)
            memory.start()
            start = time.perf_counter()
            cold, baseline, results = asyncio.run(asyncio.wait_for(
                run_sessions(url, server.pid, seeds, args.stagger, int(args.timeout * 1000)), args.timeout))
            wall = time.perf_counter() - start
            peak = memory.stop()

    failures = [r for r in results if r["error"]]
    crossed = [r for r in results if not r["error"] and r["fingerprint"] != expected[r["seed"]]]
    print(f"{args.sessions} concurrent sessions (one Chromium, one context each, arriving {args.stagger} s apart) "
          f"against one streamlit server on loopback; wall {wall:.1f} s; cold first load {cold:.1f} s (not counted)")
    print(f"{'step':<12} {'n':>3} {'p50 s':>8} {'p95 s':>8} {'max s':>8}")
    for step in STEPS:
        values = np.array([r["times"][step] for r in results if step in r["times"]])
        if len(values):
            print(f"{step:<12} {len(values):>3} {np.percentile(values, 50):>8.2f} {np.percentile(values, 95):>8.2f} "
                  f"{values.max():>8.2f}")
    print(f"server RSS: {memory.start_mb:.0f} MB at start, {baseline:.0f} MB after the first load, peak {peak:.0f} MB "
          f"({(peak - baseline) / max(args.sessions, 1):.1f} MB per session above the first load)")
    print(f"errors: {len(failures)}   cross-talk (a session shown another's dataset): {len(crossed)}")
    for r in failures + crossed:
        print(f"  seed {r['seed']}: {r['error'] or 'saw ' + str(r['fingerprint']) + ', expected ' + expected[r['seed']]}")
    return 1 if failures or crossed else 0


if __name__ == "__main__":
    sys.exit(main())
