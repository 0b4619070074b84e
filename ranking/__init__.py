"""The ranking domain core: prompts, label tokens, scores, the Scorer interface and its backends (no FastAPI)."""

import logging

# torchao (the optional 8-bit optimiser) is imported by transformers whenever it is installed, and its import
# logs a warning per prebuilt C++ kernel it cannot load on this Python/CPU, plus torch's notes on its enum
# registrations: four lines of noise before every model load. Neither concerns ranking; errors still show.
for _noisy in ("torchao", "torch.utils._pytree"):
    logging.getLogger(_noisy).setLevel(logging.ERROR)
