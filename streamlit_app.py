"""urbsim policy lab: `streamlit run streamlit_app.py` (or `urbsim app`).

Page layout only; everything else lives in :mod:`urbsim.app`.
"""

import streamlit as st

# An emoji icon: a Material icon is fetched from fonts.gstatic.com by every visitor's browser.
st.set_page_config(page_title="urbsim", page_icon="🏙️", layout="wide")
# Visitors never see exception types, messages or tracebacks (they go to the server's log),
# however the app was started; `urbsim app` also passes it on the command line.
st.set_option("client.showErrorDetails", "none")

from urbsim.app import main  # noqa: E402  (set_page_config must be the first Streamlit call)

main()
