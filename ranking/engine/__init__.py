"""The embedded engine: an in-process PyTorch scorer over Hugging Face checkpoints."""
