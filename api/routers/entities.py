"""The routes every plan entity with an id has (list, add, read, replace, patch, remove), built
once for sites, trainers, units, cohorts and courses; each resource's module adds its own."""

# No `from __future__ import annotations`: FastAPI reads these routes' types at runtime, and
# they are the factory's arguments.

from typing import Annotated, Any

from fastapi import APIRouter, Body, Response
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, create_model

from api.bodies import storable
from api.dependencies import NowDep, PlanDep, PrincipalDep, SessionDep
from api.errors import error_responses
from api.examples import ENTITIES, PATCHES, one
from api.params import key as key_param
from scheduler import plans
from scheduler.plans import KeyedKind


def changes_model(kind: str, model: type[BaseModel]) -> type[BaseModel]:
    """The body of a PATCH: any of the entity's fields but its id (a merge patch)."""
    fields: dict[str, Any] = {
        name: (f.annotation | None, Field(default=None, description=f.description))  # type: ignore[operator]
        for name, f in model.model_fields.items()
        if name != "id"
    }
    config = ConfigDict(extra="forbid", json_schema_extra={"examples": [PATCHES[kind]]})
    return create_model(f"{model.__name__}Changes", __config__=config, **fields)


def entity_router(
    kind: KeyedKind, model: type[BaseModel], collection: str, *, removable: bool = True
) -> APIRouter:
    router = APIRouter(
        prefix=f"/plans/{{plan_id}}/{collection}",
        tags=[collection],
        responses=error_responses(401, 403, 404, 422),
    )
    Key = Annotated[str, key_param(kind, ENTITIES[kind]["id"])]
    EntityBody = Annotated[
        model,  # type: ignore[valid-type]
        Body(openapi_examples=one(f"a {kind}", ENTITIES[kind])),
        AfterValidator(storable),
    ]
    Changes = changes_model(kind, model)

    @router.get("", summary=f"The plan's {collection}", response_model=list[model])  # type: ignore[valid-type]
    def list_entities(plan: PlanDep, session: SessionDep) -> Any:
        return plans.list_entities(session, plan.id, kind)

    @router.post(
        "",
        status_code=201,
        summary=f"Add a {kind}",
        response_model=model,
        responses=error_responses(409),
    )
    def add_entity(
        plan: PlanDep,
        entity: EntityBody,
        response: Response,
        session: SessionDep,
        principal: PrincipalDep,
        now: NowDep,
    ) -> Any:
        plans.add_entity(session, plan.id, kind, entity, now=now, actor=principal.actor)
        response.headers["Location"] = f"/plans/{plan.id}/{collection}/{entity.id}"  # type: ignore[attr-defined]
        return entity

    @router.get("/{key}", summary=f"One {kind}", response_model=model)
    def read_entity(plan: PlanDep, key: Key, session: SessionDep) -> Any:
        return plans.get_entity(session, plan.id, kind, key)

    @router.put(
        "/{key}",
        summary=f"Replace a {kind} (same id)",
        response_model=model,
        responses=error_responses(409),
    )
    def replace_entity(
        plan: PlanDep,
        key: Key,
        entity: EntityBody,
        session: SessionDep,
        principal: PrincipalDep,
        now: NowDep,
    ) -> Any:
        return plans.replace_entity(
            session, plan.id, kind, key, entity, now=now, actor=principal.actor
        )

    @router.patch("/{key}", summary=f"Change some fields of a {kind}", response_model=model)
    def change_entity(
        plan: PlanDep,
        key: Key,
        changes: Annotated[Changes, Body(openapi_examples=one("a change", PATCHES[kind]))],  # type: ignore[valid-type]
        session: SessionDep,
        principal: PrincipalDep,
        now: NowDep,
    ) -> Any:
        current = plans.get_entity(session, plan.id, kind, key)
        updated: Any = storable(
            model.model_validate(
                current.model_dump() | changes.model_dump(exclude_unset=True)  # type: ignore[attr-defined]
            )
        )
        return plans.replace_entity(
            session,
            plan.id,
            kind,
            key,
            updated,
            now=now,
            actor=principal.actor,
        )

    if removable:

        @router.delete("/{key}", status_code=204, summary=f"Remove a {kind}")
        def remove_entity(
            plan: PlanDep, key: Key, session: SessionDep, principal: PrincipalDep, now: NowDep
        ) -> None:
            """Refused (422) while anything else in the plan refers to it."""
            plans.remove_entity(session, plan.id, kind, key, now=now, actor=principal.actor)

    return router
