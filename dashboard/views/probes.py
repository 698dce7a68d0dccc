"""Linear probes: at which layer is a concept linearly decodable, and how much is the probe itself?"""

import altair as alt
import numpy as np
import pandas as pd
import streamlit as st

from dashboard import links, results, state, widgets
from probing import ProbingInputError
from probing.directions import direction_label
from probing.probes import probe_layers

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
links.share("probes_label", "probes_method", "probes_cv", "probes_perm", "probes_control", "probes_layer")
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
with c3:
    permutations = st.selectbox("Permutation test", [0, 19, 99], key="probes_perm",
                                format_func=lambda p: "off" if p == 0 else f"{p} shuffles (p >= {1 / (p + 1):.2f})")
control = st.toggle("Control task (selectivity)", value=True, key="probes_control",
                    help="Also fit the same probe to random labels tied to each input, to see how much it memorises.")


@st.cache_data(show_spinner=False, max_entries=16)
def sweep_layers(fingerprint, label, method, cv, control, permutations, _aset):
    """One cross-validated probe per layer (cached by dataset fingerprint and parameters)."""
    with widgets.progress("Probing every layer ...") as report:
        return probe_layers(_aset, label, cv=cv, method=method, control=control, permutations=permutations,
                            seed=0, progress=report)


try:
    sweep = sweep_layers(aset.fingerprint, label, method, cv, control, permutations, aset)
except ProbingInputError as exc:
    widgets.show_input_error(exc)
    st.stop()
for note in sweep.warnings:
    st.warning(note)

frame = sweep.to_frame()
frame["order"] = np.arange(len(frame))
best = sweep.best_layer
st.subheader("Accuracy by layer")
long = [frame.assign(series="probe accuracy", value=frame["accuracy"]),
        frame.assign(series="majority baseline", value=frame["majority_baseline"])]
if control:
    long.append(frame.assign(series="control task", value=frame["control_accuracy"]))
lines = pd.concat(long, ignore_index=True)
x = alt.X("layer:N", sort=list(sweep.layers), title="layer", axis=alt.Axis(labelAngle=-30))
tooltip = [alt.Tooltip(c, format=".3f") if c != "layer" else c for c in frame.columns if c != "order"]
colors = alt.Scale(domain=["probe accuracy", "control task", "majority baseline"],
                   range=["#1f77b4", "#ff7f0e", "#888888"])
band = alt.Chart(frame).mark_area(opacity=0.2, color="#1f77b4").encode(
    x=x, y=alt.Y("low:Q", title="held-out accuracy", scale=alt.Scale(zero=False)), y2="high:Q", tooltip=tooltip
).transform_calculate(low="max(0, datum.accuracy - datum.accuracy_std)",
                      high="min(1, datum.accuracy + datum.accuracy_std)")
series = alt.Chart(lines).mark_line(point=True).encode(
    x=x, y="value:Q", color=alt.Color("series:N", scale=colors, title=None),
    strokeDash=alt.condition(alt.datum.series == "probe accuracy", alt.value([1, 0]), alt.value([5, 4])),
    tooltip=tooltip)
st.altair_chart((band + series).properties(height=320), width="stretch")
st.caption(
    "Blue: mean held-out accuracy over the folds, with a band of one standard deviation across folds. Grey: the "
    "accuracy of always guessing the most common class; a probe must clear it. Orange: the same probe on the control "
    "task. Look for the first layer where blue rises well above both, and hover a point for its 95 % interval."
)
if control:
    st.info(
        f"**Selectivity** = accuracy minus control accuracy (control: {sweep.control_kind}). A probe can fit labels "
        "it could only memorise, so only the gap shows what the layer encodes; at the best layer "
        f"({widgets.escape(sweep.layers[best])}) it is {sweep.selectivity[best]:.3f} ({sweep.accuracy[best]:.3f} vs "
        f"{sweep.control_accuracy[best]:.3f})."
    )
st.dataframe(frame.drop(columns="order"), hide_index=True, width="stretch")
widgets.download_csv(frame.drop(columns="order"), f"probe_sweep_{label}.csv", key="dl-probe-sweep")

st.subheader("One layer in detail")
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
widgets.download_npy(direction, f"probe_direction_{label}_{aset.layers[layer]}.npy", label="Download direction (.npy)",
                key="dl-probe-direction")

left, right = st.columns(2)
with left:
    confusion = sweep.confusion_matrix(layer)
    heat = alt.Chart(confusion).encode(x=alt.X("predicted:N"), y=alt.Y("true:N"))
    st.altair_chart((heat.mark_rect().encode(color=alt.Color("fraction:Q", scale=alt.Scale(domain=[0, 1]),
                                                             title="share of true class"),
                                             tooltip=["true", "predicted", "count", alt.Tooltip("fraction", format=".3f")])
                     + heat.mark_text().encode(text="count:Q")).properties(title="Held-out confusion matrix", height=260),
                    width="stretch")
    st.caption("Rows are the true classes, columns the probe's held-out guesses: a dark diagonal means a good probe; "
               "a dark off-diagonal cell names two classes the layer does not tell apart.")
    widgets.download_csv(confusion, f"probe_confusion_{label}_{aset.layers[layer]}.csv", key="dl-probe-confusion")
with right:
    if len(sweep.classes) == 2:
        curve, auc = sweep.roc(layer)
        roc = alt.Chart(curve).mark_line().encode(
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
projections = sweep.projections(layer, which)
histogram = alt.Chart(projections).mark_bar(opacity=0.55, binSpacing=0).encode(
    x=alt.X("projection:Q", bin=alt.Bin(maxbins=60), title="projection onto the probe direction"),
    y=alt.Y("count():Q", stack=None, title="samples"), color=alt.Color("class:N"),
    tooltip=["class:N", "count():Q"])
st.altair_chart(histogram.properties(height=260), width="stretch")
st.caption("Each sample's activation projected onto the unit probe direction (a change of basis onto one axis). "
           "Two well-separated bumps mean one direction carries the concept; heavy overlap means it is weak or not "
           "linear at this layer.")
widgets.download_csv(projections, f"probe_projections_{label}_{aset.layers[layer]}.csv", key="dl-probe-projections")

results.save_result_control(
    "probe_sweep", f"probe sweep of {label} ({method}) on {aset.name}",
    {"label": label, "method": method, "cv": cv, "control": control, "permutations": permutations, "seed": 0,
     "layer": layer, "layer_name": aset.layers[layer], "best_layer": sweep.layers[best]},
    {"sweep": sweep.to_frame()}, aset, key="probes_result")
