"""Previews: plan a backup's blocks without running it (an RQ job), then read the plan page by
page (`backups.services.previews`; the files stay on disk, a page is one seek away)."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.exceptions import NotFound
from rest_framework.response import Response
from rest_framework.utils.urls import remove_query_param, replace_query_param
from rest_framework.views import APIView

from backups.api import serializers as s
from backups.api.backup_views import ERRORS, READ_ERRORS
from backups.api.pagination import Pagination
from backups.api.permissions import IsOperator
from backups.services import previews


def _status(token: str) -> dict:
    try:
        body = {"token": token, **previews.read_status(token)}
        if body["state"] == "done":
            body["summary"] = previews.read_summary(token)
    except (previews.PreviewNotFound, OSError, ValueError):
        raise NotFound(f"no preview {token[:40]!r}: it never existed or has expired") from None
    return body


@extend_schema(tags=["previews"])
class PreviewCreate(APIView):
    permission_classes = [IsOperator]

    @extend_schema(
        request=s.PreviewCreateSerializer,
        responses={202: s.PreviewSerializer, **ERRORS},
        description="Plan the ItemBlocks a backup with these options would run; poll the preview "
        "until its state is done (or failed, with the error).",
    )
    def post(self, request):
        serializer = s.PreviewCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        fields = serializer.options(data)
        location = fields.pop("storage_location")
        fields["storage_location_id"] = location.pk if location else None
        token = previews.start_preview(
            data["cluster"], fields, data["name_prefix"], user=request.user.get_username()
        )
        return Response(_status(token), status=status.HTTP_202_ACCEPTED)


@extend_schema(tags=["previews"])
class PreviewDetail(APIView):
    permission_classes = [IsOperator]

    @extend_schema(responses={200: s.PreviewSerializer, **READ_ERRORS})
    def get(self, request, token):
        return Response(_status(token))


class BlockPage(Pagination):
    """A page of a preview's blocks: the count is the summary's, the blocks are read by offset."""

    def paginate_blocks(self, request, token: str, total: int):
        return self.paginate(
            request, total, lambda start, size: previews.read_blocks(token, start, size), "blocks"
        )

    def paginate(self, request, total: int, read, noun: str):
        """A page of `total` records read by `read(start, size)`."""
        self.request = request
        size = self.get_page_size(request) or self.page_size
        try:
            number = max(1, int(request.query_params.get(self.page_query_param, 1)))
        except ValueError:
            raise NotFound("invalid page: a whole number from 1") from None
        start = (number - 1) * size
        if total and start >= total:
            raise NotFound(f"invalid page {number}: there are {total} {noun}")
        blocks = read(start, size)
        url = request.build_absolute_uri()

        def link(n):
            if n < 1 or (n - 1) * size >= total:
                return None
            return (
                remove_query_param(url, self.page_query_param)
                if n == 1
                else replace_query_param(url, self.page_query_param, n)
            )

        return {"count": total, "next": link(number + 1), "previous": link(number - 1), "results": blocks}


@extend_schema(tags=["previews"])
class PreviewBlocks(APIView):
    permission_classes = [IsOperator]

    @extend_schema(
        parameters=[OpenApiParameter("page", int), OpenApiParameter("page_size", int)],
        responses={200: s.PreviewBlockSerializer(many=True), **READ_ERRORS},
    )
    def get(self, request, token):
        body = _status(token)
        if body["state"] != "done":
            raise NotFound(f"preview {token} is {body['state']}: its blocks are not planned yet")
        return Response(BlockPage().paginate_blocks(request, token, body["summary"]["blocks"]))


@extend_schema(tags=["previews"])
class PreviewExcluded(APIView):
    """The items the backup would leave out, each with the rule that does, in the order found."""

    permission_classes = [IsOperator]

    @extend_schema(
        parameters=[OpenApiParameter("page", int), OpenApiParameter("page_size", int)],
        responses={200: s.PreviewExcludedSerializer(many=True), **READ_ERRORS},
    )
    def get(self, request, token):
        body = _status(token)
        if body["state"] != "done":
            raise NotFound(f"preview {token} is {body['state']}: its exclusions are not known yet")
        total = body["summary"].get("excluded", 0)
        page = BlockPage().paginate(
            request, total, lambda start, size: previews.read_excluded(token, start, size), "excluded items"
        )
        return Response(page)
