"""extract_activations and steering_hook against plain, unbatched forward passes of MiniLM."""

import subprocess
import sys
import threading

import numpy as np
import pandas as pd
import pytest

from probing import ActivationSet, ProbingInputError
from probing.extract import (default_model_dir, extract_activations, load_model, parse_lines,
                             split_table, steering_hook)

TEXTS = ["The film was wonderful.", "I did not enjoy the long, slow and painfully predictable ending at all.",
         "Cats sleep.", "Is the museum open on Sundays?", "She has been writing letters to her brother for years."]


@pytest.fixture(scope="module")
def minilm():
    return load_model()


@pytest.fixture(scope="module")
def hidden(minilm):
    """Per-text hidden states from one unbatched forward pass each: list of [n_states, pos, d] arrays."""
    import torch

    model, tokenizer = minilm.model, minilm.tokenizer
    with torch.inference_mode():
        return [torch.stack(model(**tokenizer(t, return_tensors="pt"), output_hidden_states=True).hidden_states)
                [:, 0].numpy() for t in TEXTS]


@pytest.fixture(scope="module")
def plain(minilm):
    return extract_activations(TEXTS, model=minilm, batch_size=2)


def hook_snapshot(model) -> list:
    return [(name, list(m._forward_hooks), list(m._forward_pre_hooks)) for name, m in model.named_modules()]


def test_import_probing_does_not_import_torch():
    code = "import sys, probing, probing.extract; print('torch' in sys.modules, 'transformers' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]


@pytest.mark.model
def test_model_is_loaded_once_per_process(minilm):
    assert load_model() is minilm
    assert load_model(default_model_dir()) is minilm


@pytest.mark.model
@pytest.mark.parametrize("pooling", ["mean", "cls", "last"])
def test_pooling_matches_unbatched_forward(minilm, hidden, pooling):
    aset = extract_activations(TEXTS, model=minilm, pooling=pooling, batch_size=2)
    pick = {"mean": lambda h: h.mean(1), "cls": lambda h: h[:, 0], "last": lambda h: h[:, -1]}[pooling]
    expected = np.stack([pick(h) for h in hidden])  # [n, n_states, d]
    assert aset.shape == (len(TEXTS), 7, 384) and aset.acts.dtype == np.float32
    np.testing.assert_allclose(aset.acts, expected, atol=1e-4)
    assert aset.layers == ["embeddings"] + [f"block_{k}" for k in range(1, 7)]
    assert aset.meta["text"].tolist() == TEXTS


@pytest.mark.model
def test_batch_size_and_layer_selection_do_not_change_numbers(minilm, plain):
    one_batch = extract_activations(TEXTS, model=minilm, batch_size=64)
    np.testing.assert_allclose(one_batch.acts, plain.acts, atol=1e-5)
    some = extract_activations(TEXTS, model=minilm, layers=[0, -1, 3], batch_size=2)
    assert some.layers == ["embeddings", "block_6", "block_3"]
    np.testing.assert_array_equal(some.acts, plain.acts[:, [0, 6, 3]])


@pytest.mark.model
def test_token_rows_line_up_with_tokenizer(minilm, hidden):
    tokenizer = minilm.tokenizer
    aset = extract_activations(TEXTS, model=minilm, pooling="tokens", batch_size=2, labels={"y": np.arange(5)},
                               meta=pd.DataFrame({"group": list("aabbc")}))
    lengths = [len(tokenizer(t)["input_ids"]) for t in TEXTS]
    assert aset.n_samples == sum(lengths)
    for i, text in enumerate(TEXTS):
        rows = aset.meta.index[aset.meta["text_id"] == i]
        assert aset.meta.loc[rows, "token"].tolist() == tokenizer.convert_ids_to_tokens(tokenizer(text)["input_ids"])
        assert aset.meta.loc[rows, "position"].tolist() == list(range(lengths[i]))
        assert (aset.meta.loc[rows, "text"] == text).all() and (aset.labels["y"][rows] == i).all()
        assert (aset.meta.loc[rows, "group"] == "aabbc"[i]).all()
        np.testing.assert_allclose(aset.acts[rows], hidden[i].transpose(1, 0, 2), atol=1e-4)


@pytest.mark.model
def test_progress_reported_per_batch(minilm):
    calls = []
    extract_activations(TEXTS, model=minilm, batch_size=2, progress=lambda f, m: calls.append((f, m)))
    assert [f for f, _ in calls] == pytest.approx([2 / 5, 4 / 5, 1.0])
    assert calls[-1][1] == "batch 3/3"


@pytest.mark.model
def test_steering_at_alpha_zero_changes_nothing(minilm, plain):
    vector = np.random.default_rng(0).normal(size=384)
    steered = extract_activations(TEXTS, model=minilm, batch_size=2, steer=(3, vector, 0.0))
    np.testing.assert_array_equal(steered.acts, plain.acts)


@pytest.mark.model
@pytest.mark.parametrize("layer", [0, 3, -1])
def test_steering_changes_only_layers_from_the_chosen_one(minilm, plain, layer):
    vector = np.random.default_rng(1).normal(size=384)
    before = hook_snapshot(minilm.model)
    steered = extract_activations(TEXTS, model=minilm, batch_size=2, steer=(layer, vector, 2.0))
    k = layer % 7
    np.testing.assert_array_equal(steered.acts[:, :k], plain.acts[:, :k])
    # the mean over tokens of a constant shift is the shift itself
    np.testing.assert_allclose(steered.acts[:, k] - plain.acts[:, k], np.broadcast_to(2.0 * vector, (5, 384)),
                               atol=1e-4)
    later = np.abs(steered.acts[:, k + 1:] - plain.acts[:, k + 1:]).max(axis=(0, 2))
    assert (later > 1e-2).all(), later
    assert hook_snapshot(minilm.model) == before


@pytest.mark.model
def test_hooks_removed_after_an_error(minilm, plain):
    model = minilm.model
    before = hook_snapshot(model)

    def fail(fraction, message):
        raise RuntimeError("stop")

    with pytest.raises(RuntimeError, match="stop"):
        extract_activations(TEXTS, model=minilm, batch_size=2, steer=(2, np.ones(384), 5.0), progress=fail)
    assert hook_snapshot(model) == before
    with pytest.raises(ZeroDivisionError):
        with steering_hook(minilm, 0, np.ones(384), 1.0):
            assert hook_snapshot(model) != before
            raise ZeroDivisionError
    assert hook_snapshot(model) == before
    np.testing.assert_array_equal(extract_activations(TEXTS, model=minilm, batch_size=2).acts, plain.acts)


@pytest.mark.model
def test_steering_leaves_other_threads_alone(minilm, plain):
    result = {}
    with steering_hook(minilm, 1, np.ones(384), 3.0):
        worker = threading.Thread(target=lambda: result.update(
            aset=extract_activations(TEXTS, model=minilm, batch_size=2)))
        worker.start()
        worker.join()
    np.testing.assert_array_equal(result["aset"].acts, plain.acts)


@pytest.mark.model
@pytest.mark.parametrize("kwargs, match", [
    ({"texts": []}, "empty"),
    ({"texts": "one string"}, "not one string"),
    ({"texts": ["fine", 3]}, "item 1 is int"),
    ({"pooling": "max"}, "Unknown pooling"),
    ({"layers": [7]}, "out of range"),
    ({"layers": [-8]}, "out of range"),
    ({"layers": [1, 1]}, "distinct"),
    ({"steer": (7, np.ones(384), 1.0)}, "out of range"),
    ({"steer": (1, np.ones(10), 1.0)}, r"shape \(384,\)"),
    ({"steer": (1, np.full(384, np.nan), 1.0)}, "finite"),
    ({"steer": np.ones(384)}, "steer must be"),
    ({"batch_size": 0}, "batch_size"),
    ({"labels": {"y": [0, 1]}}, "2 values for 5 texts"),
    ({"model": "/nonexistent/model"}, "config.json"),
    ({"model": 3}, "model must be"),
])
def test_bad_input_raises(minilm, kwargs, match):
    args = {"texts": TEXTS, **kwargs}
    args.setdefault("model", minilm)
    with pytest.raises(ProbingInputError, match=match):
        extract_activations(**args)


@pytest.mark.model
def test_unreadable_model_directory(tmp_path):
    (tmp_path / "config.json").write_text("{not json")
    with pytest.raises(ProbingInputError, match="Could not load"):
        extract_activations(TEXTS, model=tmp_path)


def test_parse_lines_with_and_without_labels():
    table = parse_lines("  Good film. | positive\n\nBad film |negative \n")
    assert table.to_dict("list") == {"text": ["Good film.", "Bad film"], "label": ["positive", "negative"]}
    assert parse_lines("One.\nTwo.").to_dict("list") == {"text": ["One.", "Two."]}
    with pytest.raises(ProbingInputError, match="Line 2"):
        parse_lines("Good. | pos\nNo label here")
    with pytest.raises(ProbingInputError, match="No sentences"):
        parse_lines(" \n ")


def test_split_table_sorts_columns_into_labels_and_meta():
    df = pd.DataFrame({"sentence": [f"s{i}" for i in range(60)], "y": ["a", "b"] * 30, "score": np.linspace(0, 1, 60),
                       "pair_id": np.arange(60) // 1, "topic": ["x", None] * 30})
    out = split_table(df, text_column="sentence")
    assert out["texts"] == df["sentence"].tolist()
    assert sorted(out["labels"]) == ["score", "topic", "y"] and list(out["meta"].columns) == ["pair_id"]
    assert set(out["labels"]["topic"]) == {"x", ""}
    with pytest.raises(ProbingInputError, match="No column 'text'"):
        split_table(df)


def test_layer_summary_matches_brute_force():
    rng = np.random.default_rng(0)
    acts = rng.normal(size=(30, 3, 8)) + np.array([0.0, 1.0, 5.0])[None, :, None]
    frame = ActivationSet(acts.astype(np.float32)).layer_summary(chunk_rows=7)  # chunks do not line up with n
    for k in range(3):
        X = acts[:, k].astype(np.float32).astype(np.float64)
        U = X / np.linalg.norm(X, axis=1, keepdims=True)
        cos = U @ U.T
        assert frame["mean_cosine"][k] == pytest.approx(cos[~np.eye(30, dtype=bool)].mean())
        assert frame["mean_norm"][k] == pytest.approx(np.linalg.norm(X, axis=1).mean())
        assert frame["std_norm"][k] == pytest.approx(np.linalg.norm(X, axis=1).std())
    assert frame["mean_cosine"].is_monotonic_increasing  # a growing shared offset makes vectors align
