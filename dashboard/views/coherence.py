"""Coherence: how close to orthogonal a set of directions is, and what overlap costs the probes."""

import altair as alt
import numpy as np
import pandas as pd
import streamlit as st

from dashboard import links, state, widgets
from probing import ProbingInputError
from probing.coherence import coherence_report, gram
from probing.atlas import probe_directions
from probing.directions import distinguishing
from probing.coherence.experiment import coherence_vs_accuracy
from probing.io.interop import read_arrays
from probing.synthetic import generator_params, make_concept_embeddings

GRAM_MAX_ROWS = 300
MAX_ROWS = 20_000  # directions per report: the work grows with k^2 (40,000 rows took 16 s)

st.title("Coherence: how close to orthogonal are the directions?")
links.share("coh_source", "coh_planted_k", "coh_planted_d", "coh_planted_cos", "coh_planted_seed", "coh_probe_how",
            "coh_probe_label", "coh_probe_layer", "coh_saved_sets", "coh_rand_k", "coh_rand_d", "coh_rand_seed",
            "coh_exp_n", "coh_exp_d", "coh_exp_noise", "coh_exp_run")
st.markdown(
    "Take a set of directions (concepts planted in synthetic data, probe weights, the rows of an SAE decoder) "
    "and ask how much any two of them overlap. The **mutual coherence** μ is the largest |cos| between two "
    "different directions: 0 means they are all at right angles, 1 means two of them point the same way (or "
    "opposite ways). It matters because reading one concept along its direction also picks up every concept "
    "that overlaps it: a probe for *A* sees `cos(A, B)` of concept *B* as noise it must untangle."
)
aset = state.active_dataset()
widgets.dataset_caption(aset)

SOURCES = ["Planted directions (synthetic)", "Probe directions", "Upload a matrix", "Random vectors"]
source = st.radio("Directions", SOURCES, horizontal=True, key="coh_source",
                  help="Each direction is one row of a (k, d) matrix; lengths do not matter, only angles.")


@st.cache_data(max_entries=16)
def planted_directions(n_concepts, d, cosine, seed):
    _, directions = make_concept_embeddings(n_samples=2, d=d, n_concepts=n_concepts, seed=seed,
                                            concept_cosine=cosine)
    return directions


@st.cache_data(show_spinner="Fitting LDA probes ...", max_entries=16)
def fitted_probe_directions(fingerprint, per, label, layer, _aset):
    """LDA probe directions, one per label (at one layer) or one per layer (for one label)."""
    return probe_directions(_aset, per=per, label=label, layer=layer if layer is not None else -1)


def usable(directions, description):
    """(names, D, description) of the non-zero directions; a note for zero ones, and a stop when fewer than two."""
    directions = widgets.drop_zero_directions(directions)
    if len(directions) < 2:
        st.info(f"Coherence compares pairs, and {len(directions)} direction(s) are left. Pick more saved sets, "
                "fit one probe per layer (or add a label with more classes), or pick another source above.")
        st.stop()
    return list(directions), np.array([np.ravel(v) for v in directions.values()]), description


def choose_directions():
    """Widgets for the chosen source; returns (names, D (k, d), description) or stops the page."""
    if source == SOURCES[0]:
        made = generator_params(aset)  # how the active set was generated, from its attrs (None if not)
        synthetic = made is not None and 2 <= made["n_concepts"] <= 512 and made["concept_cosine"] <= 0.95
        c1, c2, c3, c4 = st.columns(4)
        k = c1.number_input("concepts k", 2, 512, made["n_concepts"] if synthetic else 32, key="coh_planted_k")
        d = c2.number_input("dimension d", 2, max(1024, aset.d), made["d"] if synthetic else 16, key="coh_planted_d")
        cosine = c3.slider("pairwise cosine", 0.0, 0.95, float(made["concept_cosine"]) if synthetic else 0.0, 0.05,
                           key="coh_planted_cos",
                           help="Needs k + 1 <= d; with k > d the directions are random (superposition).")
        seed = c4.number_input("seed", 0, 2**31 - 1, made["seed"] if synthetic else 0, key="coh_planted_seed")
        st.caption("The directions `make_concept_embeddings` plants for these settings"
                   + ("; with the active synthetic dataset's k, d, seed and cosine they are its own concepts."
                      if synthetic else ".") + " Try k > d: the directions can no longer be orthogonal.")
        return [f"concept_{i}" for i in range(k)], planted_directions(k, d, cosine, seed), f"planted k={k} d={d}"
    if source == SOURCES[1]:
        entries = {entry.id: entry for entry in state.direction_sets(aset)}
        n_saved = sum(entry.k for entry in entries.values())
        options = (["saved in the workspace"] if n_saved >= 2 else []) + [
            "fit here: one per label", "fit here: one per layer"]
        if n_saved < 2 and not aset.categorical_labels():
            st.info(f"{widgets.escape(aset.name)} has no categorical labels, so there are no probes to fit here, and "
                    "fewer than two directions are saved for it. Add a label on the Data page (a CSV side file), "
                    "save directions from the PCA or Probes page, or pick another source above (planted, upload, "
                    "random).")
            st.stop()
        how = st.radio("Which probe directions", options, horizontal=True, key="coh_probe_how")
        if how == "saved in the workspace":
            picked = st.multiselect("Saved direction sets (all layers of this dataset)", list(entries), list(entries),
                                    key="coh_saved_sets", format_func=lambda i: f"{entries[i].label} ({entries[i].k})")
            return usable(state.load_directions([entries[i] for i in picked]), "saved directions")
        if n_saved < 2:
            st.caption("Directions saved by the Probes, PCA, Steering and Atlas pages (by anyone using this "
                       "workspace) show up here; fewer than two are saved for this dataset, so fit LDA probes here "
                       "instead.")
        if how.endswith("label"):
            layer = widgets.pick_layer(aset, key="coh_probe_layer")
            found = fitted_probe_directions(aset.fingerprint, "label", None, layer, aset)
        else:
            label = widgets.pick_label(aset, key="coh_probe_label")
            if label is None:
                st.stop()
            found = fitted_probe_directions(aset.fingerprint, "layer", label, None, aset)
        return usable(found, how)
    if source == SOURCES[2]:
        upload = st.file_uploader("A matrix, one direction per row (.npy, .npz, .safetensors or .pt, e.g. an SAE "
                                  "decoder)", type=["npy", "npz", "safetensors", "pt"], key="coh_upload")
        if upload is None:
            st.info("Upload a (k, d) matrix, e.g. `np.save('W_dec.npy', sae.W_dec)`; an SAE decoder's rows are its "
                    "feature directions, an unembedding's rows are the token directions.")
            st.stop()
        arrays = read_arrays(upload)
        name = st.selectbox("Tensor", list(arrays), key="coh_tensor",
                            format_func=lambda n: f"{n} {arrays[n].shape} {arrays[n].dtype}")
        D = arrays[name]
        if st.checkbox("The vectors are the columns (transpose)", key="coh_transpose"):
            D = D.T
        if D.dtype == np.float16:
            D = D.astype(np.float32)
        return [str(i) for i in range(len(D))] if D.ndim == 2 else [], D, f"{upload.name}:{name}"
    c1, c2, c3 = st.columns(3)
    k = c1.number_input("vectors k", 2, 20_000, 200, key="coh_rand_k")
    d = c2.number_input("dimension d", 1, 4096, 64, key="coh_rand_d")
    seed = c3.number_input("seed", 0, 10_000, 0, key="coh_rand_seed")
    D = np.random.default_rng(seed).standard_normal((k, d), dtype=np.float32)
    return [str(i) for i in range(k)], D, f"random k={k} d={d} seed={seed}"


def with_progress(text, function, **kwargs):
    """Run ``function(progress=..., **kwargs)`` under a progress bar that disappears when done."""
    with widgets.progress(text) as report:
        return function(progress=report, **kwargs)


@st.cache_data(max_entries=16, show_spinner=False)
def report_for(D):
    return with_progress("Scanning pairs of directions ...", coherence_report, D=D, max_rows=MAX_ROWS)


try:
    names, D, description = choose_directions()
    report = report_for(D)
except ProbingInputError as exc:
    widgets.show_input_error(exc)
    st.stop()

m1, m2, m3, m4 = st.columns(4)
m1.metric("mutual coherence μ", f"{report.mu:.4f}",
          help=f"between {widgets.escape(names[report.pair[0]])} and {widgets.escape(names[report.pair[1]])}")
m2.metric("Welch bound (floor)", f"{report.welch:.4f}")
m3.metric("random unit vectors", f"{report.random_baseline:.4f}", help=f"one draw, seed {report.seed}")
m4.metric("mean |cos| over pairs", f"{report.mean:.4f}")
st.caption(
    f"{report.k:,} directions in {report.d} dimensions ({widgets.escape(description)}). The **Welch bound** is the lowest μ *any* "
    f"{report.k:,} unit vectors in R^{report.d} can have: up to d vectors fit at right angles (bound 0), beyond that "
    "some pair must overlap. **Random vectors** show what chance gives: a μ near the baseline means no special "
    "structure, far below means the directions were spread out deliberately, above means some pairs crowd together."
)

short, shared = distinguishing(names)
shared_note = f" All directions here are {widgets.escape(shared)} · …; the names show the rest." if shared else ""
left, right = st.columns(2)
with left:
    st.subheader("How much every pair overlaps")
    hist = report.histogram_frame()
    st.altair_chart(report.plot(), width="stretch")
    kind = "exact" if report.quantiles_exact else "approximate, from a fine histogram"
    st.caption(f"The |cos| of all {report.k * (report.k - 1) // 2:,} pairs. μ is only the far right tail; the bulk "
               f"says how much typical pairs interfere. Median {report.quantiles[0.5]:.3f}, 99th percentile "
               f"{report.quantiles[0.99]:.3f} ({kind}).")
    widgets.download_csv(hist, "coherence_histogram.csv", key="coh_dl_hist")
with right:
    st.subheader("Most coherent pairs")
    pairs = report.top_pairs.assign(a=[short[i] for i in report.top_pairs.i],
                                    b=[short[j] for j in report.top_pairs.j])[["a", "b", "cos", "abs_cos"]]
    st.dataframe(pairs, hide_index=True, width="stretch",
                 column_config={"a": st.column_config.TextColumn("direction a", width="medium"),
                                "b": st.column_config.TextColumn("direction b", width="medium"),
                                "cos": st.column_config.NumberColumn(format="%.4f", width="small"),
                                "abs_cos": st.column_config.NumberColumn("|cos|", format="%.4f", width="small")})
    st.caption("The pairs a probe finds hardest to tell apart. A negative cosine is as much overlap as a positive "
               "one: the directions lie on the same line, pointing opposite ways." + shared_note)
    widgets.download_csv(report.top_pairs.assign(a=[names[i] for i in report.top_pairs.i],
                                                 b=[names[j] for j in report.top_pairs.j]),
                         "coherence_top_pairs.csv", key="coh_dl_pairs")

st.subheader("Gram matrix of cosines")
shown = min(report.k, GRAM_MAX_ROWS)
G = gram(np.asarray(D)[:shown], max_rows=GRAM_MAX_ROWS)
i, j = np.indices(G.shape)
order = short[:shown]
cells = pd.DataFrame({"i": i.ravel(), "j": j.ravel(), "row": np.asarray(order)[i.ravel()],
                      "column": np.asarray(order)[j.ravel()], "a": np.asarray(names[:shown])[i.ravel()],
                      "b": np.asarray(names[:shown])[j.ravel()], "cos": G.ravel()})
cell = float(np.clip(480 / shown, 1.5, 36))  # square cells: 36 px each for a handful, about 480 px in all for many
labelled = shown <= 40
heatmap = alt.Chart(cells).mark_rect().encode(
    x=alt.X("column:N", sort=order, title=None, axis=alt.Axis(labels=labelled, labelAngle=-60, labelOverlap=False, labelLimit=160)),
    y=alt.Y("row:N", sort=order, title=None, axis=alt.Axis(labels=labelled, labelLimit=240)),
    color=alt.Color("cos:Q", scale=alt.Scale(scheme="redblue", domain=[-1, 1], reverse=True)),
    tooltip=["a:N", "b:N", alt.Tooltip("cos:Q", format=".4f")]).properties(width=alt.Step(cell), height=alt.Step(cell))
st.altair_chart(heatmap, width="content")
st.caption(("All" if shown == report.k else f"The first {shown} of {report.k:,}") + " directions: entry (i, j) is "
           "cos(direction i, direction j). The diagonal is 1; an orthogonal set is white everywhere else, and dark "
           "off-diagonal cells are the overlapping pairs." + ("" if labelled else " Hover a cell for the two names.")
           + shared_note)
widgets.download_csv(cells, "coherence_gram.csv", key="coh_dl_gram")

st.subheader("What coherence costs a probe")
st.markdown(
    "Synthetic data with the noise held fixed and only the geometry changing: two equally strong concepts whose "
    "directions have a chosen cosine, and k concepts packed into d dimensions (orthogonal while k ≤ d, "
    "superposed beyond). Each concept gets a held-out LDA probe."
)
c1, c2, c3 = st.columns(3)
exp_d = c1.select_slider("dimension d", [8, 16, 32, 64], 16, key="coh_exp_d")
exp_noise = c2.select_slider("noise", [0.5, 1.0, 1.5, 2.0], 1.0, key="coh_exp_noise")
exp_n = c3.select_slider("samples", [500, 1000, 2000, 4000], 2000, key="coh_exp_n")


@st.cache_data(max_entries=16, show_spinner=False)
def experiment(d, noise, n_samples):
    return with_progress("Training probes ...", coherence_vs_accuracy, n_samples=n_samples, d=d, noise=noise,
                         n_concepts=(d // 2, d, 2 * d, 4 * d, 8 * d))


if not widgets.asked_for("coh_exp_run", "Run the experiment",
                         "Generates the synthetic sets for these settings (two concepts at cosines from 0 to 0.99, and "
                         "k = d/2 ... 8d concepts in d dimensions) and fits a held-out LDA probe per concept: a few "
                         "seconds, after which the two charts below show accuracy against coherence."):
    st.stop()
frame = experiment(exp_d, exp_noise, exp_n)
tooltip = ["experiment:N", "k:Q", alt.Tooltip("concept_cosine:Q", format=".2f")] + [
    alt.Tooltip(f"{column}:Q", format=".3f") for column in ("coherence", "welch", "accuracy", "chance")]
left, right = st.columns(2)
with left:
    accuracy = alt.Chart(frame).mark_line(point=True).encode(
        x=alt.X("coherence:Q", title="mutual coherence of the concept directions", scale=alt.Scale(domain=[0, 1])),
        y=alt.Y("accuracy:Q", title="held-out probe accuracy", scale=alt.Scale(zero=False)),
        color=alt.Color("experiment:N", legend=alt.Legend(orient="bottom"), scale=alt.Scale(scheme="set1")),
        tooltip=tooltip)
    st.altair_chart(accuracy, width="stretch")
    st.caption("Accuracy falls as the directions overlap. With two concepts the probe can still use the part of "
               "its direction the other lacks (length √(1 − cos²)), so it degrades gracefully until cos nears 1. "
               "With many superposed concepts every neighbour adds a little interference, so accuracy drops "
               "faster than μ alone suggests: μ is the worst pair, the cost is the sum over all of them.")
with right:
    superposed = frame[frame.experiment == "k concepts in d dims"].melt(
        id_vars=["k"], value_vars=["coherence", "welch"], var_name="quantity", value_name="value")
    floor = alt.Chart(superposed).mark_line(point=True).encode(
        x=alt.X("k:Q", title=f"concepts k in d = {exp_d} dimensions", scale=alt.Scale(type="log", base=2)),
        y=alt.Y("value:Q", title="coherence"),
        color=alt.Color("quantity:N", legend=alt.Legend(orient="bottom"), scale=alt.Scale(scheme="set1")),
        tooltip=["k:Q", "quantity:N", alt.Tooltip("value:Q", format=".3f")])
    st.altair_chart(floor, width="stretch")
    st.caption("Random directions against the Welch floor as k grows past d. No arrangement can go below the floor; "
               "random ones sit well above it, so a trained model that packs features carefully can do better "
               "than chance, but never better than Welch.")
widgets.download_csv(frame, "coherence_vs_accuracy.csv", key="coh_dl_exp")
