"""probing: a dashboard for what is linear in a model's activations.

Run with ``streamlit run app.py``. This file is the router: it sets up the shared
session state (the active dataset), draws the sidebar dataset picker and hands over
to the page the user chose. When a login is configured (see ``auth.py``) nothing past
the login gate runs until the user has logged in.
"""

import streamlit as st

from dashboard import auth, links, state


st.set_page_config(page_title="probing", page_icon=":material/explore:", layout="wide")

PAGES = {  # sections of the sidebar; every page is listed (expanded), none hidden behind "View more"
    "": [
        st.Page("dashboard/views/home.py", title="Overview", icon=":material/home:", default=True),
        st.Page("dashboard/views/data.py", title="Data", icon=":material/dataset:"),
        st.Page("dashboard/views/extract.py", title="Extract", icon=":material/smart_toy:"),
    ],
    "What is linear": [
        st.Page("dashboard/views/probes.py", title="Probes", icon=":material/target:"),
        st.Page("dashboard/views/pca.py", title="PCA / change of basis", icon=":material/explore:"),
        st.Page("dashboard/views/projector.py", title="Projector", icon=":material/scatter_plot:"),
        st.Page("dashboard/views/atlas.py", title="Direction atlas", icon=":material/hub:"),
        st.Page("dashboard/views/examples.py", title="Examples", icon=":material/format_list_numbered:"),
    ],
    "Features in superposition": [
        st.Page("dashboard/views/superposition.py", title="Superposition", icon=":material/extension:"),
        st.Page("dashboard/views/coherence.py", title="Coherence", icon=":material/straighten:"),
    ],
    "Inside the model": [
        st.Page("dashboard/views/steering.py", title="Steering", icon=":material/tune:"),
        st.Page("dashboard/views/lens.py", title="Logit lens", icon=":material/visibility:"),
    ],
    "The lessons": [
        st.Page("dashboard/views/linear_maps.py", title="Linear maps", icon=":material/grid_on:"),
        st.Page("dashboard/views/lab.py", title="Linear-algebra lab", icon=":material/calculate:"),
    ],
}

page = st.navigation(PAGES, position=auth.navigation_position(), expanded=True)
st.session_state["_page_path"] = page.url_path
auth.require_login()  # with a login configured, stops here until the user has logged in
state.init_session()
links.open_linked_dataset()
state.sidebar_dataset_picker()
links.run_page(page)  # runs the page and keeps the URL (share link) in step with its view
