"""The Streamlit dashboard as a package: session state, widgets, dataset access, links, results, login.

``app.py`` at the repository root is the router; the pages live in ``dashboard/views/``.
Everything here may import streamlit and :mod:`probing`; :mod:`probing` never imports
anything from here (import-linter contracts in ``pyproject.toml``).
"""
