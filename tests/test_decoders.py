"""Decoder language models, offline: tiny random-weight GPT-2, GPT-NeoX, Llama (and Qwen2, Gemma) built in the test.

The real loading code runs on folders written with ``save_pretrained``; every check is exact
against a plain Hugging Face forward pass or ``model.generate``.
"""

import threading

import numpy as np
import pytest

from probing import ProbingInputError
from probing.extract import extract_activations
from probing.hooks import record_sites
from probing.lens import direction_tokens, logit_lens
from probing.models import load_model
from probing.steering import generate
from probing.tiny import FAMILIES, make_tiny_model

pytestmark = pytest.mark.model
TEXTS = ["The cat sat on the mat.", "A good film.", "She said that the movie was wonderful and warm.",
         "Paris is the capital of France."]


@pytest.fixture(scope="module", params=["gpt2", "gpt_neox", "llama"])
def tiny(request, tmp_path_factory):
    return load_model(make_tiny_model(tmp_path_factory.mktemp(request.param), request.param, seed=1))


def hidden_states(loaded, text):
    """Hugging Face's own hidden states for one text, unbatched: [n_states, pos, d]."""
    import torch

    with torch.inference_mode():
        ids = loaded.tokenizer(text, return_tensors="pt")
        out = loaded.model(**ids, output_hidden_states=True)
        return np.stack([h[0].numpy() for h in out.hidden_states]), out.logits[0].numpy()


@pytest.mark.parametrize("pooling", ["last", "first", "mean"])
def test_extraction_equals_hugging_face_hidden_states(tiny, pooling):
    aset = extract_activations(TEXTS, model=tiny, pooling=pooling, batch_size=3)
    assert aset.shape == (len(TEXTS), tiny.n_blocks + 1, tiny.hidden_size)
    for i, text in enumerate(TEXTS):
        states, _ = hidden_states(tiny, text)
        pooled = {"last": states[:, -1], "first": states[:, 0], "mean": states.mean(1)}[pooling]
        # Hugging Face's last hidden state has the final norm applied; ours is the raw stream (checked below)
        np.testing.assert_allclose(aset.acts[i, :-1], pooled[:-1], rtol=1e-4, atol=1e-5)


def test_last_layer_is_the_raw_stream_and_the_lens_reproduces_the_logits(tiny):
    import torch

    text = TEXTS[2]
    states, logits = hidden_states(tiny, text)
    aset = extract_activations([text, TEXTS[0]], model=tiny, pooling="last", layers=[-1])
    with torch.inference_mode():
        normed = tiny.final_norm()(torch.as_tensor(aset.acts[0, 0])).numpy()
    np.testing.assert_allclose(normed, states[-1, -1], rtol=1e-4, atol=1e-5)  # norm applied exactly once
    lens = logit_lens([text], tiny, k=5)
    last = lens[lens["layer"] == lens["layer"].iloc[-1]]
    top = np.argsort(-logits[-1])[:5]
    assert last["token_id"].tolist() == top.tolist()
    np.testing.assert_allclose(last["logit"], logits[-1][top], rtol=1e-4, atol=1e-5)
    assert set(lens.columns) == {"text", "position", "layer", "rank", "token_id", "token", "logit", "prob"}
    assert lens["layer"].nunique() == tiny.n_blocks + 1


def test_batched_equals_unbatched_and_texts_keep_their_order(tiny):
    batched = extract_activations(TEXTS, model=tiny, pooling="last", batch_size=4)
    for i, text in enumerate(TEXTS):
        alone = extract_activations([text, text], model=tiny, pooling="last", batch_size=1)
        np.testing.assert_allclose(batched.acts[i], alone.acts[0], rtol=1e-4, atol=1e-5)


def test_token_rows_and_a_marked_token(tiny):
    tokens = extract_activations(TEXTS[:2], model=tiny, pooling="tokens")
    states, _ = hidden_states(tiny, TEXTS[0])
    first = tokens.meta["text_id"] == 0
    np.testing.assert_allclose(tokens.acts[first.to_numpy(), :-1], states[:-1].transpose(1, 0, 2), rtol=1e-4,
                               atol=1e-5)
    marked = extract_activations(["The <<cat>> sat on the mat.", "A <<good>> film."], model=tiny, pooling="marked")
    ids = tiny.tokenizer("The cat sat on the mat.")["input_ids"]
    at = int(marked.meta["position"][0])
    assert tiny.tokenizer.decode(ids[:at + 1]).endswith("cat") and marked.meta["text"][0] == "The <<cat>> sat on the mat."
    states, _ = hidden_states(tiny, "The cat sat on the mat.")
    np.testing.assert_allclose(marked.acts[0, :-1], states[:-1, at], rtol=1e-4, atol=1e-5)
    with pytest.raises(ProbingInputError, match="exactly one token"):
        extract_activations(["no mark here", "a <<b>>"], model=tiny, pooling="marked")


def test_attention_and_mlp_outputs_add_up_to_the_block(tiny):
    import torch

    text = TEXTS[0]
    with torch.inference_mode():
        ids = tiny.tokenizer(text, return_tensors="pt")
        with record_sites(tiny, [1], "attn_out") as attn, record_sites(tiny, [1], "mlp_out") as mlp, \
                record_sites(tiny, [0, 1]) as resid:
            tiny.model(**ids)
            before, after = resid[0][0].numpy(), resid[1][0].numpy()
            added = attn[1][0].numpy() + mlp[1][0].numpy()
    np.testing.assert_allclose(after, before + added, rtol=1e-4, atol=1e-5)  # a block adds attn and MLP outputs
    assert np.abs(attn[1][0].numpy()).max() > 1e-3 and np.abs(mlp[1][0].numpy()).max() > 1e-3


def test_generate_equals_greedy_generation_and_removes_its_hook(tiny):
    import torch

    before = [len(b._forward_hooks) for b in tiny.blocks]
    ours = generate(TEXTS[:2], tiny, max_new_tokens=6)
    for prompt, text in zip(TEXTS[:2], ours):
        ids = tiny.tokenizer(prompt, return_tensors="pt")
        with torch.inference_mode():
            tokens = tiny.model.generate(**ids, max_new_tokens=6, do_sample=False,
                                         pad_token_id=tiny.tokenizer.pad_token_id)
        assert text == tiny.tokenizer.decode(tokens[0, ids["input_ids"].shape[1]:], skip_special_tokens=True)
    with pytest.raises(ProbingInputError, match="max_new_tokens"):
        generate(TEXTS[:1], tiny, max_new_tokens=0, steer=(1, np.ones(tiny.hidden_size), 1.0))
    assert [len(b._forward_hooks) for b in tiny.blocks] == before


def test_steering_with_an_unembedding_row_makes_that_token_come_out(tiny):
    token = tiny.tokenizer.encode(" cat")[-1]  # an ordinary (non-special) token of the trained vocabulary
    assert token != tiny.tokenizer.eos_token_id
    row = tiny.model.get_output_embeddings().weight[token].detach().numpy()
    plain = generate(["The dog ran in the park."], tiny, max_new_tokens=4)
    steered = generate(["The dog ran in the park."], tiny, max_new_tokens=4, steer=(tiny.n_blocks, row, 100.0))
    assert steered[0] == tiny.tokenizer.decode([token] * 4) != plain[0]
    promoted = direction_tokens(row, tiny, k=3)
    assert promoted[promoted["effect"] == "promotes"]["token_id"].iloc[0] == token


def test_steering_hook_leaves_other_threads_alone(tiny):
    from probing.hooks import steering_hook

    plain = generate(TEXTS[:1], tiny, max_new_tokens=4)
    result = {}
    with steering_hook(tiny, 1, np.ones(tiny.hidden_size), 50.0):
        worker = threading.Thread(target=lambda: result.update(text=generate(TEXTS[:1], tiny, max_new_tokens=4)))
        worker.start()
        worker.join()
    assert result["text"] == plain


@pytest.mark.parametrize("family", [f for f in FAMILIES if f not in ("gpt2", "gpt_neox", "llama")])
def test_other_llama_style_families_load_and_extract(family, tmp_path):
    loaded = load_model(make_tiny_model(tmp_path / family, family))
    aset = extract_activations(TEXTS[:2], model=loaded, pooling="last")
    states, logits = hidden_states(loaded, TEXTS[0])
    np.testing.assert_allclose(aset.acts[0, :-1], states[:-1, -1], rtol=1e-4, atol=1e-5)
    lens = logit_lens(TEXTS[:1], loaded, k=1, layers=[-1])
    assert lens["token_id"].iloc[0] == int(np.argmax(logits[-1]))


def test_loading_errors_say_what_to_do(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_OFFLINE", True)  # read once at import by the hub client
    with pytest.raises(ProbingInputError, match="HF_HUB_OFFLINE=1"):
        load_model("someone/not-a-cached-model")
    with pytest.raises(ProbingInputError, match="No folder"):
        load_model(str(tmp_path / "missing"))
    (tmp_path / "config.json").write_text('{"model_type": "t5", "architectures": ["T5ForConditionalGeneration"]}')
    with pytest.raises(ProbingInputError, match="'t5'.*T5ForConditionalGeneration.*Supported"):
        load_model(tmp_path)
    with pytest.raises(ProbingInputError, match="encoder"):
        logit_lens(["hello there"], None)


def test_big_extractions_stream_to_disk_in_input_order(tiny, tmp_path, monkeypatch):
    texts = TEXTS * 6
    in_memory = extract_activations(texts, model=tiny, pooling="last", batch_size=5)
    assert not isinstance(in_memory.acts, np.memmap)
    streamed = extract_activations(texts, model=tiny, pooling="last", batch_size=5, out=tmp_path / "acts.npy")
    assert isinstance(streamed.acts, np.memmap) and (tmp_path / "acts.npy").exists()
    np.testing.assert_allclose(streamed.acts, in_memory.acts, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(np.load(tmp_path / "acts.npy"), np.asarray(streamed.acts))
    monkeypatch.setattr("probing.budget.memory_budget", lambda: 4096)  # below the output: spill, one text a batch
    spilled = extract_activations(texts, model=tiny, pooling="last", batch_size=5)
    assert isinstance(spilled.acts, np.memmap)
    np.testing.assert_allclose(spilled.acts, in_memory.acts, rtol=1e-4, atol=1e-5)
    with pytest.raises(ProbingInputError, match=r"\.npy"):
        extract_activations(texts, model=tiny, out=tmp_path / "acts.safetensors")
