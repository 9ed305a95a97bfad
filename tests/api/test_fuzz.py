"""Every API operation fuzzed by schemathesis, as an admin, with valid and invalid input.

The bar: no server error, and each answer as the OpenAPI schema declares it (status code,
content type, body). The database holds one object of each kind first (a list with a contact, a
template, a campaign, a conversation...), so that generated ids often name a real object and the
operations get past their 404s. The run is transactional (autocommit, as in production): on
PostgreSQL a refused value must not poison the requests after it.

The run is derandomized, so that ``make test`` gives the same verdict each time; for a deeper
search set ``HERALD_FUZZ_RANDOM=1`` and raise ``HERALD_FUZZ_EXAMPLES`` (default 25 per operation
and mode), e.g. ``HERALD_FUZZ_RANDOM=1 HERALD_FUZZ_EXAMPLES=500 make test-sqlite
PYTEST_ARGS=tests/api/test_fuzz.py``.
"""

from __future__ import annotations

import os

import pytest
import schemathesis
from django.core.wsgi import get_wsgi_application
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from herald.accounts import actions
from herald.accounts.models import User
from herald.audit.actors import Actor
from tests import test_access_matrix as objects

EXAMPLES = int(os.environ.get("HERALD_FUZZ_EXAMPLES", "25"))
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]

pytestmark = pytest.mark.django_db(transaction=True)
schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", get_wsgi_application())
schema.config.generation.update(max_examples=EXAMPLES)


@pytest.fixture
def admin_token(personas: dict[str, User]) -> str:
    """An admin's token, and one object of each kind for the generated ids to find."""
    for make in objects.EXAMPLES.values():
        make(personas)
    return actions.do_create_api_token(Actor.system("fuzz"), personas["admin"], "fuzz").plaintext


@schema.parametrize()
@settings(
    deadline=None,
    database=None,
    derandomize=os.environ.get("HERALD_FUZZ_RANDOM") != "1",
    suppress_health_check=list(HealthCheck),
)
def test_no_operation_answers_a_server_error_or_off_its_schema(case, admin_token):
    case.call_and_validate(headers={"Authorization": f"Bearer {admin_token}"}, checks=CHECKS)
