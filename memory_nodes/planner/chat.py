"""Optional question parsing by an OpenAI-compatible chat endpoint (off by default; URL in config).

The endpoint is asked for one JSON object with the query's fields and the question's time phrase as
written; the time phrase is resolved here against the caller's reference time (never by the model), and
the object is validated against the query schema. Anything invalid (HTTP error, time-out, not JSON,
unknown kind or field, missing target) gives None, and the caller falls back to the rule parser.
Standard library only (urllib); nothing is sent unless ``chat.enabled`` is true.
"""
from __future__ import annotations

import json
import os
import re
import urllib.error
import urllib.request
from typing import Any, Dict, Optional

from ..common.errors import InputError
from . import query as Q
from .config import ChatConfig
from .query import Query, TimeWindow, tense_of, validate_query
from .timephrase import CalendarConfig, extract_time

SYSTEM_PROMPT = (
    "You turn a household robot's question into JSON. Reply with ONE JSON object and nothing else, with keys: "
    "kind (one of " + ", ".join(Q.KINDS) + ", or cannot_parse), target (object class, singular, lower case), "
    "targets (list, for which_first), room (room type or empty), receptacle (furniture or empty), relation "
    "(on, in or empty), attribute (color or empty), color (colour word qualifying the target or empty), "
    "time_phrase (the time words of the question exactly as written, or empty), reason (why, if cannot_parse). "
    "Questions about a device's state (on/off, open/closed), materials, or what can be done with an object "
    "are cannot_parse.")

_ALLOWED = {"kind", "target", "targets", "room", "receptacle", "relation", "attribute", "color", "time_phrase",
            "reason"}


class ChatParser:
    def __init__(self, config: ChatConfig, calendar: Optional[CalendarConfig] = None, vocab=None):
        self.config = config
        self.calendar = calendar or CalendarConfig()
        self.vocab = vocab
        self.last_error = ""

    def _post(self, question: str) -> str:
        body = {"messages": [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": question}],
                "temperature": 0}
        if self.config.model:
            body["model"] = self.config.model
        headers = {"Content-Type": "application/json"}
        if self.config.api_key_env and os.environ.get(self.config.api_key_env):
            headers["Authorization"] = "Bearer " + os.environ[self.config.api_key_env]
        req = urllib.request.Request(self.config.url, data=json.dumps(body).encode(), headers=headers, method="POST")
        with urllib.request.urlopen(req, timeout=self.config.timeout_s) as resp:
            payload = json.loads(resp.read().decode("utf-8"))
        return payload["choices"][0]["message"]["content"]

    def parse(self, question: str, reference_ns: int, window: Optional[TimeWindow] = None) -> Optional[Query]:
        """A validated Query, or None (and ``last_error`` says why)."""
        self.last_error = ""
        try:
            content = self._post(question)
            data = _json_object(content)
            return self._to_query(data, question, reference_ns, window)
        except (urllib.error.URLError, OSError, TimeoutError, KeyError, IndexError, TypeError, ValueError,
                InputError) as e:
            self.last_error = f"{type(e).__name__}: {e}"
            return None

    def _to_query(self, data: Dict[str, Any], question: str, ref_ns: int, window: Optional[TimeWindow]) -> Query:
        unknown = set(data) - _ALLOWED
        if unknown:
            raise InputError("bad_query", f"unknown field(s) {sorted(unknown)}")
        kind = data.get("kind")
        if kind == Q.CANNOT_PARSE:
            return Q.cannot_parse(question, str(data.get("reason") or "the chat parser could not parse it"), ref_ns)
        phrase = data.get("time_phrase") or ""
        if not isinstance(phrase, str):
            raise InputError("bad_query", "time_phrase must be a string")
        info, _ = extract_time(phrase.lower(), ref_ns, self.calendar) if phrase else (None, "")
        fields = {k: v for k, v in data.items() if k in ("kind", "target", "targets", "room", "receptacle", "relation",
                                                          "attribute", "color")}
        fields.update(text=question, reference_ns=ref_ns, source="chat")
        q = validate_query(fields)
        if self.vocab is not None:
            q.target = self._canon(q.target)
            q.targets = [self._canon(t) for t in q.targets]
            q.receptacle = self._canon(q.receptacle)
        q.window = window if window is not None else (info.window if info else None)
        q.last_time = bool(info and info.last_time)
        if q.kind == Q.WHERE_NOW and (q.last_time or (q.window and q.window.end_ns and q.window.end_ns < ref_ns)):
            q.kind = Q.WHERE_AT
        q.tense = tense_of(q.kind, q.window, ref_ns, q.last_time)
        return validate_query(q)

    def _canon(self, name: str) -> str:
        if not name:
            return name
        hit = self.vocab.resolve_class(name, allow_model=False)
        return hit[0] if isinstance(hit, tuple) else (hit or name)


def _json_object(content: str) -> Dict[str, Any]:
    text = content.strip()
    m = re.search(r"```(?:json)?\s*(\{.*\})\s*```", text, re.S)
    if m:
        text = m.group(1)
    elif not text.startswith("{"):
        a, b = text.find("{"), text.rfind("}")
        if a < 0 or b <= a:
            raise ValueError("no JSON object in the reply")
        text = text[a:b + 1]
    data = json.loads(text)
    if not isinstance(data, dict):
        raise ValueError("the reply is not a JSON object")
    return data
