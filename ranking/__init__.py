"""The ranking domain core: prompts, label tokens, scores, the Scorer interface and its backends (no FastAPI)."""
