"""probing: a dashboard for what is linear in a model's activations.

Run with ``streamlit run app.py``. This file is the router: it sets up the shared
session state (the active dataset), draws the sidebar dataset picker and hands over
to the page the user chose. When a login is configured (see ``auth.py``) nothing past
the login gate runs until the user has logged in.
"""

import streamlit as st

import auth
import links
import ui

st.set_page_config(page_title="probing", page_icon=":material/explore:", layout="wide")

PAGES = [
    st.Page("views/home.py", title="Overview", icon=":material/home:", default=True),
    st.Page("views/data.py", title="Data", icon=":material/dataset:"),
    st.Page("views/extract.py", title="Extract", icon=":material/smart_toy:"),
    st.Page("views/probes.py", title="Probes", icon=":material/target:"),
    st.Page("views/pca.py", title="PCA / change of basis", icon=":material/explore:"),
    st.Page("views/linear_maps.py", title="Linear maps", icon=":material/grid_on:"),
    st.Page("views/superposition.py", title="Superposition", icon=":material/extension:"),
    st.Page("views/coherence.py", title="Coherence", icon=":material/straighten:"),
    st.Page("views/steering.py", title="Steering", icon=":material/tune:"),
    st.Page("views/projector.py", title="Projector", icon=":material/scatter_plot:"),
    st.Page("views/atlas.py", title="Direction atlas", icon=":material/hub:"),
]

page = st.navigation(PAGES, position=auth.navigation_position())
st.session_state["_page_path"] = page.url_path
auth.require_login()  # with a login configured, stops here until the user has logged in
ui.init_session()
links.open_linked_dataset()
ui.sidebar_dataset_picker()
links.run_page(page)  # runs the page and keeps the URL (share link) in step with its view
