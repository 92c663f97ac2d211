"""Whole-chest CT studies: the study phantom, series reading, lung segmentation and quantification.

This layer needs no model: it turns a CT series into lung masks and densitometry in the
conventions of the Chest Imaging Platform (LAA-950, Perc15, lung volume per lung and zone).
"""
