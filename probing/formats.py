"""Loading and saving activation files (being written)."""


def load_activations(path_or_file, name=None):
    raise NotImplementedError


def save_activations(aset, path):
    raise NotImplementedError
