"""The annealing's moves compiled (numba): the same moves and prices as `solver.local`, 50-100x
the tries a second.

The local search in Python tries 10-20k moves a second; published annealers for timetabling
try millions, and on ITC-2007 the annealing's result kept improving with every doubling of
its tries. This module packs a `Local` into arrays and runs the annealing's loop compiled:
a session to another start (its site and trainer kept where they can stay, else others in
random order; or taking the site from the session there), two sessions' times swapped, a
Kempe chain of two times' clashes, a session to another site, a whole course to one site.
Every hard rule is kept as `Local.fits` keeps it, and each move is priced exactly on the
components it touches, as `Local.price` prices them.

It prices every term the Python search prices (soft blackouts, seats over a soft capacity,
preferred sites, distinct days, site stability, compactness, the plan's load peak, a unit's
away cap, a trainer's load limits) and moves block courses whole. It does not apply where a
price table would be too large (`why_not`); the Python annealing runs there. The answer goes
back through `Local` (`spots`), and the solve's checker judges it like any other schedule.
"""

from __future__ import annotations

import math
import time
from collections import Counter, defaultdict
from typing import Any, NamedTuple

import numpy as np
from numba import njit

from solver.domains import DomainBuilder, intersect, site_charge
from solver.grid import TimeGrid
from solver.local import (
    BLOCK_SITE_SHARE,
    COURSE_SITE_SHARE,
    EJECT_SHARE,
    KEMPE_MAX,
    KEMPE_SHARE,
    SITE_SHARE,
    SWAP_SHARE,
    Local,
    Spot,
)
from solver.problem import (
    Calendar,
    Cohort,
    Course,
    Placement,
    Problem,
    Site,
    Trainer,
    Unit,
    Weights,
)

# The most a price table may hold (a course's starts x its sites, summed); larger plans anneal
# in Python rather than spend the memory.
TABLE_MAX = 5_000_000
# One worker charges the compiled moves at this rate (ITC-2007 comp07 ran 160-210k a second,
# a city's plan S1 133k: a one-worker annealing may take up to twice its share in wall time;
# NOTES, session 13).
KERNEL_MOVES_PER_S = 300_000

Arr = Any  # numpy int64 arrays (numba reads them as such)


class Plan(NamedTuple):
    """What does not change while annealing, as arrays (`pack`)."""

    ppd: int
    n_slots: int
    s_course: Arr  # session -> course
    s_len: Arr  # session -> its length in periods
    s_index: Arr  # session -> its index in its course (a block's day)
    s_first: Arr  # session -> slots from a block's first day's start to its own (else 0)
    s_moves: Arr  # session -> 1 if a spread course's movable session
    movable: Arr  # the movable sessions
    group_off: Arr  # movable sessions grouped by length: offsets into `group`
    group: Arr
    s_group: Arr  # session -> its length group
    c_wanted: Arr  # course -> distinct days wanted (spread), else 0
    c_block: Arr  # course -> 1 if a block
    c_coh_off: Arr
    c_coh: Arr  # a course's cohorts
    c_start_off: Arr
    c_start: Arr  # a movable course's allowed starts (a block's: its first day's)
    start_pos: Arr  # course * n_slots + slot -> the slot's row in the course's tables, or -1
    c_rows: Arr  # course -> rows in its tables (every start one of its sessions may have)
    c_site_off: Arr
    c_site: Arr  # a course's sites (global index)
    site_tab_off: Arr
    site_tab: Arr  # (row, site k) -> what a session starting then pays there, -1: not allowed
    block_ok: Arr  # a block's (row, site k) -> 1 if allowed for a first day's start
    c_tr_off: Arr
    c_tr: Arr  # a course's trainers (global index)
    tr_tab_off: Arr
    tr_tab: Arr  # (row, trainer k) -> what a session pays, -1: not allowed
    c_sess_off: Arr
    c_sess: Arr  # a spread course's movable sessions
    b_off: Arr
    b_sess: Arr  # a movable block's sessions in day order
    block_odds: float  # a block drawn (a course at a time), else a spread session
    c_sent_off: Arr
    c_sent_unit: Arr  # a course's cohorts in units with an away cap: their unit
    c_sent_size: Arr  # and size
    cap: Arr  # unit -> cadres it may have away at once
    week_of: Arr  # day -> week
    month_of: Arr  # day -> month
    lim_w: Arr  # trainer -> sessions a week at most, -1: no limit
    lim_m: Arr  # trainer -> sessions a month at most, -1: no limit
    w_min_days: int
    w_stability: int
    w_compact: int
    w_peak: int
    w_density: int
    w_load: int


class State(NamedTuple):
    """The schedule while annealing: where each session is, and the occupancy and counts."""

    start: Arr
    site: Arr  # global site index
    sitek: Arr  # index in the course's sites, -1 if not one of them (a fixed course)
    tr: Arr
    trk: Arr
    own: Arr  # what each session pays alone where it is
    site_at: Arr  # (site, slot) -> session or -1
    tr_at: Arr
    coh_at: Arr
    days: Arr  # (course, day) -> sessions
    c_ndays: Arr
    sites: Arr  # (course, site k) -> sessions
    c_nsites: Arr
    load: Arr  # slot -> sessions running
    hist: Arr  # load -> slots at it
    top: Arr  # [the peak load]
    away: Arr  # (unit, slot) -> cadres away
    away_hist: Arr  # (unit, cadres) -> slots at it
    away_top: Arr  # unit -> its busiest
    taught_w: Arr  # (trainer, week) -> sessions
    taught_m: Arr  # (trainer, month) -> sessions
    best_start: Arr
    best_site: Arr
    best_sitek: Arr
    best_tr: Arr
    best_trk: Arr
    score: Arr  # [cost, best cost, 1 if at the best]
    scratch: Arr  # moved sessions' old and new spots, components


# ---- packing (Python) ----


def why_not(local: Local) -> str | None:
    """Why the compiled moves do not apply to this search (None: they do)."""
    if not local.movable and not local.blocks:
        return "nothing moves"
    size = sum(
        len(rows) * (len(local.domains[c].sites) + len(local.domains[c].trainers))
        for c, rows in _rows(local).items()
    )
    if size > TABLE_MAX:
        return f"price tables of {size:,} entries"
    for i in [*local.movable, *(i for b in local.blocks for i in b)]:
        ss = local.sessions[i]
        dom = local.domains[ss.course.id]
        if ss.site not in dom.sites or ss.trainer not in dom.trainers:
            return "a session sits outside its course's options"
    return None


def _rows(local: Local) -> dict[str, list[int]]:
    """The slots a moving course's sessions may start at: a spread course's starts; a
    block's first-day starts and each later day's."""
    rows = {c: list(starts) for c, starts in local.starts.items()}
    ppd = local.ppd
    for c, firsts in local.block_starts.items():
        n = local.course_of[c].sessions
        rows[c] = sorted({f + k * ppd for f in firsts for k in range(n)})
    return rows


def _ints(values: list[int]) -> Arr:
    return np.asarray(values, dtype=np.int64)


def _ragged(rows: list[list[int]], dtype: Any = np.int64) -> tuple[Arr, Arr]:
    off = [0]
    for row in rows:
        off.append(off[-1] + len(row))
    return _ints(off), np.asarray([x for row in rows for x in row], dtype=dtype)


class _Blackouts:
    """What a session of a given length pays at each start for the soft blackouts naming
    one thing (as `Local.own` prices them: each blackout whose slots the session touches),
    as a vector over the grid's slots; computed once per name and length."""

    def __init__(self, local: Local) -> None:
        self.local, self.n = local, local.grid.n_slots
        self.known: dict[tuple[tuple[str, Any], int], Arr] = {}

    def of(self, names: list[tuple[str, Any]], length: int) -> Arr:
        total = np.zeros(self.n, dtype=np.int64)
        for name in names:
            total += self.one(name, length)
        return total

    def one(self, name: tuple[str, Any], length: int) -> Arr:
        key = (name, length)
        if key not in self.known:
            out = np.zeros(self.n, dtype=np.int64)
            for covered, cost in self.local.soft.get(name, ()):
                hit = np.zeros(self.n + length, dtype=np.int64)
                inside = [t for t in covered if 0 <= t < self.n]
                hit[np.asarray(inside, dtype=np.int64)] = 1
                run = np.concatenate(([0], np.cumsum(hit)))
                touched = run[length : self.n + length] - run[: self.n] > 0
                out += cost * touched
            self.known[key] = out
        return self.known[key]


def _allowed(rows: Arr, allowed: frozenset[int] | None) -> Arr:
    """Which rows (slots) are in `allowed` (None: all)."""
    if allowed is None:
        return np.ones(len(rows), dtype=bool)
    return np.isin(rows, np.fromiter(allowed, dtype=np.int64, count=len(allowed)))


class _Tables(NamedTuple):
    sites: list[list[int]]  # a course's sites (global index)
    trainers: list[list[int]]
    starts: list[list[int]]  # where its moves draw starts from
    rows: list[list[int]]  # the slots its tables have a row for
    site_cost: list[list[int]]
    site_ok: list[list[int]]
    tr_cost: list[list[int]]


def _tables(local: Local, site_ix: dict[str, int], tr_ix: dict[str, int]) -> _Tables:
    """Each course's options, and what a session pays at each start, site and trainer
    (the Python search's `Local.own`, split: the site's part with everything that does not
    depend on the trainer, and the trainer's)."""
    problem, weights = local.problem, local.weights
    units = {q.id: q.unit for q in problem.cohorts}
    placed: dict[str, set[tuple[str, str]]] = defaultdict(set)
    for ss in local.sessions:
        placed[ss.course.id].add((ss.site, ss.trainer))
    rows_of = _rows(local)
    blackouts = _Blackouts(local)
    out = _Tables([], [], [], [], [], [], [])
    for c in problem.courses:
        dom = local.domains.get(c.id)
        rows = rows_of.get(c.id, [])
        if dom is None:  # a course that stays: where its sessions are (for its stability)
            sites = sorted({s for s, _ in placed[c.id]})
            trainers = sorted({t for _, t in placed[c.id]})
        else:
            sites, trainers = list(dom.sites), list(dom.trainers)
        out.sites.append([site_ix[x] for x in sites])
        out.trainers.append([tr_ix[x] for x in trainers])
        out.starts.append(list(local.starts.get(c.id, local.block_starts.get(c.id, ()))))
        out.rows.append(rows)
        names: list[tuple[str, Any]] = [("plan", None)]
        names += [
            ("unit", u) for u in dict.fromkeys(units[q] for q in local.cohorts[c.id] if q in units)
        ]
        names += [("cohort", q) for q in local.cohorts[c.id]] + [("course", c.id)]
        attendance = local.attendance[c.id]
        charge = {x: site_charge(weights, c, problem.site_by_id[x], attendance) for x in sites}
        at = np.asarray(rows, dtype=np.int64)
        base = blackouts.of(names, c.length)[at]
        cost = np.zeros((len(rows), len(sites)), dtype=np.int64)
        ok = np.zeros((len(rows), len(sites)), dtype=bool)
        tr = np.full((len(rows), len(trainers)), -1, dtype=np.int64)
        for k, x in enumerate(sites):
            cost[:, k] = base + charge[x] + blackouts.one(("site", x), c.length)[at]
            if dom is not None and x not in local.small[c.id]:
                ok[:, k] = _allowed(at, dom.site_starts(x) if x in dom.sites else frozenset())
        for j, t in enumerate(trainers):
            if dom is not None and t in dom.trainers:
                restrictions = dom.trainers[t]
                allowed = (
                    intersect(restrictions[0].allowed, restrictions[1:]) if restrictions else None
                )
                fine = _allowed(at, allowed)
                tr[fine, j] = blackouts.one(("trainer", t), c.length)[at][fine]
        # a spread course's session never needs its price where it may not be; a block's
        # later day does (its site is allowed or not on the first day's start)
        priced = cost if c.pattern == "block" else np.where(ok, cost, -1)
        out.site_cost.append(priced.ravel().tolist())
        out.site_ok.append(ok.ravel().tolist())
        out.tr_cost.append(tr.ravel().tolist())
    return out


def pack(local: Local) -> tuple[Plan, State, list[str], list[str]]:
    """The search's plan and schedule as arrays; the site and trainer ids by index."""
    problem, grid, weights = local.problem, local.grid, local.weights
    courses = list(problem.courses)
    c_index = {c.id: k for k, c in enumerate(courses)}
    site_ids = [s.id for s in problem.sites]
    tr_ids = [t.id for t in problem.trainers]
    for ss in local.sessions:  # a fixed session may name what the plan lists no longer
        if ss.site not in site_ids:
            site_ids.append(ss.site)
        if ss.trainer not in tr_ids:
            tr_ids.append(ss.trainer)
    site_ix = {s: k for k, s in enumerate(site_ids)}
    tr_ix = {t: k for k, t in enumerate(tr_ids)}
    cohort_ids = sorted({q for c in courses for q in local.cohorts[c.id]})
    coh_ix = {q: k for k, q in enumerate(cohort_ids)}
    unit_ids = sorted(local.caps)
    unit_ix = {u: k for k, u in enumerate(unit_ids)}
    n_slots, n_days = grid.n_slots, grid.n_days
    sessions = local.sessions
    moves = set(local.movable)
    tables = _tables(local, site_ix, tr_ix)
    start_pos = np.full(len(courses) * n_slots, -1, dtype=np.int64)
    for k, rows in enumerate(tables.rows):
        for pos, start in enumerate(rows):
            start_pos[k * n_slots + start] = pos
    c_site_off, c_site = _ragged(tables.sites)
    c_tr_off, c_tr = _ragged(tables.trainers)
    c_start_off, c_start = _ragged(tables.starts)
    site_tab_off, site_tab = _ragged(tables.site_cost, np.int32)  # small: in cache
    _, block_ok = _ragged(tables.site_ok, np.int8)
    tr_tab_off, tr_tab = _ragged(tables.tr_cost, np.int32)
    c_coh_off, c_coh = _ragged([[coh_ix[q] for q in local.cohorts[c.id]] for c in courses])
    c_sent_off, c_sent_unit = _ragged([[unit_ix[u] for u, _ in local.sent[c.id]] for c in courses])
    _, c_sent_size = _ragged([[local.size[q] for _, q in local.sent[c.id]] for c in courses])
    by_course: dict[int, list[int]] = defaultdict(list)
    by_len: dict[int, list[int]] = defaultdict(list)
    for i in local.movable:
        by_course[c_index[sessions[i].course.id]].append(i)
        by_len[sessions[i].course.length].append(i)
    c_sess_off, c_sess = _ragged([by_course[k] for k in range(len(courses))])
    b_off, b_sess = _ragged([list(b) for b in local.blocks])
    lengths = sorted(by_len)
    group_off, group = _ragged([by_len[n] for n in lengths])
    s_group = _ints(
        [lengths.index(ss.course.length) if i in moves else -1 for i, ss in enumerate(sessions)]
    )
    spread = len({sessions[i].course.id for i in local.movable})
    limits = [local.limits.get(t, (None, None)) for t in tr_ids]
    plan = Plan(
        ppd=grid.periods_per_day,
        n_slots=n_slots,
        s_course=_ints([c_index[ss.course.id] for ss in sessions]),
        s_len=_ints([ss.course.length for ss in sessions]),
        s_index=_ints([ss.index for ss in sessions]),
        s_first=_ints(
            [
                ss.index * grid.periods_per_day if ss.course.pattern == "block" else 0
                for ss in sessions
            ]
        ),
        s_moves=_ints([1 if i in moves else 0 for i in range(len(sessions))]),
        movable=_ints(list(local.movable)),
        group_off=group_off,
        group=group,
        s_group=s_group,
        c_wanted=_ints([c.wanted_days if c.pattern == "spread" else 0 for c in courses]),
        c_block=_ints([1 if c.pattern == "block" else 0 for c in courses]),
        c_coh_off=c_coh_off,
        c_coh=c_coh,
        c_start_off=c_start_off,
        c_start=c_start,
        start_pos=start_pos,
        c_rows=_ints([len(r) for r in tables.rows]),
        c_site_off=c_site_off,
        c_site=c_site,
        site_tab_off=site_tab_off,
        site_tab=site_tab,
        block_ok=block_ok,
        c_tr_off=c_tr_off,
        c_tr=c_tr,
        tr_tab_off=tr_tab_off,
        tr_tab=tr_tab,
        c_sess_off=c_sess_off,
        c_sess=c_sess,
        b_off=b_off,
        b_sess=b_sess,
        block_odds=len(local.blocks) / max(1, len(local.blocks) + spread),
        c_sent_off=c_sent_off,
        c_sent_unit=c_sent_unit,
        c_sent_size=c_sent_size,
        cap=_ints([local.caps[u] for u in unit_ids]),
        week_of=_ints(list(local.week_of)),
        month_of=_ints(list(local.month_of)),
        lim_w=_ints([-1 if w is None else w for w, _ in limits]),
        lim_m=_ints([-1 if m is None else m for _, m in limits]),
        w_min_days=weights.min_days,
        w_stability=weights.stability,
        w_compact=weights.compactness,
        w_peak=weights.load_peak,
        w_density=weights.density if unit_ids else 0,
        w_load=weights.trainer_load if any(x is not None for pair in limits for x in pair) else 0,
    )
    n = len(sessions)
    most_sites = max((len(r) for r in tables.sites), default=0)
    most_cohorts = max((len(local.cohorts[c.id]) for c in courses), default=0)
    most_sent = max((len(local.sent[c.id]) for c in courses), default=0)
    # Cadres a unit may have away at once: its capped cohorts' sizes (a cohort is in one
    # session at a time).
    level: Counter[str] = Counter()
    for u, q in {pair for pairs in local.sent.values() for pair in pairs}:
        level[u] += local.size[q]
    moved = moved_max(local)
    weeks = max(local.week_of, default=0) + 1
    months = max(local.month_of, default=0) + 1
    state = State(
        start=_ints([ss.start for ss in sessions]),
        site=_ints([site_ix[ss.site] for ss in sessions]),
        sitek=_ints(
            [_position(tables.sites[c_index[ss.course.id]], site_ix[ss.site]) for ss in sessions]
        ),
        tr=_ints([tr_ix[ss.trainer] for ss in sessions]),
        trk=_ints(
            [
                _position(tables.trainers[c_index[ss.course.id]], tr_ix[ss.trainer])
                for ss in sessions
            ]
        ),
        own=_ints([local.own(ss.course, ss.start, ss.site, ss.trainer) for ss in sessions]),
        site_at=np.full((len(site_ids), n_slots), -1, dtype=np.int64),
        tr_at=np.full((len(tr_ids), n_slots), -1, dtype=np.int64),
        coh_at=np.full((max(1, len(cohort_ids)), n_slots), -1, dtype=np.int64),
        days=np.zeros((len(courses), n_days), dtype=np.int64),
        c_ndays=np.zeros(len(courses), dtype=np.int64),
        sites=np.zeros((len(courses), max(1, most_sites)), dtype=np.int64),
        c_nsites=np.zeros(len(courses), dtype=np.int64),
        load=np.zeros(n_slots, dtype=np.int64),
        hist=np.zeros(n + 2, dtype=np.int64),
        top=np.zeros(1, dtype=np.int64),
        away=np.zeros((max(1, len(unit_ids)), n_slots), dtype=np.int64),
        away_hist=np.zeros(
            (max(1, len(unit_ids)), max(level.values(), default=0) + 2), dtype=np.int64
        ),
        away_top=np.zeros(max(1, len(unit_ids)), dtype=np.int64),
        taught_w=np.zeros((len(tr_ids), weeks), dtype=np.int64),
        taught_m=np.zeros((len(tr_ids), months), dtype=np.int64),
        best_start=np.zeros(n, dtype=np.int64),
        best_site=np.zeros(n, dtype=np.int64),
        best_sitek=np.zeros(n, dtype=np.int64),
        best_tr=np.zeros(n, dtype=np.int64),
        best_trk=np.zeros(n, dtype=np.int64),
        score=np.zeros(3, dtype=np.int64),
        # per moved session: its old spot (6), its components (2 x (1 + cohorts + units)
        # pairs) and its trainer's week and month before and after (4 pairs)
        scratch=np.zeros(moved * (6 + 4 * (1 + most_cohorts + most_sent) + 8) + 16, dtype=np.int64),
    )
    for i in range(n):
        _put(plan, state, i)
    state.score[0] = state.score[1] = local.objective()
    state.score[2] = 1
    return plan, state, site_ids, tr_ids


def moved_max(local: Local) -> int:
    """The most sessions one move may take (a Kempe chain, a course to one site, a block)."""
    spread = Counter(local.sessions[i].course.id for i in local.movable)
    blocks = max((len(b) for b in local.blocks), default=0)
    return max(2 * KEMPE_MAX, 2 * max(spread.values(), default=0), blocks, 2) + 2


def _position(row: list[int], value: int) -> int:
    return row.index(value) if value in row else -1


# ---- the compiled part ----


@njit(cache=True)
def seed(value: int) -> None:  # pragma: no cover - compiled
    np.random.seed(value)


@njit(cache=True)
def _bump(st: State, t: int, by: int) -> None:  # pragma: no cover - compiled
    """The plan's load at slot t by `by`, keeping its histogram and peak."""
    was = st.load[t]
    if was > 0:
        st.hist[was] -= 1
    now = was + by
    st.load[t] = now
    if now > 0:
        st.hist[now] += 1
    if now > st.top[0]:
        st.top[0] = now
    while st.top[0] > 0 and st.hist[st.top[0]] == 0:
        st.top[0] -= 1


@njit(cache=True)
def _away(p: Plan, st: State, i: int, sign: int) -> None:  # pragma: no cover - compiled
    """Session i's cadres in units with an away cap, added (sign 1) or taken away (-1)."""
    c = p.s_course[i]
    for a in range(p.c_sent_off[c], p.c_sent_off[c + 1]):
        u, by = p.c_sent_unit[a], sign * p.c_sent_size[a]
        for t in range(st.start[i], st.start[i] + p.s_len[i]):
            was = st.away[u, t]
            if was > 0:
                st.away_hist[u, was] -= 1
            now = was + by
            st.away[u, t] = now
            if now > 0:
                st.away_hist[u, now] += 1
            if now > st.away_top[u]:
                st.away_top[u] = now
            while st.away_top[u] > 0 and st.away_hist[u, st.away_top[u]] == 0:
                st.away_top[u] -= 1


@njit(cache=True)
def _put(p: Plan, st: State, i: int) -> None:  # pragma: no cover - compiled
    """Session i into the maps and counts. Kept small (and `_lift`), the rarer terms'
    counts in functions of their own: past a size the compiler stops inlining it, and each
    call then copies the plan and state (2.8x slower on ITC-2007)."""
    c = p.s_course[i]
    start = st.start[i]
    for t in range(start, start + p.s_len[i]):
        st.site_at[st.site[i], t] = i
        st.tr_at[st.tr[i], t] = i
        for a in range(p.c_coh_off[c], p.c_coh_off[c + 1]):
            st.coh_at[p.c_coh[a], t] = i
        _bump(st, t, 1)
    day = start // p.ppd
    st.days[c, day] += 1
    if st.days[c, day] == 1:
        st.c_ndays[c] += 1
    k = st.sitek[i]
    if k >= 0:
        st.sites[c, k] += 1
        if st.sites[c, k] == 1:
            st.c_nsites[c] += 1
    if p.w_density:
        _away(p, st, i, 1)
    if p.w_load:
        st.taught_w[st.tr[i], p.week_of[day]] += 1
        st.taught_m[st.tr[i], p.month_of[day]] += 1


@njit(cache=True)
def _lift(p: Plan, st: State, i: int) -> None:  # pragma: no cover - compiled
    c = p.s_course[i]
    start = st.start[i]
    for t in range(start, start + p.s_len[i]):
        st.site_at[st.site[i], t] = -1
        st.tr_at[st.tr[i], t] = -1
        for a in range(p.c_coh_off[c], p.c_coh_off[c + 1]):
            st.coh_at[p.c_coh[a], t] = -1
        _bump(st, t, -1)
    day = start // p.ppd
    st.days[c, day] -= 1
    if st.days[c, day] == 0:
        st.c_ndays[c] -= 1
    k = st.sitek[i]
    if k >= 0:
        st.sites[c, k] -= 1
        if st.sites[c, k] == 0:
            st.c_nsites[c] -= 1
    if p.w_density:
        _away(p, st, i, -1)
    if p.w_load:
        st.taught_w[st.tr[i], p.week_of[day]] -= 1
        st.taught_m[st.tr[i], p.month_of[day]] -= 1


@njit(cache=True)
def _course_cost(p: Plan, st: State, c: int) -> int:  # pragma: no cover - compiled
    short = p.c_wanted[c] - st.c_ndays[c]
    extra = st.c_nsites[c] - 1
    return p.w_min_days * max(0, short) + p.w_stability * max(0, extra)


@njit(cache=True)
def _isolated(p: Plan, st: State, q: int, day: int) -> int:  # pragma: no cover - compiled
    first = day * p.ppd
    seen, count = -1, 0
    for t in range(first, first + p.ppd):
        i = st.coh_at[q, t]
        if i < 0 or i == seen:
            continue
        seen = i
        length = p.s_len[i]
        if length >= p.ppd:
            continue
        start = st.start[i]
        before = start > first and st.coh_at[q, start - 1] >= 0
        end = start + length
        after = end < first + p.ppd and st.coh_at[q, end] >= 0
        if not before and not after:
            count += 1
    return count


@njit(cache=True)
def _unit_cost(p: Plan, st: State, u: int) -> int:  # pragma: no cover - compiled
    return p.w_density * max(0, st.away_top[u] - p.cap[u])


@njit(cache=True)
def objective(p: Plan, st: State) -> int:  # pragma: no cover - compiled
    """Every term priced here, over the whole schedule (as `Local.objective`)."""
    total = p.w_peak * st.top[0]
    n_courses = p.c_wanted.shape[0]
    for c in range(n_courses):
        if st.c_ndays[c] > 0:
            total += _course_cost(p, st, c)
    if p.w_compact:
        n_days = st.days.shape[1]
        for q in range(st.coh_at.shape[0]):
            for d in range(n_days):
                total += p.w_compact * _isolated(p, st, q, d)
    if p.w_density:
        for u in range(p.cap.shape[0]):
            total += _unit_cost(p, st, u)
    if p.w_load:
        for tr in range(st.taught_w.shape[0]):
            if p.lim_w[tr] >= 0:
                for w in range(st.taught_w.shape[1]):
                    total += p.w_load * max(0, st.taught_w[tr, w] - p.lim_w[tr])
            if p.lim_m[tr] >= 0:
                for m in range(st.taught_m.shape[1]):
                    total += p.w_load * max(0, st.taught_m[tr, m] - p.lim_m[tr])
    for i in range(p.s_course.shape[0]):
        total += st.own[i]
    return total


@njit(cache=True)
def _fits(p: Plan, st: State, i: int, start: int, k: int, j: int) -> int:  # pragma: no cover
    """What session i pays at `start`, at its course's k-th site with its j-th trainer, or -1
    where that breaks a hard rule (a clash, a site or trainer not allowed then; a block's
    site rules are on its first day's start: `_place` asks `block_ok`). Kept small: see
    `_put`."""
    c = p.s_course[i]
    pos = p.start_pos[c * p.n_slots + start]
    if pos < 0:
        return -1
    site = p.c_site[p.c_site_off[c] + k]
    tr = p.c_tr[p.c_tr_off[c] + j]
    for t in range(start, start + p.s_len[i]):
        if st.site_at[site, t] >= 0 or st.tr_at[tr, t] >= 0:
            return -1
        for a in range(p.c_coh_off[c], p.c_coh_off[c + 1]):
            if st.coh_at[p.c_coh[a], t] >= 0:
                return -1
    n_sites = p.c_site_off[c + 1] - p.c_site_off[c]
    n_trs = p.c_tr_off[c + 1] - p.c_tr_off[c]
    a = p.site_tab[p.site_tab_off[c] + pos * n_sites + k]
    b = p.tr_tab[p.tr_tab_off[c] + pos * n_trs + j]
    if a < 0 or b < 0:
        return -1
    return a + b


@njit(cache=True)
def _site_k(p: Plan, c: int, site: int) -> int:  # pragma: no cover - compiled
    for k in range(p.c_site_off[c], p.c_site_off[c + 1]):
        if p.c_site[k] == site:
            return k - p.c_site_off[c]
    return -1


# Site and trainer choices for a moved session (`_price`).
FIXED, OWN_FIRST, OTHERS = 0, 1, 2


@njit(cache=True)
def _place(p: Plan, st: State, i: int, start: int, smode: int, sfix: int, tmode: int) -> int:
    # pragma: no cover - compiled
    """Session i (lifted) to `start` at the first site and trainer that fit, tried in the
    order the modes say; put there. Returns what it pays, or -1 where none fits."""
    c = p.s_course[i]
    n_sites = p.c_site_off[c + 1] - p.c_site_off[c]
    n_trs = p.c_tr_off[c + 1] - p.c_tr_off[c]
    own_k, own_j = st.sitek[i], st.trk[i]
    s_off = np.random.randint(0, n_sites)
    t_off = np.random.randint(0, n_trs) if n_trs > 1 else 0
    count = 1 if smode == FIXED else n_sites + (1 if smode == OWN_FIRST else 0)
    for a in range(count):
        if smode == FIXED:
            k = sfix
        elif smode == OWN_FIRST and a == 0:
            k = own_k
        else:
            k = (s_off + a) % n_sites
            if k == own_k:
                continue
        if k < 0:
            continue
        if p.c_block[c]:  # a block's site rules are on its first day's start
            row = p.start_pos[c * p.n_slots + start - p.s_first[i]]
            if row < 0 or not p.block_ok[p.site_tab_off[c] + row * n_sites + k]:
                continue
        t_count = 1 if tmode == FIXED else n_trs + 1
        for b in range(t_count):
            if b == 0:
                j = own_j
            else:
                j = (t_off + b - 1) % n_trs
                if j == own_j:
                    continue
            cost = _fits(p, st, i, start, k, j)
            if cost >= 0:
                st.start[i] = start
                st.sitek[i] = k
                st.site[i] = p.c_site[p.c_site_off[c] + k]
                st.trk[i] = j
                st.tr[i] = p.c_tr[p.c_tr_off[c] + j]
                st.own[i] = cost
                _put(p, st, i)
                return cost
    return -1


@njit(cache=True)
def _add(arr: Arr, n: int, a: int, b: int) -> int:  # pragma: no cover - compiled
    """Pair (a, b) into the first n pairs of arr unless there; the new count."""
    for x in range(n):
        if arr[2 * x] == a and arr[2 * x + 1] == b:
            return n
    arr[2 * n] = a
    arr[2 * n + 1] = b
    return n + 1


@njit(cache=True)
def _components(p: Plan, st: State, comp: Arr, n: int, i: int, start: int) -> int:
    # pragma: no cover - compiled
    """The components a session of i's course at `start` touches (but its trainer's load):
    (-1, course), (-2, unit) and (cohort, day) pairs."""
    c = p.s_course[i]
    n = _add(comp, n, -1, c)
    if p.w_compact:
        day = start // p.ppd
        for a in range(p.c_coh_off[c], p.c_coh_off[c + 1]):
            n = _add(comp, n, p.c_coh[a], day)
    if p.w_density:
        for a in range(p.c_sent_off[c], p.c_sent_off[c + 1]):
            n = _add(comp, n, -2, p.c_sent_unit[a])
    return n


@njit(cache=True)
def _cost_of(p: Plan, st: State, comp: Arr, n: int) -> int:  # pragma: no cover - compiled
    total = p.w_peak * st.top[0]
    for x in range(n):
        a, b = comp[2 * x], comp[2 * x + 1]
        if a == -1:
            total += _course_cost(p, st, b)
        elif a == -2:
            total += _unit_cost(p, st, b)
        else:
            total += p.w_compact * _isolated(p, st, a, b)
    return total


@njit(cache=True)
def _crowding(p: Plan, st: State, comp: Arr, n: int) -> int:  # pragma: no cover - compiled
    """Slots at the plan's peak and at each touched unit's busiest time over its cap (as
    `Local.crowding`): among moves that cost nothing, those that lower it are preferred."""
    count = st.hist[st.top[0]] if p.w_peak and st.top[0] > 0 else 0
    for x in range(n):
        if comp[2 * x] == -2:
            u = comp[2 * x + 1]
            top = st.away_top[u]
            if top > p.cap[u]:
                count += st.away_hist[u, top]
    return count


@njit(cache=True)
def _period_loads(
    p: Plan,
    st: State,
    pairs: Arr,
    old: Arr,
    mv: Arr,
    n: int,
    period_of: Arr,
    taught: Arr,
    limit: Arr,
) -> int:  # pragma: no cover - compiled
    """What the moved sessions' trainers' sessions over their limits in a period (week or
    month: `period_of` a day's) cost after the move less before it, each trainer's period
    counted once (before: the counts less the moved sessions' new spots, plus their old)."""
    m = 0
    for x in range(n):
        i = mv[5 * x]
        m = _add(pairs, m, old[6 * x + 4], period_of[old[6 * x] // p.ppd])
        m = _add(pairs, m, st.tr[i], period_of[st.start[i] // p.ppd])
    delta = 0
    for y in range(m):
        tr, when = pairs[2 * y], pairs[2 * y + 1]
        if limit[tr] < 0:
            continue
        was = taught[tr, when]
        for x in range(n):
            i = mv[5 * x]
            if st.tr[i] == tr and period_of[st.start[i] // p.ppd] == when:
                was -= 1
            if old[6 * x + 4] == tr and period_of[old[6 * x] // p.ppd] == when:
                was += 1
        delta += max(0, taught[tr, when] - limit[tr]) - max(0, was - limit[tr])
    return delta


@njit(cache=True)
def _loads(p: Plan, st: State, pairs: Arr, old: Arr, mv: Arr, n: int) -> int:
    # pragma: no cover - compiled
    """What the moved sessions' trainers' loads (weeks and months) cost after the move less
    before it."""
    weeks = _period_loads(p, st, pairs, old, mv, n, p.week_of, st.taught_w, p.lim_w)
    months = _period_loads(p, st, pairs, old, mv, n, p.month_of, st.taught_m, p.lim_m)
    return p.w_load * (weeks + months)


@njit(cache=True)
def _price(p: Plan, st: State, mv: Arr, n: int, temperature: float) -> int:
    # pragma: no cover - compiled
    """Move the n sessions described in mv (rows of i, start, site mode, fixed site k,
    trainer mode), each to the first site and trainer that fit; keep the move if annealing
    takes it at `temperature` (anything that saves; nothing lost and the peaks no more
    crowded; a loss at odds exp(-delta / T)). Returns 1 if kept."""
    scr = st.scratch
    old = scr[: 6 * n]  # old spots: start, sitek, site, trk, tr, own per moved session
    comp = scr[6 * n :]
    nc = 0
    for x in range(n):
        i = mv[5 * x]
        nc = _components(p, st, comp, nc, i, st.start[i])
        nc = _components(p, st, comp, nc, i, mv[5 * x + 1])
    pairs = comp[2 * nc :]
    before = _cost_of(p, st, comp, nc)
    crowd_before = _crowding(p, st, comp, nc)
    for x in range(n):
        i = mv[5 * x]
        o = 6 * x
        old[o], old[o + 1], old[o + 2] = st.start[i], st.sitek[i], st.site[i]
        old[o + 3], old[o + 4], old[o + 5] = st.trk[i], st.tr[i], st.own[i]
        before += st.own[i]
        _lift(p, st, i)
    after = 0
    placed = 0
    for x in range(n):
        i = mv[5 * x]
        cost = _place(p, st, i, mv[5 * x + 1], mv[5 * x + 2], mv[5 * x + 3], mv[5 * x + 4])
        if cost < 0:
            break
        after += cost
        placed += 1
    keep = placed == n
    if keep:
        after += _cost_of(p, st, comp, nc)
        delta = after - before
        if p.w_load:
            delta += _loads(p, st, pairs, old, mv, n)
        if delta > 0:
            keep = np.random.random() < math.exp(-delta / temperature)
        elif delta == 0 and (p.w_peak or p.w_density):
            keep = _crowding(p, st, comp, nc) <= crowd_before
        if keep:
            if delta > 0 and st.score[2] == 1:  # leaving the best: keep a copy
                st.best_start[:] = st.start
                st.best_sitek[:] = st.sitek
                st.best_site[:] = st.site
                st.best_trk[:] = st.trk
                st.best_tr[:] = st.tr
                for y in range(n):  # the copy is of the schedule before this move
                    i, o = mv[5 * y], 6 * y
                    st.best_start[i], st.best_sitek[i], st.best_site[i] = (
                        old[o],
                        old[o + 1],
                        old[o + 2],
                    )
                    st.best_trk[i], st.best_tr[i] = old[o + 3], old[o + 4]
                st.score[2] = 0
            st.score[0] += delta
            if st.score[0] < st.score[1]:
                st.score[1] = st.score[0]
                st.score[2] = 1
            return 1
    for x in range(placed):
        _lift(p, st, mv[5 * x])
    for x in range(n):
        i, o = mv[5 * x], 6 * x
        st.start[i], st.sitek[i], st.site[i] = old[o], old[o + 1], old[o + 2]
        st.trk[i], st.tr[i], st.own[i] = old[o + 3], old[o + 4], old[o + 5]
        _put(p, st, i)
    return 0


@njit(cache=True)
def _row(mv: Arr, x: int, i: int, start: int, smode: int, sfix: int, tmode: int) -> int:
    # pragma: no cover - compiled
    mv[5 * x], mv[5 * x + 1], mv[5 * x + 2], mv[5 * x + 3], mv[5 * x + 4] = (
        i,
        start,
        smode,
        sfix,
        tmode,
    )
    return x + 1


@njit(cache=True)
def _random_start(p: Plan, c: int) -> int:  # pragma: no cover - compiled
    a, b = p.c_start_off[c], p.c_start_off[c + 1]
    return p.c_start[np.random.randint(a, b)]


@njit(cache=True)
def _kempe(p: Plan, st: State, mv: Arr, i: int, kempe_max: int) -> int:
    # pragma: no cover - compiled
    """Rows for session i's time swapped with another start's with the chain of the two
    times' clashes (as `solver.local.kempe`); 0 where it cannot go."""
    c = p.s_course[i]
    here, length = st.start[i], p.s_len[i]
    there = _random_start(p, c)
    if there == here:
        return 0
    chain = mv[5 * kempe_max :]  # beyond the rows: the chain, then its queue
    n, head = 1, 0
    chain[0] = i
    while head < n:
        held = chain[head]
        head += 1
        to = there if st.start[held] == here else here
        hc = p.s_course[held]
        for t in range(to, to + length):
            for a in range(p.c_coh_off[hc], p.c_coh_off[hc + 1] + 1):
                j = (
                    st.tr_at[st.tr[held], t]
                    if a == p.c_coh_off[hc + 1]
                    else st.coh_at[p.c_coh[a], t]
                )
                if j < 0:
                    continue
                seen = False
                for y in range(n):
                    if chain[y] == j:
                        seen = True
                        break
                if seen:
                    continue
                if st.start[j] != to or p.s_len[j] != length or not p.s_moves[j] or n >= kempe_max:
                    return 0
                chain[n] = j
                n += 1
    chain[:n] = np.sort(chain[:n])
    rows = 0
    for y in range(n):
        k = chain[y]
        to = there if st.start[k] == here else here
        rows = _row(mv, rows, k, to, OWN_FIRST, 0, FIXED)
    return rows


@njit(cache=True)
def _course_site(p: Plan, st: State, mv: Arr, c: int) -> int:  # pragma: no cover - compiled
    """Rows for every session of course c to one site, swapping with same-start, same-length
    holders (as `solver.local.course_site`); 0 where it cannot go."""
    n_sites = p.c_site_off[c + 1] - p.c_site_off[c]
    k = np.random.randint(0, n_sites)
    site = p.c_site[p.c_site_off[c] + k]
    rows = 0
    for a in range(p.c_sess_off[c], p.c_sess_off[c + 1]):
        s = p.c_sess[a]
        if st.site[s] == site:
            continue
        rows = _row(mv, rows, s, st.start[s], FIXED, k, FIXED)
        h = st.site_at[site, st.start[s]]
        if h < 0:
            continue
        if st.start[h] != st.start[s] or p.s_len[h] != p.s_len[s] or not p.s_moves[h]:
            return 0
        for y in range(rows):
            if mv[5 * y] == h:
                return 0
        hk = _site_k(p, p.s_course[h], st.site[s])
        if hk < 0:
            return 0
        rows = _row(mv, rows, h, st.start[h], FIXED, hk, FIXED)
    return rows


@njit(cache=True)
def _block_move(p: Plan, st: State, mv: Arr, b: int, site_share: float) -> int:
    # pragma: no cover - compiled
    """Rows for a block's sessions to another first day, at its site or (`site_share` of the
    time) another, each with its trainer if free then, else another (as
    `solver.local.block_move`); 0 where nothing would change."""
    first = p.b_sess[p.b_off[b]]
    c = p.s_course[first]
    start = _random_start(p, c)
    k = st.sitek[first]
    if np.random.random() < site_share:
        k = np.random.randint(0, p.c_site_off[c + 1] - p.c_site_off[c])
    if start == st.start[first] and k == st.sitek[first]:
        return 0
    rows = 0
    for a in range(p.b_off[b], p.b_off[b + 1]):
        s = p.b_sess[a]
        rows = _row(mv, rows, s, start + p.s_index[s] * p.ppd, FIXED, k, OWN_FIRST)
    return rows


@njit(cache=True)
def anneal(p: Plan, st: State, mv: Arr, moves: int, temperature: float, shares: Arr) -> int:
    # pragma: no cover - compiled
    """Try `moves` random moves at `temperature` (0: descent, taking only what saves or costs
    nothing); returns the moves kept. shares: kempe, course-to-site, swap, site, eject,
    the longest Kempe chain, a block to another site."""
    kempe_share, site_share_c, swap_share, site_share, eject_share = (
        shares[0],
        shares[1],
        shares[2],
        shares[3],
        shares[4],
    )
    kempe_max = int(shares[5])
    block_share = shares[6]
    kept = 0
    n_mov = p.movable.shape[0]
    n_blocks = p.b_off.shape[0] - 1
    t_use = max(temperature, 1e-9)
    for _ in range(moves):
        if n_blocks and (n_mov == 0 or np.random.random() < p.block_odds):
            rows = _block_move(p, st, mv, np.random.randint(0, n_blocks), block_share)
            if rows:
                kept += _price(p, st, mv, rows, t_use)
            continue
        i = p.movable[np.random.randint(0, n_mov)]
        c = p.s_course[i]
        rows = 0
        if np.random.random() < kempe_share:
            rows = _kempe(p, st, mv, i, kempe_max)
        elif np.random.random() < site_share_c:
            rows = _course_site(p, st, mv, c)
        elif np.random.random() < swap_share:
            g = p.s_group[i]
            j = p.group[np.random.randint(p.group_off[g], p.group_off[g + 1])]
            if p.s_course[j] == c or st.start[j] == st.start[i]:
                continue
            kj = _site_k(p, c, st.site[j])
            ki = _site_k(p, p.s_course[j], st.site[i])
            if kj < 0 or ki < 0:
                continue
            rows = _row(mv, rows, i, st.start[j], FIXED, kj, FIXED)
            rows = _row(mv, rows, j, st.start[i], FIXED, ki, FIXED)
        elif np.random.random() < site_share:
            rows = _row(mv, rows, i, st.start[i], OTHERS, 0, FIXED)
        else:
            start = _random_start(p, c)
            if start == st.start[i]:
                continue
            h = st.site_at[st.site[i], start]
            if h >= 0 and np.random.random() < eject_share:
                if p.s_course[h] == c or not p.s_moves[h]:
                    continue
                to = _random_start(p, p.s_course[h])
                rows = _row(mv, rows, i, start, FIXED, st.sitek[i], OWN_FIRST)
                rows = _row(mv, rows, h, to, OWN_FIRST, 0, OWN_FIRST)
            else:
                rows = _row(mv, rows, i, start, OWN_FIRST, 0, OWN_FIRST)
        if rows == 0:
            continue
        kept += _price(p, st, mv, rows, t_use)
    return kept


# ---- the annealer (Python) ----


class Kernel:
    """Simulated annealing with the compiled moves: the interface of `solver.local.Anneal`
    (`run`, `best`, `cost`, `finish`, `best_placements`), with `rate` its one-worker charge."""

    rate = KERNEL_MOVES_PER_S
    round = 50_000  # moves between looks at the clock (about a quarter of a second)

    def __init__(self, local: Local, seed_value: int) -> None:
        self.local = local
        self.plan, self.state, self.site_ids, self.tr_ids = pack(local)
        # a move's rows (5 numbers a session), then room for a Kempe chain
        self.rows = np.zeros(6 * moved_max(local), dtype=np.int64)
        self.shares = np.array(
            [
                KEMPE_SHARE,
                COURSE_SITE_SHARE,
                SWAP_SHARE,
                SITE_SHARE,
                EJECT_SHARE,
                KEMPE_MAX,
                BLOCK_SITE_SHARE,
            ],
            dtype=np.float64,
        )
        seed(seed_value)
        # Compiled now (read from numba's cache after `warm`; 34 s the first time), so that
        # timing the first moves measures the moves.
        anneal(self.plan, self.state, self.rows, 0, 1.0, self.shares)

    @classmethod
    def of(cls, local: Local, seed_value: int) -> Kernel | None:
        """The compiled annealer for this search, or None where it does not apply."""
        return None if why_not(local) else cls(local, seed_value)

    @property
    def cost(self) -> int:
        return int(self.state.score[0])

    @property
    def best(self) -> int:
        return int(self.state.score[1])

    def run(self, moves: int, temperature: float) -> int:
        """Try `moves` moves at `temperature`; returns what the best schedule gained."""
        was = self.best
        anneal(self.plan, self.state, self.rows, moves, temperature, self.shares)
        return was - self.best

    def reseed(self, seed_value: int) -> None:
        """Draw other moves from here on (a second search forked from this one)."""
        seed(seed_value)

    def objective(self) -> int:
        """The current schedule's cost recomputed from scratch (tests)."""
        return int(objective(self.plan, self.state))

    def spots(self, best: bool = True) -> list[Spot]:
        """The best (or current) schedule as the Python search's spots."""
        st = self.state
        at_best = not best or st.score[2] == 1
        start = st.start if at_best else st.best_start
        site = st.site if at_best else st.best_site
        tr = st.tr if at_best else st.best_tr
        return [
            (i, int(start[i]), self.site_ids[int(site[i])], self.tr_ids[int(tr[i])])
            for i in range(len(start))
        ]

    def best_placements(self) -> list[Any]:
        return self.local.placements(self.spots())

    def finish(self) -> None:
        """Leave the Python search at the best schedule seen (the arrays stay as they are)."""
        self.local.reset(self.spots())


def warm() -> float:
    """Compile the kernel now (from numba's cache in a second; about 40 s the first time on a
    machine), so that it is not done inside a timed solve, where it would overrun the limit.
    Callers that time solves (the CLI, the worker, the tests, the benchmarks) call this
    first; the seconds it took."""
    began = time.monotonic()
    problem = Problem(
        calendar=Calendar(days=5, periods_per_day=2),
        sites=[Site(id="s", capacity=10)],
        trainers=[Trainer(id="t", topics=["x"], max_sessions_per_week=1)],
        units=[Unit(id="u", headcount=10, away_cap=0.5)],
        cohorts=[Cohort(id="q", unit="u", size=5)],
        courses=[
            Course(id="a", sessions=2, topic="x", cohorts=["q"]),
            Course(id="b", sessions=2, topic="x", cohorts=["q"], pattern="block"),
        ],
    )
    grid = TimeGrid.of(problem.calendar)
    builder = DomainBuilder(problem, grid)
    placements = [
        Placement(course=c, session=k, day=d, period=0, site="s", trainer="t")
        for c, k, d in (("a", 0, 0), ("a", 1, 1), ("b", 0, 2), ("b", 1, 3))
    ]
    weights = Weights(**{name: 1 for name in Weights.model_fields})
    local = Local(problem, builder, weights, placements, {"a", "b"})
    sa = Kernel(local, 0)
    sa.run(10, 1.0)
    sa.objective()
    return time.monotonic() - began
