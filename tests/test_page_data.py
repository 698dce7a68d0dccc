"""The Data page through AppTest: summary, generate, upload (good, bad, with labels CSV), workspace actions."""

import io
import os

import numpy as np
import pandas as pd

from conftest import run_page
from probing.store import Workspace
from probing.synthetic import make_concept_embeddings


def npz_bytes(n=50, n_layers=2, d=8, **labels) -> bytes:
    buffer = io.BytesIO()
    acts = np.random.default_rng(0).standard_normal((n, n_layers, d)).astype(np.float32)
    np.savez(buffer, acts=acts, **labels)
    return buffer.getvalue()


def metrics(at) -> dict:
    return {m.label: m.value for m in at.metric}


def test_renders_summary_of_the_default_dataset():
    at = run_page("data")
    aset = at.session_state["dataset"]
    shown = metrics(at)
    memory = shown.pop("Memory")
    assert shown == {"Samples (n)": f"{aset.n_samples:,}", "Layers": str(aset.n_layers),
                     "Dimensions (d)": str(aset.d), "dtype": str(aset.acts.dtype)}
    value, unit = memory.split()
    scale = {"B": 1, "KB": 2**10, "MB": 2**20, "GB": 2**30}[unit]
    assert abs(float(value.replace(",", "")) * scale - aset.nbytes) <= 0.05 * scale, (memory, aset.nbytes)
    assert [t.label for t in at.tabs] == ["Summary", "Generate", "Bundled", "Upload", "Open a path", "Workspace"]
    assert at.get("vega_lite_chart"), "the summary has a chart"
    label_table = at.dataframe[0].value
    assert list(label_table["label"]) == list(aset.labels)


def test_generate_makes_the_new_dataset_active_and_saves_it():
    at = run_page("data")
    for key, value in {"gen_n": 300, "gen_d": 16, "gen_k": 3, "gen_layers": 3, "gen_noise": 0.5}.items():
        at.slider(key=key).set_value(value)
    at.number_input(key="gen_seed").set_value(7)
    at.button[0].click().run()
    assert not at.exception and not at.error
    expected, _ = make_concept_embeddings(n_samples=300, d=16, n_concepts=3, noise=0.5, n_layers=3, seed=7)
    active = at.session_state["dataset"]
    assert active.fingerprint == expected.fingerprint
    assert at.session_state["dataset_picker"] == active.name
    assert metrics(at)["Samples (n)"] == "300" and metrics(at)["Layers"] == "3"
    saved = Workspace().list_datasets()
    assert [(e.fingerprint, e.source) for e in saved] == [(expected.fingerprint, "synthetic")]


def test_impossible_generator_settings_show_an_error_and_keep_the_dataset():
    at = run_page("data")
    before = at.session_state["dataset"].fingerprint
    at.slider(key="gen_d").set_value(4)
    at.slider(key="gen_k").set_value(4)
    at.slider(key="gen_cosine").set_value(0.5)
    at.button[0].click().run()
    assert not at.exception
    assert any("cosine" in e.value for e in at.error)
    assert at.session_state["dataset"].fingerprint == before


def test_upload_good_file_then_bad_file_keeps_the_good_one():
    at = run_page("data")
    at.file_uploader(key="upload_file").set_value(("good.npz", npz_bytes(label=np.arange(50) % 2), "application/zip"))
    at.run()
    assert not at.exception and not at.error
    good = at.session_state["dataset"]
    assert (good.name, good.shape, list(good.labels)) == ("good", (50, 2, 8), ["label"])
    assert any("50 × 2 × 8" in s.value for s in at.success)
    assert metrics(at)["Samples (n)"] == "50"

    at.file_uploader(key="upload_file").set_value(("bad.npy", os.urandom(400), "application/octet-stream"))
    at.run()
    assert not at.exception
    assert len(at.error) == 1 and "bad.npy" in at.error[0].value
    assert at.session_state["dataset"].fingerprint == good.fingerprint
    assert [e.fingerprint for e in Workspace().list_datasets()] == [good.fingerprint]


def test_upload_with_a_labels_csv_side_file():
    at = run_page("data")
    sentiment = np.arange(50) % 3
    at.file_uploader(key="upload_file").set_value(("acts.npz", npz_bytes(), "application/zip"))
    at.file_uploader(key="upload_labels").set_value(
        ("labels.csv", pd.DataFrame({"sentiment": sentiment}).to_csv(index=False).encode(), "text/csv"))
    at.run()
    assert not at.exception and not at.error
    active = at.session_state["dataset"]
    np.testing.assert_array_equal(active.labels["sentiment"].astype(int), sentiment)


def test_workspace_open_rename_delete():
    saved, _ = make_concept_embeddings(n_samples=80, d=6, n_layers=2, seed=3, name="from last week")
    entry = Workspace().add_dataset(saved, owner=None, source="upload")
    at = run_page("data")
    assert at.selectbox(key="ws_pick").value == entry.fingerprint
    at.button(key="ws_open").click().run()
    assert at.session_state["dataset"].fingerprint == entry.fingerprint
    assert at.session_state["dataset_picker"] == "from last week"

    at.text_input(key=f"ws_new_name_{entry.fingerprint}").set_value("baseline run")
    at.button(key="ws_rename").click().run()
    assert Workspace().get_dataset(entry.fingerprint).name == "baseline run"

    assert at.button(key="ws_delete").disabled
    at.checkbox(key="ws_confirm").check().run()
    at.button(key="ws_delete").click().run()
    assert not at.exception and not at.error
    assert Workspace().list_datasets() == []
    assert any("Deleted" in s.value for s in at.success)


def test_open_a_bundled_dataset_with_its_description():
    from dashboard import datasets

    assert datasets.bundled_datasets(), "the bundled datasets in data/ are part of the repository"
    at = run_page("data")
    at.button[0].click().run()
    name = at.selectbox(key="bundled_pick").value
    assert at.session_state["dataset"].name != name
    assert any(f"`{name}.csv`" in m.value for m in at.markdown), "the README row describing the file is shown"
    at.button(key="bundled_open").click().run()
    assert not at.exception and not at.error
    assert at.session_state["dataset"].name == name
    assert at.session_state["dataset_picker"] == name


def _activate(aset):
    def setup(at):
        at.session_state["datasets"] = {aset.name: aset}
        at.session_state["dataset"] = aset
    return setup


def test_long_texts_are_cut_in_the_table_and_shown_in_full_on_demand():
    from probing import ActivationSet

    texts = [f"row {i} " + "word " * 40_000 for i in range(20)]  # 200 KB each, 4 MB in all
    aset = ActivationSet(np.zeros((20, 1, 4), np.float32), labels={"y": np.arange(20) % 2},
                         meta=pd.DataFrame({"text": texts}), name="long texts")
    at = run_page("data", setup=_activate(aset))
    meta = next(df for df in at.dataframe if "text" in df.value.columns)
    assert meta.value["text"].str.len().max() <= 300 and meta.value["text"].str.endswith("…").all()
    assert meta.value["text"].iloc[3].startswith("row 3 word")
    assert sum(len(df.proto.arrow_data.data) for df in at.dataframe) < 200_000  # was the full 4 MB
    at.selectbox(key="data_full_row").set_value(3).run()
    assert [t.value for t in at.text_area if t.key.startswith("data_full_text")] == [texts[3]]


def test_integer_class_ids_stay_categorical_and_the_cap_says_how_to_probe_a_subset():
    from probing import ActivationSet

    y = np.arange(6000) % 600
    aset = ActivationSet(np.zeros((6000, 1, 4), np.float32), labels={"class_id": y, "score": np.linspace(0, 1, 6000)},
                         name="600 classes")
    at = run_page("data", setup=_activate(aset))
    table = next(df.value for df in at.dataframe if "kind" in df.value.columns).set_index("label")
    assert table.loc["class_id", "kind"] == "categorical" and table.loc["class_id", "classes"] == 600
    assert "probe a subset" in table.loc["class_id", "counts"] and "mean" not in table.loc["class_id", "counts"]
    assert table.loc["score", "kind"] == "numeric"
