"""API fuzz run: schemathesis generates requests from /api/v1/openapi.json (valid and
invalid) and every answer must be a non-5xx. Small budget per operation."""
from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error


@pytest.fixture
def api_schema(web):
    # /selftest clicks every relay for real (seconds per call): checked in the API tests instead
    return schemathesis.openapi.from_wsgi("/api/v1/openapi.json", web).exclude(path="/api/v1/selftest")


schema = schemathesis.pytest.from_fixture("api_schema")


@pytest.fixture
def admin_auth(token_for):
    return token_for("admin")


@schema.parametrize()
@settings(max_examples=20, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_no_server_errors(case, admin_auth):
    case.call_and_validate(headers=admin_auth, checks=[not_a_server_error])
