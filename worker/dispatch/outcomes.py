"""How a delivery attempt ended, as exceptions a destination raises (success is a return value)."""

from __future__ import annotations


class DeliveryError(Exception):
    """Base: the attempt failed."""


class Retry(DeliveryError):
    """Transient (network, 5xx, 408, 429): try again, not before ``after`` seconds if given."""

    def __init__(self, message: str, after: float | None = None) -> None:
        super().__init__(message)
        self.after = after


class Permanent(DeliveryError):
    """The destination refused for good (4xx other than 408/429, bad configuration): dead at once."""


class WaitForConfig(DeliveryError):
    """An environment variable the destination needs is not set: record ENV.KEY_MISSING and wait.

    The job is not dropped and the wait does not spend a delivery attempt."""

    def __init__(self, variable: str, destination: str) -> None:
        super().__init__(f"{variable} is not set in this environment (needed by destination {destination})")
        self.variable = variable
