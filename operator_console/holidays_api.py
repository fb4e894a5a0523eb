"""Public holidays of a country and year, for the working-hours editor to import.

The list comes from the ``holidays`` package (no network: its rules ship with it). The editor
adds the dates to the line's holiday list, where the admin may remove any before saving; the
line itself stores plain dates, so a later release of the package changes nothing saved.
The package is imported by the first request for it: its calendars would add a fiftieth of a
second to every start of the hub.
"""

from __future__ import annotations

from datetime import date
from functools import cache
from typing import Any

from aiohttp import web

from core.roles import SUPERVISOR_ROLES
from operator_console.auth import require_role
from operator_console.field_errors import FieldError, field_error_response

YEAR_MIN = 1970
YEAR_MAX = 2100


@cache
def countries() -> list[dict[str, str]]:
    """Every country the package knows, by name: ``[{"code": "DE", "name": "Germany"}]``."""
    import holidays
    from holidays.registry import COUNTRIES

    supported = set(holidays.list_supported_countries())
    # The registry keys each country by its module name ("united_kingdom"), the plain name.
    found = {
        entry[1]: module.replace("_", " ").title()
        for module, entry in COUNTRIES.items()
        if len(entry) > 1 and entry[1] in supported
    }
    return sorted(({"code": c, "name": n} for c, n in found.items()), key=lambda c: c["name"])


def public_holidays(country: str, year: int) -> list[dict[str, Any]]:
    """The country's public holidays in ``year``, by date: ``[{"date", "name"}]``."""
    import holidays

    found: dict[date, str] = dict(holidays.country_holidays(country, years=year).items())
    return [{"date": day.isoformat(), "name": found[day]} for day in sorted(found)]


async def list_countries(request: web.Request) -> web.Response:
    """GET /api/admin/holidays/countries: the countries whose holidays can be imported."""
    require_role(request, *SUPERVISOR_ROLES)
    return web.json_response({"countries": countries()})


async def list_holidays(request: web.Request) -> web.Response:
    """GET /api/admin/holidays?country=DE&year=2026: that year's public holidays."""
    require_role(request, *SUPERVISOR_ROLES)
    country = request.query.get("country", "").strip().upper()
    if country not in {c["code"] for c in countries()}:
        error = FieldError("country", "Choose a country from the list.")
        raise field_error_response([error])
    raw = request.query.get("year", "")
    year = int(raw) if raw.isdigit() and len(raw) == 4 else 0
    if not YEAR_MIN <= year <= YEAR_MAX:
        error = FieldError("year", f"Enter a year from {YEAR_MIN} to {YEAR_MAX}.")
        raise field_error_response([error])
    return web.json_response(
        {"country": country, "year": year, "holidays": public_holidays(country, year)}
    )


def routes() -> list[web.AbstractRouteDef]:
    """The holiday import routes."""
    return [
        web.get("/api/admin/holidays/countries", list_countries),
        web.get("/api/admin/holidays", list_holidays),
    ]
