"""JSON API /api/v1: the one path through which the CLI, the page and the IOC talk to
the daemon. Requests are validated by the same pydantic models that generate
/api/v1/openapi.json (spectree)."""

import json
from typing import Any, Literal

from flask import Blueprint, current_app, g, jsonify, request
from pydantic import BaseModel, Field, ValidationError
from spectree import Response, SecurityScheme, SpecTree
from spectree.models import SecureType, SecuritySchemeData

from controller.commands import CommandError, SetRelay
from web.auth import gate, require


def describe(errors: list[Any], under: str = "") -> tuple[str, list[str]]:
    """Validation errors as (error, problems): "field: what is wrong" each, fields under
    `under` when given. `problems` keep pydantic's English; `error` is in the page's
    language for a session (the phone page), the same English for programs."""
    from web.i18n import validation_detail

    problems, shown = [], []
    for e in errors:
        loc = ".".join([under] * bool(under) + [str(p) for p in e.get("loc", ()) if p not in ("body", "query", "path")])
        loc = loc or "body"
        problems.append(f"{loc}: {str(e.get('msg', '')).removeprefix('Value error, ')}")
        shown.append(f"{loc}: {validation_detail(e)}")
    return "; ".join(shown if g.get("via_session") else problems), problems


def _validation_error(req: Any, resp: Any, err: Exception | None, instance: Any, adapter: Any) -> None:
    if err is None:
        return
    # pydantic's own list keeps each error's context (the limit, the choices) for the page's words
    errors = err.errors(include_url=False) if isinstance(err, ValidationError) else adapter.validation_errors(err)
    error, problems = describe(errors)
    resp.set_data(json.dumps({"error": error, "problems": problems}, ensure_ascii=False))
    resp.mimetype = "application/json"


spec = SpecTree(
    "flask",
    title="langso API",
    version="v1",
    # spectree leaves every route under its own doc path out of the document, so the
    # generated copy lives at /api/v1/spec/ and /api/v1/openapi.json serves it (below)
    path="api/v1/spec",
    filename="openapi.json",
    mode="strict",  # only the validated API routes, not the pages
    page_templates={},
    validation_error_status=400,
    before=_validation_error,
    security_schemes=[SecurityScheme(name="bearer", data=SecuritySchemeData(type=SecureType.HTTP, scheme="bearer"))],
    security={"bearer": []},
)

api = Blueprint("api", __name__, url_prefix="/api/v1")


api.before_request(gate)  # credentials first: 401/403 before 415 or a validation 400


@api.before_request
def _body() -> Any:
    """Writes carry JSON, or a multipart upload where the route takes one; anything else
    is refused (415) before a view sees it. A JSON body must be an object: spectree reads
    a body that does not parse as no body at all (`get_json(silent=True) or {}`), which
    would blame a missing field instead of the JSON, so it is refused here, for every route."""
    if request.method not in ("POST", "PUT", "PATCH") or not (request.content_length or request.mimetype):
        return None
    meta = spec._function_metadata.get(current_app.view_functions.get(request.endpoint))
    takes_json = meta is None or getattr(meta, "json", None) is not None
    takes_form = meta is None or getattr(meta, "form", None) is not None or getattr(meta, "json", None) is None
    if request.mimetype == "application/json" and takes_json:
        problem = json_body_problem()
        return None if problem is None else (jsonify(error=problem), 400)
    if request.mimetype == "multipart/form-data" and takes_form:
        return None
    wanted = "application/json" if takes_json else "multipart/form-data"
    return jsonify(error=f"Content-Type {request.mimetype or 'missing'} is not accepted here; send {wanted}"), 415


JSON_KINDS = {list: "an array", str: "a string", int: "a number", float: "a number", bool: "true", type(None): "null"}


def json_body_problem() -> str | None:
    """What is wrong with this request's JSON body, as the MQTT side says it of a payload;
    None for an object or an empty body (no fields). Parsed once: spectree gets Flask's
    cached result."""
    if not request.get_data(cache=True).strip():
        return None
    body = request.get_json(silent=True)
    if isinstance(body, dict):
        return None
    if body is None:  # not JSON at all, or a literal null
        try:
            json.loads(request.get_data(cache=True))
        except ValueError as err:  # JSONDecodeError, or UnicodeDecodeError for bytes that are not UTF-8/16/32
            return f"body: not valid JSON ({err}); send a JSON object"
    kind = "false" if body is False else JSON_KINDS.get(type(body), type(body).__name__)
    return f"body: {kind} is not a JSON object; send a JSON object"


class Error(BaseModel):
    error: str
    kind: str | None = Field(None, description='what was refused, for programs to act on (e.g. "relay_too_soon", "storage_full", '
                                               '"token_name_used"; "password_must_change" on the 403 to a page session whose '
                                               "password was set by someone else: the page opens /password); absent when "
                                               "the refusal has no kind")
    values: dict[str, Any] | None = Field(None, description="the facts in `error` as data (a field, a limit, a name), with `kind`")


class RelayOut(BaseModel):
    name: str
    label: str
    on: bool
    changed_at: float | None
    changed_by: str | None
    pin: int
    active_high: bool
    min_interval_s: float
    max_on_s: float


class RelayList(BaseModel):
    relays: list[RelayOut]


class RelaySet(BaseModel):
    state: Literal["on", "off", "toggle"] = Field(description="on, off or toggle")


class RelaySetResult(BaseModel):
    name: str
    on: bool
    changed: bool


class Status(BaseModel):
    model_config = {"extra": "allow"}
    site: dict[str, Any]
    time: float
    uptime_s: float
    relays: list[RelayOut]
    clock: dict[str, Any]
    disk: dict[str, Any]
    problems: dict[str, str]


class SelftestRow(BaseModel):
    part: str
    ok: bool
    detail: str
    seconds: float


class Selftest(BaseModel):
    ok: bool
    results: list[SelftestRow]


@api.get("/openapi.json")
def openapi():
    """The OpenAPI document, generated from the pydantic models that validate requests."""
    return jsonify(spec.spec)


# phones and the IOC poll status: its disk, clock and wing parts may be this old (relays are
# exact, and any bus event refreshes the rest), so requests do not queue on the database
STATUS_MAX_AGE_S = 1.0


def house() -> Any:
    return current_app.extensions["house"]


def command_error(err: CommandError):
    """A refusal as JSON: for programs its English message, with its `kind` and `values`
    when it has them; for the page (a session) a known kind in the page's language, as
    describe() does for validation errors."""
    from web.i18n import refusal_detail

    if g.get("via_session"):
        return jsonify(error=(err.kind and refusal_detail(err.kind, err.values)) or err.message), err.status
    # programs (the IOC's systems, the CLI) also get the refusal as data, to act on or word themselves
    return jsonify(error=err.message, **err.data()), err.status


@api.get("/status")
# the busiest read (every phone page, the IOC, `langso status`) takes no input; checking its
# output against Status on every call cost 0.4 of its 1.1 ms, so the model only documents it
@spec.validate(resp=Response(HTTP_200=Status, HTTP_401=Error), tags=["system"], skip_validation=True)
@require(None)
def status():
    """Relays, queue, cameras, uplink, disk, clock (all but relays may be up to 1 s old)."""
    return jsonify(house().status(max_age_s=STATUS_MAX_AGE_S))


@api.get("/relays")
@spec.validate(resp=Response(HTTP_200=RelayList, HTTP_401=Error, HTTP_403=Error), tags=["relays"])
@require("control")
def relays():
    """Every relay with its state and who changed it last."""
    return jsonify(relays=house().relays())


@api.post("/relays/<path:name>")  # path: a name with "/" gets the list of relays, not a bare 404
@spec.validate(
    json=RelaySet,
    resp=Response(HTTP_200=RelaySetResult, HTTP_400=Error, HTTP_401=Error, HTTP_403=Error, HTTP_404=Error, HTTP_409=Error),
    tags=["relays"],
)
@require("control")
def set_relay(name: str, json: RelaySet):
    """Switch a relay. 409 when switched again inside its min_interval_s."""
    try:
        return jsonify(house().handle(SetRelay(name, json.state, g.actor)))
    except CommandError as err:
        return command_error(err)


@api.post("/selftest")
@spec.validate(resp=Response(HTTP_200=Selftest, HTTP_401=Error, HTTP_403=Error), tags=["system"])
@require("admin")
def selftest():
    """Click each relay, play a test tone, grab a frame per camera, ping the broker."""
    results = house().selftest()
    return jsonify(ok=all(r["ok"] for r in results), results=results)
