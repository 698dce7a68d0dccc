"""The Superposition page renders with its defaults and reacts to controls."""

from conftest import run_page


def test_superposition_page_renders_defaults():
    at = run_page("superposition", timeout=240)
    text = " ".join(c.value for c in at.caption)
    assert "pentagon" in text and "superposed" in text.lower()
    assert not at.info  # m = 2 < n = 5: no "no pressure" note


def test_superposition_page_notes_no_pressure_when_m_at_least_n():
    at = run_page("superposition", timeout=240)
    at.number_input(key="sup_m").set_value(6).run()
    assert not at.exception and not at.error
    assert any("no pressure" in info.value for info in at.info)


def test_interference_section_has_a_concept_cosine_that_makes_two_features_overlap():
    at = run_page("superposition", timeout=240)
    cosine = at.slider(key="sup_cosine")
    assert cosine.value > 0 and not cosine.disabled  # the lesson's Exercise 8(d): 2 concepts in d = 3
    assert (at.slider(key="sup_concepts").value, at.slider(key="sup_d").value) == (2, 3)
    captions = " ".join(c.value for c in at.caption)
    assert f"The directions overlap (max |cos| = {cosine.value:.2f})" in captions
    cosine.set_value(0.0).run()
    captions = " ".join(c.value for c in at.caption)
    assert "The 2 directions are at right angles (max |cos| = 0.00): no interference" in captions
    at.slider(key="sup_concepts").set_value(20).run()
    assert at.slider(key="sup_cosine").disabled  # 20 concepts in d = 3 cannot have a chosen cosine
    assert not at.error and not at.exception
