"""Request and response bodies of the HTTP API (the stable, documented contract of /rank)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from ranking.scores import ScoreType

Metadata = dict[str, Any]


def _not_bool_or_text(value: Any) -> Any:
    if isinstance(value, bool | str):
        raise ValueError("must be a JSON integer, not a boolean or a string")
    return value


# A JSON integer: 3 and 3.0 (JSON Schema counts both as integers), never true/false or "3".
JsonInt = Annotated[int, Field(strict=False), BeforeValidator(_not_bool_or_text)]
PositiveJsonInt = Annotated[int, Field(strict=False, ge=1), BeforeValidator(_not_bool_or_text)]


def _number_not_bool_or_text(value: Any) -> Any:
    if isinstance(value, bool | str):
        raise ValueError("must be a JSON number, not a boolean or a string")
    return value


# Task name -> a JSON number in [0, 1] (0 and 1 as integers too).
Rate = Annotated[float, Field(strict=False, ge=0.0, le=1.0), BeforeValidator(_number_not_bool_or_text)]
LabelRates = dict[str, Rate]


class InteractionIn(BaseModel):
    """One past interaction of the member with an item."""

    model_config = ConfigDict(extra="forbid", strict=True)

    item: str = Field(..., min_length=1, description="Item text, e.g. 'Heat (1995) | Action|Crime|Thriller'.")
    action: str = Field("interacted", min_length=1, description="What the member did: 'liked', 'rated 4.5'…")
    timestamp: JsonInt | None = Field(None, description="Unix seconds; orders the history when every item has one.")


class MemberIn(BaseModel):
    """The member to rank for. Personal data: never logged."""

    model_config = ConfigDict(extra="forbid", strict=True)

    id: str = Field(..., min_length=1, description="Stable member id; routes the member to one engine replica.")
    profile: str | dict[str, Any] | None = Field(
        None, description="Free text, or fields rendered as 'key: value' in the order given."
    )
    history: list[InteractionIn] = Field(
        default_factory=list, description="Past interactions, any order; the most recent that fit are shown."
    )
    label_rates: LabelRates | None = Field(
        None,
        description="Task -> the member's past positive rate in [0, 1]; required by models whose card has "
        "prompt.label_rates (docs/data.md says how to compute it).",
    )


class CandidateIn(BaseModel):
    """One item to score."""

    model_config = ConfigDict(extra="forbid", strict=True)

    id: str = Field(..., min_length=1, description="Unique within the request.")
    text: str = Field(..., min_length=1, description="Item text shown to the model.")
    metadata: Metadata | None = Field(None, description="Opaque; returned unchanged with the ranked item.")
    label_rates: LabelRates | None = Field(
        None,
        description="Task -> the item's positive rate among members in [0, 1]; required by models whose card "
        "has prompt.label_rates.",
    )
    similar_rates: LabelRates | None = Field(
        None,
        description="Task -> the member's positive rate on items similar to this one in [0, 1]; required by "
        "models whose card has prompt.similar_rates (the card's input.similar_rates says how to compute it).",
    )


class RankRequest(BaseModel):
    """Rank `candidates` for `member` under `task`."""

    model_config = ConfigDict(
        extra="forbid",
        strict=True,
        json_schema_extra={
            "examples": [
                {
                    "member": {
                        "id": "u42",
                        "profile": "favourite genres: Drama, Comedy; average rating: 3.9",
                        "history": [
                            {
                                "item": "Heat (1995) | Action|Crime|Thriller",
                                "action": "rated 4.5",
                                "timestamp": 1530000000,
                            },
                        ],
                    },
                    "candidates": [
                        {
                            "id": "m1",
                            "text": "Toy Story (1995) | Adventure|Animation|Children|Comedy|Fantasy",
                        },
                        {
                            "id": "m2",
                            "text": "Casino (1995) | Crime|Drama",
                            "metadata": {"source": "trending"},
                        },
                    ],
                    "task": "like",
                    "top_n": 10,
                }
            ]
        },
    )

    member: MemberIn
    candidates: list[CandidateIn] = Field(..., description="1..max_candidates items with unique ids.")
    task: str | None = Field(None, description="A task of the model's card (GET /v1/models); its first when omitted.")
    model: str | None = Field(
        None, description="A served model's id (GET /v1/models); omitted, the A/B variant policy picks by member id."
    )
    top_n: PositiveJsonInt | None = Field(None, description="Return only the best n (all when omitted).")
    score_type: ScoreType = Field(
        ScoreType.PROBABILITY,
        strict=False,  # the JSON string names the enum member
        description="'probability' = P(yes)/(P(yes)+P(no)) in [0, 1]; 'log_odds' = log P(yes) - log P(no).",
    )


class RankedItem(BaseModel):
    """A candidate's place in the ranking. Equal scores keep request order."""

    id: str
    score: float
    rank: int = Field(..., description="1 = best.")
    metadata: Metadata | None = None


class Usage(BaseModel):
    """What scoring cost. cached_tokens: prompt tokens whose KV came from the prefix cache."""

    prompt_tokens: int
    cached_tokens: int
    candidates: int
    history_shown: int = Field(..., description="History items that fit the prompt's token budget.")


class Timing(BaseModel):
    """Milliseconds in the engine and end to end inside the service."""

    engine: float
    total: float


class RankResponse(BaseModel):
    """Candidates best first."""

    member_id: str
    model: str = Field(..., description="The served model that scored the request.")
    variant: str = Field(..., description="The A/B arm: the policy's pick (the model's id), or 'requested'.")
    task: str
    score_type: ScoreType
    ranked: list[RankedItem]
    usage: Usage
    timing_ms: Timing


class ErrorDetail(BaseModel):
    """One problem with the request: which field, what is wrong, and the limit if one applies."""

    field: str
    message: str
    limit: int | float | None = None


class ErrorBody(BaseModel):
    code: str = Field(..., description="Stable machine-readable code, e.g. 'invalid_request', 'overloaded'.")
    message: str
    details: list[ErrorDetail] = Field(default_factory=list)


class ErrorResponse(BaseModel):
    """The one error shape of every 4xx/5xx."""

    error: ErrorBody


class HealthResponse(BaseModel):
    status: str
    model: str | None = None
    backend: str | None = None


class ServedModelInfo(BaseModel):
    """One model the gateway serves (OpenAI-style list entry plus its card)."""

    id: str = Field(..., description="The name a request's `model` field uses.")
    object: str = "model"
    owned_by: str = "slmrank"
    backend: str = Field(..., description="embedded | sglang | vllm")
    is_ready: bool
    weight: float = Field(..., description="Share of requests without `model` the variant policy sends here (0..1).")
    is_shadow: bool = Field(False, description="Also scores other models' requests off the response path.")
    card: dict[str, Any] = Field(
        ..., description="The checkpoint card: tasks, input contract (how to render requests), prompt budgets."
    )


class ModelList(BaseModel):
    """Every served model, in the configured order."""

    object: str = "list"
    data: list[ServedModelInfo]
