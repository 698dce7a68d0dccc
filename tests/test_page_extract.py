"""The Extract page renders and turns pasted, labelled sentences into the active dataset."""

import pytest

from conftest import run_page

PASTED = "The soup was delicious. | positive\nThe service was painfully slow. | negative\n" \
         "I loved the concert. | positive\nThe room smelled of smoke. | negative"


@pytest.mark.model
def test_paste_and_run_makes_the_active_dataset(_workspace):
    at = run_page("extract")
    at.radio(key="extract_source").set_value("Paste sentences").run()
    at.text_area(key="extract_paste").input(PASTED).run()
    assert any("4 texts" in c.value for c in at.caption)
    at.button[0].click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    aset = at.session_state["dataset"]
    assert aset.shape == (4, 7, 384) and aset.layers[0] == "embeddings"
    assert aset.labels["label"].tolist() == ["positive", "negative", "positive", "negative"]
    assert aset.meta["text"][0] == "The soup was delicious."
    assert at.session_state["dataset_picker"] == aset.name
    assert any(aset.fingerprint in s.value for s in at.success)
    assert (_workspace / "datasets" / f"{aset.fingerprint}.safetensors").exists()


def test_unlabelled_mixed_paste_shows_the_fix():
    at = run_page("extract")
    at.radio(key="extract_source").set_value("Paste sentences").run()
    at.text_area(key="extract_paste").input("Labelled. | a\nNot labelled.").run()
    assert not at.exception
    assert any("Line 2" in e.value for e in at.error)


@pytest.mark.model
def test_a_decoder_reads_the_marked_token_on_the_page():
    from dashboard import models
    from probing.extract import extract_activations

    at = run_page("extract")
    at.selectbox(key="extract_model").set_value(models.TINY).run()
    at.radio(key="extract_source").set_value("Paste sentences").run()
    at.text_area(key="extract_paste").input("The <<cat>> sat. | a\nA <<dog>> ran. | b\nThe <<sun>> set. | a").run()
    at.radio(key="extract_pooling").set_value("marked").run()
    at.button[0].click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    aset = at.session_state["dataset"]
    loaded = models.shared_model(models.TINY)
    assert aset.shape == (3, loaded.n_blocks + 1, loaded.hidden_size)
    expected = extract_activations(["The <<cat>> sat.", "A <<dog>> ran.", "The <<sun>> set."], model=loaded,
                                   pooling="marked")
    assert (aset.acts == expected.acts).all() and aset.meta["token"].tolist() == expected.meta["token"].tolist()


@pytest.mark.parametrize("paste", ["", "   \n\t\n  "])
def test_the_disabled_button_says_why_for_an_empty_or_blank_paste(paste):
    at = run_page("extract")
    at.radio(key="extract_source").set_value("Paste sentences").run()
    at.text_area(key="extract_paste").input(paste).run()
    button = next(b for b in at.button if b.label == "Extract activations")
    assert button.disabled and "Paste at least one sentence" in button.help
    assert any("The button is disabled: Paste at least one sentence" in c.value for c in at.caption)
    at.text_area(key="extract_paste").input("A sentence.").run()
    button = next(b for b in at.button if b.label == "Extract activations")
    assert not button.disabled and not any("The button is disabled" in c.value for c in at.caption)
