"""Account, follower, master and vendor-login API routes (the seed's paths)."""

app_name = "accounts"
urlpatterns: list = []
