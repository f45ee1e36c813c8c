class SourceIdConverter:
    """A shop's id in a URL: 1 to 255 characters, no slash, no control characters."""

    regex = r"[^/\x00-\x1f\x7f]{1,255}"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value
