"""Optional LLM narrator: rephrases the template text, never adds a figure.

Any OpenAI-compatible ``/chat/completions`` endpoint works (configured by the
caller from ``llm_base_url``, ``llm_api_key``, ``llm_model``). The model is
asked to rephrase the template text; its answer is served only if every
number and date in it is one the engine computed (:class:`NumberGuard`) and
it passes the compliance checks. Otherwise the template text is served and
the reason recorded. The prompt, the model's raw output and the choice are
returned for the audit log.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any

import httpx

from floorguard.narrative._guard import NumberGuard, compliance_issues
from floorguard.narrative._template import Narrative

__all__ = ["LlmNarrator", "NarrationOutcome", "SYSTEM_PROMPT", "narrate"]

SYSTEM_PROMPT = (
    "You rephrase risk notes for an investor. Rewrite the note in plain, friendly English in at most "
    "four sentences. Rules: keep every number, amount, percentage and date exactly as written; do not "
    "add any number, date or fact; call every figure an estimate; always mention the unhedged baseline; "
    "never promise or guarantee an outcome."
)


@dataclass(frozen=True)
class NarrationOutcome:
    """The text served and how it was chosen.

    ``choice`` is ``"llm"`` or ``"template"``; ``reason`` says why the
    template was served (no LLM configured, request failed, unknown numbers,
    compliance).
    """

    text: str
    choice: str
    template_text: str
    llm_text: str | None
    prompt: str | None
    model: str | None
    reason: str | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class LlmNarrator:
    """Client of an OpenAI-compatible chat-completions endpoint.

    Parameters
    ----------
    base_url : str
        E.g. ``https://api.openai.com/v1`` or a local server's ``http://localhost:8080/v1``.
    api_key : str or None
        Sent as ``Authorization: Bearer``.
    model : str
    timeout : float
        Seconds for the whole request.
    transport : httpx.BaseTransport, optional
        For tests (``httpx.MockTransport``).
    """

    def __init__(
        self,
        base_url: str,
        model: str,
        api_key: str | None = None,
        *,
        timeout: float = 10.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.api_key = api_key
        self.timeout = float(timeout)
        self.transport = transport

    def prompt(self, narrative: Narrative) -> list[dict[str, str]]:
        """The chat messages sent for ``narrative``."""
        user = (
            "Note to rephrase:\n" + narrative.text + "\n\nFigures (for context only; do not add any):\n"
            + json.dumps(narrative.facts, default=str, sort_keys=True)[:6000]
        )
        return [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": user}]

    def complete(self, messages: list[dict[str, str]]) -> str:
        """The model's answer (raises ``httpx.HTTPError`` or ``ValueError`` on failure)."""
        headers = {"Content-Type": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        body = {"model": self.model, "messages": messages, "temperature": 0}
        with httpx.Client(timeout=self.timeout, transport=self.transport) as client:
            resp = client.post(f"{self.base_url}/chat/completions", json=body, headers=headers)
            resp.raise_for_status()
            data = resp.json()
        try:
            content = data["choices"][0]["message"]["content"]
        except (KeyError, IndexError, TypeError) as exc:
            raise ValueError("the LLM answer has no choices[0].message.content") from exc
        if not isinstance(content, str) or not content.strip():
            raise ValueError("the LLM answer is empty")
        return content.strip()


def narrate(narrative: Narrative, llm: LlmNarrator | None = None, *, require_baseline: bool = True) -> NarrationOutcome:
    """Serve the LLM's rephrasing if it passes the guards, else the template text.

    Parameters
    ----------
    narrative : Narrative
        From the template narrator (its numbers are the allowed set).
    llm : LlmNarrator or None
        None: the template text is served.
    require_baseline : bool
        Whether the text must mention the unhedged baseline.
    """
    template = narrative.text
    if llm is None:
        return NarrationOutcome(template, "template", template, None, None, None, "no LLM configured")
    messages = llm.prompt(narrative)
    prompt = json.dumps(messages)
    try:
        answer = llm.complete(messages)
    except (httpx.HTTPError, ValueError) as exc:
        return NarrationOutcome(template, "template", template, None, prompt, llm.model,
                                f"LLM request failed: {type(exc).__name__}: {exc}")
    guard = NumberGuard(narrative.numbers, narrative.dates)
    unknown = guard.unknown(answer)
    if unknown:
        return NarrationOutcome(template, "template", template, answer, prompt, llm.model,
                                "LLM text has numbers the engine did not compute: " + ", ".join(unknown[:10]))
    issues = compliance_issues(answer, require_baseline=require_baseline)
    if issues:
        return NarrationOutcome(template, "template", template, answer, prompt, llm.model,
                                "LLM text fails compliance: " + "; ".join(issues))
    return NarrationOutcome(answer, "llm", template, answer, prompt, llm.model, None)
