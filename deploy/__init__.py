"""Serving: the embedded CPU Triton server, and the GPU container / Kubernetes files next to it."""
