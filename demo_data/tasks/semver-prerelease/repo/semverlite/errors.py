class InvalidVersion(ValueError):
    """Raised when a string is not a valid semantic version."""

    def __init__(self, text: str, reason: str = "") -> None:
        self.text = text
        message = f"invalid semantic version: {text!r}"
        if reason:
            message += f" ({reason})"
        super().__init__(message)
