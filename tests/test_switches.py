"""Every deferred computation (``widgets.asked_for``) travels with share links and is timed by the page benchmark."""

import re
from pathlib import Path

from benchmarks.bench_pages import SWITCHES

VIEWS = Path(__file__).resolve().parents[1] / "dashboard" / "views"


def switches_in(source: str) -> list[str]:
    return re.findall(r'asked_for\(\s*"(\w+)"', source)


def shared_in(source: str) -> set[str]:
    call = re.search(r"links\.share\(([^)]*)\)", source)
    return set(re.findall(r'"(\w+)"', call.group(1))) if call else set()


def test_each_switch_is_a_share_key_and_benchmarked():
    found = {}
    for view in sorted(VIEWS.glob("*.py")):
        source = view.read_text(encoding="utf-8")
        keys = switches_in(source)
        if keys:
            found[view.stem] = keys
            assert set(keys) <= shared_in(source), f"{view.stem}: declare {keys} in links.share so a link opens them"
    assert found == SWITCHES  # the benchmark turns on exactly these, in page order
