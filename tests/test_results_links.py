"""Saved results carry their view (the page's share link); the Data page links back to it."""

import re
from urllib.parse import parse_qsl, urlsplit

from conftest import run_page
from probing.store import Workspace
from test_links import open_link
from test_results import small_dataset, use_dataset


def open_result(at):
    at.switch_page("dashboard/views/data.py").run()
    at.toggle(key="res_open").set_value(True).run()
    assert not at.exception and not at.error
    return [m.value for m in at.markdown if "Open this view" in m.value]


def test_a_saved_probe_sweep_reopens_the_page_with_the_same_settings(_workspace):
    aset = small_dataset()
    Workspace(_workspace).add_dataset(aset)  # so a teammate's session can find it by fingerprint
    at = run_page("probes", setup=use_dataset(aset, probes_label="concept_0", probes_method="mean_diff"))
    at.button(key="probes_result_save").click().run()
    [entry] = Workspace().list_results()
    view = entry.params["view"]
    assert view["page"] == "probes"
    assert view["query"]["dataset"] == aset.fingerprint and view["query"]["probes_method"] == '"mean_diff"'
    assert view["query"] == {key: at.query_params[key] for key in at.query_params}, "the page's share link"

    [link] = open_result(at)
    url = urlsplit(re.fullmatch(r"\[Open this view\]\((.+)\)", link).group(1))
    assert url.path == "/probes" and not url.netloc, "a relative link on this server"
    assert dict(parse_qsl(url.query)) == view["query"]

    teammate = open_link(dict(parse_qsl(url.query)), page="probes")
    assert teammate.session_state["dataset"].fingerprint == aset.fingerprint
    assert teammate.selectbox(key="probes_method").value == "mean_diff"
    assert teammate.selectbox(key="probes_label").value == "concept_0"


def test_an_old_result_without_a_view_shows_no_link(_workspace):
    aset = small_dataset()
    Workspace(_workspace).save_result("probe_sweep", "old sweep", {"label": "concept_0"}, {"tables": {}},
                                      fingerprint=aset.fingerprint)
    at = run_page("data")
    assert open_result(at) == []
