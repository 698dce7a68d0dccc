"""The ``probing`` command line: exit codes, JSON shapes, bad input, and a sweep the dashboard opens."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from probing import load_activations, save_activations
from probing.cli import build_parser, main
from probing.probes import probe_layers
from probing.store import Workspace
from probing.synthetic import make_concept_embeddings

ROOT = Path(__file__).resolve().parents[1]
COMMANDS = ["info", "extract", "sweep", "pca", "coherence", "workspace", "serve"]


@pytest.fixture
def planted(tmp_path):
    aset, _ = make_concept_embeddings(n_samples=300, d=16, n_concepts=1, n_layers=3, seed=3, name="planted")
    path = tmp_path / "acts.safetensors"
    save_activations(aset, path)
    return aset, path


def run_cli(*args: str, cwd=None) -> subprocess.CompletedProcess:
    """``python -m probing ARGS`` in a fresh process, as a user or a cluster job runs it."""
    return subprocess.run([sys.executable, "-m", "probing", *args], capture_output=True, text=True, cwd=cwd or ROOT,
                          timeout=300)


def test_every_command_has_help(capsys):
    for command in COMMANDS:
        with pytest.raises(SystemExit) as exit_info:
            main([command, "--help"])
        assert exit_info.value.code == 0
        assert f"usage: probing {command}" in capsys.readouterr().out
    assert set(build_parser()._subparsers._group_actions[0].choices) == set(COMMANDS)


def test_info_reports_what_load_activations_sees(planted, capsys):
    aset, path = planted
    assert main(["info", str(path), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["shape"] == [300, 3, 16] and info["layers"] == aset.layers
    assert info["fingerprint"] == aset.fingerprint and info["labels"]["concept_0"] == "categorical"


def test_sweep_json_matches_the_package(planted):
    aset, path = planted
    result = run_cli("sweep", str(path), "--label", "concept_0", "--cv", "3", "--json")
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    expected = probe_layers(aset, "concept_0", cv=3, seed=0).accuracy
    assert [entry["layer"] for entry in document["layers"]] == aset.layers
    np.testing.assert_allclose([entry["accuracy"] for entry in document["layers"]], expected)
    assert document["layers"][-1]["accuracy"] > 0.9  # the planted concept is decodable


def test_bad_input_exits_2_with_the_message_and_no_traceback(planted, tmp_path):
    _, path = planted
    missing = run_cli("info", str(tmp_path / "nope.npy"))
    assert missing.returncode == 2 and "does not exist" in missing.stderr and "Traceback" not in missing.stderr
    bad_label = run_cli("sweep", str(path), "--label", "colour")
    assert bad_label.returncode == 2 and "No label 'colour'" in bad_label.stderr and "concept_0" in bad_label.stderr
    junk = tmp_path / "junk.bin"
    junk.write_bytes(b"\x80\x04junk" * 10)
    pickled = run_cli("info", str(junk))
    assert pickled.returncode == 2 and "pickle" in pickled.stderr and "Traceback" not in pickled.stderr


def test_labels_csv_and_pca_and_coherence(tmp_path, capsys):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 8)).astype(np.float32) * np.arange(1, 9, dtype=np.float32)
    np.save(tmp_path / "x.npy", X)
    pd.DataFrame({"group": np.repeat(["a", "b"], 100)}).to_csv(tmp_path / "labels.csv", index=False)
    assert main(["info", str(tmp_path / "x.npy"), "--labels", str(tmp_path / "labels.csv"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["labels"] == {"group": "categorical"}
    assert main(["pca", str(tmp_path / "x.npy"), "--k", "3", "--json"]) == 0
    variances = [c["explained_variance"] for c in json.loads(capsys.readouterr().out)["components"]]
    expected = np.sort(np.linalg.eigvalsh(np.cov(X.astype(np.float64), rowvar=False)))[::-1][:3]
    np.testing.assert_allclose(variances, expected, rtol=1e-5)
    np.save(tmp_path / "dirs.npy", np.eye(4, dtype=np.float32))
    assert main(["coherence", str(tmp_path / "dirs.npy"), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["k"] == 4 and report["mu"] == pytest.approx(0.0, abs=1e-7)


def test_sweep_saved_to_a_workspace_is_listed_and_opened_by_the_dashboard(planted, tmp_path, monkeypatch):
    from streamlit.testing.v1 import AppTest

    aset, path = planted
    workspace = tmp_path / "team"
    result = run_cli("sweep", str(path), "--label", "concept_0", "--cv", "3", "--workspace", str(workspace),
                     "--owner", "ada", "--json")
    assert result.returncode == 0, result.stderr
    result_id = json.loads(result.stdout)["result_id"]
    [entry] = Workspace(workspace).list_results()
    assert entry.id == result_id and entry.kind == "probe_sweep" and entry.owner == "ada"
    assert [d.fingerprint for d in Workspace(workspace).list_datasets()] == [aset.fingerprint]

    monkeypatch.setenv("PROBING_WORKSPACE", str(workspace))
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=180)
    at.run()
    at.switch_page("dashboard/views/data.py").run()
    assert not at.exception
    picker = next(s for s in at.selectbox if s.key == "res_pick")
    picker.set_value(result_id).run()
    at.toggle(key="res_open").set_value(True).run()
    assert not at.exception and not at.error
    shown = [df.value for df in at.dataframe]
    assert any("accuracy" in frame.columns and len(frame) == aset.n_layers for frame in shown)


@pytest.mark.model
def test_extract_writes_what_load_activations_reads(tmp_path):
    texts = pd.DataFrame({"text": ["a good film", "a bad film", "great acting", "awful plot"],
                          "label": ["pos", "neg", "pos", "neg"]})
    texts.to_csv(tmp_path / "texts.csv", index=False)
    out = tmp_path / "acts.safetensors"
    result = run_cli("extract", str(tmp_path / "texts.csv"), "--out", str(out), "--pooling", "mean")
    assert result.returncode == 0, result.stderr
    aset = load_activations(out)
    assert aset.shape == (4, 7, 384) and list(aset.labels["label"]) == ["pos", "neg", "pos", "neg"]
    assert list(aset.meta["text"]) == list(texts["text"])
    npy = run_cli("extract", str(tmp_path / "texts.csv"), "--out", str(tmp_path / "acts.npy"))
    assert npy.returncode == 0, npy.stderr
    np.testing.assert_array_equal(np.load(tmp_path / "acts.npy"), np.asarray(aset.acts))


def test_workspace_rebuild_recatalogues_every_file(planted, tmp_path, capsys):
    aset, _ = planted
    workspace = Workspace(tmp_path / "team")
    entry = workspace.add_dataset(aset, owner="ada")
    (tmp_path / "team" / "catalogue.sqlite").write_bytes(b"\0" * 4096)  # a damaged catalogue
    assert main(["workspace", "rebuild", str(tmp_path / "team"), "--json"]) == 0
    assert "1 dataset" in json.loads(capsys.readouterr().out)["note"]
    [listed] = Workspace(tmp_path / "team").list_datasets()
    assert (listed.fingerprint, listed.owner) == (entry.fingerprint, "ada")
