"""Backups: list (filtered, paged), create, get with progress, its blocks, cancel, delete."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import generics, status
from rest_framework.response import Response
from rest_framework.views import APIView

from backups import queries
from backups.api import serializers as s
from backups.api.errors import Conflict, Unavailable
from backups.api.permissions import IsOperator, ReadViewerWriteOperator
from backups.engine.storage import StorageError
from backups.models import Backup, BlockRun
from backups.services import backups as backup_services
from backups.validation import InvalidName, UnstorableValue

ERRORS = {
    400: OpenApiResponse(s.ErrorSerializer, description="Invalid input, by field."),
    401: OpenApiResponse(s.ErrorSerializer, description="No token, or an unknown or revoked one."),
    403: OpenApiResponse(s.ErrorSerializer, description="The token's user lacks the role."),
    404: OpenApiResponse(s.ErrorSerializer, description="No such object."),
    409: OpenApiResponse(s.ErrorSerializer, description="The name is taken."),
}
READ_ERRORS = {code: ERRORS[code] for code in (401, 403, 404)}


def _backup(pk) -> Backup:
    return get_object_or_404(Backup.objects.select_related("cluster", "storage_location"), pk=pk)


def create_from(serializer: s.OptionsSerializer, data: dict, **extra) -> Backup:
    """The service call behind "create" (a name) and "back up now" (a prefix): the same layer as
    the form and CLI decides what is saved."""
    fields = serializer.options(data)
    fields.update(extra)
    cluster = data["cluster"]
    try:
        if "name" in data:
            return backup_services.create_backup(data["name"], cluster, **fields)
        return backup_services.create_backup_now(data.get("name_prefix", "backup"), cluster, **fields)
    except backup_services.BackupExists as error:
        raise Conflict(str(error), field="name" if "name" in data else "name_prefix") from None
    except (InvalidName, UnstorableValue) as error:  # checked already; kept for a race-free answer
        raise Conflict(str(error)) from None


@extend_schema(tags=["backups"])
class BackupList(generics.ListAPIView):
    """Backups, newest first."""

    serializer_class = s.BackupSerializer
    permission_classes = [ReadViewerWriteOperator]

    def get_queryset(self):
        params = self.request.query_params
        backups = queries.backup_history(q=params.get("q", ""), phase=params.get("phase", ""))
        backups = backups.select_related("storage_location")
        if cluster := params.get("cluster"):
            backups = backups.filter(cluster__name=cluster)
        if "schedule" in params:
            backups = backups.filter(schedule_name=params["schedule"])
        return backups

    @extend_schema(
        parameters=[
            OpenApiParameter("q", str, description="Part of the name."),
            OpenApiParameter("phase", str, enum=Backup.Phase.values),
            OpenApiParameter("cluster", str, description="A cluster's name."),
            OpenApiParameter("schedule", str, description="The schedule that ran it (empty: by hand)."),
        ],
        responses={200: s.BackupSerializer(many=True), **READ_ERRORS},
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(
        request=s.BackupCreateSerializer,
        responses={201: s.BackupDetailSerializer, **ERRORS},
        description="Queue a backup with Velero's options. Refused with the problems by field "
        "when the options are invalid (nothing is saved).",
    )
    def post(self, request):
        serializer = s.BackupCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        backup = create_from(serializer, serializer.validated_data)
        return Response(s.BackupDetailSerializer(backup).data, status=status.HTTP_201_CREATED)


@extend_schema(tags=["backups"])
class BackupDetail(APIView):
    permission_classes = [ReadViewerWriteOperator]

    @extend_schema(responses={200: s.BackupDetailSerializer, **READ_ERRORS})
    def get(self, request, pk):
        return Response(s.BackupDetailSerializer(_backup(pk)).data)

    @extend_schema(
        responses={
            204: OpenApiResponse(description="Deleted, with its stored files."),
            202: OpenApiResponse(s.MessageSerializer, description="Running: cancelled first, deleted after."),
            503: OpenApiResponse(s.ErrorSerializer, description="The storage location failed; kept."),
            **READ_ERRORS,
        }
    )
    def delete(self, request, pk):
        backup = _backup(pk)
        try:
            deferred = backup_services.delete_backup(backup, by=request.user.get_username())
        except (StorageError, ValueError) as error:
            raise Unavailable(f"backup {backup.name} was not deleted: {error}") from None
        if deferred:
            return Response({"message": deferred}, status=status.HTTP_202_ACCEPTED)
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema(tags=["backups"])
class BackupBlocks(generics.ListAPIView):
    """The backup's ItemBlocks in order, with each one's state and counts."""

    serializer_class = s.BlockSerializer

    def get_queryset(self):
        backup = _backup(self.kwargs["pk"])
        return BlockRun.objects.filter(backup=backup).order_by("index")

    @extend_schema(responses={200: s.BlockSerializer(many=True), **READ_ERRORS})
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


@extend_schema(tags=["backups"])
class BackupCancel(APIView):
    permission_classes = [IsOperator]

    @extend_schema(
        request=None,
        responses={200: s.CancelResultSerializer, **READ_ERRORS},
        description="Cancel: running blocks finish their post-hooks, nothing new starts. An ended "
        "backup is left as it is (`changed` false, the message says why).",
    )
    def post(self, request, pk):
        backup = _backup(pk)
        outcome = backup_services.cancel_backup(backup, by=request.user.get_username())
        body = {"changed": outcome.changed, "message": outcome.message, "backup": _backup(pk)}
        return Response(s.CancelResultSerializer(body).data)
