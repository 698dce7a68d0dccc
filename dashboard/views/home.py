"""Overview: what the dashboard answers, page by page, and the dataset everyone starts with."""

import streamlit as st

from dashboard import state, widgets


st.title("probing: what is linear in your activations?")
st.markdown(
    "A model turns each input into a vector at every layer. If a concept (sentiment, tense, a topic) "
    "is **linearly represented**, there is a direction `w` such that the sign of `w · x` tells the concept. "
    "This dashboard finds such directions, checks they are real (cross-validation, baselines, control tasks), "
    "looks at the space in its natural basis (PCA), asks how many features are packed into how few dimensions "
    "(superposition, coherence) and whether a direction *controls* the model (steering)."
)

aset = state.active_dataset()
widgets.dataset_caption(aset)

PAGES = [
    ("Data", "What am I looking at?", "Generate synthetic embeddings with planted concepts, open a bundled dataset, "
     "upload .npy/.npz/.safetensors/.pt/.h5/.parquet/.csv activations, and manage the workspace."),
    ("Extract", "What does a real transformer compute for my sentences?", "Run all-MiniLM-L6-v2 (shipped offline) "
     "or a decoder the server provides on your texts: one vector per layer (mean, first, last or a marked token, "
     "or every token), from the residual stream or the attention and MLP outputs."),
    ("Probes", "Is this concept linearly decodable, and at which layer?", "Cross-validated linear probes per layer "
     "with the majority baseline, a control task (selectivity) and confidence intervals."),
    ("PCA / change of basis", "What is the natural basis of this layer?", "Principal components as a new basis: "
     "the covariance becomes diagonal, and a map A looks like P⁻¹AP. Do the top PCs align with the probe?"),
    ("Linear maps", "What does a weight matrix keep and what does it kill?", "Rank, nullity, kernel and image, "
     "singular values, effective rank and low-rank (LoRA) approximations."),
    ("Linear-algebra lab", "What does the algebra under all of this do?", "Type a matrix or pick one of the "
     "lessons' examples: the four subspaces, when A x = b has a solution, the SVD as rotate-stretch-rotate, "
     "linearity tests, Jacobians and backprop, affine maps and change of basis."),
    ("Superposition", "How can n features live in m < n dimensions?", "Toy models (Elhage et al. 2022): "
     "sparse features pack into pentagons and other polytopes; phase diagrams and feature dimensionality."),
    ("Coherence", "How close to orthogonal are the directions?", "Mutual coherence against the Welch bound, "
     "and what non-orthogonality costs a probe."),
    ("Steering", "Does the model use the direction?", "Add a steering vector inside the forward pass and measure "
     "the dose-response; erase a concept with LEACE and check the probe falls to chance; see what a language "
     "model writes with the vector added, beside a random control."),
    ("Logit lens", "What would the model say if it stopped at this layer?", "Each layer's residual stream read "
     "through the model's final norm and unembedding: the top next tokens per layer and position."),
    ("Projector", "What does the cloud of points look like?", "PCA, UMAP, t-SNE or custom axes (probe direction vs PC1) "
     "for up to a million points; select points and save them as a label; import/export TensorBoard and parquet."),
    ("Direction atlas", "Which directions agree?", "Probe directions, PCs, steering vectors, LEACE subspaces and SAE "
     "features in one clustered cosine matrix, with the Welch bound as reference."),
    ("Examples", "What does a direction mean, and does the model use it?", "The inputs and tokens that score highest "
     "and lowest along any saved direction, scores by label, and the probe accuracy downstream of ablating it."),
]
st.subheader("Pages")
st.markdown("| page | question it answers | what you do there |\n|---|---|---|\n"
            + "\n".join(f"| **{page}** | {question} | {what} |" for page, question, what in PAGES))  # wraps, never cut

st.subheader("The workflow in five steps (the lesson's Exercise 8)")
st.markdown(
    "1. **Embeddings with a concept**: on *Data*, generate points near `+d` for positives and `-d` for negatives.\n"
    "2. **A linear probe**: on *Probes*, train a classifier on top of the activations and measure accuracy per layer.\n"
    "3. **PCA**: on *PCA*, check that the first principal component aligns with the planted direction `d`.\n"
    "4. **Superposition**: pack two binary features into 3 dimensions; both stay decodable, with interference.\n"
    "5. **Coherence**: measure how far the feature directions are from orthogonal, and relate it to probe accuracy."
)
with st.expander("The lesson's Exercise 8, as written"):
    st.markdown(
        "From the lesson *Linear Transformations: The Geometry of Neural Network Layers* (Exercise 8, "
        "Linear Probing and the Linear Representation Hypothesis). Goal: empirically test whether a concept is "
        "linearly represented in embedding space.\n\n"
        "- (a) Generate synthetic embeddings for binary sentiment: positive embeddings clustered near **d**, negative "
        "near −**d** for a fixed direction **d**, plus noise. *(Data)*\n"
        "- (b) Train a linear probe (logistic regression on top of embeddings) and measure accuracy. *(Probes)*\n"
        "- (c) Apply PCA to the embeddings. Show that the first principal component aligns with **d**. *(PCA)*\n"
        "- (d) Add a \"superposition\" condition: embed two independent binary features in d = 3 dimensions. Show "
        "that both features can be linearly decoded but with interference. *(Superposition, last section)*\n"
        "- (e) Compute the mutual coherence of the feature directions. How does it relate to probe accuracy? "
        "*(Coherence)*"
    )
st.caption("Every chart has its data one click away (download buttons), every page works on the dataset "
           "chosen in the sidebar, and the address bar is a share link: it reopens the same view for a colleague.")
