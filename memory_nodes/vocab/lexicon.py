"""The lexicon: canonical object classes with their synonyms, categories and usual rooms; room types.

Canonical names are lower-case, singular (except pluralia tantum such as "keys", "glasses", "scissors"),
words separated by single spaces. Synonyms map to exactly one canonical name; a phrase that is a
canonical name of one entry is never a synonym of another.

Categories drive priors elsewhere (e.g. memory's move-rate prior): ``small`` objects are carried around,
``furniture`` and ``appliance`` rarely move, ``fixture`` never does, ``food`` appears and disappears.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List, Tuple

CATEGORIES = ("small", "furniture", "appliance", "fixture", "food", "plant", "structure")


@dataclass(frozen=True)
class ClassEntry:
    canonical: str
    synonyms: Tuple[str, ...] = ()
    category: str = "small"
    rooms: Tuple[str, ...] = ()          # room types where it usually is (label evidence for rooms)
    kind_of: str = ""                    # a more general class ("coffee table" is a kind of "table")


def _e(canonical: str, synonyms: str = "", category: str = "small", rooms: str = "",
       kind_of: str = "") -> ClassEntry:
    syn = tuple(s.strip() for s in synonyms.split(",") if s.strip())
    rms = tuple(r.strip() for r in rooms.split(",") if r.strip())
    return ClassEntry(canonical, syn, category, rms, kind_of)


# Rooms are written with the canonical room names below.
CLASS_ENTRIES: List[ClassEntry] = [
    # --- small, movable objects ---------------------------------------------------------------------
    _e("mug", "cup, coffee cup, coffee mug, tea cup, teacup, tea mug, beaker", "small", "kitchen, office"),
    _e("glass", "drinking glass, tumbler, water glass, wine glass, glass cup", "small", "kitchen, dining room"),
    _e("bottle", "plastic bottle, drink bottle, glass bottle", "small", "kitchen"),
    _e("water bottle", "flask, sports bottle, drinking bottle, reusable bottle", "small", "kitchen, office",
       "bottle"),
    _e("wine bottle", "bottle of wine", "small", "kitchen, dining room", "bottle"),
    _e("bowl", "cereal bowl, soup bowl, salad bowl, fruit bowl", "small", "kitchen, dining room"),
    _e("plate", "dish, dinner plate, saucer", "small", "kitchen, dining room"),
    _e("pan", "frying pan, skillet, frypan", "small", "kitchen"),
    _e("pot", "cooking pot, saucepan, stockpot", "small", "kitchen"),
    _e("kettle", "electric kettle, tea kettle, teakettle", "appliance", "kitchen"),
    _e("knife", "kitchen knife, chef knife, butter knife", "small", "kitchen"),
    _e("fork", "dinner fork", "small", "kitchen"),
    _e("spoon", "teaspoon, tablespoon, ladle", "small", "kitchen"),
    _e("cutting board", "chopping board, chopping block, bread board", "small", "kitchen"),
    _e("keys", "key, car keys, car key, house keys, house key, keychain, key chain, key ring, keyring, "
                "set of keys, bunch of keys", "small", "entryway, living room"),
    _e("wallet", "purse, billfold, pocketbook", "small", "hallway, entryway, bedroom"),
    _e("phone", "cell phone, cellphone, mobile phone, mobile, smartphone, smart phone, telephone, iphone",
        "small", "living room, bedroom, office"),
    _e("remote control", "remote, tv remote, television remote, remote controller, clicker, controller",
        "small", "living room"),
    _e("laptop", "notebook computer, laptop computer, macbook, computer", "small", "office, living room"),
    _e("tablet", "ipad, tablet computer", "small", "living room, bedroom"),
    _e("book", "novel, hardcover, paperback, textbook", "small", "living room, bedroom, office"),
    _e("notebook", "notepad, journal, exercise book", "small", "office"),
    _e("magazine", "newspaper, paper, journal magazine", "small", "living room"),
    _e("pen", "ballpoint, ballpoint pen, pencil, marker", "small", "office"),
    _e("pencil case", "pencil box, pencil pouch, pen case", "small", "office, kids room"),
    _e("scissors", "pair of scissors, shears", "small", "office, kitchen"),
    _e("glasses", "eyeglasses, spectacles, reading glasses, sunglasses, specs", "small", "bedroom, living room"),
    _e("watch", "wristwatch, wrist watch, smartwatch", "small", "bedroom"),
    _e("headphones", "headphone, headset, earphones, earbuds", "small", "office, bedroom"),
    _e("charger", "phone charger, charging cable, power adapter, cable", "small", "office, bedroom"),
    _e("backpack", "rucksack, school bag, knapsack, daypack", "small", "hallway, entryway, bedroom"),
    _e("bag", "handbag, tote bag, tote, shopping bag, duffel bag, satchel", "small", "hallway, entryway"),
    _e("suitcase", "luggage, travel case, trolley case", "small", "bedroom, entryway"),
    _e("umbrella", "parasol, brolly", "small", "hallway, entryway"),
    _e("shoes", "shoe, sneaker, sneakers, boot, boots, slipper, slippers, trainers, pair of shoes", "small",
       "hallway, entryway, bedroom"),
    _e("jacket", "coat, raincoat, hoodie, sweater", "small", "hallway, entryway, bedroom"),
    _e("hat", "cap, beanie, baseball cap", "small", "hallway, entryway"),
    _e("toy", "doll, action figure, plaything", "small", "kids room, living room"),
    _e("toy car", "model car, matchbox car, racing car", "small", "kids room, living room", "toy"),
    _e("building blocks", "blocks, toy blocks, lego, lego bricks, building block set, duplo", "small",
       "kids room", "toy"),
    _e("board game", "boardgame, game box, puzzle box, chess set, game", "small", "living room"),
    _e("teddy bear", "stuffed animal, plush toy, teddy, plushie", "small", "kids room, bedroom", "toy"),
    _e("ball", "football, soccer ball, basketball, tennis ball", "small", "kids room, living room", "toy"),
    _e("towel", "hand towel, bath towel, dish towel, tea towel", "small", "bathroom, kitchen"),
    _e("toothbrush", "tooth brush, electric toothbrush", "small", "bathroom"),
    _e("soap", "soap bar, soap dispenser, hand soap, liquid soap", "small", "bathroom"),
    _e("shampoo", "shampoo bottle, conditioner, body wash, shower gel", "small", "bathroom"),
    _e("toilet paper", "toilet roll, loo roll, bathroom tissue", "small", "bathroom"),
    _e("hair dryer", "hairdryer, blow dryer, hair drier", "small", "bathroom"),
    _e("medicine", "pills, pill bottle, medication, medicine bottle, vitamins", "small", "bathroom, kitchen"),
    _e("vase", "flower vase", "small", "living room, dining room"),
    _e("candle", "tealight, candle holder", "small", "living room, dining room"),
    _e("picture frame", "photo frame, framed photo, photograph", "small", "living room, bedroom"),
    _e("clock", "alarm clock, wall clock", "small", "bedroom, kitchen, living room"),
    _e("box", "cardboard box, carton, package, parcel", "small", "garage, office"),
    _e("basket", "wicker basket, storage basket", "small", "living room"),
    _e("laundry basket", "laundry hamper, hamper, clothes basket", "small", "laundry room, bedroom"),
    _e("pillow", "cushion, throw pillow, sofa cushion", "small", "bedroom, living room"),
    _e("blanket", "throw, duvet, quilt, comforter", "small", "bedroom, living room"),
    _e("bucket", "pail", "small", "laundry room, garage"),
    _e("broom", "sweeping brush, mop", "small", "laundry room, kitchen"),
    _e("tool", "hammer, screwdriver, wrench, drill, toolbox, tool box", "small", "garage"),
    _e("dumbbell", "weight, dumbbells, kettlebell", "small", "bedroom, garage"),
    _e("guitar", "acoustic guitar, electric guitar", "small", "living room, bedroom"),
    _e("speaker", "bluetooth speaker, smart speaker, loudspeaker", "small", "living room"),
    _e("camera", "digital camera", "small", "office"),
    _e("game controller", "gamepad, joystick, console controller", "small", "living room"),
    _e("trash can", "trash bin, garbage can, waste bin, wastebasket, rubbish bin, bin, dustbin, garbage bin",
        "furniture", "kitchen, office, bathroom"),
    # --- food --------------------------------------------------------------------------------------------
    _e("apple", "apples", "food", "kitchen"),
    _e("banana", "bananas", "food", "kitchen"),
    _e("orange", "oranges, mandarin, tangerine", "food", "kitchen"),
    _e("bread", "loaf, loaf of bread, baguette", "food", "kitchen"),
    _e("cereal box", "cereal, box of cereal", "food", "kitchen"),
    _e("milk carton", "milk, carton of milk, milk bottle, milk jug", "food", "kitchen"),
    _e("can", "soda can, tin, tin can, beer can, soup can", "food", "kitchen"),
    _e("food", "snack, meal, leftovers", "food", "kitchen"),
    # --- plants --------------------------------------------------------------------------------------
    _e("plant", "potted plant, houseplant, house plant, flower pot, flowerpot, flowers, flower, pot plant, "
       "orchid, cactus, cacti, fern, succulent, bonsai, ivy, potted flower",
        "plant", "living room"),
    # --- appliances ------------------------------------------------------------------------------------
    _e("television", "tv, telly, tv set, television set, flat screen, monitor screen", "appliance",
        "living room, bedroom"),
    _e("monitor", "computer monitor, computer screen, display, screen", "appliance", "office"),
    _e("keyboard", "computer keyboard", "small", "office"),
    _e("mouse", "computer mouse", "small", "office"),
    _e("printer", "inkjet printer, laser printer, scanner", "appliance", "office"),
    _e("fridge", "refrigerator, freezer, icebox, fridge freezer", "appliance", "kitchen"),
    _e("microwave", "microwave oven", "appliance", "kitchen"),
    _e("stove", "oven, cooker, range, stovetop, cooktop, hob", "appliance", "kitchen"),
    _e("toaster", "toaster oven", "appliance", "kitchen"),
    _e("coffee machine", "coffee maker, espresso machine, coffeemaker", "appliance", "kitchen"),
    _e("blender", "mixer, food processor", "appliance", "kitchen"),
    _e("dishwasher", "dish washer", "appliance", "kitchen"),
    _e("washing machine", "washer, laundry machine, clothes washer", "appliance", "laundry room"),
    _e("dryer", "clothes dryer, tumble dryer", "appliance", "laundry room"),
    _e("vacuum cleaner", "vacuum, hoover, robot vacuum", "appliance", "laundry room, living room"),
    _e("fan", "electric fan, ceiling fan, desk fan", "appliance", "bedroom, living room"),
    _e("heater", "radiator, space heater", "appliance", "living room"),
    _e("lamp", "table lamp, floor lamp, desk lamp, light, reading lamp", "appliance", "living room, bedroom"),
    # --- furniture (receptacles) ----------------------------------------------------------------------
    _e("table", "tables", "furniture", "dining room, kitchen"),
    _e("dining table", "kitchen table, dinner table", "furniture", "dining room, kitchen", "table"),
    _e("coffee table", "low table, cocktail table", "furniture", "living room", "table"),
    _e("side table", "end table, accent table", "furniture", "living room", "table"),
    _e("entry table", "console table, hallway table, hall table, entryway table, entrance table",
       "furniture", "hallway, entryway", "table"),
    _e("kids table", "children's table, childrens table, child table, play table", "furniture", "kids room",
       "table"),
    _e("nightstand", "night stand, bedside table, night table, bedside cabinet", "furniture", "bedroom",
       "table"),
    _e("desk", "writing desk, computer desk, office desk, work desk", "furniture", "office"),
    _e("chair", "dining chair, seat, kitchen chair", "furniture", "dining room, kitchen"),
    _e("office chair", "desk chair, swivel chair, computer chair", "furniture", "office", "chair"),
    _e("armchair", "arm chair, recliner, easy chair, lounge chair", "furniture", "living room", "chair"),
    _e("stool", "bar stool, footstool, ottoman, pouf", "furniture", "kitchen"),
    _e("bench", "entryway bench", "furniture", "hallway, entryway"),
    _e("sofa", "couch, settee, loveseat, love seat, sectional, divan", "furniture", "living room"),
    _e("bed", "double bed, single bed, mattress", "furniture", "bedroom"),
    _e("kids bed", "child bed, children's bed, childrens bed, toddler bed, bunk bed, cot, crib",
       "furniture", "kids room", "bed"),
    _e("shelf", "shelves, shelving unit, rack, wall shelf", "furniture", "living room, office"),
    _e("bookshelf", "bookcase, book shelf, book case, bookshelves", "furniture", "living room, office", "shelf"),
    _e("pantry shelf", "pantry, pantry shelves, kitchen shelf, larder shelf", "furniture", "kitchen", "shelf"),
    _e("towel shelf", "towel rack, towel rail, towel holder, bathroom shelf", "furniture", "bathroom",
       "shelf"),
    _e("cabinet", "cupboard, kitchen cabinet, storage cabinet, sideboard", "furniture", "kitchen"),
    _e("filing cabinet", "file cabinet, file drawer, filing drawer", "furniture", "office", "cabinet"),
    _e("toy box", "toybox, toy chest, toy bin, toy basket", "furniture", "kids room"),
    _e("vanity", "vanity unit, bathroom vanity, washstand, vanity sink, bathroom sink, washbasin, wash basin",
       "furniture", "bathroom"),
    _e("dresser", "chest of drawers, drawers, bureau, drawer", "furniture", "bedroom"),
    _e("wardrobe", "closet, armoire, clothes closet", "furniture", "bedroom"),
    _e("tv stand", "tv cabinet, media console, tv unit, entertainment center", "furniture", "living room"),
    _e("counter", "countertop, kitchen counter, worktop, kitchen island, island", "furniture", "kitchen"),
    _e("coat rack", "coat stand, coat hanger, hat stand, hook", "furniture", "hallway, entryway"),
    _e("shoe rack", "shoe cabinet, shoe shelf", "furniture", "hallway, entryway"),
    _e("rug", "carpet, mat, doormat, floor mat", "furniture", "living room"),
    _e("play mat", "playmat, play rug, activity mat, kids mat", "furniture", "kids room", "rug"),
    # --- fixtures / structure ----------------------------------------------------------------------------
    _e("sink", "kitchen sink, basin", "fixture", "kitchen"),
    _e("toilet", "wc, lavatory, commode, loo", "fixture", "bathroom"),
    _e("bathtub", "bath tub, bath, tub", "fixture", "bathroom"),
    _e("shower", "shower stall, shower cabin", "fixture", "bathroom"),
    _e("mirror", "wall mirror, vanity mirror", "fixture", "bathroom, bedroom"),
    _e("fireplace", "hearth, fire place", "fixture", "living room"),
    _e("painting", "picture, poster, artwork, wall art, canvas", "fixture", "living room, bedroom"),
    _e("curtain", "curtains, drapes, blinds", "fixture", "living room, bedroom"),
    _e("window", "windows", "structure", ""),
    _e("door", "doors, doorway", "structure", ""),
    _e("stairs", "staircase, stair, steps, stairway", "structure", "hallway"),
    _e("wall", "walls", "structure", ""),
    _e("floor", "ground", "structure", ""),
]


@dataclass(frozen=True)
class RoomEntry:
    canonical: str
    synonyms: Tuple[str, ...] = ()


def _r(canonical: str, synonyms: str = "") -> RoomEntry:
    return RoomEntry(canonical, tuple(s.strip() for s in synonyms.split(",") if s.strip()))


ROOM_ENTRIES: List[RoomEntry] = [
    _r("kitchen", "kitchenette, cookroom, galley"),
    _r("living room", "lounge, sitting room, family room, den, tv room, front room, livingroom"),
    _r("dining room", "dining area, diner room, dinning room"),
    _r("bedroom", "bed room, master bedroom, guest room, guest bedroom, sleeping room"),
    _r("kids room", "kid room, kid's room, kids' room, children's room, childrens room, child's room, "
                    "playroom, play room, nursery, kids bedroom, children's bedroom"),
    _r("bathroom", "bath room, washroom, restroom, lavatory room, toilet room, wc room, powder room, ensuite"),
    _r("office", "study, home office, workroom, study room, office room"),
    _r("hallway", "hall, corridor, passage, passageway, landing, entrance hall"),
    _r("entryway", "entrance, entry, foyer, vestibule, mudroom, front door area"),
    _r("laundry room", "laundry, utility room, washing room"),
    _r("garage", "carport, workshop"),
    _r("closet", "walk-in closet, storage room, pantry, storeroom"),
    _r("unknown", "unlabeled, unlabelled, other"),
]

UNKNOWN_ROOM = "unknown"


def room_priors() -> Dict[str, Tuple[str, ...]]:
    """canonical class -> room types where it usually is (evidence for labelling rooms)."""
    return {e.canonical: e.rooms for e in CLASS_ENTRIES if e.rooms}
