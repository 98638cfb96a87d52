"""The one exception family: every expected failure carries what happened and what to do."""

from __future__ import annotations


class PublishError(Exception):
    """An expected failure. `message` says what happened and why; `hint` says what to do."""

    title = "Publish failed"

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message}\n{self.hint}" if self.hint else self.message


class ConfigError(PublishError):
    """A user input (action input, CLI flag, environment variable) is invalid."""

    title = "Invalid input"


class DistributionError(PublishError):
    """The distributions to publish are missing, inconsistent or unreadable."""

    title = "Bad distributions"


class BuildError(PublishError):
    """Building the sdist or wheel failed."""

    title = "Build failed"


class PreflightError(PublishError):
    """A check that runs before any upload failed; nothing was uploaded."""

    title = "Check failed"


class AuthError(PublishError):
    """No usable credentials, or the index refused them."""

    title = "Authentication failed"


class TrustedPublishingError(AuthError):
    """The OIDC token exchange failed."""

    title = "Trusted Publishing failed"


class UploadError(PublishError):
    """The index refused a file or could not be reached."""

    title = "Upload failed"


class AttestationError(PublishError):
    """Signing or verifying an attestation failed; nothing was uploaded."""

    title = "Attestation failed"
