"""The Warehouse catalog's bodies are the ones Pyramid renders for the same exception and Accept."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from tests.fakes import warehouse_answers as wa

# Pyramid comes with devpi-server; Warehouse pins pyramid 2.1 (requirements/main.txt).
httpexceptions = pytest.importorskip("pyramid.httpexceptions")
webob = pytest.importorskip("webob")

BLAKE2 = "0" * 64
ACCEPTS = ["*/*", None, "text/html", "application/json", "text/plain",
           "application/json, text/html;q=0.9", "text/html;q=0, */*", "image/png"]
SAMPLES: list[Callable[[str | None], wa.Answer]] = [
    lambda a: wa.invalid_auth(accept=a),
    lambda a: wa.password_auth(accept=a),
    lambda a: wa.expired_token(accept=a),
    lambda a: wa.token_for_other_project("other-project", accept=a),
    lambda a: wa.oidc_token_for_other_project("other-project", accept=a),
    lambda a: wa.user_not_allowed("alice", "sample-project", accept=a),
    lambda a: wa.non_user_identity_new_project(accept=a),
    lambda a: wa.upload_ok(accept=a),
    lambda a: wa.identical_reupload(accept=a),
    lambda a: wa.file_exists("sample_project-1.0.tar.gz", BLAKE2, accept=a),
    lambda a: wa.filename_reused(accept=a),
    lambda a: wa.file_too_large("sample-project", accept=a),
    lambda a: wa.project_too_large("sample-project", accept=a),
    lambda a: wa.release_too_old(accept=a),
    lambda a: wa.invalid_attestations("Malformed attestations: <detail & more>", accept=a),
    lambda a: wa.invalid_classifier("Foo :: Bar", accept=a),
    lambda a: wa.invalid_form_value("-bad-", "Name", "Start and end with a letter.", accept=a),
    lambda a: wa.missing_trailing_slash(accept=a),
    lambda a: wa.user_not_allowed("zoë", "sample-project", accept=a),  # ISO-8859-1, not ASCII
    lambda a: wa.invalid_metadata("'☃' is not a valid classifier.", accept=a),
]
EXCEPTIONS = {200: "HTTPOk", 308: "HTTPPermanentRedirect", 400: "HTTPBadRequest",
              403: "HTTPForbidden"}


def pyramid_answer(answer: wa.Answer, accept: str | None) -> tuple[str, str, str]:
    """What Warehouse's `_exc_with_message` (or `_format_exc_status`) sends, via Pyramid."""
    kind = getattr(httpexceptions, EXCEPTIONS[answer.status])
    extra = {"location": answer.location} if answer.location else {}
    exc = kind(detail=answer.detail or None, **extra)
    if answer.reason != exc.title:
        exc.status = f"{answer.status} {answer.reason}"
    request = webob.Request.blank("/legacy/", method="POST")
    if accept is not None:
        request.headers["Accept"] = accept
    response = request.get_response(exc)
    return response.status, response.headers["Content-Type"], response.body.decode()


@pytest.mark.parametrize("accept", ACCEPTS)
@pytest.mark.parametrize("sample", range(len(SAMPLES)))
def test_body_matches_what_pyramid_renders(sample: int, accept: str | None) -> None:
    answer = SAMPLES[sample](accept)
    assert (f"{answer.status} {answer.reason}", answer.content_type, answer.body) == \
        pyramid_answer(answer, accept)


def test_reason_replaces_characters_outside_iso_8859_1() -> None:
    assert wa.invalid_classifier("☃").reason.startswith("'?' is not a valid classifier.")


def test_mint_token_refusal_is_what_warehouse_json_renderer_sends() -> None:
    config_module = pytest.importorskip("pyramid.config")
    renderers = pytest.importorskip("pyramid.renderers")
    answer = wa.mint_token_pull_request_target()
    document = json.loads(answer.body)

    def view(request: object) -> object:
        request.response.status = 422  # type: ignore[attr-defined]
        return document

    with config_module.Configurator() as config:
        # warehouse/config.py: the "json" renderer.
        config.add_renderer("json", renderers.JSON(serializer=json.dumps, sort_keys=True,
                                                   separators=(",", ":")))
        config.add_route("mint", "/_/oidc/mint-token")
        config.add_view(view, route_name="mint", renderer="json", request_method="POST")
        app = config.make_wsgi_app()
    response = webob.Request.blank("/_/oidc/mint-token", method="POST").get_response(app)
    assert (response.status, response.headers["Content-Type"], response.body.decode()) == \
        (f"{answer.status} {answer.reason}", answer.content_type, answer.body)
