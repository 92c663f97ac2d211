"""The HRCT imaging layer: numpy-only code shared by training, export and the client."""
