"""The Projector in headless Chromium: 200,000 demo points are drawn (aggregated) and the zoom redraws them."""

import re
import time

import pytest

from conftest import open_page, wait_for_app

TIMEOUT_MS = 180_000


def points_in_view(page) -> int:
    """The number in the chart's caption "N points in view, binned ..."."""
    caption = page.get_by_text(re.compile(r"[\d,]+ points in view")).first.inner_text()
    return int(re.search(r"([\d,]+) points in view", caption).group(1).replace(",", ""))


def draw_demo_points(page, url: str, n: int = 200_000) -> dict:
    """Open the Projector, generate ``n`` demo points, time the first paint (s), then zoom in and time the redraw.

    Also returns the points the caption counts in view before (``in_view``) and after the zoom (``in_view_zoomed``).
    """
    from playwright.sync_api import expect

    open_page(page, url, "Projector")
    page.get_by_text("Demo points: a large synthetic set").click()
    points = page.get_by_role("spinbutton", name="Points")
    points.fill(str(n))
    points.press("Enter")
    wait_for_app(page)
    start = time.perf_counter()
    page.get_by_role("button", name="Generate and open").click()
    expect(page.get_by_text(f"{n:,} points in view, binned")).to_be_visible(timeout=TIMEOUT_MS)
    page.locator("[data-testid='stVegaLiteChart'] canvas, [data-testid='stVegaLiteChart'] svg").first.wait_for(
        timeout=TIMEOUT_MS)
    first_paint = time.perf_counter() - start
    in_view = points_in_view(page)
    start = time.perf_counter()  # nudge the lower x bound of the zoom past the smallest x, wait for the redraw
    zoom_x = page.get_by_test_id("stSlider").filter(has_text="Zoom x")
    zoom_x.get_by_role("slider").first.press("ArrowRight")
    expect(page.get_by_text(f"{in_view:,} points in view")).to_have_count(0, timeout=TIMEOUT_MS)
    wait_for_app(page)
    expect(page.locator("text=Traceback")).to_have_count(0)
    return {"first_paint_s": first_paint, "zoom_redraw_s": time.perf_counter() - start, "in_view": in_view,
            "in_view_zoomed": points_in_view(page)}


@pytest.mark.browser
def test_projector_draws_200k_points(streamlit_server, browser):
    from playwright.sync_api import expect

    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    try:
        timings = draw_demo_points(page, streamlit_server)
        expect(page.get_by_test_id("stSidebar").get_by_text("200,000 samples")).to_be_visible(timeout=TIMEOUT_MS)
        expect(page.get_by_test_id("stAlertContentError")).to_have_count(0)
        # every point is in view at first; the zoom drops at least the leftmost one, and the redraw says so
        assert timings["in_view"] == 200_000, timings
        assert 0.5 * 200_000 < timings["in_view_zoomed"] < 200_000, timings
    finally:
        page.close()
