"""/api/v1/users and /api/v1/tokens: the technician's (admin) management of web users
and API tokens. Tokens are stored hashed and shown once, at creation."""
from __future__ import annotations

from typing import Any, Literal

from flask import g, jsonify
from pydantic import BaseModel, Field
from spectree import Response

from controller.commands import Actor, CommandError
from controller.passwords import WeakPassword
from controller.store import NAME, Refused
from web.api import Error, api, command_error, house, spec
from web.auth import keep_session, recent, require

Scope = Literal["control", "broadcast", "events:read", "admin"]


class UserOut(BaseModel):
    name: str
    role: str
    created_at: float
    must_change: bool = Field(False, description="true until the user replaces the password someone else set")


class UserList(BaseModel):
    users: list[UserOut]


class UserIn(BaseModel):
    name: str = Field(pattern=NAME, description="letters, digits, . _ - (no spaces or accents), up to 32")
    role: Literal["head", "tech", "viewer"] = Field(description="head: control, broadcast, cameras; tech: everything; viewer: status and cameras")
    password: str = Field(min_length=8, max_length=200, description="at least 8 characters, not a common password")


class TokenOut(BaseModel):
    id: int
    name: str
    scopes: list[str]
    created_at: float
    last_used: float | None = Field(description="last request made with it (recorded at most once a minute)")
    revocable: bool = Field(description="false for the daemon's own token of the langso command (cli), renewed at each start")


class TokenList(BaseModel):
    tokens: list[TokenOut]


class TokenIn(BaseModel):
    name: str = Field(pattern=NAME, description="who uses it, e.g. ioc-yen-dinh")
    scopes: list[Scope] = Field(min_length=1, description="control, broadcast, events:read, admin")


class TokenCreated(BaseModel):
    id: int
    name: str
    token: str = Field(description="shown once; only its hash is kept")


class Done(BaseModel):
    ok: bool


def refused(err: Refused):
    """The store's refusal of a token's name or id (409), with its kind and values."""
    return command_error(CommandError(str(err), 409, err.kind, **err.values))


@api.get("/users")
@spec.validate(resp=Response(HTTP_200=UserList, HTTP_401=Error, HTTP_403=Error), tags=["admin"])
@require("admin")
def users():
    """Web users and their roles (never their password hashes)."""
    return jsonify(users=house().store.users())


@api.post("/users")
@spec.validate(json=UserIn, resp=Response(HTTP_201=UserOut, HTTP_400=Error, HTTP_401=Error, HTTP_403=Error, HTTP_409=Error),
               tags=["admin"])
@require("admin")
def add_user(json: UserIn):
    """Create a user or reset an existing user's role and password. The user's open logins
    end, and at the next login the page asks them to choose their own password (unless
    the user set it for themselves: their own session goes on)."""
    store = house().store
    own = g.actor == Actor("web", json.name)
    if json.role != "tech" and _last_tech(store, json.name):  # as removing them: nobody could manage the house
        return command_error(CommandError("this is the last tech user; add another tech user first", 409, "last_tech"))
    try:
        store.add_user(json.name, json.role, json.password, must_change=not own)
    except WeakPassword as err:
        return command_error(CommandError(f"password: {err}", 400, "password_weak"))
    recent().clear()  # a new role or password applies at once (open logins end)
    store.audit(str(g.actor), "user.add", json.name, json.role)
    user = store.user(json.name)
    if own:
        keep_session(user)
    return jsonify(name=user["name"], role=user["role"], created_at=user["created_at"], must_change=bool(user["must_change"])), 201


def _last_tech(store: Any, name: str) -> bool:
    """`name` is the house's only technician."""
    return [u["name"] for u in store.users() if u["role"] == "tech"] == [name]


@api.delete("/users/<name>")
@spec.validate(resp=Response(HTTP_200=Done, HTTP_401=Error, HTTP_403=Error, HTTP_404=Error, HTTP_409=Error), tags=["admin"])
@require("admin")
def delete_user(name: str):
    """Remove a user; the last technician cannot be removed (nobody could manage the house)."""
    store = house().store
    user = store.user(name)
    if user is None:
        return command_error(CommandError(f"no user {name!r}", 404, "user_unknown", name=name))
    if _last_tech(store, name):
        return command_error(CommandError("this is the last tech user; add another tech user first", 409, "last_tech"))
    store.delete_user(name)
    recent().clear()
    store.audit(str(g.actor), "user.delete", name)
    return jsonify(ok=True)


@api.get("/tokens")
@spec.validate(resp=Response(HTTP_200=TokenList, HTTP_401=Error, HTTP_403=Error), tags=["admin"])
@require("admin")
def tokens():
    """API tokens (names, scopes, last use); the tokens themselves are never shown again."""
    return jsonify(tokens=house().store.tokens())


@api.post("/tokens")
@spec.validate(json=TokenIn, resp=Response(HTTP_201=TokenCreated, HTTP_400=Error, HTTP_401=Error, HTTP_403=Error, HTTP_409=Error),
               tags=["admin"])
@require("admin")
def add_token(json: TokenIn):
    """Create a token for the IOC or a script; the response is the only time it is shown.
    Names are unique, and "cli" is the daemon's own (409)."""
    store = house().store
    try:
        token = store.add_token(json.name, set(json.scopes))
    except Refused as err:
        return refused(err)
    info = store.check_token(token)
    store.audit(str(g.actor), "token.add", json.name, ",".join(sorted(json.scopes)))
    return jsonify(id=info.id, name=json.name, token=token), 201


@api.delete("/tokens/<int:token_id>")
@spec.validate(resp=Response(HTTP_200=Done, HTTP_401=Error, HTTP_403=Error, HTTP_404=Error, HTTP_409=Error), tags=["admin"])
@require("admin")
def delete_token(token_id: int):
    """Revoke a token at once (not the daemon's own, 409)."""
    store = house().store
    try:
        deleted = store.delete_token(token_id)
    except Refused as err:
        return refused(err)
    if not deleted:  # revoked meanwhile (another phone, the CLI)
        return command_error(CommandError(f"no token {token_id}", 404, "token_unknown", id=token_id))
    recent().clear()  # revoked at once, not when the credentials cache ages
    store.audit(str(g.actor), "token.delete", str(token_id))
    return jsonify(ok=True)
