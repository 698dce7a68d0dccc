"""Extract: run a real transformer over sentences and keep every hidden state as a dataset.

The run happens in the button's callback, before the sidebar picker is drawn, so the
new dataset is active (and listed in the sidebar) on the very run that made it.
"""

from __future__ import annotations

from pathlib import Path

import altair as alt
import pandas as pd
import streamlit as st

from dashboard import auth, datasets, models, state, widgets
from probing import ActivationSet, ProbingInputError
from probing.extract import extract_activations, parse_lines, split_table
from probing.models import SITES

MAX_TEXTS = 5000
MAX_TOKEN_TEXTS = 500
SOURCES = ("Bundled text dataset", "Paste sentences", "Upload a CSV")
POOLINGS = {
    "mean": "mean over tokens: the average of every token's vector ([CLS] and [SEP] included, padding "
            "ignored). This is how all-MiniLM-L6-v2 makes its sentence embedding; the safest default.",
    "first": "first token ([CLS] in BERT-style encoders): BERT-style classifiers read this position; MiniLM "
             "was trained on the mean, so [CLS] is often a weaker summary here.",
    "last": "last real token: in left-to-right (GPT-style) models the only position that has seen the whole "
            "sentence, and the one the next token is predicted from ([SEP] in MiniLM).",
    "marked": "the token you mark: write each sentence as `The <<cat>> sat` and the vector of the last token of "
              "the mark is kept (e.g. the same word in different contexts).",
    "tokens": "every token its own row (meta: text_id, position, token), for token-level questions such as "
              "where negation sits. Rows of one sentence are not independent: keep them in one fold.",
}
EXAMPLE = ("The soup was delicious. | positive\nThe service was painfully slow. | negative\n"
           "I loved every minute of the concert. | positive\nThe hotel room smelled of smoke. | negative")


@st.cache_data(show_spinner=False)
def bundled_table(name: str) -> pd.DataFrame:
    return pd.read_csv(datasets.DATA_DIR / f"{name}.csv")


@st.cache_data(show_spinner=False, max_entries=16)
def summary(fingerprint: str, _aset: ActivationSet) -> pd.DataFrame:
    return _aset.layer_summary()


def bundled_names() -> list[str]:
    """Bundled text datasets (``data/*.csv``), the default one first."""
    return sorted((p.stem for p in datasets.DATA_DIR.glob("*.csv")), key=lambda name: (name != datasets.DEFAULT_BUNDLED, name))


def input_table() -> tuple[pd.DataFrame | None, str, str | None]:
    """The table of texts the user chose (``None`` while there is none), a name, and a note on capping."""
    s = st.session_state
    source = s.get("extract_source", SOURCES[0])
    if source == SOURCES[0]:
        if not bundled_names():
            return None, "", None
        name = s.get("extract_bundled") or bundled_names()[0]
        table = bundled_table(name)
    elif source == SOURCES[1]:
        if not s.get("extract_paste", "").strip():
            return None, "", None
        table, name = parse_lines(s["extract_paste"]), "pasted"
    else:
        file = s.get("extract_upload")
        if file is None:
            return None, "", None
        file.seek(0)
        try:
            table = pd.read_csv(file)
        except (ValueError, UnicodeDecodeError) as exc:
            raise ProbingInputError(f"Could not read {file.name} as CSV: {exc}. Save it as UTF-8 CSV with a header "
                                    "row and a text column.") from exc
        name = Path(file.name).stem
    cap = MAX_TOKEN_TEXTS if s.get("extract_pooling") == "tokens" else MAX_TEXTS
    if len(table) > cap:
        note = (f"Using the first {cap:,} of {len(table):,} texts: the model runs on this server's CPU "
                f"(about a few hundred sentences a second){' and every token becomes a row' if cap < MAX_TEXTS else ''}. "
                "For more, call probing.extract.extract_activations from Python and upload the result.")
        return table.head(cap), name, note
    return table, name, None


def text_column(table: pd.DataFrame) -> str:
    """``text`` when the table has it, else the column the user picked."""
    if "text" in table.columns:
        return "text"
    return st.session_state.get("extract_text_column") or str(table.columns[0])


def _note(kind: str, text: str) -> None:
    st.session_state["extract_note"] = (kind, text)


def _on_run() -> None:
    s = st.session_state
    try:
        table, name, _ = input_table()
        if table is None:
            raise ProbingInputError("Nothing to run on yet: pick a dataset, paste sentences or upload a CSV.")
        pooling = s.get("extract_pooling", "mean")
        chosen, source = s.get("_extract_model", (False, None))
        if not chosen:
            raise ProbingInputError("Pick a model first: type its folder or Hugging Face id under the model picker.")
        loaded = models.shared_model(source)
        with widgets.progress(f"Running {loaded.name}:") as report:
            aset = extract_activations(**split_table(table, text_column(table)), model=loaded,
                                       pooling=pooling, max_length=int(s.get("extract_max_length", 128)),
                                       site=s.get("extract_site", "resid"), progress=report,
                                       name=s.get("extract_name", "").strip() or f"{name} · {loaded.name} {pooling}")
    except ProbingInputError as exc:
        _note("error", widgets.escape(str(exc)))
        return
    state.add_dataset(aset)
    s["extract_result"] = aset
    try:
        entry = datasets.workspace().add_dataset(aset, owner=auth.current_user(), source="extract")
    except (ProbingInputError, OSError) as exc:
        _note("warning", f"**{widgets.escape(aset.name)}** is active for this session but was not saved in the workspace: {exc}")
        return
    _note("success", f"**{widgets.escape(aset.name)}** ({' × '.join(map(str, aset.shape))}) is now the active dataset and is "
                     f"saved in the workspace as `{entry.fingerprint}`. Open **Probes** to see at which layer "
                     "its labels become linearly readable.")


st.title("Extract activations from a transformer")
st.markdown(
    "A transformer reads a sentence as **tokens** (word pieces). Each token starts as a vector (its word "
    "embedding plus a position signal), and each **block** rewrites every token's vector, mixing in the other "
    "tokens (attention) and transforming it (an MLP). The vectors passed from block to block are the "
    "**hidden states** (the *residual stream*: each block adds its output to it). This page runs a model "
    "(by default **all-MiniLM-L6-v2**: 6 blocks, 384 dimensions, shipped with the app, offline on CPU; or a "
    "decoder such as GPT-2, Pythia, Llama, Mistral, Qwen or Gemma that the server provides) over your "
    "sentences and keeps every hidden state as one layer of a dataset:")
st.markdown(
    "- layer 0, `embeddings`: what the model sees before any block: word identity and position, no context;\n"
    "- layer k, `block_k`: after k blocks, each token has read the whole sentence k times.\n\n"
    "A probe trained layer by layer then shows *where* a concept becomes linearly readable.")

source = st.radio("Texts", SOURCES, horizontal=True, key="extract_source")
if source == SOURCES[0]:
    names = bundled_names()
    if names:
        st.selectbox("Bundled dataset", names, key="extract_bundled",
                     help="Sentences written for this project, with labels; see data/README.md.")
    else:
        st.info("No bundled text datasets (data/*.csv) in this installation: paste sentences or upload a CSV.")
elif source == SOURCES[1]:
    st.text_area("Sentences, one per line; end a line with `| label` to label it", key="extract_paste",
                 height=180, placeholder=EXAMPLE,
                 help=f"At most {MAX_TEXTS:,} lines. Label every line or none; labels let you probe the result.")
else:
    st.file_uploader("CSV with a text column and label columns", type=["csv"], key="extract_upload",
                     help="Columns with few distinct values become labels; other columns (ids) are kept as metadata.")

st.session_state["_extract_model"] = models.pick_source("extract_model")
left, right = st.columns([2, 1])
left.radio("Pooling: one vector per sentence from its token vectors", list(POOLINGS), horizontal=True,
           key="extract_pooling", format_func=lambda p: {"first": "first token", "last": "last token",
                                                         "tokens": "every token", "marked": "marked token"}.get(p, p))
left.caption(POOLINGS[st.session_state.get("extract_pooling", "mean")])
right.selectbox("Read", SITES, key="extract_site", format_func=lambda site: {
    "resid": "residual stream", "attn_out": "attention output", "mlp_out": "MLP output"}[site],
    help="The residual stream after each block (layer 0 = embeddings), or what each block's attention or MLP "
         "adds to it (blocks 1..n; mapped for GPT-2, Pythia and Llama-style models).")
right.number_input("Max tokens per sentence", min_value=8, max_value=512, value=128, step=8, key="extract_max_length",
                   help="Longer sentences are cut after this many tokens (all-MiniLM-L6-v2 was trained on up to 128).")

WAITING = {SOURCES[0]: "No bundled text datasets are installed: paste sentences or upload a CSV.",
           SOURCES[1]: "Paste at least one sentence first: the box is empty or holds only spaces and line breaks.",
           SOURCES[2]: "Upload a CSV with a column of sentences first."}
try:
    table, name, cap_note = input_table()
    waiting = WAITING[st.session_state.get("extract_source", SOURCES[0])]
except ProbingInputError as exc:
    widgets.show_input_error(exc)
    table, name, cap_note = None, "", None
    waiting = "Fix the problem shown above first."

if table is not None:
    if "text" not in table.columns:
        st.selectbox("Column with the sentences", list(table.columns), key="extract_text_column")
    if cap_note:
        st.warning(cap_note)
    try:
        parts = split_table(table, text_column(table))
        labels, kept = ", ".join(map(widgets.escape, parts["labels"])), ", ".join(map(widgets.escape, parts["meta"].columns))
        st.caption(f"**{len(table):,} texts** from {widgets.escape(name)}. Labels: "
                   f"{labels or 'none (end pasted lines with `| label`, or add a label column, to probe them)'}"
                   f"{f'; kept as metadata (many distinct values, e.g. ids): {kept}' if kept else ''}.")
    except ProbingInputError as exc:
        widgets.show_input_error(exc)
    st.dataframe(table.head(5), hide_index=True)
    st.text_input("Dataset name (optional)", key="extract_name",
                  placeholder=f"{name} · {st.session_state['extract_model'].split(' (')[0]} "
                              f"{st.session_state.get('extract_pooling', 'mean')}")

st.button("Extract activations", type="primary", on_click=_on_run, disabled=table is None,
          help=waiting if table is None else "Run the model on these texts and make the result the active dataset.")
if table is None:
    st.caption(f"The button is disabled: {waiting}")

kind, text = st.session_state.pop("extract_note", (None, None))
if kind is not None:
    getattr(st, kind)(text)

result = st.session_state.get("extract_result")
if result is not None:
    st.subheader(f"Last extraction: {widgets.escape(result.name)}")
    widgets.dataset_caption(result)
    frame = summary(result.fingerprint, result)
    base = alt.Chart(frame).encode(
        x=alt.X("layer:O", title="hidden state (0 = embeddings, k = after block k)"),
        tooltip=["layer", "name", alt.Tooltip("mean_cosine", format=".3f"), alt.Tooltip("mean_norm", format=".2f")])
    left, right = st.columns(2)
    left.altair_chart(base.mark_line(point=True).encode(
        y=alt.Y("mean_cosine:Q", title="mean cosine between sentences")), width="stretch")
    left.caption("How much all sentence vectors point the same way at each layer. Near 1 means the space is "
                 "*anisotropic*: a shared offset dominates and differences between sentences live in a thin "
                 "shell, so centre the vectors before reading cosines (probes with an intercept do this for you). "
                 "MiniLM was trained to spread sentences apart at its last layer, so the value drops there.")
    right.altair_chart(base.mark_line(point=True, color="#e45756").encode(
        y=alt.Y("mean_norm:Q", title="mean vector length")), width="stretch")
    right.caption("Average length of the pooled vectors per layer. Blocks add their output to a running sum "
                  "(the residual stream), so lengths usually change across layers; compare directions, not raw "
                  "distances, across layers.")
    widgets.download_csv(frame, f"{result.name}_layers.csv", key="extract_dl_summary")
    st.page_link("dashboard/views/probes.py", label="Probe these activations layer by layer", icon="🎯")
