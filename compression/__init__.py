"""Compression: calibration capture, OSSCAR structured pruning, quantization and export of servable checkpoints."""
