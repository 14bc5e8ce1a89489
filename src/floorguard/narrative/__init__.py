"""Narratives of the uncertainty & opportunity engine (seed sections 20.4, 20.10).

A deterministic template narrator writes the seed's sentences from engine
figures; an optional LLM narrator (any OpenAI-compatible endpoint) may only
rephrase it, and its text is served only when every number in it is one the
engine computed and it passes the compliance checks (estimates labelled, the
unhedged baseline shown, no guarantee language).
"""

from floorguard.narrative._guard import (
    BANNED_PATTERNS,
    ExtractedNumber,
    NumberGuard,
    compliance_issues,
    extract_numbers,
)
from floorguard.narrative._llm import SYSTEM_PROMPT, LlmNarrator, NarrationOutcome, narrate
from floorguard.narrative._template import STRUCTURE_NAMES, Narrative, scenario_narrative, window_narrative

__all__ = [
    "BANNED_PATTERNS",
    "STRUCTURE_NAMES",
    "SYSTEM_PROMPT",
    "ExtractedNumber",
    "LlmNarrator",
    "Narrative",
    "NarrationOutcome",
    "NumberGuard",
    "compliance_issues",
    "extract_numbers",
    "narrate",
    "scenario_narrative",
    "window_narrative",
]
