"""The error a training run's setup raises before any work: a device, split or file that does not fit the run."""

from __future__ import annotations


class SetupError(ValueError):
    """Names the setting and the value that do not fit; the CLI prints it as one `error:` line."""
