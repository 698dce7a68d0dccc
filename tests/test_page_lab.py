"""The Linear-algebra lab shows the lessons' numbers for their own examples, and typed-input errors as error boxes."""

import numpy as np
import pytest
from conftest import run_page


def metrics(at) -> dict:
    return {m.label: m.value for m in at.metric}


def frame_with(at, column):
    (frame,) = [d.value for d in at.dataframe if column in d.value.columns]
    return frame


@pytest.fixture(scope="module")
def lab():
    return run_page("lab")


def test_level2_example_is_the_default_and_shows_the_lessons_numbers(lab):
    shown = metrics(lab)
    assert (shown["shape"], shown["rank"], shown["nullity"], shown["dim ker(Aᵀ)"]) == ("3 x 2", "1", "1", "2")
    assert shown["condition number"] == "∞"
    assert shown["‖b − A x‖ (residual)"] == f"{np.sqrt(378) / 14:.4g}"
    assert float(shown["max |Aᵀ (b − A x)|"]) < 1e-12
    text = " ".join(m.value for m in lab.markdown)
    assert "A x = (0.9286, 1.857, 2.786)" in text  # (13/14)(1, 2, 3)
    assert "x = pinv(A) b = (0.1857, 0.3714)" in text
    assert any(w.value.startswith("Inconsistent and not unique") for w in lab.warning)
    assert any("= m = 3 (output dimension of A): holds" in s.value for s in lab.success)
    assert list(frame_with(lab, "lives in")["dimension"]) == [1, 1, 1, 2]


def test_exercise6_composition_and_softmax_jacobian(lab):
    text = " ".join(m.value for m in lab.markdown)
    assert "rotate by **45°**, scale by **2**, translate by **(2, 1)**" in text
    assert "goes to (3.4142, 2.4142) by the product and to (3.4142, 2.4142) by f₁ then f₂" in text
    M1, M2, product = [d.value[["c1", "c2", "c3"]].to_numpy() for d in lab.dataframe if "c3" in d.value.columns]
    r = np.sqrt(2)
    np.testing.assert_allclose(M1, [[1 / r, -1 / r, 1], [1 / r, 1 / r, 0], [0, 0, 1]], atol=1e-4)
    np.testing.assert_allclose(M2, [[2, 0, 0], [0, 2, 1], [0, 0, 1]])
    np.testing.assert_allclose(product, [[r, -r, 2], [r, r, 1], [0, 0, 1]], atol=1e-4)
    shown = metrics(lab)
    assert shown["rank of J"] == "3 of 4"  # softmax: rank n - 1
    assert float(shown["‖J · 1‖"]) < 1e-12
    assert float(shown["max |analytic − finite differences|"]) < 1e-6


def test_backprop_is_w_transpose_times_the_gradient(lab):
    grads = frame_with(lab, "finite differences")
    np.testing.assert_allclose(grads["Wᵀ (J_actᵀ dL/da)"], [3.0, 6.0, 0.0])  # Wᵀ (3, 0) for W = [[1,2,0],[0,1,-1]]
    np.testing.assert_allclose(grads["finite differences"], [3.0, 6.0, 0.0], atol=1e-6)


def test_change_of_basis_and_whitening_defaults(lab):
    frames = [d.value for d in lab.dataframe if list(d.value.columns) == ["row", "c1", "c2"]]
    A, P, B, W, WCWt = (f[["c1", "c2"]].to_numpy() for f in frames)
    np.testing.assert_allclose(A, [[3, 1], [0, 3]])
    np.testing.assert_allclose(P, [[1, 1], [0, 1]])
    np.testing.assert_allclose(B, [[3, 1], [0, 3]])  # the lesson's Section 3.3 example (it prints [[3, 2], [0, 3]])
    np.testing.assert_allclose(W @ np.array([[3, 2], [2, 2]]) @ W.T, np.eye(2), atol=1e-3)  # W shown to 4 decimals
    np.testing.assert_allclose(WCWt, np.eye(2), atol=1e-4)


def test_picking_examples_fills_the_inputs():
    at = run_page("lab")
    at.selectbox(key="lab_example").set_value(
        next(k for k in at.selectbox(key="lab_example").options if k.startswith("Appendix D.1"))).run()
    assert at.text_area(key="lab_A").value.splitlines()[0] == "1 2 -1 0"
    shown = metrics(at)
    assert (shown["rank"], shown["nullity"]) == ("2", "2")
    assert any(s.value.startswith("Consistent and not unique") for s in at.success)
    assert any(c.value.startswith("The lesson says: pivots in columns 1 and 4") for c in at.caption)
    at.selectbox(key="lab_cob_example").set_value(
        next(k for k in at.selectbox(key="lab_cob_example").options if k.startswith("Exercise 2"))).run()
    frames = [d.value for d in at.dataframe if list(d.value.columns) == ["row", "c1", "c2"]]
    np.testing.assert_allclose(frames[2][["c1", "c2"]].to_numpy(), [[1, 0], [0, -1]], atol=1e-4)
    assert any("Here P⁻¹AP is diagonal" in c.value for c in at.caption)
    at.selectbox(key="lab_fn").set_value("linear map W x").run()
    assert any("linear (both properties hold" in s.value for s in at.success)
    assert not at.error


def literal(element) -> str:
    """The text an error box shows: its markdown with the escaping backslashes removed."""
    return element.value.replace("\\", "")


def test_typed_mistakes_show_what_to_fix():
    at = run_page("lab")
    at.text_area(key="lab_A").input("1 2; 2 4; 3 7").run()
    assert any(c.value.startswith("You changed the example") for c in at.caption)
    at.text_area(key="lab_A").input("1 2; 3 4 5").run()
    assert any("ragged rows: row 1 has 2 entries but row 2 has 3" in literal(e) for e in at.error)
    at.text_area(key="lab_A").input("1 2; 3 x").run()
    assert any("`x` in row 2, column 2 is not a number" in literal(e) for e in at.error)
    at.text_area(key="lab_A").input("1 2; 3 4").run()
    assert any("b has 3 entries but needs 2" in literal(e) for e in at.error)
    at.text_area(key="lab_cob_P").input("1 2; 2 4").run()
    assert any("P is singular" in literal(e) for e in at.error)
    assert not at.exception
