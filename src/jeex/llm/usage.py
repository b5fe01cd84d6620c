"""Token usage and cost of LLM calls, added up per section and per run."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from jeex.config import Settings


@dataclass
class Usage:
    """Tokens of one or more calls; ``estimated`` when the endpoint reported none."""

    tokens_in: int = 0
    tokens_out: int = 0
    seconds: float = 0.0
    calls: int = 0
    estimated: bool = False

    def add(self, other: Usage) -> None:
        self.tokens_in += other.tokens_in
        self.tokens_out += other.tokens_out
        self.seconds += other.seconds
        self.calls += other.calls
        self.estimated = self.estimated or other.estimated

    def cost(self, settings: Settings) -> Decimal:
        per_in = settings.llm_price_per_1k_input_tokens
        per_out = settings.llm_price_per_1k_output_tokens
        return (Decimal(self.tokens_in) * per_in + Decimal(self.tokens_out) * per_out) / 1000
