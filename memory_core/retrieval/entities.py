"""Names of people, pets, places and things in a note, found without a model.

Why capitalisation: in the person's own words a name is capitalised ("a golden retriever called
Biscuit", "Lena lives in Porto"), and that is a signal a rule reads exactly; a 135M model does not.
A capitalised word inside a sentence is a *strong* mention; one that opens a sentence ("Biscuit is
afraid of thunderstorms") is *weak*, since any first word is capitalised: a weak mention counts
when the same name is a strong mention somewhere (another note, or the same one), or when it is not
an ordinary word. Two notes naming the same entity get linked (``memory.linking``) and the
personalized-PageRank graph signal walks through entity nodes (``retrieval.graph``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from ..store.lexical import STOPWORDS

_SENTENCE_RE = re.compile(r"(?<=[.!?])\s+|\n+")
_TOKEN_RE = re.compile(r"[A-Za-z][A-Za-z'\-]*")
_SPEAKER_RE = re.compile(r"^\s*[A-Z][\w .'-]{0,40}:\s")  # "Caroline: ..." (LoCoMo turns)
NOT_NAMES = frozenset("""i i'm i've i'd i'll monday tuesday wednesday thursday friday saturday sunday
january february march april may june july august september october november december today tomorrow
yesterday tonight actually also then so and but well yes no oh ok okay hey hi hello thanks thank sure
yeah wow just still now last next this that these those my our your his her their we you they he she
it its there here what when where why how who which maybe really anyway btw lol haha please sorry
great good nice cool awesome amazing mr mrs ms dr memex person mum mom dad mama papa grandma grandpa
granny nan""".split())


def _clean(token: str) -> str:
    token = token.strip("'-")
    if token.lower().endswith("'s"):
        token = token[:-2]
    return token


# The person's own people, pets and things, named by their relation ("my brother", "my dog"): in a
# person's words these are entities as much as names are, and they are lower case. Relations that
# usually stand for several people (friend, colleague, cousin) are left to the names that follow them.
_PEOPLE = {"mother": "mother", "mum": "mother", "mom": "mother", "mummy": "mother", "mama": "mother",
           "father": "father", "dad": "father", "daddy": "father", "papa": "father",
           "brother": "brother", "sister": "sister", "son": "son", "daughter": "daughter", "wife": "wife",
           "husband": "husband", "partner": "partner", "boyfriend": "boyfriend", "girlfriend": "girlfriend",
           "fiance": "fiance", "fiancé": "fiance", "fiancee": "fiance", "fiancée": "fiance",
           "grandmother": "grandmother", "grandma": "grandmother", "granny": "grandmother", "nan": "grandmother",
           "grandfather": "grandfather", "grandpa": "grandfather", "granddad": "grandfather",
           "boss": "boss", "manager": "boss", "landlord": "landlord", "landlady": "landlord",
           "therapist": "therapist", "dentist": "dentist", "doctor": "doctor", "gp": "doctor",
           "roommate": "flatmate", "flatmate": "flatmate", "housemate": "flatmate", "niece": "niece",
           "nephew": "nephew", "stepmother": "stepmother", "stepfather": "stepfather", "baby": "baby",
           "neighbour": "neighbour", "neighbor": "neighbour"}
_PETS = {"dog": "dog", "puppy": "dog", "pup": "dog", "retriever": "dog", "labrador": "dog", "poodle": "dog",
         "terrier": "dog", "spaniel": "dog", "collie": "dog", "mutt": "dog", "beagle": "dog", "cat": "cat",
         "kitten": "cat", "kitty": "cat", "parrot": "parrot", "rabbit": "rabbit", "bunny": "rabbit",
         "hamster": "hamster", "horse": "horse", "pony": "horse", "tortoise": "tortoise", "budgie": "budgie"}
_THINGS = frozenset("""car bike bicycle flat apartment house garden balcony allotment job phone laptop boat
kitchen office team band shop business restaurant bakery cafe piano guitar cello violin plants van""".split())
RELATION_KINDS = {**{w: "person" for w in _PEOPLE}, **{w: "pet" for w in _PETS}, **{w: "thing" for w in _THINGS}}
_ADJ = r"(?:(?:best|older|younger|little|big|baby|twin|new|old|late|ex|step|eldest|oldest|youngest|small|" \
       r"golden|black|white|grey|gray|brown|ginger|lovely|sweet|cute|dear|own|first|second|\w+-year-old)[\s-]+){0,3}"
_WORDS = "|".join(sorted(RELATION_KINDS, key=len, reverse=True))
_MY_RE = re.compile(rf"\b(?:my|our)\s+{_ADJ}({_WORDS})(?:'s|s)?\b", re.IGNORECASE)
_HAVE_RE = re.compile(rf"\b(?:i|we)(?:\s+have|'ve|\s+have got|\s+got|\s+own|\s+adopted)(?:\s+got)?\s+(?:a|an)\s+"
                      rf"(?:[\w-]+\s+){{0,3}}?({'|'.join(_PETS)}|{'|'.join(sorted(_THINGS))})\b", re.IGNORECASE)
_BARE_RE = re.compile(r"(?:^|[.!?]\s+|,\s*)(Mum|Mom|Dad|Mama|Papa|Grandma|Grandpa|Granny|Nan)\b")


def _relation_key(word: str) -> tuple[str, str]:
    word = word.lower()
    if word in _PEOPLE:
        return "my " + _PEOPLE[word], "person"
    if word in _PETS:
        return "my " + _PETS[word], "pet"
    return "my " + word, "thing"


def relations(text: str) -> dict[str, str]:
    """The person's relations a text names: "my brother" -> "person", "my dog" -> "pet", "my car" ->
    "thing" ("I have a golden retriever called Biscuit" names "my dog"; "Mum said" names "my mother")."""
    found: dict[str, str] = {}
    for rx in (_MY_RE, _HAVE_RE, _BARE_RE):
        for m in rx.finditer(text):
            key, kind = _relation_key(m.group(1))
            found[key] = kind
    return found


def mentions(text: str) -> dict[str, bool]:
    """Entity key (lower case) -> True for a strong mention, False for a weak one. The person's relations
    ("my brother", "my dog") are strong mentions: "my" marks them as much as a capital marks a name."""
    body = _SPEAKER_RE.sub("", text, count=1)
    found: dict[str, bool] = dict.fromkeys(relations(body), True)
    for sentence in _SENTENCE_RE.split(body):
        tokens = _TOKEN_RE.findall(sentence)
        for i, raw in enumerate(tokens):
            token = _clean(raw)
            if len(token) < 2 or not token[0].isupper() or token.isupper() and len(token) > 5:
                continue
            key = token.lower()
            if key in STOPWORDS or key in NOT_NAMES:
                continue
            strong = i > 0
            found[key] = found.get(key, False) or strong
    return found


def entities(text: str, strong_elsewhere: Iterable[str] = (), vocabulary: frozenset[str] = frozenset()) -> set[str]:
    """The entities a text names: strong mentions, plus weak ones that are strong elsewhere or are not
    ordinary (lower-case dictionary) words."""
    known = set(strong_elsewhere)
    out: set[str] = set()
    for key, strong in mentions(text).items():
        if strong or key in known or (vocabulary and key not in vocabulary):
            out.add(key)
    return out


def display(key: str) -> str:
    """How to show an entity key in a link reason ("Lena"; a relation stays as said: "my brother")."""
    return key if key.startswith("my ") else key[:1].upper() + key[1:]
