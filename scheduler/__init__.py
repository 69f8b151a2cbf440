"""Offseason's service core: storage, events, solving outside requests, versions, notifications.

Every function below takes the caller's SQLAlchemy `Session` (opened as
`with sessions.begin() as session:`), never commits, and takes `now` (an aware UTC datetime)
instead of reading a clock. Lookups raise `scheduler.errors.NotFound`; refused transitions
`Conflict`; changes that would break the plan `InvalidPlan` (with `.errors`).

Database (`scheduler.database`): `upgrade(url)`, `downgrade(url, revision)`,
`current_revision(url)`, `make_engine(url)`, `make_sessions(engine)`.

Plans and their data (`scheduler.plans`): `create_plan`, `get_plan`, `list_plans`,
`update_plan` (any of `PLAN_SETTINGS`), `delete_plan`, `import_problem` / `export_problem`
(a whole `solver.problem.Problem`; `previous` = the published schedule), `load_problem`;
entities: `list_entities`, `get_entity`, `add_entity`, `replace_entity`, `remove_entity`;
the named changes: `drop_out_trainer`, `close_site`, `add_course`, `cancel_course`,
`resize_cohort`, `add_blackout` / `remove_blackout` / `list_blackouts`, `pin_session` /
`remove_pin` / `list_pins`. Each writes a past-tense event (`scheduler.events`) and asks for a
debounced repair.

Solving (`scheduler.solve_requests`, `scheduler.runs`): `request_solve` (purpose "draft",
"what_if", "repair" or "nightly"), `get_request`, `list_requests`, `cancel_request`;
`get_run`, `list_runs`, `run_summary`, `preview_run` (the diff publishing would make),
`publish_run`, `request_rerun`, `reproduce_run`.

Versions (`scheduler.versions`): `latest_version`, `get_version`, `list_versions`,
`published_placements`, `diff_versions(session, plan_id, a, b)`, `version_changes`.

Events (`scheduler.events`): `list_events`, `event_from_record`.

Delivery: `scheduler.subscriptions` (`add_subscription` for webhooks and email,
`list_subscriptions`, `get_subscription`, `remove_subscription`), `scheduler.notifications`
(`list_notifications`, `retry_notification`), `scheduler.channels.verify_signature` (what a
receiver checks).

Access: `scheduler.api_keys` (`create_api_key`, `verify_api_key`, `revoke_api_key`,
`list_api_keys`), `scheduler.feeds` (`create_feed_token`, `resolve_feed_token`,
`revoke_feed_token`, `list_feed_tokens`, `build_feed`).

Briefings (`scheduler.briefing`): `build_briefing` (on demand), `produce_briefing` (stored and
sent), `list_briefings`.

Worker (`scheduler.worker`): `run_worker(settings)` for `offseason worker`;
`start_embedded_worker(settings)` -> `.stop()` for the API's lifespan. Its jobs are in
`scheduler.jobs`.
"""
