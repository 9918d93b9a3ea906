"""Question understanding over the planner's DEV pool of phrasings, and time phrases.

The DEV pool below is the parser's own (the benchmark's TEST pool lives elsewhere and is never read here).
Each row: question, expected kind, target, room, receptacle (empty = must be empty).
"""
from __future__ import annotations

import datetime as dt

import pytest

from memory_nodes.common.errors import ConfigError, InputError
from memory_nodes.planner.parse import ParserConfig, QuestionParser
from memory_nodes.planner.query import Query, TimeWindow, validate_query
from memory_nodes.planner.timephrase import NS_PER_H, CalendarConfig, extract_time, from_datetime
from memory_nodes.vocab.vocabulary import VocabConfig, Vocabulary

REF = from_datetime(dt.datetime(2024, 5, 16, 15, 0))          # Thursday 15:00


def at(*args) -> int:
    return from_datetime(dt.datetime(*args))


@pytest.fixture(scope="module")
def parser():
    return QuestionParser(ParserConfig(use_embeddings=False), Vocabulary(VocabConfig(allow_model=False)))


DEV_POOL = [
    # where now: plain, indirect, conversational, typos
    ("Where is my mug?", "where_now", "mug", "", ""),
    ("where are the keys", "where_now", "keys", "", ""),
    ("Can you help me find my keys?", "where_now", "keys", "", ""),
    ("Could you please locate my wallet?", "where_now", "wallet", "", ""),
    ("do you know where my glasses are?", "where_now", "glasses", "", ""),
    ("I can't find my phone anywhere", "where_now", "phone", "", ""),
    ("hey robot, where did I leave the remote?", "where_now", "remote control", "", ""),
    ("any idea where the scissors might be", "where_now", "scissors", "", ""),
    ("wher is my phnoe", "where_now", "phone", "", ""),
    ("where's the tv remote at the moment?", "where_now", "remote control", "", ""),
    ("have you seen my backpack?", "where_now", "backpack", "", ""),
    ("Where's the red cup right now?", "where_now", "mug", "", ""),
    # where at a past time
    ("where was the mug yesterday morning?", "where_at", "mug", "", ""),
    ("where was the laptop 2 days ago", "where_at", "laptop", "", ""),
    ("where was the book between monday and wednesday", "where_at", "book", "", ""),
    ("Where was the mug at 3pm yesterday?", "where_at", "mug", "", ""),
    ("where did you see the keys the last time", "where_at", "keys", "", ""),
    # last seen / since when
    ("when did you last see my wallet", "last_seen", "wallet", "", ""),
    ("When was the last time you saw the umbrella?", "last_seen", "umbrella", "", ""),
    ("since when has the box been in the hallway?", "since_when", "box", "hallway", ""),
    ("how long has the umbrella been there?", "since_when", "umbrella", "", ""),
    ("How many hours has the jacket been on the chair?", "since_when", "jacket", "", ""),
    # existence / count / what is on
    ("is there a mug in the kitchen", "exists", "mug", "kitchen", ""),
    ("are there any apples on the counter?", "exists", "apple", "", "counter"),
    ("is my laptop in the office?", "exists", "laptop", "office", ""),
    ("do we have any bananas", "exists", "banana", "", ""),
    ("was there a mug on the desk last monday", "exists", "mug", "", "desk"),
    ("how many chairs are in the dining room?", "count", "chair", "dining room", ""),
    ("how many books are on the shelf right now", "count", "book", "", "shelf"),
    ("how many mugs are there?", "count", "mug", "", ""),
    ("what's on the kitchen table?", "what_on", "", "", "dining table"),
    ("what is in the fridge", "what_on", "", "", "refrigerator"),
    ("what is on the desk in the office?", "what_on", "", "office", "desk"),
    # change
    ("did the lamp move since this morning?", "did_move", "lamp", "", ""),
    ("did someone move my glasses", "did_move", "glasses", "", ""),
    ("is the cup still where it was?", "did_move", "mug", "", ""),
    ("what changed in the living room since yesterday?", "what_changed", "", "living room", ""),
    ("has anything changed in the kitchen?", "what_changed", "", "kitchen", ""),
    # attribute
    ("what colour is the backpack?", "attribute", "backpack", "", ""),
    ("wat color is my umbrella", "attribute", "umbrella", "", ""),
    # habits and forecasts
    ("where is the remote usually?", "where_usually", "remote control", "", ""),
    ("where do I usually keep my keys?", "where_usually", "keys", "", ""),
    ("where does the vase belong?", "where_usually", "vase", "", ""),
    ("when will the mug be in the kitchen next?", "when_next", "mug", "kitchen", ""),
    ("when do you expect the keys to be back on the coat rack", "when_next", "keys", "", "coat rack"),
    ("which runs out first, the milk or the bread?", "which_first", "milk", "", ""),
    ("which will be used up first, the toilet paper or the soap?", "which_first", "toilet paper", "", ""),
    ("will the headphones be in the office tomorrow morning?", "will_be", "headphones", "office", ""),
    ("is the laptop going to be on the desk tonight?", "will_be", "laptop", "", "desk"),
    ("do you think the notebook will be in the bathroom tomorrow morning?", "will_be", "notebook", "bathroom", ""),
    ("on how many of the last 3 days was the mug in the kitchen?", "days_seen", "mug", "kitchen", ""),
    ("over the past two days, how often was the plant in the living room?", "days_seen", "plant", "living room", ""),
    ("did you see a phone in the hallway yesterday at 2:30 pm?", "exists", "phone", "hallway", ""),
    ("can you check the toy car is still on the sofa?", "exists", "toy car", "", "sofa"),
]

OUT_OF_SCOPE = [
    "is the oven on?", "is the tv on", "are the lights off", "is the door open?", "is the fridge empty?",
    "what is the table made of?", "what is the sofa made of", "is the chair made of wood", "is the desk wooden?",
    "can I sit on the box?", "could I stand on the stool", "is the microwave big enough for the bowl",
    "is it safe to climb the shelf?", "how heavy is the sofa?", "what size is the bed?",
    "why did you move my mug?", "who took my keys?", "what's the weather like?", "what is the capital of France",
]


@pytest.mark.parametrize("question,kind,target,room,receptacle", DEV_POOL)
def test_dev_pool(parser, question, kind, target, room, receptacle):
    canon = parser.vocab.canonical        # the vocabulary owns canonical names (e.g. refrigerator -> fridge)
    q = parser.parse(question, REF)
    expected = (kind, canon(target) if target else "", room, canon(receptacle) if receptacle else "")
    assert (q.kind, q.target, q.room, q.receptacle) == expected, q.reason


@pytest.mark.parametrize("question", OUT_OF_SCOPE)
def test_out_of_scope_is_cannot_parse_with_a_reason(parser, question):
    q = parser.parse(question, REF)
    assert q.kind == "cannot_parse" and q.reason


def test_dev_pool_accuracy_is_reported(parser):
    hits = sum(parser.parse(q, REF).kind == k for q, k, *_ in DEV_POOL)
    oos = sum(parser.parse(q, REF).kind == "cannot_parse" for q in OUT_OF_SCOPE)
    assert hits == len(DEV_POOL) and oos == len(OUT_OF_SCOPE)


def test_tense_and_windows(parser):
    q = parser.parse("where was the mug yesterday morning?", REF)
    assert q.tense == "past" and q.window.start_ns == at(2024, 5, 15, 5) and q.window.end_ns == at(2024, 5, 15, 12) - 1
    q = parser.parse("did the lamp move since this morning?", REF)
    assert q.tense == "past_present" and q.window.start_ns == at(2024, 5, 16, 5) and q.window.end_ns == REF
    q = parser.parse("is there a mug in the kitchen", REF)
    assert q.tense == "present" and q.window is None
    q = parser.parse("when will the mug be in the kitchen next?", REF)
    assert q.tense == "future"
    q = parser.parse("what changed in the kitchen?", REF)      # no time: the default change window
    assert q.window.start_ns == REF - 24 * NS_PER_H


def test_request_window_overrides_the_text(parser):
    w = TimeWindow(at(2024, 5, 10, 8), at(2024, 5, 10, 9), "request")
    q = parser.parse("where was the mug?", REF, window=w)
    assert q.kind == "where_at" and q.window is w


def test_parser_never_reads_a_clock(parser):
    a = parser.parse("where was the mug yesterday?", REF)
    b = parser.parse("where was the mug yesterday?", REF + 24 * NS_PER_H)
    assert b.window.start_ns - a.window.start_ns == 24 * NS_PER_H


# ------------------------------------------------------------------------------------ time phrases
CAL = CalendarConfig()


@pytest.mark.parametrize("phrase,start,end", [
    ("today", at(2024, 5, 16), REF),
    ("this morning", at(2024, 5, 16, 5), at(2024, 5, 16, 12) - 1),
    ("yesterday", at(2024, 5, 15), at(2024, 5, 16) - 1),
    ("yesterday evening", at(2024, 5, 15, 18), at(2024, 5, 16) - 1),
    ("3 days ago", at(2024, 5, 13), at(2024, 5, 14) - 1),
    ("two days ago", at(2024, 5, 14), at(2024, 5, 15) - 1),
    ("a week ago", at(2024, 5, 9), at(2024, 5, 10) - 1),
    ("last monday", at(2024, 5, 13), at(2024, 5, 14) - 1),
    ("last thursday", at(2024, 5, 9), at(2024, 5, 10) - 1),       # today is Thursday: a week back
    ("on tuesday", at(2024, 5, 14), at(2024, 5, 15) - 1),
    ("between monday and wednesday", at(2024, 5, 13), at(2024, 5, 16) - 1),
    ("between friday and monday", at(2024, 5, 10), at(2024, 5, 14) - 1),
    ("since yesterday", at(2024, 5, 15), REF),
    ("tomorrow morning", at(2024, 5, 17, 5), at(2024, 5, 17, 12) - 1),
    ("in 2 hours", REF + 2 * NS_PER_H, REF + 2 * NS_PER_H),
    ("in the last 3 days", at(2024, 5, 14), REF),
    ("2 hours ago", REF - 2 * NS_PER_H, REF - 2 * NS_PER_H),
    ("at 9 am", at(2024, 5, 16, 9), at(2024, 5, 16, 9)),
    ("at 8 pm", at(2024, 5, 15, 20), at(2024, 5, 15, 20)),        # not yet today: yesterday's
    ("yesterday at 10:30", at(2024, 5, 15, 10, 30), at(2024, 5, 15, 10, 30)),
])
def test_time_phrases(phrase, start, end):
    info, rest = extract_time(f"where was the mug {phrase}", REF, CAL)
    assert info.window is not None, phrase
    assert (info.window.start_ns, info.window.end_ns) == (start, end)
    assert rest == "where was the mug"


def test_now_last_time_and_habit_flags():
    info, _ = extract_time("where is the mug now", REF, CAL)
    assert info.explicit_now and info.window is None
    info, _ = extract_time("where was the mug the last time", REF, CAL)
    assert info.last_time
    info, _ = extract_time("where is the mug usually in the morning", REF, CAL)
    assert info.habitual and info.day_part == "morning"


def test_day_start_hour_moves_the_day_boundary():
    cal = CalendarConfig(day_start_hour=4)
    ref = at(2024, 5, 16, 2)              # 02:00 still belongs to Wednesday
    info, _ = extract_time("where was it yesterday", ref, cal)
    assert info.window.start_ns == at(2024, 5, 14, 4) and info.window.end_ns == at(2024, 5, 15, 4) - 1
    with pytest.raises(ConfigError):
        CalendarConfig(day_start_hour=25).validate()


def test_query_schema_validation():
    ok = validate_query({"kind": "count", "target": "mug", "room": "kitchen"})
    assert isinstance(ok, Query) and ok.kind == "count"
    for bad in ({"kind": "nope", "target": "x"}, {"kind": "where_now"}, {"target": "mug"},
                {"kind": "count", "target": "mug", "extra": 1},
                {"kind": "attribute", "target": "mug", "attribute": "size"},
                {"kind": "where_at", "target": "mug", "window": {"start_ns": 5, "end_ns": 1}}):
        with pytest.raises(InputError):
            validate_query(bad)


def test_unseen_wording_through_embeddings():
    """Kinds and objects the rules and lexicon do not list, through the bundled sentence-embedding model."""
    vocab = Vocabulary(VocabConfig(allow_model=True))
    p = QuestionParser(ParserConfig(use_embeddings=True), vocab)
    q = p.parse("where might my coffee thermos be hiding", REF)      # no class for it: said so, not swapped
    assert q.kind == "cannot_parse" and q.reason_code == "unknown_object" and q.target_phrase == "coffee thermos"
    q = p.parse("tell me about the number of pillows in the bedroom", REF)
    assert q.kind == "count" and q.target == "pillow" and q.room == "bedroom"
    q = p.parse("is the kettle boiling?", REF)
    assert q.kind == "cannot_parse"


@pytest.mark.parametrize("question,code", [
    ("where should I put the vase?", "recommendation"), ("where can I sit down?", "affordance"),
    ("if I moved the chair, where would the mug go?", "hypothetical"), ("is the kettle on?", "device_state"),
    ("where is the cardboard shredder?", "unknown_object"), ("where was the mug after lunch?", "event_time"),
])
def test_refusals_carry_a_reason_code(parser, question, code):
    q = parser.parse(question, REF)
    assert q.kind == "cannot_parse" and q.reason_code == code, (q.reason_code, q.reason)


def test_real_words_are_never_corrected(parser):
    q = parser.parse("where did the mug end up after the kids were playing?", REF)
    assert q.kind == "where_now" and q.target == "mug"
    assert parser._normalise("is it close to the window while soon") == "is it close to the window while soon"


def test_head_noun_is_the_target_and_unknown_heads_are_refused(parser):
    assert parser.parse("where is the shower curtain?", REF).target == "curtain"
    q = parser.parse("where is the apple peeler?", REF)
    assert q.reason_code == "unknown_object" and q.target_phrase == "apple peeler" and "apple peelers" in q.reason


def test_two_sentences_answer_the_asking_one(parser):
    q = parser.parse("We are leaving now. Where is my umbrella?", REF)
    assert q.kind == "where_now" and q.target == "umbrella"


def test_day_parts_lists_and_robot_questions(parser):
    q = parser.parse("where was the mug in the morning?", REF)
    assert q.kind == "where_at" and q.window.start_ns == at(2024, 5, 16, 5)
    q = parser.parse("where is the mug usually in the evening?", REF)
    assert q.kind == "where_usually" and q.day_part == "evening"
    q = parser.parse("was the mug in the kitchen on monday, tuesday?", REF)
    assert len(q.windows) == 2
    q = parser.parse("how long were you in the kitchen?", REF)
    assert q.ok and q.kind == q.intent == "robot_time_in" and q.room == "kitchen" and q.reason_code == ""


@pytest.mark.parametrize("text,kind,room,label,tense", [
    ("Where were you at 3 pm?", "robot_where_at", "", "at 3 pm", "past"),
    ("where were you yesterday afternoon?", "robot_where_at", "", "yesterday afternoon", "past"),
    ("Which room are you in?", "robot_where_at", "", "", "present"),
    ("When were you last in the garage?", "robot_last_in", "garage", "", "past"),
    ("when did you last go to the office?", "robot_last_in", "office", "", "past"),
    ("How long did you spend in the bedroom today?", "robot_time_in", "bedroom", "today", "past"),
])
def test_robot_questions_parse_to_answerable_kinds(parser, text, kind, room, label, tense):
    q = parser.parse(text, REF)
    assert q.ok and q.kind == kind and q.room == room and q.tense == tense and q.confidence >= 0.9
    assert (q.window.label if q.window else "") == label
    assert validate_query(q) is q


@pytest.mark.parametrize("text,hour,minute", [("where were you at 10:30 this morning?", 10, 30),
                                               ("where was the mug this afternoon at 1:30?", 13, 30)])
def test_a_clock_time_within_a_day_part_is_that_instant(parser, text, hour, minute):
    q = parser.parse(text, REF)
    assert q.ok and q.window.start_ns == q.window.end_ns == at(2024, 5, 16, hour) + minute * 60 * 10**9


def test_robot_questions_without_a_room_are_refused_as_such(parser):
    q = parser.parse("when did you last go there?", REF)
    assert q.kind == "cannot_parse" and q.intent == "robot_last_in" and q.reason_code == "no_target"
    with pytest.raises(InputError):
        validate_query({"kind": "robot_time_in"})
