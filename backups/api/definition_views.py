"""Definitions (named options, an optional schedule) and schedules: list, create, get, change,
delete, back up now, pause, resume."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from django.utils import timezone
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import generics, status
from rest_framework.response import Response
from rest_framework.views import APIView

from backups import queries
from backups.api import serializers as s
from backups.api.backup_views import ERRORS, READ_ERRORS
from backups.api.errors import Conflict
from backups.api.permissions import IsOperator, ReadViewerWriteOperator
from backups.models import BackupDefinition
from backups.services import backups as backup_services
from backups.services import definitions, schedules


def _definition(pk) -> BackupDefinition:
    """The definition with its schedule state and last backup, as the schedules page shows it."""
    definition = get_object_or_404(queries.definitions_with_last_backup(), pk=pk)
    definition.schedule_state = schedules.state_of(definition)
    return definition


def _as_input(definition: BackupDefinition) -> dict:
    """The definition as a write body: what a PATCH is laid over."""
    options = s.OptionsOut(definition).data
    return {
        **options,
        "name": definition.name,
        "cluster": definition.cluster.name,
        "schedule": definition.schedule,
        "paused": definition.paused,
        "skip_immediately": definition.skip_immediately,
    }


def _save(data: dict, user, definition: BackupDefinition | None = None) -> BackupDefinition:
    serializer = s.DefinitionWriteSerializer(data=data)
    serializer.is_valid(raise_exception=True)
    valid = serializer.validated_data
    fields = serializer.options(valid)
    location = fields.pop("storage_location")
    fields["storage_location_id"] = location.pk if location else None
    try:
        saved = definitions.definition_save(
            name=valid["name"],
            cluster=valid["cluster"],
            fields=fields,
            schedule=valid.get("schedule", ""),
            paused=valid.get("paused", False),
            skip_immediately=valid.get("skip_immediately", False),
            user=user,
            definition=definition,
        )
    except definitions.DefinitionExists as error:
        raise Conflict(str(error), field="name") from None
    return _definition(saved.pk)


@extend_schema(tags=["definitions"])
class DefinitionList(generics.ListAPIView):
    serializer_class = s.DefinitionSerializer
    permission_classes = [ReadViewerWriteOperator]

    def get_queryset(self):
        return queries.definitions_with_last_backup().select_related("storage_location").order_by("name")

    def paginate_queryset(self, queryset):
        page = super().paginate_queryset(queryset)
        now = timezone.now()
        for definition in page or []:
            definition.schedule_state = schedules.state_of(definition, now)
        return page

    @extend_schema(responses={200: s.DefinitionSerializer(many=True), **READ_ERRORS})
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(request=s.DefinitionWriteSerializer, responses={201: s.DefinitionSerializer, **ERRORS})
    def post(self, request):
        definition = _save(request.data, request.user)
        return Response(s.DefinitionSerializer(definition).data, status=status.HTTP_201_CREATED)


@extend_schema(tags=["definitions"])
class ScheduleList(DefinitionList):
    """Definitions that have a schedule, with the next run and the backup a run waits for."""

    def get_queryset(self):
        return super().get_queryset().exclude(schedule="")

    @extend_schema(responses={200: s.DefinitionSerializer(many=True), **READ_ERRORS})
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(exclude=True)
    def post(self, request):
        return self.http_method_not_allowed(request)


@extend_schema(tags=["definitions"])
class DefinitionDetail(APIView):
    permission_classes = [ReadViewerWriteOperator]

    @extend_schema(responses={200: s.DefinitionSerializer, **READ_ERRORS})
    def get(self, request, pk):
        return Response(s.DefinitionSerializer(_definition(pk)).data)

    @extend_schema(
        request=s.DefinitionWriteSerializer,
        responses={200: s.DefinitionSerializer, **ERRORS},
        description="Change some fields; the others keep their values. Checked whole, as the form does.",
    )
    def patch(self, request, pk):
        definition = _definition(pk)
        if not isinstance(request.data, dict):
            return self.put(request, pk)  # the serializer names the problem
        definition = _save({**_as_input(definition), **request.data}, request.user, definition)
        return Response(s.DefinitionSerializer(definition).data)

    @extend_schema(request=s.DefinitionWriteSerializer, responses={200: s.DefinitionSerializer, **ERRORS})
    def put(self, request, pk):
        definition = _save(request.data, request.user, _definition(pk))
        return Response(s.DefinitionSerializer(definition).data)

    @extend_schema(
        responses={204: OpenApiResponse(description="Deleted; its backups are kept."), **READ_ERRORS}
    )
    def delete(self, request, pk):
        definitions.definition_delete(_definition(pk))
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema(tags=["definitions"])
class DefinitionBackupNow(APIView):
    permission_classes = [IsOperator]

    @extend_schema(
        request=None,
        responses={201: s.BackupDetailSerializer, **READ_ERRORS},
        description="Back up now with the definition: a backup named NAME-YYYYmmddHHMMSS, labelled "
        "with the schedule when it has one (FailedValidation, with the reasons, if the options "
        "no longer pass).",
    )
    def post(self, request, pk):
        backup = backup_services.back_up_definition(_definition(pk))
        return Response(s.BackupDetailSerializer(backup).data, status=status.HTTP_201_CREATED)


@extend_schema(tags=["definitions"])
class DefinitionPause(APIView):
    permission_classes = [IsOperator]
    resume = False

    @extend_schema(request=None, responses={200: s.DefinitionSerializer, **READ_ERRORS})
    def post(self, request, pk):
        definition = _definition(pk)
        (schedules.resume if self.resume else schedules.pause)(definition)
        return Response(s.DefinitionSerializer(_definition(pk)).data)


class DefinitionResume(DefinitionPause):
    resume = True
