import streamlit as st

st.title("pca")
st.info("This page is being built.")
