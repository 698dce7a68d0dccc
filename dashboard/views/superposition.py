"""Superposition: toy models (Elhage et al., 2022), their phase diagram, and interference in embeddings."""

import altair as alt
import numpy as np
import pandas as pd
import streamlit as st

from dashboard import datasets, links, widgets
from probing import ProbingInputError
from probing.superposition import dimensions_per_feature, interference_matrix, n_represented, train_toy_model
from probing.superposition.sweeps import PAPER_SPARSITIES, PHASES, PhaseDiagram, phase_diagram, sparsity_sweep

PHASE_FILE = datasets.DATA_DIR / "superposition_phase.npz"
PHASE_COLORS = alt.Scale(domain=list(PHASES), range=["#d9d9d9", "#4c78a8", "#e45756"])

st.title("Superposition: more features than dimensions")
links.share("sup_n", "sup_m", "sup_sparsity", "sup_importance", "sup_seed", "sup_steps", "sup_concepts", "sup_d",
            "sup_noise", "sup_cosine", "sup_paper_sweep", "sup_sweep_run", "sup_interference_run")
st.markdown(
    "A layer with `m` dimensions can give `m` features a direction each, at right angles. Can it store more? "
    "The toy model of Elhage et al. (2022) squeezes `n` features `x` into `m` hidden dimensions, `h = W x`, and "
    "reads them back with `x' = ReLU(Wᵀh + b)`. Column `i` of `W` is feature `i`'s **direction**. When features "
    "are rarely active (**sparse**), two features seldom fire together, so the model can afford to let their "
    "directions overlap: it stores more features than it has dimensions, in **superposition**. The ReLU and the "
    "negative bias filter out the small cross-talk. Each feature is zero with probability *sparsity*, else "
    "uniform in [0, 1]; feature `i` counts `importanceⁱ` in the loss."
)

c1, c2, c3, c4, c5, c6 = st.columns(6)
n = c1.number_input("features n", 1, 40, 5, key="sup_n")
m = c2.number_input("dimensions m", 1, 20, 2, key="sup_m")
sparsity = c3.select_slider("sparsity", [0.0, 0.5, 0.7, 0.8, 0.9, 0.95, 0.97, 0.99, 0.999], value=0.9,
                            key="sup_sparsity", help="Probability that a feature is zero in a sample.")
importance = c4.slider("importance decay", 0.5, 1.0, 0.9, 0.05, key="sup_importance",
                       help="Feature i has weight importance**i in the loss; 1 makes all features equal.")
seed = c5.number_input("seed", 0, 10_000, 0, key="sup_seed")
steps = c6.select_slider("steps", [500, 1000, 2000, 4000, 8000], value=2000, key="sup_steps")
if m >= n:
    st.info(f"With m = {m} ≥ n = {n} every feature can have a dimension of its own, so there is no pressure for "
            "superposition: expect all features at right angles (dimensionality 1). Lower m below n to see packing.")


@st.cache_data(show_spinner="Training the toy model (4 restarts, one vectorised run) ...", max_entries=64)
def _train(n, m, sparsity, importance, seed, steps):
    return train_toy_model(n, m, sparsity=sparsity, importance=importance, seed=seed, steps=steps)


try:
    model = _train(int(n), int(m), float(sparsity), float(importance), int(seed), int(steps))
except ProbingInputError as exc:
    widgets.show_input_error(exc)
    st.stop()

frame = model.to_frame().drop(columns=["instance"])
frame["feature"] = frame["feature"].map(lambda i: f"x{i}")
k1, k2, k3 = st.columns(3)
k1.metric("features represented (‖Wᵢ‖ > 0.5)", f"{n_represented(model.W)} of {n}")
k2.metric("dimensions per feature  m / ‖W‖²", f"{dimensions_per_feature(model.W):.2f}")
k3.metric("loss (importance-weighted MSE)", f"{model.loss:.2e}")
st.caption("Dimensions per feature is 1 when every represented feature has its own dimension and falls below 1 "
           "when features share dimensions. The best of 4 random restarts is kept: gradient descent sometimes "
           "settles in a local optimum (e.g. a square with one feature dropped instead of a pentagon).")

left, right = st.columns(2)
with left:
    if m == 2:
        st.subheader("Feature directions")
        lim = max(1.2, float(frame[["x", "y"]].abs().to_numpy().max()) * 1.15)
        arrows = frame.assign(x0=0.0, y0=0.0)
        scale = alt.Scale(domain=[-lim, lim])
        base = alt.Chart(arrows).encode(color=alt.Color("importance:Q", scale=alt.Scale(scheme="viridis", domain=[0, 1]),
                                                        legend=alt.Legend(orient="bottom", format=".1f")),
                                        tooltip=[alt.Tooltip("feature"), alt.Tooltip("norm:Q", format=".2f"),
                                                 alt.Tooltip("dimensionality:Q", format=".2f"),
                                                 alt.Tooltip("bias:Q", format=".2f"), alt.Tooltip("importance")])
        lines = base.mark_rule(strokeWidth=3).encode(x=alt.X("x0:Q", scale=scale, title="hidden dim 1"),
                                                     y=alt.Y("y0:Q", scale=scale, title="hidden dim 2"),
                                                     x2=alt.X2("x:Q"), y2=alt.Y2("y:Q"))
        heads = base.mark_point(filled=True, size=90).encode(x=alt.X("x:Q"), y=alt.Y("y:Q"))
        labels = base.mark_text(dx=12, dy=-8).encode(x=alt.X("x:Q"), y=alt.Y("y:Q"), text=alt.Text("feature"))
        st.altair_chart((lines + heads + labels).properties(width=360, height=360), width="content")
        st.caption("Each arrow is a column of W: where a feature lives in the 2-D hidden space. Dense features: the "
                   "two most important get perpendicular arrows and the rest shrink to zero. Sparse features: all "
                   "five spread out as a regular pentagon (72° apart), five features in two dimensions.")
        widgets.download_csv(frame, "toy_model_directions.csv", key="dl-sup-directions")
    else:
        st.subheader("Interference  Wᵀ W")
        gram = interference_matrix(model.W)
        names = [f"x{i}" for i in range(n)]
        cells = pd.DataFrame([(names[i], names[j], gram[i, j]) for i in range(n) for j in range(n)],
                             columns=["feature_i", "feature_j", "value"])
        bound = max(1.0, float(np.abs(gram).max()))
        st.altair_chart(alt.Chart(cells).mark_rect().encode(
            x=alt.X("feature_j:N", sort=names), y=alt.Y("feature_i:N", sort=names),
            color=alt.Color("value:Q", scale=alt.Scale(scheme="redblue", domain=[-bound, bound], reverse=True)),
            tooltip=[alt.Tooltip("feature_i"), alt.Tooltip("feature_j"),
                     alt.Tooltip("value:Q", format=".2f")]).properties(height=360),
            width="stretch")
        st.caption("Diagonal: squared length of each feature's direction (≈1 kept, 0 dropped). Off-diagonal: how much "
                   "two features leak into each other's read-out. A clean identity block means dedicated dimensions; "
                   "coloured off-diagonal cells are superposition, the interference the ReLU and bias must filter.")
        widgets.download_csv(cells, "toy_model_gram.csv", key="dl-sup-gram")
        st.altair_chart(alt.Chart(frame).mark_bar().encode(
            x=alt.X("feature:N", sort=names), y=alt.Y("bias:Q"),
            tooltip=[alt.Tooltip("feature"), alt.Tooltip("bias:Q", format=".3f")]
        ).properties(height=180), width="stretch")
        st.caption("Bias per feature. Superposed features get a negative bias: the ReLU then zeroes the small "
                   "interference from other active features and only lets a truly active feature through.")
with right:
    st.subheader("Feature dimensionality")
    bars = alt.Chart(frame).mark_bar().encode(
        x=alt.X("feature:N", sort=list(frame["feature"])),
        y=alt.Y("dimensionality:Q", scale=alt.Scale(domain=[0, 1.05]), title="dimensionality Dᵢ"),
        color=alt.Color("norm:Q", scale=alt.Scale(scheme="blues", domain=[0, 1.2]), title="‖Wᵢ‖"),
        tooltip=[alt.Tooltip("feature"), alt.Tooltip("dimensionality:Q", format=".3f"),
                 alt.Tooltip("norm:Q", format=".2f")])
    guides = alt.Chart(pd.DataFrame({"y": [1.0, 0.5, 0.4], "label": ["own dimension", "antipodal pair", "pentagon"]}))
    rules = guides.mark_rule(strokeDash=[4, 4], color="gray").encode(
        y=alt.Y("y:Q"), tooltip=[alt.Tooltip("label"), alt.Tooltip("y")])
    names = guides.mark_text(align="right", dy=-6, color="gray").encode(
        y=alt.Y("y:Q"), x=alt.value("width"), text=alt.Text("label"))
    st.altair_chart((bars + rules + names).properties(height=360), width="stretch")
    st.caption("Dimensionality Dᵢ = ‖Wᵢ‖² / Σⱼ (Ŵᵢ·Wⱼ)²: the share of a dimension feature i owns. 1 = a dimension to "
               "itself, 1/2 = shares one with an opposite feature, 2/5 = one of five in a pentagon, 0 = dropped. "
               "Dashed lines mark these fractions; features snap to them.")
    widgets.download_csv(frame, "toy_model_dimensionality.csv", key="dl-sup-dims")
with st.expander("Training loss"):
    curve = pd.DataFrame({"step": model.curve_steps, "loss": model.loss_curve})
    st.altair_chart(alt.Chart(curve).mark_line().encode(
        x=alt.X("step:Q"), y=alt.Y("loss:Q", scale=alt.Scale(type="log")),
        tooltip=[alt.Tooltip("step"), alt.Tooltip("loss")]).properties(height=200),
                    width="stretch")
    st.caption("Mini-batch loss while training (log scale); it should flatten out by the end.")

st.header("Sparsity sweep")
paper = st.toggle("Paper's setting: n = 20, m = 5, importance 0.7", value=False, key="sup_paper_sweep")
sweep_args = (20, 5, 0.7) if paper else (int(n), int(m), float(importance))


@st.cache_data(show_spinner="Training one model per sparsity (one vectorised run) ...", max_entries=16)
def _sweep(n, m, importance, seed, steps, n_restarts):
    return sparsity_sweep(PAPER_SPARSITIES, n, m, importance, steps=steps, seed=seed, n_restarts=n_restarts)


def show_sweep() -> None:
    """The sparsity sweep for the settings above: a strip of feature dimensionalities per sparsity."""
    try:
        sweep = _sweep(*sweep_args, int(seed), int(steps), 1 if paper else 4)
    except ProbingInputError as exc:
        widgets.show_input_error(exc)
        return
    strip = sweep.to_frame()
    strip["feature"] = strip["feature"].map(lambda i: f"x{i}")
    summary = sweep.summary()
    st.altair_chart(alt.Chart(strip).mark_rect().encode(
        x=alt.X("sparsity:O", title="sparsity (share of samples where a feature is 0)"),
        y=alt.Y("feature:N", sort=list(dict.fromkeys(strip["feature"]))),
        color=alt.Color("dimensionality:Q", scale=alt.Scale(domain=[0, 1], range=["white", "darkred"]), title="Dᵢ"),
        tooltip=[alt.Tooltip("sparsity"), alt.Tooltip("feature"), alt.Tooltip("norm:Q", format=".2f"),
                 alt.Tooltip("dimensionality:Q", format=".2f")]
    ).properties(height=max(220, 22 * sweep_args[0])), width="stretch")
    counts = ", ".join(f"{s:g}: {k}" for s, k in zip(summary["sparsity"], summary["n_represented"]))
    st.caption(f"One column per sparsity, one row per feature (most important at the top), coloured by dimensionality "
               f"(palest = not represented, dark red = a dimension of its own). Going right, features get sparser and the "
               f"model packs more of them into the same {sweep_args[1]} dimensions, each owning less than one. "
               f"Features represented per sparsity: {counts}.")
    widgets.download_csv(summary, "sparsity_sweep_summary.csv", key="dl-sup-sweep-summary")
    widgets.download_csv(strip, "sparsity_sweep.csv", label="Download per-feature data (CSV)", key="dl-sup-sweep")


if widgets.asked_for("sup_sweep_run", "Train the sweep",
                     f"Trains one model per sparsity ({len(PAPER_SPARSITIES)} sparsities from 0 to 0.999, with these "
                     "settings or the paper's, in one vectorised run of a few seconds) and shows how features pack "
                     "into the dimensions as they get sparser."):
    show_sweep()

st.header("Phase diagram: one dimension, two features")


@st.cache_data
def _shipped_phase_diagram(path, mtime):
    return PhaseDiagram.load(path)


diagram = st.session_state.get("sup_phase")
if diagram is None:
    diagram = _shipped_phase_diagram(str(PHASE_FILE), PHASE_FILE.stat().st_mtime)
cells = diagram.to_frame()
st.altair_chart(alt.Chart(cells).mark_rect().encode(
    x=alt.X("density:O", sort="descending", axis=alt.Axis(format=".2g"),
            title="feature density 1 − sparsity (sparser →)"),
    y=alt.Y("relative_importance:O", sort="descending", axis=alt.Axis(format=".2g"),
            title="relative importance of feature 2"),
    color=alt.Color("phase:N", scale=PHASE_COLORS),
    tooltip=[alt.Tooltip("density:Q", format=".3f"), alt.Tooltip("relative_importance:Q", format=".2f"),
             alt.Tooltip("phase"),
             alt.Tooltip("norm_0:Q", format=".2f"), alt.Tooltip("norm_1:Q", format=".2f")]
).properties(height=380), width="stretch")
st.caption("Each cell is a model with m = 1 and n = 2, coloured by what it does with feature 2. Dense features "
           "(left): only one fits, so the more important feature wins the dimension — feature 2 is **dedicated** "
           "when it matters more (top), **not represented** when it matters less (bottom). Sparse features (right): "
           "both share the dimension as an antipodal pair (**superposed**), and the region grows as sparsity rises.")
widgets.download_csv(cells, "phase_diagram.csv", key="dl-sup-phase")
p1, p2 = st.columns([1, 3])
points = p1.select_slider("grid points per axis", [5, 10, 15, 20], value=10, key="sup_phase_points")
if p2.button("Recompute the phase diagram", key="sup_phase_run",
             help="Trains points² models in one vectorised run; 20 x 20 takes under a minute."):
    with widgets.progress("Training the grid ...") as report:
        st.session_state["sup_phase"] = phase_diagram(points, seed=int(seed), progress=report)
    st.rerun()

st.header("Interference in embeddings: what superposition costs a probe")
st.markdown(
    "Back to activations. Plant binary concepts along unit directions (the lesson's Exercise 8(d): two features in "
    "d = 3), fit one LDA probe per concept on 70% of the samples and test it on the rest. Every concept is equally "
    "strong, so any difference in accuracy comes from geometry: how much of the *other* concepts leaks onto its "
    "direction. Two features fit at right angles in d = 3, so they interfere only if their directions overlap: set "
    "the **concept cosine** to make them overlap, or plant more concepts than dimensions to force it."
)
e1, e2, e3, e4 = st.columns(4)
n_concepts = e1.slider("concepts", 2, 40, 2, key="sup_concepts")
d = e2.slider("dimensions d", 2, 32, 3, key="sup_d")
noise = e3.select_slider("noise", [0.1, 0.2, 0.3, 0.5, 0.7, 1.0], value=0.5, key="sup_noise")
cosine_fits = n_concepts + 1 <= d
cosine = e4.slider("concept cosine", 0.0, 0.9, 0.5, 0.05, key="sup_cosine", disabled=not cosine_fits,
                   help="Pairwise cosine between the planted directions. A chosen cosine needs concepts + 1 ≤ d; with "
                        "more concepts the directions are random and overlap by themselves.")


@st.cache_data(show_spinner="Planting concepts and fitting probes ...", max_entries=32)
def _interference(n_concepts, d, noise, cosine, seed):
    from probing.superposition.interference import probe_interference  # scikit-learn: imported when asked for

    return probe_interference(n_concepts=n_concepts, d=d, noise=noise, concept_cosine=cosine, seed=seed)


if not widgets.asked_for("sup_interference_run", "Plant the concepts and fit the probes",
                         "Plants the concepts in 2,000 samples and fits one LDA probe per concept (a second or two "
                         "the first time, while the probe library loads), then plots each probe's accuracy against "
                         "its concept's overlap with the others."):
    st.stop()
try:
    result = _interference(n_concepts, d, noise, float(cosine) if cosine_fits else 0.0, int(seed))
except ProbingInputError as exc:
    widgets.show_input_error(exc)
    st.stop()
points_frame = result.to_frame()
# fixed, rounded domains: equal values (orthogonal concepts, all at the ceiling) must not zoom to rounding noise
x_top = max(0.5, float(np.ceil(points_frame["sum_cos2"].max() * 10) / 10))
y_low = min(float(points_frame["accuracy"].min()), result.isolated_accuracy)
y_low = max(0.0, float(np.floor(y_low * 20) / 20) - 0.05)
scatter = alt.Chart(points_frame).mark_circle(size=90).encode(
    x=alt.X("sum_cos2:Q", title="interference Σⱼ cos²(uₖ, uⱼ) with the other concepts",
            scale=alt.Scale(domain=[0, x_top]), axis=alt.Axis(format=".2~f")),
    y=alt.Y("accuracy:Q", title="held-out probe accuracy", scale=alt.Scale(domain=[y_low, 1.0]),
            axis=alt.Axis(format=".2f")),
    color=alt.Color("max_abs_cos:Q", scale=alt.Scale(scheme="oranges", domain=[0, 1]), title="max |cos|",
                    legend=alt.Legend(format=".1f")),
    tooltip=[alt.Tooltip("concept"), alt.Tooltip("sum_cos2:Q", format=".2f"),
             alt.Tooltip("max_abs_cos:Q", format=".2f"),
             alt.Tooltip("accuracy:Q", format=".3f"), alt.Tooltip("probe_alignment:Q", format=".2f")])
ceiling = alt.Chart(pd.DataFrame({"y": [result.isolated_accuracy]})).mark_rule(strokeDash=[4, 4], color="gray").encode(
    y=alt.Y("y:Q"), tooltip=[alt.Tooltip("y:Q", title="accuracy of a lone concept", format=".3f")])
st.altair_chart((scatter + ceiling).properties(height=340), width="stretch")
rho = result.rank_correlation
overlap = float(result.max_interference.max())
geometry = (f"The {n_concepts} directions are at right angles (max |cos| = {overlap:.2f}): no interference, and "
            "each probe points along its own concept." if overlap < 1e-6 else
            f"The directions overlap (max |cos| = {overlap:.2f}), so each concept leaks onto the others' read-out: "
            f"the probes tilt away from their concepts (mean |cos(probe, concept)| = "
            f"{result.probe_alignment.mean():.2f}) to cancel the leak, and accuracy falls below the line once the "
            "overlap is large relative to the noise.")
st.caption(f"One dot per concept; mean held-out accuracy {result.accuracy.mean():.3f}. The dashed line is the "
           f"accuracy a concept reaches alone ({result.isolated_accuracy:.3f}). {geometry} With more concepts than "
           "dimensions overlap is unavoidable: the further right a dot (more overlap with the others), the lower it "
           "tends to fall" + (f" (rank correlation {rho:.2f})." if np.isfinite(rho) else ".")
           + " The concepts stay decodable, with interference: the price of superposition.")
widgets.download_csv(points_frame, "interference_vs_accuracy.csv", key="dl-sup-interference")
