"""Seeded, realistic plans: a city's cadre-training year (S), a province (M) or a nation (L).

Each course is placed on a free calendar of sites, trainers and cohorts as it is generated, and
its window, sites and trainer are then drawn around that placement: the plan comes with a
witness schedule that keeps every hard rule, unless it is asked to be infeasible for a named reason.
"""

from __future__ import annotations

import datetime as dt
import itertools
import math
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Literal

from solver.grid import TimeGrid
from solver.problem import (
    Blackout,
    BlackoutScope,
    Calendar,
    Cohort,
    Course,
    Placement,
    Problem,
    Site,
    Trainer,
    Unit,
    Window,
)

Scale = Literal["S", "M", "L"]
REGIONS: dict[str, int] = {"S": 1, "M": 10, "L": 40}

TOPICS = (
    "political theory",
    "rule of law",
    "e-government",
    "economy and finance",
    "city management",
    "ethnic and religious affairs",
    "ideology and morals",
    "scientific development practice",
    "Party building",
    "leadership skills",
    "emergency management",
    "ecological protection",
    "rural revitalisation",
    "urban planning",
)

# (slug, name, kind, the topic its officials teach)
UNIT_TEMPLATES: tuple[tuple[str, str, str, str], ...] = (
    ("party-office", "Party Committee General Office", "leadership", "political theory"),
    ("gov-office", "Government General Office", "leadership", "leadership skills"),
    ("npc-office", "People's Congress Standing Committee Office", "leadership", "rule of law"),
    ("cppcc-office", "CPPCC Committee Office", "leadership", "political theory"),
    ("organisation", "Organisation Department", "department", "Party building"),
    ("propaganda", "Propaganda Department", "department", "ideology and morals"),
    ("united-front", "United Front Work Department", "department", "ethnic and religious affairs"),
    ("political-legal", "Political and Legal Affairs Commission", "department", "rule of law"),
    ("discipline", "Discipline Inspection Commission", "department", "rule of law"),
    (
        "reform",
        "Development and Reform Commission",
        "department",
        "scientific development practice",
    ),
    ("finance", "Finance Bureau", "department", "economy and finance"),
    ("education", "Education Bureau", "department", "ideology and morals"),
    ("health", "Health Commission", "department", "emergency management"),
    ("police", "Public Security Bureau", "department", "rule of law"),
    ("civil-affairs", "Civil Affairs Bureau", "department", "city management"),
    ("hr", "Human Resources and Social Security Bureau", "department", "leadership skills"),
    ("ecology", "Ecology and Environment Bureau", "department", "ecological protection"),
    ("agriculture", "Agriculture and Rural Affairs Bureau", "department", "rural revitalisation"),
    ("commerce", "Commerce Bureau", "department", "economy and finance"),
    ("culture", "Culture and Tourism Bureau", "department", "ideology and morals"),
    ("emergency", "Emergency Management Bureau", "department", "emergency management"),
    ("market", "Market Regulation Administration", "department", "rule of law"),
    ("audit", "Audit Bureau", "department", "economy and finance"),
    (
        "ethnic",
        "Ethnic and Religious Affairs Commission",
        "department",
        "ethnic and religious affairs",
    ),
    ("big-data", "Big Data Bureau", "department", "e-government"),
    ("statistics", "Statistics Bureau", "department", "economy and finance"),
    ("housing", "Housing and Urban-Rural Development Bureau", "project", "city management"),
    ("transport", "Transport Bureau", "project", "city management"),
    ("water", "Water Resources Bureau", "project", "ecological protection"),
    ("natural-resources", "Natural Resources and Planning Bureau", "project", "urban planning"),
    ("urban-investment", "Urban Investment Group", "project", "economy and finance"),
    ("rail-transit", "Rail Transit Construction Office", "project", "urban planning"),
    ("chengdong", "Chengdong District", "district", "city management"),
    ("chengzhong", "Chengzhong District", "district", "city management"),
    ("chengxi", "Chengxi District", "district", "e-government"),
    ("datong", "Datong County", "county", "rural revitalisation"),
    ("huangzhong", "Huangzhong County", "county", "ethnic and religious affairs"),
    ("huangyuan", "Huangyuan County", "county", "rural revitalisation"),
    ("huzhu", "Huzhu County", "county", "ecological protection"),
)

# (slug, name, city, seats per room, what its faculty teach): the seed's "go out to learn" bases
EXTERNAL_BASES: tuple[tuple[str, str, str, int, tuple[str, ...]], ...] = (
    ("tsinghua", "Tsinghua University", "Beijing", 100, ("economy and finance", "e-government")),
    ("pku", "Peking University", "Beijing", 80, ("political theory", "rule of law")),
    ("tongji", "Tongji University", "Shanghai", 80, ("city management", "urban planning")),
    (
        "pudong",
        "China Executive Leadership Academy Pudong",
        "Shanghai",
        120,
        ("leadership skills", "economy and finance"),
    ),
    (
        "nanning",
        "Nanning Cadre Training Base",
        "Nanning",
        60,
        ("ethnic and religious affairs", "rural revitalisation"),
    ),
    (
        "qingdao",
        "Qingdao Cadre Training Base",
        "Qingdao",
        60,
        ("city management", "ecological protection"),
    ),
    (
        "bypc",
        "Beijing Youth Politics College",
        "Beijing",
        100,
        ("ideology and morals", "Party building"),
    ),
)

# fmt: off
CITIES = (
    "Xining", "Haidong", "Golmud", "Delingha", "Yushu", "Gonghe", "Tongren", "Maqin", "Guide",
    "Menyuan", "Lanzhou", "Yinchuan",
)
DEPARTMENT_GROUPS = (
    "Division heads", "Section chiefs", "Young cadres", "New civil servants",
    "Party branch secretaries", "Professional staff", "Women cadres",
)
LOCAL_GROUPS = (
    "Township Party secretaries", "Township heads", "Village Party secretaries",
    "Community Party secretaries", "Village officials", "Bureau heads", "Young cadres",
    "Women cadres", "Ethnic minority cadres", "Reserve cadres", "New civil servants",
)
SURNAMES = (
    "Li", "Wang", "Zhang", "Liu", "Chen", "Yang", "Zhao", "Huang", "Zhou", "Wu", "Xu", "Sun",
    "Hu", "Zhu", "Gao", "Lin", "He", "Guo", "Ma", "Luo",
)
GIVEN_NAMES = (
    "Wei", "Fang", "Min", "Jing", "Lei", "Jun", "Yan", "Hong", "Ping", "Qiang", "Hua", "Tao",
    "Ming", "Xia", "Bo", "Yun", "Gang", "Li", "Na", "Peng",
)
# fmt: on
LEAVE_REASONS = (
    "annual leave",
    "inspection mission",
    "study tour abroad",
    "sick leave",
    "secondment to the provincial Party school",
    "poverty-alleviation field work",
)
FORUM_SEATS = 1200
LARGE_COURSE = 150  # nothing but a forum needs more seats than the largest classroom
DEFAULT_SOFT_WEIGHT = 50  # config's soft_blackout weight; the witness only uses it to rank


@dataclass(frozen=True)
class Scenario:
    """A generated plan and the complete schedule planted in it (empty when infeasible)."""

    problem: Problem
    witness: tuple[Placement, ...]
    conflict: str = ""  # when infeasible: the planted reason, in words


def generate(scale: Scale, seed: int, *, infeasible: bool = False, year: int = 2027) -> Scenario:
    """A city's (S), province's (M, 10 cities) or nation's (L, 40 cities) training year.

    Cities have their own units, cohorts, sites and trainers; the external bases and national
    experts are shared, so the witness competes for them across cities.
    """
    rng = random.Random(seed)
    calendar = _calendar(year)
    grid = TimeGrid.of(calendar)
    ledger = _Ledger.of(grid)
    n_regions = REGIONS[scale]
    blackouts = _plan_blackouts(grid, year)
    shared = _shared(rng, year, n_regions)
    regions = [_region(rng, year, i, n_regions, shared) for i in range(n_regions)]
    for site in _all_sites(shared, regions):
        ledger.add_site(site)
    for trainer in _all_trainers(shared, regions):
        ledger.add_trainer(trainer)
    for region in regions:
        ledger.add_units(region.units)
        blackouts += region.blackouts
    for blackout in blackouts:
        ledger.add_blackout(blackout)
    courses, witness = _place_all(rng, grid, ledger, shared, regions)
    blackouts += _course_blackouts(rng, grid, courses, witness)
    problem = Problem(
        name=_plan_name(scale, regions, year),
        calendar=calendar,
        sites=_all_sites(shared, regions),
        trainers=_all_trainers(shared, regions),
        units=[u for r in regions for u in r.units],
        cohorts=[q for r in regions for q in r.cohorts],
        courses=sorted(courses, key=lambda c: c.id),
        blackouts=blackouts,
    )
    if infeasible:
        problem, conflict = _plant_conflict(rng, problem)
        return Scenario(problem, (), conflict)
    return Scenario(problem, tuple(sorted(witness, key=lambda p: (p.course, p.session))))


# --- Calendar and plan-wide seasons -------------------------------------------------------


def _calendar(year: int) -> Calendar:
    return Calendar(
        first_date=dt.date(year, 1, 1),
        last_date=dt.date(year, 12, 31),
        holiday_country="CN",
        periods_per_day=2,
        period_starts=[dt.time(9), dt.time(14)],
        period_minutes=180,
        time_zone="Asia/Shanghai",
    )


def _spring_festival(grid: TimeGrid, year: int) -> Window:
    """The Spring Festival break, padded for the weeks nobody trains around it.

    The lunar date moves every year; the official holiday is the longest run of non-working
    days between mid-January and February, which the grid already knows.
    """
    dates = _dates(grid)
    gap, first, last = 0, dt.date(year, 2, 1), dt.date(year, 2, 7)
    for a, b in zip(dates, dates[1:], strict=False):
        if dt.date(year, 1, 15) <= a <= dt.date(year, 2, 25) and (b - a).days > gap:
            gap, first, last = (b - a).days, a + dt.timedelta(1), b - dt.timedelta(1)
    return Window(
        first=first - dt.timedelta(7), last=last + dt.timedelta(10), reason="Spring Festival"
    )


def _plan_blackouts(grid: TimeGrid, year: int) -> list[Blackout]:
    return [
        Blackout(
            id="plan-spring-festival",
            scope="plan",
            window=_spring_festival(grid, year),
            reason="Spring Festival: no training anywhere",
        ),
        Blackout(
            id="plan-two-sessions",
            scope="plan",
            window=Window(first=dt.date(year, 3, 1), last=dt.date(year, 3, 15)),
            hard=False,
            weight=30,
            reason='the "two sessions" in March: leaders and staff are busy',
        ),
        Blackout(
            id="plan-year-end",
            scope="plan",
            window=Window(first=dt.date(year, 12, 20), last=dt.date(year, 12, 31)),
            hard=False,
            weight=10,
            reason="year-end assessment of units and cadres",
        ),
    ]


# --- Resources: shared bases and experts, and each city's own ---------------------------------


@dataclass
class _Base:
    """An external base in another city: its rooms and the faculty who teach there."""

    slug: str
    name: str
    topics: tuple[str, ...]
    rooms: list[Site]
    faculty: list[Trainer]


@dataclass
class _Shared:
    bases: list[_Base]
    experts: list[Trainer]


@dataclass
class _Region:
    """One city: its units and cohorts, its Party school and bases, its own trainers."""

    prefix: str
    city: str
    units: list[Unit]
    kind: dict[str, str]  # unit id -> leadership/department/project/district/county
    unit_names: dict[str, str]
    cohorts: list[Cohort]
    hall: Site
    school: list[Site]  # the Party school's classrooms
    bases: dict[str, list[Site]]  # district/county unit id -> its base's rooms
    faculty: list[Trainer]  # Party school faculty
    lecturers: dict[str, list[Trainer]]  # district/county unit id -> its lecturers
    officials: list[Trainer]  # department officials who teach their field
    blackouts: list[Blackout]


def _shared(rng: random.Random, year: int, n_regions: int) -> _Shared:
    """External bases (more rooms as more cities share them) and the national experts."""
    rooms = max(1, math.ceil(n_regions / 4))
    bases = []
    for slug, name, city, seats, topics in EXTERNAL_BASES:
        open_windows = _disjoint_windows(rng, year, rng.randint(5, 8), 14, 35, "open to visitors")
        ids = [f"ext-{slug}"] if rooms == 1 else [f"ext-{slug}-{r + 1}" for r in range(rooms)]
        sites = [
            Site(
                id=site_id,
                name=name if rooms == 1 else f"{name}, room {r + 1}",
                capacity=seats,
                kind="external",
                location=f"{name}, {city}",
                open=open_windows,
            )
            for r, site_id in enumerate(ids)
        ]
        faculty = [
            Trainer(
                id=f"ext-{slug}-f{k + 1}",
                name=f"Prof. {_person(rng)} ({name})",
                topics=list(topics) if k % 2 == 0 else [topics[k % len(topics)]],
                unavailable=_leave(rng, year, 0.3),
            )
            for k in range(1 + rooms)
        ]
        bases.append(_Base(slug, name, topics, sites, faculty))
    experts = [_expert(rng, year, k) for k in range(6 + 2 * n_regions)]
    return _Shared(bases, experts)


def _expert(rng: random.Random, year: int, k: int) -> Trainer:
    """A national expert: available only in a few windows a year, with a monthly limit."""
    available = _disjoint_windows(rng, year, rng.randint(4, 7), 14, 42, "")
    return Trainer(
        id=f"x{k + 1:02d}",
        name=f"Prof. {_person(rng)} (national expert)",
        topics=rng.sample(TOPICS, rng.randint(2, 3)),
        unavailable=_complement(year, available, "national assignments"),
        max_sessions_per_month=rng.choice([None, 12, 16, 20]),
    )


def _region(rng: random.Random, year: int, i: int, n_regions: int, shared: _Shared) -> _Region:
    prefix = "" if n_regions == 1 else f"r{i:02d}-"
    city = CITIES[i] if i < len(CITIES) else f"City {i + 1}"
    units, kinds, names = [], {}, {}
    cohorts: list[Cohort] = []
    for slug, name, kind, _topic in UNIT_TEMPLATES:
        unit_id = f"{prefix}u-{slug}"
        own = _cohorts(rng, prefix, unit_id, name, kind, len(cohorts))
        cohorts += own
        units.append(_unit(rng, unit_id, f"{city} {name}", [q.size for q in own]))
        kinds[unit_id], names[unit_id] = kind, name
    hall = Site(
        id=f"{prefix}ps-hall",
        name=f"{city} Party School, great hall",
        capacity=FORUM_SEATS,
        location=f"{city} Municipal Party School",
    )
    school = [
        Site(
            id=f"{prefix}ps-{room}",
            name=f"{city} Party School, classroom {room.upper()}",
            capacity=seats,
            capacity_hard=hard,
            location=f"{city} Municipal Party School",
            closures=_closures(rng, year, 0.15),
        )
        for room, seats, hard in (
            ("a", LARGE_COURSE, True),
            ("b", 100, True),
            ("c", 80, True),
            ("d", 60, False),
        )
    ]
    bases = {
        unit_id: _base_rooms(rng, year, prefix, unit_id, f"{city} {names[unit_id]}")
        for unit_id, kind in kinds.items()
        if kind in ("district", "county")
    }
    t = iter(range(1000))
    faculty = [
        _local_trainer(
            rng,
            year,
            f"{prefix}t{next(t):02d}",
            "Lecturer",
            "Party school",
            prefix,
            rng.sample(TOPICS, rng.randint(2, 3)),
        )
        for _ in range(rng.randint(20, 24))
    ]
    lecturers = {
        unit_id: [
            _local_trainer(
                rng,
                year,
                f"{prefix}t{next(t):02d}",
                "Lecturer",
                names[unit_id],
                prefix,
                [_unit_topic(unit_id, prefix), rng.choice(TOPICS)],
            )
            for _ in range(rng.randint(2, 3))
        ]
        for unit_id in bases
    }
    departments = [u for u, k in kinds.items() if k in ("department", "project")]
    officials = [
        _local_trainer(
            rng,
            year,
            f"{prefix}t{next(t):02d}",
            "Director",
            names[u],
            prefix,
            [_unit_topic(u, prefix)],
        )
        for u in rng.sample(departments, rng.randint(10, 14))
    ]
    region = _Region(
        prefix=prefix,
        city=city,
        units=units,
        kind=kinds,
        unit_names=names,
        cohorts=cohorts,
        hall=hall,
        school=school,
        bases=bases,
        faculty=faculty,
        lecturers=lecturers,
        officials=officials,
        blackouts=[],
    )
    region.blackouts = _region_blackouts(rng, year, region)
    return region


def _unit_topic(unit_id: str, prefix: str) -> str:
    slug = unit_id.removeprefix(f"{prefix}u-")
    return next(topic for s, _n, _k, topic in UNIT_TEMPLATES if s == slug)


def _cohorts(
    rng: random.Random, prefix: str, unit_id: str, unit_name: str, kind: str, start: int
) -> list[Cohort]:
    """A unit's training groups: a few for a department, many for a district or county."""
    count = {"leadership": (2, 4), "department": (4, 7), "project": (4, 7)}.get(kind, (16, 22))
    groups = LOCAL_GROUPS if kind in ("district", "county") else DEPARTMENT_GROUPS
    cohorts = []
    for k in range(rng.randint(*count)):
        group = groups[k % len(groups)]
        number = f" {k // len(groups) + 1}" if k >= len(groups) else ""
        cohorts.append(
            Cohort(
                id=f"{prefix}q{start + k:03d}",
                name=f"{group}{number} ({unit_name})",
                unit=unit_id,
                size=int(rng.triangular(20, 120, 40)),
            )
        )
    return cohorts


def _unit(rng: random.Random, unit_id: str, name: str, sizes: list[int]) -> Unit:
    """Headcount beyond the trainees; the away cap lets about one and a half groups out at once."""
    headcount = int(sum(sizes) * rng.uniform(1.2, 2.0))
    cap = None
    if rng.random() < 0.8:
        cap = min(1.0, math.ceil(100 * max(0.1, 1.5 * max(sizes) / headcount)) / 100)
    return Unit(id=unit_id, name=name, headcount=headcount, away_cap=cap)


def _base_rooms(rng: random.Random, year: int, prefix: str, unit_id: str, name: str) -> list[Site]:
    slug = unit_id.removeprefix(f"{prefix}u-")
    rooms = 2 if rng.random() < 0.3 else 1
    return [
        Site(
            id=f"{prefix}{slug}-base" + ("" if r == 0 else f"-{r + 1}"),
            name=f"{name} training base" + ("" if r == 0 else f", room {r + 1}"),
            capacity=rng.choice([60, 80, 100, 120]),
            capacity_hard=rng.random() < 0.8,
            location=f"{name} training base",
            closures=_closures(rng, year, 0.15),
        )
        for r in range(rooms)
    ]


def _local_trainer(
    rng: random.Random,
    year: int,
    trainer_id: str,
    title: str,
    where: str,
    prefix: str,
    topics: list[str],
) -> Trainer:
    """A city's own trainer; on a multi-city plan their topics are scoped to their city."""
    week = rng.choice([None, None, None, 4, 6, 8])
    month = rng.choice([None, None, None, 10, 14, 18])
    return Trainer(
        id=trainer_id,
        name=f"{title} {_person(rng)} ({where})",
        topics=[prefix + topic for topic in dict.fromkeys(topics)],
        unavailable=_leave(rng, year, 0.35),
        max_sessions_per_week=week,
        max_sessions_per_month=month,
    )


def _person(rng: random.Random) -> str:
    return f"{rng.choice(SURNAMES)} {rng.choice(GIVEN_NAMES)}"


def _leave(rng: random.Random, year: int, share: float) -> list[Window]:
    """Leave and missions for some trainers; now and then afternoons only."""
    windows = []
    if rng.random() < share:
        for _ in range(rng.randint(1, 2)):
            windows.append(_random_window(rng, year, 5, 30, rng.choice(LEAVE_REASONS)))
    if rng.random() < 0.05:
        windows.append(
            _random_window(rng, year, 30, 90, "afternoon teaching at the university", [1])
        )
    return windows


def _closures(rng: random.Random, year: int, share: float) -> list[Window]:
    if rng.random() >= share:
        return []
    reason = rng.choice(["renovation", "hosting the Party congress", "used as an exam centre"])
    return [_random_window(rng, year, 7, 42, reason)]


def _region_blackouts(rng: random.Random, year: int, region: _Region) -> list[Blackout]:
    """The city's key seasons: two sessions, construction, harvest, and a few others."""
    p = region.prefix
    out: list[Blackout] = []

    def add(
        scope: BlackoutScope, target: str, window: Window, hard: bool, weight: int | None
    ) -> None:
        out.append(
            Blackout(
                id=f"{p}b{len(out):02d}",
                scope=scope,
                target=target,
                window=window,
                hard=hard,
                weight=None if hard else weight,
                reason=window.reason,
            )
        )

    two_sessions = Window(
        first=dt.date(year, 3, 1), last=dt.date(year, 3, 15), reason='the "two sessions"'
    )
    construction = Window(
        first=dt.date(year, 4, 1),
        last=dt.date(year, 10, 31),
        reason="construction season of key projects",
    )
    harvest = Window(first=dt.date(year, 9, 1), last=dt.date(year, 10, 20), reason="autumn harvest")
    for unit_id, kind in region.kind.items():
        if kind == "leadership":
            add("unit", unit_id, two_sessions, True, None)
        elif kind == "project":
            add("unit", unit_id, construction, False, rng.randint(2, 8) * 10)
        elif kind == "county":
            add("unit", unit_id, harvest, rng.random() < 0.5, 40)
    others = [u for u, k in region.kind.items() if k in ("department", "district")]
    for unit_id in rng.sample(others, 3):
        reason = rng.choice(["flood-season duty", "tourist peak season", "annual audit", "exams"])
        add(
            "unit",
            unit_id,
            _random_window(rng, year, 14, 45, reason),
            False,
            rng.randint(1, 4) * 10,
        )
    for cohort in rng.sample(region.cohorts, 3):
        hard = rng.random() < 0.4
        days = (5, 15) if hard else (14, 45)
        reason = rng.choice(
            ["spring ploughing", "civil service exams", "poverty-alleviation review"]
        )
        add("cohort", cohort.id, _random_window(rng, year, *days, reason), hard, 30)
    delegate = rng.choice(region.faculty)
    add(
        "trainer",
        delegate.id,
        two_sessions.model_copy(update={"reason": "NPC delegate"}),
        True,
        None,
    )
    base = rng.choice([room for rooms in region.bases.values() for room in rooms])
    add(
        "site",
        base.id,
        _random_window(rng, year, 5, 20, "lent to the election committee"),
        False,
        20,
    )
    return out


# --- Windows ---------------------------------------------------------------------------------


def _random_window(
    rng: random.Random,
    year: int,
    min_days: int,
    max_days: int,
    reason: str,
    periods: list[int] | None = None,
) -> Window:
    length = rng.randint(min_days, max_days)
    first = dt.date(year, 1, 1) + dt.timedelta(rng.randint(0, 364 - length))
    return Window(
        first=first, last=first + dt.timedelta(length - 1), periods=periods, reason=reason
    )


def _disjoint_windows(
    rng: random.Random, year: int, count: int, min_days: int, max_days: int, reason: str
) -> list[Window]:
    """Up to `count` random windows, sorted, with at least a day between any two."""
    spans: list[tuple[dt.date, dt.date]] = []
    for _ in range(count):
        length = rng.randint(min_days, max_days)
        first = dt.date(year, 1, 1) + dt.timedelta(rng.randint(0, 364 - length))
        last = first + dt.timedelta(length - 1)
        if all(last + dt.timedelta(1) < a or first > b + dt.timedelta(1) for a, b in spans):
            spans.append((first, last))
    return [Window(first=a, last=b, reason=reason) for a, b in sorted(spans)]


def _complement(year: int, windows: list[Window], reason: str) -> list[Window]:
    """The days of the year outside some sorted, disjoint windows."""
    out, day = [], dt.date(year, 1, 1)
    for w in windows:
        assert isinstance(w.first, dt.date) and isinstance(w.last, dt.date)
        if w.first > day:
            out.append(Window(first=day, last=w.first - dt.timedelta(1), reason=reason))
        day = w.last + dt.timedelta(1)
    if day <= dt.date(year, 12, 31):
        out.append(Window(first=day, last=dt.date(year, 12, 31), reason=reason))
    return out


def _dates(grid: TimeGrid) -> tuple[dt.date, ...]:
    assert grid.dates is not None
    return grid.dates


def _all_sites(shared: _Shared, regions: list[_Region]) -> list[Site]:
    local = [
        s
        for r in regions
        for s in [r.hall, *r.school, *(room for rooms in r.bases.values() for room in rooms)]
    ]
    return local + [room for base in shared.bases for room in base.rooms]


def _all_trainers(shared: _Shared, regions: list[_Region]) -> list[Trainer]:
    local = [
        t
        for r in regions
        for t in [*r.faculty, *(t for ts in r.lecturers.values() for t in ts), *r.officials]
    ]
    return local + shared.experts + [t for base in shared.bases for t in base.faculty]


def _plan_name(scale: Scale, regions: list[_Region], year: int) -> str:
    if scale == "S":
        return f"{regions[0].city} {year} cadre training programme"
    level = "provincial" if scale == "M" else "national"
    return f"{year} {level} cadre training programme ({len(regions)} cities)"


# --- The ledger: one global occupancy for the witness ----------------------------------------


@dataclass
class _Ledger:
    """What each resource may not do (hard) or should not do (soft), slot by slot.

    Keys are "plan", "site:<id>", "trainer:<id>", "unit:<id>", "cohort:<id>". Sets and dicts
    of occupied slots keep memory proportional to what is used, not to courses x slots.
    """

    ppd: int
    week: tuple[int, ...]
    month: tuple[int, ...]
    grid: TimeGrid
    blocked: dict[str, set[int]] = field(default_factory=dict)
    open: dict[str, set[int]] = field(default_factory=dict)
    soft: dict[str, dict[int, int]] = field(default_factory=dict)
    away: dict[str, dict[int, int]] = field(default_factory=dict)
    cap: dict[str, int] = field(default_factory=dict)
    limits: dict[str, tuple[int | None, int | None]] = field(default_factory=dict)
    load: dict[tuple[str, int], int] = field(default_factory=dict)

    @staticmethod
    def of(grid: TimeGrid) -> _Ledger:
        return _Ledger(grid.periods_per_day, grid.week_of_day, grid.month_of_day, grid)

    def _slots(self, windows: Iterable[Window]) -> set[int]:
        return {s for w in windows for s in self.grid.window_slots(w)}

    def add_site(self, site: Site) -> None:
        self.blocked[f"site:{site.id}"] = self._slots(site.closures)
        if site.open:
            self.open[f"site:{site.id}"] = self._slots(site.open)

    def add_trainer(self, trainer: Trainer) -> None:
        self.blocked[f"trainer:{trainer.id}"] = self._slots(trainer.unavailable)
        limits = (trainer.max_sessions_per_week, trainer.max_sessions_per_month)
        if limits != (None, None):
            self.limits[trainer.id] = limits

    def add_units(self, units: Iterable[Unit]) -> None:
        for unit in units:
            if unit.away_cap is not None:
                self.cap[unit.id] = math.floor(unit.away_cap * unit.headcount + 1e-9)

    def add_blackout(self, blackout: Blackout) -> None:
        key = "plan" if blackout.scope == "plan" else f"{blackout.scope}:{blackout.target}"
        slots = self.grid.window_slots(blackout.window)
        if blackout.hard:
            self.blocked.setdefault(key, set()).update(slots)
            return
        weight = DEFAULT_SOFT_WEIGHT if blackout.weight is None else blackout.weight
        costs = self.soft.setdefault(key, {})
        for s in slots:
            costs[s] = costs.get(s, 0) + weight

    def union(self, keys: Sequence[str]) -> set[int]:
        """Every slot one of these keys forbids: one set to test many candidates against."""
        return set().union(*(self.blocked.get(k, _EMPTY) for k in keys))

    def cost(self, want: _Want, site: Site, trainer: Trainer, slots: list[int]) -> int:
        """A rough soft cost of also using these slots: enough to rank candidates.

        The factors are the default weights of config/defaults.py, which solver/ may not read.
        """
        total = 0
        for key in (f"site:{site.id}", f"trainer:{trainer.id}", *want.keys):
            costs = self.soft.get(key)
            if costs is not None and not costs.keys().isdisjoint(slots):
                total += sum(costs.get(s, 0) for s in slots)
        for unit, cadres in want.units.items():
            if unit not in self.cap:
                continue
            away = self.away.get(unit, {})
            if away.keys().isdisjoint(slots):
                total += 5 * max(0, cadres - self.cap[unit]) * len(slots)
            else:
                total += 5 * sum(max(0, away.get(s, 0) + cadres - self.cap[unit]) for s in slots)
        if not site.capacity_hard:
            total += 2 * max(0, want.attendance - site.capacity) * len(slots)
        if trainer.id in self.limits:
            total += 20 * self._overload(trainer.id, {s // self.ppd for s in slots})
        return total

    def _overload(self, trainer: str, days: set[int]) -> int:
        week_limit, month_limit = self.limits[trainer]
        over = 0
        for limit, index, tag in ((week_limit, self.week, 0), (month_limit, self.month, 1)):
            if limit is None:
                continue
            extra: dict[int, int] = {}
            for d in days:
                extra[index[d]] = extra.get(index[d], 0) + 1
            over += sum(
                max(0, self.load.get((trainer, 2 * i + tag), 0) + n - limit)
                for i, n in extra.items()
            )
        return over

    def take(
        self, want: _Want, site: Site, trainer: Trainer, starts: list[tuple[int, int]]
    ) -> None:
        slots = [d * self.ppd + p + k for d, p in starts for k in range(want.length)]
        for key in (f"site:{site.id}", f"trainer:{trainer.id}", *want.cohort_keys):
            self.blocked.setdefault(key, set()).update(slots)
        for unit, cadres in want.units.items():
            away = self.away.setdefault(unit, {})
            for s in slots:
                away[s] = away.get(s, 0) + cadres
        for d, _p in starts if trainer.id in self.limits else ():
            for i, tag in ((self.week[d], 0), (self.month[d], 1)):
                counted = (trainer.id, 2 * i + tag)
                self.load[counted] = self.load.get(counted, 0) + 1


_EMPTY: frozenset[int] = frozenset()


# --- What a course asks, and where the witness puts it ---------------------------------------


@dataclass(frozen=True)
class _Option:
    """Sites and trainers to try together, in order of preference."""

    sites: list[Site]
    trainers: list[Trainer]


@dataclass
class _Want:
    """A course before it is placed: what it needs and where it would like to go."""

    id: str
    region: _Region
    kind: str  # forum / school / external / base / series
    pattern: Literal["block", "spread"]
    sessions: int
    wanted_days: int
    cohorts: list[Cohort]
    topic: str  # unscoped
    options: list[_Option]
    span: tuple[int, int]  # working days it would like to be held in
    priority: int
    required: bool
    fixed_trainer: bool

    @property
    def length(self) -> int:
        return 2 if self.pattern == "block" else 1

    @cached_property
    def attendance(self) -> int:
        return sum(q.size for q in self.cohorts)

    @cached_property
    def units(self) -> dict[str, int]:
        """Cadres each unit sends to the course."""
        cadres: dict[str, int] = {}
        for q in self.cohorts:
            cadres[q.unit] = cadres.get(q.unit, 0) + q.size
        return cadres

    @cached_property
    def cohort_keys(self) -> list[str]:
        return [f"cohort:{q.id}" for q in self.cohorts]

    @cached_property
    def keys(self) -> list[str]:
        """Ledger keys whose hard blocks forbid a slot whatever the site and trainer."""
        return ["plan", *(f"unit:{u}" for u in self.units), *self.cohort_keys]


@dataclass(frozen=True)
class _Plot:
    """Where the witness holds a course: one site, one trainer, (day, period) per session."""

    site: Site
    trainer: Trainer
    starts: list[tuple[int, int]]


def _place_all(
    rng: random.Random,
    grid: TimeGrid,
    ledger: _Ledger,
    shared: _Shared,
    regions: list[_Region],
) -> tuple[list[Course], list[Placement]]:
    """Place every city's courses, scarce kinds first and cities interleaved.

    Forums need many cohorts free at once and external bases are shared, so they go first;
    interleaving keeps one city from taking all the shared bases and experts.
    """
    per_region = [_wants(rng, grid, shared, region) for region in regions]
    courses: list[Course] = []
    witness: list[Placement] = []
    covered: set[str] = set()
    for phase in range(2):
        lists = [
            [w for w in wants if (w.kind in ("forum", "external")) == (phase == 0)]
            for wants in per_region
        ]
        for i in range(max(map(len, lists))):
            for wants in lists:
                if i < len(wants):
                    _settle(rng, grid, ledger, wants[i], courses, witness, covered)
    for region in regions:
        for want in _coverage_wants(rng, grid, shared, region, covered):
            _settle(rng, grid, ledger, want, courses, witness, covered)
    return courses, witness


def _settle(
    rng: random.Random,
    grid: TimeGrid,
    ledger: _Ledger,
    want: _Want,
    courses: list[Course],
    witness: list[Placement],
    covered: set[str],
) -> None:
    plot = _plot(rng, grid.n_days, want, ledger)
    if plot is None:
        return
    ledger.take(want, plot.site, plot.trainer, plot.starts)
    course = _course(rng, grid, want, plot)
    courses.append(course)
    witness += [
        Placement(
            course=course.id,
            session=k,
            day=grid.day_ref(d),
            period=p,
            site=plot.site.id,
            trainer=plot.trainer.id,
        )
        for k, (d, p) in enumerate(plot.starts)
    ]
    covered.update(q.id for q in want.cohorts)


def _plot(rng: random.Random, n_days: int, want: _Want, ledger: _Ledger) -> _Plot | None:
    """The first option that fits with no soft cost, else the first that fits at all.

    Days of the wanted span come first, then the weeks around it, then the rest of the year.
    """
    a, b = want.span
    inside = list(range(a, b + 1))
    rng.shuffle(inside)
    near = _scatter(rng, [d for d in range(max(0, a - 30), min(n_days, b + 31)) if not a <= d <= b])
    rest = _scatter(rng, [d for d in range(n_days) if not a - 30 <= d <= b + 30])
    days = inside + near + rest
    if want.pattern == "spread":
        # another span of the same length keeps the series compact when its own is costly
        others = [_shifted(rng, want.span, n_days) for _ in range(3)]
        free = ((inside, True), (inside + near, True), *((o, True) for o in others))
        for passes in (free, ((inside + near, False), (days, False))):
            for option in want.options:
                plot = _plot_series(rng, want, option, ledger, passes)
                if plot is not None:
                    return plot
        return None
    first: _Plot | None = None
    for option in want.options:
        found = _plot_block(want, option, ledger, days, n_days)
        if found is not None and found[0] == 0:
            return found[1]
        first = first or (found[1] if found else None)
    return first


def _shifted(rng: random.Random, span: tuple[int, int], n_days: int) -> list[int]:
    """The days of a random span as long as `span`, shuffled."""
    first, last = _span(rng, n_days, span[1] - span[0] + 1)
    days = list(range(first, last + 1))
    rng.shuffle(days)
    return days


def _scatter(rng: random.Random, days: list[int]) -> list[int]:
    """The days in a random-looking order at the cost of two draws, not one per day."""
    n = len(days)
    if n < 2:
        return days
    stride = rng.choice([k for k in (7, 11, 13, 17, 19, 23, 29, 31) if math.gcd(k, n) == 1] or [1])
    start = rng.randrange(n)
    return [days[(start + k * stride) % n] for k in range(n)]


def _plot_block(
    want: _Want, option: _Option, ledger: _Ledger, days: list[int], n_days: int
) -> tuple[int, _Plot] | None:
    """Consecutive whole days at one site: the first free start with no soft cost, else the
    cheapest of the first couple of hundred free candidates.
    """
    n, ppd = want.sessions, ledger.ppd
    common = ledger.union(want.keys)
    sites = [
        (s, ledger.blocked.get(f"site:{s.id}", _EMPTY), ledger.open.get(f"site:{s.id}"))
        for s in option.sites
    ]
    trainers = [(t, ledger.blocked.get(f"trainer:{t.id}", _EMPTY)) for t in option.trainers]
    best: tuple[int, _Plot] | None = None
    tried = 0
    for d0 in days:
        if d0 + n > n_days:
            continue
        slots = [s for d in range(d0, d0 + n) for s in range(d * ppd, d * ppd + ppd)]
        if not common.isdisjoint(slots):
            continue
        combos = (
            (site, trainer)
            for site, taken, opened in sites
            if taken.isdisjoint(slots) and (opened is None or opened.issuperset(slots))
            for trainer, busy in trainers
            if busy.isdisjoint(slots)
        )
        for site, trainer in itertools.islice(combos, 4):
            cost = ledger.cost(want, site, trainer, slots)
            if best is None or cost < best[0]:
                best = (cost, _Plot(site, trainer, [(d, 0) for d in range(d0, d0 + n)]))
            if cost == 0:
                return best
            tried += 1
        if tried >= 200:
            break
    return best


def _plot_series(
    rng: random.Random,
    want: _Want,
    option: _Option,
    ledger: _Ledger,
    passes: tuple[tuple[list[int], bool], ...],
) -> _Plot | None:
    """Sessions on `wanted_days` distinct days, two on a day where sessions exceed days.

    Each pass scans some days; a strict one takes only days free of soft costs, a relaxed one
    takes those first and then any free day.
    """
    n_trainers = len(option.trainers)
    picks = rng.sample(
        range(len(option.sites) * n_trainers), min(6, len(option.sites) * n_trainers)
    )
    pairs = [(option.sites[k // n_trainers], option.trainers[k % n_trainers]) for k in picks]
    for order, strict in passes:
        for site, trainer in pairs:
            starts = _series_days(rng, want, ledger, site, trainer, order, strict)
            if starts is not None:
                return _Plot(site, trainer, starts)
    return None


def _series_days(
    rng: random.Random,
    want: _Want,
    ledger: _Ledger,
    site: Site,
    trainer: Trainer,
    order: list[int],
    strict: bool,
) -> list[tuple[int, int]] | None:
    doubles = want.sessions - want.wanted_days
    needs = [2] * doubles + [1] * (want.wanted_days - doubles)
    blocked = ledger.union([*want.keys, f"trainer:{trainer.id}", f"site:{site.id}"])
    opened = ledger.open.get(f"site:{site.id}")
    ppd = ledger.ppd
    starts: list[tuple[int, int]] = []
    used: set[int] = set()
    for free_only in (True,) if strict else (True, False):
        for d in order:
            if not needs:
                break
            if d in used:
                continue
            need = needs[-1]
            turn = rng.randrange(ppd - need + 1)
            periods = [(turn + k) % (ppd - need + 1) for k in range(ppd - need + 1)]
            for p in periods:
                slots = list(range(d * ppd + p, d * ppd + p + need))
                if not blocked.isdisjoint(slots) or (
                    opened is not None and not opened.issuperset(slots)
                ):
                    continue
                if free_only and ledger.cost(want, site, trainer, slots) > 0:
                    continue
                starts += [(d, p + k) for k in range(need)]
                used.add(d)
                needs.pop()
                break
    return sorted(starts) if not needs else None


# --- Wants per city --------------------------------------------------------------------------


def _wants(rng: random.Random, grid: TimeGrid, shared: _Shared, region: _Region) -> list[_Want]:
    """A city's year: a few forums, then courses for cohorts in turn so every cohort is served."""
    ids = iter(range(10_000))
    wants = [_forum(rng, grid, shared, region, next(ids)) for _ in range(rng.randint(2, 3))]
    at_forums = {q.id for w in wants for q in w.cohorts}
    queue = [q for q in region.cohorts if q.id not in at_forums]
    rng.shuffle(queue)
    for _ in range(rng.randint(236, 250)):
        if not queue:
            queue = list(region.cohorts)
            rng.shuffle(queue)
        want = _course_want(rng, grid, shared, region, queue, next(ids))
        if want is not None:
            wants.append(want)
    return wants


def _coverage_wants(
    rng: random.Random, grid: TimeGrid, shared: _Shared, region: _Region, covered: set[str]
) -> list[_Want]:
    """One more course for each cohort that none of the city's placed courses serves."""
    start = 900  # after the city's own course numbers
    wants = []
    for k, cohort in enumerate(q for q in region.cohorts if q.id not in covered):
        want = _course_want(rng, grid, shared, region, [cohort], start + k, kind="series")
        if want is not None:
            wants.append(want)
    return wants


def _forum(rng: random.Random, grid: TimeGrid, shared: _Shared, region: _Region, k: int) -> _Want:
    """A report meeting of about a thousand: only the great hall holds it."""
    target = rng.randint(700, 1150)
    cohorts: list[Cohort] = []
    per_unit: dict[str, int] = {}
    total = 0
    pool = list(region.cohorts)
    rng.shuffle(pool)
    for q in pool:
        if per_unit.get(q.unit, 0) < 2 and total + q.size <= target:
            cohorts.append(q)
            per_unit[q.unit] = per_unit.get(q.unit, 0) + 1
            total += q.size
    taught = {_generic(t, region.prefix) for f in region.faculty for t in f.topics}
    themes = ("political theory", "scientific development practice", "rule of law")
    topic = rng.choice([t for t in themes if t in taught] or sorted(taught))
    experts = _teaching(shared.experts, topic, "")
    faculty = _teaching(region.faculty, topic, region.prefix)
    options = [_Option([region.hall], experts), _Option([region.hall], faculty)]
    return _Want(
        id=f"{region.prefix}c{k:03d}",
        region=region,
        kind="forum",
        pattern="block",
        sessions=rng.randint(1, 2),
        wanted_days=1,
        cohorts=cohorts,
        topic=topic,
        options=[o for o in options if o.trainers],
        span=_span(rng, grid.n_days, rng.randint(10, 30)),
        priority=5,
        required=True,
        fixed_trainer=True,
    )


def _course_want(
    rng: random.Random,
    grid: TimeGrid,
    shared: _Shared,
    region: _Region,
    queue: list[Cohort],
    k: int,
    kind: str | None = None,
) -> _Want | None:
    """The next course, for the next cohort in the queue (and a few of its unit's that fit)."""
    primary = queue.pop()
    local = region.kind[primary.unit] in ("district", "county")
    if kind is None:
        weights = (10, 10, 25, 55) if local else (35, 15, 0, 50)
        kind = rng.choices(("school", "external", "base", "series"), weights)[0]
    cohorts = [primary]
    if kind == "external":
        options, topic = _external_options(rng, shared, region, primary)
    else:
        home = _home_sites(rng, region, primary, kind)
        limit = max(s.capacity for s in home)
        for j in range(len(queue) - 1, max(-1, len(queue) - 13), -1):
            q = queue[j]
            fits = len(cohorts) < 3 and q.unit == primary.unit and _fits(limit, cohorts, q)
            if fits and rng.random() < 0.5:
                cohorts.append(queue.pop(j))
        options, topic = _local_options(rng, shared, region, primary, kind, home)
    attendance = sum(q.size for q in cohorts)
    options = [
        _Option([s for s in o.sites if s.capacity >= attendance], o.trainers) for o in options
    ]
    options = [o for o in options if o.sites and o.trainers]
    if not options:
        return None
    block = kind != "series"
    if kind == "external":
        sessions = rng.choice((5, 6, 7, 8, 10))
    elif block:
        sessions = rng.choice((3, 3, 4, 5, 5, 5, 6, 7, 8, 10))
    else:
        sessions = rng.randint(4, 12)
    half = math.ceil(sessions / 2)
    wanted = (
        sessions if block else rng.choice((sessions, sessions, half, rng.randint(half, sessions)))
    )
    length = rng.randint(10, 40) if block else wanted * rng.randint(3, 8)
    return _Want(
        id=f"{region.prefix}c{k:03d}",
        region=region,
        kind=kind,
        pattern="block" if block else "spread",
        sessions=sessions,
        wanted_days=wanted,
        cohorts=cohorts,
        topic=topic,
        options=options,
        span=_span(rng, grid.n_days, length),
        priority=rng.randint(1, 5),
        required=rng.random() < 0.9,
        fixed_trainer=rng.random() < 0.55,
    )


def _fits(limit: int, cohorts: list[Cohort], extra: Cohort) -> bool:
    return sum(q.size for q in cohorts) + extra.size <= limit


def _home_sites(rng: random.Random, region: _Region, cohort: Cohort, kind: str) -> list[Site]:
    """Where a cohort's local course is held: its own district/county base, else the school.

    Departments have no base; half of their lecture series go to the districts' bases.
    """
    if kind in ("base", "series") and cohort.unit in region.bases:
        return list(region.bases[cohort.unit])
    if kind == "series" and rng.random() < 0.5:
        return _urban_bases(region)
    return list(region.school)


def _urban_bases(region: _Region) -> list[Site]:
    return [s for u, rooms in region.bases.items() if region.kind[u] == "district" for s in rooms]


def _local_options(
    rng: random.Random,
    shared: _Shared,
    region: _Region,
    cohort: Cohort,
    kind: str,
    home: list[Site],
) -> tuple[list[_Option], str]:
    at_base = kind in ("base", "series") and cohort.unit in region.bases
    rng.shuffle(home)
    school = list(region.school)
    rng.shuffle(school)
    lecturers = region.lecturers.get(cohort.unit, [])
    pool = [*lecturers, *region.officials] if at_base else region.faculty
    topic = _generic(rng.choice(rng.choice([*pool, *region.faculty]).topics), region.prefix)
    local = _teaching([*lecturers, *region.faculty, *region.officials], topic, region.prefix)
    experts = _teaching(shared.experts, topic, "")
    options = []
    if kind == "school" and rng.random() < 0.25:
        options.append(_Option(home, experts))
    options.append(_Option(home, local))
    if at_base:
        options.append(_Option(school, local))
    elif kind == "series":  # the school and the districts' bases share the departments' lectures
        options += [_Option(school, local), _Option(_urban_bases(region), local)]
    return options, topic


def _external_options(
    rng: random.Random, shared: _Shared, region: _Region, cohort: Cohort
) -> tuple[list[_Option], str]:
    """A study class at a base elsewhere; when the bases are full, at the Party school."""
    base = rng.choice(shared.bases)
    topic = rng.choice(base.topics)
    rooms = list(base.rooms)
    rng.shuffle(rooms)
    experts = _teaching(shared.experts, topic, "")
    options = [_Option(rooms, [*_teaching(base.faculty, topic, ""), *experts])]
    for other in shared.bases:
        if other is not base and topic in other.topics:
            options.append(_Option(other.rooms, [*_teaching(other.faculty, topic, ""), *experts]))
    local = _teaching([*region.faculty, *region.officials], topic, region.prefix)
    options.append(_Option(list(region.school), local))
    return options, topic


def _teaching(trainers: Iterable[Trainer], topic: str, prefix: str) -> list[Trainer]:
    return [t for t in trainers if prefix + topic in t.topics]


def _generic(topic: str, prefix: str) -> str:
    return topic.removeprefix(prefix)


def _span(rng: random.Random, n_days: int, length: int) -> tuple[int, int]:
    length = min(length, n_days)
    first = rng.randint(0, n_days - length)
    return first, first + length - 1


# --- From a placed want to a course ----------------------------------------------------------


def _course(rng: random.Random, grid: TimeGrid, want: _Want, plot: _Plot) -> Course:
    """The course as planners would enter it, drawn around where the witness holds it."""
    earliest, latest = _window_around(rng, grid, plot)
    sites = _allowed_sites(rng, want, plot)
    preferred: list[str] = []
    roll = rng.random()
    if roll < 0.4:
        preferred = [plot.site.id]
    elif roll < 0.5 and len(sites) > 1:
        preferred = sorted([plot.site.id, next(s for s in sites if s != plot.site.id)])
    # The trainer's own spelling of the topic: scoped to the city for a city's trainer.
    topic = next(t for t in plot.trainer.topics if _generic(t, want.region.prefix) == want.topic)
    fixed = want.fixed_trainer
    return Course(
        id=want.id,
        name=_course_name(want, plot),
        sessions=want.sessions,
        length=want.length,
        pattern=want.pattern,
        min_days=None
        if want.pattern == "block" or want.wanted_days == want.sessions
        else want.wanted_days,
        trainer=plot.trainer.id if fixed else None,
        topic=None if fixed else topic,
        cohorts=[q.id for q in want.cohorts],
        earliest=earliest,
        latest=latest,
        sites=sites,
        preferred_sites=preferred,
        priority=want.priority,
        required=want.required,
    )


def _window_around(rng: random.Random, grid: TimeGrid, plot: _Plot) -> tuple[dt.date, dt.date]:
    """A window of three weeks to four months that holds the witness's sessions."""
    first, last = plot.starts[0][0], plot.starts[-1][0]
    slack = max(0, rng.randint(15, 85) - (last - first + 1))
    before = rng.randint(0, slack)
    dates = _dates(grid)
    return dates[max(0, first - before)], dates[min(grid.n_days - 1, last + slack - before)]


def _allowed_sites(rng: random.Random, want: _Want, plot: _Plot) -> list[str]:
    """The witness's site and a few alternatives; a soft room may be a little small."""
    attendance = want.attendance
    pool: dict[str, Site] = {}
    for option in want.options:
        for s in option.sites:
            big = s.capacity >= attendance or (
                not s.capacity_hard and s.capacity >= 0.8 * attendance
            )
            if s.id != plot.site.id and big:
                pool[s.id] = s
    extra = rng.sample(list(pool), min(len(pool), rng.randint(0, 3)))
    sites = [plot.site.id, *extra]
    rng.shuffle(sites)
    return sites


def _course_name(want: _Want, plot: _Plot) -> str:
    region = want.region
    topic = want.topic[0].upper() + want.topic[1:]
    if want.kind == "forum":
        return f"{region.city} forum on {want.topic}"
    units = {q.unit for q in want.cohorts}
    audience = (
        want.cohorts[0].name
        if len(want.cohorts) == 1
        else f"{region.unit_names[want.cohorts[0].unit]} cadres"
        if len(units) == 1
        else "mixed cohorts"
    )
    if want.pattern == "spread":
        return f"{topic} lecture series: {audience}"
    if plot.site.kind == "external":
        return f"{topic} study class at {plot.site.location}: {audience}"
    return f"{topic} training class: {audience}"


def _course_blackouts(
    rng: random.Random, grid: TimeGrid, courses: list[Course], witness: list[Placement]
) -> list[Blackout]:
    """A few course-scoped blackouts inside course windows, on days the witness leaves free."""
    used: dict[str, set[dt.date]] = {}
    for pl in witness:
        assert isinstance(pl.day, dt.date)
        used.setdefault(pl.course, set()).add(pl.day)
    out: list[Blackout] = []
    wanted = 3 * max(1, len(courses) // 250)
    for course in rng.sample(courses, len(courses)):
        if len(out) == wanted:
            break
        assert isinstance(course.earliest, dt.date) and isinstance(course.latest, dt.date)
        first = course.earliest + dt.timedelta(rng.randint(0, 20))
        last = first + dt.timedelta(rng.randint(2, 10))
        days = {first + dt.timedelta(i) for i in range((last - first).days + 1)}
        if last > course.latest or days & used[course.id]:
            continue
        hard = len(out) % 3 == 0
        out.append(
            Blackout(
                id=f"course-b{len(out):03d}",
                scope="course",
                target=course.id,
                window=Window(first=first, last=last),
                hard=hard,
                weight=None if hard else 20,
                reason="the lecturer's department holds its review",
            )
        )
    return out


# --- Infeasible plans ------------------------------------------------------------------------


def _plant_conflict(rng: random.Random, problem: Problem) -> tuple[Problem, str]:
    """Break one required course for a reason a planner can name, and leave the rest be.

    The reason is local to the course (its only trainer away, its room too small, its unit
    shut, its window too short for its block), so that an explanation can point at it.
    """
    kind = rng.choice(("trainer", "capacity", "unit", "window"))
    dates = _dates(TimeGrid.of(problem.calendar))
    hard_seats = {s.id for s in problem.sites if s.capacity_hard}
    courses = list(problem.courses)
    candidates = [
        i
        for i, c in enumerate(courses)
        if (kind != "capacity" or hard_seats.intersection(c.sites))
        and (kind != "window" or (c.pattern == "block" and c.sessions >= 3))
        and (kind != "window" or isinstance(c.earliest, dt.date) and c.earliest < dates[-20])
    ]
    i = rng.choice(candidates)
    course = courses[i]
    assert isinstance(course.earliest, dt.date) and isinstance(course.latest, dt.date)
    window = f"{course.earliest}..{course.latest}"
    update: dict[str, object] = {"required": True}
    trainers, blackouts = list(problem.trainers), list(problem.blackouts)
    if kind == "trainer":
        trainer = Trainer(
            id=f"{course.id}-visiting",
            name="Visiting expert",
            unavailable=[
                Window(first=course.earliest, last=course.latest, reason="mission abroad")
            ],
        )
        trainers.append(trainer)
        update |= {"trainer": trainer.id, "topic": None}
        conflict = (
            f"course {course.id}: its only trainer {trainer.id} is on a mission abroad for its "
            f"whole window {window}"
        )
    elif kind == "capacity":
        seats = {s.id: s.capacity for s in problem.sites}
        hard = [s for s in course.sites if s in hard_seats]
        largest = max(seats[s] for s in hard)
        attendance = largest + rng.randint(1, 50)
        update |= {"sites": hard, "attendance": attendance}
        conflict = (
            f"course {course.id}: {attendance} attend but its allowed sites seat at most "
            f"{largest}, a hard capacity"
        )
    elif kind == "unit":
        unit = problem.units_of(course)[0]
        blackouts.append(
            Blackout(
                id=f"{course.id}-inspection",
                scope="unit",
                target=unit,
                window=Window(first=course.earliest, last=course.latest),
                reason="provincial inspection of key projects",
            )
        )
        conflict = (
            f"course {course.id}: its unit {unit} has a hard blackout (provincial inspection) "
            f"over its whole window {window}"
        )
    else:
        latest = [d for d in dates if d >= course.earliest][course.sessions - 2]
        update |= {"latest": latest}
        conflict = (
            f"course {course.id}: a block of {course.sessions} consecutive working days, but "
            f"its window {course.earliest}..{latest} has only {course.sessions - 1}"
        )
    courses[i] = Course.model_validate({**course.model_dump(), **update})
    fields = {name: getattr(problem, name) for name in Problem.model_fields}
    planted = {**fields, "courses": courses, "trainers": trainers, "blackouts": blackouts}
    return Problem.model_validate(planted), conflict
