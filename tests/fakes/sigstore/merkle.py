"""An RFC 6962 Merkle tree: leaf and node hashes, the root, and audit paths (inclusion proofs).

Rekor's log is a Trillian tree with these hashes (RFC 6962 2.1); the client checks a proof with
`sigstore/_internal/merkle.py` `verify_merkle_inclusion`, which expects the audit path of
RFC 6962 2.1.1 ordered from the leaf upwards.
"""

from __future__ import annotations

import hashlib


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(size: int) -> int:
    """The largest power of two smaller than `size` (RFC 6962's k)."""
    k = 1
    while k * 2 < size:
        k *= 2
    return k


def root(leaves: list[bytes]) -> bytes:
    """MTH(D[n]) over leaf hashes."""
    if not leaves:
        return hashlib.sha256(b"").digest()
    if len(leaves) == 1:
        return leaves[0]
    k = _split(len(leaves))
    return node_hash(root(leaves[:k]), root(leaves[k:]))


def audit_path(index: int, leaves: list[bytes]) -> list[bytes]:
    """PATH(m, D[n]): the sibling hashes from leaf `index` up to the root."""
    if len(leaves) <= 1:
        return []
    k = _split(len(leaves))
    if index < k:
        return [*audit_path(index, leaves[:k]), root(leaves[k:])]
    return [*audit_path(index - k, leaves[k:]), root(leaves[:k])]
