"""The what-to-remember rule, table-tested: questions, greetings and thanks are not notes; facts are."""

from __future__ import annotations

import pytest

from memory_core.memory.worth import judge_turn

NOT_STORED = [
    ("What is my dog's name?", "question"),
    ("where do I work?", "question"),
    ("Do you remember where I went hiking?", "question"),
    ("How old is my sister", "question"),
    ("When is the concert?", "question"),
    ("Hi!", "greeting"),
    ("hello there", "greeting"),
    ("Good morning!", "greeting"),
    ("hey, how are you?", "greeting"),
    ("Hiya", "greeting"),
    ("bye, see you later", "greeting"),
    ("ok thanks", "thanks"),
    ("Thank you so much!", "thanks"),
    ("thanks!", "thanks"),
    ("Sounds good, thanks!", "thanks"),
    ("ok", "ack"),
    ("cool", "ack"),
    ("lol", "ack"),
    ("mmm", "ack"),
    ("Yes", "ack"),
    ("That sounds great", "ack"),
    ("hmm, interesting", "ack"),
    ("Tell me a joke", "request"),
    ("Can you summarise that?", "question"),
    ("Please explain how it works.", "request"),
    ("Write a poem about autumn.", "request"),
    ("nice one", "ack"),
    ("Sure, why not", "ack"),
    ("I'm fine, thanks", "thanks"),
    ("Yes, that's right.", "ack"),
    ("Do you know where Lena lives?", "question"),
    ("What did I tell you yesterday?", "question"),
    ("Which film did I mention last week?", "question"),
    ("Can you remind me what my cat is called?", "question"),
    ("Remind me what I told you about my sister", "request"),
    ("remind me about the restaurant Lena recommended", "request"),
    ("So what did I tell you about my sister", "question"),
    ("And where does Lena live", "question"),
    ("Did I tell you about my sister?", "question"),
    ("Have I mentioned of my trip to Rome?", "question"),
    ("   ", "empty"),
    ("?!", "empty"),
]

STORED = [
    "I work as a nurse on night shifts.",
    "My dog is called Biscuit.",
    "I have a golden retriever called Biscuit",
    "Biscuit is afraid of thunderstorms.",
    "Lena lives in Porto.",
    "Actually Lena moved to Lisbon.",
    "Yes, it was amazing!",
    "We hiked in the Alps last summer, it was tough.",
    "Hi! I just started a Spanish course.",
    "Thanks! By the way, my sister's birthday is on 3 May.",
    "Did I tell you I adopted a cat?",
    "Remind me to call Lena tomorrow, she's moving to Porto.",
    "So I finally booked the flights to Rome.",
    "I'm going to a Radiohead concert on Friday, any tips?",
    "Remember that my passport expires in June.",
    "ok, my flight is at 6am tomorrow",
    "The bakery on Elm Street closed.",
    "I love sushi",
    "My name is Sam.",
]


@pytest.mark.parametrize(("text", "kind"), NOT_STORED)
def test_turns_that_carry_nothing_are_not_stored(text: str, kind: str) -> None:
    verdict = judge_turn(text)
    assert not verdict.worth, verdict
    assert verdict.kind == kind
    assert verdict.reason


@pytest.mark.parametrize("text", STORED)
def test_turns_that_tell_something_are_stored(text: str) -> None:
    verdict = judge_turn(text)
    assert verdict.worth, verdict
    assert verdict.kind == "fact"
