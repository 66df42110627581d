"""Everything learned: networks, data (simulator, footage), training and metrics."""

__version__ = "0.1.0"
