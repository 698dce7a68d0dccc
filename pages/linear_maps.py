import streamlit as st

st.title("linear_maps")
st.info("This page is being built.")
