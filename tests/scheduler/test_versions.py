"""Versions: sessions matched across versions, diffs between any two versions with reasons,
stable calendar identities, and feeds built on them."""

from __future__ import annotations

import datetime as dt

from scheduler import plans, versions
from scheduler.events import last_event_id
from scheduler.feeds import build_feed, create_feed_token, resolve_feed_token, session_times
from scheduler.runtime import Runtime
from scheduler.versions import match_sessions
from solver.problem import Calendar, Placement, Weights, Window
from tests.scheduler.factories import MONDAY, FakeClock, make_problem

TUESDAY = MONDAY + dt.timedelta(days=1)
WEIGHTS = Weights(**dict.fromkeys(Weights.model_fields, 1))


def at(
    course: str,
    session: int,
    day: dt.date,
    period: int = 0,
    site: str = "s-1",
    trainer: str = "t-1",
) -> Placement:
    return Placement(
        course=course, session=session, day=day, period=period, site=site, trainer=trainer
    )


def test_swapped_session_numbers_are_no_change() -> None:
    old = [at("c-1", 0, MONDAY), at("c-1", 1, TUESDAY)]
    new = [at("c-1", 0, TUESDAY), at("c-1", 1, MONDAY)]
    m = match_sessions(old, new)
    assert sorted(m.unchanged) == [(0, 1), (1, 0)] and not (m.moved or m.added or m.cancelled)


def test_moves_pair_in_time_order_and_extra_sessions_are_added_or_cancelled() -> None:
    old = [at("c-1", 0, MONDAY), at("c-1", 1, TUESDAY), at("c-2", 0, MONDAY, site="s-2")]
    new = [
        at("c-1", 0, MONDAY, period=1),
        at("c-1", 1, TUESDAY),
        at("c-3", 0, TUESDAY, site="s-2"),
    ]
    m = match_sessions(old, new)
    assert m.unchanged == [(1, 1)]
    assert m.moved == [(0, 0)]
    assert m.cancelled == [2] and m.added == [2]


def publish(rt: Runtime, plan_id: int, placements: list[Placement], trigger: str) -> None:
    with rt.sessions.begin() as session:
        problem = plans.load_problem(session, plan_id)
        versions.publish_placements(
            session,
            plan_id,
            problem,
            placements,
            weights=WEIGHTS,
            now=rt.clock(),
            trigger=trigger,
            published_by="planner",
            last_event_id=last_event_id(session, plan_id),
        )


V1 = [
    at("c-1", 0, MONDAY),
    at("c-1", 1, TUESDAY),
    at("c-2", 0, MONDAY, site="s-2", trainer="t-3"),
    at("c-2", 1, TUESDAY, site="s-2", trainer="t-3"),
    at("c-3", 0, MONDAY, period=1, trainer="t-2"),
]


def test_a_diff_across_versions_gives_old_and_new_slots_and_the_reason(
    rt: Runtime, clock: FakeClock
) -> None:
    with rt.sessions.begin() as session:
        plan_id = plans.import_problem(session, make_problem(), now=clock()).id
    publish(rt, plan_id, V1, "first")
    with rt.sessions.begin() as session:
        plans.close_site(
            session,
            plan_id,
            "s-2",
            Window(first=TUESDAY, last=TUESDAY),
            reason="repairs",
            now=clock(),
        )
    v2 = [*V1[:3], at("c-2", 1, TUESDAY, site="s-1", period=1, trainer="t-3"), V1[4]]
    publish(rt, plan_id, v2, "repair")
    with rt.sessions.begin() as session:
        plans.cancel_course(session, plan_id, "c-3", reason="merged into c-1", now=clock())
    publish(rt, plan_id, v2[:4], "repair")

    with rt.sessions.begin() as session:
        diff = versions.diff_versions(session, plan_id, 1, 3)
        (moved,) = diff.moved
        assert moved.course == "c-2" and moved.rule == "site_closed"
        assert moved.old is not None and moved.new is not None
        assert (moved.old.site, moved.new.site, moved.new.period) == ("s-2", "s-1", 1)
        assert "site s-2 closed" in moved.reason and "repairs" in moved.reason
        (cancelled,) = diff.cancelled
        assert cancelled.course == "c-3" and "cancelled: merged into c-1" in cancelled.reason
        assert cancelled.new is None and cancelled.old is not None
        assert not diff.added
        back = versions.diff_versions(session, plan_id, 3, 1)
        assert [c.course for c in back.added] == ["c-3"] and "restored" in back.added[0].reason

        one, three = (
            versions.get_version(session, plan_id, 1),
            versions.get_version(session, plan_id, 3),
        )
        uids = {(s.course, s.session): (s.uid, s.sequence) for s in one.sessions}
        for s in three.sessions:
            uid, sequence = uids[(s.course, s.session)]
            assert s.uid == uid
            assert s.sequence == sequence + (1 if (s.course, s.session) == ("c-2", 1) else 0)


def test_a_feed_shows_its_partys_sessions_and_the_cancelled_ones(
    rt: Runtime, clock: FakeClock
) -> None:
    with rt.sessions.begin() as session:
        plan_id = plans.import_problem(session, make_problem(), now=clock()).id
        _, token = create_feed_token(session, plan_id, "unit", "u-2", now=clock())
    publish(rt, plan_id, V1, "first")
    with rt.sessions.begin() as session:
        plans.cancel_course(session, plan_id, "c-3", now=clock())
    publish(rt, plan_id, V1[:4], "repair")
    with rt.sessions.begin() as session:
        feed = build_feed(session, resolve_feed_token(session, token))
    by_course = {(e.course, e.status) for e in feed.entries}
    assert by_course == {("c-2", "confirmed"), ("c-3", "cancelled")}
    (gone,) = [e for e in feed.entries if e.status == "cancelled"]
    assert gone.sequence == 1 and gone.starts_at is not None
    assert gone.starts_at.isoformat() == "2027-03-01T12:00:00+00:00"  # period 1 of 180 min


def test_session_times_follow_the_calendar() -> None:
    calendar = Calendar(
        first_date=MONDAY,
        last_date=TUESDAY,
        periods_per_day=2,
        period_starts=[dt.time(8, 30), dt.time(14, 0)],
        period_minutes=150,
        time_zone="Asia/Shanghai",
    )
    start, end = session_times(calendar, TUESDAY, 0, 2) or (None, None)
    assert start is not None and end is not None
    assert (start.hour, start.minute, end.hour, end.minute) == (8, 30, 16, 30)
    assert start.utcoffset() == dt.timedelta(hours=8)
    assert session_times(Calendar(days=3), 1, 0, 1) is None
