"""Directions through the pages: saved in the workspace, so a share link shows a colleague the same atlas."""

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from conftest import ROOT
from dashboard import widgets
from probing.store import Workspace
from probing.synthetic import make_concept_embeddings

TOKEN = "shared-lab-token-" + "x" * 32  # at least 32 characters, as the login requires


@pytest.fixture
def linked(_workspace, monkeypatch):
    """A small synthetic dataset saved in the workspace, and the token login on."""
    monkeypatch.setenv("PROBING_ACCESS_TOKEN", TOKEN)
    aset, _ = make_concept_embeddings(n_samples=240, d=12, n_concepts=2, n_layers=3, seed=4, name="linked set")
    Workspace(_workspace).add_dataset(aset)
    return aset


def session(user: str, params: dict, page: str) -> AppTest:
    """A browser session: open the link ``params``, log in as ``user``, go to ``page``."""
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=180)
    for key, value in params.items():
        at.query_params[key] = value
    at.run()
    at.text_input(key="auth_name").input(user)
    at.text_input(key="auth_token").input(TOKEN)
    at.button[0].click().run()
    at.switch_page(f"dashboard/views/{page}.py")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    return at


def link_of(at: AppTest) -> dict:
    """The page's share link (its query parameters), as a colleague would open it."""
    return {key: at.query_params[key] for key in at.query_params}


def atlas_rows(at: AppTest) -> list:
    return list(at.selectbox(key="atlas_anchor").options)


def test_a_colleague_opening_the_link_sees_the_same_atlas(linked):
    ada = session("Ada", {"dataset": linked.fingerprint}, "probes")
    ada.switch_page("dashboard/views/atlas.py")
    ada.run()
    ada.slider(key="atlas_pcs").set_value(2).run()
    rows = atlas_rows(ada)
    last = linked.layers[-1]
    assert f"probe · label (lda) · {last}" in rows, rows
    assert f"pca · PC2 · {last}" in rows
    link = link_of(ada)
    assert link["atlas_pcs"] == "2" and link["dataset"] == linked.fingerprint

    grace = session("Grace", link, "atlas")
    assert grace.session_state["auth_user"] == "Grace"
    assert atlas_rows(grace) == rows
    assert [m.value for m in grace.metric] == [m.value for m in ada.metric]
    nearest = [frame.value for frame in grace.dataframe][-1]
    assert nearest.equals([frame.value for frame in ada.dataframe][-1])


def test_leaving_a_set_out_travels_with_the_link(linked, _workspace):
    ada = session("Ada", {"dataset": linked.fingerprint}, "probes")
    ada.switch_page("dashboard/views/atlas.py")
    ada.run()
    hidden = ada.multiselect(key="atlas_hidden")
    probe_set = next(e.id for e in Workspace(_workspace).list_directions(linked.fingerprint, layer=-1 % 3)
                     if e.method == "probe" and e.name == "label (lda)")
    assert any(option.startswith("probe · label (lda)") and "by Ada" in option for option in hidden.options)
    assert any(row.startswith("probe · label") for row in atlas_rows(ada))
    hidden.select(probe_set).run()
    rows = atlas_rows(ada)
    assert not any(row.startswith("probe · label") for row in rows) and len(rows) >= 2
    grace = session("Grace", link_of(ada), "atlas")
    assert atlas_rows(grace) == rows


def test_steering_along_a_saved_probe_direction_and_owner_only_delete(linked):
    ada = session("Ada", {"dataset": linked.fingerprint}, "probes")
    ada.switch_page("dashboard/views/steering.py")
    ada.run()
    ada.selectbox(key="steer_label").set_value("label").run()
    ada.selectbox(key="steer_method").set_value("saved").run()
    layer = ada.selectbox(key="steer_layer").value
    wanted = f"probe · label (lda) · {linked.layers[layer]}"
    assert wanted in ada.selectbox(key="steer_saved").options
    ada.selectbox(key="steer_saved").set_value(wanted).run()
    cosine = float(next(m.value for m in ada.metric if m.label == "cos(v, probe direction)"))
    assert abs(cosine) > 0.99, cosine

    grace = session("Grace", {"dataset": linked.fingerprint}, "data")
    listed = next(df.value for df in grace.dataframe if "method" in df.value.columns)
    probes = listed[listed.method == "probe"]
    assert sorted(probes.name) == [f"probe · label (lda) · {name}" for name in linked.layers]
    assert set(probes.owner) == {"Ada"} and set(probes.dataset) == {"linked set"} and set(probes.d) == {12}
    probe = next(option for option in grace.selectbox(key="dir_pick").options if option.startswith("probe · "))
    grace.selectbox(key="dir_pick").set_value(probe.rsplit(" · ", 1)[1]).run()
    assert grace.button(key="dir_delete").disabled
    assert any("Only **Ada** can delete it; you are **Grace**" in c.value for c in grace.caption)
    assert grace.get("download_button"), "the selected set can be downloaded"


def test_a_zero_direction_is_not_saved_and_the_page_says_why(_workspace):
    from probing import ActivationSet

    aset, _ = make_concept_embeddings(n_samples=200, d=8, n_layers=2, seed=0)
    acts = np.array(aset.acts)
    acts[:, 0] = 0.0  # a constant layer: the class means coincide, the probe direction is zero
    zero = ActivationSet(acts, layers=aset.layers, labels=aset.labels, name="zero layer")
    Workspace(_workspace).add_dataset(zero)
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=180)
    at.query_params["dataset"] = zero.fingerprint
    at.run()
    at.switch_page("dashboard/views/probes.py")
    at.run()
    assert not at.exception and not at.error
    assert any(c.value.startswith("Not saved for layer\\_0") and "all\\-zero rows" in c.value for c in at.caption)
    assert [e.layer for e in Workspace(_workspace).list_directions(zero.fingerprint)] == ["layer_1"]


def test_direction_names_are_shown_literally_on_the_data_page(_workspace):
    from probing.directions import DirectionSet

    hostile = "**bold** [link](https://evil.example) <img src=x>"
    entry = Workspace(_workspace).add_directions(DirectionSet(hostile, np.eye(2, 4), "uploaded", params={"file": hostile}))
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=180)
    at.run()
    at.switch_page("dashboard/views/data.py")
    at.run()
    at.selectbox(key="dir_pick").set_value(entry.id).run()
    shown = next(m.value for m in at.markdown if "directions in d = 4" in m.value)
    assert widgets.escape(hostile) in shown  # the one escape: brackets, stars, angle brackets, links broken
    assert "**bold**" not in shown and "[link](" not in shown
    at.checkbox(key="dir_confirm").check().run()
    at.button(key="dir_delete").click().run()
    assert Workspace(_workspace).list_directions() == []
    assert any(f"Deleted the direction set `{entry.id}`" in s.value for s in at.success)


def test_a_probe_axis_on_the_projector_reaches_a_colleague(linked):
    ada = session("Ada", {"dataset": linked.fingerprint}, "probes")
    ada.switch_page("dashboard/views/projector.py")
    ada.run()
    ada.radio(key="proj_method").set_value("Custom axes").run()
    axis = f"probe · label (lda) · {linked.layers[-1]}"
    ada.selectbox(key="proj_ax_x").set_value(axis).run()  # the planted concepts (from attrs) are offered too
    assert ada.selectbox(key="proj_ax_x").value == axis
    grace = session("Grace", link_of(ada), "projector")
    assert grace.selectbox(key="proj_ax_x").value == axis
    assert grace.selectbox(key="proj_ax_x").options == ada.selectbox(key="proj_ax_x").options
    assert [i.value for i in grace.info] == [i.value for i in ada.info]


def test_the_atlas_saves_the_leace_subspace_it_shows(_workspace, page_runner):
    aset, _ = make_concept_embeddings(n_samples=300, d=10, n_concepts=2, n_layers=2, seed=2)

    def use(at):
        at.session_state["datasets"] = {aset.name: aset}
        at.session_state["dataset"] = aset

    at = page_runner("atlas", setup=use)
    layer = aset.layers[-1]
    assert f"planted · concept_0 · {layer}" in atlas_rows(at), "the planted concepts are saved and shown"
    at.selectbox(key="atlas_leace").set_value("label").run()
    assert not at.exception and not at.error
    assert f"leace · label · {layer}" in atlas_rows(at)
    saved = {e.method: e for e in Workspace(_workspace).list_directions(aset.fingerprint, layer=layer)}
    assert set(saved) == {"leace", "planted"} and saved["leace"].params == {"label": "label"}
    leace = Workspace(_workspace).load_directions(saved["leace"].id).vectors
    np.testing.assert_allclose(leace @ leace.T, np.eye(len(leace)), atol=1e-9)  # orthonormal rows


def test_the_atlas_on_an_all_zero_layer_leaves_out_what_has_no_direction(page_runner):
    from probing import ActivationSet

    made, _ = make_concept_embeddings(n_samples=200, d=8, n_concepts=2, n_layers=2, seed=0)
    acts = np.array(made.acts)
    acts[:, 0] = 0.0
    zero = ActivationSet(acts, layers=made.layers, labels=made.labels, name="zero layer", attrs=made.attrs)

    def use(at):
        at.session_state["datasets"] = {zero.name: zero}
        at.session_state["dataset"] = zero
        at.session_state["atlas_layer"] = 0

    at = page_runner("atlas", setup=use)
    assert any("Left out 5 of the top 5 principal components" in i.value for i in at.info)
    assert sorted(atlas_rows(at)) == [f"planted · concept_{i} · layer_0" for i in (0, 1)]
    at.selectbox(key="atlas_leace").set_value("label").run()
    assert not at.exception and not at.error and not at.warning
    assert any("LEACE removes nothing for 'label'" in i.value for i in at.info)
