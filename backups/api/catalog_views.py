"""What backups are made of, read-only: clusters and storage locations (no credentials)."""

from drf_spectacular.utils import extend_schema
from rest_framework import generics

from backups.api import serializers as s
from backups.api.backup_views import READ_ERRORS
from backups.models import Cluster, StorageLocation


@extend_schema(tags=["locations"], responses={200: s.LocationSerializer(many=True), **READ_ERRORS})
class LocationList(generics.ListAPIView):
    serializer_class = s.LocationSerializer
    queryset = StorageLocation.objects.order_by("name")


@extend_schema(tags=["locations"], responses={200: s.LocationSerializer, **READ_ERRORS})
class LocationDetail(generics.RetrieveAPIView):
    serializer_class = s.LocationSerializer
    queryset = StorageLocation.objects.all()


@extend_schema(tags=["clusters"], responses={200: s.ClusterSerializer(many=True), **READ_ERRORS})
class ClusterList(generics.ListAPIView):
    serializer_class = s.ClusterSerializer
    queryset = Cluster.objects.order_by("name")
