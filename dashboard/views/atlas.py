"""Direction atlas: every direction saved for one layer (by anyone), in one clustered cosine matrix."""

import altair as alt
import numpy as np
import pandas as pd
import streamlit as st

from dashboard import links, state, widgets
from probing import ProbingInputError
from probing.atlas import direction_atlas, leace_subspace, pca_directions, readable, round_frame
from probing.directions import direction_label
from probing.io.interop import load_sae, read_directions, sae_feature_activations

st.title("Direction atlas")
links.share("atlas_layer", "atlas_pcs", "atlas_leace", "atlas_k", "atlas_anchor", "atlas_max_rows", "atlas_hidden")
aset = state.active_dataset()
widgets.dataset_caption(aset)
st.caption("Probe weights, principal components, steering vectors, erased (LEACE) subspaces, planted concepts and "
           "dictionary features are all vectors in the same space. Here they meet in one cosine matrix: a cosine "
           "near ±1 means two methods found the same direction, near 0 that they are unrelated. Rows are ordered by "
           "clustering on |cos|, so directions that agree form blocks on the diagonal.")

c1, c2, c3 = st.columns(3)
with c1:
    layer = widgets.pick_layer(aset, key="atlas_layer")
n_pcs = c2.slider("Top principal components", 0, min(20, aset.d), min(5, aset.d), key="atlas_pcs")
erase = c3.selectbox("LEACE subspace for label", ["(none)", *aset.categorical_labels()], key="atlas_leace",
                     help="The subspace LEACE removes to erase this label: what a linear probe for it uses. It is "
                          "saved with the other directions of this layer.")


@st.cache_data(show_spinner="Principal components and LEACE ...", max_entries=16)
def _computed(fingerprint, layer, n_pcs, erase, _aset):
    X = _aset.layer(layer)
    found = {direction_label("pca", name, _aset.layers[layer]): row
             for name, row in (pca_directions(X, k=n_pcs) if n_pcs else {}).items()}
    subspace = leace_subspace(np.asarray(X, dtype=np.float64), _aset.label(erase)) if erase != "(none)" else None
    return found, subspace


def _save_upload(upload, method: str, sets: dict) -> None:
    """Save the uploaded direction sets once per file (a rerun keeps the file in the uploader)."""
    saved = st.session_state.setdefault("atlas_saved_uploads", set())
    if (upload.file_id, layer) in saved:
        return
    stem = upload.name.rsplit(".", 1)[0]
    for key, rows in sets.items():
        problem = state.save_directions(aset, layer, stem if len(sets) == 1 else f"{stem}:{key}", rows, method,
                                        {"file": upload.name, "entry": key})
        if problem:
            st.warning(problem)
    saved.add((upload.file_id, layer))


try:
    computed, subspace = _computed(aset.fingerprint, layer, n_pcs, erase, aset)
except ProbingInputError as exc:
    widgets.show_input_error(exc)
    st.stop()
if n_pcs and len(computed) < n_pcs:
    st.info(f"Left out {n_pcs - len(computed)} of the top {n_pcs} principal components: the data does not vary along "
            "them in this layer (e.g. an all-zero layer), so they are no direction of the data.")
if subspace is not None and len(subspace):
    problem = state.save_directions(aset, layer, erase, subspace, "leace", {"label": erase})
    if problem:
        st.warning(problem)
elif subspace is not None:
    st.info(f"LEACE removes nothing for '{widgets.escape(erase)}' here: its class means coincide in this layer, so "
            "there is no subspace to show.")

with st.expander("Add a dictionary: SAE decoder (SAELens) or direction rows (.npy / .safetensors)"):
    st.caption(f"An uploaded dictionary is saved in the workspace as directions of layer {widgets.escape(aset.layers[layer])}, so "
               "colleagues and share links see it too (listed, and deletable by you, on the Data page).")
    max_rows = st.slider("Rows kept per dictionary", 8, 256, 64, key="atlas_max_rows",
                         help="An SAE can have tens of thousands of features; the matrix shows the first rows.")
    d1, d2 = st.columns(2)
    cfg = d1.file_uploader("SAELens cfg.json (optional)", type=["json"], key="atlas_sae_cfg")
    weights = d1.file_uploader("SAELens sae_weights.safetensors", type=["safetensors"], key="atlas_sae_weights")
    rows_file = d2.file_uploader("Direction rows (.npy (k, d) or .safetensors of named sets)",
                                 type=["npy", "safetensors", "npz"], key="atlas_rows")
    try:
        if weights is not None:
            sae = load_sae(weights, cfg)
            _save_upload(weights, "sae", {"W_dec": sae.W_dec})
            if sae.d_in == aset.d:
                acts = sae_feature_activations(sae, np.asarray(aset.layer(layer)[:5000], dtype=np.float32))
                firing = pd.DataFrame({"feature": np.arange(sae.d_sae), "firing_rate": (acts > 0).mean(axis=0),
                                       "mean_activation": acts.mean(axis=0)}).sort_values("firing_rate", ascending=False)
                st.caption(f"SAE features on {widgets.escape(aset.layers[layer])} (first 5,000 rows): ReLU((x − b_dec) W_enc + b_enc). "
                           "Features that never fire here were probably trained on another layer.")
                st.dataframe(firing.head(20), hide_index=True, width="stretch")
        if rows_file is not None:
            _save_upload(rows_file, "uploaded", read_directions(rows_file))
    except ProbingInputError as exc:
        widgets.show_input_error(exc)

entries = {entry.id: entry for entry in state.direction_sets(aset, layer)}
hidden = st.multiselect("Saved direction sets to leave out", list(entries), key="atlas_hidden",
                        format_func=lambda i: f"{entries[i].label} (k = {entries[i].k}, by "
                                              f"{entries[i].owner or 'no login'})",
                        help="Every direction set saved for this layer is shown: by the Probes, PCA and Steering "
                             "pages, LEACE above, uploads and the dataset's planted concepts, by anyone using this "
                             "workspace. The share link remembers which ones you leave out.")
try:
    directions = {**computed, **state.load_directions([e for i, e in entries.items() if i not in hidden], max_rows)}
except ProbingInputError as exc:
    widgets.show_input_error(exc)
    st.stop()

directions = widgets.drop_zero_directions(directions)
if len(directions) < 2:
    st.info("Fewer than two directions for this layer. Raise the number of PCs, fit a probe on the Probes page or "
            "upload a dictionary.")
    st.stop()
try:
    atlas = direction_atlas(directions)
except ProbingInputError as exc:
    widgets.show_input_error(exc)
    st.stop()

m1, m2, m3, m4 = st.columns(4)
m1.metric("directions", len(atlas.names))
m2.metric("dimension d", atlas.d)
m3.metric("Welch bound", f"{atlas.welch:.3f}")
m4.metric("largest |cos| (off-diagonal)", f"{atlas.coherence:.3f}")
st.caption(f"The Welch bound is the smallest largest-|cos| that {len(atlas.names)} unit vectors in {atlas.d} dimensions "
           "can have (0 while they fit orthogonally). Pairs far above it agree for a reason; pairs near it are as "
           "unrelated as that many directions can be. PCs are orthogonal to each other by construction.")

# --- Heatmap ---------------------------------------------------------------------------------------
frame = atlas.to_frame()
event = st.altair_chart(atlas.plot(), key="atlas_heat", on_select="rerun", selection_mode="cell", width="stretch")
st.caption("Cosine between every two directions (red +, blue −), ordered by clustering. Blocks on the diagonal are "
           "families of directions that agree; a probe direction in a block with PC1 means the label is the layer's "
           "main axis of variance. Click a cell to compare its two directions below.")
widgets.download_csv(frame, f"atlas_{aset.fingerprint}_{layer}.csv", key="dl-atlas")

# --- The clicked pair (default: the most similar pair) -----------------------------------------------
picked = (event.selection.get("cell") or [None])[0] if event is not None else None
if picked and picked.get("row") in atlas.names and picked.get("col") in atlas.names:
    a, b = picked["row"], picked["col"]
else:
    off = np.abs(atlas.cosine) - 2 * np.eye(len(atlas.names))
    i, j = np.unravel_index(np.argmax(off), off.shape)
    a, b = atlas.names[i], atlas.names[j]
    st.caption("No cell clicked: showing the most similar pair.")
ia, ib = atlas.index(a), atlas.index(b)
cos = atlas.cosine[ia, ib]
st.subheader(f"{widgets.escape(a)}  vs  {widgets.escape(b)}")
st.markdown(f"cos = **{readable(cos)}** (angle {np.degrees(np.arccos(np.clip(abs(cos), 0, 1))):.1f}° up to sign); "
            f"Welch bound {readable(atlas.welch)}: {'above' if atlas.above_welch(cos) else 'not above'} it.")
pair = pd.DataFrame({"dimension": np.tile(np.arange(atlas.d), 2), "direction": [a] * atlas.d + [b] * atlas.d,
                     "loading": np.r_[atlas.vectors[ia], np.sign(cos or 1) * atlas.vectors[ib]]})
st.altair_chart(alt.Chart(pair).mark_line(point=atlas.d <= 64).encode(
    x="dimension:Q", y=alt.Y("loading:Q", title="unit-vector entry"), color="direction:N",
    tooltip=["direction:N", "dimension:Q", alt.Tooltip("loading:Q", format=".3f")]), width="stretch")
st.caption("Both unit vectors entry by entry (the second flipped if the cosine is negative, since a direction's sign "
           "is a convention). Lines that track each other are the same direction; where they differ shows which "
           "dimensions one uses and the other does not.")
widgets.download_csv(pair, "atlas_pair.csv", key="dl-atlas-pair")

# --- Nearest directions ----------------------------------------------------------------------------
st.subheader("Nearest directions")
n1, n2 = st.columns([3, 1])
anchor = n1.selectbox("Direction", atlas.names, index=ia, key="atlas_anchor")
others = len(atlas.names) - 1  # a slider needs two values to choose from: with one other direction, show it
k = n2.slider("how many", 1, others, min(10, others), key="atlas_k") if others > 1 else 1
near = atlas.nearest(anchor, k)
st.dataframe(round_frame(near), hide_index=True, width="stretch")
st.caption(f"The {k} direction{'s' if k > 1 else ''} with the largest |cos| to {widgets.escape(anchor)}. `above_welch` marks those more aligned than "
           "the least any set this size must be; an SAE feature high on this list is a candidate name for a probe.")
widgets.download_csv(near, f"nearest_{anchor}.csv", key="dl-atlas-near")
widgets.download_safetensors({name: atlas.vectors[i].astype(np.float32) for i, name in enumerate(atlas.names)},
                        f"directions_{aset.fingerprint}_{layer}.safetensors", label="Download all directions (.safetensors)",
                        key="dl-atlas-st")
