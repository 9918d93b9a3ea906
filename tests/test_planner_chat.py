"""The optional chat-endpoint parser against a local fake OpenAI-compatible server (127.0.0.1 only)."""
from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from memory_nodes.planner.chat import ChatParser
from memory_nodes.planner.config import ChatConfig, PlannerConfig
from memory_nodes.planner.fakes import FakeMemory
from memory_nodes.planner.planner import Planner
from memory_nodes.planner.timephrase import NS_PER_DAY, CalendarConfig, day_start_ns
from memory_nodes.vocab.vocabulary import VocabConfig, Vocabulary

NOW = 1715871600 * 10**9          # Thursday 15:00


class _Handler(BaseHTTPRequestHandler):
    replies = {}                   # question -> content string (or an int HTTP status)
    seen = []

    def do_POST(self):            # noqa: N802 (http.server's naming)
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).seen.append(body)
        question = body["messages"][-1]["content"]
        reply = type(self).replies.get(question, "{}")
        if isinstance(reply, int):
            self.send_response(reply)
            self.end_headers()
            return
        data = json.dumps({"choices": [{"message": {"role": "assistant", "content": reply}}]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):  # keep pytest output clean
        pass


@pytest.fixture(scope="module")
def server():
    httpd = HTTPServer(("127.0.0.1", 0), _Handler)
    t = threading.Thread(target=httpd.serve_forever, daemon=True)
    t.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/v1/chat/completions"
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture(scope="module")
def vocab():
    return Vocabulary(VocabConfig(allow_model=False))


def _parser(url, vocab, timeout_s=2.0):
    return ChatParser(ChatConfig(enabled=True, url=url, model="fake", timeout_s=timeout_s), CalendarConfig(), vocab)


def test_valid_reply_becomes_a_validated_query_with_resolved_time(server, vocab):
    _Handler.replies["where was my coffee cup yesterday?"] = (
        '```json\n{"kind": "where_now", "target": "coffee cup", "time_phrase": "yesterday"}\n```')
    q = _parser(server, vocab).parse("where was my coffee cup yesterday?", NOW)
    assert q is not None and q.source == "chat"
    assert q.kind == "where_at" and q.target == "mug" and q.tense == "past"
    today = day_start_ns(NOW, CalendarConfig())
    assert q.window.start_ns == today - NS_PER_DAY and q.window.end_ns == today - 1
    body = _Handler.seen[-1]
    assert body["model"] == "fake" and body["temperature"] == 0 and "cannot_parse" in body["messages"][0]["content"]


@pytest.mark.parametrize("content", [
    "sorry, I cannot help",                                      # not JSON
    '{"kind": "teleport", "target": "mug"}',                     # unknown kind
    '{"kind": "where_now"}',                                     # missing target
    '{"kind": "count", "target": "mug", "secret": 1}',           # unknown field
    '{"kind": "which_first", "targets": ["milk"]}',              # too few alternatives
    '["where_now", "mug"]',                                      # not an object
])
def test_invalid_replies_are_rejected(server, vocab, content):
    _Handler.replies["q-invalid"] = content
    p = _parser(server, vocab)
    assert p.parse("q-invalid", NOW) is None and p.last_error


def test_http_error_and_unreachable_endpoint_give_none(server, vocab):
    _Handler.replies["q-500"] = 500
    p = _parser(server, vocab)
    assert p.parse("q-500", NOW) is None and "HTTPError" in p.last_error
    dead = _parser("http://127.0.0.1:9/v1/chat/completions", vocab, timeout_s=0.5)
    assert dead.parse("where is the mug", NOW) is None


def test_planner_uses_chat_and_falls_back_to_rules(server, vocab):
    cfg = PlannerConfig()
    cfg.chat.enabled, cfg.chat.url = True, server
    mem = FakeMemory({0: (0, 0, 0)}, {0: "kitchen"}, NOW)
    planner = Planner(cfg, mem, None, vocab)
    _Handler.replies["how many cups in the kitchen"] = '{"kind": "count", "target": "cup", "room": "kitchen"}'
    q = planner.parse("how many cups in the kitchen", NOW)
    assert q.source == "chat" and q.kind == "count" and q.target == "mug" and q.room == "kitchen"
    _Handler.replies["where is the remote?"] = "no idea"
    q = planner.parse("where is the remote?", NOW)          # invalid chat reply -> the rule parser
    assert q.source == "rules" and q.kind == "where_now" and q.target == "remote control"
    _Handler.replies["is the oven on?"] = '{"kind": "cannot_parse", "reason": "device state"}'
    a = planner.answer("is the oven on?", NOW)
    assert a.status == "CANNOT_PARSE"


def test_chat_is_off_by_default(vocab):
    planner = Planner(PlannerConfig(), FakeMemory({0: (0, 0, 0)}, {0: "kitchen"}, NOW), None, vocab)
    assert planner.chat is None
