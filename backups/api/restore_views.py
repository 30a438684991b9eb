"""Restores: list, create (of a Completed or PartiallyFailed backup into a registered cluster),
get with progress, cancel, delete (backups.services.restores)."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import generics, status
from rest_framework.response import Response
from rest_framework.views import APIView

from backups.api import serializers as s
from backups.api.backup_views import ERRORS, READ_ERRORS
from backups.api.errors import Conflict, Unavailable
from backups.api.permissions import IsOperator, ReadViewerWriteOperator
from backups.engine.storage import StorageError
from backups.models import Restore
from backups.services import restores as restore_services
from backups.validation import InvalidName, UnstorableValue


def _restore(pk) -> Restore:
    return get_object_or_404(Restore.objects.select_related("cluster", "storage_location"), pk=pk)


@extend_schema(tags=["restores"])
class RestoreList(generics.ListAPIView):
    """Restores, newest first."""

    serializer_class = s.RestoreSerializer
    permission_classes = [ReadViewerWriteOperator]

    def get_queryset(self):
        params = self.request.query_params
        restores = Restore.objects.select_related("cluster", "storage_location").order_by("-created", "-id")
        if phase := params.get("phase"):
            restores = restores.filter(phase=phase)
        if backup := params.get("backup"):
            restores = restores.filter(backup_name=backup)
        return restores

    @extend_schema(
        parameters=[
            OpenApiParameter("phase", str, enum=Restore.Phase.values),
            OpenApiParameter("backup", str, description="The restored backup's name."),
        ],
        responses={200: s.RestoreSerializer(many=True), **READ_ERRORS},
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(
        request=s.RestoreCreateSerializer,
        responses={201: s.RestoreSerializer, **ERRORS},
        description="Restore a backup into a cluster with Velero's restore options. Refused with "
        "the problems by field when an option is invalid (nothing is saved); 409 when the backup "
        "cannot be restored or the name is taken.",
    )
    def post(self, request):
        serializer = s.RestoreCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        backup = data["backup"]
        name = data.get("name") or restore_services.default_name(backup)
        try:
            restore = restore_services.create_restore(
                name, backup, data["cluster"], user=request.user, **serializer.options(data)
            )
        except restore_services.RestoreExists as error:
            raise Conflict(str(error), field="name") from None
        except restore_services.NotRestorable as error:
            raise Conflict(str(error), field="backup") from None
        except (InvalidName, UnstorableValue) as error:
            raise Conflict(str(error)) from None
        return Response(s.RestoreSerializer(restore).data, status=status.HTTP_201_CREATED)


@extend_schema(tags=["restores"])
class RestoreDetail(APIView):
    permission_classes = [ReadViewerWriteOperator]

    @extend_schema(responses={200: s.RestoreSerializer, **READ_ERRORS})
    def get(self, request, pk):
        return Response(s.RestoreSerializer(_restore(pk)).data)

    @extend_schema(
        responses={
            204: OpenApiResponse(description="Deleted with its files (the restored objects stay)."),
            409: OpenApiResponse(s.ErrorSerializer, description="Still running: cancel it first."),
            503: OpenApiResponse(s.ErrorSerializer, description="The storage location failed; kept."),
            **READ_ERRORS,
        }
    )
    def delete(self, request, pk):
        restore = _restore(pk)
        try:
            restore_services.delete_restore(restore)
        except StorageError as error:
            raise Unavailable(f"restore {restore.name} was not deleted: {error}") from None
        except ValueError as error:
            raise Conflict(str(error)) from None
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema(tags=["restores"])
class RestoreCancel(APIView):
    permission_classes = [IsOperator]

    @extend_schema(request=None, responses={200: s.RestoreCancelSerializer, **READ_ERRORS})
    def post(self, request, pk):
        outcome = restore_services.cancel_restore(_restore(pk), by=request.user.get_username())
        body = {"changed": outcome.changed, "message": outcome.message, "restore": _restore(pk)}
        return Response(s.RestoreCancelSerializer(body).data)
