"""The JSON API: the same data as the report pages, for the same viewer and filters.

Authenticated by the app session token (header X-App-Session), so a manager's API calls see
exactly what his pages show. The schema is at /api/schema/ (OpenAPI, drf-spectacular).
"""

from __future__ import annotations

from django.core import signing
from django.utils import translation
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    inline_serializer,
)
from rest_framework import exceptions, serializers, status
from rest_framework.authentication import BaseAuthentication
from rest_framework.response import Response
from rest_framework.views import APIView

from crmapp.models import Portal
from frontend.report_request import MAX_CRM_ID, BadFilter, scope_from_query, viewer_of
from frontend.session import HEADER, session_read
from reports.catalog import REPORTS, report_listing, report_listing_known
from reports.drill import WHAT
from reports.marketing_drill import MARKETING_WHAT
from reports.scope import PRESETS, UTM_FIELDS, ScopeRefused


class AppSessionUser:
    is_authenticated = True

    def __init__(self, session, portal: Portal) -> None:
        self.session, self.portal = session, portal


class AppSessionAuthentication(BaseAuthentication):
    def authenticate(self, request):
        token = request.headers.get(HEADER, "")
        if not token:
            return None
        try:
            session = session_read(token)
            portal = Portal.objects.get(
                pk=session.portal_id,
                status__in=(Portal.Status.ACTIVE, Portal.Status.NEEDS_REAUTH),
            )
        except (signing.BadSignature, Portal.DoesNotExist) as error:
            raise exceptions.AuthenticationFailed(
                "The session has expired: reopen the application in the CRM."
            ) from error
        return AppSessionUser(session, portal), session

    def authenticate_header(self, request) -> str:
        return HEADER


class AppSessionScheme(OpenApiAuthenticationExtension):
    """Declares the session header in the schema, so clients (and schemathesis) send it."""

    target_class = AppSessionAuthentication
    name = "AppSession"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": HEADER,
            "description": "The app session token the page inside the CRM carries.",
        }


_ERROR = inline_serializer("Error", {"detail": serializers.CharField()})
ANSWERS = {
    200: OpenApiTypes.OBJECT,
    400: OpenApiResponse(_ERROR, description="A filter is malformed or out of range."),
    401: OpenApiResponse(_ERROR, description="No session, or it has expired."),
    403: OpenApiResponse(_ERROR, description="Data outside the viewer's reach."),
    404: OpenApiResponse(_ERROR, description="No such report."),
}
NAME_PARAMETER = OpenApiParameter(
    "name", str, OpenApiParameter.PATH, enum=sorted(REPORTS), description="the report"
)

FILTER_PARAMETERS = [
    OpenApiParameter(
        "period", str, enum=list(PRESETS), description="default: month (forgotten: last_90)"
    ),
    OpenApiParameter("from", OpenApiTypes.DATE, description="with period=custom"),
    OpenApiParameter("to", OpenApiTypes.DATE, description="with period=custom"),
    OpenApiParameter("pipeline", int, description="CRM id of a pipeline"),
    OpenApiParameter("department", int, description="CRM id of a department"),
    OpenApiParameter("employee", int, description="CRM id of an employee"),
    OpenApiParameter(
        "source", str, many=True, description="a source's CRM id, repeated for several; - = none"
    ),
    *(OpenApiParameter(name, str, description="- = empty") for name in UTM_FIELDS),
]


class _ReportAPIView(APIView):
    authentication_classes = [AppSessionAuthentication]

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        if not isinstance(request.user, AppSessionUser):
            raise exceptions.NotAuthenticated(f"Send the app session token in {HEADER}.")

    def scope(self, request, report: str):
        user = request.user
        return scope_from_query(
            request.query_params, user.portal, viewer_of(user.session), report=report
        )

    def handle_exception(self, exc):
        if isinstance(exc, BadFilter):
            return Response({"detail": str(exc)}, status=status.HTTP_400_BAD_REQUEST)
        if isinstance(exc, ScopeRefused):
            return Response(
                {"detail": "You can see only your own numbers (and your departments')."},
                status=status.HTTP_403_FORBIDDEN,
            )
        return super().handle_exception(exc)


class ReportAPIView(_ReportAPIView):
    @extend_schema(
        summary="A report's data (efficiency, forgotten, plan, quality, dynamics, marketing)",
        parameters=[NAME_PARAMETER, *FILTER_PARAMETERS],
        responses=ANSWERS,
    )
    def get(self, request, name: str):
        if name not in REPORTS:
            raise exceptions.NotFound(f"no report {name!r}; reports: {', '.join(REPORTS)}")
        with translation.override(request.user.session.language):
            scope = self.scope(request, name)
            return Response(REPORTS[name](scope) | _clamping(scope))


class DrillAPIView(_ReportAPIView):
    @extend_schema(
        summary="The deals, leads or activities behind one number",
        parameters=[
            NAME_PARAMETER,
            *FILTER_PARAMETERS,
            OpenApiParameter(
                "what",
                str,
                description=f"one of {', '.join(sorted(WHAT))}; for marketing "
                f"{', '.join(sorted(MARKETING_WHAT))}, reached:<lead status id> (ever in it) or "
                "status:<lead status id> (in it now)",
            ),
            OpenApiParameter("offset", int, description="rows to skip (default 0)"),
            OpenApiParameter("limit", int, description="rows to return (default all)"),
            OpenApiParameter("stage", str, description="dynamics: CRM id of a stage or status"),
            OpenApiParameter(
                "entity",
                str,
                enum=["deal", "lead"],
                description="dynamics: whose stage (stage_exits, stage_now)",
            ),
            OpenApiParameter(
                "state",
                str,
                enum=["won", "lost", "in_work"],
                description="dynamics: the period's deals in this state",
            ),
            OpenApiParameter("age_min", float, description="dynamics: minimum age, days"),
            OpenApiParameter("age_max", float, description="dynamics: maximum age, days"),
        ],
        responses=ANSWERS,
    )
    def get(self, request, name: str):
        what = request.query_params.get("what", "")
        if name not in REPORTS or not report_listing_known(name, what):
            raise BadFilter(f"nothing to list for {what!r}")
        offset = _count(request, "offset") or 0
        with translation.override(request.user.session.language):
            scope = self.scope(request, name)
            try:
                listing = report_listing(
                    name, scope, what, limit=_count(request, "limit"), offset=offset,
                    options=request.query_params,
                )  # fmt: skip
            except ValueError as error:  # a cell's coordinates typed wrong
                raise BadFilter(str(error)) from error
        for row in listing["rows"]:
            row.pop("path", None)
        return Response(listing | _clamping(scope))


def _count(request, name: str) -> int | None:
    value = request.query_params.get(name, "").strip()
    if not value:
        return None
    if not (value.isascii() and value.isdigit()) or len(value) > 16 or int(value) > MAX_CRM_ID:
        raise BadFilter(f"{name} must be a whole number from 0 to {MAX_CRM_ID}, not {value[:40]!r}")
    return int(value)


def _clamping(scope) -> dict:
    """When the tier's window cut the period: from when it was asked, and the notice."""
    if not scope.clamped:
        return {}
    return {"clamped_from": scope.requested_start.isoformat(), "notice": scope.clamp_notice()}
