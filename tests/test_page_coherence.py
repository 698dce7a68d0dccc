"""The Coherence page renders for every source of directions, with no error box."""

import numpy as np
import pytest
from conftest import run_page

from probing.coherence import mutual_coherence, welch_bound
from probing.probes import fit_probe


def metric(at, label):
    return next(m for m in at.metric if m.label == label)


def rerun(at):
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    return at


def test_page_shows_planted_coherence_and_the_experiment():
    at = run_page("coherence")
    k, d = at.number_input(key="coh_planted_k").value, at.number_input(key="coh_planted_d").value
    expected = welch_bound(k, d)
    assert k > d and float(metric(at, "Welch bound (floor)").value) == pytest.approx(expected, abs=1e-4)
    assert float(metric(at, "mutual coherence μ").value) >= expected
    at.number_input(key="coh_planted_k").set_value(d // 2)  # fewer concepts than dimensions: orthonormal
    rerun(at)
    assert float(metric(at, "mutual coherence μ").value) == pytest.approx(0.0, abs=1e-4)
    assert len(at.get("arrow_vega_lite_chart")) >= 4 or len(at.get("vega_lite_chart")) >= 4


def test_page_random_vectors_and_fitted_probe_directions():
    at = run_page("coherence")
    at.radio(key="coh_source").set_value("Random vectors")
    rerun(at)
    at.number_input(key="coh_rand_k").set_value(400)  # more rows than the heatmap shows
    at.number_input(key="coh_rand_d").set_value(10)
    rerun(at)
    D = np.random.default_rng(0).standard_normal((400, 10), dtype=np.float32)
    assert float(metric(at, "mutual coherence μ").value) == pytest.approx(mutual_coherence(D), abs=1e-4)
    at.radio(key="coh_source").set_value("Probe directions")
    rerun(at)
    at.radio(key="coh_probe_how").set_value("fit here: one per layer")
    rerun(at)
    aset, label = at.session_state["dataset"], at.session_state["coh_probe_label"]
    D = np.vstack([fit_probe(np.asarray(aset.layer(i), dtype=np.float32), aset.labels[label], method="lda").direction_
                   for i in range(aset.n_layers)])
    expected = mutual_coherence(D)
    assert float(metric(at, "mutual coherence μ").value) == pytest.approx(expected, abs=1e-4)
    assert expected > welch_bound(*D.shape) + 0.1  # one concept's direction in consecutive layers: far from random


def test_planted_source_defaults_to_the_active_synthetic_dataset():
    from probing import ActivationSet
    from probing.synthetic import make_concept_embeddings

    made, _ = make_concept_embeddings(n_samples=200, d=12, n_concepts=3, seed=5, concept_cosine=0.5)
    renamed = made.renamed("my concepts")  # the settings come from attrs, not from the name
    impostor = ActivationSet(made.acts, made.layers, made.labels, name="synthetic n=200 d=12 seed=9")

    def activate(aset):
        def setup(at):
            at.session_state["datasets"] = {aset.name: aset}
            at.session_state["dataset"] = aset
        return setup

    keys = ("coh_planted_k", "coh_planted_d", "coh_planted_seed")
    at = run_page("coherence", setup=activate(renamed))
    assert [at.number_input(key=key).value for key in keys] == [3, 12, 5]
    assert at.slider(key="coh_planted_cos").value == 0.5
    assert float(metric(at, "mutual coherence μ").value) == pytest.approx(0.5, abs=1e-4)
    at = run_page("coherence", setup=activate(impostor))
    assert [at.number_input(key=key).value for key in keys] == [32, 16, 0]
