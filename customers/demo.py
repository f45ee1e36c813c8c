"""A believable demo shop (customers, consents, catalogue, orders, carts, events).

Everything is drawn from one ``random.Random(seed)`` and dated relative to ``now``, so the
same seed and ``now`` give the same shop. Rows go in with ``bulk_create``: no per-row
``save()``, no domain signals (loading a demo must not fire campaigns or messages), and the
customer stats are recomputed once, set-based, at the end.
"""

import random
import unicodedata
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import ProtectedError, RestrictedError
from django.utils import timezone

from customers.models import (
    Cart,
    CartItem,
    Category,
    Consent,
    Customer,
    Event,
    Order,
    OrderItem,
    Product,
    Purchase,
)
from customers.services import recompute_customer_stats, recompute_purchases

CUSTOMER_PREFIX = "demo-cust-"
ORDER_PREFIX = "demo-order-"
CART_PREFIX = "demo-cart-"
BATCH_SIZE = 1000


class DemoDataError(Exception):
    """The demo shop cannot be loaded as asked; the message says why and what to do."""


class DemoDataExists(DemoDataError):
    pass


class DemoDataInUse(DemoDataError):
    pass


# --- the world the customers live in -------------------------------------------------------


@dataclass(frozen=True)
class City:
    name: str
    country: str
    timezone: str
    language: str
    latitude: float
    longitude: float
    phone_prefixes: tuple[str, ...]  # E.164 up to the subscriber number
    phone_digits: int
    weight: int


CITIES: tuple[City, ...] = (
    City("Dublin", "IE", "Europe/Dublin", "en", 53.3498, -6.2603,
         ("+35383", "+35385", "+35387"), 7, 8),
    City("Cork", "IE", "Europe/Dublin", "en", 51.8985, -8.4756, ("+35386", "+35389"), 7, 3),
    City("London", "GB", "Europe/London", "en", 51.5072, -0.1276, ("+4477", "+4479"), 8, 10),
    City("Manchester", "GB", "Europe/London", "en", 53.4808, -2.2426, ("+4475", "+4478"), 8, 4),
    City("New York", "US", "America/New_York", "en", 40.7128, -74.0060,
         ("+1212", "+1646", "+1917"), 7, 10),
    City("Los Angeles", "US", "America/Los_Angeles", "en", 34.0522, -118.2437,
         ("+1213", "+1310", "+1323"), 7, 7),
    City("Chicago", "US", "America/Chicago", "en", 41.8781, -87.6298, ("+1312", "+1773"), 7, 5),
    City("Toronto", "CA", "America/Toronto", "en", 43.6532, -79.3832, ("+1416", "+1647"), 7, 4),
    City("Berlin", "DE", "Europe/Berlin", "de", 52.5200, 13.4050,
         ("+49151", "+49160", "+49176"), 8, 8),
    City("Munich", "DE", "Europe/Berlin", "de", 48.1351, 11.5820, ("+49152", "+49171"), 8, 4),
    City("Paris", "FR", "Europe/Paris", "fr", 48.8566, 2.3522, ("+336", "+337"), 8, 7),
    City("Lyon", "FR", "Europe/Paris", "fr", 45.7640, 4.8357, ("+336",), 8, 2),
    City("Madrid", "ES", "Europe/Madrid", "es", 40.4168, -3.7038, ("+346",), 8, 4),
    City("Milan", "IT", "Europe/Rome", "it", 45.4642, 9.1900, ("+39333", "+39347"), 7, 4),
    City("Tokyo", "JP", "Asia/Tokyo", "ja", 35.6762, 139.6503, ("+8190", "+8180"), 8, 6),
    City("Osaka", "JP", "Asia/Tokyo", "ja", 34.6937, 135.5023, ("+8190", "+8170"), 8, 3),
    City("Dubai", "AE", "Asia/Dubai", "ar", 25.2048, 55.2708, ("+97150", "+97155"), 7, 4),
    City("Sydney", "AU", "Australia/Sydney", "en", -33.8688, 151.2093, ("+614",), 8, 4),
    City("São Paulo", "BR", "America/Sao_Paulo", "pt", -23.5505, -46.6333, ("+55119",), 8, 3),
)  # fmt: skip
BERLIN = next(city for city in CITIES if city.name == "Berlin")
NEW_BERLINER_PHONES = ("pixel-9", "iphone-16", "galaxy-s25")

# (first names, last names) per country.
NAMES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "IE": (
        ("Aoife", "Ciara", "Niamh", "Saoirse", "Siobhán", "Orla", "Sinéad", "Aisling",
         "Conor", "Seán", "Cian", "Darragh", "Oisín", "Patrick", "Eoin", "Liam"),
        ("Murphy", "Kelly", "O'Sullivan", "Walsh", "Byrne", "Ryan", "O'Brien", "Doyle",
         "McCarthy", "Gallagher", "O'Connor", "Kennedy", "Lynch", "Murray", "Quinn", "Dunne"),
    ),
    "GB": (
        ("Olivia", "Amelia", "Isla", "Emily", "Sophie", "Charlotte", "Harriet", "Grace",
         "Oliver", "George", "Harry", "Jack", "Thomas", "James", "William", "Alfie"),
        ("Smith", "Jones", "Taylor", "Brown", "Williams", "Wilson", "Evans", "Roberts",
         "Wright", "Walker", "Hughes", "Green", "Clarke", "Hall", "Patel", "Khan"),
    ),
    "US": (
        ("Emma", "Ava", "Madison", "Abigail", "Mia", "Harper", "Zoe", "Maya", "Ethan",
         "Mason", "Logan", "Jacob", "Michael", "Daniel", "Tyler", "Carlos", "Aiden", "Jamal"),
        ("Johnson", "Williams", "Brown", "Garcia", "Miller", "Davis", "Rodriguez", "Martinez",
         "Anderson", "Thompson", "Lee", "Nguyen", "Kim", "Robinson", "Carter", "Hernandez"),
    ),
    "CA": (
        ("Olivia", "Charlotte", "Chloé", "Emma", "Priya", "Amelia", "Noah", "Liam",
         "Benjamin", "Lucas", "Ethan", "Wei", "Mathieu", "Owen"),
        ("Tremblay", "Smith", "Roy", "Wilson", "MacDonald", "Gagnon", "Campbell", "Li",
         "Singh", "Martin", "Brown", "Taylor", "Côté", "Chen"),
    ),
    "DE": (
        ("Anna", "Lena", "Lea", "Hannah", "Marie", "Sophie", "Katharina", "Julia", "Lukas",
         "Leon", "Jonas", "Felix", "Maximilian", "Paul", "Tobias", "Jan"),
        ("Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker",
         "Schulz", "Hoffmann", "Koch", "Richter", "Klein", "Wolf", "Schröder", "Neumann"),
    ),
    "FR": (
        ("Camille", "Léa", "Manon", "Chloé", "Inès", "Juliette", "Élise", "Louise", "Hugo",
         "Lucas", "Louis", "Gabriel", "Arthur", "Théo", "Antoine", "Mathis"),
        ("Martin", "Bernard", "Dubois", "Thomas", "Robert", "Richard", "Petit", "Durand",
         "Leroy", "Moreau", "Simon", "Laurent", "Lefebvre", "Michel", "Garnier", "Fontaine"),
    ),
    "ES": (
        ("Lucía", "María", "Paula", "Martina", "Carmen", "Sara", "Alba", "Elena", "Hugo",
         "Pablo", "Alejandro", "Daniel", "Javier", "Álvaro", "Diego", "Sergio"),
        ("García", "Fernández", "González", "Rodríguez", "López", "Martínez", "Sánchez",
         "Pérez", "Gómez", "Martín", "Jiménez", "Ruiz", "Díaz", "Moreno", "Álvarez", "Romero"),
    ),
    "IT": (
        ("Giulia", "Sofia", "Aurora", "Alice", "Ginevra", "Chiara", "Francesca", "Elena",
         "Leonardo", "Francesco", "Alessandro", "Lorenzo", "Matteo", "Andrea", "Marco", "Luca"),
        ("Rossi", "Russo", "Ferrari", "Esposito", "Bianchi", "Romano", "Colombo", "Ricci",
         "Marino", "Greco", "Bruno", "Gallo", "Conti", "De Luca", "Costa", "Giordano"),
    ),
    "JP": (
        ("Yui", "Hina", "Sakura", "Aoi", "Mei", "Yuna", "Haruka", "Riko", "Haruto", "Sota",
         "Yuto", "Ren", "Kaito", "Takumi", "Hiroshi", "Kenji"),
        ("Sato", "Suzuki", "Takahashi", "Tanaka", "Watanabe", "Ito", "Yamamoto", "Nakamura",
         "Kobayashi", "Kato", "Yoshida", "Yamada", "Sasaki", "Matsumoto", "Inoue", "Kimura"),
    ),
    "AE": (
        ("Fatima", "Aisha", "Mariam", "Noura", "Layla", "Hessa", "Shamma", "Reem",
         "Mohammed", "Ahmed", "Khalid", "Omar", "Saeed", "Rashid", "Hamdan", "Yousef"),
        ("Al Mansouri", "Al Hashimi", "Al Nuaimi", "Al Shamsi", "Al Ketbi", "Al Mazrouei",
         "Al Suwaidi", "Al Falasi", "Al Dhaheri", "Al Qasimi", "Al Marri", "Al Blooshi"),
    ),
    "AU": (
        ("Charlotte", "Olivia", "Isla", "Mia", "Ruby", "Matilda", "Chloe", "Jack", "Oliver",
         "William", "Noah", "Lachlan", "Cooper", "Archie"),
        ("Smith", "Jones", "Williams", "Brown", "Wilson", "Taylor", "Nguyen", "Johnson",
         "Martin", "White", "Anderson", "Walker", "Kelly", "Mitchell"),
    ),
    "BR": (
        ("Ana", "Júlia", "Beatriz", "Mariana", "Larissa", "Camila", "Gabriela", "Helena",
         "João", "Pedro", "Lucas", "Gabriel", "Rafael", "Mateus", "Thiago", "Felipe"),
        ("Silva", "Santos", "Oliveira", "Souza", "Rodrigues", "Ferreira", "Alves", "Pereira",
         "Lima", "Gomes", "Costa", "Ribeiro", "Carvalho", "Almeida", "Araújo", "Barbosa"),
    ),
}  # fmt: skip

# Reserved for documentation (RFC 2606), so messages sent from a demo never reach anyone.
EMAIL_DOMAINS = ("example.com", "example.org", "example.net", "mail.example.com")

# --- the catalogue -------------------------------------------------------------------------

# (source_id, name, parent source_id)
CATEGORIES: tuple[tuple[str, str, str | None], ...] = (
    ("women", "Women", None),
    ("men", "Men", None),
    ("kids", "Kids", None),
    ("shoes", "Shoes", None),
    ("electronics", "Electronics", None),
    ("phones", "Phones", "electronics"),
    ("audio", "Audio", "electronics"),
    ("computers", "Computers & tablets", "electronics"),
    ("home", "Home", None),
    ("kitchen", "Kitchen", "home"),
    ("beauty", "Beauty", None),
    ("sports", "Sports & outdoors", None),
)

# (source_id, name, category source_id, price in minor units)
PRODUCTS: tuple[tuple[str, str, str, int], ...] = (
    ("women-linen-dress", "Linen midi dress", "women", 6900),
    ("women-denim-jacket", "Denim jacket", "women", 7900),
    ("women-cashmere-sweater", "Cashmere sweater", "women", 12900),
    ("women-silk-blouse", "Silk blouse", "women", 5900),
    ("women-wide-leg-trousers", "Wide-leg trousers", "women", 4900),
    ("women-raincoat", "Hooded raincoat", "women", 11900),
    ("women-yoga-leggings", "Yoga leggings", "women", 3900),
    ("women-leather-tote", "Leather tote bag", "women", 14900),
    ("men-oxford-shirt", "Oxford shirt", "men", 4900),
    ("men-slim-chinos", "Slim chinos", "men", 5500),
    ("men-wool-overcoat", "Wool overcoat", "men", 19900),
    ("men-merino-crew", "Merino crew neck", "men", 7900),
    ("men-pique-polo", "Piqué polo", "men", 3500),
    ("men-puffer-jacket", "Puffer jacket", "men", 12900),
    ("men-leather-belt", "Leather belt", "men", 2900),
    ("men-swim-shorts", "Swim shorts", "men", 2900),
    ("kids-hoodie", "Kids' hoodie", "kids", 2900),
    ("kids-rain-boots", "Kids' rain boots", "kids", 2400),
    ("kids-dino-pyjamas", "Dinosaur pyjamas", "kids", 1900),
    ("kids-school-backpack", "School backpack", "kids", 3900),
    ("kids-fire-station", "LEGO City fire station", "kids", 7999),
    ("kids-teddy-bear", "Plush teddy bear", "kids", 1999),
    ("kids-puzzle-100", "100-piece puzzle", "kids", 1299),
    ("kids-kick-scooter", "Kick scooter", "kids", 5999),
    ("kids-baby-bodysuits", "Baby bodysuits (3-pack)", "kids", 1799),
    ("shoes-running", "Running shoes", "shoes", 11900),
    ("shoes-white-sneakers", "White leather sneakers", "shoes", 8900),
    ("shoes-chelsea-boots", "Chelsea boots", "shoes", 14900),
    ("shoes-sandals", "Leather sandals", "shoes", 4900),
    ("shoes-trail", "Trail running shoes", "shoes", 12900),
    ("shoes-suede-loafers", "Suede loafers", "shoes", 9900),
    ("shoes-wool-slippers", "Wool slippers", "shoes", 3900),
    ("pixel-9", "Pixel 9", "phones", 79900),
    ("pixel-9-pro", "Pixel 9 Pro", "phones", 99900),
    ("iphone-16", "iPhone 16", "phones", 79900),
    ("iphone-16-pro", "iPhone 16 Pro", "phones", 99900),
    ("galaxy-s25", "Galaxy S25", "phones", 79999),
    ("galaxy-s25-ultra", "Galaxy S25 Ultra", "phones", 129999),
    ("phone-case", "Silicone phone case", "phones", 2900),
    ("usb-c-charger-30w", "30 W USB-C charger", "phones", 2499),
    ("airpods-pro-2", "AirPods Pro 2", "audio", 24900),
    ("sony-wh-1000xm5", "Sony WH-1000XM5 headphones", "audio", 39999),
    ("pixel-buds-pro-2", "Pixel Buds Pro 2", "audio", 22900),
    ("sonos-era-100", "Sonos Era 100", "audio", 24900),
    ("jbl-flip-6", "JBL Flip 6 speaker", "audio", 12999),
    ("macbook-air-13", 'MacBook Air 13"', "computers", 109900),
    ("ipad-air", "iPad Air", "computers", 59900),
    ("galaxy-tab-s10", "Galaxy Tab S10", "computers", 89999),
    ("kindle-paperwhite", "Kindle Paperwhite", "computers", 15999),
    ("mx-master-3s", "Logitech MX Master 3S", "computers", 9999),
    ("home-down-duvet", "Down duvet", "home", 14900),
    ("home-bath-towels", "Bath towel set", "home", 3900),
    ("home-scented-candle", "Scented candle", "home", 2400),
    ("home-linen-sheets", "Linen bed sheets", "home", 11900),
    ("home-table-lamp", "Ceramic table lamp", "home", 6900),
    ("home-knitted-throw", "Knitted throw", "home", 5900),
    ("kitchen-chef-knife", "Chef's knife", "kitchen", 8900),
    ("kitchen-dutch-oven", "Cast-iron Dutch oven", "kitchen", 12900),
    ("kitchen-espresso-machine", "Espresso machine", "kitchen", 34900),
    ("kitchen-coffee-beans", "Coffee beans, 1 kg", "kitchen", 2900),
    ("kitchen-blender", "High-speed blender", "kitchen", 14900),
    ("kitchen-stoneware-mugs", "Stoneware mugs (set of 4)", "kitchen", 3600),
    ("beauty-vitamin-c-serum", "Vitamin C serum", "beauty", 3400),
    ("beauty-moisturiser", "Daily moisturiser", "beauty", 2800),
    ("beauty-eau-de-parfum", "Eau de parfum, 50 ml", "beauty", 8900),
    ("beauty-matte-lipstick", "Matte lipstick", "beauty", 2200),
    ("beauty-hair-dryer", "Supersonic hair dryer", "beauty", 29900),
    ("beauty-spf50", "SPF 50 sunscreen", "beauty", 1900),
    ("beauty-repair-shampoo", "Repair shampoo", "beauty", 1600),
    ("sports-yoga-mat", "Yoga mat", "sports", 3900),
    ("sports-dumbbells", "Adjustable dumbbells", "sports", 19900),
    ("sports-bike-helmet", "Bike helmet", "sports", 6900),
    ("sports-water-bottle", "Insulated water bottle", "sports", 2900),
    ("sports-tent", "Two-person tent", "sports", 22900),
)

# Shopping interests: a customer leans to one or two; the kids one drives the parents' segment.
INTERESTS: dict[str, tuple[str, ...]] = {
    "women": ("women", "shoes", "beauty"),
    "men": ("men", "shoes"),
    "kids": ("kids",),
    "tech": ("phones", "audio", "computers"),
    "home": ("home", "kitchen"),
    "beauty": ("beauty",),
    "sports": ("sports", "shoes"),
}
INTEREST_WEIGHTS = {"women": 26, "men": 20, "kids": 16, "tech": 16, "home": 12, "beauty": 6}
INTEREST_WEIGHTS["sports"] = 4

SEARCHES: dict[str, tuple[str, ...]] = {
    "women": ("summer dress", "linen", "raincoat", "cashmere"),
    "men": ("chinos", "overcoat", "merino", "polo shirt"),
    "kids": ("lego", "pyjamas", "school bag", "scooter"),
    "shoes": ("running shoes", "sneakers", "boots size 42"),
    "phones": ("pixel 9", "iphone 16", "galaxy s25", "usb-c charger"),
    "audio": ("headphones", "airpods", "speaker"),
    "computers": ("macbook", "ipad", "kindle"),
    "home": ("duvet", "towels", "candle"),
    "kitchen": ("espresso", "knife", "coffee"),
    "beauty": ("serum", "sunscreen", "perfume"),
    "sports": ("yoga mat", "dumbbells", "tent"),
}

# Who a customer is as a buyer: (weight, how many orders).
PROFILES: dict[str, tuple[int, tuple[int, int]]] = {
    "browser": (20, (0, 0)),
    "one_off": (24, (1, 1)),
    "regular": (33, (2, 6)),
    "lapsed": (7, (2, 6)),
    "loyal": (12, (7, 15)),
    "vip": (4, (10, 22)),
}

# Share of customers per purpose: (granted now, granted then withdrawn, refused at sign-up).
CONSENT_RATES: dict[str, tuple[float, float, float]] = {
    Consent.Purpose.EMAIL: (0.62, 0.10, 0.13),
    Consent.Purpose.SMS: (0.30, 0.07, 0.30),
    Consent.Purpose.PUSH: (0.35, 0.08, 0.20),
    Consent.Purpose.TRACKING: (0.55, 0.08, 0.22),
}
CONSENT_SOURCES = ("signup_form", "checkout", "mobile_app", "preference_center")

HISTORY_DAYS = 395  # 13 months of orders
SIGNUP_DAYS = 730
RECENT_DAYS = 90
FREE_SHIPPING_FROM = 5000
SHIPPING = 495

Line = tuple[str, int, int]  # product source_id, quantity, unit price


@dataclass
class DemoSummary:
    customers: int = 0
    consents: int = 0
    categories: int = 0
    products: int = 0
    orders: Counter = field(default_factory=Counter)
    order_items: int = 0
    carts: Counter = field(default_factory=Counter)
    cart_items: int = 0
    events: Counter = field(default_factory=Counter)
    extensions: list[str] = field(default_factory=list)


@dataclass
class _Shopper:
    customer: Customer
    city: City
    profile: str
    categories: tuple[str, ...]
    is_new: bool = False
    tracking_since: datetime | None = None
    email_granted_at: datetime | None = None
    push_granted: bool = False
    paid_orders: list[tuple[datetime, list[str]]] = field(default_factory=list)


# --- public entry points -------------------------------------------------------------------


def demo_customers_count() -> int:
    return Customer.objects.filter(source_id__startswith=CUSTOMER_PREFIX).count()


def demo_data_exists() -> bool:
    return (
        Customer.objects.filter(source_id__startswith=CUSTOMER_PREFIX).exists()
        or Order.objects.filter(source_id__startswith=ORDER_PREFIX).exists()
        or Cart.objects.filter(source_id__startswith=CART_PREFIX).exists()
    )


def delete_demo_data() -> None:
    """Delete demo customers, orders and carts (with their consents, events and items).

    The catalogue stays: the shop's own orders may reference the same products.
    Raises DemoDataInUse when other data still points at a demo customer or order.
    """
    try:
        with transaction.atomic():
            customers = Customer.objects.filter(source_id__startswith=CUSTOMER_PREFIX)
            # Leaf rows first, as single DELETE statements: the cascade would load them all.
            Event.objects.filter(customer__in=customers).delete()
            Consent.objects.filter(customer__in=customers).delete()
            CartItem.objects.filter(cart__source_id__startswith=CART_PREFIX).delete()
            Cart.objects.filter(source_id__startswith=CART_PREFIX).delete()
            Purchase.objects.filter(order__source_id__startswith=ORDER_PREFIX).delete()
            OrderItem.objects.filter(order__source_id__startswith=ORDER_PREFIX).delete()
            # Orders protect their customer, so they go before it.
            Order.objects.filter(source_id__startswith=ORDER_PREFIX).delete()
            customers.delete()
    except (ProtectedError, RestrictedError) as exc:
        blockers = sorted({obj._meta.label for obj in exc.args[1]})
        raise DemoDataInUse(
            "Demo customers or orders are referenced by other data "
            f"({', '.join(blockers)}); remove that first."
        ) from exc


@transaction.atomic
def build_demo_shop(
    *,
    seed: int = 42,
    customers: int = 2000,
    now: datetime | None = None,
    reset: bool = False,
    extensions: bool = True,
) -> DemoSummary:
    """Load the demo shop, the same one for the same ``seed`` and ``now``.

    ``extensions`` adds what other apps register on top (demo segments, ...). Raises
    DemoDataExists when demo data is already there and ``reset`` is false, and
    DemoDataInUse when ``reset`` cannot delete it.
    """
    if customers < 1:
        raise DemoDataError("The demo shop needs at least one customer.")
    if demo_data_exists():
        if not reset:
            raise DemoDataExists(
                f"The database already holds the demo shop ({demo_customers_count()} demo "
                "customers). Run with --reset to replace it."
            )
        delete_demo_data()
    now = now or timezone.now()
    builder = _ShopBuilder(rng=random.Random(seed), now=now, currency=settings.OFFERWISE_CURRENCY)
    summary = builder.build(customers)
    if extensions:
        summary.extensions = [extend(now=now) for extend in DEMO_EXTENSIONS]
    return summary


# Later apps add their own demo data (segments, campaigns, ...) on top of the shop: each
# function receives ``now`` and returns a one-line summary for the command to print.
DEMO_EXTENSIONS: list[Callable[..., str]] = []


def register_demo_extension(extend: Callable[..., str]) -> None:
    if extend not in DEMO_EXTENSIONS:
        DEMO_EXTENSIONS.append(extend)


# --- the builder ---------------------------------------------------------------------------


def _ascii(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "".join(ch for ch in folded.lower() if ch.isalnum())


class _ShopBuilder:
    def __init__(self, *, rng: random.Random, now: datetime, currency: str) -> None:
        self.rng = rng
        self.now = now
        self.currency = currency
        self.summary = DemoSummary()
        self.products: dict[str, Product] = {}
        self.by_category: dict[str, list[str]] = {}
        self.buy_weights: dict[str, list[float]] = {}
        self.price_of: dict[str, int] = {}

    def build(self, count: int) -> DemoSummary:
        self._catalogue()
        shoppers = self._customers(count)
        self._consents(shoppers)
        orders = self._orders(shoppers)
        self._carts(shoppers, orders)
        self._events(shoppers)
        recompute_customer_stats()
        recompute_purchases(
            customer_ids=Customer.objects.filter(source_id__startswith=CUSTOMER_PREFIX).values("pk")
        )
        return self.summary

    # helpers

    def _ago(self, *, days: float = 0, hours: float = 0) -> datetime:
        return self.now - timedelta(seconds=int((days * 24 + hours) * 3600))

    def _between(self, start: datetime, end: datetime) -> datetime:
        span = max(0, int((end - start).total_seconds()))
        return start + timedelta(seconds=self.rng.randint(0, span))

    def _pick_product(self, categories: tuple[str, ...]) -> str:
        rng = self.rng
        if rng.random() < 0.8:
            category = rng.choice(categories)
        else:
            category = rng.choice(list(self.by_category))
        # Cheap things sell more often than flagship phones.
        return rng.choices(self.by_category[category], self.buy_weights[category])[0]

    def _lines(self, categories: tuple[str, ...], *, big: bool = False) -> list[Line]:
        rng = self.rng
        skus: list[str] = []
        if big:
            skus.append(rng.choice(self.by_category[rng.choice(("phones", "computers", "audio"))]))
        for _ in range(rng.choices((1, 2, 3, 4), weights=(45, 30, 17, 8))[0]):
            sku = self._pick_product(categories)
            if sku not in skus:
                skus.append(sku)
        lines = []
        for sku in skus:
            price = self.price_of[sku]
            quantity = 1 if price > 5000 else rng.choices((1, 2, 3), weights=(75, 20, 5))[0]
            lines.append((sku, quantity, price))
        return lines

    # catalogue

    def _catalogue(self) -> None:
        ids = [sid for sid, _, _ in CATEGORIES]
        existing = {c.source_id: c for c in Category.objects.filter(source_id__in=ids)}
        new = [
            Category(source_id=sid, name=name) for sid, name, _ in CATEGORIES if sid not in existing
        ]
        Category.objects.bulk_create(new)
        categories = {**existing, **{c.source_id: c for c in new}}
        parents = {sid: parent for sid, _, parent in CATEGORIES}
        for category in new:
            parent = parents[category.source_id]
            category.parent = categories[parent] if parent else None
        Category.objects.bulk_update([c for c in new if c.parent], ["parent"])
        self.summary.categories = len(new)

        skus = [sku for sku, _, _, _ in PRODUCTS]
        self.products = {p.source_id: p for p in Product.objects.filter(source_id__in=skus)}
        new_products = [
            Product(
                source_id=sku,
                name=name,
                category=categories[category],
                price=price,
                currency=self.currency,
                created_at=self.now - timedelta(days=SIGNUP_DAYS),
            )
            for sku, name, category, price in PRODUCTS
            if sku not in self.products
        ]
        Product.objects.bulk_create(new_products)
        self.products.update({p.source_id: p for p in new_products})
        self.summary.products = len(new_products)
        for sku, _, category, price in PRODUCTS:
            self.by_category.setdefault(category, []).append(sku)
            self.buy_weights.setdefault(category, []).append(price**-0.8)
            self.price_of[sku] = price

    # customers

    def _customers(self, count: int) -> list[_Shopper]:
        rng = self.rng
        # The newest customers are Berlin sign-ups of this week who left a cart behind: the
        # demo's "recover abandoned carts by SMS" audience.
        new_berliners = min(count, max(1, count // 100))
        weights = [city.weight for city in CITIES]
        profiles = list(PROFILES)
        profile_weights = [PROFILES[p][0] for p in profiles]
        interests = list(INTEREST_WEIGHTS)
        interest_weights = list(INTEREST_WEIGHTS.values())
        emails: set[str] = set()
        shoppers = []
        for n in range(1, count + 1):
            is_new_berliner = n > count - new_berliners
            city = BERLIN if is_new_berliner else rng.choices(CITIES, weights=weights)[0]
            firsts, lasts = NAMES[city.country]
            first, last = rng.choice(firsts), rng.choice(lasts)
            email = self._email(first, last, n, emails)
            has_phone = is_new_berliner or rng.random() < 0.6
            phone = ""
            if has_phone:
                digits = "".join(str(rng.randint(0, 9)) for _ in range(city.phone_digits))
                phone = rng.choice(city.phone_prefixes) + digits
            birthdate = None
            if rng.random() < 0.78:
                birthdate = date(self.now.year - rng.randint(18, 75), 1, 1) + timedelta(
                    days=rng.randint(0, 364)
                )
            if is_new_berliner:
                created_at = self._ago(days=rng.uniform(0.2, 7))
                profile = "browser"
            else:
                created_at = self._ago(days=rng.uniform(0, SIGNUP_DAYS))
                profile = rng.choices(profiles, weights=profile_weights)[0]
            picked = rng.choices(interests, weights=interest_weights, k=2)
            categories = tuple(dict.fromkeys(c for i in picked for c in INTERESTS[i]))
            customer = Customer(
                source_id=f"{CUSTOMER_PREFIX}{n:05d}",
                first_name=first,
                last_name=last,
                email=email,
                phone=phone,
                birthdate=birthdate,
                # bulk_create skips Customer.save(), which derives this.
                birthday_mmdd=birthdate.month * 100 + birthdate.day if birthdate else None,
                timezone=city.timezone,
                language=city.language,
                country=city.country,
                city=city.name,
                latitude=round(city.latitude + rng.gauss(0, 0.04), 5),
                longitude=round(city.longitude + rng.gauss(0, 0.06), 5),
                metadata={
                    "demo": True,
                    "acquisition": rng.choice(
                        ("organic", "instagram", "google_ads", "referral", "newsletter")
                    ),
                },
                created_at=created_at,
            )
            shoppers.append(_Shopper(customer, city, profile, categories, is_new_berliner))
        Customer.objects.bulk_create([s.customer for s in shoppers], batch_size=BATCH_SIZE)
        self.summary.customers = len(shoppers)
        return shoppers

    def _email(self, first: str, last: str, n: int, taken: set[str]) -> str:
        rng = self.rng
        first, last = _ascii(first), _ascii(last)
        local = rng.choice(
            (
                f"{first}.{last}",
                f"{first}{last}{rng.randint(1, 99)}",
                f"{first[0]}.{last}",
                f"{first}_{last}",
                f"{last}.{first}{rng.randint(70, 99)}",
            )
        )
        email = f"{local}@{rng.choice(EMAIL_DOMAINS)}"
        if email in taken:
            email = f"{local}.{n}@{rng.choice(EMAIL_DOMAINS)}"
        taken.add(email)
        return email

    # consents

    def _consents(self, shoppers: list[_Shopper]) -> None:
        rng = self.rng
        rows = []
        for shopper in shoppers:
            customer = shopper.customer
            signup = customer.created_at
            for purpose, (granted, withdrawn, refused) in CONSENT_RATES.items():
                if purpose == Consent.Purpose.SMS and not customer.phone:
                    continue
                if purpose == Consent.Purpose.SMS and customer.city == BERLIN.name:
                    # The new Berliners' abandoned carts are meant to be recoverable by SMS.
                    granted, withdrawn = granted + 0.3, withdrawn / 2
                roll = rng.random()
                source = rng.choice(CONSENT_SOURCES)
                asked_at = signup + timedelta(seconds=rng.randint(5, 600))
                if rng.random() < 0.25:
                    asked_at = self._between(signup, self.now)
                consent = Consent(customer=customer, purpose=purpose, source=source)
                if roll < granted:
                    consent.granted = True
                    consent.granted_at = asked_at
                    if rng.random() < 0.06 and asked_at < self.now - timedelta(days=2):
                        # Withdrawn once, then granted again: the latest grant is what counts.
                        consent.withdrawn_at = asked_at
                        consent.granted_at = self._between(asked_at, self.now)
                elif roll < granted + withdrawn:
                    consent.granted = False
                    consent.granted_at = asked_at
                    consent.withdrawn_at = self._between(asked_at, self.now)
                elif roll < granted + withdrawn + refused:
                    # set_consents records a first "no" as a withdrawal with its time.
                    consent.granted = False
                    consent.withdrawn_at = asked_at
                else:
                    continue
                rows.append(consent)
                if consent.granted:
                    if purpose == Consent.Purpose.TRACKING:
                        shopper.tracking_since = consent.granted_at
                    elif purpose == Consent.Purpose.EMAIL:
                        shopper.email_granted_at = consent.granted_at
                    elif purpose == Consent.Purpose.PUSH:
                        shopper.push_granted = True
        Consent.objects.bulk_create(rows, batch_size=BATCH_SIZE)
        self.summary.consents = len(rows)

    # orders

    def _order_dates(self, shopper: _Shopper, count: int) -> list[datetime]:
        rng = self.rng
        start = max(shopper.customer.created_at + timedelta(hours=1), self._ago(days=HISTORY_DAYS))
        end = self.now
        quiet_since = self._ago(days=RECENT_DAYS + 10 + rng.uniform(0, 60))
        if shopper.profile == "lapsed" and start < quiet_since - timedelta(days=14):
            # Bought, then went quiet for three months or more.
            end = quiet_since
        recent = max(start, self._ago(days=RECENT_DAYS))
        dates = []
        for _ in range(count):
            if end == self.now and rng.random() < 0.5:
                dates.append(self._between(recent, end))
            else:
                dates.append(self._between(start, end))
        return dates

    def _orders(self, shoppers: list[_Shopper]) -> list[tuple[Order, list[Line]]]:
        rng = self.rng
        planned = []
        for index, shopper in enumerate(shoppers):
            low, high = PROFILES[shopper.profile][1]
            count = rng.randint(low, high)
            if not count or shopper.customer.created_at > self._ago(hours=2):
                continue
            for created_at in self._order_dates(shopper, count):
                big = shopper.profile == "vip" and rng.random() < 0.45
                planned.append((created_at, index, self._lines(shopper.categories, big=big)))
        # Order numbers grow with time, as a shop's would.
        planned.sort(key=lambda item: (item[0], item[1]))

        orders = []
        for number, (created_at, index, lines) in enumerate(planned, start=1):
            shopper = shoppers[index]
            items_amount = sum(quantity * price for _, quantity, price in lines)
            discount = 0
            if rng.random() < 0.15:
                discount = min(items_amount, rng.choice((500, 1000, items_amount // 10)))
            shipping = 0 if items_amount >= FREE_SHIPPING_FROM else SHIPPING
            order = Order(
                source_id=f"{ORDER_PREFIX}{number:06d}",
                customer=shopper.customer,
                currency=self.currency,
                items_amount=items_amount,
                discount_amount=discount,
                shipping_amount=shipping,
                total_amount=items_amount - discount + shipping,
                metadata={"channel": rng.choices(("web", "app", "store"), (60, 30, 10))[0]},
                created_at=created_at,
            )
            self._settle(order)
            if order.status == Order.Status.PAID:
                shopper.paid_orders.append((created_at, [sku for sku, _, _ in lines]))
            self.summary.orders[order.status] += 1
            orders.append((order, lines))
        Order.objects.bulk_create([o for o, _ in orders], batch_size=BATCH_SIZE)
        items = [
            OrderItem(
                order=order,
                product=self.products[sku],
                category_id=self.products[sku].category_id,
                quantity=quantity,
                unit_price=price,
                amount=quantity * price,
            )
            for order, lines in orders
            for sku, quantity, price in lines
        ]
        OrderItem.objects.bulk_create(items, batch_size=BATCH_SIZE)
        self.summary.order_items = len(items)
        return orders

    def _settle(self, order: Order) -> None:
        rng = self.rng
        created = order.created_at
        if created > self._ago(days=3) and rng.random() < 0.25:
            order.status = Order.Status.CREATED  # awaiting payment
            return
        roll = rng.random()
        if roll < 0.05:
            order.status = Order.Status.CANCELLED
            order.cancelled_at = min(self.now, created + timedelta(minutes=rng.randint(5, 600)))
            return
        order.status = Order.Status.PAID
        order.paid_at = min(self.now, created + timedelta(seconds=rng.randint(20, 900)))
        if roll < 0.11 and order.paid_at < self._ago(days=1):
            order.status = Order.Status.REFUNDED
            order.refunded_at = self._between(order.paid_at, min(self.now, created + timedelta(30)))

    # carts

    def _carts(
        self,
        shoppers: list[_Shopper],
        orders: list[tuple[Order, list[Line]]],
    ) -> None:
        rng = self.rng
        planned: list[tuple[Cart, list[Line]]] = []

        def add(cart: Cart, lines: list[Line], kind: str) -> None:
            cart.source_id = f"{CART_PREFIX}{len(planned) + 1:06d}"
            cart.currency = self.currency
            cart.items_amount = sum(quantity * price for _, quantity, price in lines)
            cart.items_count = sum(quantity for _, quantity, _ in lines)
            planned.append((cart, lines))
            self.summary.carts[kind] += 1

        recent = self._ago(days=60)
        for order, lines in orders:
            if (
                order.created_at >= recent
                and order.status != Order.Status.CREATED
                and rng.random() < 0.35
            ):
                cart = Cart(
                    customer=order.customer,
                    status=Cart.Status.CONVERTED,
                    order=order,
                    created_at=order.created_at - timedelta(minutes=rng.randint(3, 240)),
                    last_activity_at=order.created_at,
                )
                add(cart, lines, "converted")

        for shopper in shoppers:
            customer = shopper.customer
            roll = rng.random()
            if shopper.is_new:
                last = max(customer.created_at, self._ago(hours=rng.uniform(1.5, 48)))
                kind = "abandoned"
            elif roll < 0.04:
                last = max(customer.created_at, self._ago(hours=rng.uniform(0, 0.5)))
                kind = "live"
            elif roll < 0.12:
                last = max(customer.created_at, self._ago(hours=rng.uniform(2, 14 * 24)))
                kind = "abandoned"
            else:
                continue
            cart = Cart(
                customer=customer,
                status=Cart.Status.ACTIVE,
                created_at=max(customer.created_at, last - timedelta(minutes=rng.randint(1, 90))),
                last_activity_at=last,
            )
            lines = self._lines(shopper.categories)
            if shopper.is_new:
                # New Berliners left a phone behind: the "phone model in cart" segment.
                model = rng.choices(NEW_BERLINER_PHONES, weights=(50, 30, 20))[0]
                lines = [(model, 1, self.price_of[model])] + [
                    line for line in lines if line[0] != model
                ]
            add(cart, lines, kind)
        for _ in range(max(1, len(shoppers) // 200)):
            last = self._ago(hours=rng.uniform(0, 72))
            cart = Cart(
                customer=None,
                status=Cart.Status.ACTIVE,
                created_at=last - timedelta(minutes=rng.randint(1, 30)),
                last_activity_at=last,
            )
            add(cart, self._lines(rng.choice(list(INTERESTS.values()))), "guest")

        Cart.objects.bulk_create([c for c, _ in planned], batch_size=BATCH_SIZE)
        items = [
            CartItem(
                cart=cart,
                product=self.products[sku],
                quantity=quantity,
                unit_price=price,
                amount=quantity * price,
            )
            for cart, lines in planned
            for sku, quantity, price in lines
        ]
        CartItem.objects.bulk_create(items, batch_size=BATCH_SIZE)
        self.summary.cart_items = len(items)

    # events

    def _events(self, shoppers: list[_Shopper]) -> None:
        rows: list[Event] = []
        for shopper in shoppers:
            # Behaviour is recorded only with tracking consent, and only since it was given.
            if shopper.tracking_since is not None:
                self._browsing(shopper, rows)
            self._custom_events(shopper, rows)
        Event.objects.bulk_create(rows, batch_size=BATCH_SIZE)
        for row in rows:
            self.summary.events[row.kind] += 1

    def _browsing(self, shopper: _Shopper, rows: list[Event]) -> None:
        rng = self.rng
        customer = shopper.customer
        since = max(shopper.tracking_since, self._ago(days=RECENT_DAYS))
        sessions = {
            "browser": (2, 8),
            "one_off": (1, 5),
            "regular": (3, 10),
            "lapsed": (0, 2),
            "loyal": (6, 16),
            "vip": (8, 18),
        }[shopper.profile]

        def emit(name: str, at: datetime, properties: dict) -> None:
            rows.append(
                Event(
                    customer=customer,
                    name=name,
                    kind=Event.Kind.BEHAVIOURAL,
                    properties=properties,
                    occurred_at=min(at, self.now),
                )
            )

        def view_products(category: str, at: datetime, views: int) -> datetime:
            for _ in range(views):
                at += timedelta(seconds=rng.randint(15, 240))
                sku = rng.choice(self.by_category[category])
                emit("product_viewed", at, {"product_id": sku, "category": category})
            return at

        for _ in range(rng.randint(*sessions)):
            at = self._between(since, self.now)
            category = rng.choice(shopper.categories)
            if rng.random() < 0.4:
                emit("page_viewed", at, {"path": "/"})
            if rng.random() < 0.3:
                at += timedelta(seconds=rng.randint(5, 60))
                emit("search", at, {"query": rng.choice(SEARCHES[category])})
            else:
                at += timedelta(seconds=rng.randint(5, 60))
                emit("category_viewed", at, {"category": category})
            view_products(category, at, rng.randint(1, 4))
        if "kids" in shopper.categories and rng.random() < 0.7:
            # Parents shopping for their children this month: several visits to kids.
            month = max(since, self._ago(days=30))
            for _ in range(rng.randint(3, 5)):
                at = self._between(month, self.now)
                emit("category_viewed", at, {"category": "kids"})
                view_products("kids", at, rng.randint(0, 2))

    def _custom_events(self, shopper: _Shopper, rows: list[Event]) -> None:
        rng = self.rng
        customer = shopper.customer

        def emit(name: str, at: datetime, properties: dict) -> None:
            rows.append(
                Event(
                    customer=customer,
                    name=name,
                    kind=Event.Kind.CUSTOM,
                    properties=properties,
                    occurred_at=min(at, self.now),
                )
            )

        if shopper.email_granted_at and rng.random() < 0.3:
            emit("newsletter_signup", shopper.email_granted_at, {"list": "weekly"})
        if shopper.push_granted and rng.random() < 0.5:
            platform = rng.choice(("ios", "android"))
            emit(
                "app_installed",
                self._between(customer.created_at, self.now),
                {"platform": platform},
            )
        for ordered_at, skus in shopper.paid_orders:
            if rng.random() < 0.12:
                emit(
                    "review_written",
                    ordered_at + timedelta(days=rng.uniform(3, 20)),
                    {
                        "product_id": rng.choice(skus),
                        "rating": rng.choices((5, 4, 3, 2, 1), (45, 30, 12, 7, 6))[0],
                    },
                )
