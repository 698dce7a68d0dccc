import streamlit as st

st.title("coherence")
st.info("This page is being built.")
