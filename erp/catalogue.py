"""Word lists the demo data generator draws names, products and addresses from."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Category:
    """A product category: SKU prefix, display name, price range and name ingredients."""

    code: str
    name: str
    min_price: float
    max_price: float
    names: tuple[str, ...]
    blurb: str


def _combine(*parts: tuple[str, ...]) -> tuple[str, ...]:
    """Every combination of ``parts`` joined by spaces, skipping empty pieces."""
    combos: list[str] = [""]
    for options in parts:
        combos = [f"{c} {o}".strip() for c in combos for o in options]
    return tuple(dict.fromkeys(" ".join(c.split()) for c in combos if c))


FEATURED = {"WID": "Blue Widget", "CTL": "X200 Controller"}

CATEGORIES: tuple[Category, ...] = (
    Category(
        "WID",
        "Widgets",
        2.5,
        45.0,
        tuple(
            n
            for n in _combine(
                ("Blue", "Red", "Green", "Yellow", "Black", "White", "Orange", "Grey", ""),
                ("", "Steel", "Brass", "Aluminium", "Nylon", "Titanium"),
                ("Widget",),
                ("", "Pro", "Mini", "XL", "Heavy Duty"),
            )
            if n != "Widget"
        ),
        "General-purpose widget for assembly lines and maintenance kits",
    ),
    Category(
        "CTL",
        "Controllers",
        79.0,
        950.0,
        _combine(
            ("X100", "X200", "X300", "X500", "S10", "S20", "PX-4", "PX-8", "Z40"),
            (
                "Controller",
                "Motor Controller",
                "Temperature Controller",
                "Logic Controller",
                "Servo Controller",
                "Pump Controller",
            ),
            ("", "v2"),
        ),
        "Compact DIN-rail controller with Modbus and a 24 V DC supply",
    ),
    Category(
        "FAS",
        "Fasteners",
        2.9,
        48.0,
        _combine(
            ("M3", "M4", "M5", "M6", "M8", "M10", "M12", "M16"),
            (
                "Hex Bolt",
                "Hex Nut",
                "Wing Nut",
                "Flat Washer",
                "Socket Cap Screw",
                "Coach Bolt",
                "Nyloc Nut",
            ),
            ("(50 pack)", "(100 pack)", "(200 pack)"),
        ),
        "Zinc-plated steel fastener to DIN standard",
    ),
    Category(
        "CAB",
        "Cables",
        2.9,
        45.0,
        _combine(
            (
                "USB-C Cable",
                "USB-A to USB-C Cable",
                "HDMI Cable",
                "Cat6 Patch Cable",
                "Cat6A Patch Cable",
                "DisplayPort Cable",
                "IEC Power Cable",
                "Extension Lead 4-Way",
            ),
            ("0.5m", "1m", "2m", "3m", "5m", "10m"),
        ),
        "Fully shielded cable with moulded connectors",
    ),
    Category(
        "OFF",
        "Office Supplies",
        1.9,
        65.0,
        _combine(("A4 Copy Paper 80gsm", "A3 Copy Paper 80gsm"), ("(1 ream)", "(5 reams)"))
        + _combine(
            ("Ballpoint Pen", "Gel Pen", "Whiteboard Marker", "Permanent Marker", "Highlighter"),
            ("Blue", "Black", "Red", "Green"),
            ("(10 pack)", "(50 pack)"),
        )
        + _combine(
            ("Lever Arch File A4", "Ring Binder A4", "Suspension File", "Document Wallet"),
            ("Blue", "Black", "Red"),
            ("(10 pack)", "(25 pack)"),
        )
        + (
            "Stapler Heavy Duty",
            "Staples 26/6 (5000 pack)",
            "Sticky Notes 76x76mm (12 pads)",
            "Desk Organiser Black",
            "Hole Punch 4-Hole",
            "Label Printer Tape 12mm",
        ),
        "Everyday office consumable for stationery cupboards",
    ),
    Category(
        "SAF",
        "Safety",
        2.5,
        120.0,
        _combine(
            ("Nitrile Gloves", "Cut-Resistant Gloves", "Rigger Gloves"),
            ("Size S", "Size M", "Size L", "Size XL"),
            ("(10 pairs)", "(100 pack)"),
        )
        + _combine(("Hi-Vis Vest", "Hi-Vis Jacket"), ("Yellow", "Orange"), ("M", "L", "XL"))
        + _combine(("Safety Boots S3",), ("Size 40", "Size 42", "Size 44", "Size 46"))
        + _combine(("Hard Hat",), ("White", "Yellow", "Blue"))
        + (
            "Safety Glasses Clear",
            "Ear Defenders SNR 30",
            "FFP2 Mask (20 pack)",
            "First Aid Kit Workplace",
            "Eye Wash Station",
        ),
        "Personal protective equipment meeting EN standards",
    ),
    Category(
        "TOO",
        "Tools",
        6.5,
        350.0,
        _combine(("Cordless Drill", "Impact Driver", "Angle Grinder"), ("12V", "18V", "36V"))
        + _combine(("Adjustable Spanner",), ("150mm", "200mm", "250mm", "300mm"))
        + _combine(("Socket Set 1/2in", "Socket Set 1/4in"), ("(24 piece)", "(40 piece)"))
        + _combine(("Spirit Level",), ("400mm", "600mm", "1200mm"))
        + _combine(("Tape Measure",), ("5m", "8m", "10m"))
        + _combine(
            ("Screwdriver Set", "Hex Key Set", "Drill Bit Set HSS"),
            ("(8 piece)", "(12 piece)", "(25 piece)"),
        )
        + (
            "Torque Wrench 40-200Nm",
            "Claw Hammer 16oz",
            "Utility Knife Retractable",
            "Pipe Cutter 15-22mm",
            "Bench Vice 150mm",
        ),
        "Professional-grade tool for workshops and site work",
    ),
    Category(
        "PAC",
        "Packaging",
        4.5,
        85.0,
        _combine(
            ("Cardboard Box",),
            ("305x229x152mm", "457x305x305mm", "610x457x457mm"),
            ("(25 pack)", "(50 pack)"),
        )
        + _combine(("Packing Tape",), ("Brown", "Clear", "Fragile Print"), ("48mm (36 rolls)",))
        + _combine(("Stretch Film",), ("400mm", "500mm"), ("x 250m", "x 300m"))
        + _combine(("Mailing Bag",), ("165x240mm", "250x350mm", "400x525mm"), ("(500 pack)",))
        + _combine(("Bubble Wrap",), ("500mm", "750mm", "1200mm"), ("x 100m",))
        + ("Void Fill Paper Roll", "Pallet Strapping Kit", "Label Roll 100x150mm (500 labels)"),
        "Shipping and warehouse packaging supplied in trade quantities",
    ),
    Category(
        "CLE",
        "Cleaning",
        2.9,
        55.0,
        _combine(
            (
                "Industrial Degreaser",
                "Floor Cleaner",
                "Hand Soap",
                "Washroom Cleaner",
                "Glass Cleaner",
                "Antibacterial Spray",
            ),
            ("750ml", "5L"),
        )
        + _combine(("Microfibre Cloth",), ("Blue", "Red", "Green", "Yellow"), ("(10 pack)",))
        + _combine(("Bin Liner",), ("60L", "90L", "120L"), ("(200 pack)",))
        + (
            "Blue Roll 2-Ply (6 pack)",
            "Centrefeed Roll (6 pack)",
            "Mop Bucket 20L",
            "Spill Kit 50L",
            "Nitrile Wipes (100 pack)",
        ),
        "Commercial cleaning product for workplaces",
    ),
    Category(
        "ELE",
        "Electrical",
        1.9,
        150.0,
        _combine(("LED Panel 600x600",), ("30W", "40W"), ("Cool White", "Warm White"))
        + _combine(("LED Batten",), ("600mm 18W", "1200mm 36W", "1500mm 50W"), ("IP20", "IP65"))
        + _combine(("Circuit Breaker",), ("B6", "B10", "B16", "B20", "B32", "C16", "C32"))
        + _combine(
            ("Cable Tie",), ("100mm", "200mm", "300mm"), ("Black", "Natural"), ("(100 pack)",)
        )
        + _combine(("Terminal Block",), ("4-Way", "8-Way", "12-Way"))
        + ("Junction Box IP65", "Fuse 13A (10 pack)", "RCD 63A 30mA", "Socket Outlet Double"),
        "Electrical component for installers and maintenance teams",
    ),
)

WAREHOUSES: tuple[tuple[str, str, str], ...] = (
    ("MAN", "Manchester Distribution Centre", "Manchester"),
    ("ROT", "Rotterdam Hub", "Rotterdam"),
    ("LEI", "Leipzig Logistics Centre", "Leipzig"),
)

SURNAMES: dict[str, tuple[str, ...]] = {
    "UK": (
        "Harrison",
        "Whitfield",
        "Ashworth",
        "Pemberton",
        "Holloway",
        "Brennan",
        "Caldwell",
        "Fairbairn",
        "Thornton",
        "Kershaw",
        "Hargreaves",
        "Lister",
        "Marsden",
        "Oakley",
        "Pickering",
        "Radcliffe",
        "Sutcliffe",
        "Tennant",
        "Walsh",
        "Yardley",
        "Bamford",
        "Crossley",
        "Dawson",
        "Entwistle",
        "Fletcher",
        "Greenwood",
        "Hollins",
        "Ingham",
        "Jessop",
        "Kenyon",
    ),
    "NL": (
        "de Vries",
        "Jansen",
        "Bakker",
        "Visser",
        "Smit",
        "Meijer",
        "de Boer",
        "Mulder",
        "de Groot",
        "Bos",
        "Vos",
        "Peters",
        "Hendriks",
        "van Leeuwen",
        "Dekker",
        "Brouwer",
        "de Wit",
        "Dijkstra",
        "Smits",
        "de Graaf",
        "van der Meer",
        "Kok",
        "Vermeulen",
    ),
    "DE": (
        "Müller",
        "Schmidt",
        "Schneider",
        "Fischer",
        "Weber",
        "Meyer",
        "Wagner",
        "Becker",
        "Schulz",
        "Hoffmann",
        "Koch",
        "Richter",
        "Klein",
        "Wolf",
        "Neumann",
        "Schwarz",
        "Zimmermann",
        "Braun",
        "Krüger",
        "Hartmann",
        "Lange",
        "Werner",
        "Krause",
        "Lehmann",
    ),
}
REGIONS: dict[str, tuple[str, ...]] = {
    "UK": (
        "Pennine",
        "Mersey",
        "Northern",
        "Midland",
        "Trafford",
        "Salford",
        "Calder",
        "Irwell",
        "Humber",
        "Severn",
        "Tyneside",
        "Wessex",
        "Cheshire",
        "Lancashire",
        "Sheffield",
    ),
    "NL": (
        "Rijnmond",
        "Delfland",
        "Westland",
        "Haven",
        "Maas",
        "Amstel",
        "Brabant",
        "Twente",
        "Zeeland",
        "Kennemer",
    ),
    "DE": (
        "Elbe",
        "Saale",
        "Sachsen",
        "Leipziger",
        "Dresdner",
        "Ruhr",
        "Rhein",
        "Main",
        "Harz",
        "Spree",
    ),
}
INDUSTRIES: dict[str, tuple[str, ...]] = {
    "UK": (
        "Engineering",
        "Fabrications",
        "Joinery",
        "Plumbing Supplies",
        "Electrical Services",
        "Facilities Management",
        "Print Works",
        "Automation",
        "Hydraulics",
        "Logistics",
        "Building Services",
        "Precision Tooling",
        "Packaging",
        "Catering Equipment",
        "Shopfitting",
    ),
    "NL": (
        "Techniek",
        "Installatietechniek",
        "Metaalbewerking",
        "Logistiek",
        "Bouwmaterialen",
        "Machinebouw",
        "Elektrotechniek",
        "Verpakkingen",
        "Kantoorinrichting",
        "Onderhoud",
    ),
    "DE": (
        "Maschinenbau",
        "Elektrotechnik",
        "Metallbau",
        "Logistik",
        "Anlagenbau",
        "Haustechnik",
        "Industriebedarf",
        "Werkzeugbau",
        "Bürotechnik",
        "Verpackung",
    ),
}
LEGAL_FORMS: dict[str, tuple[tuple[str, int], ...]] = {
    "UK": (("Ltd", 90), ("PLC", 3), ("LLP", 7)),
    "NL": (("B.V.", 100),),
    "DE": (("GmbH", 80), ("GmbH & Co. KG", 15), ("AG", 5)),
}
FIRST_NAMES: dict[str, tuple[str, ...]] = {
    "UK": (
        "james",
        "sarah",
        "david",
        "emma",
        "michael",
        "laura",
        "paul",
        "rachel",
        "mark",
        "helen",
        "tom",
        "claire",
        "chris",
        "amy",
        "dan",
        "kate",
    ),
    "NL": (
        "jan",
        "sanne",
        "pieter",
        "lotte",
        "daan",
        "femke",
        "thijs",
        "anouk",
        "bram",
        "eva",
        "joost",
        "iris",
    ),
    "DE": (
        "thomas",
        "anna",
        "stefan",
        "julia",
        "andreas",
        "katrin",
        "markus",
        "lena",
        "jens",
        "sabine",
        "tobias",
        "nina",
    ),
}
ROLE_MAILBOXES: dict[str, tuple[str, ...]] = {
    "UK": ("orders", "accounts", "purchasing", "procurement"),
    "NL": ("inkoop", "orders", "administratie", "info"),
    "DE": ("einkauf", "bestellung", "buchhaltung", "info"),
}
EMAIL_TLDS = {"UK": "co.uk", "NL": "nl", "DE": "de"}
CURRENCY = {"UK": "GBP", "NL": "EUR", "DE": "EUR"}
UK_POSTCODE_AREAS: tuple[tuple[str, int, int], ...] = (
    ("M", 1, 50),
    ("B", 1, 98),
    ("LS", 1, 29),
    ("S", 1, 36),
    ("L", 1, 38),
    ("BS", 1, 49),
    ("NE", 1, 66),
    ("G", 1, 84),
    ("OL", 1, 16),
    ("SK", 1, 23),
    ("WA", 1, 16),
    ("PR", 1, 26),
    ("NG", 1, 25),
    ("LE", 1, 19),
    ("EH", 1, 55),
)
UK_INWARD_LETTERS = "ABDEFGHJLNPQRSTUWXYZ"
NL_POSTCODE_LETTERS = "ABCDEGHJKLMNPRTVWXZ"
# Ofcom reserves these ranges for drama, so the demo never shows a real number.
UK_PHONE_PREFIXES = (
    "161 496 0",
    "113 496 0",
    "114 496 0",
    "117 496 0",
    "121 496 0",
    "131 496 0",
    "20 7946 0",
)
NL_PHONE_AREAS = ("10", "20", "30", "40", "50", "70")
DE_PHONE_AREAS = ("341", "30", "40", "89", "221", "351")
CARRIERS: dict[str, tuple[tuple[str, int], ...]] = {
    "UK": (("Royal Mail", 35), ("DPD", 30), ("DHL", 15), ("UPS", 12), ("FedEx", 8)),
    "NL": (("DHL", 35), ("DPD", 30), ("UPS", 20), ("FedEx", 15)),
    "DE": (("DHL", 40), ("DPD", 30), ("UPS", 18), ("FedEx", 12)),
}
TRANSIT_DAYS = {"Royal Mail": 3, "DPD": 2, "DHL": 4, "UPS": 3, "FedEx": 3}

# Delivery addresses: street names and towns per customer country (the postcode is the
# customer's), and the ISO code of each country.
STREETS: dict[str, tuple[str, ...]] = {
    "UK": ("High Street", "Station Road", "Mill Lane", "Church Street", "Park Road",
           "Victoria Road", "Trafford Park Road", "Canal Street"),
    "NL": ("Kerkstraat", "Stationsweg", "Industrieweg", "Havenstraat", "Molenweg",
           "Nieuwe Binnenweg"),
    "DE": ("Hauptstraße", "Bahnhofstraße", "Industriestraße", "Gartenweg", "Lindenallee",
           "Am Hafen"),
}  # fmt: skip
TOWNS: dict[str, tuple[str, ...]] = {
    "UK": ("Manchester", "Leeds", "Sheffield", "Birmingham", "Bristol", "Liverpool"),
    "NL": ("Rotterdam", "Utrecht", "Eindhoven", "Amsterdam", "Groningen"),
    "DE": ("Leipzig", "Dresden", "Hamburg", "Köln", "Hannover"),
}  # fmt: skip
COUNTRY_CODES: dict[str, str] = {"UK": "GB", "NL": "NL", "DE": "DE"}
