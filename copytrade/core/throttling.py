"""API rate limiting per authenticated principal (the shared secret counts as one client)."""

from rest_framework.throttling import SimpleRateThrottle


class OperatorRateThrottle(SimpleRateThrottle):
    scope = "operator"

    def get_cache_key(self, request, view):
        user = getattr(request, "user", None)
        if not user or not getattr(user, "is_authenticated", False):
            return None
        ident = getattr(user, "pk", None) or getattr(user, "username", "secret")
        return self.cache_format % {"scope": self.scope, "ident": ident}
