"""Examples for every request body in the OpenAPI document: one small spring programme (two
weeks of March 2027), so that the examples fit together and can be tried in order."""

from __future__ import annotations

from typing import Any

CALENDAR: dict[str, Any] = {
    "first_date": "2027-03-01",
    "last_date": "2027-03-12",
    "periods_per_day": 2,
    "period_starts": ["09:00:00", "14:00:00"],
    "time_zone": "Asia/Shanghai",
}
SITE = {"id": "s-1", "name": "Party school hall", "capacity": 40, "location": "Xining"}
TRAINER = {"id": "t-1", "name": "Ma Lin", "topics": ["law"], "max_sessions_per_week": 6}
UNIT = {"id": "u-1", "name": "Chengzhong district", "headcount": 200, "away_cap": 0.2}
COHORT = {"id": "q-1", "name": "Section chiefs", "unit": "u-1", "size": 20}
COURSE = {
    "id": "c-1",
    "name": "Rule of law",
    "sessions": 2,
    "topic": "law",
    "cohorts": ["q-1"],
}
WINDOW = {"first": "2027-03-08", "last": "2027-03-09", "reason": "county congress"}
BLACKOUT = {
    "id": "u-1-congress",
    "scope": "unit",
    "target": "u-1",
    "window": WINDOW,
    "hard": True,
    "reason": "county people's congress: cadres are busy",
}
PIN = {"course": "c-1", "day": "2027-03-02", "period": 0, "site": "s-1"}
PROBLEM: dict[str, Any] = {
    "name": "Spring programme 2027",
    "calendar": CALENDAR,
    "sites": [SITE, {"id": "s-2", "name": "District base", "capacity": 25}],
    "trainers": [TRAINER, {"id": "t-2", "name": "Han Bo", "topics": ["economy"]}],
    "units": [UNIT],
    "cohorts": [COHORT],
    "courses": [
        COURSE,
        {
            "id": "c-2",
            "name": "Public finance",
            "sessions": 1,
            "trainer": "t-2",
            "cohorts": ["q-1"],
        },
    ],
    "blackouts": [BLACKOUT],
}


def one(summary: str, value: Any) -> dict[str, Any]:
    """An `openapi_examples` entry."""
    return {"default": {"summary": summary, "value": value}}


ENTITIES: dict[str, dict[str, Any]] = {
    "site": SITE,
    "trainer": TRAINER,
    "unit": UNIT,
    "cohort": COHORT,
    "course": COURSE,
}
PATCHES: dict[str, dict[str, Any]] = {
    "site": {"capacity": 45},
    "trainer": {"max_sessions_per_week": 4},
    "unit": {"away_cap": 0.25},
    "cohort": {"size": 22},
    "course": {"priority": 5, "preferred_sites": ["s-1"]},
}
