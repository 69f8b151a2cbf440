"""Default soft-term weights, solve parameters and horizons; a plan may override the weights.

The weights rank what planners care about: leaving a course out is worst, then breaking a
unit's key season (soft blackouts) and moving what people rely on, then comfort terms.
"""

from __future__ import annotations

WEIGHTS: dict[str, int] = {
    "unscheduled": 1000,  # per priority point of a course left out
    "soft_blackout": 50,  # per session inside a soft blackout (a blackout may set its own)
    "perturbation": 20,  # per moved session, x1 far ahead .. x10 today
    "density": 5,  # per cadre over a unit's away cap at its peak
    "capacity_overflow": 2,  # per seat over a soft capacity, per session
    "trainer_load": 20,  # per session over a trainer's weekly/monthly limit
    "min_days": 10,  # per day a spread course is short of its wanted distinct days
    "load_peak": 10,  # per session running at the plan's busiest period
    "stability": 5,  # per extra site a course uses
    "preferred_site": 3,  # per session away from the course's preferred sites
    "compactness": 1,  # per isolated session in a cohort's day
}

FREEZE_DAYS = 14
NEAR_DAYS = 56
TIME_LIMIT_S = 60.0
WORKERS = 2
SEED = 1
