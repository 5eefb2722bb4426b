"""The stories of the generated LoCoMo-format tuning set: small exchanges that plant facts, and the
questions about them, worded apart from the turns that answer them.

Why hand-made stories with slots and not a model: the set must be made again byte for byte from a
seed, with no network and no model, and a question that repeats its evidence word for word makes
BM25 look perfect; here each question names the thing by another word ("artwork" for "watercolour",
"vehicle" for "hatchback") and the facts of one question are often spread over two sessions, or sit
in a reply that only makes sense after the turn before it (as in LoCoMo).

A story is one or more parts (each placed in its own session, in order) of turns said by the
subject (0) or the other speaker (1); a question names its evidence as (part, turn) pairs and may
ask for a date: ``{date}`` in its answer becomes the part's session date plus ``days``.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

MULTI_HOP, TEMPORAL, OPEN_DOMAIN, SINGLE_HOP = 1, 2, 3, 4


@dataclass
class QA:
    question: str
    answer: str
    evidence: list[tuple[int, int]]
    category: int
    when: tuple[int, int] | None = None  # (part, days from its session date) for "{date}" in the answer


@dataclass
class Story:
    parts: list[list[tuple[int, str]]]
    questions: list[QA] = field(default_factory=list)
    # LoCoMo's multi-hop questions are mostly lists gathered over sessions ("What activities does
    # Melanie do?"): the list a story's subject adds an item to, the item, and the turn that says it.
    items: list[tuple[str, str, tuple[int, int]]] = field(default_factory=list)


# The list questions asked of each speaker (synth_locomo.py), worded apart from their evidence.
LISTS = {"pastimes": "What does {s} do with her free time?",
         "setbacks": "What bits of bad luck has {s} had to deal with?"}


class Pools:
    """Slot values drawn without repeats within one conversation (so two stories never share a name)."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.used: set[str] = set()

    def pick(self, values: Sequence[object]) -> object:
        fresh = [v for v in values if str(v) not in self.used] or list(values)
        value = self.rng.choice(fresh)
        self.used.add(str(value))
        return value

    def one(self, values: Sequence[str]) -> str:
        return str(self.pick(values))

    def tup(self, values: Sequence[tuple[str, ...]]) -> tuple[str, ...]:
        value = self.pick(values)
        assert isinstance(value, tuple)
        return value


FRIENDS = ["Priya", "Beatriz", "Ingrid", "Hana", "Yusra", "Amara", "Noor", "Lucia", "Sunniva", "Clara", "Mei",
           "Rosa", "Greta", "Tamsin", "Odile", "Ayesha", "Marisol", "Freya", "Keiko", "Zainab"]
CITIES = ["Tucson", "Porto", "Glasgow", "Halifax", "Kyoto", "Valencia", "Tallinn", "Boulder", "Ghent", "Perth",
          "Bergen", "Oaxaca", "Leipzig", "Savannah", "Cork", "Trieste"]
BREEDS = [("beagle", "dog"), ("border collie", "dog"), ("dachshund", "dog"), ("greyhound", "dog"),
          ("Maine Coon", "cat"), ("tabby", "cat"), ("corgi", "dog"), ("Siamese", "cat")]
PET_NAMES = ["Pepper", "Biscuit", "Juniper", "Mochi", "Waffles", "Pip", "Clementine", "Otis", "Nutmeg", "Ziggy"]
CHEWED = ["my favourite sneakers", "the remote control", "a sofa cushion", "my reading glasses", "a library book"]
GIFTS = [("watercolour of a lighthouse", "artwork"), ("hand-thrown ceramic vase", "pottery"),
         ("knitted wool blanket", "throw"), ("vintage record player", "turntable"),
         ("framed print of the moon", "picture"), ("bonsai juniper", "little tree")]
TRIPS = [("Lisbon", "riding the old trams", "watching the sunset from the castle walls"),
         ("Iceland", "chasing waterfalls", "swimming in a hot spring while it snowed"),
         ("Marrakech", "getting lost in the souks", "a cooking class where we made tagine"),
         ("the Dolomites", "hut-to-hut hiking", "waking up above the clouds at the refuge"),
         ("Vancouver Island", "kayaking", "seeing orcas right next to the boat"),
         ("Seoul", "eating street food", "a night market that went on for blocks")]
COMPANIES = [("Halden Robotics", "junior engineer", "robot company"), ("Bluefern Press", "copy editor", "publisher"),
             ("Northgate Clinic", "practice manager", "clinic"), ("Tidewater Studios", "sound designer", "studio"),
             ("Larkspur Bank", "data analyst", "bank")]
HOBBIES = [("pottery", "I want something with my hands that isn't a screen"),
           ("salsa dancing", "my doctor told me to move more and I hate the gym"),
           ("life drawing", "I used to sketch as a teenager and really miss it"),
           ("rock climbing", "a coworker dragged me along once and I got hooked"),
           ("choir singing", "I sing in the shower anyway, might as well do it properly")]
INJURIES = [("ankle", "five-a-side football"), ("wrist", "bouldering"), ("knee", "a trail run"),
            ("shoulder", "badminton")]
BOOKS = [("The Salt Road", "Imogen Vale", "two sisters smuggling letters across a border"),
         ("Night Orchard", "Tomas Reyes", "a botanist who inherits a haunted greenhouse"),
         ("Ledger of Small Hours", "Ada Okafor", "a night-shift nurse solving a hospital theft"),
         ("A Map of Rain", "Soren Lund", "a mapmaker walking the length of Norway")]
ALLERGIES = [("shellfish", "seafood restaurant", "prawn curry"), ("peanuts", "Thai place", "satay noodles"),
             ("sesame", "Lebanese bistro", "hummus platter"), ("kiwi", "brunch cafe", "fruit salad")]
BANDS = [("The Lantern Club", "the Roundhouse", "Paper Boats"), ("Mira Sol", "the old theatre", "Cold Harbour"),
         ("Velvet Static", "the riverside arena", "Glass Summer"), ("The Orchard Kids", "a tiny pub", "Long Way Home")]
CARS = [("rusty old estate", "electric hatchback", "car"), ("ancient van", "second-hand pickup", "truck"),
        ("twenty-year-old saloon", "little hybrid", "car")]
NEIGHBOURHOODS = [("Eastfield", "a big bay window"), ("Millbrook", "a tiny garden with a fig tree"),
                  ("Harbourside", "a balcony over the water"), ("Oakhurst", "a wood-burning stove")]
RACES = [("city half marathon", "1:58"), ("harbour 10K", "52 minutes"), ("trail marathon", "4:41")]
FRIEND_JOBS = [("architect", "sketching class", "a podcast about old buildings"),
               ("paramedic", "Spanish class", "a sleep app"),
               ("beekeeper", "book club", "a honey shop downtown"),
               ("chef", "climbing gym", "a cast-iron pan")]
LOST = [("wallet", "night bus", "bus"), ("headphones", "tram", "tram"), ("umbrella", "ferry", "boat"),
        ("house keys", "train", "train")]
PLANTS = [("tomatoes", "finally ripening on the balcony"), ("sunflowers", "taller than me now"),
          ("basil", "growing like mad on the windowsill"), ("peonies", "about to open")]


def _rel(rng: random.Random) -> tuple[str, int, str]:
    """A relative time as said in a turn, its offset in days, and how the answer names it."""
    return rng.choice([("yesterday", -1, "{date}"), ("last weekend", 0, "the weekend before {date}"),
                       ("on Saturday", 0, "the Saturday before {date}"), ("last week", 0, "the week before {date}"),
                       ("this morning", 0, "{date}")])


def pet(r: random.Random, s: str, o: str, p: Pools) -> Story:
    breed, kind = p.tup(BREEDS)
    name, chewed = p.one(PET_NAMES), p.one(CHEWED)
    when, days, ans = _rel(r)
    young = "puppy" if kind == "dog" else "kitten"
    opener = r.choice([f"Guess what, we brought home a {breed} {young} {when}! She's called {name}.",
                       f"So {when} I finally adopted a {breed} from the shelter. Her name is {name}.",
                       f"Big news: there's a {breed} living with me now, I picked her up {when}. {name}!"])
    reply = r.choice([f"Oh I love that! How is {name} settling in?", "No way, congratulations! Is she behaving?",
                      "That's wonderful news. First nights are always chaos, how was it?"])
    return Story([[(0, opener), (1, reply), (0, f"She destroyed {chewed} on day one, but honestly she's a "
                                              f"sweetheart.")]], [
        QA(f"What breed is {s}'s new {'dog' if kind == 'dog' else 'cat'}?", breed, [(0, 0)], SINGLE_HOP),
        QA(f"What did {s}'s pet ruin shortly after arriving?", chewed, [(0, 2)], SINGLE_HOP),
        QA(f"When did {s} get {name}?", ans, [(0, 0)], TEMPORAL, (0, days)),
        QA(f"Is {s} more likely a cat person or a dog person?", f"{kind} person; she adopted a {breed}",
           [(0, 0)], OPEN_DOMAIN)])


def gift(r: random.Random, s: str, o: str, p: Pools) -> Story:
    friend, city = p.one(FRIENDS), p.one(CITIES)
    thing, para = p.tup(GIFTS)
    first = r.choice([f"{friend} surprised me with a {thing} for my birthday, it's in the hallway now.",
                      f"Look what {friend} made me for my birthday: a {thing}. I nearly cried."])
    later = r.choice([(1, f"How's {friend} doing these days?"), (1, f"Do you still hear from {friend}?")])
    move = r.choice([f"{friend} relocated to {city} in the spring, she loves it there.",
                     f"Good! {friend} packed everything up and moved to {city} for a fresh start."])
    return Story([[(0, first), (1, r.choice(["That's such a thoughtful present.", "Wow, what a gift!"]))],
                  [later, (0, move)]], [
        QA(f"In which city does the friend who gave {s} the {para} live now?", city, [(0, 0), (1, 1)], MULTI_HOP),
        QA(f"What birthday present did {s} get from {friend}?", thing, [(0, 0)], SINGLE_HOP)])


def trip(r: random.Random, s: str, o: str, p: Pools) -> Story:
    place, doing, best = p.tup(TRIPS)
    when, days, ans = _rel(r)
    first = r.choice([f"We got back from {place} {when}, a whole week of {doing}.",
                      f"I'm home, landed {when}! {place} was unreal, we spent most days {doing}."])
    ask = r.choice(["Jealous! What was the best bit?", "Okay tell me everything, what was the highlight?"])
    return Story([[(0, first), (1, ask), (0, f"Probably {best}. I still can't believe it.")]], [
        QA(f"Where did {s} go on holiday?", place, [(0, 0)], SINGLE_HOP),
        QA(f"What was {s}'s favourite moment of the {place} journey?", best, [(0, 2)], SINGLE_HOP),
        QA(f"When did {s} return from {place}?", ans, [(0, 0)], TEMPORAL, (0, days))],
        [("pastimes", f"travel ({place})", (0, 0))])


def job(r: random.Random, s: str, o: str, p: Pools) -> Story:
    company, role, kind = p.tup(COMPANIES)
    first = r.choice([f"I have an interview at {company} on Thursday, for a {role} position.",
                      f"Fingers crossed, {company} called me back about the {role} opening."])
    return Story([[(0, first), (1, "You'll smash it, you're made for that.")],
                  [(1, r.choice(["Any news from the interview?", "So did they get back to you?"])),
                   (0, "They offered it to me! I start on the first of the month.")]], [
        QA(f"What role did {s} apply for at the {kind}?", role, [(0, 0)], SINGLE_HOP),
        QA(f"Did {s} land the job at {company}, and when does it begin?", "yes; the first of the month",
           [(0, 0), (1, 1)], MULTI_HOP)])


def sibling(r: random.Random, s: str, o: str, p: Pools) -> Story:
    name, city = p.one(FRIENDS), p.one(CITIES)
    rel = "sister"
    spot = r.choice(["the botanical garden", "a jazz bar by the river", "the old cathedral", "a night market"])
    return Story([[(0, f"My {rel} {name} lives in {city}, we video call every Sunday."),
                   (1, "That's sweet, do you visit often?"), (0, "Not as much as I'd like, flights are pricey.")],
                  [(0, f"Spent the weekend with {name}! We ended up at {spot} till midnight."),
                   (1, "Sounds like the perfect catch-up.")]], [
        QA(f"Where does {s}'s {rel} live?", city, [(0, 0)], SINGLE_HOP),
        QA(f"Which place did {s} go to in the city where the {rel} lives?", spot, [(0, 0), (1, 0)], MULTI_HOP)])


def hobby(r: random.Random, s: str, o: str, p: Pools) -> Story:
    what, why = p.tup(HOBBIES)
    return Story([[(0, r.choice([f"I signed up for {what} at the community centre, Tuesday evenings.",
                                 f"New thing: {what} lessons every Tuesday after work."])),
                   (1, "Oh fun, what made you pick that?"), (0, f"Honestly, {why}.")]], [
        QA(f"What weekly class has {s} joined?", what, [(0, 0)], SINGLE_HOP),
        QA(f"Why did {s} take up the new pastime?", why, [(0, 2)], SINGLE_HOP),
        QA(f"Would {s} enjoy a weekend workshop related to {what.split()[0]}?", f"yes, she takes {what} classes",
           [(0, 0)], OPEN_DOMAIN)],
        [("pastimes", f"{what} classes", (0, 0))])


def injury(r: random.Random, s: str, o: str, p: Pools) -> Story:
    part, sport = p.tup(INJURIES)
    when, days, ans = _rel(r)
    return Story([[(0, f"I sprained my {part} {when} playing {sport}."), (1, "Ouch! Are you okay?"),
                   (0, "The physio says six weeks of rest, which is torture.")]], [
        QA(f"Which body part did {s} hurt?", part, [(0, 0)], SINGLE_HOP),
        QA(f"How long does {s} have to recover according to the physiotherapist?", "six weeks", [(0, 2)],
           SINGLE_HOP),
        QA(f"When did {s} get injured?", ans, [(0, 0)], TEMPORAL, (0, days))],
        [("setbacks", f"a sprained {part}", (0, 0)), ("pastimes", sport, (0, 0))])


def book(r: random.Random, s: str, o: str, p: Pools) -> Story:
    title, author, plot = p.tup(BOOKS)
    return Story([[(0, f"Just finished '{title}' by {author}, couldn't put it down."),
                   (1, "What's it about?"), (0, f"It's about {plot}. Gorgeous writing.")]], [
        QA(f"Which novel did {s} devour recently?", title, [(0, 0)], SINGLE_HOP),
        QA(f"What is the plot of the book {s} recommended?", plot, [(0, 2)], SINGLE_HOP),
        QA(f"Who is the author of the book {s} couldn't stop reading?", author, [(0, 0)], SINGLE_HOP)],
        [("pastimes", "reading", (0, 0))])


def allergy(r: random.Random, s: str, o: str, p: Pools) -> Story:
    food, place, dish = p.tup(ALLERGIES)
    return Story([[(0, f"Turns out I'm allergic to {food}. Found out the hard way at a {place}."),
                   (1, "Scary! Did you have to go to hospital?"), (0, "Just a long night and a lot of antihistamines.")]], [
        QA(f"What food must {s} avoid?", food, [(0, 0)], SINGLE_HOP),
        QA(f"Would it be a good idea to cook {dish} for {s}?", f"no, she is allergic to {food}", [(0, 0)],
           OPEN_DOMAIN)],
        [("setbacks", f"an allergic reaction to {food}", (0, 0))])


def concert(r: random.Random, s: str, o: str, p: Pools) -> Story:
    band, venue, song = p.tup(BANDS)
    when, days, ans = _rel(r)
    return Story([[(0, f"Saw {band} at {venue} {when}!"), (1, "Amazing, was it loud?"),
                   (0, f"My ears are still ringing. They closed with '{song}' and everyone sang along.")]], [
        QA(f"Which song ended the gig {s} went to?", song, [(0, 2)], SINGLE_HOP),
        QA(f"When did {s} see {band} live?", ans, [(0, 0)], TEMPORAL, (0, days))],
        [("pastimes", "concerts", (0, 0))])


def move(r: random.Random, s: str, o: str, p: Pools) -> Story:
    area, feature = p.tup(NEIGHBOURHOODS)
    return Story([[(0, f"We signed the lease! Moving to {area} at the end of the month."),
                   (1, "Finally! Packing is the worst though.")],
                  [(1, "How's the new flat?"), (0, f"Love it. It has {feature}, I sit there every evening.")]], [
        QA(f"What does {s}'s home in {area} have that {s} loves?", feature, [(0, 0), (1, 1)], MULTI_HOP),
        QA(f"Which neighbourhood did {s} relocate to?", area, [(0, 0)], SINGLE_HOP)])


def car(r: random.Random, s: str, o: str, p: Pools) -> Story:
    old, new, kind = p.tup(CARS)
    return Story([[(0, f"My {old} finally gave up on the motorway, so I bought a {new}."),
                   (1, "RIP. How does the new one drive?"), (0, "Smooth and quiet, I keep forgetting it's on.")]], [
        QA(f"What vehicle does {s} drive now?", new, [(0, 0)], SINGLE_HOP),
        QA(f"Why did {s} replace the old {kind}?", "it broke down on the motorway", [(0, 0)], SINGLE_HOP)],
        [("setbacks", f"her {old} broke down", (0, 0))])


def race(r: random.Random, s: str, o: str, p: Pools) -> Story:
    name, time_ = p.tup(RACES)
    return Story([[(0, f"I've started training for the {name}. Four runs a week, send help."),
                   (1, "You can do it!")],
                  [(0, f"I did it! Finished the {name} in {time_}."), (1, "That's a great time, congrats!")]], [
        QA(f"What was {s}'s finishing time in the running event?", time_, [(1, 0)], SINGLE_HOP),
        QA(f"When did {s} complete the {name}?", "{date}", [(1, 0)], TEMPORAL, (1, 0)),
        QA(f"How often was {s} training before the race, and what time did {s} finish in?",
           f"four runs a week; {time_}", [(0, 0), (1, 0)], MULTI_HOP)],
        [("pastimes", "running", (0, 0))])


def new_friend(r: random.Random, s: str, o: str, p: Pools) -> Story:
    name = p.one(FRIENDS)
    work, where, tip = p.tup(FRIEND_JOBS)
    return Story([[(0, f"I met someone lovely at my {where}, {name}. She works as a {work}."),
                   (1, "Making friends as an adult is hard, good for you.")],
                  [(0, f"{name} recommended {tip} and I'm obsessed."), (1, "Ha, you'll have to show me.")]], [
        QA(f"What did the {work} {s} met at the {where.split()[0]} class recommend?", tip, [(0, 0), (1, 0)],
           MULTI_HOP),
        QA(f"What does {name} do for a living?", work, [(0, 0)], SINGLE_HOP)])


def lost(r: random.Random, s: str, o: str, p: Pools) -> Story:
    item, place, para = p.tup(LOST)
    return Story([[(0, f"I left my {item} on the {place} yesterday. Idiot."), (1, "Oh no, did you call them?"),
                   (0, "Yes, and someone had handed it in! Faith in humanity restored.")]], [
        QA(f"What did {s} misplace while commuting?", item, [(0, 0)], SINGLE_HOP),
        QA(f"Did {s} recover the lost {item}?", "yes, someone handed it in", [(0, 2)], SINGLE_HOP)],
        [("setbacks", f"she lost her {item}", (0, 0))])


def plants(r: random.Random, s: str, o: str, p: Pools) -> Story:
    plant, state = p.tup(PLANTS)
    return Story([[(0, f"My {plant} are {state}."), (1, "Green fingers! Send pictures.")]], [
        QA(f"What is {s} growing at home?", plant, [(0, 0)], SINGLE_HOP),
        QA(f"Does {s} seem to enjoy gardening?", f"yes, she grows {plant}", [(0, 0)], OPEN_DOMAIN)],
        [("pastimes", "gardening", (0, 0))])


def flying(r: random.Random, s: str, o: str, p: Pools) -> Story:
    return Story([[(0, "Planes make me so anxious, I'll take a twelve-hour train over a two-hour flight."),
                   (1, "Same actually, the turbulence gets me.")]], [
        QA(f"Would {s} rather go on a road trip or fly abroad for a holiday?",
           "a road trip; flying makes her anxious", [(0, 0)], OPEN_DOMAIN)])


def volunteer(r: random.Random, s: str, o: str, p: Pools) -> Story:
    place = r.choice(["food bank", "animal shelter", "homeless shelter", "hospice"])
    return Story([[(0, f"I've been volunteering at the {place} on Sundays, sorting donations."),
                   (1, "That's really kind of you.")],
                  [(0, "Helping people is what keeps me sane honestly, more than my actual job."),
                   (1, "Maybe that's a sign?")]], [
        QA(f"Where does {s} give her time for free?", place, [(0, 0)], SINGLE_HOP),
        QA(f"Might {s} consider a career in charity work?", "likely yes; she volunteers and finds helping "
           "people more fulfilling than her job", [(0, 0), (1, 0)], OPEN_DOMAIN)],
        [("pastimes", f"volunteering at the {place}", (0, 0))])


STORIES: list[Callable[[random.Random, str, str, Pools], Story]] = [
    pet, gift, trip, job, sibling, hobby, injury, book, allergy, concert, move, car, race, new_friend, lost,
    plants, flying, volunteer]
