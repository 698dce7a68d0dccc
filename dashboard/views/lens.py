"""Logit lens: read every layer of a decoder through its own unembedding."""

import altair as alt
import streamlit as st

from dashboard import links, models, widgets
from probing import ProbingInputError
from probing.lens import logit_lens, token_texts

MAX_PROMPT_CHARS = 400
MAX_POSITIONS = 24

st.title("Logit lens: what would the model say if it stopped at this layer?")
st.markdown(
    "A decoder writes the next token with one last **linear map**: the final norm, then the unembedding "
    "matrix $W_U$ ($d \\to$ vocabulary), applied to the residual stream after the last block. The residual "
    "stream is a running sum every block adds to, so the same map can be applied to the stream after *any* "
    "block: each layer's best guess of the next token. Where the right answer appears, and what the model "
    "considered before it, shows how the prediction is built layer by layer (nostalgebraist's *logit lens*).")
st.caption("The last row is exactly the model's own next-token prediction (the final norm is applied once). "
           "Early rows of a real model often look like the input token itself; a random-weight demo model "
           "predicts nothing meaningful, but shows how the tool reads.")

links.share("lens_prompt", "lens_k", "lens_run")
st.session_state.setdefault("lens_prompt", "The capital of France is")
st.session_state.setdefault("lens_k", 5)
chosen, source = models.pick_source("lens_model", causal_only=True)
prompt = st.text_input("Prompt", key="lens_prompt", max_chars=MAX_PROMPT_CHARS)
k = st.slider("tokens per layer (table)", 1, 10, key="lens_k")


def visible(token: str) -> str:
    """A token with its spaces and line breaks made visible."""
    return token.replace(" ", "␣").replace("\n", "⏎") or "∅"


@st.cache_data(show_spinner="Reading every layer ...", max_entries=16)
def lens_table(source: str, prompt: str, k: int, _loaded):
    return logit_lens([prompt], _loaded, k=k, position="all")


asked = chosen and prompt.strip() and widgets.asked_for(
    "lens_run", "Read every layer",
    "Runs the model once on the prompt and reads its residual stream after every block. The first run on a fresh "
    "server also loads PyTorch and the model (a few seconds); later prompts take a fraction of a second.")
loaded = models.open_model(source, causal_only=True) if asked else None
if loaded is not None:
    try:
        table = lens_table(loaded.source, prompt, k, loaded)
    except ProbingInputError as exc:
        widgets.show_input_error(exc)
        st.stop()
    positions = sorted(table["position"].unique())[-MAX_POSITIONS:]
    words = [visible(w) for w in token_texts(loaded, loaded.tokenizer(prompt)["input_ids"])]
    table = table.assign(token=table["token"].map(visible))
    top = table[(table["rank"] == 0) & table["position"].isin(positions)].copy()
    top["input"] = [f"{p}: {words[p]}" for p in top["position"]]
    order = list(dict.fromkeys(top["layer"]))
    st.subheader("Top token at every layer and position")
    base = alt.Chart(top).encode(
        x=alt.X("input:N", sort=[f"{p}: {words[p]}" for p in positions], title="input token (predicting the next)"),
        y=alt.Y("layer:N", sort=order[::-1], title="layer"),
        tooltip=["layer", "input", "token", alt.Tooltip("prob:Q", format=".3f"), alt.Tooltip("logit:Q", format=".2f")])
    grid = base.mark_rect().encode(color=alt.Color("prob:Q", title="probability", scale=alt.Scale(domain=[0, 1])))
    text = base.mark_text(fontSize=11).encode(
        text="token:N", color=alt.condition("datum.prob > 0.5", alt.value("white"), alt.value("black")))
    st.altair_chart((grid + text).properties(height=40 * len(order) + 40), width="stretch")
    st.caption("Each cell: the most likely next token if the model stopped after that layer, coloured by its "
               "probability. Read a column bottom to top to watch one prediction form.")
    widgets.download_csv(table, "logit_lens.csv", key="lens_dl")
    last = table[table["position"] == positions[-1]]
    st.subheader(f"Top {k} next tokens after the whole prompt, layer by layer")
    st.dataframe(last.pivot(index="layer", columns="rank", values="token").loc[order], width="stretch")
