"""A small English clause grammar for minimal pairs (used by ``make_texts.py``).

A clause is ``subject + verb + complement`` from one topic. :func:`render` writes it
with chosen grammatical features, so two renderings that differ in one feature
(tense, number, negation, sentence type) are a minimal pair:

>>> c = Clause("food", ("the chef", "the chefs"), VERBS["bake"], "bread for the market")
>>> render(c, dict(tense="past", number="singular", negation="negated", sentence_type="statement",
...                aspect="simple", form="contracted", adverbial="", wh=""))
"The chef didn't bake bread for the market."
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

CONCEPT_VALUES = {
    "tense": ("present", "past"),
    "number": ("singular", "plural"),
    "negation": ("affirmative", "negated"),
    "sentence_type": ("statement", "question"),
}

# the features written to the CSV columns (the others only vary the surface form)
RECORDED = ("tense", "number", "negation", "sentence_type", "aspect")

# base, third person singular, past, past participle, -ing
_VERB_FORMS = """
bake bakes baked baked baking | chop chops chopped chopped chopping | taste tastes tasted tasted tasting
cook cooks cooked cooked cooking | fry fries fried fried frying | peel peels peeled peeled peeling
grill grills grilled grilled grilling | stir stirs stirred stirred stirring | eat eats ate eaten eating
brew brews brewed brewed brewing | serve serves served served serving | buy buys bought bought buying
kick kicks kicked kicked kicking | run runs ran run running | score scores scored scored scoring
train trains trained trained training | swim swims swam swum swimming | lift lifts lifted lifted lifting
throw throws threw thrown throwing | win wins won won winning | miss misses missed missed missing
ride rides rode ridden riding | catch catches caught caught catching | coach coaches coached coached coaching
play plays played played playing | tune tunes tuned tuned tuning | sing sings sang sung singing
write writes wrote written writing | practise practises practised practised practising
record records recorded recorded recording | hum hums hummed hummed humming | read reads read read reading
rehearse rehearses rehearsed rehearsed rehearsing | fix fixes fixed fixed fixing
restart restarts restarted restarted restarting | update updates updated updated updating
test tests tested tested testing | install installs installed installed installing
back backs backed backed backing | reset resets reset reset resetting | debug debugs debugged debugged debugging
charge charges charged charged charging | pack packs packed packed packing | book books booked booked booking
check checks checked checked checking | hike hikes hiked hiked hiking | visit visits visited visited visiting
sail sails sailed sailed sailing | rent rents rented rented renting | take takes took taken taking
print prints printed printed printing | plan plans planned planned planning | teach teaches taught taught teaching
"""
VERBS = {forms.split()[0]: tuple(forms.split()) for forms in _VERB_FORMS.replace("\n", " | ").split("|") if forms.strip()}

# subjects as (singular, plural); the people of one topic, then people who fit any topic
_SUBJECTS = {
    "food": [("the chef", "the chefs"), ("the baker", "the bakers"), ("the waiter", "the waiters"),
             ("that cook", "those cooks")],
    "sport": [("the striker", "the strikers"), ("the coach", "the coaches"), ("this athlete", "these athletes"),
              ("the goalkeeper", "the goalkeepers")],
    "music": [("the violinist", "the violinists"), ("the singer", "the singers"), ("this drummer", "these drummers"),
              ("the pianist", "the pianists")],
    "technology": [("the engineer", "the engineers"), ("the programmer", "the programmers"),
                   ("this technician", "these technicians"), ("the developer", "the developers")],
    "travel": [("the tourist", "the tourists"), ("the backpacker", "the backpackers"), ("our guide", "our guides"),
               ("that traveller", "those travellers")],
}
_PEOPLE = [("my neighbour", "my neighbours"), ("the student", "the students"), ("the woman", "the women"),
           ("that man", "those men"), ("my cousin", "my cousins"), ("the child", "the children"),
           ("our teacher", "our teachers"), ("my sister", "my sisters")]

# (verb, complement) per topic
_PREDICATES = {
    "food": [("bake", "bread for the market"), ("chop", "onions for the soup"), ("taste", "the tomato sauce"),
             ("cook", "rice for dinner"), ("fry", "eggs in butter"), ("peel", "potatoes in the kitchen"),
             ("grill", "fish on the barbecue"), ("stir", "the soup slowly"), ("eat", "noodles at the stall"),
             ("brew", "coffee for the guests"), ("serve", "dessert to the table"), ("buy", "fresh herbs at the market")],
    "sport": [("kick", "the ball into the net"), ("run", "ten laps around the track"),
              ("score", "a goal in the second half"), ("train", "with the team"), ("swim", "forty lengths of the pool"),
              ("lift", "weights at the gym"), ("throw", "the javelin"), ("win", "the race"),
              ("miss", "the penalty"), ("ride", "a bike up the hill"), ("catch", "the ball near the line"),
              ("coach", "the junior squad")],
    "music": [("play", "the violin in the orchestra"), ("tune", "the guitar before the show"),
              ("sing", "in the choir"), ("write", "a song about the sea"), ("practise", "scales on the piano"),
              ("record", "an album in the studio"), ("hum", "the melody"), ("read", "the sheet music"),
              ("rehearse", "the second movement"), ("play", "the drums in a band"), ("sing", "the chorus twice"),
              ("teach", "the children a folk song")],
    "technology": [("fix", "the bug in the code"), ("restart", "the server"), ("update", "the software"),
                   ("write", "a script in Python"), ("test", "the new app"), ("install", "the printer driver"),
                   ("back", "up the files"), ("reset", "the password"), ("debug", "the website"),
                   ("charge", "the laptop"), ("read", "the error logs"), ("plan", "the database migration")],
    "travel": [("pack", "a suitcase for the trip"), ("book", "a flight to Lisbon"), ("catch", "the early train"),
               ("check", "into the hotel"), ("hike", "along the coast"), ("buy", "a map at the station"),
               ("visit", "the old castle"), ("sail", "across the bay"), ("rent", "a car at the airport"),
               ("print", "the boarding passes"), ("take", "photos of the harbour"), ("plan", "a route through the mountains")],
}
TOPICS = tuple(_PREDICATES)
# adverbials that fit either tense, so tense is marked by the verb alone
_ADVERBIALS = ["after lunch", "in the morning", "with great care", "at the weekend", "quietly",
               "without any help", "in a hurry"]
NOT_CLITIC = "n't"
_WH = ["why", "when", "how often", "where"]
_BE = {("present", "singular"): "is", ("present", "plural"): "are",
       ("past", "singular"): "was", ("past", "plural"): "were"}
_HAVE = {("present", "singular"): "has", ("present", "plural"): "have", ("past", "singular"): "had",
         ("past", "plural"): "had"}
_DO = {("present", "singular"): "does", ("present", "plural"): "do", ("past", "singular"): "did",
       ("past", "plural"): "did"}


@dataclass(frozen=True)
class Clause:
    topic: str
    subject: tuple  # (singular, plural)
    verb: tuple     # (base, 3sg, past, participle, -ing)
    complement: str


def _pick(rng, seq):
    return seq[int(rng.integers(len(seq)))]


def random_clause(rng: np.random.Generator, topic: str | None = None) -> Clause:
    """A clause from ``topic`` (random topic if None); the subject is a topic person 60% of the time."""
    topic = topic or _pick(rng, TOPICS)
    subject = _pick(rng, _SUBJECTS[topic] if rng.random() < 0.6 else _PEOPLE)
    verb, complement = _pick(rng, _PREDICATES[topic])
    return Clause(topic, subject, VERBS[verb], complement)


def random_features(rng: np.random.Generator) -> dict:
    """Grammatical features: the four concepts plus aspect, negation form, adverbial and wh-word."""
    return {
        "tense": _pick(rng, CONCEPT_VALUES["tense"]),
        "number": _pick(rng, CONCEPT_VALUES["number"]),
        "negation": "negated" if rng.random() < 0.3 else "affirmative",
        "sentence_type": "question" if rng.random() < 0.3 else "statement",
        "aspect": str(rng.choice(["simple", "progressive", "perfect"], p=[0.6, 0.25, 0.15])),
        "form": _pick(rng, ["full", "contracted", "never"]),
        "adverbial": _pick(rng, _ADVERBIALS) if rng.random() < 0.35 else "",
        "wh": _pick(rng, _WH) if rng.random() < 0.4 else "",
    }


def _finite(clause: Clause, f: dict) -> str:
    """The simple-aspect finite verb: past, third person singular present, or base."""
    base, third, past = clause.verb[:3]
    return past if f["tense"] == "past" else third if f["number"] == "singular" else base


def _verb_group(clause: Clause, f: dict) -> tuple[str, str]:
    """(auxiliary or "", rest of the verb group) for the clause's tense, number, aspect and polarity."""
    key = (f["tense"], f["number"])
    if f["aspect"] == "progressive":
        return _BE[key], clause.verb[4]
    if f["aspect"] == "perfect":
        return _HAVE[key], clause.verb[3]
    if f["negation"] == "negated" or f["sentence_type"] == "question":
        return _DO[key], clause.verb[0]
    return "", _finite(clause, f)


def render(clause: Clause, f: dict) -> str:
    """The clause as a sentence with features ``f`` (see :func:`random_features`).

    Questions are yes/no or wh-questions with auxiliary inversion; negation is
    "not", "n't" or "never" (``f["form"]``; questions always use "n't").
    """
    subject = clause.subject[f["number"] == "plural"]
    aux, verb = _verb_group(clause, f)
    tail = " ".join(x for x in (clause.complement, f["adverbial"]) if x)
    negated = f["negation"] == "negated"
    if f["sentence_type"] == "question":
        wh = f"{f['wh']} " if f["wh"] else ""
        text = f"{wh}{aux}{NOT_CLITIC if negated else ''} {subject} {verb} {tail}?"
    elif negated and f["form"] == "never":
        group = f"never {_finite(clause, f)}" if f["aspect"] == "simple" else f"{aux} never {verb}"
        text = f"{subject} {group} {tail}."
    elif negated:
        text = f"{subject} {aux}{NOT_CLITIC if f['form'] == 'contracted' else ' not'} {verb} {tail}."
    else:
        text = f"{subject} {' '.join(x for x in (aux, verb) if x)} {tail}."
    return text[0].upper() + text[1:]
