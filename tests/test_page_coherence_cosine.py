"""The Coherence page's planted-directions slider starts at the active dataset's own concept cosine."""

from conftest import run_page

from probing.synthetic import make_concept_embeddings


def test_planted_cosine_starts_at_the_datasets_concept_cosine():
    aset, _ = make_concept_embeddings(n_samples=200, d=16, n_concepts=3, concept_cosine=0.3, seed=0)
    aset.name = "synthetic cosine test"
    if not getattr(aset, "attrs", {}).get("concept_cosine"):  # before ActivationSet.attrs records it
        aset.attrs = {"concept_cosine": 0.3}

    def activate(at):
        at.session_state["dataset"] = aset

    at = run_page("coherence", setup=activate)
    assert at.slider(key="coh_planted_cos").value == 0.3
