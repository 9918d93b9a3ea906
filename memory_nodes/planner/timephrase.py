"""Time phrases -> time windows in ns, resolved against a reference time the caller gives.

The calendar is time-zone naive: an int ns stamp is read as a wall-clock time (ns since 1970-01-01
00:00 of the robot's local calendar). A "day" starts at ``day_start_hour`` (e.g. 4 makes 02:00 belong to
the previous day). Nothing here reads a clock.
"""
from __future__ import annotations

import datetime as _dt
import re
from dataclasses import dataclass, field
from typing import List, Optional, Tuple

from ..common.errors import ConfigError
from .query import TimeWindow

NS_PER_S = 1_000_000_000
NS_PER_H = 3600 * NS_PER_S
NS_PER_DAY = 24 * NS_PER_H
_EPOCH = _dt.datetime(1970, 1, 1)

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_WD_ABBR = {"mon": 0, "tue": 1, "tues": 1, "wed": 2, "thu": 3, "thur": 3, "thurs": 3, "fri": 4, "sat": 5,
            "sun": 6}
NUMBER_WORDS = {"a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6,
                "seven": 7, "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "couple of": 2,
                "a couple of": 2, "few": 3, "a few": 3}


@dataclass
class CalendarConfig:
    day_start_hour: int = 0              # h, the hour a new day starts (0..23)
    morning_start_hour: float = 5.0      # h of the day
    afternoon_start_hour: float = 12.0
    evening_start_hour: float = 18.0
    night_start_hour: float = 22.0
    night_end_hour: float = 29.0         # h after the day's midnight (29 = 05:00 next day)

    def validate(self) -> None:
        if not 0 <= self.day_start_hour <= 23:
            raise ConfigError("calendar.day_start_hour must be in 0..23")
        if not (0 <= self.morning_start_hour < self.afternoon_start_hour < self.evening_start_hour
                <= self.night_start_hour < self.night_end_hour <= 36):
            raise ConfigError("calendar: day-part hours must increase (morning < afternoon < evening <= "
                              "night < night_end <= 36)")


@dataclass
class TimeInfo:
    """What the time phrases of a question say."""
    window: Optional[TimeWindow] = None
    last_time: bool = False              # "the last time"
    since: bool = False                  # "since ..." (window runs to now)
    explicit_now: bool = False           # "now", "currently", "right now"
    habitual: bool = False               # "usually", "every morning"
    day_part: str = ""                   # "morning" ... when asked without a day (habits, forecasts)
    part_window: Optional[TimeWindow] = None   # that day part's latest occurrence up to now (past questions)
    windows: List[TimeWindow] = field(default_factory=list)   # a list of days ("on monday, wednesday")
    event: str = ""                      # an event-relative phrase ("after breakfast"): no clock time known


def to_datetime(t_ns: int) -> _dt.datetime:
    return _EPOCH + _dt.timedelta(microseconds=t_ns // 1000)


def from_datetime(d: _dt.datetime) -> int:
    delta = d - _EPOCH
    return (delta.days * 86400 + delta.seconds) * NS_PER_S + delta.microseconds * 1000


def day_start_ns(t_ns: int, cal: CalendarConfig) -> int:
    """Start of the calendar day containing t (midnight + day_start_hour)."""
    shifted = t_ns - cal.day_start_hour * NS_PER_H
    return (shifted // NS_PER_DAY) * NS_PER_DAY + cal.day_start_hour * NS_PER_H


def weekday_of(t_ns: int, cal: CalendarConfig) -> int:
    """0 = Monday, of the calendar day containing t."""
    midnight = day_start_ns(t_ns, cal) - cal.day_start_hour * NS_PER_H
    return to_datetime(midnight).weekday()


def _midnight(day_ns: int, cal: CalendarConfig) -> int:
    return day_ns - cal.day_start_hour * NS_PER_H


def _day_window(day_ns: int, cal: CalendarConfig, part: str, ref_ns: int, label: str) -> TimeWindow:
    """The window of a day (given its start) or of one part of it, clamped to end at ref."""
    if part:
        m = _midnight(day_ns, cal)
        a, b = _part_hours(part, cal)
        start, end = m + int(a * NS_PER_H), m + int(b * NS_PER_H) - 1
    else:
        start, end = day_ns, day_ns + NS_PER_DAY - 1
    end = min(end, ref_ns)
    start = min(start, end)
    return TimeWindow(start, end, label)


def _part_hours(part: str, cal: CalendarConfig) -> Tuple[float, float]:
    return {"morning": (cal.morning_start_hour, cal.afternoon_start_hour),
            "afternoon": (cal.afternoon_start_hour, cal.evening_start_hour),
            "evening": (cal.evening_start_hour, cal.night_start_hour + 2.0),
            "night": (cal.night_start_hour, cal.night_end_hour)}[part]


def _weekday_day(wd: int, ref_ns: int, cal: CalendarConfig, strictly_before: bool) -> int:
    today = day_start_ns(ref_ns, cal)
    diff = (weekday_of(ref_ns, cal) - wd) % 7
    if diff == 0 and strictly_before:
        diff = 7
    return today - diff * NS_PER_DAY


_PART = r"(morning|afternoon|evening|night)"
_WD = r"(monday|tuesday|wednesday|thursday|friday|saturday|sunday|mon|tues?|wed|thur?s?|fri|sat|sun)"
_NUM = r"(\d+|a couple of|couple of|a few|few|an|a|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve)"


def _wd_index(word: str) -> int:
    return WEEKDAYS.index(word) if word in WEEKDAYS else _WD_ABBR[word]


def _num(word: str) -> int:
    return int(word) if word.isdecimal() else NUMBER_WORDS[word]


def _day_ref(token: str, ref_ns: int, cal: CalendarConfig, strictly_before: bool = False) -> Optional[int]:
    """Start of the day a word names (today, yesterday, a weekday)."""
    today = day_start_ns(ref_ns, cal)
    if token == "today":
        return today
    if token == "yesterday":
        return today - NS_PER_DAY
    m = re.fullmatch(_WD, token)
    if m:
        return _weekday_day(_wd_index(token), ref_ns, cal, strictly_before)
    return None


def _clock(hh: str, mm: Optional[str], ampm: Optional[str]) -> Optional[float]:
    h = int(hh)
    minute = int(mm) if mm else 0
    if ampm == "pm" and h < 12:
        h += 12
    if ampm == "am" and h == 12:
        h = 0
    if h > 23 or minute > 59:
        return None
    return h + minute / 60.0


def extract_time(text: str, ref_ns: int, cal: CalendarConfig) -> Tuple[TimeInfo, str]:
    """The time phrases in ``text`` (lower case) and the text without them."""
    info = TimeInfo()
    t = " " + text + " "

    def cut(m: "re.Match[str]") -> str:
        return t[:m.start()] + " " + t[m.end():]

    # between D1 and D2
    m = re.search(r"\bbetween (today|yesterday|" + _WD[1:-1] + r") and (today|yesterday|" + _WD[1:-1] + r")\b", t)
    if m:
        d2 = _day_ref(m.group(2), ref_ns, cal)
        d1 = _day_ref(m.group(1), ref_ns, cal)
        if d1 is not None and d2 is not None:
            while d1 > d2:
                d1 -= 7 * NS_PER_DAY
            info.window = TimeWindow(d1, min(d2 + NS_PER_DAY - 1, ref_ns), m.group(0).strip())
            t = cut(m)
    # a list of days: "on monday, wednesday", "on monday and on tuesday"
    m = re.search(r"\b(?:on )?" + _WD + r"(?:(?:,| and| or|, and)(?: on)? " + _WD + r")+\b", t)
    if m and info.window is None:
        days = re.findall(_WD, m.group(0))
        ws = [_day_window(_weekday_day(_wd_index(d), ref_ns, cal, False), cal, "", ref_ns, d) for d in days]
        info.windows = ws
        info.window = TimeWindow(min(w.start_ns or 0 for w in ws), max(w.end_ns or 0 for w in ws),
                                 m.group(0).strip())
        t = cut(m)
    # a clock interval: "from 2 pm to 4 pm yesterday", "between 9 and 11 this morning"
    m = re.search(r"\b(?:from|between) (\d{1,2})(?::(\d{2}))? ?(am|pm)? (?:to|and|till|until|-) (\d{1,2})"
                  r"(?::(\d{2}))? ?(am|pm)?\b", t)
    if m and info.window is None:
        rest = t[:m.start()] + " " + t[m.end():]
        w0, rest2 = _point_phrases(rest, ref_ns, cal, TimeInfo())
        known_day = w0 is not None and w0.start_ns is not None
        day = day_start_ns(w0.start_ns if w0 is not None and w0.start_ns is not None else ref_ns, cal) if known_day \
            else day_start_ns(ref_ns, cal)
        ampm2 = m.group(6)
        ampm1 = m.group(3) or (ampm2 if ampm2 and int(m.group(1)) <= int(m.group(4)) else None)
        if ampm1 is None and ampm2 is None and w0 is not None and "afternoon" in w0.label or \
                (ampm1 is None and ampm2 is None and w0 is not None and "evening" in w0.label):
            ampm1 = ampm2 = "pm"
        h1, h2 = _clock(m.group(1), m.group(2), ampm1), _clock(m.group(4), m.group(5), ampm2)
        if h1 is not None and h2 is not None and h1 <= h2:
            mid = _midnight(day, cal)
            label = ((w0.label + " ") if w0 is not None else "") + m.group(0).strip()
            info.window = TimeWindow(mid + int(h1 * NS_PER_H), min(mid + int(h2 * NS_PER_H), ref_ns), label)
            t = " " + rest2 + " "
    # the last time / last seen
    m = re.search(r"\b(the )?(very )?last time\b", t)
    if m:
        info.last_time = True
        t = cut(m)
    # since <phrase>
    m = re.search(r"\bsince\b", t)
    since = bool(m) and not re.search(r"\bsince when\b", t)
    if since:
        info.since = True
        t = t.replace(" since ", " ", 1)
    if info.window is None:
        info.window, t = _point_phrases(t, ref_ns, cal, info)
    if info.since and info.window is not None:
        info.window = TimeWindow(info.window.start_ns, ref_ns, "since " + info.window.label)
    # an event instead of a time ("after breakfast", "before I went to work"): kept, never guessed
    m = re.search(r"\b(after|before|until|till|while|during|when) (?!(?:now|today|yesterday|that|it|then)\b)"
                  r"((?:i|we|you|they|he|she|the|my|our|your|a|an|breakfast|lunch|dinner|supper|work|school|"
                  r"church|class|shopping|dark|bedtime|the party|guests|cleaning|tidying)\b[^,]*)", t)
    if m and not re.search(r"\b(was|were|is|are)( [a-z]+)? (last )?(seen|spotted)\b", m.group(0)):
        info.event = m.group(0).strip()
        t = cut(m)
    m = re.search(r"\b(right now|now|currently|at the moment|at present|presently|at this moment|"
                  r"these days|nowadays)\b", t)
    if m:
        info.explicit_now = True
        t = cut(m)
    m = re.search(r"\b(usually|normally|typically|generally|mostly|most of the time|habitually|"
                  r"in general|most days|every day|each day|on most days|tend to|tends to|often|"
                  r"commonly|regularly|ordinarily|as a rule|by default)\b", t)
    if m:
        info.habitual = True
    return info, re.sub(r"\s+", " ", t).strip()


def _point_phrases(t: str, ref_ns: int, cal: CalendarConfig, info: TimeInfo) -> Tuple[Optional[TimeWindow], str]:
    today = day_start_ns(ref_ns, cal)

    def cut(m: "re.Match[str]") -> str:
        return t[:m.start()] + " " + t[m.end():]

    # N hours / minutes ago -> an instant
    m = re.search(r"\b" + _NUM + r" (hours?|hrs?|minutes?|mins?) ago\b", t)
    if m:
        n = _num(m.group(1))
        unit = NS_PER_H if m.group(2).startswith("h") else 60 * NS_PER_S
        at = ref_ns - n * unit
        return TimeWindow(at, at, m.group(0).strip()), cut(m)
    # the last / past N days (today included)
    m = re.search(r"\b(?:in |over |during |for |out of |of )?(?:the )?(?:last|past) " + _NUM + r" days\b", t)
    if not m:
        m = re.search(r"(?<=\bdays )(?:out of|of) (?:the )?(?:last|past) " + _NUM + r"\b", t)
    if m:
        n = _num(m.group(1))
        return TimeWindow(today - (n - 1) * NS_PER_DAY, ref_ns, m.group(0).strip()), cut(m)
    # N days / weeks ago (optionally with a day part)
    m = re.search(r"\b" + _NUM + r" (days?|weeks?) ago(?: in the " + _PART + r")?\b", t)
    if m:
        n = _num(m.group(1)) * (7 if m.group(2).startswith("week") else 1)
        return _day_window(today - n * NS_PER_DAY, cal, m.group(3) or "", ref_ns, m.group(0).strip()), cut(m)
    m = re.search(r"\btomorrow(?: (?:in the )?" + _PART + r")?\b", t)
    if m:
        day = today + NS_PER_DAY
        part = m.group(1) or ""
        if part:
            a, b = _part_hours(part, cal)
            mid = _midnight(day, cal)
            w = TimeWindow(mid + int(a * NS_PER_H), mid + int(b * NS_PER_H) - 1, m.group(0).strip())
        else:
            w = TimeWindow(day, day + NS_PER_DAY - 1, m.group(0).strip())
        return w, cut(m)
    m = re.search(r"\bin " + _NUM + r" (hours?|hrs?|minutes?|mins?)\b", t)
    if m:
        n = _num(m.group(1))
        unit = NS_PER_H if m.group(2).startswith("h") else 60 * NS_PER_S
        return TimeWindow(ref_ns + n * unit, ref_ns + n * unit, m.group(0).strip()), cut(m)
    m = re.search(r"\blater today\b|\blater on\b|\blater\b", t)
    if m:
        return TimeWindow(ref_ns, today + NS_PER_DAY - 1, m.group(0).strip()), cut(m)
    m = re.search(r"\b(?:the )?day before yesterday\b", t)
    if m:
        return _day_window(today - 2 * NS_PER_DAY, cal, "", ref_ns, m.group(0).strip()), cut(m)
    m = re.search(r"\blast night\b", t)
    if m:
        return _day_window(today - NS_PER_DAY, cal, "night", ref_ns, "last night"), cut(m)
    m = re.search(r"\b(yesterday|today|tonight)(?: (?:in the )?" + _PART + r")?\b", t)
    if m:
        word, part = m.group(1), m.group(2) or ""
        if word == "tonight":
            word, part = "today", "evening"
        day = today - NS_PER_DAY if word == "yesterday" else today
        w = _day_window(day, cal, part, ref_ns, m.group(0).strip())
        t2 = cut(m)
        return _with_clock(w, t2, day, cal, ref_ns)
    m = re.search(r"\b(this|earlier this) " + _PART + r"\b", t)
    if m:
        return _with_clock(_day_window(today, cal, m.group(2), ref_ns, m.group(0).strip()), cut(m), today, cal, ref_ns)
    m = re.search(r"\bearlier today\b", t)
    if m:
        return _day_window(today, cal, "", ref_ns, "earlier today"), cut(m)
    m = re.search(r"\b(last|this past|past|on|this) " + _WD + r"(?: (?:in the )?" + _PART + r")?\b", t)
    if not m:
        m = re.search(r"\b()(monday|tuesday|wednesday|thursday|friday|saturday|sunday)"
                      r"(?: (?:in the )?" + _PART + r")?\b", t)
    if m:
        strictly = m.group(1) in ("last", "this past", "past")
        day = _weekday_day(_wd_index(m.group(2)), ref_ns, cal, strictly)
        w = _day_window(day, cal, m.group(3) or "", ref_ns, m.group(0).strip())
        return _with_clock(w, cut(m), day, cal, ref_ns)
    m = re.search(r"\blast week\b", t)
    if m:
        start = today - (weekday_of(ref_ns, cal) + 7) * NS_PER_DAY
        return TimeWindow(start, min(start + 7 * NS_PER_DAY - 1, ref_ns), "last week"), cut(m)
    m = re.search(r"\bthis week\b", t)
    if m:
        start = today - weekday_of(ref_ns, cal) * NS_PER_DAY
        return TimeWindow(start, ref_ns, "this week"), cut(m)
    m = re.search(r"\b(?:in the|every|each|during the|at) " + _PART + r"s?\b", t)
    if m:
        part = m.group(1)
        info.day_part = part
        day = today
        a, _ = _part_hours(part, cal)
        if _midnight(today, cal) + int(a * NS_PER_H) > ref_ns:
            day = today - NS_PER_DAY          # not yet begun today: the latest one was yesterday's
        info.part_window = _day_window(day, cal, part, ref_ns, m.group(0).strip())
        return None, cut(m)
    return _with_clock(None, t, today, cal, ref_ns)


def _with_clock(w: Optional[TimeWindow], t: str, day_ns: int, cal: CalendarConfig,
                ref_ns: int) -> Tuple[Optional[TimeWindow], str]:
    """"at 3 pm" / "at 10:30" / "at noon" on the given day -> an instant."""
    t = re.sub(r"\b(at|around|about) (noon|midday)\b", r"\1 12:00", t)
    t = re.sub(r"\b(at|around|about) midnight\b", r"\1 0:00", t)
    m = re.search(r"\b(?:at|around|about) (\d{1,2})(?::(\d{2}))? ?(am|pm|o'?clock)?\b", t)
    if not m or (m.group(2) is None and m.group(3) is None):
        return w, t
    ampm = m.group(3) if m.group(3) in ("am", "pm") else None
    h = _clock(m.group(1), m.group(2), ampm)
    if h is None:
        return w, t
    at = _midnight(day_ns, cal) + int(h * NS_PER_H)
    if at < day_ns:
        at += NS_PER_DAY
    if w is not None and ampm is None and h < 12 and w.start_ns is not None and w.end_ns is not None and \
            not w.start_ns <= at <= w.end_ns and w.start_ns <= at + 12 * NS_PER_H <= w.end_ns:
        at += 12 * NS_PER_H       # "at 7:30 this evening" is 19:30
    if at > ref_ns and w is None:
        at -= NS_PER_DAY          # "at 3 pm" asked at 10 am: yesterday's 3 pm
    label = ((w.label + " ") if w else "") + m.group(0).strip()
    return TimeWindow(at, at, label), t[:m.start()] + " " + t[m.end():]
