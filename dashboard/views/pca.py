"""PCA / change of basis: the natural basis of a layer, and the same map seen in two bases."""

import altair as alt
import numpy as np
import pandas as pd
import streamlit as st

from dashboard import linalg_charts, links, results, state, widgets
from probing import ProbingInputError
from probing import linalg
from probing.directions import direction_label
from probing.pca import basis_of_rows
from probing.stats import compute_moments

MAX_COMPONENTS = 256  # scree and coordinates; the variance shares still use the full trace
MAX_POINTS = 3000  # scatter points sent to the browser
N_COORDS = 10  # PCs offered in the scatter
HEATMAP_DIMS = 20
SCREE_SHOWN = 50  # components in the scree chart

st.title("PCA: the natural basis of a layer")
links.share("pca_layer", "pca_label", "pca_x", "pca_y", "pca_map", "pca_angle", "pca_shear", "pca_basis",
            "pca_probe")
st.markdown(
    "A matrix is one coordinate picture of a map, and the standard basis of a layer (neuron 1, neuron 2, ...) "
    "is just one choice of coordinates. **PCA picks a better one**: the eigenvectors of the covariance, "
    "ordered by how much variance each carries. In that basis the features are decorrelated: the covariance "
    "becomes diagonal. If a concept dominates the layer, it shows up as one of the first principal components (PCs)."
)
aset = state.active_dataset()
widgets.dataset_caption(aset)
c1, c2 = st.columns(2)
with c1:
    layer = widgets.pick_layer(aset, key="pca_layer")
with c2:
    label = widgets.pick_label(aset, key="pca_label", label="Colour by label")


@st.cache_data(show_spinner=False, max_entries=8)
def fit_layer(fingerprint, layer, _aset):
    """Moments in one pass, then the PCA basis, the covariances and the sampled coordinates."""
    X = _aset.layer(layer)
    with widgets.progress("Computing the covariance (one pass) ...") as report:
        moments = compute_moments(X, progress=report)
        # float32 products leave the smallest eigenvalues imprecise: a second pass refines them when needed
        basis = basis_of_rows(moments, X, n_components=min(MAX_COMPONENTS, moments.count, moments.d), progress=report)
    C = moments.covariance()
    rows = np.sort(np.random.default_rng(0).permutation(len(X))[:MAX_POINTS])
    coords = basis.transform(np.asarray(X[rows]))[:, :N_COORDS]
    return basis, C[:HEATMAP_DIMS, :HEATMAP_DIMS], basis.change_of_basis(C)[:HEATMAP_DIMS, :HEATMAP_DIMS], rows, coords


@st.cache_data(show_spinner="Fitting a mean-difference probe ...", max_entries=16)
def probe_directions(fingerprint, layer, label, _aset):
    from probing.probes import fit_probe  # scikit-learn: imported when the box is ticked, not on opening

    probe = fit_probe(np.asarray(_aset.layer(layer), dtype=np.float32), _aset.label(label), method="mean_diff")
    directions = np.atleast_2d(probe.direction_)
    names = [f"{label} (mean_diff)"] if len(directions) == 1 else [f"{label}={c} (mean_diff)" for c in probe.classes_]
    return {direction_label("probe", name, _aset.layers[layer]): row for name, row in zip(names, directions)}


try:
    basis, cov_before, cov_after, rows, coords = fit_layer(aset.fingerprint, layer, aset)
except ProbingInputError as exc:
    widgets.show_input_error(exc)
    st.stop()

# --- Scree ----------------------------------------------------------------------------------------
st.subheader("How much variance each new basis vector carries")
scree = basis.to_frame()
st.altair_chart(basis.plot(n=SCREE_SHOWN), width="stretch")
k90 = int(np.searchsorted(scree.cumulative_ratio.to_numpy(), 0.9) + 1)
st.caption(
    f"Bars: the variance along each of the first {min(SCREE_SHOWN, len(scree))} PCs as a share of the total (the trace of the "
    f"covariance); red line: the running total. A few tall bars mean the layer's activity lives in a few "
    "directions; here "
    + (f"{k90} of {basis.d} directions hold 90% of the variance." if k90 <= len(scree) else
       f"the first {len(scree)} directions hold {scree.cumulative_ratio.iloc[-1]:.0%} of the variance.")
    + " A flat scree means no direction is special.")
c1, c2 = st.columns(2)
with c1:
    widgets.download_csv(scree, f"scree_{aset.fingerprint}_{layer}.csv", key="pca_dl_scree")
if c2.button("Save PC1-PC3 as directions for other pages", key="pca_save",
             help="The Steering and Coherence pages can then use them, e.g. to steer along PC1."):
    top = min(3, basis.n_components)
    problem = state.save_directions(aset, layer, f"PC1-PC{top}", basis.components[:top], "pca",
                                    {"n_components": top}, [f"PC{i + 1}" for i in range(top)])
    c2.caption(widgets.escape(problem) if problem else
               f"Saved in the workspace as {widgets.escape(direction_label('pca', 'PC1', aset.layers[layer]))} ... "
               f"PC{top}, for every page and anyone you share a link with.")

# --- Scatter --------------------------------------------------------------------------------------
st.subheader("The samples in the new coordinates")
meta = aset.meta.iloc[rows].reset_index(drop=True)
points = pd.DataFrame(coords, columns=[f"PC{i + 1}" for i in range(coords.shape[1])])
points.insert(0, "row", rows)
if label is not None:
    points.insert(1, "label", aset.label(label)[rows].astype(str))
text_cols = [c for c in ("text", "sentence", "id") if c in meta.columns][:2]
for col in text_cols:
    points[col] = meta[col].astype(str).str.slice(0, 120).to_numpy()
tooltip = [alt.Tooltip(c) for c in ["row"] + (["label"] if label is not None else []) + text_cols]
pcs = list(points.columns[points.columns.str.startswith("PC")])
c1, c2 = st.columns(2)
x_pc = c1.selectbox("Horizontal axis", pcs, index=0, key="pca_x")
y_pc = c2.selectbox("Vertical axis", pcs, index=min(1, len(pcs) - 1), key="pca_y")
colour = (alt.Color("label:N", title=label, scale=alt.Scale(scheme="tableau10")) if label is not None
          else alt.value("#4c78a8"))
scatter = alt.Chart(points).mark_circle(size=28, opacity=0.6).encode(
    x=alt.X(f"{x_pc}:Q"), y=alt.Y(f"{y_pc}:Q"), color=colour,
    tooltip=tooltip + [alt.Tooltip(f"{x_pc}:Q", format=".3f"), alt.Tooltip(f"{y_pc}:Q", format=".3f")],
).properties(height=420).interactive()
st.altair_chart(scatter, width="stretch")
st.caption(
    f"Each dot is one sample ({len(rows):,} of {aset.n_samples:,} shown), placed by its coordinates along two PCs. "
    "If the colours separate along one axis, that PC carries the label: the concept is a direction of large "
    "variance. Hover for the sample's text; scroll to zoom.")
if len(pcs) >= 3:
    brush = alt.selection_interval()
    base = alt.Chart(points).mark_circle(size=14).encode(
        color=alt.condition(brush, colour, alt.value("lightgray")), tooltip=tooltip).properties(width=230, height=230)
    st.altair_chart(alt.hconcat(base.encode(x=alt.X("PC1:Q"), y=alt.Y("PC2:Q")).add_params(brush),
                                base.encode(x=alt.X("PC1:Q"), y=alt.Y("PC3:Q")),
                                base.encode(x=alt.X("PC2:Q"), y=alt.Y("PC3:Q"))))
    st.caption(
        "Three dimensions as three flat views: PC1-PC2, PC1-PC3 and PC2-PC3 (altair draws no 3-D). Drag a box in "
        "the first panel: the selected points stay coloured in the other two, so you can see where a cluster "
        "sits along PC3.")
widgets.download_csv(points, f"pca_coordinates_{aset.fingerprint}_{layer}.csv", key="pca_dl_points")

# --- Covariance before and after ------------------------------------------------------------------
st.subheader("Change of basis: the covariance becomes diagonal")


def heatmap(M, axis_title, title):
    n = len(M)
    frame = pd.DataFrame({"i": np.repeat(np.arange(1, n + 1), n), "j": np.tile(np.arange(1, n + 1), n),
                          "value": M.ravel()})
    limit = float(np.abs(M).max()) or 1.0
    return alt.Chart(frame, title=title).mark_rect().encode(
        x=alt.X("j:O", title=axis_title), y=alt.Y("i:O", title=axis_title),
        color=alt.Color("value:Q", scale=alt.Scale(scheme="redblue", domain=[-limit, limit], reverse=True),
                        title="covariance"),
        tooltip=[alt.Tooltip("i"), alt.Tooltip("j"), alt.Tooltip("value:Q", format=".4g")]).properties(width=300, height=300), frame


def off_diagonal_share(M):
    return float(((M - np.diag(np.diag(M))) ** 2).sum() / max((M ** 2).sum(), 1e-300))


before_chart, before_frame = heatmap(cov_before, "dimension", f"Standard basis: first {len(cov_before)} dims")
after_chart, after_frame = heatmap(cov_after, "principal component", f"PCA basis: first {len(cov_after)} PCs")
st.altair_chart(alt.hconcat(before_chart, after_chart).resolve_scale(color="independent"))
st.caption(
    f"Left: the covariance C of the first {len(cov_before)} neurons; off-diagonal colour means two neurons move "
    f"together ({off_diagonal_share(cov_before):.0%} of its squared mass is off the diagonal). Right: the same "
    f"covariance in the PCA basis, Pᵀ C P. Only the diagonal is left ({off_diagonal_share(cov_after):.1e} off it): "
    "the new coordinates are uncorrelated and each diagonal entry is the variance along one PC. Same data, same "
    "map, different basis.")
widgets.download_csv(pd.concat([before_frame.assign(basis="standard"), after_frame.assign(basis="pca")]),
                f"covariance_{aset.fingerprint}_{layer}.csv", key="pca_dl_cov")

# --- Alignment --------------------------------------------------------------------------------------
st.subheader("Do the top PCs line up with known directions?")
directions = state.load_directions([entry for entry in state.direction_sets(aset, layer) if entry.method != "pca"],
                                   max_rows=16)
n_classes = len(np.unique(aset.label(label))) if label is not None else 0
if label is not None and n_classes < 2:
    st.info(f"The label '{widgets.escape(label)}' has one class, so there is no class-mean difference to compare "
            "with: a probe needs two classes. The PCA above does not need a label; pick a label with two or more "
            "classes to add its direction here.")
if n_classes >= 2 and st.checkbox(f"Add the class-mean difference direction for '{widgets.escape(label)}' (a probe fitted "
                                     "here)", value=False, key="pca_probe",
                                     help="Positive class mean minus negative class mean (one-vs-rest for more "
                                          "classes): the lesson's direction d, estimated from the data. Off on "
                                          "opening: the probe library takes a second or two to load the first "
                                          "time."):
    try:
        directions.update(probe_directions(aset.fingerprint, layer, label, aset))
    except ProbingInputError as exc:
        widgets.show_input_error(exc)
pca_tables = {"scree": scree}
directions = widgets.drop_zero_directions(directions)
if not directions:
    st.info("No directions to compare with yet: tick the box above to fit the class-mean difference of the label "
            "here, fit a probe on the Probes page (it saves its direction), or pick a label with two or more "
            "classes above.")
else:
    alignment = basis.alignment(directions)
    top = min(10, basis.n_components)
    frame = alignment.to_frame()
    frame = frame[frame.pc <= top]
    grid = alt.Chart(frame).encode(x=alt.X("pc:O", title="principal component"), y=alt.Y("direction:N", title=None))
    st.altair_chart(alt.layer(
        grid.mark_rect().encode(color=alt.Color("abs_cos:Q", scale=alt.Scale(domain=[0, 1], scheme="blues"),
                                                title="|cos|"),
                                tooltip=[alt.Tooltip("direction"), alt.Tooltip("pc"),
                                         alt.Tooltip("abs_cos:Q", format=".3f")]),
        grid.mark_text(fontSize=11).encode(text=alt.Text("abs_cos:Q", format=".2f"),
                                           color=alt.condition(alt.datum.abs_cos > 0.6, alt.value("white"),
                                                               alt.value("black"))),
    ).properties(height=max(120, 36 * len(directions))), width="stretch")
    st.dataframe(alignment.summary(), hide_index=True, width="stretch")
    st.caption(
        "|cos| between each PC and each direction: 1 means the PC *is* that direction, 0 means they are at right "
        f"angles. The table's last column is how much of the direction lies in the span of all {basis.n_components} "
        "computed PCs. A planted or probe direction with |cos| near 1 at PC1 says the concept is the layer's "
        "dominant axis of variation (the lesson's Exercise 8(c)); a probe can also find a concept spread over "
        "many low-variance PCs, which PCA alone would miss.")
    widgets.download_csv(alignment.to_frame(), f"pca_alignment_{aset.fingerprint}_{layer}.csv", key="pca_dl_align")
    pca_tables["alignment"] = alignment.to_frame()
results.save_result_control(
    "pca_view", f"PCA of {aset.name}, layer {aset.layers[layer]}",
    {"layer": layer, "layer_name": aset.layers[layer], "label": label, "n_components": basis.n_components,
     "directions": list(directions)}, pca_tables, aset, key="pca_result")

# --- The same map in two bases ------------------------------------------------------------------------
st.subheader("The same map in two bases")
st.markdown(
    "A 2-D example makes the change of basis visible. Pick a map A and a new basis P (its columns are the new "
    "basis vectors). In the new coordinates the map's matrix is **P⁻¹ A P**: a different table of numbers for "
    "the *same* map, with the same trace, determinant and eigenvalues.")
c1, c2, c3 = st.columns(3)
MAPS = ["symmetric stretch [[2, 1], [1, 2]]", "shear", "rotation", "reflection across a line",
        "projection onto a line"]
which = c1.selectbox("Map A", MAPS, key="pca_map")
if which == MAPS[0]:
    A = np.array([[2.0, 1.0], [1.0, 2.0]])
elif which == MAPS[1]:
    A = linalg.shear(c2.slider("shear factor", -3.0, 3.0, 1.0, 0.25, key="pca_shear"))
else:
    theta = np.deg2rad(c2.slider("rotation angle" if which == MAPS[2] else "angle of the line (degrees)",
                                 -180, 180, 30, 5, key="pca_angle"))
    A = {MAPS[2]: linalg.rotation(theta), MAPS[3]: linalg.reflection([-np.sin(theta), np.cos(theta)]),
         MAPS[4]: linalg.projection([[np.cos(theta)], [np.sin(theta)]])}[which]
BASES = ["eigenvectors of A", "standard basis rotated by 45°", "the lesson's P = [[1, 1], [0, 1]]"]
basis_choice = c3.selectbox("New basis P", BASES, key="pca_basis")
P = {BASES[1]: linalg.rotation(np.pi / 4), BASES[2]: np.array([[1.0, 1.0], [0.0, 1.0]])}.get(basis_choice)
try:
    change = linalg.same_map_two_bases(A, P)
except ProbingInputError as exc:
    widgets.show_input_error(exc)
    st.stop()
if change.note:
    st.info(change.note)
left, grid_a = linalg_charts.map_picture(change.A, "Old coordinates: A",
                                         linalg_charts.arrows(change.P, ["p1", "p2"], linalg_charts.KINDS[4]))
right, grid_b = linalg_charts.map_picture(change.B, "New coordinates: P⁻¹ A P")
st.altair_chart(alt.hconcat(left, right))
st.caption(
    "Grey: the unit grid; light blue: where the map sends it. Black arrows are the basis vectors of each picture, "
    "red their images (the columns of the matrix), green (left) the new basis vectors p1, p2 drawn in old "
    "coordinates. In the eigenbasis the right picture only stretches along the axes: the map acts by simple "
    "scaling, which is what diagonalisation means. PCA does exactly this to the covariance. Type your own A and P "
    "on the Linear-algebra lab page.")
tables = st.columns(3)
for column, (name, M) in zip(tables, [("A (old basis)", change.A), ("P (new basis vectors as columns)", change.P),
                                      ("P⁻¹ A P (new basis)", change.B)]):
    column.markdown(f"**{name}**")
    column.dataframe(pd.DataFrame(M, columns=["col 1", "col 2"]).round(4), hide_index=True)
st.dataframe(change.invariants(), hide_index=True)
st.caption("Invariants of the map, not of the basis: trace, determinant, rank and eigenvalues agree in both columns.")
widgets.download_csv(pd.concat([grid_a.assign(picture="old"), grid_b.assign(picture="new")]),
                     "same_map_two_bases_grid.csv", key="pca_dl_grid")
