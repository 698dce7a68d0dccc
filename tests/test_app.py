"""The router: every page renders through app.py with the default dataset; the sidebar picker switches datasets."""

import re

import pytest

from conftest import ROOT, run_page

PAGES = re.findall(r'st\.Page\("dashboard/views/(\w+)\.py"', (ROOT / "app.py").read_text())


def test_router_lists_every_view():
    assert sorted(PAGES) == sorted(p.stem for p in (ROOT / "dashboard" / "views").glob("*.py"))
    assert not (ROOT / "pages").exists(), "a pages/ folder makes Streamlit bypass app.py; keep views in dashboard/views/"


@pytest.mark.parametrize("page", ["home", "data", "extract", "linear_maps", "atlas"])
def test_light_pages_render_with_the_default_dataset(page):
    at = run_page(page)
    assert at.session_state["dataset"].name == "sentiment"


def test_sidebar_picker_opens_a_bundled_dataset_and_pages_follow():
    at = run_page("home")
    picker = at.sidebar.selectbox(key="dataset_picker")
    assert picker.value == "sentiment" and "bundled: tense" in picker.options
    picker.set_value("bundled: tense").run()
    assert at.session_state["dataset"].name == "tense"
    assert at.sidebar.selectbox(key="dataset_picker").value == "tense"
    at.sidebar.selectbox(key="dataset_picker").set_value("sentiment").run()
    assert at.session_state["dataset"].name == "sentiment"


def test_dataset_set_by_a_page_shows_in_the_picker():
    def activate(at):
        from probing.synthetic import make_concept_embeddings

        aset, _ = make_concept_embeddings(100, d=4, seed=3, name="synthetic tiny")
        at.session_state["datasets"][aset.name] = aset
        at.session_state["dataset"] = aset

    at = run_page("home", setup=activate)
    assert at.sidebar.selectbox(key="dataset_picker").value == "synthetic tiny"
    assert at.session_state["dataset"].name == "synthetic tiny"
