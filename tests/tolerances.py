"""One table of numeric tolerances, keyed by dtype (STYLE.md): fp32 ~1e-5, bf16 ~1e-2."""

TOLERANCE = {"float32": 1e-5, "bfloat16": 1e-2, "float16": 5e-3}
