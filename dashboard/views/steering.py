"""Steering: derive a vector, add it, and measure whether the readout moves; erase a concept with LEACE."""

import altair as alt
import numpy as np
import pandas as pd
import streamlit as st

from dashboard import datasets, links, models, results, state, widgets
from probing import ProbingInputError
from probing.directions import along_class_means
from probing.examples import score_densities
from probing.extract import extract_activations, rerun_model
from probing.generation import generation_sweep
from probing.lens import direction_tokens
from probing.pca import fit_pca
from probing.probes import fit_probe
from probing.steering import activation_sweep, binary_classes, steering_sweep, steering_vector

MAX_TEXTS, MAX_CHARS = 200, 40_000  # sentences through the model per sweep (each runs once per alpha)
DENSITY_POINTS = 200  # the score densities are computed here on one grid, so the chart stays small for any n

st.title("Steering: does the model use the direction?")
st.markdown(
    "A probe that finds a direction shows the concept is *there*; it does not show the model *uses* it. "
    "Steering adds `alpha · v` to the activations and watches a readout move. If pushing along `v` turns "
    "negative inputs positive, the direction carries the concept. **Mean difference** `v = mean(x⁺) − mean(x⁻)` is "
    "unnormalised, so `alpha = 1` moves the average negative onto the average positive."
)
aset = state.active_dataset()
widgets.dataset_caption(aset)
links.share("steer_label", "steer_layer", "steer_method", "steer_saved", "steer_alpha_range", "steer_model_alphas",
            "steer_lm_prompts", "steer_lm_layer", "steer_lm_source", "steer_lm_saved", "steer_lm_token", "steer_lm_alphas",
            "steer_lm_tokens", "steer_lm_open")

binary = [name for name in aset.categorical_labels() if len(np.unique(aset.labels[name])) == 2]
if not binary:
    st.info("Steering needs a binary label (two classes). Pick or generate a dataset with one on the Data page.")
    st.stop()

c1, c2, c3 = st.columns(3)
label = c1.selectbox("Label", binary, index=binary.index("label") if "label" in binary else 0, key="steer_label")
layer = c2.selectbox("Source layer", range(aset.n_layers), index=aset.n_layers // 2, key="steer_layer",
                     format_func=lambda i: f"{i}: {aset.layers[i]}")
method = c3.selectbox("Method", ["mean_diff", "probe", "pca_pairs", "saved"], key="steer_method",
                      format_func={"mean_diff": "mean difference", "probe": "probe direction",
                                   "pca_pairs": "PC1 of paired differences", "saved": "a saved direction"}.get)
negative, positive = binary_classes(aset.labels[label])
saved_name, saved_direction = None, None
if method == "saved":
    saved = state.load_directions(state.direction_sets(aset, layer))
    if not saved:
        st.info(f"No directions are saved for layer {aset.layers[layer]} of this dataset yet: fit a probe on the "
                "Probes page, save PCs on the PCA page, or pick another method.")
        st.stop()
    saved_name = st.selectbox("Saved direction", list(saved), key="steer_saved",
                              help="Any direction saved in the workspace for this layer (by any page or colleague), "
                                   "scaled so that alpha = 1 moves the class means as far apart along it as they are.")
    saved_direction = saved[saved_name]


@st.cache_data(show_spinner="Computing the steering vector ...", max_entries=32)
def vector_and_references(fingerprint, label, layer, method, saved_name, _aset, _saved_direction):
    X = np.asarray(_aset.layer(layer), dtype=np.float64)
    y = _aset.labels[label]
    vector = (along_class_means(_saved_direction, X, y, binary_classes(y)[1]) if method == "saved"
              else steering_vector(X, y, method=method))
    probe = fit_probe(X, y, method="lda")
    pc1 = fit_pca(X, n_components=1).components[0]
    return vector, probe.direction_, pc1


try:
    vector, probe_direction, pc1 = vector_and_references(aset.fingerprint, label, layer, method, saved_name, aset,
                                                         saved_direction)
except ProbingInputError as exc:
    widgets.show_input_error(exc)
    st.stop()

norm = float(np.linalg.norm(vector))
if method != "saved" and norm > 0:
    problem = state.save_directions(aset, layer, f"{label} ({method})", vector, "steering",
                                    {"label": label, "steering_method": method})
    if problem:
        st.warning(problem)
probe_norm = float(np.linalg.norm(probe_direction))
undefined = "undefined"
m1, m2, m3 = st.columns(3)
m1.metric("‖v‖", f"{norm:.3g}")
m2.metric("cos(v, probe direction)", f"{vector @ probe_direction / (norm * probe_norm):.3f}"
          if norm > 0 and probe_norm > 0 else undefined)
m3.metric("|cos(v, PC1)|", f"{abs(vector @ pc1) / norm:.3f}" if norm > 0 else undefined)
if norm == 0 or probe_norm == 0:
    st.info(("The steering vector is zero" if norm == 0 else "The probe's direction is zero")
            + f" at layer {widgets.escape(aset.layers[layer])}: the two classes have the same mean there (e.g. an "
            "all-zero layer), so there is no direction to push along and its cosines are undefined. Adding "
            "alpha · 0 changes nothing below. Pick another layer or label; a zero vector is not saved.")
st.caption("If the vector agrees with the probe (cosine near 1) the two methods see the same direction; "
           "a high |cos| with PC1 means the concept is also the layer's main axis of variance.")

st.subheader("Sweep on the activations")
alphas = st.select_slider("alphas", options=[-3, -2, -1.5, -1, -0.5, 0, 0.5, 1, 1.5, 2, 3],
                          value=(-2, 2), key="steer_alpha_range")
grid = [a for a in (-3, -2, -1.5, -1, -0.5, 0, 0.5, 1, 1.5, 2, 3) if alphas[0] <= a <= alphas[1]]


@st.cache_data(max_entries=32)
def activation_dose_response(fingerprint, label, layer, method, saved_name, grid, _aset, _vector):
    X = np.asarray(_aset.layer(layer), dtype=np.float64)
    probe = fit_probe(X, _aset.labels[label], method="lda")
    sweep = activation_sweep(X, _vector, grid, probe)
    densities = score_densities(sweep.per_row["score"], sweep.per_row["alpha"], points=DENSITY_POINTS)
    return sweep.to_frame(), densities.assign(alpha=densities.pop("group").astype(float))


summary, densities = activation_dose_response(aset.fingerprint, label, layer, method, saved_name, tuple(grid), aset,
                                              vector)
left, right = st.columns(2)
left.altair_chart(
    alt.Chart(densities).mark_line().encode(
        x=alt.X("score:Q", title="probe score (decision value)"), y=alt.Y("density:Q", title="density"),
        color=alt.Color("alpha:O", scale=alt.Scale(scheme="viridis")),
        tooltip=["alpha:O", alt.Tooltip("score:Q", format=".3f"), alt.Tooltip("density:Q", format=".3f")])
    .properties(height=280, title="Probe scores shift with alpha"), width="stretch")
right.altair_chart(
    alt.Chart(summary).mark_line(point=True).encode(
        x="alpha:Q", y=alt.Y("positive_fraction:Q", title=f"fraction read as {positive}", scale=alt.Scale(domain=[0, 1])),
        tooltip=["alpha", alt.Tooltip("mean_score:Q", format=".3f"), alt.Tooltip("positive_fraction:Q", format=".2f")])
    .properties(height=280, title="Dose-response on the activations"), width="stretch")
st.caption(f"Every sample gets `alpha · v` added at layer {layer}, then a probe trained at that layer scores it. "
           "Monotone curves are expected here by construction; the real test is the model sweep below, where the "
           "vector has to survive the later layers.")
widgets.download_csv(summary, "steering_activation_sweep.csv")
widgets.download_csv(densities, "steering_score_densities.csv", "Download the score densities (CSV)",
                     key="steer_dl_densities")

st.subheader("Sweep through the real model")
try:
    source = rerun_model(aset)
except ProbingInputError as exc:
    source = None
    st.info(widgets.escape(str(exc)))
has_text = source is not None
if has_text:
    st.caption(f"This dataset records that **{widgets.escape(aset.attrs['model'])}** made it with "
               f"**{source['pooling']}** pooling, so the same model runs here with the vector added.")
    texts_in = st.text_area(f"Sentences to steer (one per line, at most {MAX_TEXTS}; empty = a sample of the dataset's "
                            "texts)", key="steer_texts", height=100, max_chars=MAX_CHARS)
    texts = [t.strip() for t in texts_in.splitlines() if t.strip()]
    if not texts:
        rng = np.random.default_rng(0)
        rows = rng.choice(aset.n_samples, size=min(24, aset.n_samples), replace=False)
        texts = aset.meta["text"].iloc[np.sort(rows)].astype(str).tolist()
    model_alphas = st.multiselect("alphas for the model", [-4, -2, -1, 0, 1, 2, 4], default=[-2, 0, 2],
                                  key="steer_model_alphas")
    if st.button("Run the model with the vector added", key="steer_run_model"):
        try:
            readout = fit_probe(np.asarray(aset.layer(-1), dtype=np.float64), aset.labels[label], method="lda")
            with widgets.progress(f"Running {aset.attrs['model']}") as report:
                sweep = steering_sweep(texts, source["hidden_states"][layer], vector, sorted(model_alphas) or [0],
                                       readout, readout_layer=source["hidden_states"][-1], model=source["model"],
                                       pooling=source["pooling"], max_texts=MAX_TEXTS, max_chars=MAX_CHARS,
                                       progress=report)
            st.session_state["steer_model_sweep"] = sweep
        except ProbingInputError as exc:
            widgets.show_input_error(exc)
    sweep = st.session_state.get("steer_model_sweep")
    if sweep is not None:
        frame = sweep.to_frame()
        st.altair_chart(alt.Chart(frame).mark_line(point=True).encode(
            x="alpha:Q", y=alt.Y("positive_fraction:Q", scale=alt.Scale(domain=[0, 1]),
                                 title=f"fraction read as {positive}"),
            tooltip=["alpha", alt.Tooltip("mean_score:Q", format=".3f"), "positive_fraction"])
            .properties(height=250, title="Dose-response through the model, read at its last layer"),
            width="stretch")
        st.dataframe(sweep.per_input(), hide_index=True, width="stretch")
        st.caption(f"The vector is added to hidden state {sweep.params['layer']} at every token; a probe trained on the "
                   "last layer reads the result. Scores above 0 read as the positive class.")
        widgets.download_csv(sweep.per_input(), "steering_model_sweep.csv")

steering_params = {"label": label, "layer": layer, "layer_name": aset.layers[layer], "method": method,
                   "saved_direction": saved_name, "alphas": grid, "probe": "lda"}
steering_tables = {"activation_dose_response": summary}
if has_text and sweep is not None:
    model_alphas_run = sorted(float(a) for a in sweep.per_row["alpha"].unique())
    steering_params["model_sweep"] = {**sweep.params, "alphas": model_alphas_run}
    steering_tables["model_per_input"] = sweep.per_input()
results.save_result_control("steering_sweep", f"steering {label} ({method}) at layer {aset.layers[layer]}",
                       steering_params, steering_tables, aset, key="steer_result")

st.subheader("Erasure with LEACE")
st.markdown("LEACE removes exactly the linearly available information about the label, moving the data as little "
            "as possible: afterwards every class has the same mean, so a fresh probe falls to the majority baseline.")


@st.cache_data(show_spinner="Erasing and re-probing every layer ...", max_entries=16)
def erasure_table(fingerprint, label, _aset):
    from probing.erasure import erasure_sweep  # scikit-learn's fold splitters: imported when the panel is opened

    return erasure_sweep(_aset, label, cv=5).to_frame()


if st.toggle("Run the erasure panel", value=False, key="steer_erase"):
    table = erasure_table(aset.fingerprint, label, aset)
    long = table.melt("layer", ["accuracy_before", "accuracy_after", "majority_baseline"],
                      var_name="series", value_name="accuracy")
    st.altair_chart(alt.Chart(long).mark_line(point=True).encode(
        x=alt.X("layer:N", sort=None), y=alt.Y("accuracy:Q", scale=alt.Scale(domain=[0, 1])), color="series:N",
        tooltip=["layer", "series", alt.Tooltip("accuracy:Q", format=".3f")]).properties(height=280), width="stretch")
    last = table.iloc[-1]
    st.caption("Held-out accuracy: the eraser and a fresh probe are fitted on training folds only, then scored on the "
               f"held-out fold. Mean squared change at the last layer: LEACE {last['msc_leace']:.3g} vs plain orthogonal "
               f"projection {last['msc_orth']:.3g}. Both erase; LEACE moves the data least.")
    widgets.download_csv(table, "leace_erasure.csv")

st.subheader("Download the vector")
d1, d2 = st.columns(2)
with d1:
    widgets.download_npy(vector, f"steering_{label}_{method}_layer{layer}.npy")
with d2:
    widgets.download_safetensors({"vector": vector}, f"steering_{label}_{method}_layer{layer}.safetensors")

st.subheader("What a language model writes")
st.markdown(
    "The real test of a steering vector is what a decoder *writes* with it. The vector is scaled to the typical "
    "length of the residual stream at the chosen layer (so `alpha = 1` is a push as large as the stream itself) and "
    "added at every position while the model writes greedily. A **control** adds a random vector of the same length: "
    "an effect the control also has is the effect of any push of that size, not of the direction.")
LM_MAX_PROMPTS = 8
LM_ALPHAS = [-4, -2, -1, -0.5, 0, 0.5, 1, 2, 4]


@st.cache_resource(show_spinner="Fitting the sentiment probe on the bundled MiniLM (once per server) ...")
def sentiment_probe():
    """The LDA sentiment probe on the last layer of the bundled MiniLM ``sentiment`` dataset."""
    bundled = datasets.open_bundled("sentiment")
    return fit_probe(np.asarray(bundled.layer(-1), dtype=np.float64), bundled.labels["sentiment"], method="lda")


def sentiment_readout():
    """Texts -> the sentiment probe's decision value on MiniLM's last layer (above 0 reads as positive)."""
    probe = sentiment_probe()
    return lambda texts: probe.decision_function(
        np.asarray(extract_activations(texts, layers=[-1]).layer(0), dtype=np.float64))


def show_generations(frame: pd.DataFrame, scale: float) -> None:
    """Baseline, steered and control text side by side per prompt, and the readout's dose-response."""
    alphas = sorted(a for a in frame["alpha"].unique() if a != 0)
    shown = st.selectbox("Side by side at alpha", alphas, index=len(alphas) - 1, key="steer_lm_show") if alphas else 0.0

    def texts(kind: str, alpha: float) -> pd.Series:
        return frame[(frame["vector"] == kind) & (frame["alpha"] == alpha)].set_index("prompt")["continuation"]

    side = pd.DataFrame({"baseline": texts("steering", 0.0), f"steered (alpha = {shown:g})": texts("steering", shown),
                         f"control (alpha = {shown:g})": texts("random control", shown)}).rename_axis("prompt")
    st.dataframe(side.reset_index(), hide_index=True, width="stretch")
    st.caption(f"Greedy continuations; the vector was scaled to {scale:.3g}, the mean length of the residual stream "
               "at this layer over the prompts' tokens, before multiplying by alpha. Baseline: nothing added.")
    if "score" in frame:
        st.markdown("**Dose-response of what the model writes**")
        dose = frame.groupby(["vector", "alpha"], as_index=False)["score"].agg(["mean", "std"]).reset_index()
        st.altair_chart(alt.Chart(dose).mark_line(point=True).encode(
            x=alt.X("alpha:Q"), y=alt.Y("mean:Q", title="sentiment of the text (probe score)"),
            color=alt.Color("vector:N", scale=alt.Scale(domain=["steering", "random control"],
                                                        range=["#1f77b4", "#888888"])),
            tooltip=["vector", "alpha", alt.Tooltip("mean:Q", format=".3f"), alt.Tooltip("std:Q", format=".3f")])
            .properties(height=260), width="stretch")
        st.caption("Each point: the mean over prompts of the bundled MiniLM sentiment probe read from prompt + "
                   "continuation (above 0 reads as positive). A vector that steers sentiment moves the blue line "
                   "with alpha while the grey control stays flat.")
    widgets.download_csv(frame, "steering_generations.csv", key="dl-steer-lm")
chosen, lm_choice = models.pick_source("steer_lm_model", causal_only=True)
lm = models.open_model(lm_choice, causal_only=True) if chosen and widgets.asked_for(
    "steer_lm_open", "Load the model",
    "Loads the decoder to pick a layer, a vector and prompts; then Generate writes the texts. The first load on a "
    "fresh server also imports PyTorch (a few seconds); after that the model is shared by every session.") else None
if lm is not None:
    st.session_state.setdefault("steer_lm_prompts", "I think this movie is\nThe food at the restaurant was")
    prompts_in = st.text_area(f"Prompts (one per line, at most {LM_MAX_PROMPTS})", key="steer_lm_prompts",
                              max_chars=2000, height=90)
    prompts = list(dict.fromkeys(p.strip() for p in prompts_in.splitlines() if p.strip()))[:LM_MAX_PROMPTS]
    g1, g2, g3 = st.columns(3)
    lm_layer = g1.selectbox("Layer to steer", range(lm.n_blocks + 1), index=lm.n_blocks // 2, key="steer_lm_layer",
                            format_func=lambda i: "0: embeddings" if i == 0 else f"{i}: after block {i}")
    lm_source = g2.radio("Vector", ["a token's unembedding row", "a saved direction"], key="steer_lm_source",
                         help=f"Saved directions of width {lm.hidden_size} (this model's hidden size), from any "
                              "dataset extracted with it; or the row of the unembedding that writes a token.")
    lm_alphas = g3.multiselect("alphas", LM_ALPHAS, default=[0, 1, 2], key="steer_lm_alphas")
    lm_tokens = g3.slider("New tokens", 4, 48, 16, key="steer_lm_tokens")
    lm_vector, lm_vector_name = None, None
    if lm_source == "a saved direction":
        entries = [e for e in datasets.workspace().list_directions() if e.d == lm.hidden_size]
        fitting = state.load_directions(entries, max_rows=64)
        if fitting:
            lm_vector_name = g2.selectbox("Saved direction", list(fitting), key="steer_lm_saved")
            lm_vector = fitting[lm_vector_name]
        else:
            st.info(f"No saved direction has width {lm.hidden_size}: extract texts with this model on the Extract page "
                    "and fit a probe, or use a token's unembedding row.")
    else:
        token = g2.text_input("Token", value=" good", key="steer_lm_token", max_chars=40)
        pieces = lm.tokenizer.encode(token, add_special_tokens=False) if token else []
        if pieces:
            lm_vector_name = f"unembedding row of {lm.tokenizer.decode([pieces[0]])!r}"
            lm_vector = lm.model.get_output_embeddings().weight[pieces[0]].detach().float().cpu().numpy()
            if len(pieces) > 1:
                g2.caption(f"{widgets.escape(repr(token))} is {len(pieces)} tokens here; using the first, "
                           f"{widgets.escape(repr(lm.tokenizer.decode([pieces[0]])))}.")
    if lm_vector is not None and prompts:
        lm_key = (lm.source, tuple(prompts), lm_layer, lm_vector_name, lm_vector.tobytes(), tuple(sorted(lm_alphas)),
                  lm_tokens)
        with st.expander("What this vector writes directly (through the unembedding)"):
            pushes = direction_tokens(lm_vector, lm, k=8)
            st.dataframe(pushes.pivot(index="rank", columns="effect", values="token"), width="stretch")
            widgets.download_csv(pushes, "steering_vector_tokens.csv", key="dl-steer-lm-tokens")
        n_jobs = len(prompts) * (2 * len([a for a in lm_alphas if a != 0]) + 1)
        read_sentiment = "sentiment" in datasets.bundled_datasets() and st.toggle(
            "Read the texts with the sentiment probe on the bundled MiniLM", value=True, key="steer_lm_readout")
        st.caption(f"{n_jobs} continuations of {lm_tokens} tokens ({len(prompts)} prompts; baseline, steered and "
                   "control per alpha).")
        if st.button("Generate", key="steer_lm_run"):
            try:
                with widgets.progress(f"Writing with {widgets.escape(lm.name)}") as report:
                    stream = extract_activations(prompts, model=lm, pooling="tokens", layers=[lm_layer]).layer(0)
                    scale = float(np.linalg.norm(np.asarray(stream, dtype=np.float64), axis=1).mean())
                    scaled = lm_vector / np.linalg.norm(lm_vector) * scale
                    frame = generation_sweep(prompts, lm, lm_layer, scaled, sorted({0, *lm_alphas}),
                                             sentiment_readout() if read_sentiment else None, max_new_tokens=lm_tokens,
                                             seed=0, progress=report)
                st.session_state["steer_lm_sweep"] = (lm_key, frame, scale)
            except ProbingInputError as exc:
                widgets.show_input_error(exc)
        stored = st.session_state.get("steer_lm_sweep")
        if stored is not None and stored[0] == lm_key:
            show_generations(stored[1], stored[2])
