"""Linear-algebra lab: type a matrix (or take one of the lessons' examples) and see what the lessons teach."""

import altair as alt
import numpy as np
import pandas as pd
import streamlit as st

from dashboard import linalg_charts, links, widgets
from probing import ProbingInputError, linalg

st.title("Linear-algebra lab")
links.share("lab_example", "lab_A", "lab_b", "lab_svd_example", "lab_svd", "lab_fn", "lab_fn_n", "lab_fn_seed",
            "lab_jac_fn", "lab_jac_z", "lab_W", "lab_x", "lab_target", "lab_act", "lab_a1", "lab_s1", "lab_t1",
            "lab_a2", "lab_s2", "lab_t2", "lab_point", "lab_cob_example", "lab_cob_A", "lab_cob_P", "lab_cov")
st.markdown(
    "Every page of this dashboard rests on a little linear algebra: a layer is a matrix, a probe is a direction, "
    "PCA is a change of basis. Here you type a matrix (`1 2; 3 4`, or one row per line; commas are fine) or pick "
    "one of the lessons' own examples, and see what it does. Nothing here needs a dataset.")


def typed(key: str, default: str, label: str, parse, height: int = 100, **kwargs):
    """A text area pre-filled with ``default``; returns the parsed value or shows the input error and returns None."""
    st.session_state.setdefault(key, default)
    text = st.text_area(label, key=key, height=height)
    try:
        return parse(text, **kwargs)
    except ProbingInputError as exc:
        widgets.show_input_error(exc)
        return None


def preset(example_key: str, examples: dict, fields: tuple[str, ...], formats: tuple) -> None:
    """Copy the chosen example's matrices into the text areas (an ``on_change`` callback)."""
    chosen = examples.get(st.session_state[example_key])
    if chosen is not None:
        for field, fmt, value in zip(fields, formats, chosen):
            st.session_state[field] = fmt(value)


def lesson_note(chosen, typed_values) -> None:
    """What the lesson says about the chosen example, flagged when the typed values no longer match it."""
    if chosen is None:
        return
    same = all(v is not None and np.shape(v) == np.shape(e) and np.allclose(v, e)
               for v, e in zip(typed_values, chosen))
    st.caption(("The lesson says: " if same else "You changed the example; the lesson said about the original: ")
               + chosen[-1])


def matrix_view(M, title: str) -> None:
    st.markdown(f"**{title}**")
    st.dataframe(linalg_charts.matrix_table(M).round(4), hide_index=True)


# --- 1. The four subspaces and A x = b --------------------------------------------------------------------
st.header("1. The four subspaces, rank-nullity and A x = b")
TYPE_OWN = "type your own"
first = next(iter(linalg.LESSON_MAPS.values()))
example = st.selectbox("Example", list(linalg.LESSON_MAPS) + [TYPE_OWN], key="lab_example",
                       on_change=preset, args=("lab_example", linalg.LESSON_MAPS, ("lab_A", "lab_b"),
                                               (linalg.format_matrix, linalg.format_vector)))
c1, c2 = st.columns([3, 2])
with c1:
    A = typed("lab_A", linalg.format_matrix(first[0]), "Matrix A (m x n, up to 50 x 50)", linalg.parse_matrix)
with c2:
    b = typed("lab_b", linalg.format_vector(first[1]), "Vector b (one entry per row of A)", linalg.parse_vector,
              what="b", length=None if A is None else len(A))
lesson_note(linalg.LESSON_MAPS.get(example), (A, b))
if A is not None and b is not None:
    solution = linalg.solve(A, b)
    report = solution.report
    m, n = report.shape
    cols = st.columns(5)
    cols[0].metric("shape", f"{m} x {n}", help=f"A map from R^{n} (inputs) to R^{m} (outputs).")
    cols[1].metric("rank", report.rank, help=f"Singular values above tol = {report.tol:.3g}.")
    cols[2].metric("nullity", report.nullity, help="dim ker(A): input directions sent to 0.")
    cols[3].metric("dim ker(Aᵀ)", m - report.rank, help="The left null space: outputs no input reaches.")
    cond = report.condition_number
    cols[4].metric("condition number", "∞" if not np.isfinite(cond) else f"{cond:.4g}",
                   help="σ_max / σ_min: about log10 of it digits are lost when solving A x = b; ∞ when rank-deficient.")
    st.success(report.rank_nullity() + "  \n" + report.rank_nullity(transpose=True))
    st.dataframe(report.subspaces(), hide_index=True, width="stretch")
    st.caption(
        "Row space and kernel split the inputs: every x is a part the map listens to plus a part it kills, at right "
        "angles. Column space and left null space split the outputs the same way. So rank counts twice (columns and "
        "rows), and rank-nullity holds for A (n inputs) and for Aᵀ (m inputs).")
    bases = pd.concat([pd.DataFrame(V, columns=[f"v{j + 1}" for j in range(V.shape[1])]).assign(
        subspace=name, coordinate=np.arange(1, len(V) + 1)) for name, V in
        (("row space", report.row_space), ("kernel", report.kernel), ("column space", report.image),
         ("left null space", report.left_null_space)) if V.shape[1]], ignore_index=True)
    with st.expander("Orthonormal bases of the four subspaces (from the SVD)"):
        st.dataframe(bases.round(4), hide_index=True, width="stretch")
        widgets.download_csv(bases, "four_subspaces.csv", key="lab_dl_bases")

    st.subheader("Is A x = b solvable?")
    (st.success if solution.consistent else st.warning)(
        f"{'Consistent' if solution.consistent else 'Inconsistent'} and "
        f"{'unique' if solution.unique else 'not unique'}: {solution.verdict()}.")
    k1, k2, k3 = st.columns(3)
    k1.metric("‖b − A x‖ (residual)", f"{solution.residual_norm:.4g}")
    k2.metric("max |Aᵀ (b − A x)|", f"{np.abs(A.T @ solution.residual).max():.1e}",
              help="The residual is orthogonal to every column of A: it lies in the left null space.")
    k3.metric("‖x‖ (minimum norm)", f"{np.linalg.norm(solution.x):.4g}")
    st.markdown("x = pinv(A) b = (" + ", ".join(f"{v:.4g}" for v in solution.x) + "); projection of b onto the "
                "column space A x = (" + ", ".join(f"{v:.4g}" for v in solution.fitted) + ")")
    split = solution.to_frame()
    long = split.melt("coordinate", var_name="vector", value_name="value")
    st.altair_chart(alt.Chart(long).mark_bar().encode(
        x=alt.X("vector:N", title=None, sort=list(split.columns[1:]), axis=None), y=alt.Y("value:Q"),
        color=alt.Color("vector:N", sort=list(split.columns[1:]), title=None),
        column=alt.Column("coordinate:O", title="output coordinate"),
        tooltip=[alt.Tooltip("coordinate"), alt.Tooltip("vector"), alt.Tooltip("value:Q", format=".4f")]).properties(width=90, height=200),
        width="content")
    st.caption(
        "b splits into its projection onto the column space, A x (what the map can produce), plus the residual, "
        "which lies in the left null space. The projection is computed from the SVD, U_r U_rᵀ b, not from "
        "A (AᵀA)⁻¹ Aᵀ b: that formula needs full column rank and fails on the lesson's Level 2 example, where it "
        "should give (13/14)(1, 2, 3). When the residual is 0, b is reachable and A x = b has solutions: exactly one "
        "if the kernel is {0}, else x plus any kernel vector.")
    widgets.download_csv(split, "projection_of_b.csv", key="lab_dl_split")

# --- 2. The SVD as a picture -------------------------------------------------------------------------------
st.header("2. The SVD: rotate, stretch, rotate")
SVD_EXAMPLES = {"shear [[1, 1], [0, 1]]": [[1, 1], [0, 1]], "scale (x2, y0.5)": [[2, 0], [0, 0.5]],
                "rotation 90°": [[0, -1], [1, 0]], "reflection over the x-axis": [[1, 0], [0, -1]],
                "symmetric [[2, 1], [1, 2]]": [[2, 1], [1, 2]], "singular [[1, 2], [2, 4]]": [[1, 2], [2, 4]]}
c1, c2 = st.columns([2, 3])
c1.selectbox("2 x 2 example (the lesson's Part 7 pictures)", list(SVD_EXAMPLES), key="lab_svd_example",
             on_change=preset, args=("lab_svd_example", {k: (v,) for k, v in SVD_EXAMPLES.items()}, ("lab_svd",),
                                     (linalg.format_matrix,)))
with c2:
    M = typed("lab_svd", linalg.format_matrix(SVD_EXAMPLES["shear [[1, 1], [0, 1]]"]), "2 x 2 matrix",
              linalg.parse_matrix, height=80, what="the 2 x 2 matrix")
if M is not None and M.shape != (2, 2):
    widgets.show_input_error(ProbingInputError(f"The picture needs a 2 x 2 matrix; got {M.shape[0]} x {M.shape[1]}."))
elif M is not None:
    steps = linalg.svd_steps(M)
    chart, frame = linalg_charts.svd_picture(steps)
    st.altair_chart(chart, width="content")
    cols = st.columns(4)
    cols[0].metric("σ₁ (long semi-axis)", f"{steps.s[0]:.4g}")
    cols[1].metric("σ₂ (short semi-axis)", f"{steps.s[1]:.4g}")
    cols[2].metric("condition number σ₁/σ₂", "∞" if steps.s[1] <= linalg.analyze_map(M).tol else
                   f"{steps.s[0] / steps.s[1]:.4g}")
    cols[3].metric("|det A| = σ₁ σ₂", f"{abs(np.linalg.det(M)):.4g}")
    st.caption(
        f"Every matrix is a rotation, a stretch along the axes, and another rotation: A = U Σ Vᵀ. Vᵀ turns the unit "
        f"circle by {steps.first_angle:.1f}° so the right singular vectors v₁, v₂ (red, green) lie on the axes; Σ "
        f"stretches the axes by σ₁ = {steps.s[0]:.3g} and σ₂ = {steps.s[1]:.3g}, making an ellipse; U "
        + ("reflects it (det A < 0) and turns it" if steps.reflects else f"turns it by {steps.last_angle:.1f}°")
        + " into place. The singular values are the ellipse's semi-axes; their ratio, the condition number, says how "
        "unevenly the map stretches space (∞: a direction is flattened to 0, the map is singular).")
    widgets.download_csv(frame, "svd_unit_circle.csv", key="lab_dl_svd")

# --- 3. Linearity ------------------------------------------------------------------------------------------
st.header("3. Is it linear? Additivity and homogeneity on random inputs")
c1, c2, c3 = st.columns(3)
name = c1.selectbox("Function T", linalg.LESSON_FUNCTIONS, index=2, key="lab_fn")
n_in = c2.number_input("input dimension n", 1, 50, 4, key="lab_fn_n")
seed = c3.number_input("seed", 0, 10_000, 0, key="lab_fn_seed")
function = linalg.lesson_function(name, int(n_in), seed=int(seed))
linearity = linalg.linearity_report(function, int(n_in), seed=int(seed))
(st.success if linearity.linear else st.warning)(
    f"{function.formula}: " + ("linear (both properties hold on every trial)." if linearity.linear else
                               "not linear."))
st.dataframe(linearity.summary(), hide_index=True, width="stretch")
if linearity.counterexamples:
    columns = st.columns(len(linearity.counterexamples))
    for column, (prop, case) in zip(columns, linearity.counterexamples.items()):
        column.markdown(f"**Worst counterexample to {prop}** (relative gap {case['gap']:.3g})")
        column.dataframe(pd.DataFrame({"": [k for k in case if k != "gap"], "value": [
            ", ".join(f"{v + 0.0:.4g}" for v in np.atleast_1d(case[k])) for k in case if k != "gap"]}), hide_index=True,
            width="stretch")
gaps = linearity.to_frame()
gaps["shown"] = np.maximum(gaps.gap, 1e-17)
st.altair_chart(alt.Chart(gaps).mark_tick(thickness=2).encode(
    x=alt.X("shown:Q", scale=alt.Scale(type="log"), title="relative gap (log scale; rounding is ~1e-16)"),
    y=alt.Y("property:N", title=None), tooltip=[alt.Tooltip("trial"), alt.Tooltip("property"),
                                                alt.Tooltip("gap:Q", format=".3g")]
).properties(height=120), width="stretch")
st.caption(
    "Each tick is one random trial: u, v ~ N(0, I) and a scalar c (negative ones too). A linear map's gaps are "
    "rounding (~1e-16). A translation fails the zero test, T(0) ≠ 0; ReLU is linear on each orthant but not across "
    "sign changes; softmax is shift-invariant, not scale-equivariant; x² and the norm fail homogeneity (‖−u‖ = ‖u‖). "
    "Stacking linear layers without such a nonlinearity gives one linear layer: W₂(W₁x) = (W₂W₁)x.")
widgets.download_csv(gaps.drop(columns="shown"), "linearity_gaps.csv", key="lab_dl_lin")

# --- 4. Jacobians and backpropagation ---------------------------------------------------------------------
st.header("4. Jacobians: the linear map near a point")
c1, c2 = st.columns([1, 2])
jac_name = c1.selectbox("Function", ["softmax", "ReLU", "LayerNorm", "linear map W x", "x² (elementwise)"],
                        key="lab_jac_fn")
with c2:
    z = typed("lab_jac_z", "2 1 0.1 -1", "Point z", linalg.parse_vector, height=68, what="z")
if z is not None:
    f = linalg.lesson_function(jac_name, len(z), seed=0)
    J = linalg.jacobian(f, z)
    J_report = linalg.analyze_map(J)
    check = float(np.abs(J - linalg.numerical_jacobian(f, z)).max())
    cols = st.columns(4)
    cols[0].metric("rank of J", f"{J_report.rank} of {len(z)}")
    cols[1].metric("‖J · 1‖", f"{np.linalg.norm(J @ np.ones(len(z))):.1e}",
                   help="J applied to the constant vector (1, ..., 1).")
    cols[2].metric("σ_max of J", f"{J_report.singular_values[0]:.4g}")
    cols[3].metric("max |analytic − finite differences|", f"{check:.1e}")
    cells = pd.DataFrame([(i + 1, j + 1, J[i, j]) for i in range(J.shape[0]) for j in range(J.shape[1])],
                         columns=["output i", "input j", "J_ij"])
    limit = float(np.abs(J).max()) or 1.0
    grid = alt.Chart(cells).encode(x=alt.X("input j:O"), y=alt.Y("output i:O"))
    st.altair_chart(alt.layer(
        grid.mark_rect().encode(color=alt.Color("J_ij:Q", scale=alt.Scale(scheme="redblue", domain=[-limit, limit],
                                                                          reverse=True))),
        grid.mark_text(fontSize=11).encode(text=alt.Text("J_ij:Q", format=".3f"))).properties(
        width=max(320, min(90 * len(z), 700)), height=max(200, min(50 * len(z), 500))), width="content")
    notes = {"softmax": "J = diag(s) − s sᵀ (the lesson's Exercise 5): symmetric, rows sum to 0, so J · 1 = 0 — adding "
                        "a constant to every logit changes nothing — and the rank is at most n − 1.",
             "ReLU": "J = diag(1[z > 0]): a 0/1 diagonal. Backprop through ReLU zeroes the gradient of every unit "
                     "that was off (a 'dead' unit passes nothing back).",
             "LayerNorm": "J = (I − 11ᵀ/n − y yᵀ/n) / σ: it kills the constant vector (J · 1 = 0, mean subtraction) "
                          "and nearly kills y itself (rescaling x barely changes LayerNorm(x)).",
             "linear map W x": "The Jacobian of x ↦ W x is W itself, everywhere: a linear map is its own best linear "
                               "approximation.",
             "x² (elementwise)": "J = diag(2z): it depends on the point, as it does for every nonlinear map."}
    st.caption(f"Entry (i, j) is ∂T_i/∂z_j at z. {notes[jac_name]}")
    widgets.download_csv(cells, "jacobian.csv", key="lab_dl_jac")

st.subheader("Backpropagation through a linear layer multiplies by Wᵀ")
c1, c2, c3, c4 = st.columns([2, 1, 1, 1])
with c1:
    W = typed("lab_W", "1 2 0\n0 1 -1", "Weight W (m x n)", linalg.parse_matrix, height=80, what="W")
with c2:
    x = typed("lab_x", "1 1 1", "input x", linalg.parse_vector, height=80, what="x")
with c3:
    target = typed("lab_target", "0 0", "target", linalg.parse_vector, height=80, what="target")
activation = c4.radio("activation", ["none", "ReLU"], key="lab_act")
if W is not None and x is not None and target is not None:
    try:
        back = linalg.linear_layer_backprop(W, x, target, activation)
    except ProbingInputError as exc:
        widgets.show_input_error(exc)
    else:
        grads = back.to_frame()
        st.dataframe(grads.round(6), hide_index=True)
        st.caption(
            f"Loss ½‖a − target‖² = {back.loss:.4g} with a = {activation if activation != 'none' else 'identity'}"
            f"(W x). Forward, the layer multiplies by W; backward, the gradient goes through the transposes in "
            f"reverse order: ∂L/∂x = Wᵀ (J_actᵀ ∂L/∂a) = Wᵀ ({', '.join(f'{v:.3g}' for v in back.grad_z)}). The "
            "finite-difference column checks it. Wᵀ is the dual map: it sends a gradient on the outputs back to the "
            "inputs.")
        widgets.download_csv(grads, "backprop_linear_layer.csv", key="lab_dl_back")

# --- 5. Affine maps ----------------------------------------------------------------------------------------
st.header("5. Affine maps in homogeneous coordinates")
st.markdown("The lesson's Exercise 6: f₁ rotates by 45° then translates by (1, 0); f₂ scales by 2 then translates by "
            "(0, 1). Append a 1 to each point and each affine map becomes one 3 x 3 matrix.")


def affine_inputs(column, tag, angle, scale, shift):
    with column:
        st.markdown(f"**f{tag}**")
        a = st.number_input("rotate (degrees)", -360.0, 360.0, angle, 5.0, key=f"lab_a{tag}")
        s = st.number_input("scale", -10.0, 10.0, scale, 0.5, key=f"lab_s{tag}")
        t = typed(f"lab_t{tag}", shift, "then translate by", linalg.parse_vector, height=68, what="translation",
                  length=2)
    return None if t is None else linalg.rotate_scale_translate(a, s, t)


c1, c2, c3 = st.columns(3)
M1, M2 = affine_inputs(c1, 1, 45.0, 1.0, "1 0"), affine_inputs(c2, 2, 0.0, 2.0, "0 1")
with c3:
    point = typed("lab_point", "1 0", "point", linalg.parse_vector, height=68, what="point", length=2)
if M1 is not None and M2 is not None and point is not None:
    affine = linalg.compose_affine(M1, M2, point)
    c1, c2, c3 = st.columns(3)
    for column, (title, Mx) in zip((c1, c2, c3), (("M̃₁", M1), ("M̃₂", M2), ("M̃₂ M̃₁ (f₁ first)", affine.product))):
        with column:
            matrix_view(Mx, title)
    scales = affine.scales
    st.markdown(
        f"Effective map: rotate by **{affine.rotation_degrees:.4g}°**, scale by **"
        + (f"{scales[0]:.4g}" if np.isclose(scales[0], scales[1]) else f"{scales[0]:.4g} and {scales[1]:.4g}")
        + f"**, translate by **({affine.translation[0]:.4g}, {affine.translation[1]:.4g})**. The point "
        f"({point[0]:g}, {point[1]:g}) goes to ({affine.via_product[0]:.4f}, {affine.via_product[1]:.4f}) by the "
        f"product and to ({affine.via_steps[0]:.4f}, {affine.via_steps[1]:.4f}) by f₁ then f₂.")
    shape = np.array([[0, 0], [1, 0], [1, 0.5], [0.5, 0.5], [0.5, 1], [0, 1], [0, 0]], dtype=float)
    stages = [("original", shape), ("after f₁", linalg.apply_affine(M1, shape)),
              ("after f₂ ∘ f₁", linalg.apply_affine(affine.product, shape))]
    outline = pd.concat([pd.DataFrame({"stage": s, "order": np.arange(len(p)), "x": p[:, 0], "y": p[:, 1]})
                         for s, p in stages], ignore_index=True)
    extent = float(np.abs(outline[["x", "y"]]).max().max()) * 1.1
    axis = alt.Scale(domain=[-extent, extent])
    st.altair_chart(alt.Chart(outline).mark_line(point=True).encode(
        x=alt.X("x:Q", scale=axis), y=alt.Y("y:Q", scale=axis), color=alt.Color("stage:N", sort=[s for s, _ in stages]),
        order=alt.Order("order:Q"),
        tooltip=[alt.Tooltip("stage"), alt.Tooltip("x:Q", format=".3f"), alt.Tooltip("y:Q", format=".3f")]
    ).properties(width=460, height=460), width="content")
    st.caption("An L-shaped outline through both maps. The bottom row (0, 0, 1) keeps the 1 in place, so the "
               "translation column acts like any other column: composing affine maps is multiplying their matrices, "
               "[[A₂, t₂], [0, 1]] [[A₁, t₁], [0, 1]] = [[A₂A₁, A₂t₁ + t₂], [0, 1]]. A layer W x + b is one such "
               "matrix, so affine layers without a nonlinearity collapse into one.")
    widgets.download_csv(outline, "affine_maps.csv", key="lab_dl_affine")

# --- 6. Change of basis ------------------------------------------------------------------------------------
st.header("6. Change of basis: the same map in new coordinates")
first_basis = next(iter(linalg.LESSON_BASES.values()))
basis_example = st.selectbox(
    "Example", list(linalg.LESSON_BASES) + [TYPE_OWN], key="lab_cob_example", on_change=preset,
    args=("lab_cob_example", linalg.LESSON_BASES, ("lab_cob_A", "lab_cob_P"),
          (linalg.format_matrix, linalg.format_matrix)))
c1, c2 = st.columns(2)
with c1:
    A_map = typed("lab_cob_A", linalg.format_matrix(first_basis[0]), "Map A (n x n, old coordinates)",
                  linalg.parse_matrix, height=80)
with c2:
    P = typed("lab_cob_P", linalg.format_matrix(first_basis[1]), "New basis P (its columns are the basis vectors)",
              linalg.parse_matrix, height=80, what="P")
    use_eigen = st.checkbox("Use A's eigenvectors instead (diagonalise A)", key="lab_cob_eigen")
lesson_note(linalg.LESSON_BASES.get(basis_example), (A_map, P))
if A_map is not None and P is not None:
    try:
        change = linalg.same_map_two_bases(A_map, None if use_eigen else P)
    except ProbingInputError as exc:
        widgets.show_input_error(exc)
    else:
        if change.note:
            st.info(change.note)
        c1, c2, c3 = st.columns(3)
        for column, (title, Mx) in zip((c1, c2, c3), (("A", change.A), ("P", change.P), ("[T]_B' = P⁻¹ A P", change.B))):
            with column:
                matrix_view(Mx, title)
        st.dataframe(change.invariants(), hide_index=True)
        if change.A.shape == (2, 2):
            left, grid_a = linalg_charts.map_picture(change.A, "Old coordinates: A", linalg_charts.arrows(
                change.P, ["p1", "p2"], linalg_charts.KINDS[4]), size=300)
            right, grid_b = linalg_charts.map_picture(change.B, "New coordinates: P⁻¹ A P", size=300)
            st.altair_chart(alt.hconcat(left, right), width="content")
        st.caption(
            "A vector with new coordinates c is P c in old ones, so the map in new coordinates is P⁻¹ A P: apply P, "
            "then A, then go back. The numbers change, the map does not: trace, determinant, rank and eigenvalues "
            "agree. " + ("Here P⁻¹AP is diagonal: in this basis the map only scales each axis."
                         if change.diagonal else "Tick 'eigenvectors' to find a basis where it is diagonal, if any.")
            + (" Grey: the unit grid; blue: its image; red: the columns of each matrix; green: p1, p2."
               if change.A.shape == (2, 2) else ""))
        if change.A.shape == (2, 2):
            widgets.download_csv(pd.concat([grid_a.assign(picture="old"), grid_b.assign(picture="new")]),
                                 "change_of_basis_grid.csv", key="lab_dl_cob")

st.subheader("Whitening: the change of basis that turns a covariance into the identity")
C = typed("lab_cov", "3 2\n2 2", "Covariance C (symmetric; the lesson's Part 5 example)", linalg.parse_matrix,
          height=80, what="C")
if C is not None:
    try:
        white = linalg.whitening(C)
    except ProbingInputError as exc:
        widgets.show_input_error(exc)
    else:
        c1, c2 = st.columns(2)
        with c1:
            matrix_view(white.transform, "W = Λ^(−1/2) Qᵀ")
        with c2:
            matrix_view(white.transform @ C @ white.transform.T, "W C Wᵀ")
        st.caption(
            f"PCA finds the eigenbasis Q of C (variances {', '.join(f'{v:.4g}' for v in white.variances)}); "
            "whitening also divides each new coordinate by its standard deviation. In the new basis P = Q Λ^(1/2) "
            "the covariance is the identity: every direction has variance 1 and no two are correlated"
            + (f". {white.dropped} direction(s) with zero variance cannot be rescaled and are dropped."
               if white.dropped else "."))
        if white.basis.shape == (2, 2):
            contour = white.contour()
            reach = alt.Scale(domain=[-float(np.abs(contour[["x", "y"]]).max().max()) * 1.05,
                                      float(np.abs(contour[["x", "y"]]).max().max()) * 1.05])
            st.altair_chart(alt.Chart(contour).mark_line().encode(
                x=alt.X("x:Q", scale=reach), y=alt.Y("y:Q", scale=reach), color=alt.Color("stage:N", title=None),
                order=alt.Order("order:Q"),
                tooltip=[alt.Tooltip("stage"), alt.Tooltip("x:Q", format=".3f"), alt.Tooltip("y:Q", format=".3f")]
            ).properties(width=360, height=360), width="content")
            st.caption("The one-standard-deviation ellipse of C (its axes are the eigenvectors, as long as the standard "
                       "deviations) and its image under W: the unit circle.")
            widgets.download_csv(contour, "whitening_contour.csv", key="lab_dl_white")
