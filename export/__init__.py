"""Export: Keras runs -> checked ONNX graphs -> versions in the Triton model repository."""
