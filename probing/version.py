"""The version of ``probing`` (a leaf module, so modules inside the package can read it without importing the package root)."""

__version__ = "0.1.0"
