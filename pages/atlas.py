import streamlit as st

st.title("atlas")
st.info("This page is being built.")
