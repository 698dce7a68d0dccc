"""The Linear maps page's LoRA section reads the rank of the update ΔW = W − W₀, not of W."""

from conftest import run_page


def test_lora_section_shows_the_rank_of_the_update():
    at = run_page("linear_maps")
    shown = {m.label: m.value for m in at.metric}
    assert shown["rank of ΔW"] == "4" and shown["nullity of ΔW"] == "508"  # the lesson's Exercise 7
    assert float(shown["entropy effective rank of ΔW"]) <= 4.0
    assert not any("the LoRA view" in s.value for s in at.subheader)
    at.select_slider(key="lm_lora_noise").set_value(1e-4).run()
    shown = {m.label: m.value for m in at.metric}
    assert shown["rank of ΔW"] == "512"  # noise makes the update full rank ...
    assert shown["rank for 90.0% energy of ΔW"] == "4"  # ... but four directions still carry 90% of it
    assert not at.error
