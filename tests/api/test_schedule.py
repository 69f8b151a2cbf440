"""The JSON schedule: filters, paging, versions; and revalidation (strong ETag, 304,
Last-Modified) of schedules and calendars."""

from __future__ import annotations

from typing import Any

from api.conditional import etag_matches
from scheduler.runtime import Runtime
from tests.api.conftest import Clients, problem_json, published_plan, run_worker
from tests.scheduler.factories import MONDAY


def all_sessions(clients: Clients, plan_id: int, **query: Any) -> list[dict[str, Any]]:
    answer = clients.viewer.get(f"/plans/{plan_id}/schedule", params=query | {"limit": 1000})
    assert answer.status_code == 200, answer.text
    items: list[dict[str, Any]] = answer.json()["items"]
    return items


def test_filters_keep_exactly_the_matching_sessions(clients: Clients, rt: Runtime) -> None:
    plan_id = published_plan(clients, rt)
    everything = all_sessions(clients, plan_id)
    assert len(everything) == 5
    days = [(s["day"], s["period"]) for s in everything]
    assert days == sorted(days)
    for name, field in (("trainer", "trainer"), ("site", "site"), ("course", "course")):
        for value in {s[field] for s in everything}:
            wanted = [s for s in everything if s[field] == value]
            assert all_sessions(clients, plan_id, **{name: value}) == wanted
    assert all_sessions(clients, plan_id, unit="u-2") == [
        s for s in everything if "u-2" in s["units"]
    ]
    assert all_sessions(clients, plan_id, cohort=["q-1", "q-2"]) == everything
    assert all_sessions(clients, plan_id, unit="u-1", course="c-2") == []
    middle = everything[2]["day"]
    assert all_sessions(clients, plan_id, **{"from": middle, "to": middle}) == [
        s for s in everything if s["day"] == middle
    ]
    first = everything[0]
    assert first["starts_at"] == f"{first['day']}T{9 + 3 * first['period']:02d}:00:00Z"


def test_pages_link_to_the_next_until_the_last(clients: Clients, rt: Runtime) -> None:
    plan_id = published_plan(clients, rt)
    seen: list[str] = []
    url: str | None = f"/plans/{plan_id}/schedule?limit=2&unit=u-1&unit=u-2"
    while url is not None:
        page = clients.viewer.get(url).json()
        assert page["total"] == 5 and len(page["items"]) <= 2
        seen += [s["uid"] for s in page["items"]]
        url = page["next"]
    assert seen == [s["uid"] for s in all_sessions(clients, plan_id)]


def test_bad_queries_are_problems_naming_the_parameter(clients: Clients, rt: Runtime) -> None:
    plan_id = published_plan(clients, rt)
    for query, field in (({"from": "March"}, "from"), ({"limit": 0}, "query.limit")):
        answer = clients.viewer.get(f"/plans/{plan_id}/schedule", params=query)
        assert answer.status_code == 422
        assert answer.headers["content-type"] == "application/problem+json"
        problem = answer.json()
        assert field in problem["detail"] and problem["status"] == 422
    missing = clients.viewer.get(f"/plans/{plan_id}/schedule", params={"version": 7})
    assert missing.status_code == 404


def test_nothing_published_yet_is_a_404_for_json_and_an_empty_calendar(
    clients: Clients,
) -> None:
    plan_id = clients.planner.post("/plans", json=problem_json()).json()["id"]
    assert clients.viewer.get(f"/plans/{plan_id}/schedule").status_code == 404
    empty = clients.viewer.get(f"/plans/{plan_id}/calendar.ics")
    assert empty.status_code == 200 and b"BEGIN:VEVENT" not in empty.content


def test_a_current_copy_is_revalidated_with_304_and_a_change_gives_a_new_etag(
    clients: Clients, rt: Runtime
) -> None:
    plan_id = published_plan(clients, rt)
    for url in (
        f"/plans/{plan_id}/schedule?trainer=t-1",
        f"/plans/{plan_id}/calendar.ics",
        f"/plans/{plan_id}/calendars/trainers/t-1.ics",
        f"/plans/{plan_id}/versions/1/explanation",
    ):
        first = clients.viewer.get(url)
        etag, modified = first.headers["etag"], first.headers["last-modified"]
        assert etag.startswith('"') and not etag.startswith("W/")
        again = clients.viewer.get(url, headers={"If-None-Match": etag})
        assert again.status_code == 304 and again.content == b""
        assert again.headers["etag"] == etag
        weak = clients.viewer.get(url, headers={"If-None-Match": f'"x", W/{etag}'})
        assert weak.status_code == 304
        since = clients.viewer.get(url, headers={"If-Modified-Since": modified})
        assert since.status_code == 304
        stale = clients.viewer.get(url, headers={"If-None-Match": '"stale"'})
        assert stale.status_code == 200 and stale.content == first.content

    url = f"/plans/{plan_id}/calendar.ics"
    etag = clients.viewer.get(url).headers["etag"]
    # A site the published sessions use (any of the plan's equally good schedules may do).
    site = all_sessions(clients, plan_id)[0]["site"]
    renamed = clients.planner.patch(f"/plans/{plan_id}/sites/{site}", json={"name": "Great hall"})
    assert renamed.status_code == 200
    changed = clients.viewer.get(url, headers={"If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["etag"] != etag
    assert b"Great hall" in changed.content


def test_if_none_match_uses_the_weak_comparison() -> None:
    assert etag_matches('"a"', '"a"') and etag_matches('W/"a"', '"a"')
    assert etag_matches('"b", "a"', '"a"') and etag_matches("*", '"a"')
    assert not etag_matches('"b"', '"a"')


def test_from_and_to_take_day_numbers_on_abstract_grids(clients: Clients, rt: Runtime) -> None:
    abstract = problem_json() | {"calendar": {"days": 10, "periods_per_day": 2}}
    plan_id = clients.planner.post("/plans", json=abstract).json()["id"]
    clients.planner.post(f"/plans/{plan_id}/solve-requests", json={})
    (run_id,) = run_worker(rt)
    clients.planner.post(f"/plans/{plan_id}/versions", json={"run": run_id})
    everything = all_sessions(clients, plan_id)
    assert all(isinstance(s["day"], int) and s["starts_at"] is None for s in everything)
    assert all_sessions(clients, plan_id, **{"from": 3}) == [s for s in everything if s["day"] >= 3]
    assert (
        clients.viewer.get(f"/plans/{plan_id}/schedule", params={"from": str(MONDAY)}).status_code
        == 422
    )
