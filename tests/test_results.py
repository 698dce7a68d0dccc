"""Shared results: save from a page; list, open, download, delete on the Data page; owner-only delete; JSON."""

import json

import numpy as np
import pandas as pd
import pytest

from dashboard import results
from conftest import run_page
from probing.store import Workspace
from probing.synthetic import make_concept_embeddings


def small_dataset():
    aset, _ = make_concept_embeddings(300, d=8, n_concepts=1, n_layers=2, seed=3, name="synthetic small")
    return aset


def use_dataset(aset, **state):
    def setup(at):
        at.session_state["datasets"][aset.name] = aset
        at.session_state["dataset"] = aset
        for key, value in state.items():
            at.session_state[key] = value
    return setup


def test_save_a_probe_sweep_then_list_open_and_delete_it(downloads):
    aset = small_dataset()
    at = run_page("probes", setup=use_dataset(aset, probes_label="concept_0", probes_method="mean_diff"))
    sweep = at.dataframe[0].value
    offered = json.loads(downloads["probes_result_json"])
    assert offered["params"]["method"] == "mean_diff" and offered["saved_by"] is None
    at.button(key="probes_result_save").click().run()
    assert not at.exception and not at.error
    [entry] = Workspace().list_results()
    assert (entry.kind, entry.owner, entry.fingerprint) == ("probe_sweep", None, aset.fingerprint)
    # synthetic data names no repeated input identities, so the page offers no control task (issue #23)
    assert entry.params["label"] == "concept_0" and entry.params["cv"] == 5 and entry.params["control"] is False
    assert any(entry.id in s.value for s in at.success)

    at.switch_page("dashboard/views/data.py").run()
    listed = next(d.value for d in at.dataframe if "saved by" in d.value.columns)
    assert listed[["kind", "saved by", "dataset", "id"]].values.tolist() == [
        ["probe_sweep", "(no login)", aset.fingerprint, entry.id]]

    at.toggle(key="res_open").set_value(True).run()
    assert json.loads(at.json[-1].value) == entry.params  # [0] is the active dataset's provenance
    shown = at.dataframe[-1].value
    pd.testing.assert_frame_equal(shown, sweep.drop(columns="order", errors="ignore"), check_dtype=False)
    document = json.loads(downloads["res_json"])
    assert document["params"] == entry.params and document["dataset"]["shape"] == list(aset.shape)
    assert {"probing", "numpy", "scikit-learn", "streamlit"} <= set(document["versions"])
    assert len(document["payload"]["sweep"]) == aset.n_layers

    other = make_concept_embeddings(200, d=8, n_concepts=1, n_layers=2, seed=4, name="synthetic other")[0]
    at.session_state["datasets"][other.name] = other
    at.session_state["dataset"] = other
    at.button(key="res_dataset").click().run()
    assert at.session_state["dataset"].fingerprint == aset.fingerprint

    assert at.button(key="res_delete").disabled, "delete needs the confirm box"
    at.checkbox(key="res_confirm").check().run()
    at.button(key="res_delete").click().run()
    assert not at.exception and not at.error
    assert Workspace().list_results() == []
    assert any("No saved results yet" in i.value for i in at.info)


@pytest.mark.parametrize("user", [None, "bob"])
def test_only_the_owner_may_delete(monkeypatch, user):
    if user is not None:
        monkeypatch.setenv("PROBING_ACCESS_TOKEN", "lab-token-" + "x" * 32)
    aset = small_dataset()
    result_id = Workspace().save_result("probe_sweep", "ada's sweep", {"label": "concept_0"},
                                        {"tables": {"sweep": [{"layer": "a", "accuracy": 0.9}]}},
                                        owner="ada", fingerprint=aset.fingerprint)

    def setup(at):
        if user is not None:
            at.session_state["auth_user"] = user

    at = run_page("data", setup=setup)
    listed = next(d.value for d in at.dataframe if "saved by" in d.value.columns)
    assert listed["saved by"].tolist() == ["ada"]
    assert at.checkbox(key="res_confirm").disabled and at.button(key="res_delete").disabled
    who = f"you are **{user}**" if user else "you are not logged in"
    assert any(f"Only **ada** can delete it; {who}" in c.value for c in at.caption)
    assert [e.id for e in Workspace().list_results()] == [result_id]


def test_result_json_holds_params_dataset_tables_and_versions():
    aset = small_dataset()
    table = pd.DataFrame({"layer": ["a", "b"], "accuracy": [np.float32(0.5), np.nan], "n": np.array([3, 4])})
    text = results.result_json("probe_sweep", "s", {"C": np.float64(0.5), "layers": np.arange(2)}, {"sweep": table},
                               results.dataset_info(aset), {"probing": "1"}, saved_by="ada",
                               created_at="2024-01-01T00:00:00")
    document = json.loads(text)
    assert document == {
        "kind": "probe_sweep", "name": "s", "params": {"C": 0.5, "layers": [0, 1]},
        "dataset": {"name": aset.name, "fingerprint": aset.fingerprint, "shape": [300, 2, 8]},
        "payload": {"sweep": [{"layer": "a", "accuracy": 0.5, "n": 3}, {"layer": "b", "accuracy": None, "n": 4}]},
        "versions": {"probing": "1"}, "saved_by": "ada", "created_at": "2024-01-01T00:00:00"}
    stored = results.payload_tables(results.result_payload({"sweep": table}, aset))["sweep"]
    assert stored["n"].tolist() == [3, 4] and stored["accuracy"].isna().tolist() == [False, True]


@pytest.mark.parametrize("page, key, kind, tables, params", [
    ("pca", "pca_result", "pca_view", {"scree", "alignment"}, {"layer": 1, "label": "label"}),
    ("steering", "steer_result", "steering_sweep", {"activation_dose_response"},
     {"label": "label", "layer": 1, "method": "mean_diff", "alphas": [-2, -1.5, -1, -0.5, 0, 0.5, 1, 1.5, 2]}),
])
def test_pca_and_steering_pages_save_their_tables_and_parameters(page, key, kind, tables, params):
    aset = small_dataset()
    at = run_page(page, setup=use_dataset(aset))
    at.button(key=f"{key}_save").click().run()
    assert not at.exception and not at.error
    [entry] = Workspace().list_results()
    assert entry.kind == kind and entry.fingerprint == aset.fingerprint
    assert {name: entry.params[name] for name in params} == params
    stored = Workspace().load_result(entry.id)
    assert set(results.payload_tables(stored.payload)) == tables
    assert stored.payload["dataset"] == results.dataset_info(aset)
