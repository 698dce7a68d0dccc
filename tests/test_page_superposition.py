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
