"""Hand-written frames and topic vocabularies for the sentiment datasets (used by ``make_texts.py``).

A :class:`Frame` is a sentence pattern with slots; :func:`render` fills it for one label
(positive/negative), topic and tense from a vector of uniform draws ``u`` (:func:`draw`).
Rendering the same ``u`` with another label or tense changes only the label- or
tense-bearing words, which is how ``sentiment_tense`` gets matched quadruples.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

LABELS = ("positive", "negative")


@dataclass(frozen=True)
class Topic:
    nouns: str          # comma separated; "noodles:pl" plural, "weather:mass" uncountable, "nurse:he" a person
    adj: tuple          # (positive adjectives, negative adjectives), comma separated
    vp: tuple           # (positive, negative) past-tense verb phrases, ";" separated
    dets: str = "the, the, this, that, our"


TOPICS = {
    "food": Topic("soup, pasta, curry, bread:mass, noodles:pl, coffee:mass, salad, pizza, dessert, cake, breakfast, "
                  "tacos:pl, sandwich, dumplings:pl",
                  ("delicious, tasty, fresh, flavourful, satisfying, perfectly seasoned",
                   "bland, stale, greasy, soggy, tasteless, overcooked"),
                  ("arrived hot and fresh; tasted like home cooking; disappeared within minutes; "
                   "came in generous portions",
                   "tasted of nothing; arrived cold and soggy; gave me a stomach ache; sat in the fridge uneaten")),
    "film": Topic("film, movie, sequel, documentary, ending, script, soundtrack, cast, series, plot, "
                  "performances:pl, special effects:pl, dialogue:mass",
                  ("gripping, moving, brilliant, hilarious, clever, beautifully shot",
                   "dull, predictable, confusing, clumsy, forgettable, far too long"),
                  ("kept me on the edge of my seat; made the whole audience laugh; stayed with me for days; "
                   "earned a standing ovation",
                   "put me to sleep; dragged on forever; made no sense at all; had people walking out early")),
    "travel": Topic("hotel, flight, beach, train journey, city, room, tour, resort, campsite, view, beaches:pl, "
                    "old town, guesthouse",
                    ("relaxing, stunning, spotless, peaceful, charming, well organised",
                     "crowded, dirty, noisy, overpriced, exhausting, chaotic"),
                    ("felt like a dream; made the whole trip worthwhile; ran exactly to plan; took our breath away",
                     "left us stranded for hours; smelled of damp; ruined the holiday; "
                     "cost twice what was advertised")),
    "product": Topic("phone, laptop, blender, vacuum cleaner, headphones:pl, shoes:pl, jacket, kettle, camera, "
                     "office chair, backpack, charger, watch",
                     ("sturdy, reliable, comfortable, well made, good value, easy to use",
                      "flimsy, unreliable, uncomfortable, cheaply made, overpriced, hard to use"),
                     ("worked perfectly from day one; survived a fall without a scratch; arrived a day early; "
                      "lasted for years",
                      "broke after a week; stopped working within a month; fell apart within days; "
                      "arrived scratched and dented"),
                     dets="the, the, this, my, the new, our"),
    "work": Topic("meeting, project, office, team, deadline, training course, colleagues:pl, shift, commute, "
                  "interview, performance review, workshop, new manager:she",
                  ("productive, supportive, well run, inspiring, rewarding, friendly",
                   "pointless, stressful, disorganised, exhausting, chaotic, unfair"),
                  ("finished early for once; gave everyone a clear plan; made the week feel easy; got real work done",
                   "ran two hours over; left everyone confused; wasted the whole afternoon; "
                   "ended in a shouting match"),
                  dets="the, the, this, our, my"),
    "weather": Topic("weather:mass, morning, afternoon, weekend, day, sky, summer, evening, forecast, spring",
                     ("sunny, warm, glorious, mild, bright, lovely",
                      "gloomy, freezing, miserable, grey, wet, stormy"),
                     ("let us eat outside; brought everyone out into the park; lifted everyone's mood; "
                      "stayed dry and warm",
                      "soaked us to the skin; kept everyone indoors; ruined our picnic; turned the roads to ice"),
                     dets="the, the, this"),
    "sport": Topic("match, game, race, final, team, coach:he, referee:she, players:pl, season, training session, defence, "
                   "tournament",
                   ("thrilling, impressive, skilful, exciting, well fought, fast-paced",
                    "sloppy, boring, one-sided, slow, careless, scrappy"),
                   ("won in the final minute; fought back brilliantly; broke the club record; "
                    "kept the crowd on its feet",
                    "lost without a fight; gave the ball away constantly; fell apart in the second half; "
                    "bored the crowd into silence")),
    "music": Topic("album, concert, song, band, singer:she, playlist, gig, chorus, lyrics:pl, orchestra, new single, "
                   "festival, drummer:he",
                   ("catchy, soulful, beautiful, powerful, uplifting, energetic",
                    "tuneless, repetitive, flat, grating, lifeless, shrill"),
                   ("gave me chills; had the whole crowd singing; got stuck in my head all day; brought me to tears",
                    "sounded like noise; hurt my ears; sent half the audience home early; put me in a bad mood")),
    "service": Topic("waiter:he, staff:pl, support team, delivery, receptionist:she, customer service:mass, hairdresser:she, "
                     "plumber:he, booking process, refund, help desk, courier:he",
                     ("helpful, polite, quick, attentive, professional, friendly",
                      "rude, slow, careless, unhelpful, dismissive, unprofessional"),
                     ("solved my problem in minutes; went the extra mile; arrived early; sorted everything out",
                      "ignored my emails for weeks; lost my parcel; kept me waiting for an hour; hung up on me")),
    "health": Topic("doctor:she, clinic, new diet, physiotherapy:mass, treatment, nurse:he, check-up, medicine:mass, "
                    "gym routine, dentist:he, yoga class, therapist:she",
                    ("effective, reassuring, gentle, thorough, caring, calming",
                     "unpleasant, useless, rushed, worrying, ineffective, careless"),
                    ("cleared up my back pain; made me feel like new; put my mind at ease; "
                     "helped me sleep through the night",
                     "made the pain worse; left me feeling awful; did nothing for my headaches; kept me up at night")),
    "software": Topic("app, update, website, software:mass, new version, editor, interface, search feature, "
                      "installer, browser, plugin, operating system, settings menu",
                      ("fast, intuitive, stable, responsive, polished, clean",
                       "buggy, sluggish, confusing, unstable, bloated, clunky"),
                      ("installed in seconds; never crashed once; saved me hours of work; "
                       "ran smoothly on my old laptop",
                       "crashed three times before lunch; deleted my files; froze every few minutes; "
                       "drained my battery by noon")),
    "books": Topic("novel, book, biography, chapter, story, ending, poem, cookbook, characters:pl, plot, memoir",
                   ("gripping, witty, moving, beautifully written, insightful, charming",
                    "tedious, shallow, clumsy, badly written, predictable, dreary"),
                   ("kept me up all night; made me cry on the train; changed how I see the world; "
                    "flew by in an afternoon",
                    "took forever to get going; went nowhere; lost me after ten pages; ended up in the charity box")),
    "home": Topic("flat, neighbourhood, neighbours:pl, landlord:he, kitchen, garden, new house, street, building, "
                  "heating:mass, bathroom, balcony",
                  ("cosy, quiet, bright, spacious, welcoming, well kept",
                   "cramped, damp, noisy, draughty, run-down, dark"),
                  ("felt like home from the first day; made moving in easy; stayed warm all winter; "
                   "got lots of afternoon sun",
                   "leaked every time it rained; kept us awake all night; smelled of mould; "
                   "went without hot water for a week")),
    "transport": Topic("bus, train, taxi, tram, ferry, bike lane, ride, connection, drivers:pl, metro, night bus, "
                       "airport shuttle",
                       ("punctual, smooth, clean, comfortable, quick, reliable",
                        "late, packed, filthy, slow, unreliable, bumpy"),
                       ("got us there early; ran like clockwork; came right on time; had plenty of free seats",
                        "broke down halfway; never showed up; took twice as long as planned; skipped our stop")),
    "games": Topic("board game, video game, puzzle, level, quiz night, escape room, card game, controls:pl, "
                   "graphics:pl, multiplayer mode",
                   ("addictive, clever, fun, challenging, rewarding, absorbing",
                    "frustrating, repetitive, unfair, tedious, broken, pointless"),
                   ("kept us laughing all evening; had everyone hooked; ran without a single glitch; "
                    "kept the kids busy for hours",
                    "ended in an argument; crashed on the first level; bored everyone within minutes; "
                    "kept freezing")),
}
TOPIC_NAMES = tuple(TOPICS)

# label-bearing word lists: slot -> (positive, negative)
POLAR = {
    "general": ("great, excellent, wonderful, fantastic, superb, lovely, amazing, good, brilliant, outstanding, "
                "terrific, marvellous",
                "awful, terrible, dreadful, poor, horrible, disappointing, bad, mediocre, lousy, appalling, dismal, "
                "abysmal"),
    "mild": ("good, great, pleasant, impressive, enjoyable, nice", "bad, terrible, boring, disappointing, awful, dull"),
    "cmp": ("better", "worse"),
    "superl": ("best", "worst"),
    "interj": ("Wow, Oh, Honestly, Well, Goodness", "Ugh, Oh dear, Honestly, Well, Goodness"),
    "impress": ("impress me, delight me, cheer me up", "disappoint me, annoy me, let me down"),
    "thing": ("a real treat, a pleasant surprise, an absolute joy, a breath of fresh air, a delight, "
              "the highlight of the week",
              "a total letdown, a complete mess, an absolute disaster, a nightmare, a huge disappointment, "
              "the low point of the week"),
    "nothing": ("wrong with, to complain about in", "good about, to like about, special about"),
    "emotion": ("delighted, happy, grinning, impressed, satisfied, cheerful",
                "disappointed, annoyed, frustrated, unhappy, furious, fed up"),
    "emotion_with": ("delighted, thrilled, very happy, impressed", "disappointed, unhappy, fed up, not impressed"),
    "hoped": ("hoped, had hoped", "feared, had feared"),
    "try": ("try, don't miss, check out, treat yourself to", "skip, avoid, steer clear of, don't bother with"),
    "rec_adv": ("happily, gladly, definitely", "never, not, never ever"),
    "rate": ("eight, nine, ten", "one, two, three"),
    "day_adj": ("wonderful, special, effortless", "ruined, wasted, miserable"),
    "talk": ("raving about, smiling about, talking happily about", "complaining about, moaning about, grumbling about"),
    "needed": ("exactly what we needed, a lovely surprise", "the last thing we needed, no surprise at all"),
    "worth": ("worth the wait, worth every minute", "not worth the wait, a waste of time"),
}
# tensed label-bearing verbs: slot -> (positive, negative), each "present singular / present plural / past"
POLAR_VERBS = {
    "love_i": ("love/love/loved, enjoy/enjoy/enjoyed, adore/adore/adored, like/like/liked",
               "hate/hate/hated, dislike/dislike/disliked, can't stand/can't stand/couldn't stand, "
               "detest/detest/detested"),
    "love_3": ("loves/loves/loved, enjoys/enjoys/enjoyed, adores/adores/adored, likes/likes/liked",
               "hates/hates/hated, dislikes/dislikes/disliked, can't stand/can't stand/couldn't stand, "
               "detests/detests/detested"),
    "day_verb": ("makes my day/make my day/made my day, brightens my week/brighten my week/brightened my week",
                 "ruins my day/ruin my day/ruined my day, spoils my week/spoil my week/spoiled my week"),
    "exceed": ("exceeds my expectations/exceed my expectations/exceeded my expectations, "
               "lives up to the hype/live up to the hype/lived up to the hype",
               "falls far short of my expectations/fall far short of my expectations/fell far short of my expectations, "
               "does not live up to the hype/do not live up to the hype/did not live up to the hype"),
    "consequence": ("want to go back/want to go back/wanted to go back, tell everyone about it/tell everyone about "
                    "it/told everyone about it, can't stop smiling/can't stop smiling/couldn't stop smiling",
                    "want my money back/want my money back/wanted my money back, regret it/regret it/regretted it, "
                    "can't stop complaining/can't stop complaining/couldn't stop complaining"),
}
NEUTRAL = {
    "intens": ["", "", "really ", "truly ", "absolutely ", "quite ", "so ", "incredibly "],
    "intens_v": ["", "", "really ", "absolutely ", "honestly "],
    "person": ["my sister", "my boss", "Tom", "Priya", "the critic", "my flatmate", "our neighbour",
               "a friend of mine", "my dad", "Elena", "my grandmother", "Marcus"],
    "relation": ["sister", "boss", "flatmate", "partner", "uncle", "best friend", "colleague"],
    "time": ["yesterday", "last night", "on Sunday", "this morning", "the other day", "last week",
             "on our first day", "again"],
    "since": ["I can remember", "I have come across", "in years", "in a long time", "of the whole year"],
}
NEUTRAL_VERBS = {"fails": "fails/fail/failed", "leaves": "leaves/leave/left", "agrees": "agrees/agrees/agreed",
                 "says": "says/says/said", "thinks": "thinks/thinks/thought", "agree_i": "agree/agree/agreed"}


@dataclass(frozen=True)
class Frame:
    name: str
    positive: str
    negative: str = ""      # empty: same pattern as positive
    tensed: bool = False    # True: {be} and tensed verbs follow the requested tense
    avoid: tuple = ()       # topics the frame does not suit


_NOT_WEATHER = ("weather",)
FRAMES = (
    Frame("copula", "{NP} {be} {intens}{adj}.", tensed=True),
    Frame("copula_and", "{NP} {be} {adj} and {adj2}.", tensed=True),
    Frame("i_love", "I {intens_v}{love_i} {np}.", tensed=True),
    Frame("person_loves", "{Person} {love_3} {np}.", tensed=True),
    Frame("not_at_all", "{NP} {be} not {mild_opp} at all.", tensed=True),
    Frame("anything_but", "{NP} {be} anything but {mild_opp}.", tensed=True),
    Frame("cant_believe", "I can't believe how {adj} {np} {be}!", tensed=True),
    Frame("honestly", "Honestly, {np} {be} {intens}{adj}.", tensed=True),
    Frame("interjection", "{interj}, {np} {be} {adj}!", tensed=True),
    Frame("everyone_agrees", "Everyone {agrees} that {np} {be} {adj}.", tensed=True),
    Frame("start_to_finish", "{NP} {be} {adj} from start to finish.", tensed=True),
    Frame("not_only", "Not only {be} {np} {adj}, {pron} {be} also {adj2}.", tensed=True),
    Frame("than_expected", "{NP} {be} {cmp} than I expected.", tensed=True),
    Frame("easily_the", "{NP} {be} easily the {superl} one {since}.", tensed=True),
    Frame("never_fails", "{NP} never {fails} to {impress}.", tensed=True),
    Frame("my_day", "{NP} {day_verb}.", tensed=True),
    Frame("why_so", "Why {be} {np} so {adj}?", tensed=True),
    Frame("was_it_bad", "{Be} {np} {mild_opp}? Not at all, {pron} {be} {adj}.", tensed=True),
    Frame("was_it_good", "{Be} {np} {mild}? Yes, {pron} {be} {intens}{adj}.", tensed=True),
    Frame("relation_thinks", "My {relation} {thinks} {np} {be} {adj}.", tensed=True),
    Frame("a_thing", "{NP} {be} {thing}.", tensed=True),
    Frame("nothing_about", "There {be_sg} nothing {nothing} {np}.", tensed=True),
    Frame("expectations", "{NP} {exceed}.", tensed=True),
    Frame("leaves_me", "{NP} {leaves} me {emotion}.", tensed=True),
    Frame("hard_to_imagine", "It {be_sg} hard to imagine anything {cmp} than {np}.", tensed=True),
    Frame("compared", "Compared with last year, {np} {be} much {cmp}.", tensed=True),
    Frame("says_and_agree", "{Person} {says} {np} {be} {adj}, and I {agree_i}.", tensed=True),
    Frame("just_as", "{NP} {be} {adj}, just as I {hoped}.", tensed=True),
    Frame("we_are", "We {be_pl} {emotion_with} with {np}.", tensed=True),
    Frame("say_what", "Say what you like, but {np} {be} {adj}.", tensed=True),
    Frame("to_be_fair", "To be fair, {np} {be} {intens}{adj}.", tensed=True),
    Frame("so_that", "{NP} {be} so {adj} that I {consequence}.", tensed=True),
    Frame("what_a", "What {a_adj_noun}!"),
    Frame("vp_time", "{NP} {vp} {time}."),
    Frame("could_not_be", "{NP} could not have been {cmp}."),
    Frame("if_you_can", "If you get the chance, {try} {np}.", avoid=_NOT_WEATHER),
    Frame("recommend", "I would {rec_adv} recommend {np} to a friend.", avoid=_NOT_WEATHER),
    Frame("stars", "Five stars for {np}, no question.", "One star for {np}, and that is generous."),
    Frame("out_of_ten", "I'd give {np} {rate} out of ten."),
    Frame("anything_more", "Is there anything more {adj} than {np}?"),
    Frame("who_knew", "Who knew {np} could be so {adj}?"),
    Frame("review", "{NP}: {adj}, {adj2} and {adj3}."),
    Frame("used_to_think", "I used to think {np} {be_past} {mild_opp}, but now I find {pron_obj} {adj}."),
    Frame("after", "After {np}, I felt {emotion}.", avoid=("weather", "product", "home", "service", "software")),
    Frame("favour", "Do yourself a favour and {try} {np}.", avoid=_NOT_WEATHER),
    Frame("without_doubt", "Without a doubt, {np} {vp}."),
    Frame("semicolon", "{NP} {be_past} {adj}; {pron} {vp}."),
    Frame("best_part", "The best part of my week was {np}.", "The worst part of my week was {np}."),
    Frame("glad_i_chose", "I'm so glad I chose {np}.", "I wish I had never chosen {np}.", avoid=_NOT_WEATHER),
    Frame("fragment", "{NP}? {Adj}, honestly."),
    Frame("have_you_tried", "Have you tried {np}? {Pron} {be_pres} {adj}.", avoid=_NOT_WEATHER),
    Frame("pick_again", "I would pick {np} again in a heartbeat.", "I would never pick {np} again.",
          avoid=_NOT_WEATHER),
    Frame("not_often", "It's not often that {np} {be_pres} this {adj}."),
    Frame("thanks_to", "Thanks to {np}, the whole day felt {day_adj}."),
    Frame("couldnt_stop", "{Person} couldn't stop {talk} {np}."),
    Frame("never_such", "I have never come across {such_adj_noun}."),
    Frame("which_was", "{NP} {vp}, which was {needed}."),
    Frame("believe_me", "Believe me, {np} {be_past} {worth}."),
    Frame("vp_and_i_was", "{NP} {vp}, and I was {emotion}."),
    Frame("last_time", "The last time I had {np}, {pron} {be_past} {adj}.", avoid=("weather", "sport", "home")),
    Frame("cant_recommend", "I can't recommend {np} highly enough.", "I can't recommend {np} at all.",
          avoid=_NOT_WEATHER),
    Frame("complaints", "No complaints about {np} whatsoever.", "Nothing but complaints about {np}."),
)

_SLOTS = ("noun", "det", "adj", "adj2", "adj3", "attr", "mild", "mild_opp", "vp", "person", "relation", "time",
          "since", "intens", "intens_v", *POLAR, *POLAR_VERBS)


def _split(text: str, sep: str = ",") -> list[str]:
    return [x.strip() for x in text.split(sep) if x.strip()]


def draw(rng: np.random.Generator) -> dict:
    """One uniform number per slot: the random choices of one rendering."""
    return dict(zip(_SLOTS, rng.random(len(_SLOTS))))


def _pick(seq, x: float):
    return seq[int(x * len(seq))]


def _conj(forms: str, tense: str, plural: bool) -> str:
    sg, pl, past = forms.split("/")
    return past if tense == "past" else pl if plural else sg


def _be(tense: str, plural: bool) -> str:
    return {("present", False): "is", ("present", True): "are", ("past", False): "was", ("past", True): "were"}[
        (tense, plural)]


def _cap(text: str) -> str:
    return text[0].upper() + text[1:]


def render(frame: Frame, label: str, topic: str, tense: str, u: dict) -> str:
    """Fill ``frame`` for ``label`` ("positive"/"negative") about ``topic`` in ``tense`` with draws ``u``."""
    side = LABELS.index(label)
    spec = TOPICS[topic]
    noun, _, kind = _pick(_split(spec.nouns), u["noun"]).partition(":")
    plural = kind == "pl"
    det = _pick(_split(spec.dets), u["det"])
    if plural:
        det = {"this": "these", "that": "those"}.get(det, det)
    np_ = f"{det} {noun}"
    adjectives = _split(spec.adj[side]) * 2 + _split(POLAR["general"][side])
    adj = _pick(adjectives, u["adj"])
    rest = [a for a in adjectives if a != adj]
    adj2 = _pick(rest, u["adj2"])
    adj3 = _pick([a for a in rest if a != adj2], u["adj3"])
    attr = _pick([a for a in adjectives if " " not in a], u["attr"])
    article = "" if plural or kind == "mass" else ("an " if attr[0] in "aeiou" else "a ")
    pron, pron_obj = {"pl": ("they", "them"), "he": ("he", "him"), "she": ("she", "her")}.get(kind, ("it", "it"))
    slots = {
        "np": np_, "NP": _cap(np_), "adj": adj, "Adj": _cap(adj), "adj2": adj2, "adj3": adj3,
        "be": _be(tense, plural), "Be": _cap(_be(tense, plural)), "be_sg": _be(tense, False),
        "be_pl": _be(tense, True), "be_pres": _be("present", plural), "be_past": _be("past", plural),
        "pron": pron, "Pron": _cap(pron), "pron_obj": pron_obj,
        "a_adj_noun": f"{article}{attr} {noun}", "such_adj_noun": f"such {article}{attr} {noun}",
        "mild": _pick(_split(POLAR["mild"][side]), u["mild"]),
        "mild_opp": _pick(_split(POLAR["mild"][1 - side]), u["mild_opp"]),
        "vp": _pick(_split(spec.vp[side], ";"), u["vp"]),
        "Person": _cap(_pick(NEUTRAL["person"], u["person"])),
        **{k: _pick(NEUTRAL[k], u[k]) for k in ("person", "relation", "time", "since", "intens", "intens_v")},
        **{k: _pick(_split(v[side]), u[k]) for k, v in POLAR.items() if k not in ("general", "mild")},
        **{k: _conj(_pick(_split(v[side]), u[k]), tense, plural) for k, v in POLAR_VERBS.items()},
        **{k: _conj(v, tense, plural) for k, v in NEUTRAL_VERBS.items()},
    }
    pattern = frame.negative if label == "negative" and frame.negative else frame.positive
    return _cap(pattern.format_map(slots))
