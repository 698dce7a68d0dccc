"""Examples: the inputs (and tokens) that light a direction up, and whether the model uses it."""

import html

import altair as alt
import numpy as np
import pandas as pd
import streamlit as st

from dashboard import links, state, widgets
from probing import ProbingInputError
from probing.examples import (TOKEN_COLUMNS, ablation_effect, nearest_directions, score_histogram, scores,
                              top_examples, top_tokens, token_scores)
from probing.extract import extract_activations, rerun_model

MAX_ABLATION_TEXTS = 400
SECONDS_PER_TEXT = 0.02  # one MiniLM-sized forward pass per text on a laptop CPU (benchmarks/bench_examples.py)
COLOURED_TEXTS = 5

st.title("Directions in action: which inputs light a direction up?")
st.markdown(
    "A direction `w` in a layer's space is a question you can ask every input: its **score** is the projection "
    "`x · w / ‖w‖`, the coordinate of the activation `x` along the unit direction (one row of a change of basis). "
    "The inputs with the highest scores are the best evidence of what the direction means: if they all share "
    "something (a label, a word, a style), that is what the direction reads. Negate the direction and the same "
    "question gives the other end.")
aset = state.active_dataset()
widgets.dataset_caption(aset)
links.share("ex_layer", "ex_direction", "ex_k", "ex_live_tokens", "ex_group", "ex_fit_label", "ex_abl_label", "ex_abl_set",
            "ex_abl_n")


def fit_here(layer: int, expanded: bool) -> None:
    """Fit the LDA probe direction(s) of a label at ``layer`` and save them like the Probes page does."""
    with st.expander("Fit and save a probe direction here", expanded=expanded):
        label = widgets.pick_label(aset, key="ex_fit_label")
        if label is None or not st.button(
                f"Fit the {widgets.escape(label)} probe at {widgets.escape(aset.layers[layer])} and save it", key="ex_fit"):
            return
        from probing.probes import fit_probe  # scikit-learn: imported when a probe is fitted, not on opening

        try:
            probe = fit_probe(np.asarray(aset.layer(layer), dtype=np.float64), aset.labels[label], method="lda")
        except ProbingInputError as exc:
            widgets.show_input_error(exc)
            return
        rows = probe.direction_
        problem = state.save_directions(aset, layer, f"{label} (lda)", rows, "probe", {"label": label, "estimator": "lda"},
                                        [] if rows.ndim == 1 else [f"{label}={c} (lda)" for c in probe.classes_])
        if problem:
            st.warning(problem)
        else:
            st.rerun()


c1, c2, c3 = st.columns([1, 2, 1])
with c1:
    layer = widgets.pick_layer(aset, key="ex_layer", default=aset.n_layers // 2)
try:
    entries = state.direction_sets(aset, layer)
    saved = state.load_directions(entries)
except ProbingInputError as exc:
    widgets.show_input_error(exc)
    st.stop()
if not saved:
    st.info(f"No directions are saved for layer {widgets.escape(aset.layers[layer])} of this dataset yet. Fit the probe "
            "direction of a label below, or save one on the Probes, PCA, Steering or Direction atlas page.")
    fit_here(layer, expanded=True)
    st.stop()
name = c2.selectbox("Direction", list(saved), key="ex_direction",
                    help="Every direction saved in the workspace for this layer: probe directions, principal "
                         "components, steering vectors, LEACE subspaces, planted concepts, SAE rows and uploads.")
k = c3.slider("Examples per end", 5, 50, 10, key="ex_k")
direction = saved[name]
fit_here(layer, expanded=False)
family = next((rows for rows in (state.load_directions([e]) for e in entries if e.k > 1)
               if any(np.array_equal(row, direction) for row in rows.values())), None)


is_tokens = all(column in aset.meta.columns for column in TOKEN_COLUMNS)


@st.cache_data(show_spinner="Scoring every row ...", max_entries=32)
def ends(fingerprint, layer, direction_bytes, k, _aset, _direction):
    """The top and bottom rows (tokens with their context for token activations), scored along the direction."""
    find = top_tokens if is_tokens else top_examples
    bottom = find(_aset, -_direction, layer, k)
    return find(_aset, _direction, layer, k), bottom.assign(score=-bottom["score"]), scores(_aset, _direction, layer)


try:
    top, bottom, values = ends(aset.fingerprint, layer, direction.tobytes(), k, aset, direction)
except ProbingInputError as exc:
    widgets.show_input_error(exc)
    st.stop()


def colour_tokens(frame: pd.DataFrame, scale: float) -> str:
    """One text as HTML: each (escaped) token on a background coloured by its score (blue +, red -)."""
    spans = []
    for token, score in zip(frame["token"].astype(str), frame["score"]):
        strength = min(abs(score) / scale, 1.0) if scale > 0 else 0.0
        rgb = "31,119,180" if score >= 0 else "214,39,40"
        spans.append(f'<span title="{score:.3f}" style="background: rgba({rgb},{0.85 * strength:.2f}); '
                     f'padding: 1px 2px; border-radius: 3px">{html.escape(token)}</span>')
    return " ".join(spans)


@st.cache_data(show_spinner="Running the model on the shown texts ...", max_entries=32)
def live_token_scores(fingerprint, layer, direction_bytes, texts, _source, _direction) -> list[pd.DataFrame]:
    """Each text's tokens scored along the direction, from the model that made the dataset, run on the fly."""
    tokens = extract_activations(list(texts), model=_source["model"], pooling="tokens",
                                 layers=[_source["hidden_states"][layer]])
    return [token_scores(tokens, _direction, 0, i) for i in range(len(texts))]


def coloured_texts(frame: pd.DataFrame) -> list[pd.DataFrame]:
    """The first texts of ``frame`` token by token with their scores: stored token rows, or the model run live."""
    if is_tokens:
        return [token_scores(aset, direction, layer, text_id)
                for text_id in list(dict.fromkeys(frame["text_id"]))[:COLOURED_TEXTS]]
    if not live:
        return []
    texts = tuple(frame["text"].astype(str).head(COLOURED_TEXTS))
    return live_token_scores(aset.fingerprint, layer, direction.tobytes(), texts, source, direction)


def show_end(column, title: str, frame: pd.DataFrame, coloured: list[pd.DataFrame], filename: str) -> None:
    """One end of the direction: its rows as a table, and its first texts coloured token by token."""
    column.markdown(f"**{title}**")
    shown = frame.drop(columns=["row", *([c for c in TOKEN_COLUMNS if c != "token"] if is_tokens else [])])
    first = [c for c in ("score", "token", "context", "text") if c in shown.columns]
    shown = shown[first + [c for c in shown.columns if c not in first]]
    column.dataframe(shown, hide_index=True, width="stretch", height=min(38 + 35 * len(shown), 420))
    with column:
        widgets.download_csv(frame, filename, key=f"dl-{filename}")
    for tokens in coloured:
        column.markdown(colour_tokens(tokens, scale), unsafe_allow_html=True)


try:
    source = rerun_model(aset)
except ProbingInputError as exc:
    source, no_model = None, str(exc)
st.subheader("The inputs at both ends")
live = source is not None and "text" in aset.meta.columns and st.toggle(
    f"Colour the first {COLOURED_TEXTS} texts of each end token by token (runs "
    f"{widgets.escape(aset.attrs.get('model', 'the model'))} on them)", key="ex_live_tokens",
    help="Each token's hidden state at this layer, projected onto the direction. With mean pooling the text's "
         "score is the average of its tokens' scores, so the colours show where the score comes from.")
try:
    coloured = {"top": coloured_texts(top), "bottom": coloured_texts(bottom)}
except ProbingInputError as exc:
    widgets.show_input_error(exc)
    coloured = {"top": [], "bottom": []}
shown_scores = [t["score"].abs().max() for texts in coloured.values() for t in texts]
scale = float(max(shown_scores, default=1.0))  # one colour scale for both ends
left, right = st.columns(2)
show_end(left, f"Highest {k} scores", top, coloured["top"], "examples_top.csv")
show_end(right, f"Lowest {k} scores (the top of the negated direction)", bottom, coloured["bottom"],
         "examples_bottom.csv")
st.caption("Highest: the rows whose activation points furthest along the direction; lowest: furthest along its "
           "negation (the direction's other end). Most directions mean something only at one end: read both. A "
           "probe's top rows should nearly all carry its class; a principal component's may share a topic, a "
           "length or a template instead, which is exactly what it is worth knowing. "
           + ("Tokens are coloured by their own score (blue positive, red negative; hover for the number)."
              if is_tokens or live else "Extract with pooling = tokens on the Extract page to see which tokens light "
              "up."))

st.subheader("Scores by label")
groups = ["(none)", *aset.categorical_labels()]
group = st.selectbox("Colour by", groups, index=min(1, len(groups) - 1), key="ex_group")
hist = score_histogram(values, None if group == "(none)" else aset.labels[group], bins=40)
st.altair_chart(alt.Chart(hist).mark_bar(opacity=0.6, binSpacing=0).encode(
    x=alt.X("bin_start:Q", bin="binned", title=f"score along {name}"), x2="bin_end:Q",
    y=alt.Y("count:Q", stack=None, title="rows"), color=alt.Color("group:N", title=None if group == "(none)" else group),
    tooltip=["group", alt.Tooltip("bin_start:Q", format=".3f"), alt.Tooltip("bin_end:Q", format=".3f"), "count"])
    .properties(height=260), width="stretch")
st.caption(f"All {aset.n_samples:,} scores, counted in 40 bins on the server (the chart stays small for any number "
           "of rows). A direction that reads the label separates the colours; overlapping bumps mean the top examples "
           "above are the tail of a weak signal.")
widgets.download_csv(hist, "examples_histogram.csv", key="dl-examples-histogram")

st.subheader("Nearest saved directions")
others = {other: vector for other, vector in saved.items() if other != name}
if others:
    near = nearest_directions(direction, others, k=8)
    st.dataframe(near, hide_index=True, width="stretch")
    st.caption("Cosine with the other directions saved for this layer: near ±1, two methods found the same direction "
               "(and share these examples); near 0, they are unrelated. The Direction atlas shows them all at once.")
    widgets.download_csv(near, "examples_nearest.csv", key="dl-examples-nearest")
else:
    st.caption("No other direction is saved for this layer to compare with.")

st.subheader("Does the model use it?")
st.markdown(
    "The examples show what the direction *reads*; they do not show the model *uses* it. Project the direction out "
    "of the residual stream at this layer, inside the forward pass, and every later layer has to do without it. "
    "**How to read it:** if the model uses the direction, a fresh probe at later layers loses accuracy well beyond "
    "the control, which removes as many random directions; if the two curves stay together, the model either does "
    "not rely on it or writes the information back elsewhere.")
if source is None:
    st.info(no_model)
else:
    a1, a2 = st.columns(2)
    with a1:
        abl_label = widgets.pick_label(aset, key="ex_abl_label", label="Label to probe downstream")
    cap = min(MAX_ABLATION_TEXTS, aset.n_samples)
    n_texts = a2.slider("Texts (a seeded sample)", min(20, cap), cap, min(200, cap), step=10, key="ex_abl_n")
    model_name = widgets.escape(aset.attrs.get("model", "the model"))
    st.caption(f"Runs **{model_name}** three times (as is, direction ablated, random control) over {n_texts} texts, "
               f"then cross-validates a probe at every layer from {widgets.escape(aset.layers[layer])} on: about "
               f"{max(5, round(3 * n_texts * SECONDS_PER_TEXT))} s for a MiniLM-sized model on a CPU.")
    whole = family is not None and st.toggle(
        f"Ablate its whole set ({len(family)} directions)", key="ex_abl_set",
        help="The direction is one row of a saved set (a LEACE subspace, one probe direction per class, PCs, SAE "
             "rows): remove the span of all of them at once. The control then removes as many random directions.")
    ablated = np.stack(list(family.values())) if whole else direction
    run_key = (aset.fingerprint, layer, name, whole, abl_label, n_texts)
    if abl_label is not None and st.button("Ablate the direction and re-probe", key="ex_ablate"):
        rows = np.sort(np.random.default_rng(0).choice(aset.n_samples, n_texts, replace=False))
        try:
            with widgets.progress(f"Running {model_name}") as report:
                effect = ablation_effect(aset.meta["text"].to_numpy()[rows].tolist(), aset.labels[abl_label][rows],
                                         ablated, layer=source["hidden_states"][layer], model=source["model"],
                                         pooling=source["pooling"], cv=5, seed=0, progress=report)
            st.session_state["ex_ablation"] = (run_key, effect)
        except ProbingInputError as exc:
            widgets.show_input_error(exc)
    stored = st.session_state.get("ex_ablation")
    if stored is not None and stored[0] == run_key:
        effect = stored[1]
        order = list(dict.fromkeys(effect["layer"]))
        x = alt.X("layer:N", sort=order, title="probed at layer")
        colour = alt.Color("condition:N", scale=alt.Scale(domain=["none", "ablated", "random control"],
                                                          range=["#1f77b4", "#d62728", "#888888"]))
        offset = alt.XOffset("condition:N", sort=["none", "ablated", "random control"])
        lines = alt.Chart(effect).mark_point(filled=True, size=60).encode(
            x=x, xOffset=offset, y=alt.Y("accuracy:Q", title="held-out probe accuracy", scale=alt.Scale(zero=False)),
            color=colour,
            tooltip=["condition", "layer", alt.Tooltip("accuracy:Q", format=".3f"),
                     alt.Tooltip("ci_low:Q", format=".3f"), alt.Tooltip("ci_high:Q", format=".3f")])
        bars = alt.Chart(effect).mark_errorbar(thickness=2).encode(
            x=x, xOffset=offset, y=alt.Y("ci_low:Q", title=""), y2="ci_high:Q", color=colour)
        st.altair_chart((bars + lines).properties(height=300), width="stretch")
        last = effect[effect["layer"] == order[-1]].set_index("condition")["accuracy"]
        st.caption(f"At the last layer: {last['none']:.3f} as is, {last['ablated']:.3f} with the direction ablated, "
                   f"{last['random control']:.3f} with a random direction ablated (bars: 95 % intervals over the "
                   "held-out folds). Ablating one probe (LDA) direction rarely removes a concept: the classes still "
                   "differ along other directions and a fresh probe finds them. The class-mean difference (a steering "
                   "vector) or a LEACE subspace removes the linear signal; accuracy *below* chance then means the "
                   "direction was estimated on these same texts (it leaks their labels), not that the model inverts.")
        widgets.download_csv(effect, "examples_ablation.csv", key="dl-examples-ablation")
