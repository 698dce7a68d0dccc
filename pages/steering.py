import streamlit as st

st.title("steering")
st.info("This page is being built.")
