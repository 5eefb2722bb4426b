"""A person's notes, made from a seed: ~500 short notes (not dialogue) and queries with their gold notes.

Why a second style: the LoCoMo-format set is two people talking, where every note opens with a
speaker's name and much is small talk; a person's own notes are terse, full of names, numbers and
shorthand ("Dr Okafor - Tue 3pm, bring referral"), and recall must hold there too. The notes come in
families that share words (several people with birthdays, several recipes, several boiler and car
notes), so a query has near misses to beat; each query asks in other words than its note ("what
flowers does my sister like" for "Lena (sister): loves orchids"). Some queries need two notes.
Deterministic: the same seed writes the same file; no network, no model.

    python -m memory_core.bench.synth_notes [--seed 25] [--out memory_core/bench/data/synth_notes.json]
"""

from __future__ import annotations

import argparse
import json
import random
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

DEFAULT_OUT = Path(__file__).parent / "data" / "synth_notes.json"

PEOPLE = [("Lena", "sister"), ("Tomasz", "brother-in-law"), ("Aunt Judith", "aunt"), ("Priya", "colleague"),
          ("Marcus", "neighbour"), ("Grandad Ron", "grandfather"), ("Sanne", "best friend"), ("Ibrahim", "boss"),
          ("Colette", "godmother"), ("Dev", "cousin"), ("Ruth", "landlady"), ("Kenji", "climbing partner"),
          ("Aoife", "old flatmate"), ("Walt", "piano teacher"), ("Birgit", "mother-in-law")]
LIKES = [("orchids", "flowers"), ("dark chocolate with sea salt", "sweets"), ("jazz vinyl", "music"),
         ("single malt whisky", "drinks"), ("crime novels", "books"), ("succulents", "plants"),
         ("silk scarves", "clothes"), ("board games", "games"), ("Earl Grey tea", "tea"), ("fountain pens", "stationery"),
         ("lavender soap", "toiletries"), ("puzzles", "hobbies"), ("olive oil from Crete", "food"),
         ("hiking socks", "outdoor gear"), ("Polaroid film", "photography")]
MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
          "November", "December"]
RECIPES = [("Red lentil dal", "lentils, cumin, turmeric, coconut milk", "25 min", "curry"),
           ("Shakshuka", "eggs, peppers, tinned tomatoes, paprika", "20 min", "eggs in tomato sauce"),
           ("Banana bread", "3 overripe bananas, brown sugar, walnuts", "1 hour at 175C", "loaf"),
           ("Mushroom risotto", "arborio, porcini, parmesan, white wine", "35 min", "rice dish"),
           ("Chilli con carne", "mince, kidney beans, cumin, dark chocolate", "2 hours", "stew"),
           ("Miso salmon", "salmon fillets, white miso, mirin, honey", "15 min under the grill", "fish"),
           ("Pea and mint soup", "frozen peas, mint, stock, creme fraiche", "15 min", "green soup"),
           ("Focaccia", "strong flour, olive oil, rosemary, sea salt", "overnight rise", "flatbread")]
HOME = [("Boiler shows E119", "pressure too low - open the grey valve underneath until the gauge reads 1.5 bar",
         "heating error"),
        ("Wifi dropping", "unplug router 30s; if not back, call ISP 0800 123 456, account 77812",
         "internet keeps cutting out"),
        ("Kitchen tap drips", "washer size 1/2 inch, stopcock is under the sink behind the bleach",
         "leaking faucet"),
        ("Smoke alarm chirping", "needs a 9V battery, the spare ones are in the hall drawer",
         "beeping detector"),
        ("Bin day", "general waste Tuesday, recycling every other Friday", "rubbish collection"),
        ("Meter readings", "gas 04512, electric 88213 taken 1st of month", "energy usage numbers"),
        ("Dishwasher error F7", "clean the filter at the bottom and check the drain hose for kinks",
         "dish machine fault"),
        ("Garage door stuck", "reset the opener: hold the learn button 6 seconds", "roller door not opening")]
WORK = [("Q3 planning", "budget cut 10%, hiring freeze until November", "spending reduction"),
        ("1:1 with Ibrahim", "promotion case goes to panel in March; need two more stakeholder letters",
         "career progression"),
        ("Vendor call - Stratus", "contract renewal at 8% increase, ask for 3-year lock", "supplier price rise"),
        ("Retro sprint 14", "deploys too slow; agreed to split the monorepo pipeline", "release speed"),
        ("Offsite ideas", "Lake District, late September, max 25 people", "team away day"),
        ("Security audit", "rotate API keys by the 30th, enable MFA on the admin console", "compliance tasks"),
        ("Onboarding Priya", "laptop Monday, buddy is Kenji, access to the data warehouse", "new starter setup")]
HEALTH = [("Ibuprofen upsets my stomach", "take paracetamol instead", "painkiller side effects"),
          ("Physio exercises", "calf raises 3x15, wall sits 3x30s, every morning", "knee rehab routine"),
          ("Dentist - Dr Okafor", "cleaning every six months, next one in April", "teeth appointment"),
          ("Blood test results", "vitamin D low, 1000 IU daily over winter", "supplement advice"),
          ("Hay fever", "start cetirizine mid-May before the grass pollen peaks", "allergy season plan"),
          ("Eye test", "prescription -1.75 left, -2.0 right, renew glasses next year", "glasses strength")]
TRAVEL = [("Passport", "expires 14 June 2027, number in the blue folder", "travel document expiry"),
          ("Porto trip", "flight TP1353, seat 14C, hotel on Rua das Flores", "Portugal holiday booking"),
          ("Car MOT", "due 3 September, garage on Mill Lane does it for 45", "vehicle inspection"),
          ("Tyre pressure", "2.3 bar front, 2.1 rear, check monthly", "wheels inflation"),
          ("Train pass", "renews on the 12th, photocard expires in August", "commuter ticket"),
          ("Camping checklist", "stove gas, head torches, midge spray, spare tent pegs", "what to pack outdoors")]
BOOKS = [("Night Orchard", "4/5 - slow middle, stunning ending"), ("The Salt Road", "3/5 - too long"),
         ("Ledger of Small Hours", "5/5 - lent to Sanne"), ("A Map of Rain", "4/5 - made me want to walk Norway"),
         ("Quiet Engines", "2/5 - gave up at page 90"), ("The Glass Ferry", "5/5 - reread every winter")]
FILLER = ["Buy milk, eggs, bin bags", "Remember to water the balcony plants", "Idea: a podcast about old maps",
          "Call back the bank about the letter", "Look up evening pottery classes", "Return the library books",
          "Quote: 'Slow is smooth, smooth is fast'", "Cancel the streaming trial before the 20th",
          "Sort photos from the summer", "Email the school about the trip form", "Try the new bakery on the corner",
          "Fix the wobbly chair leg", "Book haircut", "Renew the parking permit", "Back up the laptop",
          "Clear out the freezer", "Charity shop run: old coats", "Check the loft for the Christmas lights",
          "Write thank-you card", "Replace the hallway bulb", "Order printer ink", "Weed the front path",
          "Ask about the gym's off-peak price", "Send the invoice for the March work", "Pay the window cleaner"]


def _date(rng: random.Random) -> str:
    day = datetime(2025, 1, 1) + timedelta(days=rng.randint(0, 364), minutes=rng.randint(420, 1380))
    return day.isoformat(timespec="minutes")


def generate(seed: int = 25) -> dict[str, Any]:
    """The notes (id, text, date) and the queries (text, gold note ids, kind)."""
    rng = random.Random(seed)
    notes: list[dict[str, str]] = []
    queries: list[dict[str, Any]] = []

    def add(text: str) -> str:
        nid = f"n{len(notes) + 1:03d}"
        notes.append({"id": nid, "text": text, "date": _date(rng)})
        return nid

    likes = rng.sample(LIKES, len(PEOPLE))
    for (name, rel), (thing, kind) in zip(PEOPLE, likes):
        month, day = rng.choice(MONTHS), rng.randint(1, 28)
        b = add(rng.choice([f"{name} ({rel}) - birthday {day} {month}", f"{name}'s bday: {month} {day}",
                            f"{day} {month}: {name} birthday, {rel}"]))
        lk = add(rng.choice([f"{name} loves {thing}", f"Gift idea for {name}: {thing}",
                             f"{name} mentioned she's into {thing} lately"]))
        add(f"{name} (my {rel}) - {rng.choice(['new number', 'moved house', 'back from holiday', 'new job'])}, "
            f"{rng.choice(['ring her', 'catch up', 'meet for coffee'])} soon")
        hop = "" if rel in notes[-3]["text"] else "-hop"  # the relation only in the third note: a second step
        queries.append({"query": f"when should I send my {rel} a card", "gold": [b], "kind": "person" + hop})
        queries.append({"query": f"what {kind} would my {rel} like as a present", "gold": [lk],
                        "kind": "person-hop"})
        if rng.random() < 0.5:
            queries.append({"query": f"present for {name.split()[-1]}'s birthday - what and when", "gold": [b, lk],
                            "kind": "two-notes"})
    for title, items, time_, para in RECIPES:
        r = add(f"{title}: {items}. {time_}.")
        add(f"{title} - {rng.choice(['double the spice next time', 'kids hated it', 'freezes well', 'use less salt'])}")
        queries.append({"query": f"how long does the {para} take to make", "gold": [r], "kind": "recipe"})
        queries.append({"query": f"ingredients for that {para} I like", "gold": [r], "kind": "recipe"})
    for group, kind in ((HOME, "home"), (WORK, "work"), (HEALTH, "health"), (TRAVEL, "travel")):
        for title, body, para in group:
            n = add(f"{title}: {body}")
            asks = rng.sample([f"what did I write about the {para}", f"{para}?", f"notes on {para}",
                               f"remind me about the {para}"], 2)
            queries.extend({"query": ask, "gold": [n], "kind": kind} for ask in asks)
    for title, verdict in BOOKS:
        n = add(f"Read: {title} - {verdict}")
        queries.append({"query": f"what did I think of {title}", "gold": [n], "kind": "book"})
    target = 500
    while len(notes) < target:
        text = rng.choice(FILLER)
        if rng.random() < 0.5:
            text += rng.choice([" (urgent)", " this week", " before Friday", " - done?", " when it's dry",
                                f" - ask {rng.choice(PEOPLE)[0]}"])
        add(text)
    rng.shuffle(notes)
    return {"name": "memex-synth-notes-v1", "seed": seed, "notes": notes, "queries": queries}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seed", type=int, default=25)
    parser.add_argument("--out", default=str(DEFAULT_OUT))
    args = parser.parse_args(argv)
    data = generate(args.seed)
    Path(args.out).write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {args.out}: {len(data['notes'])} notes, {len(data['queries'])} queries")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
