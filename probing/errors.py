"""The one exception type the package raises for bad input."""


class ProbingInputError(ValueError):
    """Input that the package cannot use, with a message that says what to fix.

    Raised at the boundary (loaders, constructors, public functions) for wrong
    shapes, dtypes, NaN/Inf values, unreadable files and similar problems. It is a
    ``ValueError`` so generic callers (scikit-learn, pandas) treat it as one.
    """
