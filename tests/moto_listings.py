"""GetAuthorizers and GetRouteResponses for moto: it keeps authorizers and route responses
(CreateAuthorizer, CreateRouteResponse, GetAuthorizer...) but does not serve these two
listings. Answered from moto's own backend by a botocore before-call hook, in the shape the
API reference documents (``Items`` of Authorizer / RouteResponse)."""

from __future__ import annotations

from typing import Any

from moto.apigatewayv2.models import apigatewayv2_backends
from moto.core import DEFAULT_ACCOUNT_ID

from wsctl.local.answers import answer


def _path(params: dict[str, Any]) -> list[str]:
    # /v2/apis/{apiId}/authorizers, /v2/apis/{apiId}/routes/{routeId}/routeresponses
    return params["url_path"].strip("/").split("/")


def _api(params: dict[str, Any], context: dict[str, Any]):
    region = context["client_region"]
    return apigatewayv2_backends[DEFAULT_ACCOUNT_ID][region].apis[_path(params)[2]]


def get_authorizers(params: dict[str, Any], context: dict[str, Any], **_: Any) -> tuple:
    items = [
        {
            "AuthorizerId": found.id,
            "Name": found.name,
            "AuthorizerType": found.authorizer_type,
            "AuthorizerUri": found.authorizer_uri,
            "IdentitySource": list(found.identity_source or []),
        }
        for found in _api(params, context).authorizers.values()
    ]
    return answer(params["url"], 200, {"Items": items})


def get_route_responses(params: dict[str, Any], context: dict[str, Any], **_: Any) -> tuple:
    route = _api(params, context).routes[_path(params)[4]]
    items = [
        {"RouteResponseId": found.id, "RouteResponseKey": found.route_response_key}
        for found in route.route_responses.values()
    ]
    return answer(params["url"], 200, {"Items": items})


HANDLERS = [
    ("before-call.apigatewayv2.GetAuthorizers", get_authorizers),
    ("before-call.apigatewayv2.GetRouteResponses", get_route_responses),
]
