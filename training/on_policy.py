"""On-policy distillation (GKD-style) for generative tasks: the student samples, the teacher scores.

For a ranking label the "generation" is one token, so sampling adds nothing over the label-position KL; the
generative part of these prompts is the history itself (the member's next rated movie). Here each prompt is
cut at a random point, the student continues it for a few tokens, and the divergence to the teacher is taken
on the positions that predicted the sampled tokens. Off by default (`DistillConfig.on_policy_fraction`).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch


@torch.no_grad()
def sample_continuations(
    student,
    prompts: Sequence[Sequence[int]],
    num_new_tokens: int,
    temperature: float,
    generator: torch.Generator,
) -> list[list[int]]:
    """Each prompt followed by `num_new_tokens` tokens sampled from the student (plain loop, no cache)."""
    out = []
    for prompt in prompts:
        ids = list(prompt)
        for _ in range(num_new_tokens):
            logits = student(input_ids=torch.tensor([ids])).logits[0, -1].float()
            probs = torch.softmax(logits / temperature, dim=-1)
            ids.append(int(torch.multinomial(probs, 1, generator=generator)))
        out.append(ids)
    return out


def on_policy_logits(
    student,
    teacher,
    prefixes: Sequence[Sequence[int]],
    num_new_tokens: int,
    generator: torch.Generator,
    temperature: float = 1.0,
) -> tuple[torch.Tensor, torch.Tensor]:
    """(M, V) student logits (with grad) and teacher logits at the positions that produced sampled tokens."""
    prompts = []
    for prefix in prefixes:
        cut = int(torch.randint(1, max(2, len(prefix)), (1,), generator=generator))
        prompts.append(list(prefix[:cut]))
    was_training = student.training
    student.eval()
    sequences = sample_continuations(student, prompts, num_new_tokens, temperature, generator)
    student.train(was_training)
    student_rows, teacher_rows = [], []
    for prompt, seq in zip(prompts, sequences, strict=True):
        ids = torch.tensor([seq])
        # Position t predicts token t + 1: the sampled tokens are predicted from len(prompt) - 1 on.
        rows = slice(len(prompt) - 1, len(seq) - 1)
        student_rows.append(student(input_ids=ids).logits[0, rows].float())
        with torch.no_grad():
            teacher_rows.append(teacher(input_ids=ids).logits[0, rows].float())
    return torch.cat(student_rows), torch.cat(teacher_rows)
