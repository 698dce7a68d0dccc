"""The Data page in headless Chromium: a good upload is summarised, a bad one shows its error and changes nothing."""

import os

import numpy as np
import pytest

from conftest import open_page

TIMEOUT_MS = 120_000


@pytest.mark.browser
def test_upload_good_then_bad_file(streamlit_server, browser, tmp_path):
    from playwright.sync_api import expect

    good = tmp_path / "good_acts.npz"
    rng = np.random.default_rng(0)
    np.savez(good, acts=rng.standard_normal((50, 2, 8)).astype(np.float32), label=np.arange(50) % 2)
    bad = tmp_path / "broken.npy"
    bad.write_bytes(os.urandom(512))

    page = browser.new_page()
    try:
        open_page(page, streamlit_server, "Data")
        expect(page.get_by_role("heading", name="Data")).to_be_visible(timeout=TIMEOUT_MS)
        page.get_by_role("tab", name="Upload").click()
        upload = page.locator("[data-testid='stFileUploader'] input[type='file']").first

        upload.set_input_files(str(good))
        expect(page.get_by_text("(50 × 2 × 8) is now active")).to_be_visible(timeout=TIMEOUT_MS)
        sidebar = page.get_by_test_id("stSidebar")
        expect(sidebar.get_by_text("50 samples · 2 layers · d = 8")).to_be_visible(timeout=TIMEOUT_MS)

        upload.set_input_files(str(bad))
        error = page.get_by_test_id("stAlertContentError")
        expect(error).to_contain_text("Could not load broken.npy", timeout=TIMEOUT_MS)
        expect(page.locator("text=Traceback")).to_have_count(0)
        expect(sidebar.get_by_text("50 samples · 2 layers · d = 8")).to_be_visible()

        page.get_by_role("tab", name="Summary").click()
        expect(page.get_by_text("Shape 50 × 2 × 8")).to_be_visible(timeout=TIMEOUT_MS)
    finally:
        page.close()
