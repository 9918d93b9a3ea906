"""Question understanding: natural language -> a typed Query, or CANNOT_PARSE with the reason.

Pipeline: normalise (case, contractions, punctuation), correct typos against the known words, pull out
the time phrases (resolved against the caller's reference time), strip conversational wrappers ("can you
help me find ...", "do you know ..."), reject out-of-scope questions (device state, material, affordance,
other attributes, why/who ...), pick the kind with ordered rules, and fill the slots (target class,
room, receptacle) through the shared vocabulary (synonyms, plurals, embeddings for unseen wording). When
no rule fires, the learned classifier (intent_classifier.py: logistic regression over the sentence
embedding, trained on the project's labelled phrasings, temperature-calibrated) decides if its probability
reaches min_classifier_prob, else the parse abstains (reason_code low_confidence); without its training
data the nearest kind prototype decides as before. Every parse carries a confidence in [0, 1]; the planner
answers one below min_answer_confidence NOT_SURE, saying what it understood. A wrong-kind parse is worse
than CANNOT_PARSE, so every doubt ends in CANNOT_PARSE, and every CANNOT_PARSE carries a reason code.
"""
from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Protocol, Sequence, Tuple

import numpy as np

from ..common.errors import ConfigError, InputError
from ..vocab.embedding import MODEL_NAME
from ..vocab.wordlist import is_english_word
from . import query as Q
from .clauses import asking_sentence, or_alternatives, prune_clauses, refusal
from .intent_classifier import OOS, IntentClassifier
from .intent_classifier import build as build_classifier
from .query import Query, TimeWindow, cannot_parse, tense_of
from .timephrase import NS_PER_H, CalendarConfig, TimeInfo, extract_time


class VocabLike(Protocol):
    """What the parser needs from the shared vocabulary (memory_nodes.vocab.Vocabulary has it all)."""

    def resolve_class(self, text: str, allow_model: Optional[bool] = None,
                      min_score: Optional[float] = None) -> Optional[Tuple[str, float]]: ...

    def resolve_room(self, text: str, allow_model: Optional[bool] = None,
                     min_score: Optional[float] = None) -> Optional[Tuple[str, float]]: ...


@dataclass
class ParserConfig:
    use_embeddings: bool = True          # embedding fallback for kinds and unseen object wordings
    min_kind_similarity: float = 0.62    # cosine to the nearest kind prototype to accept it
    min_kind_margin: float = 0.04        # ... and this much closer than the nearest out-of-scope one
    min_class_similarity: float = 0.6    # cosine to accept an unseen object wording (model path)
    use_classifier: bool = True          # the learned kind fallback (intent_classifier.py) before prototypes
    min_classifier_prob: float = 0.55    # its calibrated probability below which the parser abstains
    min_answer_confidence: float = 0.6   # a parse less sure than this is answered NOT_SURE ("I understood ...")
    min_unseen_similarity: float = 0.7   # ... when no listed class is in the question at all (a nearer
    #                                      bar: 'shirt' -> jacket at 0.64 is a swap, not a synonym)
    typo_cutoff: float = 0.8             # difflib ratio to correct a word to a known one
    default_change_window_h: float = 24.0  # "what changed?" without a time: the last this many hours
    calendar: CalendarConfig = field(default_factory=CalendarConfig)

    def validate(self) -> None:
        for name in ("min_kind_similarity", "min_kind_margin", "min_class_similarity", "min_unseen_similarity",
                     "min_classifier_prob", "min_answer_confidence", "typo_cutoff"):
            v = getattr(self, name)
            if not 0.0 <= v <= 1.0:
                raise ConfigError(f"parser.{name} must be in [0, 1], got {v}")
        if self.default_change_window_h <= 0:
            raise ConfigError("parser.default_change_window_h must be > 0")
        self.calendar.validate()


_CONTRACTIONS = [
    (r"\bwhere'?s\b", "where is"), (r"\bwhat'?s\b", "what is"), (r"\bwho'?s\b", "who is"),
    (r"\bwhen'?s\b", "when is"), (r"\bhow'?s\b", "how is"), (r"\bthere'?s\b", "there is"),
    (r"\bit'?s\b", "it is"), (r"\bthat'?s\b", "that is"), (r"\bwhere'?d\b", "where did"),
    (r"\bcan'?t\b", "cannot"), (r"\bwon'?t\b", "will not"), (r"\b(is|are|was|were|has|have|had|does|do|did)n'?t\b",
                                                              r"\1 not"),
    (r"\bi'?m\b", "i am"), (r"\bi'?ve\b", "i have"), (r"\byou'?ve\b", "you have"), (r"\bi'?d\b", "i would"),
    (r"\bwe'?ve\b", "we have"), (r"\bu\b", "you"), (r"\bur\b", "your"), (r"\bpls\b", "please"),
    (r"\bplz\b", "please"), (r"\bwat\b", "what"), (r"\bwhere\s?s\b", "where is"),
    (r"\bcolour", "color"), (r"\binfront\b", "in front"), (r"\bgonna\b", "going to"), (r"\bwanna\b", "want to"),
]

# Words the rules rely on; typos are corrected towards these and the vocabulary's phrases.
_FUNCTION_WORDS = """
where what when which how many much is are was were did do does have has had been be being will would
can could should may might there their this that these those the a an my our your any some anything
something everything find locate look looking search seen see saw spot spotted notice noticed last
lastly time times ago since usually normally typically generally often most first next again back
still move moved moving changed change changes different new colour color coloured colored shade
count number run runs running out empty finished used up left leave put keep kept stored store belong
today yesterday tomorrow tonight later morning afternoon evening night now currently right moment present week weeks
monday tuesday wednesday thursday friday saturday sunday day days hour hours minute minutes between
and or on in inside top of under at room kitchen bedroom bathroom office hallway garage living dining
please tell help know wonder remember lost misplaced missing happen happened recently expect going
long ago whereabouts location place spot room house home robot hey thanks thank you
usual normal regular typical belongs lying sitting standing odds likely turn sooner different rundown
""".split()

_COLOR_WORDS = ("red", "green", "blue", "yellow", "orange", "purple", "pink", "brown", "black", "white",
                "grey", "gray", "silver", "gold", "beige", "cyan", "magenta", "teal", "navy")

_WRAPPERS = [
    r"^(hey|hi|hello|ok|okay|so|um+|uh+|well|excuse me|sorry)\b,? ?(robot|buddy|there)?,? ?",
    r"^(robot|buddy),? ",
    r"^(please|pls|kindly),? ",
    r"^(quick question|question|just wondering|one question),? ",
    r"^(can|could|would|will) you (please )?(help me|tell me|let me know|check|say|remind me|figure out|"
    r"work out)( please)?,? ",
    r"^(can|could|would|will) you (please )?(?=(find|locate|look for|search for|show me|see|spot|count|"
    r"list|remember|recall|check)\b)",
    r"^(do|did) you (happen to )?(know|remember|recall|have any idea|have an idea)( please)?,? ",
    r"^(do you think|do you reckon|would you say|would you guess|do you expect|in your opinion),? (that )?",
    r"^(do|did) you (happen to )?(?=(see|have)\b)",
    r"^(i was wondering|i wonder|i am wondering|i would like to know|i want to know|i need to know|"
    r"i would love to know|i am curious|any idea|have you any idea|any clue|any chance you know),? ",
    r"^(please )?(tell me|let me know|show me|remind me|help me)( please)?,? ",
    r"^(i need|i want) (you )?to ",
    r"^(if|whether) ",
]
_TRAILERS = [r",? ?\b(please|thanks|thank you|pls|for me|again|by any chance|do you know|if you know|"
             r"if you can|right|ok|okay)$"]

# Prototype phrasings per kind for the embedding fallback (the parser's own exemplars).
_PROTOTYPES: Dict[str, Sequence[str]] = {
    Q.WHERE_NOW: ("where is the mug", "where can i find my keys", "help me find the remote",
                  "i cannot find my phone", "do you know where my wallet is", "locate the laptop"),
    Q.WHERE_AT: ("where was the mug yesterday", "where was the book on monday morning",
                 "where did you see the keys the last time"),
    Q.LAST_SEEN: ("when did you last see the keys", "when was the last time you saw my phone",
                  "when was the remote last seen"),
    Q.SINCE_WHEN: ("since when has the box been there", "how long has the bag been in the hallway"),
    Q.EXISTS: ("is there a mug in the kitchen", "are there any apples in the kitchen",
               "do we have a laptop in the office"),
    Q.COUNT: ("how many chairs are in the kitchen", "what is the number of cups in the living room"),
    Q.WHAT_ON: ("what is on the table", "what is in the kitchen", "what objects are on the desk"),
    Q.DID_MOVE: ("did the mug move", "has the chair been moved since yesterday", "was the lamp moved"),
    Q.WHAT_CHANGED: ("what changed in the kitchen since yesterday", "what is different in the living room"),
    Q.ATTRIBUTE: ("what color is the mug", "which colour is my backpack"),
    Q.WHERE_USUALLY: ("where is the mug usually", "where do i normally keep my keys",
                      "where does the remote belong"),
    Q.WHEN_NEXT: ("when will the mug be in the kitchen again", "when will the keys be back in the hallway"),
    Q.WHICH_FIRST: ("which will run out first, the milk or the bread", "what will be used up first"),
    Q.DAYS_SEEN: ("on how many of the last three days was the mug in the kitchen",),
    Q.WILL_BE: ("will the mug be in the kitchen tomorrow morning", "is the laptop going to be in the office tonight"),
}
_OOS_PROTOTYPES = ("is the oven on", "is the light switched off", "is the door open", "what is the table "
                   "made of", "is the chair wooden", "can i sit on the box", "is it safe to stand on the "
                   "chair", "how heavy is the sofa", "what size is the bed", "why did you move the mug",
                   "who took my keys", "what is the weather like", "is the fridge full", "how old is the house")


class QuestionParser:
    """Natural language -> Query. Thread-safe after construction (no mutable state but caches)."""

    def __init__(self, config: Optional[ParserConfig] = None, vocab: Optional[VocabLike] = None):
        self.config = config or ParserConfig()
        self.config.validate()
        self.vocab = vocab
        self._lexicon = self._build_lexicon()
        self._typo_cache: Dict[str, str] = {}
        self._proto: Optional[Tuple[List[str], np.ndarray, np.ndarray]] = None
        self._classifier: Optional[IntentClassifier] = None
        self._classifier_tried = False
        self._embed: Optional[Callable[[Sequence[str]], np.ndarray]] = None

    # --------------------------------------------------------------------------------------- public
    def parse(self, text: str, reference_ns: int, window: Optional[TimeWindow] = None) -> Query:
        """Parse one question asked at ``reference_ns``. ``window`` (e.g. from the Ask request) overrides
        the time phrases of the text."""
        if not isinstance(text, str) or not text.strip():
            return cannot_parse(str(text), "empty question", reference_ns, "empty")
        ask, context = asking_sentence(text)
        norm, fixes = self._normalise_counted(ask)
        recall_request = re.match(r"^(do|can|could) you (still )?(remember|recall)\b", norm) is not None
        info, rest = extract_time(norm, reference_ns, self.config.calendar)
        if window is not None:
            info.window = window
        if re.match(r"^(if|suppose|imagine)\b.*\b(would|will|could)\b", rest):
            return cannot_parse(text, "out of scope: a hypothetical (what would be if ...) is not something "
                                "memory holds", reference_ns, "hypothetical")
        if re.search(r"\b(that|which) (is|are) (switched |turned )?(on|off|open|closed|running|lit)\b", rest):
            return cannot_parse(text, "out of scope: the state of a device (on/off, open/closed) is not observed",
                                reference_ns, "device_state")
        core = prune_clauses(self._strip_wrappers(rest))
        if not core:
            return cannot_parse(text, "no question found", reference_ns, "no_kind")
        robot = self._robot_route(norm, text, info, reference_ns) or self._robot_centric(core, text, info, reference_ns)
        if robot is not None:
            if robot.ok:
                robot.confidence = round(max(0.5, 0.95 - 0.1 * fixes), 3)
            return robot
        alternatives: List[str] = []
        alt = or_alternatives(core) if refusal(core) is None else None   # "on or off" is a state, not places
        if alt is not None:
            core, alternatives = alt
        kind, oos_reason, code = self._kind_by_rules(core, info, reference_ns, recall_request)
        source = "rules"
        confidence = max(0.5, 0.95 - 0.1 * fixes)
        if kind is None:
            kind, confidence, source, code, closest = self._kind_learned(core)
            if kind is None:
                words = ("not one of the supported question kinds" if code != "low_confidence" else
                         f"I am not sure what is asked (closest: a {closest.replace('_', '-')} question, "
                         f"p={confidence:.2f})")
                q = cannot_parse(text, words, reference_ns, code, closest)
                q.source = source
                q.confidence = round(float(confidence), 3)
                return q
        if kind == Q.CANNOT_PARSE:
            return cannot_parse(text, oos_reason, reference_ns, code)
        if info.event and kind not in (Q.WHERE_NOW, Q.WHICH_FIRST, Q.WHEN_NEXT):
            return cannot_parse(text, f"I can't place '{info.event}' in time; ask with a time of day or a day",
                                reference_ns, "event_time", kind)
        if info.window is None and info.part_window is not None and not info.habitual and \
                kind not in (Q.WHERE_USUALLY, Q.DAYS_SEEN, Q.WHEN_NEXT, Q.WILL_BE):
            info.window = info.part_window
        try:
            q = self._fill(kind, core, info, text, reference_ns, context)
        except InputError as e:      # a kind without what it needs ("days_seen needs a room"): refuse, never raise
            return cannot_parse(text, e.detail or str(e), reference_ns, "no_target", kind)
        if q.ok:
            q.source = source
            q.intent = q.kind
            q.confidence = round(float(confidence), 3)
            q.alternatives = [self._canon_place(a) for a in alternatives]
            q.windows = list(info.windows) if window is None else []
            if info.habitual or q.kind in (Q.WHERE_USUALLY, Q.DAYS_SEEN, Q.WHEN_NEXT):
                q.day_part = info.day_part
        return q

    def _canon_place(self, phrase: str) -> str:
        return self._resolve_room(phrase) or self._resolve_class(phrase) or phrase

    def _robot_centric(self, t: str, text: str, info: TimeInfo, ref_ns: int) -> Optional[Query]:
        """Questions about the robot's own travel (answered from memory's pose trail, planner/robot.py):
        where it was at / during a time, when it was last in a room, how long it spent in one."""
        intent = ""
        if re.search(r"^where (were|are|have) you( been)?$|^(which|what) room (are|were) you( in)?$|"
                     r"^where (did|do) you (go|stay|patrol)$|^(which|what) room is this$|^what room is the scene in$",
                     t):
            intent = Q.ROBOT_WHERE_AT
        elif re.search(r"^how long (were|have) you (been )?(in|at)\b|^how (long|much time) did you (spend|stay)\b", t):
            intent = Q.ROBOT_TIME_IN
        elif re.search(r"^when (did|have) you (last )?(go|went|been|visit|visited|enter|entered|pass|passed)\b|"
                       r"^when were you (last )?(in|at)\b", t):
            intent = Q.ROBOT_LAST_IN
        if not intent:
            return None
        _, rooms = self._mentions(t)
        room = rooms[0][0] if rooms else ""
        if intent in (Q.ROBOT_LAST_IN, Q.ROBOT_TIME_IN) and not room:
            return cannot_parse(text, "I understood a question about where I have been, but not which room it is "
                                "about (I know the rooms memory has labelled: kitchen, bedroom, office, ...)",
                                ref_ns, "no_target", intent)
        window = info.window
        if window is None and info.part_window is not None and not info.habitual:
            window = info.part_window            # "in the afternoon": today's
        # "where are you?" is now (the latest pose); with a time, or last / time-in questions, it is the past
        tense = Q.PRESENT if intent == Q.ROBOT_WHERE_AT and window is None else Q.PAST
        return Query(kind=intent, text=text, room=room, window=window, reference_ns=ref_ns, intent=intent,
                     day_part=info.day_part, windows=list(info.windows), tense=tense, source="rules")

    def _robot_route(self, t: str, text: str, info: TimeInfo, ref_ns: int) -> Optional[Query]:
        """ "What did you pass / see on your way (from the kitchen) to the bedroom?": a question about the
        robot's own trip, asked with "you" and a route phrase (on the way, on your way, along your route,
        going / driving to, your trip to); the room after "to" is the destination, the one after "from"
        the origin. ``t`` is the whole normalised question: "when you went to the kitchen" is the trip here,
        not an event time."""
        if not re.search(r"\byou\b|\byour\b", t):
            return None
        route = re.search(r"\b(on|along) (the|your) (way|route|path|trip|drive)\b|"
                          r"\byour (way|route|path|trip|drive)\b|"
                          r"\b(when|while|as) you (went|drove|were going|were driving|were heading|headed|came|"
                          r"moved|travell?ed)\b|"
                          r"\b(going|driving|heading|coming|travell?ing) (from|to) (the|my|our)\b", t)
        asks = re.search(r"^(what|which|tell me what|list what)\b|\bwhat (did|do) you\b|"
                         r"\b(what|which) (things|objects|furniture|items|stuff)\b", t)
        if route is None or asks is None:
            return None
        dest = self._room_after(t, r"\bto\b")
        origin = self._room_after(t, r"\bfrom\b")
        if not dest:
            return cannot_parse(text, "I understood a question about what I passed on a trip, but not which room "
                                "the trip went to (I know the rooms memory has labelled: kitchen, bedroom, ...)",
                                ref_ns, "no_target", Q.ROBOT_PASSED)
        window = info.window
        if window is None and info.part_window is not None and not info.habitual:
            window = info.part_window
        return Query(kind=Q.ROBOT_PASSED, text=text, room=dest, origin_room=origin, window=window, reference_ns=ref_ns,
                     intent=Q.ROBOT_PASSED, day_part=info.day_part, windows=list(info.windows), tense=Q.PAST,
                     source="rules")

    def _room_after(self, t: str, marker: str) -> str:
        """The room named first after the last ``marker`` in ``t`` that is followed by one ("" if none)."""
        for m in reversed(list(re.finditer(marker, t))):
            _, rooms = self._mentions(t[m.end():])
            if rooms and rooms[0][1] <= 2:       # "to the kitchen", "to my bedroom": the room follows at once
                return rooms[0][0]
        return ""

    # ------------------------------------------------------------------------------------ normalise
    def _build_lexicon(self) -> List[str]:
        words = set(_FUNCTION_WORDS) | set(_COLOR_WORDS)
        phrases: List[str] = []
        if self.vocab is not None:
            for name in ("all_phrases", "classes", "room_types"):
                fn = getattr(self.vocab, name, None)
                if callable(fn):
                    try:
                        phrases += list(fn())
                    except Exception:  # a vocabulary without that list: typo correction covers less
                        pass
        for p in phrases:
            words.update(p.split())
        return sorted(w for w in words if w.isalpha())

    def _correct(self, word: str) -> str:
        if len(word) < 4 or not word.isalpha() or word in self._lexicon_set or is_english_word(word):
            return word
        hit = self._typo_cache.get(word)
        if hit is None:
            cutoff = self.config.typo_cutoff if len(word) > 4 else max(self.config.typo_cutoff, 0.86)
            m = difflib.get_close_matches(word, self._lexicon, n=1, cutoff=cutoff)
            hit = m[0] if m else word
            if len(self._typo_cache) < 50_000:
                self._typo_cache[word] = hit
        return hit

    @property
    def _lexicon_set(self) -> set:
        s = getattr(self, "_lexset", None)
        if s is None:
            s = self._lexset = set(self._lexicon)
        return s

    def _normalise_counted(self, text: str) -> Tuple[str, int]:
        """The normalised text and how many words the typo corrector changed."""
        t = self._normalise(text)
        before = re.sub(r"[^a-z0-9:' ,]+", " ", text.lower()).split()
        return t, sum(1 for w in t.split() if w.isalpha() and len(w) >= 4 and w not in before)

    def _normalise(self, text: str) -> str:
        t = text.lower().replace("’", "'").replace("‘", "'")
        t = re.sub(r"[?!.;\"“”]+", " ", t)
        for pat, rep in _CONTRACTIONS:
            t = re.sub(pat, rep, t)
        t = re.sub(r"(\w)'s\b", r"\1", t)            # possessive
        t = re.sub(r"\b(a |the )?pairs? of\b", " ", t)     # "the pair of shoes" is the shoes
        t = re.sub(r"[^a-z0-9:' ,]+", " ", t).replace("'", "")
        words = [self._correct(w) for w in t.replace(",", " , ").split()]
        t = " ".join(words).replace(" ,", ",")
        return re.sub(r"\s+", " ", t).strip(" ,")

    def _strip_wrappers(self, t: str) -> str:
        t = t.strip(" ,")
        for _ in range(4):
            before = t
            for pat in _WRAPPERS:
                t = re.sub(pat, "", t).strip(" ,")
            for pat in _TRAILERS:
                t = re.sub(pat, "", t).strip(" ,")
            if t == before:
                break
        return t

    # ----------------------------------------------------------------------------------------- kinds
    def _kind_by_rules(self, t: str, info: TimeInfo, ref_ns: int,
                       recall_request: bool = False) -> Tuple[Optional[str], str, str]:
        """(kind or CANNOT_PARSE or None, out-of-scope reason, reason code)."""
        if re.search(r"\b(runs?|running|ran) out\b|\b(used up|finished|depleted|gone|empty|eaten|consumed)\b.*"
                     r"\b(first|sooner|earlier|before)\b|\bwhich\b.*\b(first|sooner)\b.*\b(or)\b", t):
            return Q.WHICH_FIRST, "", ""
        if re.search(r"^(what|which) (room|desk|table|shelf|floor|cabinet|counter) (is|are) (the|my|a|an|our) "
                     r".+ (on|in|at)$|^(what|which) room (has|have|contains)\b|^(in|on) (which|what) (room|floor)\b",
                     t):
            return Q.WHERE_NOW, "", ""
        if not re.search(r"^(do you think|would you say|do you expect)\b.*\b(will|going to)\b", t):
            hit = refusal(t)
            if hit is not None and hit[0] == "spatial" and re.search(
                    r"^(what|which) (is |are )?(the )?colou?rs? (is|are|of)\b", t):
                return Q.ATTRIBUTE, "", ""    # "what colour is the X next to Y": the qualifier picks the X
            if hit is not None:
                return Q.CANNOT_PARSE, hit[1], hit[0]
        # tense and the verb decide between the "where" kinds
        if re.search(r"^where (did|have|had) you (last )?(see|seen|spot|spotted|notice|noticed|observe|observed)\b|"
                     r"^where (was|were) .* (last )?(seen|spotted)\b|"
                     r"^where (did|have) you (last )?(see|seen)\b", t) or \
                (recall_request and re.search(r"^where (i|we|you|he|she|they) (put|left|placed|stored|kept|hid)\b", t)):
            info.last_time = True
            return Q.WHERE_AT, "", ""
        if re.search(r"^where (was|were|had)\b", t) and info.window is None and info.part_window is None and \
                not info.habitual:
            info.last_time = True
            return Q.WHERE_AT, "", ""
        if re.search(r"^when (did|have) (i|we|you|someone|somebody|anyone|they) (put|place|placed|leave|left|move|"
                     r"moved|bring|brought)\b", t):
            return Q.SINCE_WHEN, "", ""
        kind = self._rule_kind(t, info, ref_ns)
        return kind, "", ""

    def _rule_kind(self, t: str, info: TimeInfo, ref_ns: int) -> Optional[str]:
        if re.search(r"\bwhen (will|would|is|are|do|does|should|might|can i expect)\b.*\b(next|again|back|be|return|"
                     r"come|show up|appear|going to|expect)\b|\bnext time\b.*\b(will|be)\b|\bwhat time will\b|"
                     r"\bwhen .*\bexpect\b|\bwhen .*\bnext\b", t) and not re.search(r"\b(did|was|were|saw|seen)\b", t):
            return Q.WHEN_NEXT
        if re.search(r"\bon how many\b|\bhow often\b|\bhow many days\b", t) and info.window is not None and \
                info.window.start_ns is not None and info.window.start_ns < ref_ns - 12 * NS_PER_H and \
                not re.search(r"\bbeen\b", t):
            return Q.DAYS_SEEN
        if re.search(r"(^(will|would|is|are)\b.*\b(be|going to be)|\b(will|would|going to) be)\b"
                     r".*\b(in|on|at|inside)\b", t) and \
                info.window is not None and info.window.start_ns is not None and info.window.start_ns >= ref_ns:
            return Q.WILL_BE
        if re.search(r"\bsince when\b|\bhow long (has|have|had|is|are|was|were)\b.*\b(been|there|sitting|lying|"
                     r"standing|staying|kept|left)\b|\bhow long (has|have) .* (in|on)\b|"
                     r"\bhow many (hours|days|minutes|weeks)\b"
                     r".*\bbeen\b", t):
            return Q.SINCE_WHEN
        wh_where = re.search(r"\bwhere\b", t) is not None
        if (info.habitual and (wh_where or re.search(r"\b(keep|kept|store|stored|put|leave|left|find)\b", t))) or \
                re.search(r"\bwhere (is|are|does|do) .*\b(belong|belongs|kept|stored|live|lives|go|goes|"
                          r"stay|stays)\b|\busual (place|spot|location|home)\b|\bwhere .*\b(normally|usually|"
                          r"typically|generally|mostly)\b|\b(normal|regular|typical) (place|spot|location)\b|"
                          r"^where (do|does) (i|we|you|they|he|she|people) (keep|store|put|hang|leave|stash)\b", t):
            return Q.WHERE_USUALLY
        if re.search(r"\b(when|what time|what day|how long ago)\b.*\b(see|saw|seen|spot|spotted|notice|noticed|"
                     r"observe|observed|detect|detected|last)\b", t) and not wh_where:
            return Q.LAST_SEEN
        if re.search(r"\bstill (there|where|at the same|in the same|in its|on its|at its)\b|\b(did|has|have|was|"
                     r"were|had)\b.*\b(move|moved|moving|relocated|shifted|displaced|touched|repositioned|"
                     r"picked up)\b|\bsame (place|spot|position) as\b", t) and not re.search(
                         r"\bwhat\b.*\b(moved|changed)\b|\b(any|anything|something)\b", t):
            return Q.DID_MOVE
        if re.search(r"\bwhat\b.*\b(changed|different|moved|new|happened|rearranged|missing)\b|\b(any|anything|"
                     r"something|everything|things)\b.*\b(changed|different|moved|new|rearranged|missing)\b|"
                     r"\bchanges\b|\bdifferences?\b|\bwhat moved\b", t):
            return Q.WHAT_CHANGED
        if re.search(r"\bcolou?rs?\b|\bshade\b|\bhue\b", t):
            return Q.ATTRIBUTE
        if re.search(r"\bhow many\b|\bnumber of\b|^count\b|\bcount (the|all|how)\b|\bhow much\b", t):
            return Q.COUNT
        if re.search(r"^(what|which (things|objects|items|stuff))\b.*\b(on|in|inside|on top of|upon|within|at)\b|"
                     r"^(list|name|show)\b.*\b(on|in|inside|on top of)\b|\b(anything|something|everything|what all|"
                     r"what else|what stuff|what things|what objects|what items)\b.*\b(on|in|inside|on top of)\b", t) \
                and not wh_where:
            return Q.WHAT_ON
        if re.search(r"^(is|are|was|were) there (any |some )?(objects?|things?|items?|stuff|anything|something)"
                     r"( else)? (on|in|inside|on top of|upon)\b", t):
            return Q.WHAT_ON        # a generic thing asks what is there
        if re.search(r"^(is|are|was|were) (there|any|some)\b|^there (is|are|was|were)\b|"
                     r"^(do|does|did) (i|we|you) (have|own|see|got)\b|"
                     r"^(have|has) (i|we|you) got\b|^(see|spot|notice|spotted|saw) (a|an|any|some|the)\b|"
                     r"^(the|my|our|a|an) [a-z ]+ (is|are|was|were) (still )?(in|on|inside|at)\b|"
                     r"^(is|are|was|were) (the|my|a|an|any|our|your)?\b.*\b(in|on|inside|"
                     r"at)\b|^any\b", t):
            return Q.EXISTS
        if wh_where or re.search(r"\b(somewhere|find|locate|look for|looking for|search for|searching for|seen|"
                                 r"spot|lost|"
                                 r"misplaced|cannot find|can not find|location of|whereabouts|put|leave|left|"
                                 r"missing)\b", t):
            return Q.WHERE_NOW
        return None

    def _core(self, text: str, reference_ns: int) -> str:
        """The clause the kind rules read (what the classifier is trained and asked on)."""
        norm = self._normalise(asking_sentence(text)[0])
        _, rest = extract_time(norm, reference_ns, self.config.calendar)
        return prune_clauses(self._strip_wrappers(rest))

    def classifier(self) -> Optional[IntentClassifier]:
        """The learned kind classifier, built (or read from its cache) on first use; None without data."""
        if not self._classifier_tried:
            self._classifier_tried = True
            if self.config.use_embeddings and self.config.use_classifier and self.vocab is not None and \
                    hasattr(self.vocab, "embeddings"):
                embed = self.vocab.embeddings
                self._embed = embed
                try:
                    self._classifier = build_classifier(embed, lambda s: self._core(s, _TRAIN_REF_NS), MODEL_NAME)
                except (LookupError, ConfigError, OSError, ValueError):
                    self._classifier = None
        return self._classifier

    def warm_up(self) -> None:
        """Load what the fallbacks use (classifier, embedding model) now rather than on the first question
        that needs them (a node calls it at start; the bench before timing parses)."""
        if self.classifier() is not None and self._embed is not None:
            words = "where is the small blue mug that was on the kitchen table yesterday morning".split()
            for n in range(1, len(words) + 1):      # one at a time and of growing length, as questions come
                self._embed([" ".join(words[:n]) + " (warm-up)"])

    def _kind_learned(self, t: str) -> Tuple[Optional[str], float, str, str, str]:
        """(kind or None, confidence, source, reason code, closest kind) when no rule decides: the calibrated classifier
        (abstains below min_classifier_prob, or on out-of-scope), else the nearest prototype."""
        clf = self.classifier()
        if clf is None or self._embed is None:
            kind, sim = self._kind_by_embedding(t)
            return kind, sim, "embedding", "no_kind", ""
        try:
            v = np.asarray(self._embed([t])[0], dtype=np.float32)
        except (LookupError, ConfigError):
            return None, 0.0, "classifier", "no_kind", ""
        kind, p = clf.predict(v)
        if kind == OOS:
            return None, p, "classifier", "no_kind", ""
        if p < self.config.min_classifier_prob:
            return None, p, "classifier", "low_confidence", kind
        return kind, p, "classifier", "", kind

    def _kind_by_embedding(self, t: str) -> Tuple[Optional[str], float]:
        if not self.config.use_embeddings or self.vocab is None or not hasattr(self.vocab, "embeddings"):
            return None, 0.0
        try:
            if self._proto is None:
                kinds, texts = [], []
                for k, ps in _PROTOTYPES.items():
                    kinds += [k] * len(ps)
                    texts += list(ps)
                self._proto = (kinds, self.vocab.embeddings(texts), self.vocab.embeddings(list(_OOS_PROTOTYPES)))
            kinds, mat, oos = self._proto
            v = self.vocab.embeddings([t])[0]
        except (LookupError, ConfigError):
            return None, 0.0
        sims = mat @ v
        i = int(np.argmax(sims))
        best, best_oos = float(sims[i]), float(np.max(oos @ v))
        if best < self.config.min_kind_similarity or best < best_oos + self.config.min_kind_margin:
            return None, best
        return kinds[i], best

    # ----------------------------------------------------------------------------------------- slots
    def _mentions(self, t: str) -> Tuple[List[Tuple[str, int, int]], List[Tuple[str, int, int]]]:
        """(classes, rooms) mentioned: [(canonical, start word, end word)], longest phrase wins."""
        words = t.replace(",", " ").split()
        classes: List[Tuple[str, int, int]] = []
        rooms: List[Tuple[str, int, int]] = []
        i = 0
        while i < len(words):
            found = False
            for n in range(min(4, len(words) - i), 0, -1):
                phrase = " ".join(words[i:i + n])
                if phrase in _STOP_PHRASES:
                    continue
                r = self._resolve_room(phrase)
                c = self._resolve_class(phrase)
                if r is not None and (c is None or phrase in _ROOM_FIRST or phrase.endswith("room")):
                    rooms.append((r, i, i + n))
                    i += n
                    found = True
                    break
                if c is not None:
                    classes.append((c, i, i + n))
                    i += n
                    found = True
                    break
            if not found:
                i += 1
        return classes, rooms

    def _resolve_class(self, phrase: str, allow_model: bool = False) -> Optional[str]:
        if self.vocab is None:
            return None
        try:
            hit = self.vocab.resolve_class(phrase, allow_model=allow_model,
                                           min_score=self.config.min_class_similarity)
        except (LookupError, ConfigError):
            return None
        if hit is None:
            return None
        name, score = hit if isinstance(hit, tuple) else (hit, 1.0)
        if not allow_model and score < 1.0:
            return None
        return name

    def _resolve_room(self, phrase: str) -> Optional[str]:
        if self.vocab is None or not hasattr(self.vocab, "resolve_room"):
            return None
        hit = self.vocab.resolve_room(phrase, allow_model=False)
        if hit is None:
            return None
        name, score = hit if isinstance(hit, tuple) else (hit, 1.0)
        return name if score >= 1.0 and name != "unknown" else None

    def _noun_phrases(self, words: List[str], classes, rooms, loose: bool = False) -> List[Tuple[int, int, bool, str]]:
        """Noun-phrase runs: (start, end, known, phrase as asked). A run is known when every word is part of
        a class / room phrase or an allowed modifier (colour, size, material, number); otherwise the whole
        run is an unknown thing ("paper shredder"): a class word inside it is only a modifier."""
        covered = {i for _, a, b in classes for i in range(a, b)} | {i for _, a, b in rooms for i in range(a, b)}
        class_words = {i for _, a, b in classes for i in range(a, b)}

        def plain(j: int) -> bool:
            w = words[j]
            return j in covered or (w.isalpha() and w not in _BOUNDARY and not w.endswith(("ing", "ed", "ly")))

        def np_word(j: int) -> bool:
            w = words[j]
            if j in covered:
                return True
            if not w.isalpha():
                return False
            if w in _BOUNDARY:     # "the towel hook": a word the lists take for a verb, but a noun after a noun
                return (j - 1) in class_words and (j + 1 == len(words) or not plain(j + 1)) and \
                    self._resolve_class(w) is not None
            if w.endswith(("ing", "ed", "ly")) and w not in _MODIFIERS:
                # a gerund naming a kind ("the ironing board", "a cutting mat"): introduced like a noun phrase
                # and followed by a noun
                return (j > 0 and words[j - 1] in _DETERMINERS | _ADJECTIVES and j + 1 < len(words)
                        and w.endswith("ing") and plain(j + 1))
            return True

        out: List[Tuple[int, int, bool, str]] = []
        i = 0
        while i < len(words):
            if not np_word(i):
                i += 1
                continue
            j = i
            while j < len(words) and np_word(j):
                j += 1
            unknown = [k for k in range(i, j) if k not in covered and words[k] not in _MODIFIERS]
            has_class = any(k in covered for k in range(i, j))
            k = i - 1          # "my pink shirt": a determiner before adjectives still introduces a noun phrase
            while k >= 0 and words[k] in _ADJECTIVES:
                k -= 1
            if unknown and not has_class and not loose and (k < 0 or words[k] not in _DETERMINERS):
                i = j             # not introduced like a noun phrase (a verb or adverb the lists miss)
                continue
            first = i
            while first < j and (words[first] in _DETERMINERS or first not in covered and words[first] in _MODIFIERS):
                first += 1
            if first < j:      # the head (last word) decides: "flower painting" is a painting
                out.append((i, j, (j - 1) in covered or not unknown, " ".join(words[first:j])))
            i = j
        return out

    def _fill(self, kind: str, t: str, info: TimeInfo, text: str, ref_ns: int, context: str = "") -> Query:
        classes, rooms = self._mentions(t)
        words = t.replace(",", " ").split()
        nps = self._noun_phrases(words, classes, rooms)
        unknown_runs = [(a, b, ph) for a, b, known, ph in nps if not known]
        if unknown_runs:      # a class word inside an unknown phrase is a modifier, never the target
            classes = [c for c in classes if not any(a <= c[1] < b for a, b, _ in unknown_runs)]
        spatial = ("on", "in", "inside", "upon", "under", "at", "by", "near", "beside", "from", "to", "of", "into")
        role = [np for np in nps if not self._after_prep(words, np[0], spatial)]
        needs_target = kind not in (Q.WHAT_ON, Q.WHAT_CHANGED)
        if needs_target and role and not role[0][2] and not (classes and classes[0][1] < role[0][0]):
            phrase = role[0][3]
            return cannot_parse(text, f"I can't recognise {_plural(phrase)}: my detector has no class for "
                                f"'{phrase}'", ref_ns, "unknown_object", kind, phrase)
        if not needs_target and not classes and not rooms and unknown_runs:
            phrase = unknown_runs[-1][2]
            return cannot_parse(text, f"I can't recognise {_plural(phrase)}: my detector has no class for "
                                f"'{phrase}'", ref_ns, "unknown_object", kind, phrase)
        if needs_target and role and role[0][2]:
            inside = [c for c in classes if role[0][0] <= c[1] < role[0][1]]
            if len(inside) > 1:        # "shower curtain", "paper cup": the head noun is the last one
                classes = [inside[-1]] + [c for c in classes if c not in inside]
        if needs_target and not classes and context and re.search(r"\b(it|them|one|they)\b", t):
            ctx_classes, _ = self._mentions(self._normalise(context))
            classes = ctx_classes[:1]
        if needs_target and classes and role and role[0][2] and role[0][0] <= classes[0][1] < role[0][1]:
            target_phrase = " ".join(w for k, w in enumerate(role[0][3].split()) if k or w not in _DETERMINERS)
        elif needs_target and classes:       # the noun phrase as asked ("shower curtain"), not only the class words
            target_phrase = " ".join(words[classes[0][1]:classes[0][2]])
        else:
            target_phrase = ""
        room = rooms[0][0] if rooms else ""
        q = Query(kind=kind, text=text, room=room, window=info.window, last_time=info.last_time,
                  reference_ns=ref_ns, target_phrase=target_phrase)
        colors = [w for w in words if w in _COLOR_WORDS]

        def prep_before(start: int) -> str:
            j = start - 1
            while j >= 0 and words[j] in ("the", "my", "a", "an", "our", "your", "of", "top", "this", "that"):
                j -= 1
            return words[j] if j >= 0 else ""

        def receptacle_split() -> Tuple[List[Tuple[str, int, int]], str, str]:
            """Classes after on/in that are receptacles -> (others, receptacle, relation)."""
            others, rec, rel = [], "", ""
            for c in classes:
                p = prep_before(c[1])
                if not rec and p in ("on", "in", "inside", "upon", "under", "at", "by", "near", "beside") and \
                        c is not classes[0]:
                    rec, rel = c[0], ("in" if p in ("in", "inside") else "on")
                else:
                    others.append(c)
            return others, rec, rel

        if kind == Q.WHICH_FIRST:
            q.targets = list(dict.fromkeys(c[0] for c in classes))
            if len(q.targets) < 2:
                return cannot_parse(text, "which-first needs at least two items to compare", ref_ns, "no_target", kind)
            q.target = q.targets[0]
        elif kind == Q.WHAT_ON:
            recs = [c for c in classes if prep_before(c[1]) in ("on", "in", "inside", "upon", "top", "of", "at")]
            if recs:
                q.receptacle = recs[0][0]
                q.relation = "in" if prep_before(recs[0][1]) in ("in", "inside") else "on"
            elif classes and not rooms:
                q.receptacle = classes[-1][0]
                q.relation = "on"
            if not q.receptacle and not q.room:
                return cannot_parse(text, "what-on needs a furniture item or a room", ref_ns, "no_target", kind)
        elif kind == Q.WHAT_CHANGED:
            pass
        else:
            others, rec, rel = receptacle_split() if kind in (Q.EXISTS, Q.COUNT, Q.WILL_BE, Q.WHEN_NEXT, Q.DAYS_SEEN) \
                else (classes, "", "")
            if others:
                q.target = others[0][0]
            elif kind != Q.COUNT or not rec:
                target = self._unseen_target(t, words, rooms)
                if target is None:
                    loose = [ph for a, b, known, ph in self._noun_phrases(words, [], rooms, True) if not known]
                    if loose:
                        return cannot_parse(text, f"I can't recognise {_plural(loose[0])}: my detector has no "
                                            f"class for '{loose[0]}'", ref_ns, "unknown_object", kind, loose[0])
                    return cannot_parse(text, "no known object named in the question", ref_ns, "no_target", kind)
                q.target = target
            else:
                q.target, rec = rec, ""
            q.receptacle, q.relation = rec, rel
            if kind == Q.EXISTS and not q.room and not q.receptacle:
                q.relation = ""
        if colors and kind != Q.ATTRIBUTE:
            q.color = colors[0]
        if kind == Q.ATTRIBUTE:
            q.attribute = "color"
        # past / present variants of "where"
        if kind == Q.WHERE_NOW and (info.last_time or (info.window is not None and info.window.end_ns is not None
                                                        and info.window.end_ns < ref_ns)):
            q.kind = Q.WHERE_AT
        if q.kind in (Q.DID_MOVE, Q.WHAT_CHANGED) and (q.window is None or q.window.start_ns is None):
            start = ref_ns - int(self.config.default_change_window_h * NS_PER_H)
            q.window = TimeWindow(start, ref_ns, "default change window")
        if q.kind in (Q.DID_MOVE, Q.WHAT_CHANGED) and q.window is not None:
            q.window = TimeWindow(q.window.start_ns, ref_ns, q.window.label)   # "since T": up to now
        q.tense = tense_of(q.kind, q.window, ref_ns, q.last_time)
        return Q.validate_query(q)

    @staticmethod
    def _after_prep(words: List[str], start: int, preps: Sequence[str]) -> bool:
        j = start - 1
        while j >= 0 and words[j] in ("the", "my", "a", "an", "our", "your", "of", "top", "this", "that", "any",
                                      "some", "front"):
            j -= 1
        return j >= 0 and words[j] in preps

    def _unseen_target(self, t: str, words: List[str], rooms) -> Optional[str]:
        """A wording the lexicon does not list: the embedding model picks the nearest class among the
        question's content words and word pairs (best score above min_unseen_similarity)."""
        if not self.config.use_embeddings or self.vocab is None:
            return None
        room_words = {i for _, a, b in rooms for i in range(a, b)}
        content = [w for i, w in enumerate(words) if i not in room_words and w not in _NON_OBJECT_WORDS]
        if not content:
            return None
        grams = [" ".join(content[i:i + n]) for n in (2, 1) for i in range(len(content) - n + 1)]
        loose = [ph for _, _, known, ph in self._noun_phrases(words, [], rooms, True) if not known]
        if loose:      # a noun phrase as asked: the whole of it must be near a class, never one of its words
            grams = loose[:2]
        grams = grams[:12]
        embed = getattr(self.vocab, "embeddings", None)
        if callable(embed) and len(grams) > 1:
            try:              # one batched model call fills the cache the look-ups below read
                embed(grams)
            except (LookupError, ConfigError):
                return None
        best, best_score = None, -1.0
        for g in grams:
            try:
                hit = self.vocab.resolve_class(g, allow_model=True, min_score=self.config.min_unseen_similarity)
            except (LookupError, ConfigError):
                return None
            if hit is None:
                continue
            name, score = hit if isinstance(hit, tuple) else (hit, 1.0)
            if score > best_score:
                best, best_score = name, score
        return best


_TRAIN_REF_NS = 1_715_871_600 * 10**9      # a fixed "now" for the classifier's training clauses
_ROOM_FIRST = {"closet", "office", "study", "hall", "kitchen", "pantry", "laundry", "garage", "workshop",
               "bath", "den", "landing", "entry", "entrance"}
_STOP_PHRASES = {"a", "an", "the", "my", "is", "are", "in", "on", "at", "it", "there", "time", "last",
                 "first", "next", "one", "ones", "thing", "things", "stuff", "item", "items", "object",
                 "objects", "where", "what", "when", "how", "many", "see", "can", "number", "range", "hook",
                 "back", "count"}
_NON_OBJECT_WORDS = set(_FUNCTION_WORDS) | set(_COLOR_WORDS) | {
    "i", "we", "you", "me", "us", "it", "they", "them", "he", "she", "his", "her", "its", "go", "gone", "went",
    "there", "here", "room", "rooms", "find", "found", "thing", "things", "stuff", "one", "ones", "about", "to",
    "for", "with", "from", "by", "near", "next", "get", "got", "need", "want", "am", "not", "no", "yes", "just",
    "ever", "all", "also", "too", "very", "really", "so", "if", "whether", "again", "around", "house", "might",
    "hiding", "hide", "hidden", "be", "tell", "anywhere", "somewhere", "kind", "sort"}


def _plural(phrase: str) -> str:
    if phrase.endswith("s"):
        return phrase
    if phrase.endswith(("x", "ch", "sh")):
        return phrase + "es"
    if phrase.endswith("y") and len(phrase) > 1 and phrase[-2] not in "aeiou":
        return phrase[:-1] + "ies"
    return phrase + "s"


_DETERMINERS = {"the", "my", "a", "an", "our", "your", "his", "her", "their", "any", "some", "this", "that",
                "these", "those", "of", "many", "no", "another", "every", "each"}
# Words an object's name may carry before it without changing what it is.
_MODIFIERS = set(_COLOR_WORDS) | {
    "big", "small", "large", "little", "tiny", "huge", "tall", "short", "long", "old", "new", "other", "mini",
    "plastic", "wooden", "metal", "glass", "paper", "leather", "ceramic", "light", "dark", "bright", "pale",
    "one", "two", "three", "four", "five", "single", "double", "first", "second", "third", "last", "main", "top",
    "bottom", "left", "right", "front", "back", "upper", "lower", "favourite", "favorite", "same", "whole", "full",
    "empty", "own", "usual", "spare", "extra", "electric", "multicolored", "colored", "coloured", "striped",
    "principal", "dominant", "primary", "predominant", "exact"}
# Adjectives that may stand between a determiner and an unknown noun ("the white poof").
_ADJECTIVES = set(_COLOR_WORDS) | {"big", "small", "large", "little", "tiny", "huge", "tall", "short", "old", "new",
                                   "light", "dark", "bright", "pale", "plastic", "wooden", "metal", "glass",
                                   "leather", "ceramic", "favourite", "favorite", "spare", "electric"}
# Words that end a noun phrase (verbs, prepositions, adverbs, pronouns, question words).
_BOUNDARY = _NON_OBJECT_WORDS | _STOP_PHRASES | {
    "end", "up", "down", "off", "out", "over", "under", "into", "onto", "behind", "above", "below", "between",
    "beside", "inside", "outside", "front", "across", "against", "along", "toward", "towards", "through", "after",
    "before", "while", "during", "until", "till", "than", "as", "like", "went", "go", "goes", "come", "came",
    "sit", "sat", "lie", "lay", "lies", "stand", "stands", "hang", "hangs", "keep", "keeps", "put", "puts", "leave",
    "left", "placed", "lost", "took", "take", "bring", "brought", "drop", "dropped", "hid", "last", "used", "use",
    "somewhere", "anywhere", "everywhere", "nowhere", "else", "where", "which", "who", "whom", "whose", "why",
    "okay", "ok", "yeah", "hmm", "now", "then", "ago", "soon", "already", "yet", "ever", "never", "always",
    "likely", "probably", "maybe", "perhaps", "exactly", "roughly", "approximately", "quite", "rather", "much",
    "many", "more", "less", "least", "most", "few", "lot", "lots", "bit", "each", "every", "both", "either",
    "neither", "own", "such", "only", "even", "almost", "nearly", "enough", "able", "will", "would", "shall",
    "should", "must", "may", "might", "can", "could", "let", "make", "made", "give", "gave", "show", "showed",
    "say", "said", "ask", "asked", "tell", "told", "mind", "turn", "appear", "return", "returned",
    "closest", "nearest", "farthest", "furthest",
    "odds", "chance", "chances", "clue", "idea", "rundown", "compared", "around", "anyone", "anybody", "someone",
    "somebody", "everyone", "nobody", "her", "his", "their", "mine", "yours", "ours", "hers", "theirs", "our",
    "kids", "children", "daughter", "son", "guests", "playing", "sure", "gone", "missing", "same", "place",
    "position", "spot", "usual", "please", "thanks", "hey", "robot", "today", "yesterday", "tomorrow", "noon",
    "morning", "afternoon", "evening", "night", "tonight", "week", "month", "year", "hour", "minute", "am", "pm",
    "belong", "belongs", "live", "lives", "stay", "stays", "sitting", "lying", "standing", "hanging", "kept",
    "located", "stored", "expect", "back", "again", "still", "also", "too", "very", "really", "just", "here",
    "there", "see", "saw", "seen", "notice", "noticed", "spotted", "have", "has", "had", "got", "get",
    "find", "found", "look", "looks", "looking", "locate", "search", "check", "count", "list", "name", "number",
    "know", "remember", "recall", "happen", "think", "believe", "need", "want", "wonder", "does", "did",
    "do", "done", "is", "are", "was", "were", "be", "been", "being", "if", "so", "whether", "at", "on", "in", "of",
    "to", "for", "with", "from", "by", "near", "next", "about", "and", "or", "but", "not", "no", "yes", "all",
    "any", "some", "the", "a", "an", "my", "your", "this", "that", "these", "those", "it", "its", "they", "them",
    "what", "when", "how", "i", "we", "you", "me", "us", "he", "she", "him", "move", "moved", "changed",
    "different", "new", "rearranged", "touched", "relocated", "run", "runs", "running", "sooner", "first",
    "currently", "moment", "present", "right", "time", "times", "day", "days", "hours", "minutes", "weeks",
    "usually", "normally", "typically", "generally", "often", "recently", "lately", "earlier", "later"}
