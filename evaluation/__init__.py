"""`emphysema evaluate`: a frozen model scored on its own test split or on another cohort.

It sits above training (the run, the metrics, the report) and the client (the Triton classifier),
so the same metrics code scores the Keras file and a model served by Triton.
"""
