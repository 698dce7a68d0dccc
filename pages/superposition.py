import streamlit as st

st.title("superposition")
st.info("This page is being built.")
