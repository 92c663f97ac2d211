"""The synthetic chest-CT study phantom: a whole chest in HU with its ground truth."""
