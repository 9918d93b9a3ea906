"""Shallow structure of a question: sentences, the clause that asks, and refusals by reason code.

A hand-written shallow parser (no English pipeline for spaCy installs from PyPI here, and the rules below
need only sentence and clause boundaries, the question word, the main verb's modality and a few phrase
patterns). Flow: ``asking_sentence`` picks the sentence that asks (the other sentences are context, e.g.
for "it"), ``prune_clauses`` drops fillers ("i think"), relative clauses ("the remote that was next to
the tv") so keyword rules only see the main clause, and ``refusal`` classifies out-of-scope questions by
structure (modal + wh-word + verb) into a reason code with the reply's words.
"""
from __future__ import annotations

import re
from typing import List, Optional, Tuple

_ASK_START = re.compile(r"^(where|what|when|which|how|who|whom|whose|why|is|are|was|were|do|does|did|have|has|"
                        r"had|can|could|would|will|shall|should|may|might|any|count|find|locate|tell|show|list|"
                        r"name|remind|check|help|give)\b")


def sentences(text: str) -> List[str]:
    """Split on sentence ends (. ? ! ;), keeping each sentence's own end mark."""
    parts = re.findall(r"[^.?!;]+[.?!;]*", text)
    return [p.strip() for p in parts if p.strip(" .?!;")]


def asking_sentence(text: str) -> Tuple[str, str]:
    """(the sentence that asks, the other sentences as context). A question mark wins; else a sentence
    opening with a question word or a request; else the last one."""
    ss = sentences(text)
    if len(ss) <= 1:
        return text, ""
    pick = None
    for s in ss:
        body = s.strip(" ?.!;").lower()
        if s.endswith("?") and not re.fullmatch(r"(if so,? )?(what|which|where)( is it| are they)?", body):
            pick = s
            break
    if pick is None:
        for s in ss:
            if _ASK_START.match(s.strip().lower()):
                pick = s
                break
    if pick is None:
        pick = ss[-1]
    return pick, " ".join(s for s in ss if s is not pick)


_FILLERS = r"\b(i think|i believe|i guess|i suppose|i reckon|i am pretty sure|i am sure|i assume)\b,?"


def prune_clauses(t: str) -> str:
    """Drop fillers and relative clauses after a noun, so rules read the main clause only."""
    if not re.match(r"^(do you think|what do you think)\b", t):
        t = re.sub(_FILLERS, " ", t)
    # "the remote that was next to the tv ...", "the mug which is red": to the clause's end
    t = re.sub(r"(?<=[a-z] )(?<!so )(that|which|who) (was|were|is|are|used to|had|has|have)\b[^,]*", " ", t)
    return re.sub(r"\s+", " ", t).strip(" ,")


_REFUSALS: List[Tuple[str, str, str]] = [
    # (code, pattern over the main clause, what the reply says)
    ("hypothetical", r"\bif\b.*\b(would|will|could|might)\b|\b(would|could|might)\b.*\bif\b|\bif you were\b|"
                     r"\bsuppose\b|\bimagine\b|\bwhat if\b",
     "a hypothetical (what would be if ...) is not something memory holds"),
    ("recommendation", r"\b(where|which room|what room|what|which|how) (should|shall|ought|must|do i need to)\b|"
                       r"\b(should|shall) (i|we)\b|\bwhere would be (a|the) (good|best|better)\b|"
                       r"\b(good|best|better|right) (place|spot|room|way) (for|to)\b|\bdo i need to\b|"
                       r"\bwhat do you (recommend|suggest)\b|\brecommend\b|\bsuggest\b",
     "recommendations (where something should go, what to do) are not given; I only know where things are"),
    ("opinion", r"\bdo you (like|love|hate|prefer|enjoy)\b|\bwhat do you think (of|about)\b|\byour opinion\b|"
                r"\b(is|are) (it|they|the [a-z ]+) (pretty|ugly|nice|beautiful|stylish|cute)\b|\bfavou?rite\b",
     "opinions are not something I have"),
    ("cause_agent", r"^(why|who|whom|whose)\b|\bwho (moved|put|left|took|used|broke|is|was)\b|\bis (anyone|anybody|"
                    r"someone|somebody)\b|\bare (people|there people)\b",
     "why something happened and who did it are not observed; I see objects, not people's reasons"),
    ("device_state", r"\b(turned|switched|left|leave) (on|off)\b|\b(on|off)$|\bon or off\b|"
                     r"\bopen or closed\b|\b(is|are|was|were|still) .*\b(running|plugged in|unplugged|charging|"
                     r"charged|working|broken|locked|unlocked|open|opened|closed|shut|lit|boiling|ringing|"
                     r"playing|recording|muted|on fire|heating|cooling|set to|turned up|turned down)$|"
                     r"\bbattery\b|\btemperature\b|\bvolume\b|\bchannel\b|\bwith open doors\b|\b(switched|turned) "
                     r"on\b|\blights? (on|off)\b|\bis there a light on\b",
     "the state of a device (on/off, open/closed, running, charged) is not observed"),
    ("object_state", r"\b(is|are|was|were)\b.*\b(full|empty|clean|dirty|messy|tidy|cluttered|wet|dry|made|unmade|"
                     r"filled|used|hot|cold|warm|cool|fresh|ripe|pushed in|tucked|well lit|cooked|stale)$|"
                     r"\b(empty or full|full or empty|clean or dirty|tidy or cluttered|messy)\b|\bclutter\b",
     "the state of an object (full/empty, clean/dirty, made) is not observed"),
    ("material", r"\bmade (of|from|out of)\b|\bmaterials?\b|\bwhat is .* made\b|\btype of floor\b|^(is|are|was|"
                 r"were) (the|my|your|this|that|our) [a-z ]+ (wooden|wood|metal|metallic|plastic|ceramic|leather|"
                 r"fabric|cotton|steel|stone|marble|iron|aluminium|aluminum|paper|cardboard|glass|porcelain|"
                 r"velvet|wool|woolen|silk|rubber|concrete|granite)$|"
                 r"^(?!where\b|(what|which) room\b).*\b(metallic|wooden)\b",
     "materials are not observed"),
    ("function", r"\b(used|meant|good|useful) for\b|\bwhat can (i|you|we) (do|use)\b|\bhow (can|could|do|should) "
                 r"(i|we|you|one)\b|\bhow to\b|\b(something|anything) (useful|that|i|we) (can|could)?\b|"
                 r"\bwhat (is|are) .* for$|\bwhat (is|are) the (purpose|function|use)\b|\bfunctions? of\b|"
                 r"\bsomething (to|useful)\b|\banything to (drink|eat|use)\b|\bwhat can (i|we) use\b|"
                 r"\b(that|which) (i|we|you|one) (can|could) use\b",
     "what things are for (their function) is not modelled; ask me where a named object is"),
    ("affordance", r"^(can|could|may|might) (i|we|you|he|she|they|someone|somebody|a person|my|the|one|another) ?"
                   r"[a-z ]*\b(sit|stand|lie|lay|sleep|put|place|lift|carry|eat|drink|use|climb|step|lean|cook|"
                   r"wash|store|fit|plug|hang|throw|cut|microwave|hold|support|bear|push|pull|move|wear|ride|"
                   r"drive|play|open|fold|stack|bend|break|reach|charge|fill|pour|heat|freeze|boil|burn|recycle|"
                   r"clean|go|take|work|read|write|study)\b|"
                   r"\bwhere (can|could|may) (i|we|you|one) (?!(find|get|see|locate|look for|spot)\b)[a-z]+\b|"
                   r"\bwhere i can\b|\b(is it|would it be|it is) (safe|ok|okay|possible|allowed|a good idea|fine|"
                   r"alright|dangerous)\b|\bsafe to\b|\b(able|strong|sturdy|big|large|light|heavy|small) enough\b|"
                   r"\bhow (heavy|strong|sturdy|comfortable|fragile)\b|\bweigh|\b(would|will|does|can) .* fit\b|"
                   r"\b(edible|comfortable|fragile|sturdy|breakable|microwavable|washable|stackable|waterproof|"
                   r"sharp)\b|\bcan .* (hold|support|bear|carry)\b|\b(is there|any) (room|space)\b|"
                   r"\b(is there|are there) (some|any|enough|more) (room|space)\b|\bok to\b|"
                   r"\bso (that )?(i|we|you|one) (can|could) (sit|stand|lie|sleep|put|reach|fit|use|walk|pass)\b",
     "affordances (what can be done with or where, space to spare) are not modelled"),
    ("spatial", r"\b(what|which|who)( [a-z]+)? (is|are|can be seen|sits|stands|lies)( kept| located| placed| "
                r"hanging| sitting| standing| lying| sticking out)? (next to|between|in between|behind|under|"
                r"underneath|beneath|below|above|over|across|across from|in front of|infront of|to the (left|right)"
                r"|left of|right of|near|beside|by|opposite|around|at the end|in the (center|centre|corner|middle))"
                r"\b|\brelative to\b|\bwhich side\b|\bhow far\b|\bclose to\b|\bcloser\b|\bclosest to\b|"
                r"\b(left|right) (side )?of\b|\bon your (left|right)\b|\bwhat is hanging (from|on the curtain)\b|"
                r"\bposition yourself\b|\bclose or separate\b|\bin (the )?(center|centre|middle|corner) of\b|"
                r"\bagainst the walls?\b|\bwhat is (kept|located) (on|at) the (left|right)\b(?! [a-z]+$)",
     "spatial relations other than on / in (next to, between, behind, under) are not answered"),
    ("attribute", r"\bhow (big|large|small|tall|long is|wide|high|old|expensive|much does|much is)\b|\bwhat (size|"
                  r"shape|brand|kind of material|texture|price|model|make|type|kind)\b|\b(size|shape|brand|texture|"
                  r"price|weight|smell|taste|sound|pattern)s? (of|is)\b|\bwhat does .* (smell|taste|sound|feel) "
                  r"like\b|\bsmell|\btaste|\bcolou?r pattern\b|\bold or new\b|\bwhat shape\b|\bhow many [a-z]+ "
                  r"does\b|\bnumbering\b|\bbrand\b",
     "only the colour of an object is known, not its size, shape, brand or other attributes"),
    ("identify", r"\bwhat is (the|this|that) ([a-z]+ )*(object|thing|item|machine)\b|\bwhat (object|thing|item)\b|"
                 r"\bwhich [a-z]+ (item|object|thing)\b|"
                 r"^which (is|are) (the|this|that) ([a-z]+ )?(objects?|things?|items?)\b|"
                 r"\bwhat does .* (depict|show|say)\b|\bwhat is (in|on) the "
                 r"(tapestry|painting|picture|poster|calendar|mug|screen)\b|\bwhere is the word\b|\bwritten\b|"
                 r"\bdrawn\b|\bwhat can be seen\b|\bwhich (one|armchair|chair|desk|shelf|table|plushie|animal)\b"
                 r"(?! (is|are) (the|my) [a-z]+ (on|in)\b)|\bwhat (is|are) the [a-z]+ [a-z]+ object\b|"
                 r"\bpredominant\b|\bwhat is (the )?date\b|\bwhere can (i|you) see a\b",
     "telling what an unnamed or described thing is (or what is written or pictured) is not answered; "
     "ask about a named object"),
    ("world_knowledge", r"\bweather\b|\bwhat time is it\b|\bwhat day is\b|\bis it raining\b|\bcapital of\b|"
                        r"\b(is|was) this (a|an|home|house|place)\b|\bwhat floor\b|\bwhich floor are\b|"
                        r"\bintended (for|to)\b|\bhow many people\b|\bwhat (kind|type) of (heating|windows|house)\b|"
                        r"\bwhich room do these\b|\bthe rules\b|\boutside\b.*\b(look|see)\b|\bon an airplane\b|"
                        r"^(what|which) (is|are) (the )?(name|meaning)\b|\bwho is\b|\bhow do (i|you|we)\b|"
                        r"\bwhat should i (cook|eat|wear|do)\b|\bin the city\b|\bprivate\b",
     "general knowledge is not what I keep; I remember where objects are, were and will be"),
]


def refusal(t: str) -> Optional[Tuple[str, str]]:
    """(reason code, reply text) when the main clause asks what a structured memory cannot know."""
    for code, pattern, words in _REFUSALS:
        if re.search(pattern, t):
            return code, "out of scope: " + words
    return None


def or_alternatives(t: str) -> Optional[Tuple[str, List[str]]]:
    """"is the book in the bedroom or (in) the living room" -> ("where is the book", [two places])."""
    m = re.match(r"^(is|are|was|were) (.+?) (in|on|inside|at) (?:the |my |our )?([a-z ]+?),? or (?:(?:in|on|at|"
                 r"inside) )?(?:the |my |our )?([a-z ]+)$", t)
    if not m or " or " in m.group(2):
        return None
    verb = "is" if m.group(1) in ("is", "are") else "was"
    return f"where {verb} {m.group(2)}", [m.group(4).strip(), m.group(5).strip()]
