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

It applies where the terms it prices are the only ones a move can change (`why_not`):
spread courses' sessions move; blocks and fixed courses stay where they are; soft
blackouts, seats over a soft capacity, preferred sites, distinct days, site stability,
compactness and the plan's load peak are priced; a unit's away cap and a trainer's load
limits are not (a plan with them anneals in Python). The answer goes back through `Local`
(`spots`), and the solve's checker judges it like any other schedule.
"""

from __future__ import annotations

import math
from collections import defaultdict
from typing import Any, NamedTuple

import numpy as np
from numba import njit

from solver.domains import site_charge
from solver.local import (
    COURSE_SITE_SHARE,
    EJECT_SHARE,
    KEMPE_MAX,
    KEMPE_SHARE,
    SITE_SHARE,
    SWAP_SHARE,
    Local,
    Spot,
)

# The most a price table may hold (a course's starts x its sites, summed); larger plans anneal
# in Python rather than spend the memory.
TABLE_MAX = 5_000_000
# One worker charges the compiled moves at this rate (measured on ITC-2007: 0.4-1M a second).
KERNEL_MOVES_PER_S = 300_000

Arr = Any  # numpy int64 arrays (numba reads them as such)


class Plan(NamedTuple):
    """What does not change while annealing, as arrays (`pack`)."""

    ppd: int
    n_slots: int
    s_course: Arr  # session -> course
    s_len: Arr  # session -> its length in periods
    s_moves: Arr  # session -> 1 if a spread course's movable session
    movable: Arr  # the movable sessions
    group_off: Arr  # movable sessions grouped by length: offsets into `group`
    group: Arr
    s_group: Arr  # session -> its length group
    c_wanted: Arr  # course -> distinct days wanted (spread), else 0
    c_coh_off: Arr
    c_coh: Arr  # a course's cohorts
    c_start_off: Arr
    c_start: Arr  # a movable course's allowed starts
    start_pos: Arr  # course * n_slots + slot -> index in its starts, or -1
    c_site_off: Arr
    c_site: Arr  # a course's sites (global index)
    site_tab_off: Arr
    site_tab: Arr  # (start index, site k) -> what a session pays there, -1: not allowed
    c_tr_off: Arr
    c_tr: Arr  # a course's trainers (global index)
    tr_tab_off: Arr
    tr_tab: Arr  # (start index, trainer k) -> what a session pays, -1: not allowed
    c_sess_off: Arr
    c_sess: Arr  # a course's movable sessions
    w_min_days: int
    w_stability: int
    w_compact: int
    w_peak: int


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
    w = local.weights
    if local.blocks:
        return "block courses move"
    if w.density and any(local.sent.values()):
        return "units' away caps are priced"
    if w.trainer_load and any(a is not None or b is not None for a, b in local.limits.values()):
        return "trainers' load limits are priced"
    if not local.movable:
        return "nothing moves"
    size = sum(
        len(local.starts[c]) * (len(d.sites) + len(d.trainers)) for c, d in local.domains.items()
    )
    if size > TABLE_MAX:
        return f"price tables of {size:,} entries"
    for i in local.movable:
        ss = local.sessions[i]
        dom = local.domains[ss.course.id]
        if ss.site not in dom.sites or ss.trainer not in dom.trainers:
            return "a session sits outside its course's options"
    return None


def _ints(values: list[int]) -> Arr:
    return np.asarray(values, dtype=np.int64)


def _ragged(rows: list[list[int]]) -> tuple[Arr, Arr]:
    off = [0]
    for row in rows:
        off.append(off[-1] + len(row))
    return _ints(off), _ints([x for row in rows for x in row])


def _blackout_costs(local: Local, names: list[tuple[str, Any]], slots: range) -> int:
    return sum(
        c
        for name in names
        for covered, c in local.soft.get(name, ())
        if any(t in covered for t in slots)
    )


def pack(local: Local) -> tuple[Plan, State, list[str], list[str]]:
    """The search's plan and schedule as arrays; the site and trainer ids by index."""
    problem, grid, weights = local.problem, local.grid, local.weights
    courses = [c for c in problem.courses]
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
    n_slots, n_days = grid.n_slots, grid.n_days
    sessions = local.sessions
    moves = set(local.movable)

    c_sites: list[list[int]] = []
    c_trs: list[list[int]] = []
    c_starts: list[list[int]] = []
    site_rows: list[list[int]] = []
    tr_rows: list[list[int]] = []
    start_pos = np.full(len(courses) * n_slots, -1, dtype=np.int64)
    units = {q.id: q.unit for q in problem.cohorts}
    placed: dict[str, list[Any]] = defaultdict(list)
    for ss in sessions:
        placed[ss.course.id].append(ss)
    for k, c in enumerate(courses):
        dom = local.domains.get(c.id)
        starts = list(local.starts.get(c.id, ())) if dom is not None else []
        # A course that stays: where its sessions are (so that its stability is counted).
        held = placed[c.id]
        sites = list(dom.sites) if dom is not None else sorted({ss.site for ss in held})
        trainers = list(dom.trainers) if dom is not None else sorted({ss.trainer for ss in held})
        c_sites.append([site_ix[s] for s in sites])
        c_trs.append([tr_ix[t] for t in trainers])
        c_starts.append(starts)
        for pos, start in enumerate(starts):
            start_pos[k * n_slots + start] = pos
        names: list[tuple[str, Any]] = [("plan", None)]
        names += [
            ("unit", u) for u in dict.fromkeys(units[q] for q in local.cohorts[c.id] if q in units)
        ]
        names += [("cohort", q) for q in local.cohorts[c.id]] + [("course", c.id)]
        attendance = local.attendance[c.id]
        charge = {s: site_charge(weights, c, problem.site_by_id[s], attendance) for s in sites}
        srow: list[int] = []
        trow: list[int] = []
        for start in starts:
            slots = range(start, start + c.length)
            base = _blackout_costs(local, names, slots)
            for s in sites:
                ok = dom is not None and s not in local.small[c.id] and dom.site_allows(s, start)
                cost = base + charge[s] + _blackout_costs(local, [("site", s)], slots)
                srow.append(cost if ok else -1)
            for t in trainers:
                ok = dom is not None and dom.trainer_allows(t, start)
                trow.append(_blackout_costs(local, [("trainer", t)], slots) if ok else -1)
        site_rows.append(srow)
        tr_rows.append(trow)
    c_site_off, c_site = _ragged(c_sites)
    c_tr_off, c_tr = _ragged(c_trs)
    c_start_off, c_start = _ragged(c_starts)
    site_tab_off, site_tab = _ragged(site_rows)
    tr_tab_off, tr_tab = _ragged(tr_rows)
    c_coh_off, c_coh = _ragged([[coh_ix[q] for q in local.cohorts[c.id]] for c in courses])
    by_course: dict[int, list[int]] = defaultdict(list)
    by_len: dict[int, list[int]] = defaultdict(list)
    for i in local.movable:
        by_course[c_index[sessions[i].course.id]].append(i)
        by_len[sessions[i].course.length].append(i)
    c_sess_off, c_sess = _ragged([by_course[k] for k in range(len(courses))])
    lengths = sorted(by_len)
    group_off, group = _ragged([by_len[n] for n in lengths])
    s_group = _ints(
        [lengths.index(ss.course.length) if i in moves else -1 for i, ss in enumerate(sessions)]
    )
    plan = Plan(
        ppd=grid.periods_per_day,
        n_slots=n_slots,
        s_course=_ints([c_index[ss.course.id] for ss in sessions]),
        s_len=_ints([ss.course.length for ss in sessions]),
        s_moves=_ints([1 if i in moves else 0 for i in range(len(sessions))]),
        movable=_ints(list(local.movable)),
        group_off=group_off,
        group=group,
        s_group=s_group,
        c_wanted=_ints([c.wanted_days if c.pattern == "spread" else 0 for c in courses]),
        c_coh_off=c_coh_off,
        c_coh=c_coh,
        c_start_off=c_start_off,
        c_start=c_start,
        start_pos=start_pos,
        c_site_off=c_site_off,
        c_site=c_site,
        site_tab_off=site_tab_off,
        site_tab=site_tab,
        c_tr_off=c_tr_off,
        c_tr=c_tr,
        tr_tab_off=tr_tab_off,
        tr_tab=tr_tab,
        c_sess_off=c_sess_off,
        c_sess=c_sess,
        w_min_days=weights.min_days,
        w_stability=weights.stability,
        w_compact=weights.compactness,
        w_peak=weights.load_peak,
    )
    n = len(sessions)
    most_sites = max((len(r) for r in c_sites), default=0)
    most_cohorts = max((len(local.cohorts[c.id]) for c in courses), default=0)
    most_sessions = max((len(by_course[k]) for k in by_course), default=0)
    moved_max = max(2 * KEMPE_MAX, 2 * most_sessions, 2) + 2
    state = State(
        start=_ints([ss.start for ss in sessions]),
        site=_ints([site_ix[ss.site] for ss in sessions]),
        sitek=_ints(
            [_position(c_sites[c_index[ss.course.id]], site_ix[ss.site]) for ss in sessions]
        ),
        tr=_ints([tr_ix[ss.trainer] for ss in sessions]),
        trk=_ints([_position(c_trs[c_index[ss.course.id]], tr_ix[ss.trainer]) for ss in sessions]),
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
        best_start=np.zeros(n, dtype=np.int64),
        best_site=np.zeros(n, dtype=np.int64),
        best_sitek=np.zeros(n, dtype=np.int64),
        best_tr=np.zeros(n, dtype=np.int64),
        best_trk=np.zeros(n, dtype=np.int64),
        score=np.zeros(3, dtype=np.int64),
        scratch=np.zeros(moved_max * (14 + 4 * max(1, most_cohorts)) + 16, dtype=np.int64),
    )
    for i in range(n):
        _put(plan, state, i)
    state.score[0] = state.score[1] = local.objective()
    state.score[2] = 1
    return plan, state, site_ids, tr_ids


def _position(row: list[int], value: int) -> int:
    return row.index(value) if value in row else -1


# ---- the compiled part ----


@njit(cache=True)
def seed(value: int) -> None:  # pragma: no cover - compiled
    np.random.seed(value)


@njit(cache=True)
def _bump(st: State, t: int, by: int) -> None:  # pragma: no cover - compiled
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
def _put(p: Plan, st: State, i: int) -> None:  # pragma: no cover - compiled
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
    for i in range(p.s_course.shape[0]):
        total += st.own[i]
    return total


@njit(cache=True)
def _fits(p: Plan, st: State, i: int, start: int, k: int, j: int) -> int:  # pragma: no cover
    """What session i pays at `start`, at its course's k-th site with its j-th trainer, or -1
    where that breaks a hard rule (a clash, a site or trainer not allowed then)."""
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
    """The components a session of i's course at `start` touches: (-1, course) and
    (cohort, day) pairs."""
    c = p.s_course[i]
    n = _add(comp, n, -1, c)
    if p.w_compact:
        day = start // p.ppd
        for a in range(p.c_coh_off[c], p.c_coh_off[c + 1]):
            n = _add(comp, n, p.c_coh[a], day)
    return n


@njit(cache=True)
def _cost_of(p: Plan, st: State, comp: Arr, n: int) -> int:  # pragma: no cover - compiled
    total = p.w_peak * st.top[0]
    for x in range(n):
        a, b = comp[2 * x], comp[2 * x + 1]
        if a < 0:
            total += _course_cost(p, st, b)
        else:
            total += p.w_compact * _isolated(p, st, a, b)
    return total


@njit(cache=True)
def _price(p: Plan, st: State, mv: Arr, n: int, temperature: float) -> int:
    # pragma: no cover - compiled
    """Move the n sessions described in mv (rows of i, start, site mode, fixed site k,
    trainer mode), each to the first site and trainer that fit; keep the move if annealing
    takes it at `temperature` (anything that saves; nothing lost and the peak no more
    crowded; a loss at odds exp(-delta / T)). Returns 1 if kept."""
    scr = st.scratch
    old = 0  # old spots: start, sitek, site, trk, tr, own per moved session
    comp_at = old + 6 * n
    comp = scr[comp_at:]
    nc = 0
    for x in range(n):
        i = mv[5 * x]
        nc = _components(p, st, comp, nc, i, st.start[i])
        nc = _components(p, st, comp, nc, i, mv[5 * x + 1])
    before = _cost_of(p, st, comp, nc)
    crowd_before = st.hist[st.top[0]] if p.w_peak else 0
    for x in range(n):
        i = mv[5 * x]
        o = old + 6 * x
        scr[o], scr[o + 1], scr[o + 2] = st.start[i], st.sitek[i], st.site[i]
        scr[o + 3], scr[o + 4], scr[o + 5] = st.trk[i], st.tr[i], st.own[i]
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
        if delta > 0:
            keep = np.random.random() < math.exp(-delta / temperature)
        elif delta == 0 and p.w_peak:
            keep = st.hist[st.top[0]] <= crowd_before
        if keep:
            if delta > 0 and st.score[2] == 1:  # leaving the best: keep a copy
                st.best_start[:] = st.start
                st.best_sitek[:] = st.sitek
                st.best_site[:] = st.site
                st.best_trk[:] = st.trk
                st.best_tr[:] = st.tr
                for y in range(n):  # the copy is of the schedule before this move
                    i, o = mv[5 * y], old + 6 * y
                    st.best_start[i], st.best_sitek[i], st.best_site[i] = (
                        scr[o],
                        scr[o + 1],
                        scr[o + 2],
                    )
                    st.best_trk[i], st.best_tr[i] = scr[o + 3], scr[o + 4]
                st.score[2] = 0
            st.score[0] += delta
            if st.score[0] < st.score[1]:
                st.score[1] = st.score[0]
                st.score[2] = 1
            return 1
    for x in range(placed):
        _lift(p, st, mv[5 * x])
    for x in range(n):
        i, o = mv[5 * x], old + 6 * x
        st.start[i], st.sitek[i], st.site[i] = scr[o], scr[o + 1], scr[o + 2]
        st.trk[i], st.tr[i], st.own[i] = scr[o + 3], scr[o + 4], scr[o + 5]
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
def anneal(p: Plan, st: State, mv: Arr, moves: int, temperature: float, shares: Arr) -> int:
    # pragma: no cover - compiled
    """Try `moves` random moves at `temperature` (0: descent, taking only what saves or costs
    nothing); returns the moves kept. shares: kempe, course-to-site, swap, site, eject,
    and the longest Kempe chain."""
    kempe_share, site_share_c, swap_share, site_share, eject_share = (
        shares[0],
        shares[1],
        shares[2],
        shares[3],
        shares[4],
    )
    kempe_max = int(shares[5])
    kept = 0
    n_mov = p.movable.shape[0]
    t_use = max(temperature, 1e-9)
    for _ in range(moves):
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
        moved_max = max(2 * KEMPE_MAX, 2 * int(np.max(np.diff(self.plan.c_sess_off))), 2) + 2
        self.rows = np.zeros(5 * moved_max + moved_max, dtype=np.int64)
        self.shares = np.array(
            [KEMPE_SHARE, COURSE_SITE_SHARE, SWAP_SHARE, SITE_SHARE, EJECT_SHARE, KEMPE_MAX],
            dtype=np.float64,
        )
        seed(seed_value)
        # Compiled now (from numba's cache after the first time: 15 s the first), so that
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
