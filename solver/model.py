"""The CP-SAT model: one `add_<rule>` function per hard rule and soft term.

Time is the integer slot grid of `solver.grid`. Each session has a start (for a block, the block
start plus one day per session), one fixed-size interval, and an optional interval per candidate
site and trainer; resources are kept apart with `add_no_overlap`, loads with `add_cumulative`.
Nothing holds a (course, slot, site) array, so the model grows with the options, not the grid.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from ortools.sat.python import cp_model as cp

from solver.domains import CourseDomains, DomainBuilder, Restriction
from solver.grid import TimeGrid
from solver.problem import Course, DayRef, Placement, Problem, Weights
from solver.solution import RepairPolicy

Lit = cp.IntVar  # a Boolean variable (or its negation)


@dataclass
class SessionVars:
    """Decision variables of one session."""

    course: Course
    index: int
    start: cp.LinearExprT
    domain: frozenset[int]  # possible start slots of this session
    present: cp.IntVar
    interval: cp.IntervalVar
    sites: dict[str, Lit] = field(default_factory=dict)
    trainers: dict[str, Lit] = field(default_factory=dict)
    at: dict[int, Lit] | None = None  # start slot -> literal, for sessions with few starts


@dataclass
class CourseVars:
    course: Course
    present: cp.IntVar
    sessions: list[SessionVars]
    block_start: cp.IntVar | None = None
    domains: CourseDomains | None = None


@dataclass
class Penalty:
    """One named soft term: a constant plus a weighted sum of model variables."""

    constant: int = 0
    terms: list[tuple[int, cp.LinearExprT]] = field(default_factory=list)

    def add(self, coef: int, expr: cp.LinearExprT) -> None:
        if coef:
            self.terms.append((coef, expr))


@dataclass
class ModelVars:
    """Everything `build_model` made: variables, penalties by term and assumption literals."""

    model: cp.CpModel
    grid: TimeGrid
    courses: dict[str, CourseVars] = field(default_factory=dict)
    penalties: dict[str, Penalty] = field(default_factory=lambda: defaultdict(Penalty))
    assumptions: dict[str, tuple[Lit, str]] = field(default_factory=dict)
    matches: dict[tuple[str, int, int, str | None, str | None], Lit] = field(default_factory=dict)
    backdrop: Backdrop | None = None  # fixed courses without variables (neighbourhood models)

    def sessions(self) -> Iterable[SessionVars]:
        for cv in self.courses.values():
            yield from cv.sessions

    def guard(self, key: str, message: str) -> Lit:
        """The assumption literal of a relaxable rule (explanation model only)."""
        if key not in self.assumptions:
            self.assumptions[key] = (self.model.new_bool_var(f"a[{key}]"), message)
        return self.assumptions[key][0]


@dataclass(frozen=True)
class BuildOptions:
    """How to build.

    `explain` guards every relaxable hard rule with an assumption literal instead of folding
    it into variable domains, so CP-SAT can name the rules that conflict. `fixed` maps course
    ids to placements they must keep (an empty list: left out); those courses get constants
    and their one chosen site and trainer only, so a neighbourhood's model stays small.
    `domains` reuses start domains computed for an earlier build of the same problem.
    `relaxed` are required courses not placed yet that a step may leave out at a prohibitive
    cost, so that a step which places some of them, not all, still counts as progress.
    """

    explain: bool = False
    fixed: Mapping[str, Sequence[Placement]] | None = None
    domains: dict[str, CourseDomains] | None = None
    relaxed: frozenset[str] = frozenset()
    builder: DomainBuilder | None = None  # shared caches of time restrictions
    whole: WholeBackdrop | None = None  # the backdrop of the schedule `fixed` comes from


@dataclass
class Backdrop:
    """What the fixed courses of a neighbourhood model leave behind, folded into plain numbers.

    A neighbourhood's model holds variables only for its free courses and for the fixed ones
    that share a cohort with them (compactness needs their sessions); every other fixed course
    only takes slots from sites and trainers and adds load. Folding those into sets and
    profiles keeps a step's model, and the Python that builds it, proportional to the
    neighbourhood rather than to the plan (a province has ten times a city's courses).
    """

    site_busy: dict[str, set[int]] = field(default_factory=lambda: defaultdict(set))
    trainer_busy: dict[str, set[int]] = field(default_factory=lambda: defaultdict(set))
    load: dict[int, int] = field(default_factory=lambda: defaultdict(int))
    unit_load: dict[str, dict[int, int]] = field(
        default_factory=lambda: defaultdict(lambda: defaultdict(int))
    )
    trainer_sessions: dict[tuple[str, str, int], int] = field(
        default_factory=lambda: defaultdict(int)
    )

    # False when two folded sessions share a site or a trainer at one slot (a schedule that
    # breaks a hard rule): busy sets cannot then give a session back (`without`).
    exact: bool = True

    @staticmethod
    def of(problem: Problem, grid: TimeGrid, folded: Mapping[str, Sequence[Placement]]) -> Backdrop:
        back = Backdrop()
        back.fold(problem, grid, folded, 1)
        return back

    def without(
        self, problem: Problem, grid: TimeGrid, taken: Mapping[str, Sequence[Placement]]
    ) -> Backdrop:
        """This backdrop with the `taken` courses' sessions given back. A step folds all but a
        few hundred of a national plan's 70,000 sessions; taking those few out of the whole
        schedule's backdrop (kept while the schedule is the best) costs a copy, where folding
        the rest again took 0.4 s a step."""
        back = Backdrop(
            site_busy=defaultdict(set, {k: set(v) for k, v in self.site_busy.items()}),
            trainer_busy=defaultdict(set, {k: set(v) for k, v in self.trainer_busy.items()}),
            load=defaultdict(int, self.load),
            unit_load=defaultdict(
                lambda: defaultdict(int),
                {k: defaultdict(int, v) for k, v in self.unit_load.items()},
            ),
            trainer_sessions=defaultdict(int, self.trainer_sessions),
            exact=self.exact,
        )
        back.fold(problem, grid, taken, -1)
        return back

    def fold(
        self,
        problem: Problem,
        grid: TimeGrid,
        placed: Mapping[str, Sequence[Placement]],
        sign: int,
    ) -> None:
        """Add (sign 1) or give back (sign -1) the sessions of these courses."""
        cohorts = problem.cohort_by_id
        courses = problem.course_by_id
        for course_id, pls in placed.items():
            course = courses[course_id]
            demand: dict[str, int] = defaultdict(int)
            for q in course.cohorts:
                demand[cohorts[q].unit] += cohorts[q].size
            for pl in pls:
                day = grid.day_index(pl.day)
                if day is None:
                    continue
                slot = grid.slot(day, pl.period)
                span = range(slot, slot + course.length)
                site, trainer = self.site_busy[pl.site], self.trainer_busy[pl.trainer]
                if sign > 0:
                    if not (site.isdisjoint(span) and trainer.isdisjoint(span)):
                        self.exact = False
                    site.update(span)
                    trainer.update(span)
                else:
                    site.difference_update(span)
                    trainer.difference_update(span)
                for t in span:
                    self.load[t] += sign
                    for unit_id, size in demand.items():
                        self.unit_load[unit_id][t] += sign * size
                self.trainer_sessions[(pl.trainer, "week", grid.week_of_day[day])] += sign
                self.trainer_sessions[(pl.trainer, "month", grid.month_of_day[day])] += sign

    def narrow(self, dom: CourseDomains, grid: TimeGrid) -> CourseDomains:
        """The course's domains without the starts that would clash with folded sessions."""
        course = dom.course
        sites = dict(dom.sites)
        for site_id, restrictions in dom.sites.items():
            busy = self.site_busy.get(site_id)
            if busy:
                allowed = dom.base - block_hits(course, busy, grid.periods_per_day)
                sites[site_id] = [*restrictions, Restriction(f"busy:{site_id}", "", allowed)]
        trainers = dict(dom.trainers)
        every = frozenset(range(grid.n_slots))
        for trainer_id, restrictions in dom.trainers.items():
            busy = self.trainer_busy.get(trainer_id)
            if busy:
                allowed = every - session_hits(course, busy)
                trainers[trainer_id] = [
                    *restrictions,
                    Restriction(f"busy:{trainer_id}", "", allowed),
                ]
        return CourseDomains(
            course=course, base=dom.base, time=dom.time, sites=sites, trainers=trainers
        )

    @staticmethod
    def profile(load: Mapping[int, int]) -> list[tuple[int, int, int]]:
        """A load by slot as (start, length, demand) runs of equal load."""
        runs: list[tuple[int, int, int]] = []
        for t in sorted(load):
            d = load[t]
            if d <= 0:
                continue
            if runs and runs[-1][0] + runs[-1][1] == t and runs[-1][2] == d:
                start, length, _ = runs[-1]
                runs[-1] = (start, length + 1, d)
            else:
                runs.append((t, 1, d))
        return runs


@dataclass(frozen=True)
class WholeBackdrop:
    """A whole schedule folded into a backdrop, with its placements by course: a step's model
    takes out the courses it builds instead of folding all the others again."""

    backdrop: Backdrop
    placed: Mapping[str, Sequence[Placement]]

    @staticmethod
    def of(
        problem: Problem, grid: TimeGrid, placed: Mapping[str, Sequence[Placement]]
    ) -> WholeBackdrop:
        return WholeBackdrop(Backdrop.of(problem, grid, placed), placed)

    def moved(
        self, problem: Problem, grid: TimeGrid, now: Mapping[str, Sequence[Placement]]
    ) -> WholeBackdrop:
        """The same schedule with these courses placed as `now` says (a step's result)."""
        before = {c: self.placed[c] for c in now if c in self.placed}
        back = self.backdrop.without(problem, grid, before)
        back.fold(problem, grid, now, 1)
        return WholeBackdrop(back, {**self.placed, **now})


def session_hits(course: Course, busy: set[int]) -> set[int]:
    """Session starts whose session would touch a busy slot."""
    return {b - k for b in busy for k in range(course.length)}


def block_hits(course: Course, busy: set[int], ppd: int) -> set[int]:
    """Course starts (block starts for a block) with some session touching a busy slot."""
    hits = session_hits(course, busy)
    if course.pattern != "block":
        return hits
    return {h - k * ppd for h in hits for k in range(course.sessions)}


def build_model(
    problem: Problem,
    grid: TimeGrid,
    weights: Weights,
    policy: RepairPolicy,
    options: BuildOptions = BuildOptions(),
) -> ModelVars:
    """The whole model, read as a table of contents of the rules."""
    mv = ModelVars(model=cp.CpModel(), grid=grid)
    builder = options.builder or DomainBuilder(problem, grid)
    domains = options.domains if options.domains is not None else {}
    built, folded = split_fixed(problem, options.fixed)
    mv.backdrop = backdrop_of(problem, grid, built, folded, options.whole) if folded else None
    frozen = frozen_placements(problem, grid, policy, {c.id for c in built})
    # Hard
    for course in built:
        if course.id not in domains:
            domains[course.id] = builder.course_domains(course)
        fixed = None if options.fixed is None else options.fixed.get(course.id)
        if fixed and not options.explain and add_fixed_course(mv, domains[course.id], fixed):
            continue
        dom = (
            domains[course.id] if fixed is None else fixed_domains(domains[course.id], fixed, grid)
        )
        if mv.backdrop is not None:
            dom = mv.backdrop.narrow(dom, grid)
        add_course(mv, problem, dom, options)
    add_time_channels(mv)
    add_slot_cliques(mv)
    add_site_no_overlap(mv)
    add_trainer_no_overlap(mv)
    add_cohort_no_overlap(mv, problem)
    add_pins(mv, problem, grid, options)
    add_frozen(mv, problem, grid, frozen, options)
    # Soft
    add_soft_blackouts(mv, problem, builder, weights)
    add_capacity_overflow(mv, problem, weights)
    add_min_days(mv, weights)
    add_compactness(mv, problem, weights)
    add_stability(mv, weights)
    add_density(mv, problem, weights)
    add_load_peak(mv, weights)
    add_trainer_load(mv, problem, weights)
    add_preferred_site(mv, weights)
    add_perturbation(mv, problem, grid, weights, policy)
    add_unscheduled(mv, weights, options.relaxed)
    add_objective(mv)
    return mv


def backdrop_of(
    problem: Problem,
    grid: TimeGrid,
    built: Sequence[Course],
    folded: Mapping[str, Sequence[Placement]],
    whole: WholeBackdrop | None,
) -> Backdrop:
    """The folded courses' backdrop: the whole schedule's without the courses built, when
    that is exact, else folded afresh."""
    if whole is None or not whole.backdrop.exact:
        return Backdrop.of(problem, grid, folded)
    taken = {c.id: whole.placed[c.id] for c in built if c.id in whole.placed}
    return whole.backdrop.without(problem, grid, taken)


def split_fixed(
    problem: Problem, fixed: Mapping[str, Sequence[Placement]] | None
) -> tuple[list[Course], dict[str, Sequence[Placement]]]:
    """Courses that get variables (free ones, and fixed ones sharing a cohort with a free one)
    and the placed fixed courses folded into the backdrop."""
    if not fixed:
        return list(problem.courses), {}
    free_cohorts = {q for c in problem.courses if c.id not in fixed for q in c.cohorts}
    built, folded = [], {}
    for course in problem.courses:
        pls = fixed.get(course.id)
        if pls is None or any(q in free_cohorts for q in course.cohorts):
            built.append(course)
        elif pls:
            folded[course.id] = pls
    return built, folded


# ---------------------------------------------------------------------------------------------
# Hard rules


def add_course(mv: ModelVars, problem: Problem, dom: CourseDomains, options: BuildOptions) -> None:
    """A course is placed whole or not at all; each session gets a start, a site and a trainer.

    Block: session k starts k days after session 0, all at one site. Spread: sessions in time
    order (they are interchangeable, so ordering only removes symmetric copies).
    """
    m, grid, course = mv.model, mv.grid, dom.course
    ppd = grid.periods_per_day
    present = m.new_bool_var(f"present[{course.id}]")
    if course.required and course.id not in options.relaxed:
        if options.explain:
            m.add_implication(mv.guard(f"required:{course.id}", required_text(course)), present)
        else:
            m.add(present == 1)
    starts = dom.base if options.explain else dom.starts()
    cv = CourseVars(course=course, present=present, sessions=[], domains=dom)
    mv.courses[course.id] = cv
    if not starts:
        m.add(present == 0)
        starts = dom.base or frozenset({0})
    first = m.new_int_var_from_domain(cp.Domain.from_values(sorted(starts)), f"start[{course.id}]")
    if options.explain:
        for r in dom.time:
            add_restriction(mv, first, r, [])
    block = course.pattern == "block"
    if block:
        cv.block_start = first
    for k in range(course.sessions):
        if block:
            start: cp.LinearExprT = first + k * ppd
            domain = frozenset(s + k * ppd for s in starts)
        elif k == 0:
            start, domain = first, starts
        else:
            start = m.new_int_var_from_domain(
                cp.Domain.from_values(sorted(starts)), f"start[{course.id},{k}]"
            )
            domain = starts
            m.add(start >= cv.sessions[k - 1].start + course.length).only_enforce_if(present)
        interval = m.new_optional_fixed_size_interval_var(
            start, course.length, present, f"iv[{course.id},{k}]"
        )
        cv.sessions.append(SessionVars(course, k, start, domain, present, interval))
    add_site_choice(mv, problem, cv, dom, options)
    add_trainer_choice(mv, cv, dom, options)


def add_fixed_course(mv: ModelVars, dom: CourseDomains, placements: Sequence[Placement]) -> bool:
    """A course held where it is, as constants: its start slots, its one site and trainer
    per session, present. False (nothing added) when the placements do not make the whole
    course on the grid; it is then built with variables reduced to where it is.

    A neighbourhood step builds the fixed courses that share a cohort with a free one (their
    sessions count in the cohort's compactness): on ITC-2007 comp07, 70 of the 85 courses of
    a 15-course step. Built with variables, each of their sessions could still take any slot
    of the course and needed literals and constraints to be held there by propagation.
    """
    course, grid = dom.course, mv.grid
    ordered = sorted(placements, key=lambda p: p.session)
    if [pl.session for pl in ordered] != list(range(course.sessions)):
        return False
    slots = []
    for pl in ordered:
        day = grid.day_index(pl.day)
        if day is None or pl.period + course.length > grid.periods_per_day:
            return False
        slots.append(grid.slot(day, pl.period))
    m = mv.model
    present = m.new_constant(1)
    cv = CourseVars(course=course, present=present, sessions=[], domains=dom)
    for pl, slot in zip(ordered, slots, strict=True):
        start = m.new_constant(slot)
        interval = m.new_fixed_size_interval_var(
            start, course.length, f"iv[{course.id},{pl.session}]"
        )
        sv = SessionVars(course, pl.session, start, frozenset({slot}), present, interval)
        sv.sites, sv.trainers = {pl.site: present}, {pl.trainer: present}
        cv.sessions.append(sv)
    if course.pattern == "block":
        cv.block_start = cv.sessions[0].start  # type: ignore[assignment]
    mv.courses[course.id] = cv
    return True


def fixed_domains(
    dom: CourseDomains, placements: Sequence[Placement], grid: TimeGrid
) -> CourseDomains:
    """A course reduced to where it is: its starts, its sites and trainers only (no options
    at all when it is left out, which forces it out)."""
    slots = []
    for pl in placements:
        day = grid.day_index(pl.day)
        if day is not None:
            slots.append(grid.slot(day, pl.period))
    if dom.course.pattern == "block":
        slots = sorted(slots)[:1]
    starts = frozenset(slots)
    sites = {pl.site for pl in placements}
    trainers = {pl.trainer for pl in placements}
    return CourseDomains(
        course=dom.course,
        base=starts,
        time=[],
        sites={s: r for s, r in dom.sites.items() if s in sites},
        trainers={t: r for t, r in dom.trainers.items() if t in trainers},
    )


def add_restriction(mv: ModelVars, start: cp.LinearExprT, r: Restriction, when: list[Lit]) -> None:
    """Explanation model: the start obeys restriction `r` whenever its assumption holds."""
    lit = mv.guard(r.key, r.message)
    allowed = cp.Domain.from_values(sorted(r.allowed)) if r.allowed else cp.Domain(-1, -1)
    mv.model.add_linear_expression_in_domain(start, allowed).only_enforce_if([lit, *when])


def add_site_choice(
    mv: ModelVars, problem: Problem, cv: CourseVars, dom: CourseDomains, options: BuildOptions
) -> None:
    """Each session is held at one allowed site that is open then and big enough (when hard)."""
    m, course = mv.model, cv.course
    attendance = problem.attendance(course)
    sites = problem.site_by_id
    block = course.pattern == "block"
    starts = dom.base if options.explain else dom.starts()
    chosen: dict[str, Lit] = {}
    for site_id, restrictions in dom.sites.items():
        site = sites[site_id]
        too_small = site.too_small(attendance)
        if too_small and not options.explain:
            continue
        allowed = starts if options.explain else dom.site_starts(site_id)
        if not allowed:
            continue
        lit = m.new_bool_var(f"site[{course.id},{site_id}]")
        chosen[site_id] = lit
        first = cv.block_start if block else None
        if too_small:
            text = (
                f"site {site_id} seats {site.capacity} (hard) but "
                f"course {course.id} has {attendance} trainees"
            )
            m.add_implication(mv.guard(f"capacity:{site_id}:{course.id}", text), lit.Not())
        if block:
            assert first is not None
            if options.explain:
                for r in restrictions:
                    add_restriction(mv, first, r, [lit])
            elif allowed != starts:
                m.add_linear_expression_in_domain(
                    first, cp.Domain.from_values(sorted(allowed))
                ).only_enforce_if(lit)
    for sv in cv.sessions:
        for site_id, block_lit in chosen.items():
            if block:
                lit = block_lit
            else:
                lit = m.new_bool_var(f"site[{course.id},{sv.index},{site_id}]")
                if options.explain:
                    for r in dom.sites[site_id]:
                        add_restriction(mv, sv.start, r, [lit])
                else:
                    allowed = dom.site_starts(site_id)
                    if allowed != sv.domain:
                        m.add_linear_expression_in_domain(
                            sv.start, cp.Domain.from_values(sorted(allowed))
                        ).only_enforce_if(lit)
                m.add_implication(lit, sv.present)
            sv.sites[site_id] = lit
        if sv.sites:
            m.add(sum(sv.sites.values()) == sv.present)
        else:
            m.add(sv.present == 0)


def add_trainer_choice(
    mv: ModelVars, cv: CourseVars, dom: CourseDomains, options: BuildOptions
) -> None:
    """Each session is taught by one qualified trainer who is available then."""
    m, course = mv.model, cv.course
    for sv in cv.sessions:
        for trainer_id, restrictions in dom.trainers.items():
            allowed = sv.domain
            if not options.explain:
                for r in restrictions:
                    allowed = allowed & r.allowed
                if not allowed:
                    continue
            lit = m.new_bool_var(f"trainer[{course.id},{sv.index},{trainer_id}]")
            if options.explain:
                for r in restrictions:
                    add_restriction(mv, sv.start, r, [lit])
            elif allowed != sv.domain:
                m.add_linear_expression_in_domain(
                    sv.start, cp.Domain.from_values(sorted(allowed))
                ).only_enforce_if(lit)
            sv.trainers[trainer_id] = lit
        if sv.trainers:
            m.add(sum(sv.trainers.values()) == sv.present)
        else:
            m.add(sv.present == 0)


# A session with at most this many possible starts also gets one Boolean per start: on small
# grids (timetabling weeks) the clique constraints below make CP-SAT's relaxation far tighter
# (measured: ITC-2007 comp02 took 17 s to a first schedule without them).
CHANNEL_MAX = 64


def add_time_channels(mv: ModelVars) -> None:
    """Sessions with few possible starts: one literal per start, exactly one when present."""
    m = mv.model
    for sv in mv.sessions():
        if not sv.domain or len(sv.domain) > CHANNEL_MAX:
            continue
        if len(sv.domain) == 1:  # a fixed session starts there exactly when it is held
            sv.at = {next(iter(sv.domain)): sv.present}
            continue
        at = {s: m.new_bool_var(f"at[{sv.course.id},{sv.index},{s}]") for s in sorted(sv.domain)}
        m.add(sum(at.values()) == sv.present)
        for s, lit in at.items():
            m.add(sv.start == s).only_enforce_if(lit)
        sv.at = at


def add_slot_cliques(mv: ModelVars) -> None:
    """Redundant per-slot limits over the start literals: a cohort, a course and a trainer who
    is a session's only option hold one session per slot; a pool of sites holds as many
    sessions as it has sites."""
    m, grid = mv.model, mv.grid
    ones: dict[str, dict[int, list[Lit]]] = defaultdict(lambda: defaultdict(list))
    pools: dict[frozenset[str], dict[int, list[Lit]]] = defaultdict(lambda: defaultdict(list))
    for sv in mv.sessions():
        if sv.at is None:
            continue
        keys = [f"cohort:{q}" for q in sv.course.cohorts] + [f"course:{sv.course.id}"]
        if len(sv.trainers) == 1:
            keys.append(f"trainer:{next(iter(sv.trainers))}")
        pool = frozenset(sv.sites)
        for s, lit in sv.at.items():
            for slot in range(s, min(s + sv.course.length, grid.n_slots)):
                for key in keys:
                    ones[key][slot].append(lit)
                pools[pool][slot].append(lit)
    for by_slot in ones.values():
        for lits in by_slot.values():
            if len(lits) > 1:
                m.add_at_most_one(lits)
    for pool, by_slot in pools.items():
        for lits in by_slot.values():
            if len(lits) > len(pool):
                m.add(sum(lits) <= len(pool))


def option_intervals(mv: ModelVars, kind: str) -> dict[str, list[cp.IntervalVar]]:
    """Optional intervals per site or trainer (one per session and candidate)."""
    by_resource: dict[str, list[cp.IntervalVar]] = defaultdict(list)
    for sv in mv.sessions():
        options = sv.sites if kind == "site" else sv.trainers
        for resource, lit in options.items():
            by_resource[resource].append(
                mv.model.new_optional_fixed_size_interval_var(
                    sv.start,
                    sv.course.length,
                    lit,
                    f"{kind}iv[{sv.course.id},{sv.index},{resource}]",
                )
            )
    return by_resource


def add_site_no_overlap(mv: ModelVars) -> None:
    """A site holds one session at a time."""
    for intervals in option_intervals(mv, "site").values():
        if len(intervals) > 1:
            mv.model.add_no_overlap(intervals)


def add_trainer_no_overlap(mv: ModelVars) -> None:
    """A trainer teaches one session at a time."""
    for intervals in option_intervals(mv, "trainer").values():
        if len(intervals) > 1:
            mv.model.add_no_overlap(intervals)


def add_cohort_no_overlap(mv: ModelVars, problem: Problem) -> None:
    """A cohort attends one session at a time (a course's own sessions are ordered already)."""
    by_cohort: dict[str, list[cp.IntervalVar]] = defaultdict(list)
    for sv in mv.sessions():
        for q in sv.course.cohorts:
            by_cohort[q].append(sv.interval)
    for intervals in by_cohort.values():
        if len(intervals) > 1:
            mv.model.add_no_overlap(intervals)


def match(
    mv: ModelVars, sv: SessionVars, slot: int, site: str | None, trainer: str | None
) -> Lit | None:
    """A literal true when session `sv` starts at `slot` (at `site`, with `trainer` if given);
    None when that is impossible."""
    key = (sv.course.id, sv.index, slot, site, trainer)
    if key in mv.matches:
        return mv.matches[key]
    if slot not in sv.domain:
        return None
    site_lit = sv.sites.get(site) if site is not None else None
    trainer_lit = sv.trainers.get(trainer) if trainer is not None else None
    if (site is not None and site_lit is None) or (trainer is not None and trainer_lit is None):
        return None
    m = mv.model
    lit = m.new_bool_var(f"match[{sv.course.id},{sv.index},{slot},{site},{trainer}]")
    m.add(sv.start == slot).only_enforce_if(lit)
    m.add_implication(lit, sv.present)
    if site_lit is not None:
        m.add_implication(lit, site_lit)
    if trainer_lit is not None:
        m.add_implication(lit, trainer_lit)
    mv.matches[key] = lit
    return lit


def add_fixed_session(
    mv: ModelVars,
    key: str,
    message: str,
    course_id: str,
    slot: int | None,
    site: str | None,
    trainer: str | None,
    options: BuildOptions,
) -> None:
    """One session of the course sits exactly at `slot` (and site/trainer when given)."""
    cv = mv.courses[course_id]
    lits = [] if slot is None else [match(mv, sv, slot, site, trainer) for sv in cv.sessions]
    choices = [lit for lit in lits if lit is not None]
    when = [mv.guard(key, message)] if options.explain else []
    mv.model.add(sum(choices) == 1).only_enforce_if(when)
    mv.model.add(cv.present == 1).only_enforce_if(when)


def add_pins(mv: ModelVars, problem: Problem, grid: TimeGrid, options: BuildOptions) -> None:
    """Pinned sessions stay where the planner put them."""
    for i, pin in enumerate(problem.pins):
        if pin.course not in mv.courses:
            continue  # fixed in a neighbourhood model, where it already is
        day = grid.day_index(pin.day)
        slot = None if day is None else grid.slot(day, pin.period)
        text = f"course {pin.course} is pinned on {pin.day} period {pin.period}"
        if pin.site:
            text += f" at {pin.site}"
        if pin.trainer:
            text += f" with {pin.trainer}"
        add_fixed_session(mv, f"pin:{i}", text, pin.course, slot, pin.site, pin.trainer, options)


@dataclass(frozen=True)
class Frozen:
    """A previous placement inside the freeze horizon; `trainer` None when theirs is now away."""

    placement: Placement
    slot: int | None
    trainer: str | None


def frozen_placements(
    problem: Problem, grid: TimeGrid, policy: RepairPolicy, courses: set[str] | None = None
) -> list[Frozen]:
    """Previous sessions before now + freeze_days (of `courses`, if given): they never move."""
    if problem.previous is None or policy.now is None:
        return []
    horizon = grid.shift(policy.now, policy.freeze_days)
    builder = DomainBuilder(problem, grid)
    out = []
    for pl in problem.previous:
        if not pl.day < horizon or pl.course not in problem.course_by_id:  # type: ignore[operator]
            continue
        if courses is not None and pl.course not in courses:
            continue
        day = grid.day_index(pl.day)
        slot = None if day is None else grid.slot(day, pl.period)
        course = problem.course(pl.course)
        trainer: str | None = None  # a trainer who left the plan: anyone qualified takes over
        if slot is not None and pl.trainer in problem.trainer_by_id:
            free = all(slot in r.allowed for r in builder.trainer_restrictions(course, pl.trainer))
            trainer = pl.trainer if free else None
        out.append(Frozen(pl, slot, trainer))
    return out


def add_frozen(
    mv: ModelVars, problem: Problem, grid: TimeGrid, frozen: Sequence[Frozen], options: BuildOptions
) -> None:
    """Sessions inside the freeze horizon keep their time and site (and trainer, if able)."""
    for f in frozen:
        pl = f.placement
        text = (
            f"session {pl.session + 1} of course {pl.course} on {pl.day} is inside the freeze "
            f"horizon and cannot move"
        )
        key = f"frozen:{pl.course}:{pl.session}"
        add_fixed_session(mv, key, text, pl.course, f.slot, pl.site, f.trainer, options)


# ---------------------------------------------------------------------------------------------
# Soft terms


def add_inside_penalty(
    mv: ModelVars, sv: SessionVars, bad_starts: set[int], when: Lit, cost: int, term: str
) -> None:
    """Pay `cost` when the session starts in `bad_starts` and `when` holds (exactly, so the
    model's score equals the checker's at every solution)."""
    m = mv.model
    good = sv.domain - bad_starts
    if not good:
        mv.penalties[term].add(cost, when)
        return
    v = m.new_bool_var(f"{term}[{sv.course.id},{sv.index}]")
    m.add_implication(v, when)
    m.add_linear_expression_in_domain(
        sv.start, cp.Domain.from_values(sorted(bad_starts))
    ).only_enforce_if(v)
    m.add_linear_expression_in_domain(
        sv.start, cp.Domain.from_values(sorted(good))
    ).only_enforce_if([v.Not(), when])
    mv.penalties[term].add(cost, v)


def add_soft_blackouts(
    mv: ModelVars, problem: Problem, builder: DomainBuilder, weights: Weights
) -> None:
    """Each session inside a soft blackout that applies to it pays the blackout's weight."""
    # The sessions each blackout could apply to, by what it names: a national plan has
    # thousands of blackouts and a step's model a few hundred sessions.
    named: dict[tuple[str, str | None], list[SessionVars]] = defaultdict(list)
    for sv in mv.sessions():
        for key in builder.time_keys(sv.course):
            named[key].append(sv)
        for site_id in sv.sites:
            named[("site", site_id)].append(sv)
        for trainer_id in sv.trainers:
            named[("trainer", trainer_id)].append(sv)
    for b in problem.blackouts:
        if b.hard:
            continue
        cost = weights.soft_blackout if b.weight is None else b.weight
        if cost == 0:
            continue
        covered = builder.covered(b.window)
        for sv in named.get((b.scope, b.target), []):
            if b.scope in ("site", "trainer"):
                options = sv.sites if b.scope == "site" else sv.trainers
                when = options.get(b.target or "")
            else:
                when = sv.present
            if when is None:
                continue
            bad = set(sv.domain - builder.starts_avoiding(covered, sv.course.length))
            if bad:
                add_inside_penalty(mv, sv, bad, when, cost, "soft_blackout")


def add_capacity_overflow(mv: ModelVars, problem: Problem, weights: Weights) -> None:
    """A session at a soft-capacity site pays per trainee over its seats."""
    sites = problem.site_by_id
    for sv in mv.sessions():
        attendance = problem.attendance(sv.course)
        for site_id, lit in sv.sites.items():
            over = attendance - sites[site_id].capacity
            if over > 0 and not sites[site_id].capacity_hard:
                mv.penalties["capacity_overflow"].add(weights.capacity_overflow * over, lit)


def add_min_days(mv: ModelVars, weights: Weights) -> None:
    """A spread course on fewer distinct days than it wants pays per missing day."""
    if weights.min_days == 0:
        return
    m = mv.model
    for cv in mv.courses.values():
        course = cv.course
        if course.pattern != "spread" or course.wanted_days < 2:
            continue
        if all(sv.at is not None for sv in cv.sessions):
            add_min_days_by_slot(mv, cv, weights)
            continue
        days = [day_var(mv, sv) for sv in cv.sessions]
        same = []
        for k in range(1, len(days)):
            s = m.new_bool_var(f"sameday[{course.id},{k}]")
            m.add(days[k] == days[k - 1]).only_enforce_if(s)
            m.add(days[k] >= days[k - 1] + 1).only_enforce_if([s.Not(), cv.present])
            same.append(s)
        n = course.sessions
        short = m.new_int_var(0, course.wanted_days, f"short[{course.id}]")
        distinct_short = course.wanted_days - n + sum(same)
        m.add_max_equality(short, [0, distinct_short])
        # An absent course pays nothing: force its sessions onto distinct days costlessly.
        m.add(sum(same) == 0).only_enforce_if(cv.present.Not())
        mv.penalties["min_days"].add(weights.min_days, short)


def add_min_days_by_slot(mv: ModelVars, cv: CourseVars, weights: Weights) -> None:
    """Distinct days from the start literals: a day counts only if a session starts in it."""
    m, ppd = mv.model, mv.grid.periods_per_day
    by_day: dict[int, list[Lit]] = defaultdict(list)
    for sv in cv.sessions:
        assert sv.at is not None
        for s, lit in sv.at.items():
            by_day[s // ppd].append(lit)
    used = []
    for day, lits in sorted(by_day.items()):
        u = m.new_bool_var(f"dayused[{cv.course.id},{day}]")
        m.add(u <= sum(lits))
        used.append(u)
    short = m.new_int_var(0, cv.course.wanted_days, f"short[{cv.course.id}]")
    m.add(short >= cv.course.wanted_days * cv.present - sum(used))
    mv.penalties["min_days"].add(weights.min_days, short)


def day_var(mv: ModelVars, sv: SessionVars) -> cp.LinearExprT:
    """The working day of a session's start."""
    ppd = mv.grid.periods_per_day
    if ppd == 1:
        return sv.start
    days = sorted({s // ppd for s in sv.domain})
    d = mv.model.new_int_var_from_domain(
        cp.Domain.from_values(days), f"day[{sv.course.id},{sv.index}]"
    )
    p = mv.model.new_int_var(0, ppd - sv.course.length, f"period[{sv.course.id},{sv.index}]")
    mv.model.add(sv.start == ppd * d + p)
    return d


def add_compactness(mv: ModelVars, problem: Problem, weights: Weights) -> None:
    """A cohort's session shorter than a day with no other session of the cohort right before
    or right after it that day pays, per cohort."""
    if weights.compactness == 0:
        return
    m, ppd = mv.model, mv.grid.periods_per_day
    by_cohort: dict[str, list[SessionVars]] = defaultdict(list)
    for sv in mv.sessions():
        if sv.course.length < ppd:
            for q in sv.course.cohorts:
                by_cohort[q].append(sv)
    adjacent: dict[tuple[int, int], Lit | None] = {}

    def follows(a: SessionVars, b: SessionVars) -> Lit | None:
        """b starts right where a ends, on the same day."""
        key = (id(a), id(b))
        if key not in adjacent:
            ends = {s + a.course.length for s in a.domain}
            meet = sorted(s for s in b.domain & ends if s % ppd != 0)
            if not meet or a is b:
                adjacent[key] = None
            else:
                f = m.new_bool_var(f"adj[{a.course.id},{a.index},{b.course.id},{b.index}]")
                m.add(b.start == a.start + a.course.length).only_enforce_if(f)
                m.add_linear_expression_in_domain(
                    b.start, cp.Domain.from_values(meet)
                ).only_enforce_if(f)
                m.add_implication(f, a.present)
                m.add_implication(f, b.present)
                adjacent[key] = f
        return adjacent[key]

    attending: dict[str, list[SessionVars]] = defaultdict(list)
    for sv in mv.sessions():
        for q in sv.course.cohorts:
            attending[q].append(sv)
    for q, svs in by_cohort.items():
        lengths = {sv.course.length for sv in svs}
        if len(lengths) == 1 and all(sv.at is not None for sv in attending[q]):
            add_compactness_by_slot(mv, q, svs, attending[q], weights)
            continue
        for sv in svs:
            neighbours = [
                lit
                for other in svs
                if other is not sv
                for lit in (follows(other, sv), follows(sv, other))
                if lit is not None
            ]
            iso = m.new_bool_var(f"isolated[{q},{sv.course.id},{sv.index}]")
            # isolated <=> present and no neighbour
            m.add(iso >= sv.present - sum(neighbours))
            m.add_implication(iso, sv.present)
            for lit in neighbours:
                m.add_implication(lit, iso.Not())
            mv.penalties["compactness"].add(weights.compactness, iso)


def add_compactness_by_slot(
    mv: ModelVars,
    cohort: str,
    short: list[SessionVars],
    everyone: list[SessionVars],
    weights: Weights,
) -> None:
    """Compactness from the start literals (the strong timetabling formulation): a short
    session starting at t is isolated unless the cohort is busy at t-1 or at its end."""
    m, grid = mv.model, mv.grid
    ppd, length = grid.periods_per_day, short[0].course.length
    busy: dict[int, list[Lit]] = defaultdict(list)
    for sv in everyone:
        assert sv.at is not None
        for s, lit in sv.at.items():
            for slot in range(s, s + sv.course.length):
                busy[slot].append(lit)
    starting: dict[int, list[Lit]] = defaultdict(list)
    for sv in short:
        assert sv.at is not None
        for s, lit in sv.at.items():
            starting[s].append(lit)
    for t, lits in sorted(starting.items()):
        before = busy.get(t - 1, []) if t % ppd != 0 else []
        after = busy.get(t + length, []) if t % ppd + length < ppd else []
        iso = m.new_bool_var(f"isolated[{cohort},{t}]")
        m.add(iso >= sum(lits) - sum(before) - sum(after))
        mv.penalties["compactness"].add(weights.compactness, iso)


def add_stability(mv: ModelVars, weights: Weights) -> None:
    """A course pays per site it uses beyond the first."""
    if weights.stability == 0:
        return
    m = mv.model
    for cv in mv.courses.values():
        if cv.course.pattern == "block" or not cv.sessions:
            continue
        site_ids = sorted(set().union(*(sv.sites for sv in cv.sessions)))
        if len(site_ids) < 2:
            continue
        used = []
        for site_id in site_ids:
            u = m.new_bool_var(f"uses[{cv.course.id},{site_id}]")
            lits = [sv.sites[site_id] for sv in cv.sessions if site_id in sv.sites]
            m.add_max_equality(u, lits)
            used.append(u)
        mv.penalties["stability"].add(weights.stability, sum(used) - cv.present)


def add_density(mv: ModelVars, problem: Problem, weights: Weights) -> None:
    """A unit pays per cadre over its away cap at its busiest period."""
    if weights.density == 0:
        return
    cohorts = {q.id: q for q in problem.cohorts}
    load: dict[str, tuple[list[cp.IntervalVar], list[int]]] = defaultdict(lambda: ([], []))
    for sv in mv.sessions():
        demand: dict[str, int] = defaultdict(int)
        for q in sv.course.cohorts:
            demand[cohorts[q].unit] += cohorts[q].size
        for unit_id, size in demand.items():
            if size:
                load[unit_id][0].append(sv.interval)
                load[unit_id][1].append(size)
    for unit in problem.units:
        if unit.away_cap is None or unit.id not in load:
            continue
        cap = int(unit.away_cap * unit.headcount + 1e-9)
        intervals, demands = load[unit.id]
        fixed = {} if mv.backdrop is None else mv.backdrop.unit_load.get(unit.id, {})
        fixed_peak = max(fixed.values(), default=0)
        if sum(demands) + fixed_peak <= cap:
            continue
        fixed_intervals, fixed_demands = profile_intervals(mv, fixed)
        intervals, demands = [*intervals, *fixed_intervals], [*demands, *fixed_demands]
        over = mv.model.new_int_var(0, sum(demands), f"density[{unit.id}]")
        mv.model.add_cumulative(intervals, demands, cap + over)
        mv.penalties["density"].add(weights.density, over)


def profile_intervals(
    mv: ModelVars, load: Mapping[int, int]
) -> tuple[list[cp.IntervalVar], list[int]]:
    """Fixed intervals and their demands for the runs of a folded load profile."""
    runs = Backdrop.profile(load)
    intervals = [
        mv.model.new_fixed_size_interval_var(start, length, f"fixedload[{start}]")
        for start, length, _ in runs
    ]
    return intervals, [d for _, _, d in runs]


def add_load_peak(mv: ModelVars, weights: Weights) -> None:
    """The plan pays per session running at its busiest period (smooth load across the year)."""
    if weights.load_peak == 0:
        return
    intervals = [sv.interval for sv in mv.sessions()]
    if not intervals:
        return
    demands = [1] * len(intervals)
    fixed = {} if mv.backdrop is None else mv.backdrop.load
    fixed_intervals, fixed_demands = profile_intervals(mv, fixed)
    intervals += fixed_intervals
    demands += fixed_demands
    peak = mv.model.new_int_var(0, sum(demands), "load_peak")
    mv.model.add_cumulative(intervals, demands, peak)
    mv.penalties["load_peak"].add(weights.load_peak, peak)


def add_trainer_load(mv: ModelVars, problem: Problem, weights: Weights) -> None:
    """A trainer pays per session over their weekly and monthly limits."""
    if weights.trainer_load == 0:
        return
    limited = {
        t.id: t
        for t in problem.trainers
        if t.max_sessions_per_week is not None or t.max_sessions_per_month is not None
    }
    taught: dict[str, list[tuple[SessionVars, Lit]]] = defaultdict(list)
    for sv in mv.sessions():
        for trainer_id, lit in sv.trainers.items():
            if trainer_id in limited:
                taught[trainer_id].append((sv, lit))
    grid = mv.grid
    for trainer_id, options in taught.items():
        trainer = limited[trainer_id]
        for limit, bucket_of_day, name in (
            (trainer.max_sessions_per_week, grid.week_of_day, "week"),
            (trainer.max_sessions_per_month, grid.month_of_day, "month"),
        ):
            if limit is not None:
                add_load_limit(mv, trainer_id, options, limit, bucket_of_day, name, weights)


def add_load_limit(
    mv: ModelVars,
    trainer_id: str,
    options: list[tuple[SessionVars, Lit]],
    limit: int,
    bucket_of_day: Sequence[int],
    name: str,
    weights: Weights,
) -> None:
    """Sessions taught per week (or month) above `limit` pay, one by one."""
    m, grid = mv.model, mv.grid
    counts: dict[int, list[Lit]] = defaultdict(list)
    for sv, lit in options:
        buckets: dict[int, list[int]] = defaultdict(list)
        for s in sv.domain:
            if s < grid.n_slots:  # a course that cannot be placed at all has a dummy start
                buckets[bucket_of_day[grid.day_of(s)]].append(s)
        if not buckets:
            continue
        if len(buckets) == 1:
            counts[next(iter(buckets))].append(lit)
            continue
        parts = []
        for bucket, slots in buckets.items():
            e = m.new_bool_var(f"in{name}[{sv.course.id},{sv.index},{trainer_id},{bucket}]")
            m.add_linear_expression_in_domain(
                sv.start, cp.Domain.from_values(sorted(slots))
            ).only_enforce_if(e)
            counts[bucket].append(e)
            parts.append(e)
        m.add(sum(parts) == lit)
    back = mv.backdrop
    for bucket, lits in counts.items():
        already = 0 if back is None else back.trainer_sessions.get((trainer_id, name, bucket), 0)
        if len(lits) + already <= limit:
            continue
        top = len(lits) + already - limit
        over = m.new_int_var(0, top, f"over[{trainer_id},{name}{bucket}]")
        m.add(over >= sum(lits) + already - limit)
        mv.penalties["trainer_load"].add(weights.trainer_load, over)


def add_preferred_site(mv: ModelVars, weights: Weights) -> None:
    """A session away from its course's preferred sites pays."""
    for sv in mv.sessions():
        preferred = sv.course.preferred_sites
        if not preferred:
            continue
        for site_id, lit in sv.sites.items():
            if site_id not in preferred:
                mv.penalties["preferred_site"].add(weights.preferred_site, lit)


def perturbation_multiplier(grid: TimeGrid, policy: RepairPolicy, day: DayRef) -> int:
    """1 for sessions `near_days` or more ahead, rising to 10 for today's."""
    if policy.now is None:
        return 1
    if isinstance(day, int) and isinstance(policy.now, int):
        ahead = day - policy.now
    else:
        assert isinstance(day, dt.date) and isinstance(policy.now, dt.date)
        ahead = (day - policy.now).days
    ahead = max(0, ahead)
    return 1 + (9 * max(0, policy.near_days - ahead)) // policy.near_days


def add_perturbation(
    mv: ModelVars, problem: Problem, grid: TimeGrid, weights: Weights, policy: RepairPolicy
) -> None:
    """Each previous session that no longer stands exactly as published pays, more if soon."""
    if problem.previous is None or weights.perturbation == 0:
        return
    m = mv.model
    for pl in problem.previous:
        if pl.course not in mv.courses:
            continue  # a cancelled course: not a move
        cost = weights.perturbation * perturbation_multiplier(grid, policy, pl.day)
        day = grid.day_index(pl.day)
        mv.penalties["perturbation"].constant += cost
        if day is None:
            continue
        slot = grid.slot(day, pl.period)
        lits = [match(mv, sv, slot, pl.site, pl.trainer) for sv in mv.courses[pl.course].sessions]
        choices = [lit for lit in lits if lit is not None]
        if not choices:
            continue
        kept = m.new_bool_var(f"kept[{pl.course},{pl.session}]")
        m.add_max_equality(kept, choices)
        mv.penalties["perturbation"].add(-cost, kept)


# What leaving out a required course costs in a step that may (`BuildOptions.relaxed`): more
# than any schedule's soft terms, so each step places all the required courses it can.
RELAXED_COST = 10**7


def add_unscheduled(mv: ModelVars, weights: Weights, relaxed: frozenset[str]) -> None:
    """A course left out pays its priority times the weight."""
    for cv in mv.courses.values():
        if cv.course.required and cv.course.id not in relaxed:
            continue
        cost = RELAXED_COST if cv.course.required else weights.unscheduled * cv.course.priority
        mv.penalties["unscheduled"].constant += cost
        mv.penalties["unscheduled"].add(-cost, cv.present)


def add_objective(mv: ModelVars) -> None:
    expr: list[cp.LinearExprT] = []
    constant = 0
    for penalty in mv.penalties.values():
        constant += penalty.constant
        expr.extend(coef * e for coef, e in penalty.terms)
    mv.model.minimize(sum(expr) + constant)


def required_text(course: Course) -> str:
    return f"course '{course.name or course.id}' ({course.id}) is required"
