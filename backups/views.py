from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from backups.models import Cluster


@login_required
def home(request):
    return render(request, "backups/home.html", {"clusters": Cluster.objects.all()})
