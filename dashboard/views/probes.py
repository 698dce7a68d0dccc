"""Linear probes: at which layer is a concept linearly decodable, and how much is the probe itself?"""

import time

import altair as alt
import numpy as np
import pandas as pd
import streamlit as st

from dashboard import links, results, state, widgets
from probing import ProbingInputError
from probing.directions import direction_label
from probing.probes import probe_layers, type_columns

METHOD_NAMES = {"lda": "LDA (closed form, shrinkage)", "logistic": "Logistic regression",
                "mean_diff": "Mean difference"}

st.title("Linear probes: where does a layer encode a concept?")
st.markdown(
    "A **linear probe** is a linear map from a layer's activations to a label: one direction (a row of the map) "
    "whose dot product with an activation says which class it belongs to. If held-out samples are classified well, "
    "the concept is *linearly decodable* at that layer. Every accuracy below is cross-validated: each sample is "
    "scored by a probe that never saw it."
)
aset = state.active_dataset()
widgets.dataset_caption(aset)
links.share("probes_label", "probes_method", "probes_cv", "probes_perm", "probes_control", "probes_groups",
            "probes_type", "probes_mdl", "probes_layer")
label = widgets.pick_label(aset, key="probes_label")
if label is None:
    st.stop()
c1, c2, c3 = st.columns(3)
with c1:
    method = st.selectbox("Probe", list(METHOD_NAMES), format_func=METHOD_NAMES.get, key="probes_method",
                          help="LDA fits in closed form from one pass of means and covariances; logistic regression "
                               "is iterative (slower); mean difference ignores the covariance.")
with c2:
    cv = st.slider("Folds", 2, 10, 5, key="probes_cv", help="Stratified cross-validation folds.")
seconds_per_labelling = st.session_state.get("probes_seconds", {}).get((aset.fingerprint, method, cv))


def permutation_option(p: int) -> str:
    if p == 0:
        return "off"
    took = f", about {seconds_per_labelling * p:.0f} s more" if seconds_per_labelling else ""
    return f"{p} shuffles (p >= {1 / (p + 1):.2f}{took})"


with c3:
    permutations = st.selectbox("Permutation test", [0, 19, 99], key="probes_perm", format_func=permutation_option,
                                help="Refit every probe on shuffled labels; the time is estimated from this "
                                     "dataset's last sweep.")
identities = [c for c in type_columns(aset.labels, aset.meta) if c != label]  # columns naming input identities
g1, g2 = st.columns(2)
with g1:
    group_options = ["(none)"] + identities
    groups = st.selectbox("Keep together in one fold", group_options, key="probes_groups",
                          index=group_options.index("pair_id") if "pair_id" in identities else 0,
                          help="Rows sharing a value of this column (e.g. the two sentences of a minimal pair) are "
                               "never split between training and test rows, so a probe cannot pass by recognising a "
                               "near-copy. Exact duplicate rows are always kept together.")
    if "pair_id" in identities and groups == "pair_id":
        st.caption("Grouped by `pair_id` by default: the two halves of a minimal pair share a fold.")
columns = [c for c in identities if c != groups]  # types shared across folds: the only ones a control can use
with g2:
    control, type_column = False, None
    if columns:
        control = st.toggle("Control task (selectivity)", value=True, key="probes_control",
                            help="Also fit the same probe to random labels tied to each input type, to see how much "
                                 "it memorises.")
    if control:
        type_column = st.selectbox("Control types (a column naming input identities)", columns, key="probes_type",
                                   help="Every value of this column gets one random class (Hewitt & Liang): a probe "
                                        "can only pass by memorising the values it saw in training. Columns with a "
                                        "handful of values (a topic, a source) are properties, not identities, and "
                                        "are not offered.")
    elif not columns:
        st.caption("No control task: no label or meta column names repeated input identities"
                   + (" other than the fold groups" if identities else "")
                   + " (here every input is its own type), so a control cannot measure memorisation (shuffled labels "
                   "are at chance on held-out rows by construction). MDL below shows how much the probe must learn "
                   "instead.")
mdl = st.toggle("MDL (online codelength)", value=not columns, key="probes_mdl",
                help="How many bits the labels cost when each block is sent with a probe trained on the blocks "
                     "before it (Voita & Titov): fewer bits than the uniform code means the layer makes the labels "
                     "easy to learn from few examples.")


@st.cache_data(show_spinner=False, max_entries=16)
def sweep_layers(fingerprint, label, method, cv, control, permutations, groups, type_column, mdl, _aset):
    """One cross-validated probe per layer (cached by dataset fingerprint and parameters)."""
    start = time.perf_counter()
    with widgets.progress("Probing every layer ...") as report:
        sweep = probe_layers(_aset, label, cv=cv, method=method, control=control, permutations=permutations, seed=0,
                             progress=report, groups=None if groups == "(none)" else groups,
                             type_column=type_column, mdl=mdl)
    return sweep, (time.perf_counter() - start) / (1 + control + permutations)


try:
    sweep, seconds = sweep_layers(aset.fingerprint, label, method, cv, control, permutations, groups, type_column,
                                  mdl, aset)
except ProbingInputError as exc:
    widgets.show_input_error(exc)
    st.stop()
st.session_state.setdefault("probes_seconds", {})[(aset.fingerprint, method, cv)] = seconds
st.caption(f"Cross-validation: {cv} {sweep.grouping}.")
for note in sweep.warnings:
    st.warning(note)
selective = sweep.informative_control
frame = sweep.shown_frame()
best = sweep.best_layer
st.subheader("Accuracy by layer")
st.altair_chart(sweep.plot(), width="stretch")
st.caption(
    "Blue: mean held-out accuracy over the folds, with a band of one standard deviation across folds. Grey: the "
    "accuracy of always guessing the most common class; a probe must clear it. "
    + ("Orange: the same probe on the control task. " if selective else "")
    + "Look for the first layer where blue rises well above the baselines, and hover a point for its 95 % interval."
)
near = [sweep.layers[i] for i in sweep.near_best if i != best]
st.info(
    f"**Best layer: {widgets.escape(sweep.layers[best])}**, held-out accuracy {sweep.accuracy[best]:.3f} "
    f"(95 % interval {sweep.ci_low[best]:.3f}-{sweep.ci_high[best]:.3f}). "
    + (f"Within noise of it (accuracy inside that interval): {', '.join(map(widgets.escape, near))}; the data "
       "cannot tell these layers apart, so prefer the earliest if you need one. " if near else
       "No other layer is within its interval. ")
    + (f"**Selectivity** = accuracy minus control accuracy (control: {widgets.escape(sweep.control_kind)}): "
       f"{sweep.selectivity[best]:.3f} ({sweep.accuracy[best]:.3f} vs {sweep.control_accuracy[best]:.3f}); a probe "
       "can fit labels it could only memorise, so only this gap shows what the layer encodes." if selective else "")
)
if sweep.mdl is not None:
    st.caption("MDL: `mdl_bits` is the online codelength of the labels and `compression` the uniform code divided by "
               "it (1 = nothing learned). Block ends follow Voita & Titov's fractions (0.1 % ... 100 %), but with few "
               f"rows the first ends are raised to {2 * len(sweep.classes)} rows (twice the number of classes), so the "
               "blocks differ from the paper's for small datasets.")
st.dataframe(frame, hide_index=True, width="stretch")
widgets.download_csv(frame, f"probe_sweep_{label}.csv", key="dl-probe-sweep")

st.subheader("One layer in detail")
result_key = (aset.fingerprint, label, method, cv, control, permutations, groups, type_column, mdl)
if st.session_state.get("probes_detail_for") != result_key:  # a new sweep opens its detail on its best layer
    st.session_state["probes_detail_for"] = result_key
    state.set_current_layer(aset, best)
layer = widgets.pick_layer(aset, key="probes_layer", default=best)
direction = sweep.directions[layer]
unsaved = [state.save_directions(aset, i, f"{label} ({method})", rows, "probe", {"label": label, "estimator": method},
                                 [] if rows.ndim == 1 else [f"{label}={c} ({method})" for c in sweep.classes])
           for i, rows in enumerate(sweep.directions)]
st.caption(f"The probe directions of every layer are saved in the workspace as "
           f"**{widgets.escape(direction_label('probe', f'{label} ({method})'))}** · *layer name* for the PCA, Coherence, "
           "Steering, Projector and Atlas pages, for you and anyone you share this page with.")
for layer_name, problem in zip(aset.layers, unsaved):
    if problem:
        st.caption(f"Not saved for {widgets.escape(layer_name)}: {widgets.escape(problem)}")
if not np.any(direction):
    st.info(f"The probe direction at {widgets.escape(aset.layers[layer])} is all zero: the class means coincide "
            "there (e.g. a layer whose activations are all zero), so there is no direction to save, project onto or "
            "score with. Pick another layer.")
    st.stop()
widgets.download_npy(direction, f"probe_direction_{label}_{aset.layers[layer]}.npy", label="Download direction (.npy)",
                key="dl-probe-direction")

left, right = st.columns(2)
with left:
    confusion = sweep.confusion_matrix(layer)
    heat = alt.Chart(confusion).encode(x=alt.X("predicted:N"), y=alt.Y("true:N"))
    st.altair_chart((heat.mark_rect().encode(color=alt.Color("fraction:Q", scale=alt.Scale(domain=[0, 1]),
                                                             title="share of true class"),
                                             tooltip=["true", "predicted", "count", alt.Tooltip("fraction", format=".3f")])
                     + heat.mark_text().encode(text="count:Q", color=alt.condition(
                         alt.datum.fraction > 0.5, alt.value("white"), alt.value("black")))).properties(title="Held-out confusion matrix", height=260),
                    width="stretch")
    st.caption("Rows are the true classes, columns the probe's held-out guesses: a dark diagonal means a good probe; "
               "a dark off-diagonal cell names two classes the layer does not tell apart.")
    widgets.download_csv(confusion, f"probe_confusion_{label}_{aset.layers[layer]}.csv", key="dl-probe-confusion")
with right:
    if len(sweep.classes) == 2:
        curve, auc = sweep.roc(layer)
        roc = alt.Chart(sweep.roc(layer, max_points=500)[0]).mark_line().encode(
            x=alt.X("fpr:Q", title="false positive rate"), y=alt.Y("tpr:Q", title="true positive rate"),
            tooltip=[alt.Tooltip(c, format=".3f") for c in curve.columns])
        diagonal = alt.Chart(pd.DataFrame({"fpr": [0, 1], "tpr": [0, 1]})).mark_line(strokeDash=[4, 4], color="grey").encode(
            x="fpr:Q", y="tpr:Q")
        st.altair_chart((roc + diagonal).properties(title=f"Held-out ROC (AUC {auc:.3f})", height=260),
                        width="stretch")
        st.caption("Each point is one threshold on the held-out probe score. The further the curve bows towards the "
                   "top left, the better; the dashed diagonal is guessing (AUC 0.5).")
        widgets.download_csv(curve, f"probe_roc_{label}_{aset.layers[layer]}.csv", key="dl-probe-roc")
    else:
        st.caption("ROC curves need two classes; this label has "
                   f"{len(sweep.classes)}. The confusion matrix shows which classes mix.")

which = 0
if direction.ndim == 2:
    which = st.selectbox("Direction of class (one vs rest)", range(len(sweep.classes)),
                         format_func=lambda i: str(sweep.classes[i]), key="probes_class")
bins = sweep.projection_histogram(layer, which)
histogram = alt.Chart(bins).mark_bar(opacity=0.55, binSpacing=0).encode(
    x=alt.X("bin_start:Q", bin="binned", title="held-out projection onto the probe direction"), x2="bin_end:Q",
    y=alt.Y("count:Q", stack=None, title="samples"), color=alt.Color("class:N", legend=alt.Legend(labelLimit=0)),
    tooltip=["class:N", alt.Tooltip("bin_start:Q", format=".3g"), alt.Tooltip("bin_end:Q", format=".3g"), "count:Q"])
st.altair_chart(histogram.properties(height=260), width="stretch")
st.caption("Each sample's activation projected onto the unit direction of the probe that did **not** see it (the "
           "probe of the other folds), so this is held-out evidence like the confusion matrix, not the training fit. "
           "Two well-separated bumps mean one direction carries the concept in new samples; heavy overlap means it "
           "is weak or not linear at this layer.")
widgets.download_csv(sweep.projections(layer, which), f"probe_projections_{label}_{aset.layers[layer]}.csv",
                     key="dl-probe-projections")

results.save_result_control(
    "probe_sweep", f"probe sweep of {label} ({method}) on {aset.name}",
    {"label": label, "method": method, "cv": cv, "control": control, "permutations": permutations, "seed": 0,
     "groups": groups, "type_column": type_column, "mdl": mdl,
     "layer": layer, "layer_name": aset.layers[layer], "best_layer": sweep.layers[best]},
    {"sweep": sweep.to_frame()}, aset, key="probes_result")
