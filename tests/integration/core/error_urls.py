"""The project's URLs plus one API route that fails the way a bug would (for the error-handling tests)."""

from django.urls import path
from rest_framework.response import Response
from rest_framework.views import APIView

from copytrade.urls import urlpatterns as project_urlpatterns


class BrokenApi(APIView):
    def get(self, request):
        raise ZeroDivisionError("a bug in a view")

    def post(self, request):
        return Response({"ok": True, "echo": request.data})


urlpatterns = [path("api/test-broken", BrokenApi.as_view()), *project_urlpatterns]
