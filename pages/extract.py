import streamlit as st

st.title("extract")
st.info("This page is being built.")
