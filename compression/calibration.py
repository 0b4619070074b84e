"""Calibration capture: Gram matrices H = XᵀX of the inputs of chosen linear layers, from forward hooks.

Calibration data is token-id sequences the caller chooses: in-domain prompts (e.g. ranking prompts built
by ranking.prompt_builder) or generic text (`generic_text` below, encoded by the model's tokenizer). The
Gram matrices are accumulated in float64 over every token of every sequence, so sums over thousands of
tokens lose nothing to rounding, and they are all OSSCAR, the baselines and GPTQ need.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

import torch
from torch import nn

from ranking.decoder_layout import DecoderLayout, decoder_layers

# The pruned linears: the same names in every supported layout (ranking/decoder_layout.py).
MLP_TARGET = DecoderLayout().down_proj
ATTENTION_TARGET = DecoderLayout().o_proj


@dataclass(frozen=True)
class CalibrationConfig:
    """Which linear layers to watch (name suffixes), how long a sequence may be, and what to record."""

    targets: tuple[str, ...] = (MLP_TARGET, ATTENTION_TARGET)
    max_seq_len: int = 1024
    layer_indices: tuple[int, ...] | None = None  # None: every decoder layer
    track_absmax: bool = False  # per-channel max |x|, needed by SmoothQuant


@dataclass
class InputStats:
    """What one linear layer saw: Gram matrix [p, p] float64, per-channel max |x| [p], token count."""

    gram: torch.Tensor
    absmax: torch.Tensor
    num_tokens: int = 0

    def add(self, x: torch.Tensor, track_absmax: bool) -> None:
        """Accumulate inputs x [..., p]."""
        flat = x.detach().reshape(-1, x.shape[-1]).double()
        self.gram += flat.T @ flat
        if track_absmax:
            self.absmax = torch.maximum(self.absmax, flat.abs().amax(dim=0))
        self.num_tokens += flat.shape[0]


@dataclass
class Calibration:
    """Input statistics per watched linear layer, keyed by module name (e.g. model.layers.3.mlp.down_proj)."""

    stats: dict[str, InputStats] = field(default_factory=dict)
    num_sequences: int = 0

    @property
    def num_tokens(self) -> int:
        return sum(s.num_tokens for s in self.stats.values()) // max(len(self.stats), 1)

    def gram(self, name: str) -> torch.Tensor:
        if name not in self.stats:
            raise KeyError(f"no calibration statistics for {name!r}; captured: {sorted(self.stats)[:4]}...")
        return self.stats[name].gram

    @classmethod
    def capture(
        cls,
        model: nn.Module,
        sequences: Iterable[Sequence[int]],
        config: CalibrationConfig | None = None,
        progress: bool = False,
    ) -> Calibration:
        """Run `model` over every sequence (one at a time, no padding) and record its targets' inputs."""
        config = config or CalibrationConfig()
        modules = watched_modules(model, config)
        if not modules:
            raise ValueError(f"no linear layers match targets {config.targets}")
        calibration = cls({name: _empty_stats(module) for name, module in modules.items()})
        handles = [module.register_forward_hook(calibration._hook(name, config)) for name, module in modules.items()]
        device = next(model.parameters()).device
        try:
            with torch.no_grad():
                for ids in _progress(list(sequences), progress):
                    if not ids:
                        continue
                    input_ids = torch.tensor([list(ids)[: config.max_seq_len]], device=device)
                    model(input_ids=input_ids, use_cache=False)
                    calibration.num_sequences += 1
        finally:
            for handle in handles:
                handle.remove()
        if calibration.num_sequences == 0:
            raise ValueError("calibration needs at least one non-empty token sequence")
        return calibration

    def _hook(self, name: str, config: CalibrationConfig) -> Callable[..., None]:
        def hook(module: nn.Module, inputs: tuple[torch.Tensor, ...], output: torch.Tensor) -> None:
            self.stats[name].add(inputs[0], config.track_absmax)

        return hook


def watched_modules(model: nn.Module, config: CalibrationConfig) -> dict[str, nn.Linear]:
    """Linear modules named `model.layers.<i>.<target>` for the configured layers and targets."""
    num_layers = len(decoder_layers(model))
    indices = config.layer_indices if config.layer_indices is not None else range(num_layers)
    found: dict[str, nn.Linear] = {}
    for name, module in model.named_modules():
        if not isinstance(module, nn.Linear):
            continue
        for i in indices:
            if any(name.endswith(f"layers.{i}.{target}") for target in config.targets):
                found[name] = module
    return found


def _empty_stats(module: nn.Linear) -> InputStats:
    """Zeroed statistics on the module's device (accumulation stays where the activations are)."""
    p, device = module.in_features, module.weight.device
    return InputStats(
        gram=torch.zeros(p, p, dtype=torch.float64, device=device),
        absmax=torch.zeros(p, dtype=torch.float64, device=device),
    )


def _progress(items: list[Sequence[int]], enabled: bool) -> Iterable[Sequence[int]]:
    if not enabled:
        return items
    from tqdm import tqdm

    return tqdm(items, desc="calibration", unit="seq")


_SUBJECTS = (
    "the old man",
    "a young woman",
    "the teacher",
    "my neighbour",
    "the small dog",
    "our team",
    "the city",
    "a farmer",
    "the children",
    "the company",
    "his brother",
    "the river",
    "a stranger",
    "the committee",
)
_VERBS = (
    "walked to",
    "looked at",
    "talked about",
    "found",
    "built",
    "remembered",
    "painted",
    "visited",
    "cleaned",
    "wrote about",
    "carried",
    "watched",
    "opened",
    "described",
    "followed",
    "repaired",
)
_OBJECTS = (
    "the market",
    "a long letter",
    "the garden",
    "an empty house",
    "the morning train",
    "a red bicycle",
    "the north road",
    "a quiet room",
    "the last chapter",
    "the kitchen table",
    "a broken window",
    "the winter coat",
    "the village school",
    "a wooden bridge",
    "the evening news",
    "a cup of tea",
)
_TAILS = (
    "before noon",
    "after the rain",
    "with great care",
    "for the first time",
    "in silence",
    "without a word",
    "on a cold day",
    "as the sun set",
    "once again",
    "near the station",
)


def generic_text(num_texts: int, seed: int = 0, sentences_per_text: int = 12) -> list[str]:
    """Plain English-like paragraphs from a built-in vocabulary: the out-of-domain calibration set."""
    rng = random.Random(seed)
    texts = []
    for _ in range(num_texts):
        sentences = [
            f"{rng.choice(_SUBJECTS).capitalize()} {rng.choice(_VERBS)} {rng.choice(_OBJECTS)} {rng.choice(_TAILS)}."
            for _ in range(sentences_per_text)
        ]
        texts.append(" ".join(sentences))
    return texts


def encode_texts(encode: Callable[[str], list[int]], texts: Iterable[str], max_len: int) -> list[list[int]]:
    """Token ids of each text, truncated to `max_len` (encode: e.g. tokenizer.encode)."""
    return [list(encode(text))[:max_len] for text in texts]
