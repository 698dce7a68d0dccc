"""The Logit lens page on the tiny demo decoder: the grid shows the model's own prediction at the last layer."""

import numpy as np
import pytest

from dashboard import models

pytestmark = pytest.mark.model


def test_the_page_opens_without_loading_a_model_and_says_what_the_button_does(page_runner):
    at = page_runner("lens")
    assert not at.dataframe and not at.get("arrow_vega_lite_chart")
    assert any("reads its residual stream after every block" in c.value for c in at.caption)
    at.toggle(key="lens_run").set_value(True).run()
    assert not at.exception and len(at.dataframe) == 1
    at.slider(key="lens_k").set_value(3).run()  # switched on: a new setting redraws without asking again
    assert at.toggle(key="lens_run").value and at.dataframe[0].value.shape[1] == 3


def test_a_share_link_with_the_switch_on_opens_with_the_layers_read():
    from test_links import open_link

    at = open_link({"lens_run": "true", "lens_k": "2"}, page="lens")
    assert not at.error and at.toggle(key="lens_run").value
    assert at.dataframe[0].value.shape[1] == 2


def test_lens_page_shows_every_layer_and_the_models_own_prediction(page_runner):
    at = page_runner("lens")
    assert at.selectbox(key="lens_model").value == models.TINY
    at.toggle(key="lens_run").set_value(True).run()
    loaded = models.shared_model(models.TINY)
    table = next(df.value for df in at.dataframe)
    assert list(table.index) == ["embeddings"] + [f"block_{k}" for k in range(1, loaded.n_blocks + 1)]
    import torch

    with torch.inference_mode():
        ids = loaded.tokenizer("The capital of France is", return_tensors="pt")
        logits = loaded.model(**ids).logits[0, -1].numpy()
    expected = [loaded.tokenizer.decode([i]).replace(" ", "␣") for i in np.argsort(-logits)[:5].tolist()]
    assert table.loc[f"block_{loaded.n_blocks}"].tolist() == expected


def test_a_long_prompt_is_refused_by_the_widget_and_an_encoder_is_not_offered(page_runner):
    at = page_runner("lens")
    assert models.BUNDLED not in at.selectbox(key="lens_model").options
    assert at.text_input(key="lens_prompt").max_chars == 400
