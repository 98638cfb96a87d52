"""The index's listing, asked in the background while the checks run (imported before them)."""

from __future__ import annotations

import threading

from . import auth
from .config import Config
from .context import Context
from .distribution import Release
from .http import Transport
from .listing import IndexFacts, Listing, fetch_listing
from .retry import policy_from_env

# How long a run that stopped before its upload waits for a listing it will not use (the thread
# is a daemon; its requests are bounded, but their retries must not delay a failed check).
CLOSE_WAIT = 1.0


class EarlyListing:
    """The index's listing of the project, asked in the background while the checks run.

    Reading what the index has is read-only, so it need not wait for the checks (nothing is
    uploaded before they all pass) nor, with Trusted Publishing, for the token exchange:
    Warehouse's simple API is public. With a token, the listing is asked with it, as before.
    The run's one connection pool is opened here, so the uploads reuse the warm connection.
    """

    def __init__(self, config: Config, context: Context, release: Release,
                 credentials: tuple[str, str] | None) -> None:
        self.policy = policy_from_env(context.env)
        self.transport = Transport(context.env, pool_size=config.parallel)
        self.facts = IndexFacts()
        self.credentials = credentials
        self._listing: Listing | None = None
        self._used = False
        self._closing = False
        self._thread = threading.Thread(
            target=self._fetch, args=(config, str(release.project)), name="listing", daemon=True)
        self._thread.start()

    def _fetch(self, config: Config, project: str) -> None:
        # fetch_listing never raises for the index's sake; its requests are bounded by the policy.
        try:
            self._listing = fetch_listing(config.index, project, self.transport.session,
                                          self.policy, self.credentials, self.facts)
        except Exception:
            if not self._closing:
                raise  # a bug: reported by the thread; the upload stage asks again
            # The run stopped before the upload (a check failed) and closed the pool under us.

    def result(self) -> Listing | None:
        """The listing (None if the thread died of a bug: the upload stage then asks again)."""
        self._used = True
        self._thread.join()
        return self._listing

    def close(self) -> None:
        """Close the pool; a run that stopped before its upload waits briefly, not for retries."""
        self._closing = True
        self._thread.join(timeout=None if self._used else CLOSE_WAIT)
        self.transport.close()


def start_listing(config: Config, context: Context, release: Release,
                  planned: auth.Plan) -> EarlyListing | None:
    """Start the listing now when its credentials are already known; None when it must wait."""
    token = auth.chosen_token(config) if planned.method == "token" else None
    if token is not None:
        return EarlyListing(config, context, release, (token.user, token.secret))
    if planned.method == "trusted-publishing" and config.index.is_warehouse:
        return EarlyListing(config, context, release, None)
    return None
