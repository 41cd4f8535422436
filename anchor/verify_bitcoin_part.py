#!/usr/bin/env python3
"""Independent check of the Bitcoin part of a Pantheon proof, written from
anchor/FORMAT-DRAFT.md alone (Python 3 standard library only).

    python3 anchor/verify_bitcoin_part.py [anchor/src/spv/example.json]

Re-derives the worked example: decodes the binary encoding, compares it with
the JSON form, verifies it at k = 1..3 and expects the documented failures.
Exits non-zero if any check fails.
"""

import hashlib
import json
import sys


class Invalid(Exception):
    """A failed link: str(e) starts with the link's name."""


def h2(b: bytes) -> bytes:
    return hashlib.sha256(hashlib.sha256(b).digest()).digest()


MAX_TX, MAX_BRANCH, MAX_HEADERS = 100_000, 32, 2016

POW_LIMIT = {
    "main": 0x00000000FFFF << 208,
    "test": 0x00000000FFFF << 208,
    "testnet4": 0x00000000FFFF << 208,
    "signet": 0x00000377AE << 216,
    "regtest": 0x7FFFFF << 232,
}


def decode_part(b: bytes) -> dict:
    """A.5.1: the big-endian wrapper."""
    if len(b) > 1 + 4 + MAX_TX + 4 + 2 + 32 * MAX_BRANCH + 2 + 80 * MAX_HEADERS:
        raise ValueError("oversize")
    pos = 0

    def take(n):
        nonlocal pos
        if pos + n > len(b):
            raise ValueError("truncated")
        out = b[pos:pos + n]
        pos += n
        return out

    if take(1) != b"\x01":
        raise ValueError("version")
    n = int.from_bytes(take(4), "big")
    if n > MAX_TX:
        raise ValueError("raw_tx too long")
    raw_tx = take(n)
    tx_index = int.from_bytes(take(4), "big")
    n = int.from_bytes(take(2), "big")
    if n > MAX_BRANCH:
        raise ValueError("branch too long")
    branch = [take(32) for _ in range(n)]
    n = int.from_bytes(take(2), "big")
    if n > MAX_HEADERS:
        raise ValueError("too many headers")
    headers = [take(80) for _ in range(n)]
    if pos != len(b):
        raise ValueError("trailing bytes")
    return {"raw_tx": raw_tx, "tx_index": tx_index, "branch": branch, "headers": headers}


def from_json(j: dict) -> dict:
    """A.5.2."""
    if set(j) != {"raw_tx", "tx_index", "branch", "headers"}:
        raise ValueError("fields")
    part = {
        "raw_tx": bytes.fromhex(j["raw_tx"]),
        "tx_index": int(j["tx_index"]),
        "branch": [bytes.fromhex(x) for x in j["branch"]],
        "headers": [bytes.fromhex(x) for x in j["headers"]],
    }
    if any(len(x) != 32 for x in part["branch"]) or any(len(x) != 80 for x in part["headers"]):
        raise ValueError("sizes")
    return part


def parse_tx_outputs(raw: bytes) -> list:
    """A.6.1 step 3: strict legacy parse; returns [(value, script)]."""
    pos = 0

    def take(n):
        nonlocal pos
        if pos + n > len(raw):
            raise Invalid("transaction: does not decode (truncated)")
        out = raw[pos:pos + n]
        pos += n
        return out

    def compact():
        first = take(1)[0]
        if first < 0xFD:
            return first
        width, minimum = {0xFD: (2, 0xFD), 0xFE: (4, 0x10000), 0xFF: (8, 0x100000000)}[first]
        value = int.from_bytes(take(width), "little")
        if value < minimum:
            raise Invalid("transaction: does not decode (non-minimal CompactSize)")
        return value

    take(4)
    n_in = compact()
    if n_in == 0:
        raise Invalid("transaction: not the canonical serialization without witness")
    for _ in range(n_in):
        take(36)
        take(compact())
        take(4)
    outputs = []
    for _ in range(compact()):
        value = int.from_bytes(take(8), "little")
        outputs.append((value, take(compact())))
    take(4)
    if pos != len(raw):
        raise Invalid("transaction: does not decode (trailing bytes)")
    return outputs


def target_from_bits(bits: int) -> int:
    e, m = bits >> 24, bits & 0x007FFFFF
    if m != 0 and bits & 0x00800000:
        raise ValueError("negative")
    if m != 0 and (e > 34 or (m > 0xFF and e > 33) or (m > 0xFFFF and e > 32)):
        raise ValueError("overflow")
    target = m >> (8 * (3 - e)) if e <= 3 else m << (8 * (e - 3))
    if target == 0:
        raise ValueError("zero")
    return target


def verify(part: dict, commitment: bytes, chain: str, k: int) -> bytes:
    """A.6: returns the txid (internal order) or raises Invalid."""
    raw = part["raw_tx"]
    if len(raw) > MAX_TX:
        raise Invalid("transaction: too large")
    if len(raw) == 64:
        raise Invalid("transaction: 64-byte transactions are refused")
    outputs = parse_tx_outputs(raw)
    txid = h2(raw)

    op_returns = [(v, s) for v, s in outputs if s[:1] == b"\x6a"]
    if not op_returns:
        raise Invalid("commitment: no OP_RETURN output")
    if len(op_returns) > 1:
        raise Invalid("commitment: several OP_RETURN outputs")
    value, script = op_returns[0]
    if len(script) != 39 or script[:2] != b"\x6a\x25":
        raise Invalid("commitment: not OP_RETURN followed by one 37-byte push")
    if script[2:6] != b"PNTH":
        raise Invalid("commitment: bad magic")
    if script[6] != 1:
        raise Invalid("commitment: unsupported version")
    if value != 0:
        raise Invalid("commitment: OP_RETURN output carries a value")
    if script[7:] != commitment:
        raise Invalid("commitment: wrong commitment")

    if not part["headers"]:
        raise Invalid("confirmations: 0 headers")
    branch, index = part["branch"], part["tx_index"]
    if len(branch) > 32 or (len(branch) < 32 and index >> len(branch)):
        raise Invalid("merkle: index or depth out of range")
    node = txid
    for i, s in enumerate(branch):
        if (index >> i) & 1:
            if s == node:
                raise Invalid("merkle: right child equals its sibling")
            node = h2(s + node)
        else:
            node = h2(node + s)
    if node != part["headers"][0][36:68]:
        raise Invalid("merkle: root mismatch")

    if len(part["headers"]) > MAX_HEADERS:
        raise Invalid("headers: too many")
    prev = None
    for i, header in enumerate(part["headers"]):
        bits = int.from_bytes(header[72:76], "little")
        try:
            target = target_from_bits(bits)
        except ValueError as e:
            raise Invalid(f"header {i}: invalid nBits ({e})") from None
        if target > POW_LIMIT[chain]:
            raise Invalid(f"header {i}: target above the pow limit")
        hash_i = h2(header)
        if int.from_bytes(hash_i, "little") > target:
            raise Invalid(f"header {i}: no proof of work")
        if prev is not None and header[4:36] != prev:
            raise Invalid(f"header {i}: broken link")
        prev = hash_i
    if len(part["headers"]) < k:
        raise Invalid("confirmations: not enough headers")
    return txid


def main() -> int:
    path = sys.argv[1] if len(sys.argv) > 1 else "anchor/src/spv/example.json"
    doc = json.load(open(path))
    failures = 0

    def check(name, ok):
        nonlocal failures
        print(("ok   " if ok else "FAIL ") + name)
        failures += not ok

    part = decode_part(bytes.fromhex(doc["part_bytes"]))
    check("binary encoding decodes and equals the JSON form", part == from_json(doc["part"]))
    commitment = bytes.fromhex(doc["commitment"])
    for k in (1, 2, 3):
        txid = verify(part, commitment, "regtest", k)
        check(f"verifies at k={k}", txid[::-1].hex() == doc["txid"])
    check("block hash", h2(part["headers"][0])[::-1].hex() == doc["block_hash"])

    def fails(name, p, prefix, chain="regtest", k=1, c=commitment):
        try:
            verify(p, c, chain, k)
            check(name, False)
        except Invalid as e:
            check(f"{name}: {e}", str(e).startswith(prefix))

    fails("k=4", part, "confirmations", k=4)
    fails("mainnet", part, "header 0: target above", chain="main")
    fails("duplicated position", dict(part, tx_index=3), "merkle: right child")
    fails("wrong commitment", part, "commitment: wrong", c=bytes(32))
    fails("64-byte transaction", dict(part, raw_tx=bytes(64)), "transaction: 64-byte")
    for i in range(len(part["headers"])):
        headers = list(part["headers"])
        h = bytearray(headers[i])
        h[79] ^= 0x80
        headers[i] = bytes(h)
        fails(f"flipped nonce bit in header {i}", dict(part, headers=headers), "header")
    print("all checks passed" if failures == 0 else f"{failures} check(s) failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
