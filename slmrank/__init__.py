"""slmrank: the `slmrank` console script that fronts every package's jobs."""

__version__ = "0.1.0"
