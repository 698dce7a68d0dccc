"""Linear maps: what a weight matrix keeps, what it kills, and what a low-rank version loses."""

import altair as alt
import numpy as np
import pandas as pd
import streamlit as st

from dashboard import links, widgets
from probing import ProbingInputError
from probing import linalg
from probing.io.interop import read_arrays

MAX_DIM = 4096  # the SVD of a larger matrix takes too long for an interactive page
SHOWN_VECTORS, SHOWN_COORDS = 8, 16

st.title("Linear maps: what a matrix keeps and what it kills")
links.share("lm_lora_source", "lm_lora_m", "lm_lora_r", "lm_lora_noise", "lm_lora_seed", "lm_source", "lm_example", "lm_m", "lm_n", "lm_rank", "lm_seed", "lm_angle", "lm_shear", "lm_r",
            "lm_energy", "lm_tol", "lm_k", "lm_b_rank", "lm_b_seed", "lm_seed_p", "lm_seed_r", "lm_b_in")
st.markdown(
    "A weight matrix `W` of shape (m, n) is one coordinate picture of a linear map `x -> W x` from inputs in "
    "R^n to outputs in R^m (a PyTorch `nn.Linear` weight is stored this way: (out_features, in_features)). "
    "Its singular value decomposition reads off the map's geometry: the **image** (every output the map can "
    "produce), the **kernel** (the *dead directions*: inputs the map sends to zero, so nothing downstream can "
    "see them), and the **rank-nullity theorem**: every input dimension is either kept or lost, "
    "`rank + nullity = n`.")

EXAMPLES = ["random low-rank", "projection", "rotation", "shear", "reflection"]
source = st.radio("Matrix", ["an example map", "upload a weight (.npy / .safetensors)"], horizontal=True,
                  key="lm_source")


def example_matrix():
    kind = st.selectbox("Example", EXAMPLES, key="lm_example")
    c1, c2, c3, c4 = st.columns(4)
    n = c1.number_input("input dimension n", 2, 512, 32 if kind == "random low-rank" else 6, key="lm_n")
    if kind == "random low-rank":
        m = c2.number_input("output dimension m", 1, 512, 24, key="lm_m")
        rank = c3.number_input("rank", 0, 512, 5, key="lm_rank", help="Clipped to min(m, n).")
        seed = c4.number_input("seed", 0, 10_000, 0, key="lm_seed")
        return linalg.random_low_rank(m, n, min(rank, m, n), seed=seed), (
            f"B C with Gaussian B ({m} x {rank}) and C ({rank} x {n}): a product through {rank} dimensions.")
    if kind == "projection":
        k = c2.number_input("subspace dimension k", 1, 512, 2, key="lm_k", help="Clipped to n.")
        seed = c3.number_input("seed", 0, 10_000, 0, key="lm_seed_p")
        return linalg.random_projection(n, min(k, n), seed=seed), (
            "Orthogonal projection onto a random k-dimensional subspace: keeps that subspace, kills its complement.")
    if kind == "rotation":
        angle = c2.slider("angle (degrees)", -180, 180, 30, key="lm_angle")
        return linalg.rotation(np.deg2rad(angle), n=n), "Rotation in the plane of the first two coordinates."
    if kind == "shear":
        factor = c2.slider("shear factor", -3.0, 3.0, 1.0, 0.1, key="lm_shear")
        return linalg.shear(factor, n=n), "Shear: x_1 += factor * x_2. Volume is kept, angles are not."
    seed = c2.number_input("seed", 0, 10_000, 0, key="lm_seed_r")
    normal = np.random.default_rng(seed).standard_normal(n)
    return linalg.reflection(normal), "Householder reflection I - 2 u uᵀ across the hyperplane orthogonal to u."


def uploaded_matrix():
    upload = st.file_uploader("Weight file", type=["npy", "safetensors"], key="lm_upload",
                              help="Read without pickle: np.load(allow_pickle=False) or safetensors.")
    if upload is None:
        st.info("Upload a 2-D weight, e.g. `np.save('W_q.npy', model.layer[0].attention.q.weight.detach().numpy())` "
                "or a `.safetensors` checkpoint (then pick a tensor). bfloat16 tensors must be saved as float32.")
        st.stop()
    arrays = read_arrays(upload)
    names = [k for k, v in arrays.items() if v.ndim == 2] or list(arrays)
    name = st.selectbox("Tensor", names, key="lm_tensor",
                        format_func=lambda k: f"{k} {tuple(arrays[k].shape)} {arrays[k].dtype}")
    W = arrays[name]
    if st.checkbox("Transpose (the file stores (in, out))", key="lm_transpose"):
        W = W.T
    return W, f"`{name}` from {upload.name}"


@st.cache_data(show_spinner="Computing the SVD ...", max_entries=8)
def analyze(A, rtol, energy):
    return linalg.analyze_map(A, rtol=rtol, energy=energy)


@st.cache_data(max_entries=32, show_spinner=False)
def approximate(A, r, _report, report_key):
    return linalg.low_rank_approx(A, r, report=_report)


try:
    A, description = example_matrix() if source == "an example map" else uploaded_matrix()
    if A.ndim == 2 and max(A.shape) > MAX_DIM:
        raise ProbingInputError(f"The matrix is {A.shape[0]} x {A.shape[1]}; this page analyses up to "
                                f"{MAX_DIM} x {MAX_DIM}. Slice it (e.g. one attention head) before uploading.")
    c1, c2 = st.columns(2)
    tol_choice = c1.select_slider(
        "Rank tolerance", ["numpy default", "1e-12", "1e-9", "1e-6", "1e-4", "1e-3", "1e-2", "1e-1"],
        value="numpy default", key="lm_tol",
        help="Singular values above tol count towards the rank. numpy's default is σ_max · max(m, n) · eps; the "
             "others are relative to σ_max. Larger tolerances treat small singular values as noise.")
    energy = c2.slider("Energy share for the effective rank", 0.5, 0.999, 0.9, 0.005, key="lm_energy")
    report = analyze(A, None if tol_choice == "numpy default" else float(tol_choice), energy)
except ProbingInputError as exc:
    widgets.show_input_error(exc)
    st.stop()
m, n = report.shape
st.caption(f"{description} Shape ({m}, {n}): a map from R^{n} to R^{m}, dtype {A.dtype}.")

# --- Rank, nullity, effective rank ------------------------------------------------------------------


def rank_metrics(report, of: str = "") -> None:
    """Rank, nullity and the two effective ranks of a map, as four metrics."""
    cols = st.columns(4)
    cols[0].metric(f"rank{of}", report.rank, help=f"Singular values above tol = {report.tol:.3g}.")
    cols[1].metric(f"nullity{of}", report.nullity, help="Dimension of the kernel: input directions sent to 0.")
    cols[2].metric(f"entropy effective rank{of}", f"{report.entropy_rank:.2f}",
                   help="exp(entropy of σ / Σσ) (Roy & Vetterli 2007): k for k equal singular values, soft otherwise: "
                        "how many directions the map really uses.")
    cols[3].metric(f"rank for {report.energy:.1%} energy{of}", report.energy_rank,
                   help="Smallest k whose top-k singular values hold that share of Σσ² (the squared Frobenius norm).")


rank_metrics(report)
(st.success if report.rank + report.nullity == n else st.error)(report.rank_nullity())
st.caption(
    f"Tolerance {report.tol:.3g}: with floating point, 'zero' means 'below the tolerance'. The effective ranks "
    "are softer: a full-rank matrix whose spectrum decays fast behaves like a low-rank one.")

# --- Spectrum ---------------------------------------------------------------------------------------
spectrum = report.to_frame()
floor = max(report.singular_values.max(initial=0.0) * 1e-17, 1e-300)
plot = spectrum.assign(shown=np.maximum(spectrum.singular_value, floor),
                       kept=np.where(spectrum.above_tol, "counted in the rank", "below tolerance"))
dots = alt.Chart(plot).mark_line(point=True, color="#bbbbbb", strokeWidth=1).encode(
    x=alt.X("k:Q", title="k (largest first)"),
    y=alt.Y("shown:Q", scale=alt.Scale(type="log"), title="singular value σ_k (log scale)"),
    tooltip=["k", alt.Tooltip("singular_value:Q", format=".4g"), alt.Tooltip("cumulative_energy:Q", format=".2%")])
dots = dots + dots.mark_circle(size=50, opacity=1).encode(
    color=alt.Color("kept:N", scale=alt.Scale(domain=["counted in the rank", "below tolerance"],
                                              range=["#4c78a8", "#bbbbbb"]), title=None))
rule = alt.Chart(pd.DataFrame({"tol": [max(report.tol, floor)]})).mark_rule(color="#e45756", strokeDash=[4, 3]).encode(
    y="tol:Q", tooltip=[alt.Tooltip("tol:Q", format=".3g", title="tolerance")])
st.altair_chart((dots + rule).properties(height=260), width="stretch")
st.caption("The singular values, largest first: how much the map stretches its k-th most stretched direction. "
           "Blue points above the red dashed tolerance count towards the rank; a cliff in the spectrum marks where "
           "the map's real dimension ends.")
widgets.download_csv(spectrum, "singular_values.csv", key="lm_dl_spectrum")

# --- Kernel and image -------------------------------------------------------------------------------


def basis_table(vectors, prefix):
    shown = vectors[:SHOWN_COORDS, :SHOWN_VECTORS]
    frame = pd.DataFrame(shown, columns=[f"{prefix}{j + 1}" for j in range(shown.shape[1])])
    frame.insert(0, "coordinate", np.arange(1, len(frame) + 1))
    return frame


c1, c2 = st.columns(2)
with c1:
    st.markdown(f"**Kernel** (dimension {report.nullity}, in R^{n})")
    if report.nullity:
        st.dataframe(basis_table(report.kernel, "k").round(4), hide_index=True, width="stretch")
        leak = float(np.linalg.norm(A.astype(np.float64) @ report.kernel, axis=0).max())
        st.caption(f"Orthonormal columns spanning the dead directions. Check: the largest |W k| over them is "
                   f"{leak:.2g} (≈ 0, up to rounding). Adding any of them to an input changes nothing downstream.")
        widgets.download_npy(report.kernel, "kernel_basis.npy", label="Download kernel basis (.npy)", key="lm_dl_ker")
    else:
        st.caption("Only the zero vector: the map is injective, no input direction is lost.")
with c2:
    st.markdown(f"**Image** (dimension {report.rank}, in R^{m})")
    if report.rank:
        st.dataframe(basis_table(report.image, "u").round(4), hide_index=True, width="stretch")
        st.caption("Orthonormal columns spanning every possible output: whatever the input, W x is a mix of these.")
        widgets.download_npy(report.image, "image_basis.npy", label="Download image basis (.npy)", key="lm_dl_im")
    else:
        st.caption("The zero map: every input goes to 0.")
if max(report.nullity, report.rank) > SHOWN_VECTORS or max(m, n) > SHOWN_COORDS:
    st.caption(f"Tables show at most {SHOWN_VECTORS} basis vectors and their first {SHOWN_COORDS} coordinates; "
               "the downloads have all of them.")

# --- Low-rank approximation ----------------------------------------------------------------------------
st.subheader("The best rank-r version (Eckart-Young)")
p = len(report.singular_values)
r = st.slider("rank r", 0, p, min(max(report.energy_rank, 1), p), key="lm_r")
approx = approximate(A, r, report, (report.tol, report.energy, A.shape))
cols = st.columns(4)
cols[0].metric("spectral error ‖W − W_r‖₂", f"{approx.spectral_error:.4g}",
               help=f"Eckart-Young: no rank-{r} matrix does better than σ_(r+1) = {approx.eckart_young_spectral:.4g}.")
rel = approx.frobenius_error / approx.norm_frobenius if approx.norm_frobenius else 0.0
cols[1].metric("Frobenius error (relative)", f"{rel:.2%}",
               help=f"‖W − W_r‖_F = {approx.frobenius_error:.4g}; optimum √(Σ_(i>r) σ_i²) = "
                    f"{approx.eckart_young_frobenius:.4g}.")
cols[2].metric("parameters r(m + n)", f"{approx.lora_params:,}",
               help=f"{approx.lora_params / approx.full_params:.1%} of the full matrix's m·n.")
cols[3].metric("parameters m·n", f"{approx.full_params:,}")
curve = spectrum.assign(relative_frobenius=spectrum.frobenius_error_rank_k / (approx.norm_frobenius or 1.0))
curve = pd.concat([pd.DataFrame({"k": [0], "relative_frobenius": [1.0 if approx.norm_frobenius else 0.0],
                                 "lora_params_rank_k": [0]}), curve], ignore_index=True)
error_line = alt.Chart(curve).mark_line(point=True).encode(
    x=alt.X("k:Q", title="rank r"), y=alt.Y("relative_frobenius:Q", title="relative Frobenius error",
                                             axis=alt.Axis(format="%")),
    tooltip=["k", alt.Tooltip("relative_frobenius:Q", format=".2%"), alt.Tooltip("lora_params_rank_k:Q", format=",")])
chosen = alt.Chart(pd.DataFrame({"k": [r]})).mark_rule(color="#e45756").encode(x="k:Q")
st.altair_chart((error_line + chosen).properties(height=240), width="stretch")
st.caption(
    f"Keeping the top r singular directions gives the best rank-r map (Eckart-Young): the error is exactly the "
    f"singular values left out. Stored as two factors, (m x r) and (r x n), it needs r(m + n) numbers instead of "
    f"m·n ({approx.lora_params / approx.full_params:.0%} of it at r = {r}); a steep curve here means few ranks capture "
    "most of the map. This compresses W itself. LoRA is something else: it keeps the pretrained W₀ frozen and learns "
    "a low-rank *update* ΔW = BA on top of it (next section).")
widgets.download_csv(curve, "low_rank_error_curve.csv", key="lm_dl_curve")

# --- Composition ----------------------------------------------------------------------------------------
with st.expander("Compose with another map: rank(W B) ≤ min(rank W, rank B)"):
    c1, c2, c3 = st.columns(3)
    inner = c1.number_input("B's input dimension", 1, 512, n, key="lm_b_in")
    rank_b = c2.number_input("rank of B", 0, 512, max(1, n // 2), key="lm_b_rank", help="Clipped to min(n, input).")
    seed_b = c3.number_input("seed of B", 0, 10_000, 1, key="lm_b_seed")
    try:
        composition = linalg.compose(A, linalg.random_low_rank(n, inner, min(rank_b, n, inner), seed=seed_b))
    except ProbingInputError as exc:
        widgets.show_input_error(exc)
    else:
        st.dataframe(composition.to_frame(), hide_index=True, width="stretch")
        st.caption("Doing B first and then W is the single map W B. It cannot pass on more dimensions than either "
                   "step carries, and (Sylvester) it loses at most what B's image shares with W's kernel. Stacking "
                   "linear layers without a nonlinearity never adds rank.")

# --- LoRA: a low-rank update to a frozen W0 ---------------------------------------------------------
st.subheader("LoRA: a low-rank update ΔW = BA to a frozen W₀")
st.markdown(
    "LoRA (Hu et al. 2021) fine-tunes a layer without touching its pretrained weight: `W = W₀ + ΔW` with "
    "`ΔW = B A`, `B` of shape (m, r) and `A` of shape (r, n), so rank(ΔW) ≤ r. By rank-nullity ΔW has a kernel of "
    "dimension at least n − r: the update only changes what the layer does along r input directions. Give the "
    "weight before and after fine-tuning and see how low-rank the update really is.")
lora_source = st.radio("Weights", ["the lesson's Exercise 7 (W₀ 512 x 512, rank-4 update)", "upload W₀ and W"],
                       horizontal=True, key="lm_lora_source")


@st.cache_data(show_spinner="Computing the update's SVD ...", max_entries=8)
def lora_analysis(W0, W, energy):
    return linalg.lora_update(W0, W, energy=energy)


def lora_weights():
    if lora_source.startswith("the lesson"):
        c1, c2, c3, c4 = st.columns(4)
        size = c1.select_slider("m = n", [64, 128, 256, 512], value=512, key="lm_lora_m")
        rank = c2.number_input("update rank r", 0, 64, 4, key="lm_lora_r")
        noise = c3.select_slider("full-rank noise", [0.0, 1e-5, 1e-4, 1e-3], value=0.0, key="lm_lora_noise",
                                 help="Real fine-tuning is not exactly low-rank: add a small full-rank perturbation.")
        seed = c4.number_input("seed", 0, 10_000, 0, key="lm_lora_seed")
        return (*linalg.lora_example(size, size, min(rank, size), noise=noise, seed=seed),
                f"W₀ ~ N(0, 0.02²) of {size} x {size} plus a random rank-{rank} BA (noise {noise:g}).")
    c1, c2 = st.columns(2)
    files = [c.file_uploader(label, type=["npy", "safetensors"], key=key) for c, label, key in
             ((c1, "W₀ (pretrained)", "lm_lora_w0"), (c2, "W (fine-tuned)", "lm_lora_w"))]
    if any(f is None for f in files):
        st.info("Upload the same weight before and after fine-tuning (e.g. a merged LoRA checkpoint and its base "
                "model), as .npy or .safetensors; with several tensors, the first 2-D one with a matching name is used.")
        st.stop()
    arrays = [read_arrays(f) for f in files]
    names = [k for k in arrays[0] if k in arrays[1] and arrays[0][k].ndim == 2] or [None]  # .npy: named by file
    name = st.selectbox("Tensor", names, key="lm_lora_tensor") if len(names) > 1 else names[0]
    source = f"{widgets.escape(files[0].name)} → {widgets.escape(files[1].name)}"
    if name is None:
        first, second = (next(iter(a.values())) for a in arrays)
        return first, second, source
    return arrays[0][name], arrays[1][name], f"Tensor {widgets.escape(name)} from {source}"


try:
    W0, W1, lora_description = lora_weights()
    lora = lora_analysis(W0, W1, energy)
except ProbingInputError as exc:
    widgets.show_input_error(exc)
    st.stop()
lr = lora.report
st.caption(f"{lora_description} ‖ΔW‖_F / ‖W₀‖_F = {lora.relative_size:.3g}.")
rank_metrics(lr, of=" of ΔW")
lora_spectrum = lora.to_frame().head(64)
lora_spectrum["shown"] = np.maximum(lora_spectrum.singular_value, max(lr.singular_values.max(initial=0) * 1e-17,
                                                                        1e-300))
st.altair_chart(alt.Chart(lora_spectrum).mark_line(point=True).encode(
    x=alt.X("k:Q", title="k (largest first)"),
    y=alt.Y("shown:Q", scale=alt.Scale(type="log"), title="singular value of ΔW (log scale)"),
    tooltip=["k", alt.Tooltip("singular_value:Q", format=".4g"), alt.Tooltip("cumulative_energy:Q", format=".2%")]
).properties(height=240), width="stretch")
st.caption(
    f"The first {len(lora_spectrum)} singular values of ΔW = W − W₀. An update of rank r shows r values and then "
    "a cliff down to rounding (the lesson's Exercise 7(d): only 4 are non-zero for a rank-4 update); real "
    "fine-tuning adds a floor of small values, which is why the entropy and energy ranks, not the numerical rank, "
    f"tell how many directions the update uses. A LoRA of rank {lr.energy_rank} (the energy rank) would reproduce "
    f"{energy:.0%} of this update with r(m + n) = {lora.lora_params:,} numbers instead of m·n = {lora.delta.size:,}.")
widgets.download_csv(lora.to_frame(), "lora_update_spectrum.csv", key="lm_dl_lora")
