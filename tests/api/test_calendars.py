"""iCalendar feeds: the pure writer (UIDs, SEQUENCE, cancellations, time zones, refresh hints),
and feeds served over HTTP that parse back to exactly the published sessions."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from icalendar import Calendar as ICalendar

from api.calendars import Directory, feed_to_ical
from scheduler.feeds import Feed, FeedEntry, session_times
from scheduler.runtime import Runtime
from scheduler.versions import latest_version
from solver.problem import Calendar, Cohort, Site, Trainer
from tests.api.conftest import Clients, problem_json, published_plan, run_worker
from tests.scheduler.factories import MONDAY, make_problem

ZONE = ZoneInfo("Asia/Shanghai")
STAMP = dt.datetime(2027, 2, 1, 8, 0, tzinfo=dt.UTC)


def make_entry(**overrides: Any) -> FeedEntry:
    start = dt.datetime(2027, 3, 1, 9, 0, tzinfo=ZONE)
    fields: dict[str, Any] = {
        "uid": "a1",
        "sequence": 0,
        "status": "confirmed",
        "course": "c-1",
        "title": "Rule of law",
        "day": start.date(),
        "period": 0,
        "length": 1,
        "site": "s-1",
        "trainer": "t-1",
        "cohorts": ["q-1"],
        "units": ["u-1"],
        "starts_at": start,
        "ends_at": start + dt.timedelta(hours=3),
    }
    return FeedEntry(**{**fields, **overrides})


def make_feed(*entries: FeedEntry) -> Feed:
    return Feed(
        plan_id=1,
        plan="spring programme",
        party_kind="trainer",
        party_id="t-1",
        version=2,
        time_zone="Asia/Shanghai",
        entries=list(entries),
    )


NAMES = Directory.of(
    make_problem(
        sites=[Site(id="s-1", name="Party school hall", capacity=40, location="Xining")],
        trainers=[Trainer(id="t-1", name="Ma Lin", topics=["law"])],
        cohorts=[Cohort(id="q-1", name="Section chiefs", unit="u-1", size=20)],
        courses=[],
    )
)


def events_of(body: bytes) -> dict[str, Any]:
    return {str(e["UID"]): e for e in ICalendar.from_ical(body).walk("VEVENT")}


def test_a_session_is_an_event_with_its_uid_sequence_times_place_and_people() -> None:
    body = feed_to_ical(
        make_feed(make_entry(sequence=3)), NAMES, title="Ma Lin", stamp=STAMP, today=None
    )
    calendar = ICalendar.from_ical(body)
    event = events_of(body)["a1@offseason"]
    assert event["SEQUENCE"] == 3 and str(event["STATUS"]) == "CONFIRMED"
    assert event.decoded("DTSTART") == dt.datetime(2027, 3, 1, 9, 0, tzinfo=ZONE)
    assert event["DTSTART"].params["TZID"] == "Asia/Shanghai"
    assert event.decoded("DTEND") - event.decoded("DTSTART") == dt.timedelta(hours=3)
    assert event.decoded("DTSTAMP") == STAMP
    assert str(event["LOCATION"]) == "Party school hall, Xining"
    description = str(event["DESCRIPTION"])
    assert "Rule of law" in description and "Ma Lin" in description
    assert "Section chiefs" in description
    assert [tz["TZID"] for tz in calendar.walk("VTIMEZONE")] == ["Asia/Shanghai"]
    assert calendar["REFRESH-INTERVAL"].params["VALUE"] == "DURATION"
    assert calendar.decoded("REFRESH-INTERVAL") == dt.timedelta(hours=1)
    assert "X-PUBLISHED-TTL:PT1H" in body.decode()
    assert str(calendar["X-WR-CALNAME"]) == "Ma Lin"


def test_cancelled_sessions_stay_as_cancelled_until_a_week_after_their_date() -> None:
    day = dt.datetime(2027, 3, 1, 9, 0, tzinfo=ZONE)
    feed = make_feed(
        make_entry(uid="kept", status="cancelled", sequence=1),
        make_entry(uid="old", status="cancelled", starts_at=day - dt.timedelta(days=8)),
        make_entry(uid="held", starts_at=day - dt.timedelta(days=30)),
    )
    events = events_of(feed_to_ical(feed, NAMES, title="t", stamp=STAMP, today=day.date()))
    assert str(events["kept@offseason"]["STATUS"]) == "CANCELLED"
    assert events["kept@offseason"]["SEQUENCE"] == 1
    assert "old@offseason" not in events  # cancelled more than a week ago
    assert "held@offseason" in events  # held sessions stay whatever their age


def test_the_same_published_state_gives_the_same_bytes() -> None:
    feed = make_feed(make_entry(), make_entry(uid="b2", period=1))
    first = feed_to_ical(feed, NAMES, title="t", stamp=STAMP, today=MONDAY)
    assert feed_to_ical(feed, NAMES, title="t", stamp=STAMP, today=MONDAY) == first
    later = STAMP + dt.timedelta(minutes=1)
    assert feed_to_ical(feed, NAMES, title="t", stamp=later, today=MONDAY) != first


def published_sessions(rt: Runtime, plan_id: int, trainer: str | None = None) -> set[Any]:
    """(uid, start, end, sequence) of the published sessions, from the database."""
    calendar = make_problem().calendar
    with rt.sessions.begin() as session:
        version = latest_version(session, plan_id)
        assert version is not None
        found = set()
        for r in version.sessions:
            if trainer is None or r.trainer == trainer:
                when = session_times(calendar, dt.date.fromisoformat(r.day), r.period, r.length)
                assert when is not None
                found.add((f"{r.uid}@offseason", *when, r.sequence))
        return found


def feed_events(body: bytes, status: str = "CONFIRMED") -> set[Any]:
    return {
        (str(e["UID"]), e.decoded("DTSTART"), e.decoded("DTEND"), int(str(e["SEQUENCE"])))
        for e in ICalendar.from_ical(body).walk("VEVENT")
        if str(e["STATUS"]) == status
    }


def test_a_subscribed_feed_parses_back_to_exactly_the_published_sessions(
    clients: Clients, rt: Runtime
) -> None:
    plan_id = published_plan(clients, rt)
    for trainer in ("t-1", "t-2", "t-3"):
        issued = clients.planner.post(
            f"/plans/{plan_id}/feeds", json={"kind": "trainer", "id": trainer}
        )
        assert issued.status_code == 201
        served = clients.anonymous.get(issued.json()["url"])  # no headers: the token suffices
        assert served.status_code == 200
        assert served.headers["content-type"].startswith("text/calendar")
        assert feed_events(served.content) == published_sessions(rt, plan_id, trainer)
    whole = clients.viewer.get(f"/plans/{plan_id}/calendar.ics")
    assert feed_events(whole.content) == published_sessions(rt, plan_id)
    assert len(published_sessions(rt, plan_id)) == 5


def republish(clients: Clients, rt: Runtime, plan_id: int) -> None:
    """A planner's repair solve of the plan's current data, published."""
    asked = clients.planner.post(f"/plans/{plan_id}/solve-requests", json={"mode": "repair"})
    assert asked.status_code == 202
    runs = run_worker(rt)
    run_id = clients.planner.get(asked.headers["location"]).json()["run"]["id"]
    assert run_id in runs
    published = clients.planner.post(f"/plans/{plan_id}/versions", json={"run": run_id})
    assert published.status_code == 201, published.text


def test_a_moved_session_keeps_its_uid_with_a_higher_sequence_and_a_dropped_one_is_cancelled(
    clients: Clients, rt: Runtime
) -> None:
    plan_id = published_plan(clients, rt)
    calendar_url = f"/plans/{plan_id}/calendar.ics"
    before = {e[0]: e for e in feed_events(clients.viewer.get(calendar_url).content)}
    whole_plan = {"first": str(MONDAY), "last": str(MONDAY + dt.timedelta(days=11))}
    # c-3 may now be left out, and cannot be held; t-3 can no longer teach in the half of
    # the day where their first session is (any optimal plan will do: look where it is).
    clients.planner.patch(f"/plans/{plan_id}/courses/c-3", json={"required": False})
    blackout = {"scope": "course", "target": "c-3", "window": whole_plan, "reason": "merged"}
    assert clients.planner.post(f"/plans/{plan_id}/blackouts", json=blackout).status_code == 201
    first_start = min(start for _, start, _, _ in published_sessions(rt, plan_id, "t-3"))
    mornings = session_times(make_problem().calendar, first_start.date(), 0, 1)
    half = 0 if mornings is not None and first_start == mornings[0] else 1
    off = {"window": {**whole_plan, "periods": [half]}, "reason": "half days off"}
    answer = clients.planner.post(f"/plans/{plan_id}/trainers/t-3/unavailability", json=off)
    assert answer.status_code == 200
    republish(clients, rt, plan_id)

    body = clients.viewer.get(calendar_url).content
    after = {e[0]: e for e in feed_events(body)}
    cancelled = {uid for uid, *_ in feed_events(body, "CANCELLED")}
    assert cancelled and cancelled == set(before) - set(after)  # c-3's session
    assert set(after) <= set(before)  # every other session kept its uid
    for uid, (_, start, _, sequence) in after.items():
        assert (sequence == before[uid][3] + 1) == (start != before[uid][1])
    assert any(after[uid][3] == before[uid][3] + 1 for uid in after)  # t-3's sessions moved


def test_a_cancelled_course_is_repaired_away(clients: Clients, rt: Runtime) -> None:
    plan_id = published_plan(clients, rt)
    assert clients.planner.delete(f"/plans/{plan_id}/courses/c-3").status_code == 204
    republish(clients, rt, plan_id)
    body = clients.viewer.get(f"/plans/{plan_id}/calendar.ics").content
    assert len(feed_events(body, "CANCELLED")) == 1


def test_calendars_of_an_abstract_grid_are_refused_with_a_reason(clients: Clients) -> None:
    abstract = problem_json() | {
        "calendar": Calendar(days=5, periods_per_day=2).model_dump(mode="json")
    }
    plan_id = clients.planner.post("/plans", json=abstract).json()["id"]
    answer = clients.viewer.get(f"/plans/{plan_id}/calendar.ics")
    assert answer.status_code == 409
    assert answer.headers["content-type"] == "application/problem+json"
    assert "abstract grid" in answer.json()["detail"]
