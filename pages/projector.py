import streamlit as st

st.title("projector")
st.info("This page is being built.")
