"""API keys (admins only): issue one (shown once), list them, revoke one; and who am I."""

from __future__ import annotations

from fastapi import APIRouter, Response

from api.access import Principal, issue_key
from api.dependencies import AdminDep, NowDep, PrincipalDep, SessionDep, WiringDep
from api.errors import error_responses
from api.params import KeyId
from api.schemas import ApiKeyCreated, ApiKeyIn, ApiKeyOut, Me
from scheduler import api_keys
from scheduler.plans import get_plan
from scheduler.tables import ApiKey

router = APIRouter(tags=["access"], responses=error_responses(401, 403, 422))


def key_out(row: ApiKey) -> ApiKeyOut:
    grant = Principal.of(row.id, row.name, row.role)
    return ApiKeyOut.of(row, grant.role, grant.plan_id)


@router.get("/me", summary="The key this request was made with")
def me(principal: PrincipalDep) -> Me:
    return Me(
        key_id=principal.key_id, name=principal.name, role=principal.role, plan_id=principal.plan_id
    )


@router.post(
    "/api-keys", status_code=201, summary="Issue an API key", responses=error_responses(404)
)
def issue_api_key(
    asked: ApiKeyIn, response: Response, session: SessionDep, admin: AdminDep, now: NowDep
) -> ApiKeyCreated:
    """The key is shown this once; only its hash is kept."""
    if asked.plan_id is not None:
        get_plan(session, asked.plan_id)
    row, key = issue_key(session, asked.name, asked.role, asked.plan_id, now=now)
    response.headers["Location"] = f"/api-keys/{row.id}"
    return ApiKeyCreated(**key_out(row).model_dump(), key=key)


@router.get("/api-keys", summary="Every API key (never the keys themselves)")
def list_keys(session: SessionDep, admin: AdminDep) -> list[ApiKeyOut]:
    return [key_out(row) for row in api_keys.list_api_keys(session)]


@router.delete(
    "/api-keys/{key_id}",
    status_code=204,
    summary="Revoke an API key",
    responses=error_responses(404),
)
def revoke_key(
    key_id: KeyId, session: SessionDep, admin: AdminDep, wiring: WiringDep, now: NowDep
) -> None:
    api_keys.revoke_api_key(session, key_id, now=now)
    wiring.keys.forget(lambda principal: principal is not None and principal.key_id == key_id)
