"""Deterministic synthetic tenants for the Graph emulator (docs/contracts.md#emulator-fixture).

Everything comes from seeded ``random.Random`` streams (string seeds, hashed with SHA-512 by the
standard library, so the output does not depend on PYTHONHASHSEED, the platform or the clock):
the same arguments always give byte-identical JSON. Object ids come from their own streams
(one for users, one for groups), so changing how attributes are drawn never moves an id.

Library use::

    from bench.generate import make_tenant, make_fixture, partner
    tenant = make_tenant(tenant_id=..., display_name="Contoso EMEA", default_domain="contosoemea.onmicrosoft.com",
                         verified_domains=["emea.contoso.com"], n_users=120, n_groups=8, seed="emea", token="emea-token")

Command line (one source tenant with N users and one empty target tenant, policies set so that
automatic redemption works; optionally a matching sync configuration)::

    python -m bench.generate --users 100000 --groups 50 --seed 1 --out /tmp/bench.json --config /tmp/bench.yaml
"""

from __future__ import annotations

import argparse
import functools
import gc
import json
import random
import sys
import time
import unicodedata
import uuid
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

# --------------------------------------------------------------------------------------------
# Reference data: names (with their accents), places, departments
# --------------------------------------------------------------------------------------------

NAMES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "english": (
        ("Oliver", "Amelia", "James", "Olivia", "Harry", "Emily", "Jack", "Sophie", "George", "Isla",
         "Thomas", "Grace", "William", "Chloë", "Noah", "Zoë", "Liam", "Emma", "Ethan", "Siobhán"),
        ("Smith", "Jones", "Taylor", "Brown", "Williams", "Wilson", "Davies", "Robinson", "Wright",
         "Thompson", "Evans", "Walker", "White", "Roberts", "Green", "Hall", "O'Brien", "Murphy",
         "Kelly", "Clarke", "Hughes", "Ó Súilleabháin"),
    ),
    "american": (
        ("Michael", "Jennifer", "David", "Jessica", "Christopher", "Ashley", "Matthew", "Sarah",
         "Joshua", "Brittany", "Daniel", "Megan", "Tyler", "Madison", "Brandon", "Kayla", "Jamal",
         "Keisha", "DeShawn", "Aaliyah", "Renée", "André"),
        ("Miller", "Davis", "Anderson", "Jackson", "Harris", "Martin", "Thompson", "Moore", "Lee",
         "Walker", "Allen", "Young", "King", "Scott", "Washington", "Nguyen", "Kim", "Patel", "Chen",
         "Cohen", "McAllister", "St. John"),
    ),
    "german": (
        ("Lukas", "Anna", "Jürgen", "Lea", "Maximilian", "Sophie", "Felix", "Marie", "Jörg", "Hannah",
         "Björn", "Lena", "Paul", "Jana", "Günter", "Käthe", "Lars", "Änne"),
        ("Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker", "Schulz",
         "Hoffmann", "Schäfer", "Koch", "Bauer", "Richter", "Klein", "Wolf", "Schröder", "Neumann",
         "Krüger", "Hartmann", "Köhler", "Groß", "Weiß"),
    ),
    "french": (
        ("Léa", "Hugo", "Chloé", "Louis", "Inès", "Gabriel", "Manon", "Raphaël", "Camille", "Théo",
         "Élodie", "Jérôme", "Amélie", "François", "Hélène", "Noël", "Cécile", "Benoît", "Maëlle"),
        ("Martin", "Bernard", "Dubois", "Thomas", "Robert", "Richard", "Petit", "Durand", "Leroy",
         "Moreau", "Simon", "Laurent", "Lefèvre", "Michel", "Fontaine", "Chevalier", "Rousseau",
         "Girard", "Bonnet", "Mercier", "Lemaître", "Gauthier", "Besançon"),
    ),
    "spanish": (
        ("José", "María", "Sofía", "Martín", "Lucía", "Alejandro", "Paula", "Iñigo", "Ángel", "Begoña",
         "Javier", "Carmen", "Andrés", "Nuria", "Raúl", "Inés", "Óscar", "Ramón"),
        ("García", "Fernández", "González", "Rodríguez", "López", "Martínez", "Sánchez", "Pérez",
         "Gómez", "Jiménez", "Ruiz", "Hernández", "Díaz", "Moreno", "Muñoz", "Álvarez", "Romero",
         "Navarro", "Ibáñez", "Peña"),
    ),
    "portuguese": (
        ("João", "Inês", "Tomás", "Beatriz", "Gonçalo", "Leonor", "Rodrigo", "Matilde", "Simão",
         "Margarida"),
        ("Silva", "Santos", "Ferreira", "Pereira", "Oliveira", "Costa", "Rodrigues", "Martins",
         "Gonçalves", "Magalhães", "Araújo", "Conceição"),
    ),
    "italian": (
        ("Giulia", "Lorenzo", "Francesca", "Matteo", "Chiara", "Niccolò", "Alessandro", "Sofia",
         "Leonardo", "Martina", "Gabriele", "Aurora"),
        ("Rossi", "Russo", "Ferrari", "Esposito", "Bianchi", "Romano", "Colombo", "Ricci", "Marino",
         "Greco", "Bruno", "Gallo", "Conti", "De Luca", "Mancini", "Giordano", "Lombardi", "Fabbrò"),
    ),
    "dutch": (
        ("Daan", "Sanne", "Bram", "Lotte", "Sem", "Fleur", "Joost", "Anouk", "Ruben", "Maartje",
         "Thijs", "Eline"),
        ("de Jong", "Jansen", "de Vries", "van den Berg", "van Dijk", "Bakker", "Visser", "Smit",
         "Meijer", "de Boer", "Mulder", "Vermeulen", "van der Linden"),
    ),
    "nordic": (
        ("Åsa", "Björn", "Märta", "Sven", "Linnéa", "Erik", "Ingrid", "Göran", "Karin", "Oskar",
         "Bjørn", "Sølvi", "Øystein", "Ragnhild", "Søren", "Mette", "Åse", "Frederik"),
        ("Andersson", "Johansson", "Karlsson", "Nilsson", "Eriksson", "Lindqvist", "Lindström",
         "Åberg", "Söderberg", "Håkansson", "Hansen", "Haugen", "Sørensen", "Strøm", "Ødegård",
         "Bråten", "Pedersen", "Kjærgaard"),
    ),
    "finnish": (
        ("Aino", "Eetu", "Väinö", "Siiri", "Juha", "Päivi", "Mikko", "Sanna", "Jyrki", "Kaisa"),
        ("Korhonen", "Virtanen", "Mäkinen", "Nieminen", "Mäkelä", "Hämäläinen", "Laine",
         "Heikkinen", "Koskinen", "Järvinen"),
    ),
    "polish": (
        ("Łukasz", "Małgorzata", "Paweł", "Agnieszka", "Michał", "Katarzyna", "Wojciech", "Zofia",
         "Grzegorz", "Joanna", "Jędrzej", "Bartłomiej", "Ewa", "Krzysztof"),
        ("Nowak", "Kowalski", "Wiśniewski", "Wójcik", "Kowalczyk", "Kamiński", "Lewandowski",
         "Zieliński", "Szymański", "Woźniak", "Dąbrowski", "Kozłowski", "Mazur", "Krawczyk"),
    ),
    "czech": (
        ("Jiří", "Tereza", "Tomáš", "Lucie", "Jan", "Kateřina", "Petr", "Veronika", "Ondřej", "Markéta"),
        ("Novák", "Svoboda", "Novotný", "Dvořák", "Černý", "Procházka", "Kučera", "Veselý", "Horák",
         "Němec"),
    ),
    "turkish": (
        ("Ayşe", "Mehmet", "Zeynep", "Mustafa", "Elif", "Emre", "Gülşen", "Çağlar", "Şule", "Burak",
         "İrem", "Ömer"),
        ("Yılmaz", "Kaya", "Demir", "Şahin", "Çelik", "Yıldız", "Yıldırım", "Öztürk", "Aydın",
         "Özdemir", "Arslan", "Doğan"),
    ),
    "arabic": (
        ("Omar", "Fatima", "Ahmed", "Layla", "Youssef", "Mariam", "Khalid", "Noor", "Hassan", "Aisha",
         "Tariq", "Salma"),
        ("Al-Mansouri", "Haddad", "Khoury", "Nasser", "Farouk", "Hamdan", "Saleh", "Rahman", "Aziz",
         "Al-Hashimi"),
    ),
    "southafrican": (
        ("Thabo", "Naledi", "Sipho", "Lerato", "Pieter", "Anneke", "Johan", "Zanele"),
        ("Nkosi", "Dlamini", "Botha", "van der Merwe", "Naidoo", "Mokoena", "Pretorius", "Khumalo"),
    ),
    "indian": (
        ("Priya", "Arjun", "Ananya", "Rohan", "Aditi", "Vikram", "Neha", "Rahul", "Sneha", "Karthik"),
        ("Sharma", "Patel", "Iyer", "Reddy", "Gupta", "Nair", "Singh", "Menon", "Rao", "Kapoor"),
    ),
    "eastasian": (
        ("Wei", "Mei", "Jun", "Hiroshi", "Yuki", "Min-jun", "Seo-yeon", "Haruto", "Sakura", "Thảo"),
        ("Wang", "Li", "Zhang", "Liu", "Chen", "Tanaka", "Suzuki", "Kim", "Park", "Nguyễn", "Trần"),
    ),
}
CULTURES = tuple(NAMES)


@dataclass(frozen=True)
class Location:
    city: str
    state: str
    country: str
    usage_location: str            # ISO 3166 alpha-2, as Graph's usageLocation
    postal: str                    # pattern: '#' a digit, '?' an uppercase letter
    language: str                  # preferredLanguage (ISO 639-1 + ISO 3166, as Graph)
    cultures: tuple[str, ...]      # where local names come from (repeats weigh)
    phone: str                     # business phone pattern
    mobile: str                    # mobile phone pattern
    streets: tuple[str, ...]
    number_first: bool = False     # "221 Baker Street" rather than "Hauptstraße 12"


EMEA = (
    Location("London", "England", "United Kingdom", "GB", "EC#? #??", "en-GB", ("english",) * 3 + ("indian",),
             "+44 20 7946 0###", "+44 7700 900###", ("Baker Street", "King's Road", "Old Street", "Fleet Street"), True),
    Location("Manchester", "England", "United Kingdom", "GB", "M# #??", "en-GB", ("english",),
             "+44 161 496 0###", "+44 7700 900###", ("Deansgate", "Oxford Road", "Portland Street"), True),
    Location("Dublin", "Leinster", "Ireland", "IE", "D0# ?#??", "en-IE", ("english",),
             "+353 1 555 ####", "+353 85 ### ####", ("Grafton Street", "Sir John Rogerson's Quay"), True),
    Location("Paris", "Île-de-France", "France", "FR", "750##", "fr-FR", ("french",),
             "+33 1 ## ## ## ##", "+33 6 ## ## ## ##", ("Rue de Rivoli", "Avenue des Champs-Élysées", "Boulevard Haussmann"), True),
    Location("Lyon", "Auvergne-Rhône-Alpes", "France", "FR", "6900#", "fr-FR", ("french",),
             "+33 4 ## ## ## ##", "+33 7 ## ## ## ##", ("Rue de la République", "Quai Saint-Antoine"), True),
    Location("Berlin", "Berlin", "Germany", "DE", "10###", "de-DE", ("german",) * 3 + ("turkish",),
             "+49 30 #######", "+49 15# #######", ("Friedrichstraße", "Karl-Marx-Allee", "Unter den Linden")),
    Location("München", "Bayern", "Germany", "DE", "80###", "de-DE", ("german",),
             "+49 89 #######", "+49 17# #######", ("Leopoldstraße", "Maximilianstraße", "Sendlinger Straße")),
    Location("Zürich", "Zürich", "Switzerland", "CH", "80##", "de-CH", ("german",) * 2 + ("italian", "french"),
             "+41 44 ### ## ##", "+41 79 ### ## ##", ("Bahnhofstrasse", "Löwenstrasse")),
    Location("Amsterdam", "Noord-Holland", "Netherlands", "NL", "10## ??", "nl-NL", ("dutch",),
             "+31 20 ### ####", "+31 6 ########", ("Herengracht", "Damrak", "Keizersgracht")),
    Location("Stockholm", "Stockholms län", "Sweden", "SE", "11# ##", "sv-SE", ("nordic",),
             "+46 8 ### ### ##", "+46 70 ### ## ##", ("Drottninggatan", "Sveavägen", "Götgatan")),
    Location("Oslo", "Oslo", "Norway", "NO", "0###", "nb-NO", ("nordic",),
             "+47 22 ## ## ##", "+47 4## ## ###", ("Karl Johans gate", "Bogstadveien")),
    Location("København", "Hovedstaden", "Denmark", "DK", "1###", "da-DK", ("nordic",),
             "+45 33 ## ## ##", "+45 2# ## ## ##", ("Strøget", "Nørrebrogade")),
    Location("Helsinki", "Uusimaa", "Finland", "FI", "00###", "fi-FI", ("finnish",),
             "+358 9 ### ####", "+358 40 ### ####", ("Mannerheimintie", "Aleksanterinkatu")),
    Location("Warszawa", "Mazowieckie", "Poland", "PL", "0#-###", "pl-PL", ("polish",),
             "+48 22 ### ## ##", "+48 5## ### ###", ("ul. Marszałkowska", "Aleje Jerozolimskie", "ul. Świętokrzyska")),
    Location("Kraków", "Małopolskie", "Poland", "PL", "3#-###", "pl-PL", ("polish",),
             "+48 12 ### ## ##", "+48 6## ### ###", ("ul. Floriańska", "ul. Długa")),
    Location("Praha", "Hlavní město Praha", "Czechia", "CZ", "1## ##", "cs-CZ", ("czech",),
             "+420 2## ### ###", "+420 6## ### ###", ("Václavské náměstí", "Národní")),
    Location("Madrid", "Comunidad de Madrid", "Spain", "ES", "280##", "es-ES", ("spanish",),
             "+34 91 ### ## ##", "+34 6## ### ###", ("Calle de Alcalá", "Gran Vía", "Paseo de la Castellana")),
    Location("Barcelona", "Cataluña", "Spain", "ES", "080##", "es-ES", ("spanish",),
             "+34 93 ### ## ##", "+34 6## ### ###", ("Passeig de Gràcia", "Avinguda Diagonal")),
    Location("Lisboa", "Lisboa", "Portugal", "PT", "1###-###", "pt-PT", ("portuguese",),
             "+351 21 ### ####", "+351 91 ### ####", ("Avenida da Liberdade", "Rua Augusta")),
    Location("Milano", "Lombardia", "Italy", "IT", "201##", "it-IT", ("italian",),
             "+39 02 #### ####", "+39 3## ### ####", ("Via Montenapoleone", "Corso Buenos Aires")),
    Location("İstanbul", "İstanbul", "Türkiye", "TR", "34###", "tr-TR", ("turkish",),
             "+90 212 ### ## ##", "+90 5## ### ## ##", ("İstiklal Caddesi", "Bağdat Caddesi")),
    Location("Dubai", "Dubai", "United Arab Emirates", "AE", "00000", "en-AE", ("arabic",) * 2 + ("indian",),
             "+971 4 ### ####", "+971 50 ### ####", ("Sheikh Zayed Road", "Al Wasl Road"), True),
    Location("Johannesburg", "Gauteng", "South Africa", "ZA", "2###", "en-ZA", ("southafrican",),
             "+27 11 ### ####", "+27 82 ### ####", ("Jan Smuts Avenue", "Rivonia Road"), True),
)

# North American Numbering Plan 555-01xx numbers are reserved for fiction.
_US_CULTURES = ("american",) * 5 + ("spanish",) * 2 + ("indian", "eastasian", "english")
US = (
    Location("Seattle", "WA", "United States", "US", "981##", "en-US", _US_CULTURES,
             "+1 206 555 01##", "+1 206 555 01##", ("Pike Street", "1st Avenue", "Westlake Avenue"), True),
    Location("Redmond", "WA", "United States", "US", "98052", "en-US", _US_CULTURES,
             "+1 425 555 01##", "+1 425 555 01##", ("NE 36th Street", "148th Avenue NE"), True),
    Location("New York", "NY", "United States", "US", "100##", "en-US", _US_CULTURES,
             "+1 212 555 01##", "+1 917 555 01##", ("Broadway", "Madison Avenue", "West 57th Street"), True),
    Location("San Francisco", "CA", "United States", "US", "941##", "en-US", _US_CULTURES,
             "+1 415 555 01##", "+1 415 555 01##", ("Market Street", "Mission Street"), True),
    Location("Los Angeles", "CA", "United States", "US", "900##", "en-US", _US_CULTURES + ("spanish",) * 3,
             "+1 213 555 01##", "+1 323 555 01##", ("Wilshire Boulevard", "Sunset Boulevard"), True),
    Location("Austin", "TX", "United States", "US", "787##", "en-US", _US_CULTURES + ("spanish",) * 2,
             "+1 512 555 01##", "+1 512 555 01##", ("Congress Avenue", "South Lamar Boulevard"), True),
    Location("Chicago", "IL", "United States", "US", "606##", "en-US", _US_CULTURES + ("polish",),
             "+1 312 555 01##", "+1 773 555 01##", ("Michigan Avenue", "Wacker Drive"), True),
    Location("Boston", "MA", "United States", "US", "021##", "en-US", _US_CULTURES,
             "+1 617 555 01##", "+1 617 555 01##", ("Boylston Street", "Summer Street"), True),
    Location("Atlanta", "GA", "United States", "US", "303##", "en-US", _US_CULTURES,
             "+1 404 555 01##", "+1 404 555 01##", ("Peachtree Street", "Spring Street"), True),
    Location("Miami", "FL", "United States", "US", "331##", "es-US", ("spanish",) * 3 + _US_CULTURES,
             "+1 305 555 01##", "+1 786 555 01##", ("Brickell Avenue", "Calle Ocho"), True),
    Location("Denver", "CO", "United States", "US", "802##", "en-US", _US_CULTURES,
             "+1 303 555 01##", "+1 720 555 01##", ("Larimer Street", "17th Street"), True),
    Location("Raleigh", "NC", "United States", "US", "276##", "en-US", _US_CULTURES,
             "+1 919 555 01##", "+1 919 555 01##", ("Fayetteville Street", "Glenwood Avenue"), True),
)
REGIONS: dict[str, tuple[Location, ...]] = {"emea": EMEA, "us": US, "global": EMEA + US}
LOCATIONS: dict[str, Location] = {loc.city: loc for loc in EMEA + US}

# (department, weight, job titles); "Research & Development" keeps an ampersand in the data.
DEPARTMENTS: tuple[tuple[str, int, tuple[str, ...]], ...] = (
    ("Engineering", 22, ("Software Engineer", "Senior Software Engineer", "Principal Engineer",
                         "Engineering Manager", "QA Engineer", "DevOps Engineer", "Site Reliability Engineer")),
    ("Sales", 16, ("Account Executive", "Sales Manager", "Sales Representative", "Key Account Manager",
                   "Sales Director", "Inside Sales Representative")),
    ("Marketing", 8, ("Marketing Specialist", "Content Strategist", "Brand Manager", "Marketing Director",
                      "SEO Analyst")),
    ("Customer Support", 10, ("Support Specialist", "Customer Success Manager", "Support Team Lead")),
    ("Finance", 6, ("Accountant", "Financial Analyst", "Controller", "Finance Manager", "Payroll Specialist")),
    ("Human Resources", 4, ("HR Generalist", "Recruiter", "HR Business Partner", "HR Manager")),
    ("IT", 6, ("Systems Administrator", "Help Desk Technician", "Network Engineer", "IT Manager",
               "Security Analyst")),
    ("Operations", 8, ("Operations Manager", "Logistics Coordinator", "Supply Chain Analyst",
                       "Facilities Manager")),
    ("Legal", 2, ("Legal Counsel", "Paralegal", "Compliance Officer")),
    ("Product Management", 6, ("Product Manager", "Product Owner", "UX Designer")),
    ("Research & Development", 8, ("Research Scientist", "Lab Technician", "R&D Engineer")),
    ("Executive", 1, ("Vice President", "Chief of Staff", "Executive Assistant")),
)
DEPARTMENT_NAMES = tuple(d for d, _, _ in DEPARTMENTS)
_DEPT_POOL = tuple(i for i, (_, w, _) in enumerate(DEPARTMENTS) for _ in range(w))

TEAM_WORDS = ("Aurora", "Falcon", "Nimbus", "Atlas", "Orion", "Phoenix", "Zephyr", "Quartz", "Helix",
              "Kestrel", "Meridian", "Polaris", "Sequoia", "Tundra", "Vega", "Lynx")
TEAM_KINDS = ("Project", "Team", "Guild", "Working Group", "Programme")

# Domains of partner companies, for guests invited into a generated tenant.
GUEST_DOMAINS = ("fabrikam.com", "tailspintoys.com", "wingtiptoys.com", "adventure-works.com",
                 "northwindtraders.com", "litwareinc.com")

EPOCH = datetime(2016, 1, 4, 8, 0, 0)     # naive UTC: isoformat() + "Z"
SPAN_SECONDS = 9 * 365 * 86400
_LETTERS = "ABCDEFGHJKLMNPRSTUVWXYZ"

# Letters that NFKD does not take apart, for ASCII mail local parts.
_ASCII = str.maketrans({"ø": "o", "Ø": "O", "ł": "l", "Ł": "L", "ß": "ss", "æ": "ae", "Æ": "Ae",
                        "œ": "oe", "Œ": "Oe", "đ": "d", "Đ": "D", "þ": "th", "ð": "d", "ı": "i"})


def ascii_fold(text: str) -> str:
    """'Bjørn Ødegård' -> 'Bjorn Odegard': the form that goes into UPNs and mail addresses."""
    text = unicodedata.normalize("NFKD", text.translate(_ASCII))
    return "".join(c for c in text if not unicodedata.combining(c))


@functools.lru_cache(maxsize=65536)
def mail_local(given: str, surname: str) -> str:
    """'Zoë', 'Ó Súilleabháin' -> 'zoe.osuilleabhain' (letters, digits and hyphens only)."""
    def part(s: str) -> str:
        return "".join(c for c in ascii_fold(s).lower() if c.isalnum() or c == "-")
    return f"{part(given)}.{part(surname)}"


def det_uuid(label: str) -> str:
    """A deterministic version-4 UUID for a label (tenant ids, pinned ids)."""
    return str(uuid.UUID(int=random.Random(f"tenantsync:{label}").getrandbits(128), version=4))


@functools.cache
def _template(pattern: str) -> tuple[str, int, int]:
    """A str.format template of a '#'/'?' pattern, with its count of digits and of letters."""
    template = pattern.replace("{", "{{").replace("}", "}}").replace("#", "{}").replace("?", "{}")
    return template, pattern.count("#"), pattern.count("?")


def _fill(rng: random.Random, pattern: str) -> str:
    """'+44 20 7946 0###' -> '+44 20 7946 0427': '#' a digit, '?' a letter, in one draw."""
    template, digits, letters = _template(pattern)
    if letters:
        chars = [str(rng.randrange(10)) if c == "#" else _LETTERS[int(rng.random() * len(_LETTERS))]
                 for c in pattern if c in "#?"]
        return template.format(*chars)
    return template.format(*f"{int(rng.random() * 10 ** digits):0{digits}d}") if digits else pattern


def _pick(rng: random.Random, seq: Sequence[Any]) -> Any:
    """rng.choice without its rejection sampling: several times faster, still deterministic."""
    return seq[int(rng.random() * len(seq))]


def _when(rng: random.Random, start: datetime = EPOCH, span: int = SPAN_SECONDS) -> str:
    return (start + timedelta(seconds=int(rng.random() * span))).isoformat(timespec="seconds") + "Z"


# --------------------------------------------------------------------------------------------
# One tenant's objects
# --------------------------------------------------------------------------------------------

class TenantGenerator:
    """Draws the users and groups of one tenant; UPNs and ids are unique within it.

    Two streams: ``rng`` for attributes and ``ids`` for object ids. ``taken_upns`` lets a second
    generator add objects to a tenant built by another one without a UPN clash.

    SMS sign-in: with ``sms_sign_in_allowed`` (the tenant's SMS authentication method policy lets
    users sign in with SMS) 95 % of the members' mobile methods are ``notAllowedByPolicy`` and 5 %
    ``notEnabled`` (allowed, not turned on); without, all are ``notAllowedByPolicy`` (the emulator
    derives the policy from these states: tenantsync/emulator/phone.py). A member drawn with
    ``sms_ready`` is ``ready`` either way.
    """

    def __init__(self, *, seed: int | str, domains: Sequence[str], default_domain: str,
                 region: str = "global", company_name: str = "Contoso", employee_id_prefix: str = "E",
                 taken_upns: Iterable[str] = (), sms_sign_in_allowed: bool = True):
        if region not in REGIONS:
            raise ValueError(f"unknown region {region!r} (known: {', '.join(REGIONS)})")
        if not domains:
            raise ValueError("a tenant needs at least one verified domain for its users' UPNs")
        self.rng = random.Random(f"tenantsync:{seed}:attributes")
        self.ids = random.Random(f"tenantsync:{seed}:user-ids")
        self.group_ids = random.Random(f"tenantsync:{seed}:group-ids")
        self.domains = tuple(domains)
        self.default_domain = default_domain
        self.locations = REGIONS[region]
        self.company_name = company_name
        self.employee_id_prefix = employee_id_prefix
        self.upns = {u.lower() for u in taken_upns}
        self._employee_no = 100000
        self._suffix: dict[str, int] = {}
        self.sms_sign_in_allowed = sms_sign_in_allowed

    # ids ---------------------------------------------------------------------------------
    def user_id(self) -> str:
        return str(uuid.UUID(int=self.ids.getrandbits(128), version=4))

    def group_id(self) -> str:
        return str(uuid.UUID(int=self.group_ids.getrandbits(128), version=4))

    def claim_upn(self, upn: str) -> str:
        if upn.lower() in self.upns:
            raise ValueError(f"userPrincipalName {upn!r} is already taken in this tenant")
        self.upns.add(upn.lower())
        return upn

    def _unique_upn(self, local: str, domain: str) -> str:
        """local@domain, or local2@domain, local3@domain... when taken."""
        key = f"{local}@{domain}".lower()
        n = self._suffix.get(key, 1)
        upn = f"{local}@{domain}" if n == 1 else f"{local}{n}@{domain}"
        while upn.lower() in self.upns:
            n += 1
            upn = f"{local}{n}@{domain}"
        self._suffix[key] = n + 1
        self.upns.add(upn.lower())
        return upn

    # users -------------------------------------------------------------------------------
    def member(self, *, given: str | None = None, surname: str | None = None,
               location: Location | None = None, department: str | None = None,
               sms_ready: bool = False, enabled: bool = True, **overrides: Any) -> dict[str, Any]:
        """An internal member with realistic attributes; ``overrides`` are Graph properties set last.

        Given a ``userPrincipalName`` override the UPN must be free; ``mail``, ``mailNickname``
        and ``proxyAddresses`` follow the override unless overridden too.
        """
        rng = self.rng
        loc = location or _pick(rng, self.locations)
        culture = _pick(rng, loc.cultures) if rng.random() < 0.8 else _pick(rng, CULTURES)
        givens, surnames = NAMES[culture]
        given = given or _pick(rng, givens)
        surname = surname or _pick(rng, surnames)
        if department is None:
            dept_name, _, titles = DEPARTMENTS[_pick(rng, _DEPT_POOL)]
        else:
            dept_name = department
            titles = next((t for d, _, t in DEPARTMENTS if d == department), ("Specialist",))
        if "userPrincipalName" in overrides:
            upn = self.claim_upn(overrides.pop("userPrincipalName"))
        else:
            domain = self.domains[0] if len(self.domains) == 1 or rng.random() < 0.9 else _pick(rng, self.domains)
            upn = self._unique_upn(mail_local(given, surname), domain)
        mail = overrides.pop("mail", upn.lower())
        self._employee_no += 1
        street_no = 1 + int(rng.random() * 240)
        street = _pick(rng, loc.streets)
        has_mobile = rng.random() < 0.85
        if sms_ready and not has_mobile:
            has_mobile = True
        user: dict[str, Any] = {
            "id": overrides.pop("id", None) or self.user_id(),
            "userPrincipalName": upn,
            "mail": mail,
            "mailNickname": upn.split("@", 1)[0],
            "proxyAddresses": [f"SMTP:{mail}"] if mail else [],
            "displayName": f"{given} {surname}",
            "givenName": given,
            "surname": surname,
            "userType": "Member",
            "accountEnabled": enabled,
            "externalUserState": None,
            "creationType": None,
            "department": dept_name,
            "jobTitle": _pick(rng, titles),
            "companyName": self.company_name,
            "employeeId": f"{self.employee_id_prefix}{self._employee_no}",
            "employeeType": "Employee" if rng.random() < 0.93 else "Contractor",
            "officeLocation": f"{loc.city} {1 + int(rng.random() * 12)}/{1 + int(rng.random() * 6)}{1 + int(rng.random() * 40):02d}",
            "streetAddress": f"{street_no} {street}" if loc.number_first else f"{street} {street_no}",
            "city": loc.city,
            "state": loc.state,
            "country": loc.country,
            "postalCode": _fill(rng, loc.postal),
            "usageLocation": loc.usage_location,
            "preferredLanguage": loc.language if rng.random() < 0.9 else "en-US",
            "businessPhones": [_fill(rng, loc.phone)] if rng.random() < 0.7 else [],
            "mobilePhone": _fill(rng, loc.mobile) if has_mobile else None,
            "createdDateTime": _when(rng),
            "smsSignInState": "ready" if sms_ready else          # one draw either way: same users
                              ("notEnabled" if rng.random() >= 0.95 and self.sms_sign_in_allowed
                               else "notAllowedByPolicy"),
        }
        if mail and mail != upn.lower():
            user["proxyAddresses"].append(f"smtp:{upn.lower()}")
        user.update(overrides)
        return user

    def guest(self, *, given: str | None = None, surname: str | None = None, home_domain: str | None = None,
              state: str = "Accepted", **overrides: Any) -> dict[str, Any]:
        """A B2B guest invited from a partner company: #EXT# UPN on the tenant's initial domain."""
        rng = self.rng
        givens, surnames = NAMES[_pick(rng, CULTURES)]
        given = given or _pick(rng, givens)
        surname = surname or _pick(rng, surnames)
        home_domain = home_domain or _pick(rng, GUEST_DOMAINS)
        mail = overrides.pop("mail", f"{mail_local(given, surname)}@{home_domain}")
        upn = overrides.pop("userPrincipalName", None)
        if upn is None:
            local, _, dom = mail.partition("@")
            upn = self._unique_upn(f"{local}_{dom}#EXT#", self.default_domain)
        else:
            self.claim_upn(upn)
        created = _when(rng)
        user: dict[str, Any] = {
            "id": overrides.pop("id", None) or self.user_id(),
            "userPrincipalName": upn,
            "mail": mail,
            "mailNickname": upn.split("@", 1)[0],
            "otherMails": [mail],
            "displayName": f"{given} {surname}",
            "givenName": given,
            "surname": surname,
            "userType": "Guest",
            "accountEnabled": True,
            "externalUserState": state,
            "externalUserStateChangeDateTime": created,
            "creationType": "Invitation",
            "companyName": None,
            "createdDateTime": created,
            "smsSignInState": "notAllowedByPolicy",
        }
        user.update(overrides)
        return user

    def group(self, display_name: str, members: Iterable[str], *, description: str | None = None,
              **overrides: Any) -> dict[str, Any]:
        nick = "".join(c for c in ascii_fold(display_name) if c.isalnum() or c in "-_.")
        group: dict[str, Any] = {
            "id": overrides.pop("id", None) or self.group_id(),
            "displayName": display_name,
            "description": description or display_name,
            "mailNickname": nick or "group",
            "mailEnabled": False,
            "securityEnabled": True,
            "groupTypes": [],
            "createdDateTime": _when(self.rng),
            "members": list(members),
        }
        group.update(overrides)
        return group


# --------------------------------------------------------------------------------------------
# Tenants and fixtures
# --------------------------------------------------------------------------------------------

def partner(tenant_id: str, *, display_name: str | None = None, inbound: bool = False, outbound: bool = False,
            sync_inbound: bool | None = None) -> dict[str, Any]:
    """A crossTenantAccessPolicy partner entry: automatic redemption flags, optional user sync policy.

    Automatic redemption needs the source's partner entry for the target with ``outbound=True``
    and the target's entry for the source with ``inbound=True`` (docs/entra-behaviour.md#test-connection);
    the target also needs ``sync_inbound=True`` (identitySynchronization.userSyncInbound.isSyncAllowed).
    """
    entry: dict[str, Any] = {
        "tenantId": tenant_id,
        "automaticUserConsentSettings": {"inboundAllowed": inbound, "outboundAllowed": outbound},
    }
    if sync_inbound is not None:
        sync: dict[str, Any] = {"userSyncInbound": {"isSyncAllowed": sync_inbound}}
        if display_name:
            sync = {"displayName": display_name, **sync}
        entry["identitySynchronization"] = sync
    return entry


def tenant_shell(*, tenant_id: str, display_name: str, default_domain: str, verified_domains: Sequence[str],
                 token: str, unverified_domains: Sequence[str] = (), premium: bool = True,
                 allow_invites_from: str = "everyone", partners: Sequence[dict[str, Any]] = ()) -> dict[str, Any]:
    """A tenant with its domains, token and policies, and no users or groups yet."""
    return {
        "id": tenant_id,
        "displayName": display_name,
        "defaultDomain": default_domain,
        "domains": [{"id": d, "isVerified": True} for d in verified_domains]
                   + [{"id": d, "isVerified": False} for d in unverified_domains],
        "tokens": [token],
        "premium": premium,
        "authorizationPolicy": {"allowInvitesFrom": allow_invites_from},
        "crossTenantAccessPolicy": {"partners": list(partners)},
        "users": [],
        "groups": [],
    }


def user_stream(gen: TenantGenerator, rng: random.Random, n_users: int, *, guest_ratio: float = 0.0,
                disabled_ratio: float = 0.02, sms_ready_ratio: float = 0.0) -> Iterator[dict[str, Any]]:
    """The users of a tenant one at a time, as ``make_tenant`` draws them (``rng``: its shape stream)."""
    for _ in range(n_users):
        if rng.random() < guest_ratio:
            yield gen.guest()
        else:
            yield gen.member(enabled=rng.random() >= disabled_ratio, sms_ready=rng.random() < sms_ready_ratio)


def make_tenant(*, tenant_id: str, display_name: str, default_domain: str, verified_domains: Sequence[str],
                n_users: int, n_groups: int, seed: int | str, token: str,
                unverified_domains: Sequence[str] = (), region: str = "global", company_name: str | None = None,
                employee_id_prefix: str = "E", sync_group_name: str = "CTS - HQ sync", sync_group_id: str | None = None,
                sync_group_share: float = 0.9, disabled_ratio: float = 0.02, guest_ratio: float = 0.0,
                sms_ready_ratio: float = 0.0, nested_ratio: float = 0.1, premium: bool = True,
                allow_invites_from: str = "everyone", sms_sign_in_allowed: bool = True,
                partners: Sequence[dict[str, Any]] = ()) -> dict[str, Any]:
    """One tenant of the emulator fixture, with ``n_users`` users and ``n_groups`` groups.

    Groups, in order: the sync group (``sync_group_name``, id ``sync_group_id`` or drawn; each
    internal member is a direct member with probability ``sync_group_share``), one group per department (its department's users), then
    team groups of 5-60 random users. A share ``nested_ratio`` of the team groups contain a later
    team group (no cycles), and the last team group is itself a member of the sync group, so the
    sync group always has a nested group whose members assignment must not reach.
    ``guest_ratio`` of the users are B2B guests (Accepted, #EXT# UPNs); guests are never put in
    the sync group. ``disabled_ratio`` of the members have accountEnabled false;
    ``sms_ready_ratio`` have smsSignInState "ready" (cross-tenant sync skips those);
    ``sms_sign_in_allowed``: see TenantGenerator.
    """
    if n_users < 0 or n_groups < 0:
        raise ValueError("n_users and n_groups must be >= 0")
    tenant = tenant_shell(tenant_id=tenant_id, display_name=display_name, default_domain=default_domain,
                          verified_domains=verified_domains, token=token, unverified_domains=unverified_domains,
                          premium=premium, allow_invites_from=allow_invites_from, partners=partners)
    if not n_users and not n_groups:
        return tenant
    gen = TenantGenerator(seed=seed, domains=verified_domains, default_domain=default_domain, region=region,
                          company_name=company_name or display_name, employee_id_prefix=employee_id_prefix,
                          sms_sign_in_allowed=sms_sign_in_allowed)
    rng = random.Random(f"tenantsync:{seed}:shape")       # who is a guest / disabled / in which group
    users = list(user_stream(gen, rng, n_users, guest_ratio=guest_ratio, disabled_ratio=disabled_ratio,
                             sms_ready_ratio=sms_ready_ratio))
    members = [u for u in users if u["userType"] == "Member"]
    groups: list[dict[str, Any]] = []
    if n_groups:
        groups.append(gen.group(sync_group_name, (u["id"] for u in members if rng.random() < sync_group_share),
                                description="Users assigned to the cross-tenant synchronization configuration",
                                id=sync_group_id))
    by_dept: dict[str, list[str]] = {d: [] for d in DEPARTMENT_NAMES}
    for u in members:
        by_dept.setdefault(u["department"], []).append(u["id"])
    for dept in DEPARTMENT_NAMES[: max(0, n_groups - 1)]:
        groups.append(gen.group(f"Dept - {dept}", by_dept[dept], description=f"All of {dept}"))
    teams: list[dict[str, Any]] = []
    for i in range(max(0, n_groups - 1 - len(DEPARTMENT_NAMES))):
        name = f"{TEAM_KINDS[i % len(TEAM_KINDS)]} {TEAM_WORDS[(i // len(TEAM_KINDS)) % len(TEAM_WORDS)]}"
        if i >= len(TEAM_KINDS) * len(TEAM_WORDS):
            name += f" {i // (len(TEAM_KINDS) * len(TEAM_WORDS)) + 1}"
        size = min(len(users), rng.randint(5, 60))
        teams.append(gen.group(name, (users[j]["id"] for j in sorted(rng.sample(range(len(users)), size)))))
    for i, team in enumerate(teams[:-1]):
        if rng.random() < nested_ratio:
            team["members"].append(teams[rng.randrange(i + 1, len(teams))]["id"])
    if teams:
        groups[0]["members"].append(teams[-1]["id"])
    tenant["users"] = users
    tenant["groups"] = groups + teams
    return tenant


SOURCE_DOMAIN, SOURCE_DEFAULT_DOMAIN, SOURCE_COMPANY = ("source.contoso.com", "contososource.onmicrosoft.com",
                                                       "Contoso")


def fixture_source_users(n_users: int, *, seed: int | str, region: str = "global",
                         disabled_ratio: float = 0.02) -> Iterator[dict[str, Any]]:
    """The users of ``make_fixture``'s source tenant one at a time, identical to its list, without
    holding them (bench/million.py builds a million-user tenant from this stream)."""
    gen = TenantGenerator(seed=f"{seed}:source", domains=[SOURCE_DOMAIN], default_domain=SOURCE_DEFAULT_DOMAIN,
                          region=region, company_name=SOURCE_COMPANY, sms_sign_in_allowed=False)
    return user_stream(gen, random.Random(f"tenantsync:{seed}:source:shape"), n_users,
                       disabled_ratio=disabled_ratio)


def make_fixture(*, n_users: int, n_groups: int, seed: int | str, region: str = "global",
                 disabled_ratio: float = 0.02, sync_group_share: float = 1.0,
                 source_token: str = "source-token", target_token: str = "target-token") -> dict[str, Any]:
    """The benchmark fixture: one source tenant with the users, one empty target tenant.

    Policies are set so that automatic redemption works (source outbound, target inbound) and the
    target allows user sync from the source. Every internal member is a direct member of the
    "CTS - HQ sync" group unless ``sync_group_share`` < 1. The source tenant's SMS policy lets no
    one sign in with SMS (every mobile method ``notAllowedByPolicy``): as in a tenant that never
    turned SMS sign-in on, a cycle then reads the policy once instead of each written user's phone
    methods (tenantsync/sms.py).
    """
    source_id, target_id = det_uuid(f"{seed}:source-tenant"), det_uuid(f"{seed}:target-tenant")
    source = make_tenant(
        tenant_id=source_id, display_name="Contoso Source", default_domain=SOURCE_DEFAULT_DOMAIN,
        verified_domains=[SOURCE_DOMAIN], n_users=n_users, n_groups=n_groups, seed=f"{seed}:source",
        token=source_token, region=region, company_name=SOURCE_COMPANY, sync_group_share=sync_group_share,
        disabled_ratio=disabled_ratio, sms_sign_in_allowed=False,
        partners=[partner(target_id, display_name="Contoso Target", outbound=True)])
    target = make_tenant(
        tenant_id=target_id, display_name="Contoso Target", default_domain="contosotarget.onmicrosoft.com",
        verified_domains=["target.contoso.com"], n_users=0, n_groups=0, seed=f"{seed}:target", token=target_token,
        partners=[partner(source_id, display_name="Contoso Source", inbound=True, sync_inbound=True)])
    # The anchor extension registered on the target token's application, as `tenantsync setup`
    # leaves it: the benchmark measures cycles, not the one-off registration.
    target["applications"] = [{"appId": anchor_app_id(target_token), "displayName": "tenantsync",
                               "extensionProperties": [{"name": ANCHOR_EXTENSION, "dataType": "String",
                                                        "targetObjects": ["User"]}]}]
    return {"tenants": [source, target]}


ANCHOR_EXTENSION = "tenantsyncSourceAnchor"



def fresh_fixture(workdir: Path, *, n_users: int, n_groups: int, seed: int | str
                  ) -> tuple[dict[str, Any], Path]:
    """An emptied ``workdir`` holding ``fixture.json`` (the benchmark fixture): (fixture, its path)."""
    import shutil

    if workdir.exists():
        shutil.rmtree(workdir)
    workdir.mkdir(parents=True)
    fixture = make_fixture(n_users=n_users, n_groups=n_groups, seed=seed)
    path = workdir / "fixture.json"
    path.write_text(dumps(fixture), encoding="utf-8")
    return fixture, path

def anchor_app_id(token: str) -> str:
    """The emulator's appId of an opaque token (tenantsync.emulator.tokens.plain_app_id)."""
    from tenantsync.emulator.tokens import plain_app_id
    return plain_app_id(token)


def anchor_attribute(fixture: dict[str, Any]) -> str:
    """The registered anchor extension's full name in a ``make_fixture`` target."""
    app = fixture["tenants"][1]["applications"][0]
    return f"extension_{app['appId'].replace('-', '')}_{app['extensionProperties'][0]['name']}"


def sync_config_yaml(fixture: dict[str, Any], *, name: str = "bench", scope: str = "all",
                     state: str | None = None, source_token_env: str = "SOURCE_TOKEN",
                     target_token_env: str = "TARGET_TOKEN") -> str:
    """A sync configuration (docs/contracts.md format) for a fixture made by ``make_fixture``."""
    source, target = fixture["tenants"][0], fixture["tenants"][1]
    if scope == "assigned":
        if not source["groups"]:
            raise ValueError("scope 'assigned' needs the sync group: generate with --groups >= 1")
        scope_yaml = (f"scope:\n  mode: assigned\n  assignments:\n    groups:\n"
                      f"      - {source['groups'][0]['id']}   # {source['groups'][0]['displayName']}\n")
    elif scope == "all":
        scope_yaml = "scope:\n  mode: all\n"
    else:
        raise ValueError(f"scope must be 'all' or 'assigned', not {scope!r}")
    q = json.dumps     # a JSON string is a valid double-quoted YAML scalar
    graph_url = q("${TENANTSYNC_GRAPH_URL:-http://127.0.0.1:8765/v1.0}")
    return (
        f"# Generated by bench/generate.py for {q(source['displayName'])} -> {q(target['displayName'])}.\n"
        f"name: {name}\n"
        "source: {connection: source}\n"
        "target: {connection: target}\n"
        f"{scope_yaml}"
        f"state: {q(state or f'sqlite:///data/state/{name}.db')}\n"
        "settings:\n"
        "  interval_minutes: 40\n"
        "  deletion_threshold: 500\n"
        "  notification_email: ops@contoso.com\n"
        "  on_leave_scope: delete\n"
        f"  anchor_attribute: {anchor_attribute(fixture)}   # registered in the fixture\n"
        "connections:\n"
        "  source:\n"
        f"    tenant_id: {source['id']}\n"
        f"    graph_url: {graph_url}\n"
        f"    auth: {{kind: static_token, token_env: {source_token_env}}}\n"
        "  target:\n"
        f"    tenant_id: {target['id']}\n"
        f"    graph_url: {graph_url}\n"
        f"    auth: {{kind: static_token, token_env: {target_token_env}}}\n"
    )


def dumps(fixture: dict[str, Any], *, pretty: bool = False) -> str:
    """Fixture JSON: UTF-8 text (accents kept), compact unless ``pretty``."""
    if pretty:
        return json.dumps(fixture, ensure_ascii=False, indent=1) + "\n"
    return json.dumps(fixture, ensure_ascii=False, separators=(",", ":")) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.generate", description=__doc__.split("\n\n")[0])
    ap.add_argument("--users", type=int, required=True, help="users in the source tenant")
    ap.add_argument("--groups", type=int, default=20, help="groups in the source tenant (first: 'CTS - HQ sync')")
    ap.add_argument("--seed", default="1", help="any string; same seed, same fixture")
    ap.add_argument("--out", type=Path, required=True, help="fixture JSON to write")
    ap.add_argument("--config", type=Path, help="also write a matching sync configuration YAML here")
    ap.add_argument("--scope", choices=("all", "assigned"), default="all", help="scope mode of --config")
    ap.add_argument("--state", help="state store URL of --config (default sqlite:///data/state/<name>.db)")
    ap.add_argument("--name", default="bench", help="configuration name of --config")
    ap.add_argument("--region", choices=tuple(REGIONS), default="global")
    ap.add_argument("--disabled-ratio", type=float, default=0.02)
    ap.add_argument("--pretty", action="store_true", help="indented JSON (slower, larger)")
    args = ap.parse_args(argv)
    started = time.perf_counter()
    gc.disable()       # millions of small dicts and lists, none of them cyclic: the collector only costs time
    fixture = make_fixture(n_users=args.users, n_groups=args.groups, seed=args.seed, region=args.region,
                           disabled_ratio=args.disabled_ratio)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(dumps(fixture, pretty=args.pretty), encoding="utf-8")
    if args.config:
        args.config.parent.mkdir(parents=True, exist_ok=True)
        args.config.write_text(sync_config_yaml(fixture, name=args.name, scope=args.scope, state=args.state),
                               encoding="utf-8")
    source = fixture["tenants"][0]
    enabled = sum(1 for u in source["users"] if u["accountEnabled"])
    print(f"wrote {args.out}: {len(source['users'])} users ({enabled} enabled), {len(source['groups'])} groups"
          f"{f'; config {args.config}' if args.config else ''} in {time.perf_counter() - started:.2f}s;"
          f" tokens: SOURCE_TOKEN={source['tokens'][0]} TARGET_TOKEN={fixture['tenants'][1]['tokens'][0]}",
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
