"""The client side: the Triton gRPC wrapper, `emphysema predict`, the Streamlit app and publishing."""
