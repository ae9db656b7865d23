"""The error a refused request raises: an HTTP status and a message for the client."""

from __future__ import annotations

__all__ = ["RequestError"]


class RequestError(Exception):
    """A request the server refuses: answered with ``status`` and ``{"error": message}``.

    Args:
        status: HTTP status code (400, 404, 405, 408, 411, 413, 501 or 503).
        message: the error message sent to the client.
        headers: extra response headers, e.g. ``{"Allow": "GET, HEAD"}`` for a 405.

    Example:
        >>> e = RequestError(404, "unknown path '/x'")
        >>> e.status, e.message
        (404, "unknown path '/x'")
    """

    def __init__(self, status, message, headers=None):
        super().__init__(message)
        self.status = int(status)
        self.message = str(message)
        self.headers = dict(headers or {})
