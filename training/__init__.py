"""Training and evaluation: the four architectures, tf.data pipelines, runs, metrics, comparison."""
