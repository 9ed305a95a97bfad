"""API: the caller, users, account settings, API tokens."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from ninja import Router, Status
from ninja.errors import HttpError

from herald.accounts import actions
from herald.accounts.access import current_user, user_has_role
from herald.accounts.models import Account, ApiToken, Role, User
from herald.api import auth
from herald.api.schemas import (
    AccountOut,
    AccountPatch,
    Input,
    ProfilePatch,
    TokenCreated,
    TokenIn,
    TokenOut,
    UserCreated,
    UserIn,
    UserOut,
    UserPatch,
)
from herald.audit.actors import Actor

router = Router(tags=["accounts"])


def _token_out(token: ApiToken) -> dict:
    return {
        "id": token.pk,
        "name": token.name,
        "prefix": token.prefix,
        "user_email": token.user.email,
        "created_at": token.created_at,
        "last_used_at": token.last_used_at,
        "revoked_at": token.revoked_at,
    }


@router.get("/me", response=UserOut, auth=auth.AGENT, summary="The user the token acts as")
def me(request: HttpRequest) -> User:
    return request.user  # type: ignore[return-value]


@router.patch("/me", response=UserOut, auth=auth.AGENT)
def change_profile(request: HttpRequest, payload: ProfilePatch) -> User:
    """The caller's own name, language and time zone ("" for the account's)."""
    return actions.do_change_profile(
        Actor.for_request(request), current_user(request), **payload.dict(exclude_none=True)
    )


class PasswordIn(Input):
    current_password: str
    new_password: str


@router.post("/me/password", response={204: None}, auth=auth.AGENT)
def change_own_password(request: HttpRequest, payload: PasswordIn) -> Status[None]:
    """Changes the caller's own password (the current one is asked, the rules apply)."""
    user = current_user(request)
    if not user.check_password(payload.current_password):
        raise ValidationError({"current_password": ["this is not the current password"]})
    actions.do_set_password(Actor.for_request(request), user, payload.new_password)
    return Status(204, None)


@router.get("/users", response=list[UserOut], auth=auth.ADMIN)
def list_users(request: HttpRequest) -> list[User]:
    return list(User.objects.order_by("email"))


@router.post("/users", response={201: UserCreated}, auth=auth.ADMIN)
def create_user(request: HttpRequest, payload: UserIn) -> Status[dict]:
    new = actions.do_create_user(
        Actor.for_request(request),
        email=payload.email,
        name=payload.name,
        role=payload.role,
        password=payload.password,
    )
    data = UserOut.from_orm(new.user).model_dump()
    return Status(201, {**data, "generated_password": new.password})


@router.patch("/users/{user_id}", response=UserOut, auth=auth.ADMIN)
def change_user(request: HttpRequest, user_id: int, payload: UserPatch) -> User:
    user = get_object_or_404(User, pk=user_id)
    return actions.do_change_user(
        Actor.for_request(request), user, **payload.dict(exclude_none=True)
    )


@router.get("/account", response=AccountOut, auth=auth.MANAGER)
def get_account(request: HttpRequest) -> Account:
    return Account.load()


@router.patch("/account", response=AccountOut, auth=auth.ADMIN)
def change_account(request: HttpRequest, payload: AccountPatch) -> Account:
    return actions.do_update_account(Actor.for_request(request), **payload.dict(exclude_none=True))


@router.get("/tokens", response=list[TokenOut], auth=auth.AGENT)
def list_tokens(request: HttpRequest) -> list[dict]:
    me = current_user(request)
    tokens = ApiToken.objects.select_related("user")
    if not me.has_role(Role.ADMIN):
        tokens = tokens.filter(user=me)
    return [_token_out(token) for token in tokens]


@router.post("/tokens", response={201: TokenCreated}, auth=auth.AGENT)
def create_token(request: HttpRequest, payload: TokenIn) -> Status[dict]:
    user = current_user(request)
    if payload.user_id is not None and payload.user_id != user.pk:
        if not user_has_role(user, Role.ADMIN):
            raise HttpError(403, "only an admin creates tokens for other users")
        user = get_object_or_404(User, pk=payload.user_id, is_active=True)
    new = actions.do_create_api_token(Actor.for_request(request), user, payload.name)
    return Status(201, {**_token_out(new.token), "token": new.plaintext})


@router.delete("/tokens/{token_id}", response={204: None}, auth=auth.AGENT)
def revoke_token(request: HttpRequest, token_id: int) -> Status[None]:
    me = current_user(request)
    tokens = ApiToken.objects.all()
    if not me.has_role(Role.ADMIN):
        tokens = tokens.filter(user=me)
    actions.do_revoke_api_token(Actor.for_request(request), get_object_or_404(tokens, pk=token_id))
    return Status(204, None)
