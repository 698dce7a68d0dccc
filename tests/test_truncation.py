"""Tables fit to show: long texts are cut, class ids stay classes."""

import numpy as np
import pandas as pd
import pytest

from probing import ActivationSet, ProbingInputError
from probing.data import looks_like_classes
from probing.truncation import truncate_text, truncate_texts


def test_truncate_texts_cuts_only_long_strings_and_keeps_the_rest():
    frame = pd.DataFrame({"text": ["short", "x" * 1000, None], "n": [1, 2, 3]})
    out = truncate_texts(frame, max_chars=10)
    assert list(out["text"][:2]) == ["short", "x" * 9 + "…"] and pd.isna(out["text"][2])
    assert out["n"].tolist() == [1, 2, 3] and frame["text"][1] == "x" * 1000  # the input is not changed
    assert truncate_text(12345, 2) == 12345
    with pytest.raises(ProbingInputError, match="at least 1"):
        truncate_texts(frame, max_chars=0)


def test_integer_class_ids_are_classes_however_many_and_floats_are_not():
    assert looks_like_classes(np.arange(6000) % 600)
    assert looks_like_classes(np.array(["a", "b"] * 10, dtype=object))
    assert not looks_like_classes(np.arange(100))  # every value distinct: an index or a count, not classes
    assert not looks_like_classes(np.linspace(0, 1, 100) // 0.1)  # floats stay numeric here
    aset = ActivationSet(np.zeros((6000, 1, 2), np.float32), labels={"c": np.arange(6000) % 600})
    row = aset.label_summary().iloc[0]
    assert (row.kind, row.classes) == ("categorical", 600) and row.counts.startswith("more than the 50 classes")
