"""Study analysis through a served model: ROI training data, tiling, pattern maps, zone summaries."""
