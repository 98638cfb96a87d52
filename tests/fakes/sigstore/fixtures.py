"""Pytest fixtures (a plugin module): the Sigstore stand-ins on loopback and their trust config.

`sigstore_stand_ins` needs the `github_oidc` fixture (tests/fakes/fixtures.py): Fulcio accepts
the ID tokens that endpoint signs.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.github_oidc import GitHubOidc
from tests.fakes.sigstore.fulcio import Fulcio
from tests.fakes.sigstore.rekor import Rekor
from tests.fakes.sigstore.trust import write_trust_config

# The product's override (src/pypi_publish/sigstore_instance.py `TRUST_CONFIG_ENV`), spelled out
# so that the fakes do not import the product.
TRUST_CONFIG_ENV = "PYPI_PUBLISH_SIGSTORE_TRUST_CONFIG"


@dataclass
class SigstoreStandIns:
    """A running Fulcio and Rekor and the client trust config that names them."""

    fulcio: Fulcio
    rekor: Rekor
    trust_config: Path

    @property
    def trusted_root(self) -> dict[str, Any]:
        root: dict[str, Any] = json.loads(self.trust_config.read_text())["trustedRoot"]
        return root

    def env(self) -> dict[str, str]:
        """The environment that points the product at the stand-ins."""
        return {TRUST_CONFIG_ENV: str(self.trust_config)}


@pytest.fixture
def sigstore_stand_ins(github_oidc: GitHubOidc,
                       tmp_path_factory: pytest.TempPathFactory) -> Iterator[SigstoreStandIns]:
    keys = {github_oidc.issuer: github_oidc.key.public_key()}
    with Fulcio(keys) as fulcio, Rekor() as rekor:
        where = tmp_path_factory.mktemp("sigstore")
        yield SigstoreStandIns(fulcio, rekor,
                               write_trust_config(where / "trust_config.json", fulcio, rekor))
