class DurationError(ValueError):
    pass
