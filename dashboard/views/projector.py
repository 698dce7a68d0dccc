"""Projector: every point of one layer in a plane, by PCA, UMAP, t-SNE or axes you choose."""

import time

import altair as alt
import numpy as np
import pandas as pd
import streamlit as st

from dashboard import links, state, widgets
from probing import ProbingInputError
from probing.atlas import pca_directions
from probing.directions import SEPARATOR, direction_label
from probing.io.interop import read_control_vectors, read_projector_tsv, read_vector_parquet, write_projector_tsv, \
    write_vector_parquet
from probing.projector import DEFAULT_MAX_FIT, aggregate, data_extent, points_in, project
from probing.synthetic import make_concept_embeddings

POINT_LIMIT = 20_000  # above this many points in view, the chart shows a binned heatmap
BINS = 80
METHODS = {"PCA": "pca", "UMAP": "umap", "t-SNE": "tsne", "Custom axes": "custom"}
TEACH = {
    "pca": "PCA is a rotation followed by dropping axes: the plot is the shadow of the data on the plane of largest "
           "variance. Distances and directions are honest, but only for the share of variance shown on the axes; "
           "two clusters can overlap here and still be separable along a direction the plot drops.",
    "umap": "UMAP keeps each point's nearest neighbours close. Clusters and who-neighbours-whom are meaningful; the "
            "distance between clusters, their sizes and their shapes are not, so do not read a gap as 'far apart'.",
    "tsne": "t-SNE keeps each point's nearest neighbours close (it matches neighbour probabilities). Cluster sizes and "
            "the distances between clusters are not meaningful; a different seed or perplexity can move clusters around.",
    "custom": "Custom axes are linear: each coordinate is x · u for a unit direction u you chose (a probe direction, "
              "a PC, a steering vector). What you see is exactly how far each point lies along those directions, so "
              "a probe axis separating the classes is the probe working, with no non-linear distortion.",
}

st.title("Projector")
links.share("proj_layer", "proj_method", "proj_colour", "proj_seed", "proj_dims", "proj_pair", "proj_ax_x",
            "proj_ax_y", "proj_orth", "proj_max_fit")
aset = state.active_dataset()
widgets.dataset_caption(aset)
st.caption("See every point of one layer at once. Pick a projection, colour the points by a label, hover for the "
           "input text, and drag a box to select points: the selection is listed below and can be saved as a new "
           "label. Sets larger than 20,000 points are drawn as a density heatmap; zoom in to see single points.")


def _open_demo() -> None:
    n = int(st.session_state["proj_demo_n"])
    demo, _ = make_concept_embeddings(n_samples=n, d=16, n_concepts=3, n_layers=1, seed=0)
    state.add_dataset(demo)


with st.expander("Demo points: a large synthetic set for the aggregated view"):
    st.number_input("Points", 10_000, 1_000_000, 200_000, step=10_000, key="proj_demo_n")
    st.button("Generate and open", key="proj_demo", on_click=_open_demo,
              help="Synthetic embeddings with 3 planted concepts in d = 16 (one layer), made the active dataset.")

c1, c2, c3, c4 = st.columns(4)
with c1:
    layer = widgets.pick_layer(aset, key="proj_layer")
method = METHODS[c2.radio("Projection", list(METHODS), key="proj_method", horizontal=True)]
colour = c3.selectbox("Colour by", ["(none)", *aset.labels], key="proj_colour",
                      index=1 + list(aset.labels).index("label") if "label" in aset.labels else 0)
seed = int(c4.number_input("Seed", 0, 10_000, 0, key="proj_seed"))
X = aset.layer(layer)


@st.cache_data(show_spinner="Finding principal components ...", max_entries=16)
def _pcs(fingerprint, layer, _X):
    return pca_directions(_X, k=min(3, _X.shape[1]))


def _axis_choices() -> dict:
    """``{label: (d,) direction}``: the sets saved for this layer (first 64 rows each), then the top 3 PCs."""
    found = state.load_directions(state.direction_sets(aset, layer), max_rows=64)
    found.update({direction_label("pca", name, aset.layers[layer]): v for name, v in _pcs(aset.fingerprint, layer, X).items()})
    return found


directions, names, orthogonalize, k, max_fit = None, None, False, 2, DEFAULT_MAX_FIT
if method == "custom":
    choices = _axis_choices()
    options = list(choices)
    probes = [n for n in options if n.startswith(("probe" + SEPARATOR, "planted" + SEPARATOR))]
    pc1 = direction_label("pca", "PC1", aset.layers[layer])
    a1, a2, a3 = st.columns(3)
    x_name = a1.selectbox("x axis", options, index=options.index(probes[0]) if probes else 0, key="proj_ax_x")
    y_name = a2.selectbox("y axis", options, index=options.index(pc1) if x_name != pc1 else min(1, len(options) - 1),
                          key="proj_ax_y")
    orthogonalize = a3.checkbox("Orthogonalise (y ⟂ x)", value=False, key="proj_orth",
                                help="Off: both axes are the directions as given, so the view is oblique when they "
                                     "overlap. On: y is replaced by its part orthogonal to x.")
    names = (x_name, y_name)
    directions = np.stack([choices[x_name], choices[y_name]])
    st.caption("Axes are the directions saved in the workspace for this layer (by you, colleagues and every page: "
               "probe directions, steering vectors, PCs, LEACE subspaces, planted concepts, uploaded control vectors) "
               "and the top 3 PCs. Fit a probe on the Probes page to get a probe axis.")
else:
    b1, b2 = st.columns(2)
    k = 3 if b1.radio("View", ["2-D", "3-D (as pairs of axes)"], key="proj_dims", horizontal=True).startswith("3") else 2
    if method in ("umap", "tsne"):
        max_fit = int(b2.select_slider("Fit on at most (points)", [500, 1000, 2000, 5000, 10_000, 20_000],
                                       value=DEFAULT_MAX_FIT, key="proj_max_fit",
                                       help="Larger samples take longer. The rest are placed without refitting."))


@st.cache_data(show_spinner=False, max_entries=8)
def _view(fingerprint, layer, method, k, seed, max_fit, directions, names, orthogonalize, _X):
    with widgets.progress(f"Fitting {method} ...") as report:
        return project(_X, method, n_components=k, seed=seed, max_fit=max_fit, directions=directions, names=names,
                       orthogonalize=orthogonalize, progress=report)


fit_points = min(max_fit, aset.n_samples)
rates = st.session_state.setdefault("proj_seconds_per_point", {})
if method in rates:
    st.caption(f"{method.upper()} on {fit_points:,} points: about {rates[method] * fit_points:.0f} s, from the last "
               "fit in this session (a cached view opens at once).")
elif method in ("umap", "tsne"):
    st.caption({"umap": "The first UMAP fit on this server also compiles its code: expect 20-40 s before the picture "
                        "(measured on a 2-core machine; 500 points then take 2 s, 2,000 about 12 s).",
                "tsne": f"t-SNE on {fit_points:,} points: expect about {max(5, fit_points // 15)} s (measured on a "
                        "2-core machine: 500 points 33 s, 2,000 points 75 s)."}[method])
started = time.perf_counter()
try:
    view = _view(aset.fingerprint, layer, method, k, seed, max_fit, directions, names, orthogonalize, X)
except ProbingInputError as exc:
    widgets.show_input_error(exc)
    st.stop()
if method in ("umap", "tsne") and time.perf_counter() - started > 1.0:  # a real fit, not the cache
    rates[method] = (time.perf_counter() - started) / fit_points

st.caption(TEACH[method])
st.info(view.note)
pair = (0, 1)
if view.n_components == 3:
    pairs = {f"{view.axes[i]} vs {view.axes[j]}": (i, j) for i, j in ((0, 1), (0, 2), (1, 2))}
    pair = pairs[st.radio("Axes shown", list(pairs), key="proj_pair", horizontal=True)]
    st.caption("Altair draws in the plane, so a 3-D view is shown one pair of its axes at a time; switching pairs "
               "reuses the same fit.")
coords = view.coords[:, list(pair)]
x_title, y_title = view.axes[pair[0]], view.axes[pair[1]]
colour_values = aset.labels[colour] if colour != "(none)" else None

# --- Zoom: a window on the plane; few enough points inside are drawn one by one ---------------------
x0, x1, y0, y1 = data_extent(coords)
window = (x0, x1, y0, y1)
if aset.n_samples > POINT_LIMIT:
    z1, z2 = st.columns(2)
    zx = z1.slider("Zoom x", x0, x1, (x0, x1), key=f"proj_zx_{view.method}_{pair}", format="%.2f")
    zy = z2.slider("Zoom y", y0, y1, (y0, y1), key=f"proj_zy_{view.method}_{pair}", format="%.2f")
    window = (*zx, *zy)
in_window = points_in(coords, window)
n_window = int(in_window.sum())
brush = alt.selection_interval(name="brush", encodings=["x", "y"])
margin_x, margin_y = 0.03 * (window[1] - window[0]), 0.03 * (window[3] - window[2])  # dots at the edge stay whole
scale_x = alt.Scale(domain=[window[0] - margin_x, window[1] + margin_x], zero=False, nice=False)
scale_y = alt.Scale(domain=[window[2] - margin_y, window[3] + margin_y], zero=False, nice=False)

if n_window > POINT_LIMIT:
    cells = aggregate(coords, bins=BINS, extent=window, labels=colour_values)
    cells["log10_count"] = np.log10(cells["count"])
    tooltip = ["count:Q"] + (["majority:N", alt.Tooltip("majority_share:Q", format=".0%")] if colour_values is not None else [])
    colour_enc = alt.Color("majority:N", title=colour, scale=alt.Scale(scheme="tableau10")) if colour_values is not None else \
        alt.Color("log10_count:Q", title="log10 points", scale=alt.Scale(scheme="viridis"))
    chart = alt.Chart(cells).mark_rect().encode(
        x=alt.X("x:Q", title=x_title, scale=scale_x), x2="x_end:Q", y=alt.Y("y:Q", title=y_title, scale=scale_y),
        y2="y_end:Q", color=colour_enc, tooltip=tooltip,
        opacity=alt.Opacity("log10_count:Q", legend=None, scale=alt.Scale(range=[0.35, 1.0])) if colour_values is not None
        else alt.value(1.0)).add_params(brush).properties(height=520)
    chart_data = cells
    caption = (f"{n_window:,} points in view, binned into a {BINS} x {BINS} grid on the server so the browser draws at "
               f"most {BINS * BINS:,} cells. " + ("Each cell takes the colour of its most common label and is more "
               "opaque where more points fall. " if colour_values is not None else "Colour is the log point count. ")
               + f"Narrow the zoom sliders until at most {POINT_LIMIT:,} points remain to see single points.")
else:
    rows = np.flatnonzero(in_window)
    chart_data = pd.DataFrame({"row": rows, "x": coords[rows, 0], "y": coords[rows, 1]})
    if colour_values is not None:
        chart_data[colour] = np.asarray(colour_values)[rows]
    text_cols = [c for c in aset.meta.columns if pd.api.types.is_string_dtype(aset.meta[c])][:2]  # object or str
    for col in text_cols:
        chart_data[col] = aset.meta[col].iloc[rows].astype(str).str.slice(0, 100).to_numpy()
    tooltip = ["row:Q"] + ([f"{colour}:N"] if colour_values is not None else []) + [f"{c}:N" for c in text_cols]
    numeric = colour_values is not None and colour_values.dtype.kind == "f" and colour not in aset.categorical_labels()
    colour_enc = alt.Color(f"{colour}:{'Q' if numeric else 'N'}", title=colour,
                           scale=alt.Scale(scheme="viridis" if numeric else "tableau10")) if colour_values is not None else \
        alt.value("#4c78a8")
    chart = alt.Chart(chart_data).mark_circle(size=18 if len(rows) > 2000 else 40, opacity=0.7).encode(
        x=alt.X("x:Q", title=x_title, scale=scale_x), y=alt.Y("y:Q", title=y_title, scale=scale_y),
        color=colour_enc, tooltip=tooltip).add_params(brush).properties(height=520)
    caption = (f"{len(rows):,} points, one dot each. Hover a dot for its row and text; well-separated colours mean "
               "the label is visible in this view.")

event = st.altair_chart(chart, key=f"proj_chart_{view.method}", on_select="rerun", selection_mode="brush",
                        width="stretch")
st.caption(caption + " Drag a box to select points; double-click to clear it.")
widgets.download_csv(chart_data, f"projector_{view.method}_{aset.fingerprint}.csv", key="dl-proj-chart")

# --- Selection ---------------------------------------------------------------------------------------
box = event.selection.get("brush", {}) if event is not None else {}
selected = np.zeros(aset.n_samples, dtype=bool)
if box.get("x") and box.get("y"):
    selected = in_window & points_in(coords, (*box["x"], *box["y"]))
st.session_state["proj_selected"] = selected


def _save_selection() -> None:
    name = st.session_state["proj_sel_name"].strip() or "selected"
    source = state.active_dataset()
    chosen = st.session_state["proj_selected"]
    state.add_dataset(source.with_labels(**{name: chosen.astype(np.int64)}))
    st.session_state["proj_saved_note"] = f"Saved {int(chosen.sum()):,} points as label **{widgets.escape(name)}** (1 = selected)."


st.subheader("Selected points")
if selected.any():
    table = pd.DataFrame({"row": np.flatnonzero(selected), "x": coords[selected, 0], "y": coords[selected, 1]})
    for key, values in aset.labels.items():
        table[key] = np.asarray(values)[selected]
    table = pd.concat([table, aset.meta[selected].reset_index(drop=True)], axis=1)
    st.metric("points selected", f"{int(selected.sum()):,}")
    st.dataframe(table.head(1000), hide_index=True, width="stretch")
    st.caption("The first 1,000 selected rows with their labels and meta. Save the selection as a 0/1 label to probe "
               "it, steer towards it or colour by it on any page.")
    s1, s2 = st.columns([2, 1])
    s1.text_input("New label name", "selected", key="proj_sel_name")
    s2.button("Save selection as label", key="proj_sel_save", on_click=_save_selection, type="primary")
    widgets.download_csv(table, "projector_selection.csv", label="Download selection (CSV)", key="dl-proj-sel")
else:
    st.caption("Nothing selected yet: drag a box on the chart.")
if "proj_saved_note" in st.session_state:
    st.success(st.session_state.pop("proj_saved_note"))


# --- Import / export -------------------------------------------------------------------------------
def _import(kind: str) -> None:
    try:
        if kind == "tsv":
            opened = read_projector_tsv(st.session_state["proj_in_vectors"], st.session_state.get("proj_in_meta"),
                                        name=st.session_state["proj_in_vectors"].name.rsplit(".", 1)[0])
        else:
            opened = read_vector_parquet(st.session_state["proj_in_parquet"])
        state.add_dataset(opened)
        st.session_state["proj_import_note"] = ("success", f"Opened {widgets.escape(opened.name)}: {opened.n_samples:,} x {opened.d}.")
    except ProbingInputError as exc:
        st.session_state["proj_import_note"] = ("error", widgets.escape(str(exc)))


with st.expander("Import / export: TensorBoard projector TSV, Embedding Atlas parquet, control vectors"):
    st.markdown("**Export** this layer, or only the selected points, for TensorBoard's Embedding Projector "
                "(vectors TSV + metadata TSV) or as a parquet table with a `vector` column and the view's "
                "coordinates (`projection_x`, `projection_y`), which Embedding Atlas and Latent Scope read.")
    only = st.checkbox("Only the selected points", value=False, key="proj_export_sel", disabled=not selected.any())
    if st.checkbox("Prepare export files", key="proj_export", help="Writing files for large sets takes a moment."):
        rows = np.flatnonzero(selected) if only and selected.any() else None
        picked = slice(None) if rows is None else rows
        vectors, metadata = write_projector_tsv(aset, layer, rows)
        e1, e2, e3 = st.columns(3)
        e1.download_button("vectors.tsv", vectors, "vectors.tsv", key="dl-proj-vectors")
        e2.download_button("metadata.tsv", metadata, "metadata.tsv", key="dl-proj-meta")
        e3.download_button("embeddings.parquet", write_vector_parquet(
            aset, layer, rows, extra={"projection_x": coords[picked, 0], "projection_y": coords[picked, 1]}),
            "embeddings.parquet", key="dl-proj-parquet")
    st.markdown("**Import** a TensorBoard projector pair or a vector parquet as a new dataset.")
    i1, i2 = st.columns(2)
    i1.file_uploader("vectors TSV", type=["tsv", "txt"], key="proj_in_vectors")
    i1.file_uploader("metadata TSV (optional)", type=["tsv", "txt"], key="proj_in_meta")
    i1.button("Open TSV", key="proj_open_tsv", on_click=_import, args=("tsv",),
              disabled=st.session_state.get("proj_in_vectors") is None)
    i2.file_uploader("parquet with a vector column", type=["parquet"], key="proj_in_parquet")
    i2.button("Open parquet", key="proj_open_parquet", on_click=_import, args=("parquet",),
              disabled=st.session_state.get("proj_in_parquet") is None)
    if "proj_import_note" in st.session_state:
        kind, text = st.session_state.pop("proj_import_note")
        (st.success if kind == "success" else st.error)(text)
    st.markdown(f"**Control vectors** (repeng / steering-vectors, a dict layer → vector in `.safetensors` or `.pt`) "
                f"become axes for layer {widgets.escape(aset.layers[layer])} here and directions in the atlas.")
    upload = st.file_uploader("control vectors", type=["safetensors", "pt", "pth"], key="proj_in_control")
    if upload is not None:
        try:
            vectors = read_control_vectors(upload)
        except ProbingInputError as exc:
            widgets.show_input_error(exc)
            vectors = {}
        fitting = {str(key): v for key, v in vectors.items() if len(v) == aset.d}
        stem = upload.name.rsplit(".", 1)[0]
        saved_uploads = st.session_state.setdefault("proj_saved_uploads", set())
        if fitting and (upload.file_id, layer) not in saved_uploads:
            problem = state.save_directions(aset, layer, stem, np.stack(list(fitting.values())), "uploaded",
                                            {"file": upload.name, "keys": list(fitting)},
                                            [f"{stem}:{key}" for key in fitting])
            if problem:
                st.warning(problem)
            saved_uploads.add((upload.file_id, layer))
        if vectors:
            st.caption(f"Saved {len(fitting)} of {len(vectors)} vectors in the workspace as "
                       f"{widgets.escape(direction_label('uploaded', stem + ':<key>', aset.layers[layer]))} (the others "
                       f"do not have d = {aset.d}).")
