"""Run a Scorer (embedded engine or an HTTP backend) for a few batches from synchronous test code."""

from __future__ import annotations

import asyncio

from ranking.scorer import ScoreBatch, Scorer, ScoreResult


def score_once(scorer: Scorer, *batches: ScoreBatch) -> list[ScoreResult]:
    """start(), score each batch in turn, close() — even when scoring fails."""

    async def go() -> list[ScoreResult]:
        await scorer.start()
        try:
            return [await scorer.score(b) for b in batches]
        finally:
            await scorer.close()

    return asyncio.run(go())
