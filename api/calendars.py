"""Calendars: a feed of published sessions -> iCalendar (RFC 5545) text, a pure function.

Each session is one VEVENT whose UID follows it across versions and whose SEQUENCE rises with
every change, so calendar apps update it in place; a cancelled session stays in the feed, as
STATUS:CANCELLED, until a week after its date, so that apps that imported it drop it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field

from icalendar import Calendar, Event, vDuration, vText

from scheduler.feeds import Feed, FeedEntry
from solver.problem import Problem

PRODID = "-//Offseason//Offseason schedule feed//EN"
UID_DOMAIN = "offseason"
REFRESH = dt.timedelta(hours=1)
CANCELLED_KEPT = dt.timedelta(days=7)


@dataclass(frozen=True)
class Directory:
    """Names of what sessions refer to by id (so that people read names, not ids)."""

    sites: dict[str, tuple[str, str]] = field(default_factory=dict)  # id -> (name, location)
    trainers: dict[str, str] = field(default_factory=dict)
    cohorts: dict[str, str] = field(default_factory=dict)
    units: dict[str, str] = field(default_factory=dict)

    @staticmethod
    def of(problem: Problem) -> Directory:
        return Directory(
            sites={s.id: (s.name or s.id, s.location) for s in problem.sites},
            trainers={t.id: t.name or t.id for t in problem.trainers},
            cohorts={q.id: q.name or q.id for q in problem.cohorts},
            units={u.id: u.name or u.id for u in problem.units},
        )

    def site(self, site_id: str) -> str:
        name, location = self.sites.get(site_id, (site_id, ""))
        return f"{name}, {location}" if location and location not in name else name

    def trainer(self, trainer_id: str) -> str:
        return self.trainers.get(trainer_id, trainer_id)

    def cohort(self, cohort_id: str) -> str:
        return self.cohorts.get(cohort_id, cohort_id)

    def party(self, kind: str, party_id: str | None) -> str:
        """A feed's party by name ("the plan" for a whole-plan feed)."""
        if party_id is None:
            return "the plan"
        if kind == "site":
            return self.sites.get(party_id, (party_id, ""))[0]
        found = {"trainer": self.trainers, "cohort": self.cohorts, "unit": self.units}.get(kind)
        return found.get(party_id, party_id) if found else party_id


def shown(entries: Iterable[FeedEntry], today: dt.date | None) -> list[FeedEntry]:
    """The entries a calendar shows: every confirmed session with a time, and cancelled ones
    until CANCELLED_KEPT after their date."""
    keep_from = today - CANCELLED_KEPT if today is not None else None
    return [
        e
        for e in entries
        if e.starts_at is not None
        and (e.status == "confirmed" or keep_from is None or e.starts_at.date() >= keep_from)
    ]


def event_of(entry: FeedEntry, names: Directory, stamp: dt.datetime) -> Event:
    assert entry.starts_at is not None and entry.ends_at is not None
    event = Event()
    event.add("uid", f"{entry.uid}@{UID_DOMAIN}")
    event.add("sequence", entry.sequence)
    event.add("dtstamp", stamp.astimezone(dt.UTC))
    event.add("dtstart", entry.starts_at)
    event.add("dtend", entry.ends_at)
    event.add("summary", entry.title)
    event.add("location", names.site(entry.site))
    lines = [
        f"Course: {entry.title} ({entry.course})",
        f"Trainer: {names.trainer(entry.trainer)}",
        f"Cohorts: {', '.join(names.cohort(q) for q in entry.cohorts) or '-'}",
    ]
    event.add("description", "\n".join(lines))
    event.add("status", entry.status.upper())
    event.add("transp", "OPAQUE")
    event.add("categories", [entry.course])
    return event


def feed_to_ical(
    feed: Feed,
    names: Directory,
    *,
    title: str,
    stamp: dt.datetime,
    today: dt.date | None,
    refresh: dt.timedelta = REFRESH,
) -> bytes:
    """The feed as an iCalendar file.

    `stamp` (DTSTAMP) is when the published state was last changed, not the time of the
    request, so that the same state always gives the same bytes (and the same ETag).
    """
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    calendar.add("name", title)
    calendar.add("x-wr-calname", title)
    calendar.add("x-wr-timezone", feed.time_zone)
    calendar.add("refresh-interval", vDuration(refresh), parameters={"VALUE": "DURATION"})
    calendar.add("x-published-ttl", vDuration(refresh))
    calendar.add("description", vText(f"{feed.plan}, version {feed.version}"))
    entries = sorted(shown(feed.entries, today), key=lambda e: (e.starts_at, e.uid))
    for entry in entries:
        calendar.add_component(event_of(entry, names, stamp))
    if entries:
        first = min(e.starts_at for e in entries if e.starts_at is not None).date()
        last = max(e.ends_at for e in entries if e.ends_at is not None).date()
        calendar.add_missing_timezones(first - dt.timedelta(days=1), last + dt.timedelta(days=1))
    ical: bytes = calendar.to_ical()
    return ical
