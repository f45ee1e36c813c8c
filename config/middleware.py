from django.conf import settings
from django.http import JsonResponse

from config.api import error_body


class ApiBodySizeLimitMiddleware:
    """Refuse oversized API bodies with 413 before anything reads them.

    DRF reads the request stream directly, bypassing Django's DATA_UPLOAD_MAX_MEMORY_SIZE
    check, so the limit is enforced here from Content-Length.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path.startswith("/api/"):
            limit = settings.OFFERWISE_API_MAX_BODY_BYTES
            try:
                length = int(request.META.get("CONTENT_LENGTH") or 0)
            except ValueError:
                return JsonResponse(
                    error_body("malformed_request", "Invalid Content-Length header."), status=400
                )
            if length > limit:
                return JsonResponse(
                    error_body(
                        "payload_too_large",
                        f"The request body is {length} bytes; the limit is {limit} bytes.",
                        {"limit_bytes": limit},
                    ),
                    status=413,
                )
        return self.get_response(request)
