"""Near-duplicates and corrections, with the real MiniLM embedder: the thresholds come from these pairs.

PARAPHRASES are one fact told twice in other words; DIFFERENT are two facts on the same topic by
the same speaker. ``DUPLICATE_THRESHOLD`` must merge most paraphrases and no different facts; the
figures in memory_core/memory/dedup.py are measured on exactly these lists.
"""

from __future__ import annotations

import numpy as np
import pytest

from memory_core.memory.dedup import (
    CORRECTION_THRESHOLD,
    DUPLICATE_THRESHOLD,
    Match,
    facts_of,
    find_corrected,
    find_duplicate,
)
from memory_core.notes import Note

pytestmark = pytest.mark.real_model

PARAPHRASES = [
("My dog is called Biscuit.", "My dog's name is Biscuit."),
("I have a golden retriever called Biscuit", "I've got a golden retriever named Biscuit."),
("I work as a nurse on night shifts.", "I'm a nurse and I work night shifts."),
("Lena lives in Porto.", "Lena lives in Porto, by the way."),
("I'm learning Spanish at evening classes.", "I am taking Spanish evening classes."),
("We hiked in the Alps last summer.", "Last summer we went hiking in the Alps."),
("My sister's birthday is on 3 May.", "My sister has her birthday on May 3."),
("I'm allergic to peanuts.", "I have a peanut allergy."),
("I moved to Berlin in 2019.", "I've lived in Berlin since I moved there in 2019."),
("My favourite band is Radiohead.", "Radiohead is my favourite band."),
("I drive a blue Toyota.", "My car is a blue Toyota."),
("I play the guitar every evening.", "Every evening I play guitar."),
("My daughter Mia starts school in September.", "Mia, my daughter, starts school this September."),
("I'm vegetarian.", "I don't eat meat, I'm vegetarian."),
("I go swimming on Tuesdays.", "On Tuesdays I go swimming."),
("My passport expires in June.", "My passport runs out in June."),
("I have two cats, Tom and Jerry.", "I own two cats called Tom and Jerry."),
("I'm training for a marathon in October.", "I am training for the October marathon."),
("My brother lives in Canada.", "My brother is living in Canada."),
("I hate flying.", "I really hate flying."),
("Biscuit is afraid of thunderstorms.", "Biscuit gets scared during thunderstorms."),
("I started a pottery class on Mondays.", "I've started going to a pottery class on Mondays."),
("My flight to Rome is on Friday.", "I'm flying to Rome on Friday."),
("I love sushi.", "I really love sushi."),
("My mum's name is Helen.", "My mother is called Helen."),
("I work at a bakery on Elm Street.", "I work in the bakery on Elm Street."),
("I'm reading Dune at the moment.", "Currently I'm reading Dune."),
("My partner Sam is a teacher.", "Sam, my partner, works as a teacher."),
("I broke my arm skiing in 2015.", "In 2015 I broke my arm while skiing."),
("I'm saving up for a new bike.", "I am saving money for a new bike."),
]
DIFFERENT = [
("My dog is called Biscuit.", "My cat is called Pepper."),
("I have a golden retriever called Biscuit", "Biscuit is afraid of thunderstorms."),
("I work as a nurse on night shifts.", "I work as a nurse at the children's hospital."),
("Lena lives in Porto.", "Lena moved to Lisbon."),
("I'm learning Spanish at evening classes.", "I'm learning French on an app."),
("We hiked in the Alps last summer.", "We hiked in the Pyrenees this spring."),
("My sister's birthday is on 3 May.", "My brother's birthday is on 12 August."),
("I'm allergic to peanuts.", "I'm allergic to cats."),
("I moved to Berlin in 2019.", "I moved to Hamburg in 2021."),
("My favourite band is Radiohead.", "I saw Radiohead live in 2017."),
("I drive a blue Toyota.", "I sold my old red Ford."),
("I play the guitar every evening.", "I play the piano at weekends."),
("My daughter Mia starts school in September.", "My son Leo starts university in October."),
("I'm vegetarian.", "I'm trying to eat less sugar."),
("I go swimming on Tuesdays.", "I go running on Thursdays."),
("My passport expires in June.", "My driving licence expires next year."),
("I have two cats, Tom and Jerry.", "I have a dog called Rex."),
("I'm training for a marathon in October.", "I ran a half marathon in April."),
("My brother lives in Canada.", "My brother lives in Australia."),
("I hate flying.", "I love travelling by train."),
("Biscuit is afraid of thunderstorms.", "Biscuit loves swimming in the lake."),
("I started a pottery class on Mondays.", "I quit my yoga class."),
("My flight to Rome is on Friday.", "My flight to Madrid is on Sunday."),
("I love sushi.", "I love pizza."),
("My mum's name is Helen.", "My aunt's name is Helen."),
("I work at a bakery on Elm Street.", "I used to work at a cafe on Main Street."),
("I'm reading Dune at the moment.", "I just finished reading Foundation."),
("My partner Sam is a teacher.", "My partner Sam is a nurse."),
("I broke my arm skiing in 2015.", "I broke my leg playing football in 2018."),
("I'm saving up for a new bike.", "I'm saving up for a holiday in Japan."),
]


CORRECTIONS = [
    ("Lena lives in Porto.", "Actually Lena moved to Lisbon."),
    ("I work as a nurse on night shifts at the city hospital.", "Actually I'm on day shifts at the hospital now, no more nights."),
    ("I started a Spanish course on Tuesday evenings.", "I quit the Spanish course, I'm doing Italian instead."),
    ("I drive an old blue Volvo.", "I sold the Volvo, I drive a red Fiat now."),
    ("I have tickets for the Radiohead concert on 14 June.", "Actually the Radiohead concert moved to 21 June."),
    ("I work night shifts most weeks.", "Actually I moved to day shifts now."),
    ("My brother lives in Canada.", "My brother moved to Australia now."),
    ("I'm vegetarian.", "Actually I eat fish now, not vegetarian anymore."),
    ("My favourite band is Radiohead.", "Actually my favourite band is Blur now."),
    ("I go swimming on Tuesdays.", "I switched swimming to Thursdays."),
]


def _sims(embedder, pairs):
    a = embedder.embed([x for x, _ in pairs])
    b = embedder.embed([y for _, y in pairs])
    return np.sum(a * b, axis=1)


def test_threshold_separates_paraphrases_from_different_facts(embedder) -> None:
    para, diff = _sims(embedder, PARAPHRASES), _sims(embedder, DIFFERENT)
    assert (diff >= DUPLICATE_THRESHOLD).sum() == 0, sorted(diff)[-3:]
    assert (para >= DUPLICATE_THRESHOLD).sum() >= 0.8 * len(para)
    assert float(np.median(para)) > 0.9 > float(np.median(diff))


def test_corrections_find_the_fact_they_correct(embedder) -> None:
    olds = [Note(o, speaker="person") for o, _ in CORRECTIONS]
    vecs = embedder.embed([o for o, _ in CORRECTIONS])
    for i, (_old, new) in enumerate(CORRECTIONS):
        sims = vecs @ embedder.embed([new])[0]
        matches = sorted((Match(n, float(x)) for n, x in zip(olds, sims)), key=lambda m: -m.similarity)
        found = find_corrected(new, matches)
        assert found is not None and found.note is olds[i], (new, found and found.note.content)
        assert found.similarity >= CORRECTION_THRESHOLD


def test_a_new_name_or_number_is_never_a_duplicate() -> None:
    old = Note("Lena lives in Porto.", speaker="person")
    assert find_duplicate("Lena lives in Lisbon.", [Match(old, 0.95)]) is None
    assert find_duplicate("Lena lives in Porto, yes.", [Match(old, 0.95)]) is not None
    assert facts_of("I moved to Berlin in 2019") == {"berlin", "2019"}


def test_a_correction_needs_a_marker_and_a_close_note() -> None:
    old = Note("Lena lives in Porto.", speaker="person")
    other = Note("I have a golden retriever called Biscuit", speaker="person")
    assert find_corrected("Actually Lena moved to Lisbon.", [Match(old, 0.70), Match(other, 0.1)]).note is old
    assert find_corrected("Lena moved to Lisbon.", [Match(old, 0.70)]) is not None  # "moved to" is a marker
    assert find_corrected("Lena likes Lisbon.", [Match(old, 0.70)]) is None  # no marker: a new fact
    assert find_corrected("Actually I prefer tea.", [Match(other, 0.2)]) is None  # nothing close
