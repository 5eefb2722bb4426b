"""Answers a person can rely on: when the model ignored the note it was given, say so and show the note.

Why: with the right note in the prompt, the bundled 135M model still answers "Oyelaran is a
fictional character from the movie ..." or "I'm sorry for your loss." A wrong sentence left alone
is worse than no answer. After a memory answer, the reply is checked for the note's content words
(Snowball-stemmed, stop words out, the question's own words out: "bike" in "your bike is red" proves
nothing); when none is there, the saved reply says plainly that it did not use the note and gives
the person's own sentence as the answer. The model's words are kept on the message
(``model_reply``), shown small, never lost.

A correct answer need not repeat a word of its note, so two more things count as using it. Numbers
are compared as numbers ("two kids" -> "You have 2 children"; a year in the note also stands for the
age or years since: "born in 1990" -> "about 34"). And, with the MiniLM it was measured on, a reply
close in meaning to the note ("I don't eat meat." -> "Yes, you are vegetarian.") is kept: cosine of
reply and note at least ``MEANING_FLOOR``. Measured on 27 hand-written (note, reply) pairs:

    correct, other words:  0.62 vegetarian/meat, 0.63 vegetarian diet, 0.62 avoid nuts/peanuts,
                           0.71 Portugal/Porto, 0.53 patients/nurse, 0.47 plant pot/flowerpot,
                           0.43 teeth/dentist, 0.40 summer/June, 0.36 "34 years old"/"born in 1990"
    wrong or no answer:    0.08-0.12 "I'm sorry for your loss", "I don't know", "I am an AI...";
                           0.26 lawyer/dentist, 0.44 red/green bicycle, 0.45 Oyelaran in a movie,
                           0.48 no children/two kids, 0.52 steak/no meat, 0.58 London/Porto;
                           above: 0.60 "I don't know where your key is", 0.72 "A positive"/"O negative",
                           0.75 "I don't know your blood type"

0.6 keeps the plainest rewordings and still replaces every wrong answer above that names another
thing than the note. MiniLM cannot tell "A positive" from "O negative" (same topic, same words around
them), so such replies stay the model's answer, as a reply sharing one word with its note always did.

Acknowledgements and greetings ("thanks!", "ok", "good night") recall nothing and get a one-line
reply: the same rule that keeps them out of memory (``memory.worth``) says what they are.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import TYPE_CHECKING

import numpy as np

from ..memory.worth import judge_turn
from ..retrieval.floor import MEASURED_EMBEDDER
from ..store.lexical import tokenize

if TYPE_CHECKING:
    from ..models.embeddings import Embedder

ACK_KINDS = ("greeting", "thanks", "ack")
ACK_MAX_TOKENS = 24  # "You're welcome! Have a good night." fits; the 384-token ramble does not
ACK_SYSTEM = "You are Memex, a friendly assistant. Reply in one short, friendly line."
MISSES_BEFORE_OFFER = 3  # fallbacks in a conversation before the chat offers a larger model
FALLBACK_LEAD = "I could not answer that well from what you told me, so here it is in your own words:"
MEANING_FLOOR = 0.6  # reply-note cosine (all-MiniLM-L6-v2) above which a reply used its note: see above
# A reply that says it does not know is not an answer, however close in meaning it is to the note
# ("I don't know your blood type" scores 0.75 against "My blood type is O negative."): only the note's
# own words or numbers count for it.
_DECLINES = re.compile(r"\b(i\s+(?:do\s*n[o']?t|don't|can\s*not|can't|cannot)\s+(?:know|tell|say|remember|recall)"
                       r"|i(?:'m| am)\s+(?:sorry|not sure|afraid)|no (?:information|idea)|as an ai)\b", re.I)

_UNITS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven",
          "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen"]
_TENS = ["twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]
_NUMBER_WORDS = {w: i for i, w in enumerate(_UNITS)} | {w: 20 + 10 * i for i, w in enumerate(_TENS)}
_NUMBER_RE = re.compile(r"\b(" + "|".join(_TENS) + r")[\s-](" + "|".join(_UNITS[1:10]) + r")\b|\b("
                        + "|".join(_NUMBER_WORDS) + r")\b", re.IGNORECASE)


def is_acknowledgement(text: str) -> bool:
    """A message that only greets, thanks or acknowledges: nothing to recall, a one-line reply."""
    return judge_turn(text).kind in ACK_KINDS


def with_digits(text: str) -> str:
    """Number words written as digits ("twenty-one kids" -> "21 kids"): a reply may write either."""
    def digits(m: re.Match[str]) -> str:
        if m.group(1):
            return str(_NUMBER_WORDS[m.group(1).lower()] + _NUMBER_WORDS[m.group(2).lower()])
        return str(_NUMBER_WORDS[m.group(3).lower()])
    return _NUMBER_RE.sub(digits, text)


def words_of(text: str) -> set[str]:
    return set(tokenize(with_digits(text)))


def answer_words(note_text: str, question: str, today: dt.date | None = None) -> set[str]:
    """The note's content words that the question does not already hold (all of them if none is left).
    A past year also stands for the years since it ("born in 1990" answers "how old am I")."""
    words = words_of(note_text)
    year = (today or dt.date.today()).year
    words |= {str(year - int(w) - d) for w in words if w.isdigit() and 1900 <= int(w) < year for d in (0, 1)}
    new = words - words_of(question)
    return new or words


def close_in_meaning(reply: str, notes: list[str], embedder: Embedder | None) -> bool:
    """Is the reply a rewording of one of its notes (MiniLM cosine at least ``MEANING_FLOOR``)? Only
    for the embedder the floor was measured on: another model's cosines mean something else."""
    if embedder is None or getattr(embedder, "name", "") != MEASURED_EMBEDDER or not reply.strip() or not notes:
        return False
    vecs = np.asarray(embedder.embed([reply, *notes]), dtype=np.float32)
    vecs /= np.maximum(np.linalg.norm(vecs, axis=1, keepdims=True), 1e-12)
    return bool((vecs[1:] @ vecs[0]).max() >= MEANING_FLOOR)


def uses_note(reply: str, notes: list[str], question: str, embedder: Embedder | None = None,
              today: dt.date | None = None) -> bool:
    """Did the reply use any of the notes it was given: a content word or number of one (beyond the
    question's), or, with the measured embedder, a rewording of one?"""
    notes = [text for text in notes if text.strip()]
    said = words_of(reply)
    if any(answer_words(text, question, today) & said for text in notes):
        return True
    return not _DECLINES.search(reply) and close_in_meaning(reply, notes, embedder)


def fallback_text(passage: str, when: str = "") -> str:
    """The reply saved instead of a model answer that ignored the note: plain, with the note's sentence."""
    dated = f" ({when})" if when else ""
    return f"{FALLBACK_LEAD}\n\nFrom your memory: “{passage}”{dated}"


def misses(messages: list[dict]) -> int:
    """How many replies in a conversation fell back to the note (the chat offers a larger model after a few)."""
    return sum(1 for m in messages if m.get("role") == "assistant" and m.get("fallback"))
