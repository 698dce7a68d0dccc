"""Direction atlas: cosines equal brute force, clusters are contiguous, collectors find the right directions."""

import numpy as np
import pytest

from probing import ActivationSet, ProbingInputError
from probing.atlas import direction_atlas, leace_subspace, pca_directions, planted_directions, probe_directions
from probing.probes import fit_probe
from probing.store import Workspace
from probing.coherence import welch_bound
from probing.erasure import fit_eraser
from probing.synthetic import make_concept_embeddings


def test_cosine_matrix_equals_brute_force_and_nearest_is_sorted():
    rng = np.random.default_rng(0)
    directions = {"probe": rng.standard_normal(10), "sae": rng.standard_normal((6, 10)), "pc": rng.standard_normal((3, 10))}
    atlas = direction_atlas(directions)
    rows = [directions["probe"], *directions["sae"], *directions["pc"]]
    brute = np.array([[a @ b / np.linalg.norm(a) / np.linalg.norm(b) for b in rows] for a in rows])
    np.testing.assert_allclose(atlas.cosine, brute, atol=1e-12)
    assert atlas.names[:3] == ["probe", "sae[0]", "sae[1]"] and atlas.groups[1] == "sae"
    assert sorted(atlas.order) == list(range(10))
    assert atlas.welch == welch_bound(10, 10) == 0.0
    near = atlas.nearest("sae[2]", k=4)
    assert "sae[2]" not in set(near.direction) and len(near) == 4
    expected = [atlas.names[j] for j in np.argsort(-np.abs(brute[3])) if j != 3][:4]
    assert list(near.direction) == expected
    frame = atlas.to_frame()
    assert len(frame) == 100 and set(frame.row_pos) == set(range(10))


def test_clustering_puts_near_parallel_directions_next_to_each_other():
    rng = np.random.default_rng(1)
    centres = np.linalg.qr(rng.standard_normal((16, 3)))[0].T
    directions = {f"g{g}_{i}": (1 if i % 2 else -1) * (centres[g] + 0.05 * rng.standard_normal(16))
                  for i in range(4) for g in range(3)}
    atlas = direction_atlas(directions)
    groups_in_order = [atlas.names[i][:2] for i in atlas.order]
    runs = sum(a != b for a, b in zip(groups_in_order, groups_in_order[1:]))
    assert runs == 2  # three contiguous blocks (signs ignored: clustering uses |cos|)
    assert atlas.welch == pytest.approx(welch_bound(12, 16))


def test_more_directions_than_dimensions_respect_the_welch_bound():
    atlas = direction_atlas({"random": np.random.default_rng(2).standard_normal((30, 5))})
    assert atlas.welch == pytest.approx(welch_bound(30, 5)) and atlas.coherence >= atlas.welch


def test_planted_pca_and_leace_collectors():
    aset, planted = make_concept_embeddings(n_samples=600, d=16, n_concepts=2, n_layers=2, seed=5)
    found = planted_directions(aset, 1)
    assert set(found) == {f"planted · concept_{k} · {aset.layers[1]}" for k in range(2)}
    np.testing.assert_allclose(np.abs(found[f"planted · concept_0 · {aset.layers[1]}"] @ planted[0]), 1.0, atol=1e-12)
    assert set(planted_directions(aset.renamed("my data"), 1)) == set(found)  # the name means nothing
    impostor = ActivationSet(aset.acts, aset.layers, aset.labels, name=aset.name)  # same name and data, no attrs
    assert planted_directions(impostor, 1) == {}
    pcs = pca_directions(aset.layer(1), k=3)
    assert list(pcs) == ["PC1", "PC2", "PC3"] and abs(pcs["PC1"] @ planted[0]) > 0.9
    basis = leace_subspace(aset.layer(1), aset.labels["label"])
    proj = fit_eraser(aset.layer(1), aset.labels["label"]).proj
    assert basis.shape == (1, 16)
    np.testing.assert_allclose(basis @ basis.T, np.eye(1), atol=1e-10)
    np.testing.assert_allclose(basis.T @ basis @ proj, proj, atol=1e-8)  # spans the eraser's column space


def test_bad_direction_sets_are_explained():
    with pytest.raises(ProbingInputError, match="same layer's space"):
        direction_atlas({"a": np.ones(4), "b": np.ones(5)})
    with pytest.raises(ProbingInputError, match="all-zero rows"):
        direction_atlas({"a": np.ones(4), "b": np.zeros((2, 4))})
    with pytest.raises(ProbingInputError, match="at most 10"):
        direction_atlas({"a": np.ones((11, 4))}, max_directions=10)
    with pytest.raises(ProbingInputError, match="non-empty dict"):
        direction_atlas({})


@pytest.mark.parametrize("cosine", [0.0, 0.5, 0.8])
def test_planted_directions_are_the_generators_for_any_cosine_and_survive_save_rename_reopen(tmp_path, cosine):
    aset, planted = make_concept_embeddings(n_samples=300, d=12, n_concepts=3, n_layers=2, seed=7,
                                            concept_cosine=cosine)
    assert np.allclose((planted @ planted.T)[~np.eye(3, dtype=bool)], cosine)  # the generator did plant the cosine
    workspace = Workspace(tmp_path / "ws")
    fingerprint = workspace.add_dataset(aset).fingerprint
    workspace.rename_dataset(fingerprint, "nothing in this name")
    reopened = workspace.load_dataset(fingerprint)
    assert reopened.name == "nothing in this name" and reopened.attrs == aset.attrs
    for shown_set in (aset, reopened, reopened.renamed("again")):
        shown = planted_directions(shown_set, -1)
        names = [f"planted · concept_{k} · {aset.layers[-1]}" for k in range(3)]
        assert list(shown) == names
        cosines = [shown[name] @ planted[k] for k, name in enumerate(names)]
        assert min(cosines) > 0.999


def test_probe_directions_per_label_and_per_layer_match_fit_probe():
    aset, _ = make_concept_embeddings(n_samples=400, d=10, n_concepts=2, n_layers=3, seed=1)
    three = np.arange(aset.n_samples) % 3
    aset = aset.with_labels(three=three)
    per_label = probe_directions(aset, per="label", layer=1)
    assert list(per_label) == [f"probe · {name} (lda) · layer_1" for name in
                               ("concept_0", "concept_1", "label", "three=0", "three=1", "three=2")]
    expected = fit_probe(np.asarray(aset.layer(1), dtype=np.float32), aset.labels["concept_1"], method="lda")
    np.testing.assert_allclose(per_label["probe · concept_1 (lda) · layer_1"], expected.direction_)
    per_layer = probe_directions(aset, per="layer", label="label")
    assert list(per_layer) == [f"probe · label (lda) · layer_{i}" for i in range(3)]
    np.testing.assert_allclose(per_layer["probe · label (lda) · layer_1"], per_label["probe · label (lda) · layer_1"])
    with pytest.raises(ProbingInputError, match="pass label="):
        probe_directions(aset, per="layer")
    with pytest.raises(ProbingInputError, match="per must be"):
        probe_directions(aset, per="sample")


def test_pca_directions_leave_out_components_the_data_does_not_vary_along():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(100, 2)) @ rng.normal(size=(2, 8))  # rank 2 in 8 dimensions
    found = pca_directions(X, k=5)
    assert list(found) == ["PC1", "PC2"]
    assert np.allclose(np.linalg.norm(np.array(list(found.values())), axis=1), 1.0)
    assert pca_directions(np.zeros((20, 8)), k=3) == {}
