"""The Steering page renders for synthetic data and runs the erasure panel and a model sweep."""

import json

import numpy as np
import pytest

from probing.synthetic import make_concept_embeddings


def activate_synthetic(at):
    aset, _ = make_concept_embeddings(n_samples=300, d=16, n_layers=3, seed=2, name="synthetic steering")
    at.session_state["datasets"][aset.name] = aset
    at.session_state["dataset"] = aset


def test_steering_page_on_synthetic_data(page_runner):
    at = page_runner("steering", setup=activate_synthetic)
    assert any("cos(v, probe direction)" in m.label for m in at.metric)
    at.toggle(key="steer_erase").set_value(True).run()
    assert not at.exception and not at.error
    assert any("LEACE" in c.value for c in at.caption)


@pytest.mark.model
def test_steering_page_runs_the_model_on_the_default_dataset(page_runner):
    at = page_runner("steering")
    assert "text" in at.session_state["dataset"].meta, "the bundled MiniLM sentiment set ships with the repository"
    at.text_area(key="steer_texts").set_value("What a wonderful day.\nThis was a terrible film.").run()
    at.button(key="steer_run_model").click().run()
    assert not at.exception and not at.error
    sweep = at.session_state["steer_model_sweep"].to_frame()
    assert list(sweep["alpha"]) == [-2.0, 0.0, 2.0]
    assert np.all(np.diff(sweep["mean_score"]) > 0)
    specs = [json.loads(c.proto.spec) for c in [*at.get("arrow_vega_lite_chart"), *at.get("vega_lite_chart")]]
    model_chart = next(s for s in specs if "through the model" in str(s.get("title")))
    assert len(model_chart["encoding"]["y"]["title"]) <= 40  # fits the axis (was cut: "...at the last lay")


@pytest.mark.model
def test_decoder_section_writes_the_baseline_a_steered_and_a_control_text(page_runner):
    from dashboard import models
    from probing.generation import generate
    from tests.conftest import chart_frames

    at = page_runner("steering")
    assert at.selectbox(key="steer_lm_model").value == models.TINY
    assert "steer_lm_prompts" not in [t.key for t in at.text_area]  # nothing is loaded before the click
    at.toggle(key="steer_lm_open").set_value(True).run()
    prompts = ["I think this movie is", "The food at the restaurant was"]
    at.text_area(key="steer_lm_prompts").set_value("\n".join(prompts)).run()
    at.multiselect(key="steer_lm_alphas").set_value([0, 2]).run()
    at.slider(key="steer_lm_tokens").set_value(8).run()
    at.button(key="steer_lm_run").click().run()
    assert not at.exception and not at.error
    side = at.dataframe[-1].value
    tiny = models.shared_model(models.TINY)
    assert side["prompt"].tolist() == prompts
    assert side["baseline"].tolist() == generate(prompts, tiny, max_new_tokens=8)
    steered, control = side["steered (alpha = 2)"], side["control (alpha = 2)"]
    assert (steered != side["baseline"]).any() and (steered != control).any()
    dose = chart_frames(at)[-1]
    assert set(dose["vector"]) == {"steering", "random control"} and set(dose["alpha"]) == {0.0, 2.0}
    at_zero = dose[dose["alpha"] == 0].set_index("vector")["mean"]
    assert at_zero["steering"] == pytest.approx(at_zero["random control"])  # alpha 0: the same text, the same score


@pytest.mark.model
def test_decoder_section_steers_with_a_saved_direction_of_the_models_width(page_runner):
    from dashboard import models
    from dashboard.datasets import workspace
    from probing.directions import DirectionSet

    width = models.shared_model(models.TINY).hidden_size
    aset, directions = make_concept_embeddings(n_samples=100, d=width, n_layers=1, seed=5, name=f"d = {width}")
    workspace().add_directions(DirectionSet.for_layer(aset, 0, "wide", directions[0], "uploaded"))
    narrow, _ = make_concept_embeddings(n_samples=100, d=width // 2, n_layers=1, seed=5, name="narrow")
    workspace().add_directions(DirectionSet.for_layer(narrow, 0, "narrow", directions[0][: width // 2], "uploaded"))
    at = page_runner("steering")
    at.toggle(key="steer_lm_open").set_value(True).run()
    at.radio(key="steer_lm_source").set_value("a saved direction").run()
    assert at.selectbox(key="steer_lm_saved").options == ["uploaded · wide · layer_0"]  # the narrow one does not fit
    at.toggle(key="steer_lm_readout").set_value(False).run()
    at.multiselect(key="steer_lm_alphas").set_value([0, 4]).run()
    at.slider(key="steer_lm_tokens").set_value(6).run()
    at.button(key="steer_lm_run").click().run()
    assert not at.exception and not at.error
    side = at.dataframe[-1].value
    assert (side["steered (alpha = 4)"] != side["baseline"]).any()
    assert not any("Dose-response of what the model writes" in m.value for m in at.markdown)  # no readout asked


def _use(acts, y, name="edge case"):
    def setup(at):
        from probing import ActivationSet

        aset = ActivationSet(acts, labels={"label": y}, name=name)
        at.session_state["datasets"] = {aset.name: aset}
        at.session_state["dataset"] = aset
    return setup


def test_a_zero_steering_vector_says_its_cosines_are_undefined(page_runner):
    from probing.store import Workspace

    at = page_runner("steering", setup=_use(np.zeros((60, 3, 8), np.float32), np.arange(60) % 2))
    values = {m.label: m.value for m in at.metric}
    assert float(values["‖v‖"]) == 0.0
    assert values["cos(v, probe direction)"] == values["|cos(v, PC1)|"] == "undefined"
    assert not any("nan" in str(v) for v in values.values())
    assert any("steering vector is zero" in i.value for i in at.info)
    assert not Workspace().list_directions()  # a zero vector is not saved


def test_the_score_densities_are_binned_on_the_server_and_match_the_sweep(page_runner):
    from conftest import chart_frames

    rng = np.random.default_rng(0)
    y = np.arange(20_000) % 2
    acts = (rng.normal(size=(20_000, 2, 8)) + y[:, None, None]).astype(np.float32)
    at = page_runner("steering", setup=_use(acts, y, "twenty thousand rows"))
    sent = sum(len(d.data.data) for c in [*at.get("arrow_vega_lite_chart"), *at.get("vega_lite_chart")]
               for d in c.proto.datasets)
    assert sent < 1_000_000, sent  # every row's score was 100k rows (5 alphas x 20k)
    densities = next(f for f in chart_frames(at) if "density" in f.columns)
    summary = next(f for f in chart_frames(at) if "mean_score" in f.columns)
    for alpha, one in densities.groupby("alpha"):
        step = np.diff(one["score"].to_numpy())[0]
        assert np.sum(one["density"]) * step == pytest.approx(1.0, abs=1e-3)
        mean = np.sum(one["score"] * one["density"]) * step  # the density's mean is the sweep's mean score
        assert mean == pytest.approx(summary.set_index("alpha").loc[alpha, "mean_score"], abs=step)
