"""Is a chat turn worth a note? A deterministic rule first; the model only for the turns it cannot settle.

Why a rule: with SmolLM2-135M every question and greeting became a note and outranked the real
facts in search. Whether a turn is a bare question, a greeting or an acknowledgement is a matter
of its words, which a rule reads reliably and instantly; the model is asked only about turns the
rule calls "uncertain", and only when it is capable (see ``capability``).

A turn is split into sentences; each sentence is one of: greeting, thanks, acknowledgement,
question, request (to the assistant), or statement. A turn is remembered when it has at least one
statement with a content word, or when it tells something inside a question ("Did I tell you I
adopted a cat?").
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..store.lexical import STOPWORDS

_WORD_RE = re.compile(r"[A-Za-z']+|\d+")
_SENTENCE_RE = re.compile(r"(?<=[.!?])\s+|\n+")

GREETINGS = frozenset("""hi hello hey hiya howdy yo greetings morning evening afternoon night goodnight
bye goodbye cya later cheers sup hallo hola ciao""".split())
GREETING_PHRASES = ("good morning", "good evening", "good afternoon", "good night", "see you", "see ya",
                    "talk later", "talk to you later", "how are you", "how's it going", "hows it going",
                    "how are things", "what's up", "whats up", "how have you been", "nice to meet you",
                    "how is your day", "how's your day", "how was your day", "have a nice day", "take care")
THANKS = frozenset("thanks thank thx ty cheers appreciated appreciate".split())
ACKS = frozenset("""ok okay k kk alright right sure yes yeah yep yup no nope nah cool nice great good fine
awesome perfect lol haha hahaha hmm hm ah oh wow gotcha understood noted indeed exactly true agreed
interesting neat sweet lovely excellent brilliant super fantastic amazing thx ty please well so bit bye
mhm mm mmm hmmm ahh ooh uh um huh yay hey""".split())
# Words that fill an acknowledgement ("that sounds good", "thank you so much") without telling anything.
FILLER = ACKS | THANKS | GREETINGS | frozenset("""that's thats that it it's its is sounds sound very so much
you a lot too really all right thank love to hear glad happy for me i'm im will do got it makes sense
same here me too of course no problem one not why maybe guess""".split())
QUESTION_WORDS = frozenset("""what what's whats when where which who whom whose why how how's hows
is are am was were do does did can could would will should shall may might have has had isn't aren't
don't doesn't didn't won't can't couldn't wouldn't shouldn't""".split())
REQUEST_VERBS = frozenset("""tell give write show explain help list summarise summarize translate suggest
recommend describe define compare calculate find search generate make draft say repeat continue answer
name guess create plan""".split())
FIRST_PERSON = frozenset("i i'm im i've ive i'd my we we're we've our".split())
# Phrases by which a question or request still tells a fact about the person.
TELLING_RE = re.compile(
    r"\b(did i (tell|mention)|have i (told|mentioned)|i (just|recently|finally) |remember that|"
    r"note that|keep in mind|don't forget|for the record|fyi|by the way)\b",
    re.IGNORECASE)
# "Did I tell you about my sister?" announces a fact without telling it yet.
ANNOUNCE_RE = re.compile(r"\b(did|have) i (tell|told|mention|mentioned)( you)? (about|of)\b", re.IGNORECASE)
# Words a person opens a sentence with before the question or request itself ("So what did I ...").
OPENERS = frozenset("so and but ok okay well hey oh anyway also um hmm right".split())
# Question words that ask *for* what was told ("What did I tell you yesterday?"): a recall question, not
# a telling one, even though it contains "did I tell".
RECALL_WORDS = frozenset("what what's whats which when where who whom whose why how".split())


@dataclass(frozen=True)
class Verdict:
    """``worth``: store it; ``kind``: what the rule saw; ``reason``: a short sentence for the chat."""

    worth: bool
    kind: str  # fact / question / greeting / thanks / ack / request / empty / uncertain
    reason: str


def _words(text: str) -> list[str]:
    return [w.lower().strip("'") for w in _WORD_RE.findall(text)]


def content_words(text: str) -> list[str]:
    """Words that may carry meaning: not stop words, greetings or thanks (adjectives count:
    "it was amazing" tells something, with its context)."""
    return [w for w in _words(text) if w and w not in STOPWORDS and w not in GREETINGS
            and w not in THANKS and len(w) > 1]


def _sentence_kind(sentence: str) -> str:
    s = sentence.strip()
    words = _words(s)
    if not words:
        return "empty"
    kind = _kind_of(s, words)
    if kind == "statement" and len(words) > 2 and words[0] in OPENERS:  # "So what did I tell you about..."
        opened = _kind_of(s, words[1:])
        if opened in ("question", "request"):
            return opened
    return kind


def _kind_of(s: str, words: list[str]) -> str:
    low = " ".join(words)
    if any(low.startswith(p.replace("'", "")) or low.startswith(p) for p in GREETING_PHRASES) \
            and len(content_words(s)) <= 2:
        return "greeting"
    if words[0] in GREETINGS and len(content_words(s)) <= 1:
        return "greeting"
    if any(w in THANKS for w in words) and all(w in FILLER for w in words):
        return "thanks"
    if all(w in FILLER for w in words) or not content_words(s):
        return "ack"
    if s.endswith("?") and words[0] in FIRST_PERSON and len(content_words(s)) >= 2:
        return "statement"  # "I'm going to a concert on Friday, any tips?" tells something
    if s.endswith("?") or words[0] in QUESTION_WORDS and len(words) > 1 and not s.endswith((".", "!")):
        return "question"
    if words[0] in REQUEST_VERBS or (words[0] in ("please", "can", "could") and len(words) > 1
                                     and words[1] in REQUEST_VERBS | {"you"}):
        return "request"
    if words[:2] == ["remind", "me"] and len(words) > 2 and words[2] in RECALL_WORDS | {"about", "of"}:
        return "request"  # "Remind me what I told you": asks for a memory ("remind me to..." tells a plan)
    return "statement"


def judge_turn(text: str) -> Verdict:
    """The deterministic rule. Never raises; an empty or blank text is "empty"."""
    if not isinstance(text, str) or not text.strip():
        return Verdict(False, "empty", "an empty message")
    sentences = [s for s in _SENTENCE_RE.split(text.strip()) if s.strip()]
    kinds = [_sentence_kind(s) for s in sentences]
    if "statement" in kinds:
        return Verdict(True, "fact", "it tells something")
    telling = [s for s in sentences if TELLING_RE.search(s) and _words(s)[0] not in RECALL_WORDS
               and not ANNOUNCE_RE.search(s)]
    if any(k in ("question", "request") for k in kinds) and telling \
            and len(content_words(" ".join(telling))) >= 2:
        return Verdict(True, "fact", "it tells something inside a question")
    for kind, reason in (("request", "a request to Memex"), ("question", "a bare question"),
                         ("greeting", "a greeting"), ("thanks", "a thank-you"),
                         ("ack", "an acknowledgement with nothing to remember")):
        if kind in kinds:
            return Verdict(False, kind, reason)
    return Verdict(False, "empty", "nothing to remember")
