"""The embedded engine: an in-process PyTorch scorer over Hugging Face checkpoints.

`EmbeddedEngine` (the Scorer) queues requests for a worker thread; `Scheduler` cuts them into forward steps
under a token budget; `RadixCache` keeps member-prefix KV (`TensorKVSegment`s) between requests;
`ModelRunner` runs packed steps with our own attention (`attention.py`: SDPA, CPU cascade, FlashInfer).
See docs/engine.md.
"""
