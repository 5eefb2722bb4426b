"""Answers a person can rely on: when the model ignored the note it was given, say so and show the note.

Why: with the right note in the prompt, the bundled 135M model still answers "Oyelaran is a
fictional character from the movie ..." or "I'm sorry for your loss." A wrong sentence left alone
is worse than no answer. After a memory answer, the reply is checked for the note's content words
(Snowball-stemmed, stop words out, the question's own words out: "bike" in "your bike is red" proves
nothing); when none is there, the saved reply says plainly that it did not use the note and gives
the person's own sentence as the answer. The model's words are kept on the message
(``model_reply``), shown small, never lost.

Acknowledgements and greetings ("thanks!", "ok", "good night") recall nothing and get a one-line
reply: the same rule that keeps them out of memory (``memory.worth``) says what they are.
"""

from __future__ import annotations

from ..memory.worth import judge_turn
from ..store.lexical import tokenize

ACK_KINDS = ("greeting", "thanks", "ack")
ACK_MAX_TOKENS = 24  # "You're welcome! Have a good night." fits; the 384-token ramble does not
ACK_SYSTEM = "You are Memex, a friendly assistant. Reply in one short, friendly line."
MISSES_BEFORE_OFFER = 3  # fallbacks in a conversation before the chat offers a larger model
FALLBACK_LEAD = "I could not answer that well from what you told me, so here it is in your own words:"


def is_acknowledgement(text: str) -> bool:
    """A message that only greets, thanks or acknowledges: nothing to recall, a one-line reply."""
    return judge_turn(text).kind in ACK_KINDS


def answer_words(note_text: str, question: str) -> set[str]:
    """The note's content words that the question does not already hold (all of them if none is left)."""
    words = set(tokenize(note_text))
    new = words - set(tokenize(question))
    return new or words


def uses_note(reply: str, notes: list[str], question: str) -> bool:
    """Does the reply hold a content word of any of the notes it was given (beyond the question's)?"""
    said = set(tokenize(reply))
    return any(answer_words(text, question) & said for text in notes if text.strip())


def fallback_text(passage: str, when: str = "") -> str:
    """The reply saved instead of a model answer that ignored the note: plain, with the note's sentence."""
    dated = f" ({when})" if when else ""
    return f"{FALLBACK_LEAD}\n\nFrom your memory: “{passage}”{dated}"


def misses(messages: list[dict]) -> int:
    """How many replies in a conversation fell back to the note (the chat offers a larger model after a few)."""
    return sum(1 for m in messages if m.get("role") == "assistant" and m.get("fallback"))
