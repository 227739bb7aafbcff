"""Public pages of the accounts app (outside /api/, no operator auth), mounted at /consent/."""

from django.urls import path

from accounts import views

app_name = "consent"
urlpatterns = [
    path("<str:token>/", views.ConsentPageView.as_view(), name="page"),
]
