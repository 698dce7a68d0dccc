"""A computation a page does not run on opening, in headless Chromium: one switch runs it, and it stays on.

``widgets.asked_for`` is a toggle, so a later change of a setting recomputes without asking again.
"""

import pytest

from conftest import open_page, wait_for_app

TIMEOUT_MS = 120_000


@pytest.mark.browser
def test_the_sparsity_sweep_runs_on_request_and_follows_later_settings(streamlit_server, browser):
    from playwright.sync_api import expect

    page = browser.new_page()
    try:
        open_page(page, streamlit_server, "Superposition")
        summary = page.get_by_text("Features represented per sparsity:")
        expect(page.get_by_role("heading", name="Sparsity sweep")).to_be_visible(timeout=TIMEOUT_MS)
        expect(summary).to_have_count(0)  # not trained on opening
        page.get_by_text("Train the sweep", exact=True).click()
        expect(page.get_by_text("per sparsity: 0: 2, 0.7: 4, 0.9: 5, 0.97: 5, 0.99: 5, 0.999: 5.")).to_be_visible(
            timeout=TIMEOUT_MS)  # sparsity_sweep(PAPER_SPARSITIES, 5, 2, 0.9, steps=2000, seed=0, n_restarts=4)
        features = page.get_by_role("spinbutton", name="features n")
        features.fill("4")
        features.press("Enter")
        wait_for_app(page)
        expect(page.get_by_text("per sparsity: 0: 2, 0.7: 4, 0.9: 4, 0.97: 4, 0.99: 4, 0.999: 4.")).to_be_visible(
            timeout=TIMEOUT_MS)  # the same with n = 4, trained without another click
        expect(page.locator("text=Traceback")).to_have_count(0)
    finally:
        page.close()
