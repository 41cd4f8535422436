#!/usr/bin/env python3
"""Independent verifier of Pantheon's test vectors (docs/vectors/*.json).

Written from docs/FORMATS.md, not from the Rust code. Everything is
re-derived from raw fields: keys from seeds, ids from keys, transactions
parsed field by field and re-encoded, signing messages rebuilt and ML-DSA-65
signatures verified with their context strings, RFC 9162 roots and proofs
recomputed and verified, state keys/values/root recomputed and state proofs
verified, the genesis header and hashes rebuilt from the JSON genesis, the
block hash from the header fields, and the commit certificate verified.

Usage:  python3 verify_vectors.py [DIR]      (DIR defaults to this file's directory)

Requires Python >= 3.11 and the `cryptography` package >= 48 (ML-DSA-65).
Prints one line per check; exits 1 if any check fails.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import sys
import traceback

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import mldsa

# --------------------------------------------------------------------------
# Constants (FORMATS.md sections 2-12)
# --------------------------------------------------------------------------

ZERO = bytes(32)
PUBLIC_KEY_LEN = 1952
SIGNATURE_LEN = 3309
SEED_LEN = 32
UNITS_PER_PAN = 1_000_000_000
SUPPLY = 5_000_000_000 * UNITS_PER_PAN
U64_MAX = 2**64 - 1

TAG_KEY_ID = b"pantheon/v1/key-id"
TAG_BLOCK_HEADER = b"pantheon/v1/block-header"
TAG_GENESIS = b"pantheon/v1/genesis"
TAG_GENESIS_ALLOCATIONS = b"pantheon/v1/genesis-allocations"
TAG_STATE_KEY = b"pantheon/v1/state-key"
TAG_STATE_VALUE = b"pantheon/v1/state-value"

CTX_REGISTER = b"pantheon/v1/register-operator"
CTX_SUBMIT = b"pantheon/v1/submit-root"
CTX_TRANSFER = b"pantheon/v1/transfer"
CTX_VOTE = b"pantheon/v1/vote"

KIND_REGISTER, KIND_SUBMIT, KIND_TRANSFER = 1, 2, 3
KIND_CONTEXT = {KIND_REGISTER: CTX_REGISTER, KIND_SUBMIT: CTX_SUBMIT, KIND_TRANSFER: CTX_TRANSFER}
VOTE_PREVOTE, VOTE_PRECOMMIT = 1, 2

MAX_LABEL_LEN = 64
MAX_CHAIN_ID_LEN = 32
MAX_VALIDATORS = 128
MAX_ALLOCATIONS = 1 << 20
MAX_BLOCK_TXS = 100_000
MAX_TX_SIZE = 2 + PUBLIC_KEY_LEN + 8 + 32 + 8 + SIGNATURE_LEN  # 5311
ACCOUNT_MAX = 99
HEADER_LEN = 159
VOTE_MAX = 79
CERT_MAX = 47 + MAX_VALIDATORS * (2 + SIGNATURE_LEN)
GENESIS_HEADER_MAX = 1 + 1 + MAX_CHAIN_ID_LEN + 8 + 28 + 2 + MAX_VALIDATORS * (PUBLIC_KEY_LEN + 8) + 32
MAX_TOTAL_POWER = U64_MAX // 3

# PKCS#8 seed form (FORMATS.md 3.4): the 22 bytes before the seed.
PKCS8_SEED_PREFIX = bytes.fromhex("3034020100300b0609608648016503040312042280" "20")


# --------------------------------------------------------------------------
# Reporting
# --------------------------------------------------------------------------

class Report:
    def __init__(self) -> None:
        self.passed = 0
        self.failed = 0

    def check(self, name: str, ok: bool, detail: str = "") -> bool:
        if ok:
            self.passed += 1
            print(f"ok    {name}")
        else:
            self.failed += 1
            print(f"FAIL  {name}" + (f": {detail}" if detail else ""))
        return ok

    def eq(self, name: str, got, want) -> bool:
        g = got.hex() if isinstance(got, (bytes, bytearray)) else got
        w = want.hex() if isinstance(want, (bytes, bytearray)) else want
        if g == w:
            return self.check(name, True)
        gs, ws = str(g), str(w)
        if len(gs) > 80:
            gs = gs[:77] + "..."
        if len(ws) > 80:
            ws = ws[:77] + "..."
        return self.check(name, False, f"got {gs}, want {ws}")

    def rejects(self, name: str, fn, *args) -> bool:
        try:
            fn(*args)
        except DecodeError as e:
            return self.check(name, True, str(e))
        return self.check(name, False, "accepted")


R = Report()


# --------------------------------------------------------------------------
# Hashing (FORMATS.md 2)
# --------------------------------------------------------------------------

def sha256(*parts: bytes) -> bytes:
    h = hashlib.sha256()
    for p in parts:
        h.update(p)
    return h.digest()


def tagged(tag: bytes, data: bytes) -> bytes:
    assert b"\x00" not in tag
    return sha256(tag, b"\x00", data)


def key_id(public_key: bytes) -> bytes:
    assert len(public_key) == PUBLIC_KEY_LEN
    return tagged(TAG_KEY_ID, public_key)


def h2b(text: str, n: int | None = None) -> bytes:
    b = bytes.fromhex(text)
    if n is not None and len(b) != n:
        raise ValueError(f"expected {n} bytes, got {len(b)}")
    return b


def be(n: int, width: int) -> bytes:
    return n.to_bytes(width, "big")


# --------------------------------------------------------------------------
# Strict decoder (FORMATS.md 1.8)
# --------------------------------------------------------------------------

class DecodeError(Exception):
    pass


class Reader:
    def __init__(self, data: bytes) -> None:
        self.data = bytes(data)
        self.pos = 0

    def take(self, n: int) -> bytes:
        if len(self.data) - self.pos < n:
            raise DecodeError(f"truncated at offset {self.pos}: need {n} bytes")
        out = self.data[self.pos:self.pos + n]
        self.pos += n
        return out

    def u8(self) -> int:
        return self.take(1)[0]

    def u16(self) -> int:
        return int.from_bytes(self.take(2), "big")

    def u32(self) -> int:
        return int.from_bytes(self.take(4), "big")

    def u64(self) -> int:
        return int.from_bytes(self.take(8), "big")

    def version(self, what: str, expected: int = 1) -> None:
        v = self.u8()
        if v != expected:
            raise DecodeError(f"{what}: unsupported version {v}")

    def count(self, field: str, width: int, maximum: int) -> int:
        n = self.u16() if width == 2 else self.u32()
        if n > maximum:
            raise DecodeError(f"{field}: count {n} > {maximum}")
        return n

    def short_bytes(self, field: str, maximum: int) -> bytes:
        n = self.u8()
        if n > maximum:
            raise DecodeError(f"{field}: length {n} > {maximum}")
        return self.take(n)

    def option(self, field: str) -> bool:
        t = self.u8()
        if t not in (0, 1):
            raise DecodeError(f"{field}: invalid option tag {t}")
        return t == 1

    def finish(self) -> None:
        if self.pos != len(self.data):
            raise DecodeError(f"{len(self.data) - self.pos} trailing bytes")


def all_prefixes_rejected(decode, data: bytes) -> bool:
    for cut in range(len(data)):
        try:
            decode(data[:cut])
        except DecodeError:
            continue
        return False
    return True


def decode_exact(data: bytes, max_size: int, body):
    if len(data) > max_size:
        raise DecodeError(f"oversize: {len(data)} > {max_size}")
    r = Reader(data)
    value = body(r)
    r.finish()
    return value


# --------------------------------------------------------------------------
# ML-DSA-65 (FORMATS.md 3)
# --------------------------------------------------------------------------

def mldsa_public_key(seed: bytes) -> bytes:
    assert len(seed) == SEED_LEN
    return mldsa.MLDSA65PrivateKey.from_seed_bytes(seed).public_key().public_bytes_raw()


def mldsa_verify(public_key: bytes, message: bytes, signature: bytes, context: bytes) -> bool:
    if len(public_key) != PUBLIC_KEY_LEN or len(signature) != SIGNATURE_LEN:
        return False
    pk = mldsa.MLDSA65PublicKey.from_public_bytes(public_key)
    try:
        pk.verify(signature, message, context)
        return True
    except InvalidSignature:
        return False


def pkcs8_pem_from_seed(seed: bytes) -> str:
    der = PKCS8_SEED_PREFIX + seed
    b64 = base64.b64encode(der).decode()
    lines = [b64[i:i + 64] for i in range(0, len(b64), 64)]
    return "-----BEGIN PRIVATE KEY-----\n" + "".join(l + "\n" for l in lines) + "-----END PRIVATE KEY-----\n"


def seed_from_pkcs8_pem(pem: str) -> bytes:
    lines = pem.strip("\n").split("\n")
    if lines[0] != "-----BEGIN PRIVATE KEY-----" or lines[-1] != "-----END PRIVATE KEY-----":
        raise DecodeError("not a PRIVATE KEY PEM")
    der = base64.b64decode("".join(lines[1:-1]), validate=True)
    if len(der) != 54 or der[:22] != PKCS8_SEED_PREFIX:
        raise DecodeError("not the ML-DSA-65 PKCS#8 seed form")
    return der[22:]


# --------------------------------------------------------------------------
# Transactions (FORMATS.md 5)
# --------------------------------------------------------------------------

def encode_unsigned(tx: dict) -> bytes:
    kind = tx["kind"]
    out = bytearray([1, kind])
    if kind == KIND_REGISTER:
        assert len(tx["key"]) == PUBLIC_KEY_LEN
        out += tx["key"] + be(tx["nonce"], 8)
    elif kind == KIND_SUBMIT:
        label = tx["label"].encode("utf-8")
        assert len(label) <= MAX_LABEL_LEN
        out += tx["operator"] + be(tx["seq"], 8) + tx["prev"] + tx["root"]
        out += bytes([len(label)]) + label
        if tx["record_count"] is None:
            out += b"\x00"
        else:
            out += b"\x01" + be(tx["record_count"], 8)
    elif kind == KIND_TRANSFER:
        assert len(tx["from_key"]) == PUBLIC_KEY_LEN
        out += tx["from_key"] + be(tx["nonce"], 8) + tx["to"] + be(tx["amount"], 8)
    else:
        raise ValueError(kind)
    return bytes(out)


def decode_tx(data: bytes) -> dict:
    def body(r: Reader) -> dict:
        r.version("transaction")
        kind = r.u8()
        tx: dict = {"kind": kind}
        if kind == KIND_REGISTER:
            tx["key"] = r.take(PUBLIC_KEY_LEN)
            tx["nonce"] = r.u64()
        elif kind == KIND_SUBMIT:
            tx["operator"] = r.take(32)
            tx["seq"] = r.u64()
            tx["prev"] = r.take(32)
            tx["root"] = r.take(32)
            label = r.short_bytes("label", MAX_LABEL_LEN)
            try:
                tx["label"] = label.decode("utf-8", errors="strict")
            except UnicodeDecodeError as e:
                raise DecodeError("label: not UTF-8") from e
            tx["record_count"] = r.u64() if r.option("record_count") else None
        elif kind == KIND_TRANSFER:
            tx["from_key"] = r.take(PUBLIC_KEY_LEN)
            tx["nonce"] = r.u64()
            tx["to"] = r.take(32)
            tx["amount"] = r.u64()
        else:
            raise DecodeError(f"kind: invalid tag {kind}")
        tx["signature"] = r.take(SIGNATURE_LEN)
        return tx

    return decode_exact(data, MAX_TX_SIZE, body)


def tx_id(tx_bytes: bytes) -> bytes:
    return sha256(b"\x00", tx_bytes)


# --------------------------------------------------------------------------
# State (FORMATS.md 6)
# --------------------------------------------------------------------------

def encode_account(a: dict) -> bytes:
    out = bytearray([1]) + be(a["balance"], 8) + be(a["nonce"], 8)
    op = a["operator"]
    if op is None:
        out += b"\x00"
    else:
        out += b"\x01" + be(op["next_seq"], 8)
        last = op["last"]
        if last is None:
            out += b"\x00"
        else:
            out += b"\x01" + last["id"] + last["root"] + be(last["height"], 8)
    return bytes(out)


def decode_account(data: bytes) -> dict:
    def body(r: Reader) -> dict:
        r.version("account")
        a = {"balance": r.u64(), "nonce": r.u64(), "operator": None}
        if r.option("operator"):
            op = {"next_seq": r.u64(), "last": None}
            if r.option("last"):
                op["last"] = {"id": r.take(32), "root": r.take(32), "height": r.u64()}
            a["operator"] = op
        return a

    return decode_exact(data, ACCOUNT_MAX, body)


def account_from_json(j: dict) -> dict:
    op = j["operator"]
    if op is not None:
        last = op["last"]
        if last is not None:
            last = {"id": h2b(last["id"], 32), "root": h2b(last["root"], 32), "height": last["height"]}
        op = {"next_seq": op["next_seq"], "last": last}
    return {"balance": parse_units(j["balance"]), "nonce": j["nonce"], "operator": op}


def state_key_account(account: bytes) -> bytes:
    return tagged(TAG_STATE_KEY, b"\x01" + account)


STATE_KEY_PARAMS = tagged(TAG_STATE_KEY, b"\x02")
STATE_KEY_VALIDATORS = tagged(TAG_STATE_KEY, b"\x03")


def value_hash(value: bytes) -> bytes:
    return tagged(TAG_STATE_VALUE, value)


# --------------------------------------------------------------------------
# Sparse Merkle tree (FORMATS.md 7)
# --------------------------------------------------------------------------

def smt_leaf(k: bytes, v: bytes) -> bytes:
    return sha256(b"\x10", k, v)


def smt_node(left: bytes, right: bytes) -> bytes:
    return sha256(b"\x11", left, right)


def bit(k: bytes, d: int) -> int:
    return (k[d // 8] >> (7 - d % 8)) & 1


def smt_root(pairs: list[tuple[bytes, bytes]], d: int = 0) -> bytes:
    if not pairs:
        return ZERO
    if len(pairs) == 1:
        return smt_leaf(*pairs[0])
    left = [p for p in pairs if bit(p[0], d) == 0]
    right = [p for p in pairs if bit(p[0], d) == 1]
    return smt_node(smt_root(left, d + 1), smt_root(right, d + 1))


def smt_prove(pairs: list[tuple[bytes, bytes]], key: bytes) -> dict:
    siblings: list[bytes] = []
    d = 0
    current = pairs
    while True:
        if not current:
            return {"siblings": siblings, "leaf": None}
        if len(current) == 1:
            return {"siblings": siblings, "leaf": current[0]}
        side = bit(key, d)
        same = [p for p in current if bit(p[0], d) == side]
        other = [p for p in current if bit(p[0], d) != side]
        siblings.append(smt_root(other, d + 1))
        current = same
        d += 1


def smt_verify(root: bytes, key: bytes, value: bytes | None, proof: dict) -> bool:
    siblings = proof["siblings"]
    leaf = proof["leaf"]
    n = len(siblings)
    if n > 256:
        return False
    if value is not None:
        if leaf is None or leaf[0] != key or leaf[1] != value:
            return False
        h = smt_leaf(key, value)
    elif leaf is None:
        h = ZERO
    else:
        if leaf[0] == key or any(bit(leaf[0], d) != bit(key, d) for d in range(n)):
            return False
        h = smt_leaf(*leaf)
    for d in range(n - 1, -1, -1):
        h = smt_node(siblings[d], h) if bit(key, d) else smt_node(h, siblings[d])
    return h == root


def proof_from_json(j: dict) -> dict:
    leaf = j["leaf"]
    return {
        "siblings": [h2b(s, 32) for s in j["siblings"]],
        "leaf": None if leaf is None else (h2b(leaf["key"], 32), h2b(leaf["value_hash"], 32)),
    }


# --------------------------------------------------------------------------
# RFC 9162 log (FORMATS.md 8)
# --------------------------------------------------------------------------

def log_leaf(data: bytes) -> bytes:
    return sha256(b"\x00", data)


def log_node(left: bytes, right: bytes) -> bytes:
    return sha256(b"\x01", left, right)


def split(n: int) -> int:
    """Largest power of two strictly less than n (n >= 2)."""
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def mth(leaf_hashes: list[bytes]) -> bytes:
    n = len(leaf_hashes)
    if n == 0:
        return sha256()
    if n == 1:
        return leaf_hashes[0]
    k = split(n)
    return log_node(mth(leaf_hashes[:k]), mth(leaf_hashes[k:]))


def rfc_path(m: int, d: list[bytes]) -> list[bytes]:
    n = len(d)
    if n <= 1:
        return []
    k = split(n)
    if m < k:
        return rfc_path(m, d[:k]) + [mth(d[k:])]
    return rfc_path(m - k, d[k:]) + [mth(d[:k])]


def rfc_subproof(m: int, d: list[bytes], b: bool) -> list[bytes]:
    n = len(d)
    if m == n:
        return [] if b else [mth(d)]
    k = split(n)
    if m <= k:
        return rfc_subproof(m, d[:k], b) + [mth(d[k:])]
    return rfc_subproof(m - k, d[k:], False) + [mth(d[:k])]


def rfc_proof(m: int, d: list[bytes]) -> list[bytes]:
    if 0 < m < len(d):
        return rfc_subproof(m, d, True)
    return []


def verify_inclusion(leaf_index: int, tree_size: int, path: list[bytes], leaf: bytes, root: bytes) -> bool:
    """RFC 9162 section 2.1.3.2."""
    if leaf_index >= tree_size:
        return False
    fn, sn, r = leaf_index, tree_size - 1, leaf
    for p in path:
        if sn == 0:
            return False
        if fn & 1 == 1 or fn == sn:
            r = log_node(p, r)
            while fn & 1 == 0 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = log_node(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def verify_consistency(m: int, n: int, path: list[bytes], old_root: bytes, new_root: bytes) -> bool:
    """RFC 9162 section 2.1.4.2, with the m == n and m == 0 cases of FORMATS.md 8.4
    (strict variant: m == 0 also requires old_root to be the empty root)."""
    if m > n:
        return False
    if m == n:
        return not path and old_root == new_root
    if m == 0:
        return not path and old_root == sha256()
    path = list(path)
    if m & (m - 1) == 0:
        path = [old_root] + path
    if not path:
        return False
    fn, sn = m - 1, n - 1
    while fn & 1 == 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 == 1 or fn == sn:
            fr = log_node(c, fr)
            sr = log_node(c, sr)
            while fn & 1 == 0 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = log_node(sr, c)
        fn >>= 1
        sn >>= 1
    return fr == old_root and sr == new_root and sn == 0


def inclusion_ots_ops(leaf_index: int, tree_size: int, path: list[bytes]) -> list[tuple]:
    """The inclusion proof as OpenTimestamps operations (FORMATS.md 13 step 3)."""
    ops: list[tuple] = []
    fn, sn = leaf_index, tree_size - 1
    for p in path:
        if fn & 1 == 1 or fn == sn:
            ops += [("prepend", b"\x01" + p), ("sha256",)]
            while fn & 1 == 0 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            ops += [("prepend", b"\x01"), ("append", p), ("sha256",)]
        fn >>= 1
        sn >>= 1
    return ops


def apply_ots(msg: bytes, ops: list[tuple]) -> bytes:
    for op in ops:
        if op[0] == "prepend":
            msg = op[1] + msg
        elif op[0] == "append":
            msg = msg + op[1]
        elif op[0] == "sha256":
            msg = sha256(msg)
        else:
            raise ValueError(op)
    return msg


# --------------------------------------------------------------------------
# Genesis (FORMATS.md 11)
# --------------------------------------------------------------------------

def parse_units(text: str) -> int:
    """Amounts in JSON: decimal string of units, digits only (FORMATS.md 4)."""
    if not isinstance(text, str) or not text.isascii() or not text.isdigit():
        raise ValueError(f"not a decimal amount string: {text!r}")
    if len(text) > 1 and text[0] == "0":
        raise ValueError(f"leading zero in amount: {text!r}")
    n = int(text)
    if n > U64_MAX:
        raise ValueError(f"amount exceeds u64: {text}")
    return n


def encode_params(p: dict) -> bytes:
    return be(p["submit_fee"], 8) + be(p["transfer_fee"], 8) + be(p["register_fee"], 8) + be(p["max_block_txs"], 4)


def decode_params(r: Reader) -> dict:
    return {"submit_fee": r.u64(), "transfer_fee": r.u64(), "register_fee": r.u64(), "max_block_txs": r.u32()}


def check_validator_set(vs: list[dict]) -> None:
    if not 1 <= len(vs) <= MAX_VALIDATORS:
        raise DecodeError("validators: need 1..=128")
    ids = [key_id(v["public_key"]) for v in vs]
    if len(set(ids)) != len(ids):
        raise DecodeError("validators: duplicate key")
    if any(v["power"] == 0 for v in vs):
        raise DecodeError("validators: zero power")
    if sum(v["power"] for v in vs) > MAX_TOTAL_POWER:
        raise DecodeError("validators: total power too large")


def encode_validators(vs: list[dict]) -> bytes:
    out = bytearray(be(len(vs), 2))
    for v in vs:
        out += v["public_key"] + be(v["power"], 8)
    return bytes(out)


def decode_validators(r: Reader) -> list[dict]:
    n = r.count("validators", 2, MAX_VALIDATORS)
    vs = [{"public_key": r.take(PUBLIC_KEY_LEN), "power": r.u64()} for _ in range(n)]
    check_validator_set(vs)
    return vs


def check_chain_id(b: bytes) -> None:
    if not 1 <= len(b) <= MAX_CHAIN_ID_LEN or any(not 0x21 <= c <= 0x7E for c in b):
        raise DecodeError("chain_id: not 1..=32 printable ASCII bytes (0x21..0x7e)")


def encode_genesis_header(g: dict) -> bytes:
    cid = g["chain_id"]
    return (b"\x01" + bytes([len(cid)]) + cid + be(g["time_ms"], 8) + encode_params(g["params"])
            + encode_validators(g["validators"]) + g["allocations_hash"])


def decode_genesis_header(data: bytes) -> dict:
    def body(r: Reader) -> dict:
        r.version("genesis")
        cid = r.short_bytes("chain_id", MAX_CHAIN_ID_LEN)
        check_chain_id(cid)
        return {"chain_id": cid, "time_ms": r.u64(), "params": decode_params(r),
                "validators": decode_validators(r), "allocations_hash": r.take(32)}

    return decode_exact(data, GENESIS_HEADER_MAX, body)


def allocations_hash(allocs: list[tuple[bytes, int]]) -> bytes:
    data = bytearray(be(len(allocs), 4))
    for account, amount in allocs:
        data += account + be(amount, 8)
    return tagged(TAG_GENESIS_ALLOCATIONS, bytes(data))


def genesis_from_json(j: dict) -> dict:
    """Parses and validates a JSON genesis file (FORMATS.md 11.6)."""
    for obj, fields in [(j, {"chain_id", "time_ms", "params", "validators", "allocations"}),
                        (j["params"], {"submit_fee", "transfer_fee", "register_fee", "max_block_txs"})]:
        if set(obj) != fields:
            raise DecodeError(f"genesis JSON members {sorted(obj)} != {sorted(fields)}")
    cid = j["chain_id"].encode("ascii")
    check_chain_id(cid)
    p = j["params"]
    params = {k: parse_units(p[k]) for k in ("submit_fee", "transfer_fee", "register_fee")}
    params["max_block_txs"] = p["max_block_txs"]
    validators = []
    for v in j["validators"]:
        if set(v) != {"public_key", "power"}:
            raise DecodeError("validator JSON members")
        validators.append({"public_key": h2b(v["public_key"], PUBLIC_KEY_LEN), "power": v["power"]})
    check_validator_set(validators)
    allocs = []
    for a in j["allocations"]:
        if set(a) != {"account", "amount"}:
            raise DecodeError("allocation JSON members")
        allocs.append((h2b(a["account"], 32), parse_units(a["amount"])))
    if len(allocs) > MAX_ALLOCATIONS:
        raise DecodeError("too many allocations")
    for i, (acct, amount) in enumerate(allocs):
        if amount == 0 or (i > 0 and not allocs[i - 1][0] < acct):
            raise DecodeError("allocations must be sorted, unique and non-zero")
    if sum(a for _, a in allocs) != SUPPLY:
        raise DecodeError("allocations do not sum to the supply")
    return {"chain_id": cid, "time_ms": j["time_ms"], "params": params, "validators": validators,
            "allocations": allocs, "allocations_hash": allocations_hash(allocs)}


def is_quorum(power: int, total: int) -> bool:
    return 3 * power > 2 * total


# --------------------------------------------------------------------------
# Blocks, votes, certificates (FORMATS.md 9, 10)
# --------------------------------------------------------------------------

HEADER_FIELDS = ("height", "parent", "time_ms", "proposer", "tx_count", "tx_root", "log_size", "log_root", "state_root")


def encode_header(h: dict) -> bytes:
    return (b"\x01" + be(h["height"], 8) + h["parent"] + be(h["time_ms"], 8) + be(h["proposer"], 2)
            + be(h["tx_count"], 4) + h["tx_root"] + be(h["log_size"], 8) + h["log_root"] + h["state_root"])


def decode_header(data: bytes) -> dict:
    def body(r: Reader) -> dict:
        r.version("block header")
        return {"height": r.u64(), "parent": r.take(32), "time_ms": r.u64(), "proposer": r.u16(),
                "tx_count": r.u32(), "tx_root": r.take(32), "log_size": r.u64(), "log_root": r.take(32),
                "state_root": r.take(32)}

    return decode_exact(data, HEADER_LEN, body)


def header_from_json(j: dict) -> dict:
    if set(j) != set(HEADER_FIELDS):
        raise DecodeError("header JSON members")
    h = dict(j)
    for f in ("parent", "tx_root", "log_root", "state_root"):
        h[f] = h2b(j[f], 32)
    return h


def block_hash(header_bytes: bytes) -> bytes:
    assert len(header_bytes) == HEADER_LEN
    return tagged(TAG_BLOCK_HEADER, header_bytes)


def encode_vote(vote_type: int, genesis: bytes, height: int, round_: int, block: bytes | None) -> bytes:
    out = bytes([1, vote_type]) + genesis + be(height, 8) + be(round_, 4)
    return out + (b"\x00" if block is None else b"\x01" + block)


def decode_vote(data: bytes) -> dict:
    def body(r: Reader) -> dict:
        r.version("vote")
        t = r.u8()
        if t not in (VOTE_PREVOTE, VOTE_PRECOMMIT):
            raise DecodeError(f"vote_type: invalid tag {t}")
        v = {"vote_type": t, "genesis": r.take(32), "height": r.u64(), "round": r.u32()}
        v["block"] = r.take(32) if r.option("value") else None
        return v

    return decode_exact(data, VOTE_MAX, body)


def decode_certificate(data: bytes) -> dict:
    def body(r: Reader) -> dict:
        r.version("commit certificate")
        c = {"height": r.u64(), "round": r.u32(), "block_hash": r.take(32)}
        n = r.count("signatures", 2, MAX_VALIDATORS)
        c["signatures"] = [(r.u16(), r.take(SIGNATURE_LEN)) for _ in range(n)]
        return c

    return decode_exact(data, CERT_MAX, body)


def encode_certificate(c: dict) -> bytes:
    out = bytearray(b"\x01" + be(c["height"], 8) + be(c["round"], 4) + c["block_hash"])
    out += be(len(c["signatures"]), 2)
    for idx, sig in c["signatures"]:
        out += be(idx, 2) + sig
    return bytes(out)


def verify_certificate(cert: dict, genesis_hash: bytes, validators: list[dict], header_bytes: bytes) -> str | None:
    """FORMATS.md 10.3. Returns None if valid, else the reason."""
    header = decode_header(header_bytes)
    if cert["height"] != header["height"] or cert["block_hash"] != block_hash(header_bytes):
        return "certificate is for another block"
    msg = encode_vote(VOTE_PRECOMMIT, genesis_hash, cert["height"], cert["round"], cert["block_hash"])
    power, last = 0, -1
    for idx, sig in cert["signatures"]:
        if idx <= last or idx >= len(validators):
            return f"bad signer index {idx}"
        last = idx
        if not mldsa_verify(validators[idx]["public_key"], msg, sig, CTX_VOTE):
            return f"signature of validator {idx} does not verify"
        power += validators[idx]["power"]
    total = sum(v["power"] for v in validators)
    if not is_quorum(power, total):
        return f"no quorum: {power} of {total}"
    return None


# --------------------------------------------------------------------------
# The checks, one function per vector file
# --------------------------------------------------------------------------

def load(d: str, name: str) -> dict:
    with open(os.path.join(d, name + ".json"), encoding="utf-8") as f:
        return json.load(f)


def check_constants() -> None:
    R.eq("hash: SHA-256('abc') known answer", sha256(b"abc"),
         "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    R.eq("hash: tagged = SHA-256(tag || 0x00 || data)", tagged(TAG_BLOCK_HEADER, b"x"),
         sha256(b"pantheon/v1/block-header\x00x"))
    R.eq("limits: max transaction size", MAX_TX_SIZE, 5311)
    R.eq("limits: max commit certificate size", CERT_MAX, 423_855)
    R.eq("limits: max genesis header size", GENESIS_HEADER_MAX, 250_984)
    R.eq("amount: supply is 5e9 PAN = 5e18 units", SUPPLY, 5 * 10**18)
    R.check("amount: supply fits in u64", SUPPLY <= U64_MAX)


def check_keys(d: str) -> dict[bytes, bytes]:
    """Returns seed -> public key."""
    v = load(d, "keys")
    pks: dict[bytes, bytes] = {}
    for i, k in enumerate(v["keys"]):
        seed = h2b(k["seed"], SEED_LEN)
        pk = mldsa_public_key(seed)
        pks[seed] = pk
        n = f"keys[{i}] seed {k['seed'][:8]}..."
        R.eq(f"{n}: public key = KeyGen_internal(seed)", pk, k["public_key"])
        R.eq(f"{n}: public key is {PUBLIC_KEY_LEN} bytes", len(h2b(k["public_key"])), PUBLIC_KEY_LEN)
        R.eq(f"{n}: id = tagged(key-id, public key)", key_id(pk), k["id"])
        R.eq(f"{n}: PKCS#8 PEM rebuilt from the seed", pkcs8_pem_from_seed(seed), k["pkcs8_pem"])
        R.eq(f"{n}: seed parsed from the PEM", seed_from_pkcs8_pem(k["pkcs8_pem"]), seed)
        loaded = serialization.load_pem_private_key(k["pkcs8_pem"].encode(), password=None)
        R.check(f"{n}: PEM loads as ML-DSA-65 in cryptography", isinstance(loaded, mldsa.MLDSA65PrivateKey))
        R.eq(f"{n}: PEM key's public key (cryptography)", loaded.public_key().public_bytes_raw(), pk)
    for i, s in enumerate(v["signatures"]):
        seed = h2b(s["seed"], SEED_LEN)
        pk = pks.get(seed) or mldsa_public_key(seed)
        ctx = s["context"].encode("ascii")
        msg = h2b(s["message"])
        sig = h2b(s["signature"])
        n = f"signatures[{i}] ctx {s['context']}"
        R.eq(f"{n}: message is 'pantheon test message'", msg, b"pantheon test message")
        R.eq(f"{n}: signature is {SIGNATURE_LEN} bytes", len(sig), SIGNATURE_LEN)
        R.check(f"{n}: ML-DSA-65 signature verifies with the context", mldsa_verify(pk, msg, sig, ctx))
        R.check(f"{n}: does not verify with an empty context", not mldsa_verify(pk, msg, sig, b""))
        other = CTX_VOTE if ctx != CTX_VOTE else CTX_SUBMIT
        R.check(f"{n}: does not verify with another context", not mldsa_verify(pk, msg, sig, other))
        R.check(f"{n}: does not verify over another message", not mldsa_verify(pk, msg + b"!", sig, ctx))
    # A hedged signature from another implementation must verify just the same.
    sk = mldsa.MLDSA65PrivateKey.from_seed_bytes(bytes([1]) * 32)
    hedged = sk.sign(b"pantheon test message", CTX_VOTE)
    R.check("signatures: a hedged signature (cryptography) verifies",
            mldsa_verify(pks[bytes([1]) * 32], b"pantheon test message", hedged, CTX_VOTE))
    return pks


def check_genesis(d: str, pks: dict[bytes, bytes]) -> dict:
    v = load(d, "genesis")
    g = genesis_from_json(v["genesis"])
    R.check("genesis: JSON file valid (chain id, validators, sorted allocations summing to supply)", True)
    R.eq("genesis: allocations hash from the allocations", g["allocations_hash"], v["allocations_hash"])
    header = encode_genesis_header(g)
    R.eq("genesis: header bytes from the JSON fields", header, v["header_bytes"])
    R.eq("genesis: header size 72 + C + 1960 n", len(header), 72 + len(g["chain_id"]) + 1960 * len(g["validators"]))
    dec = decode_genesis_header(h2b(v["header_bytes"]))
    R.check("genesis: header bytes decode to the JSON fields",
            dec == {k: g[k] for k in ("chain_id", "time_ms", "params", "validators", "allocations_hash")})
    gh = tagged(TAG_GENESIS, header)
    R.eq("genesis: genesis hash = tagged(genesis, header)", gh, v["genesis_hash"])
    seed1, seed2 = bytes([1]) * 32, bytes([2]) * 32
    R.check("genesis: validator 0 is the key of seed 0x01 with power 1",
            g["validators"] == [{"public_key": pks[seed1], "power": 1}])
    R.check("genesis: allocations are 2.5e18 units each to the ids of seeds 0x01 and 0x02",
            sorted(g["allocations"]) == sorted([(key_id(pks[seed1]), SUPPLY // 2), (key_id(pks[seed2]), SUPPLY // 2)]))
    R.eq("genesis: default params", g["params"],
         {"submit_fee": 1_000_000, "transfer_fee": 1_000_000, "register_fee": 100_000_000, "max_block_txs": 20_000})
    b = h2b(v["header_bytes"])
    R.rejects("genesis: decoder rejects version 2", decode_genesis_header, b"\x02" + b[1:])
    R.rejects("genesis: decoder rejects a trailing byte", decode_genesis_header, b + b"\x00")
    R.rejects("genesis: decoder rejects truncation", decode_genesis_header, b[:-1])
    R.rejects("genesis: decoder rejects a chain id with a space", decode_genesis_header,
              b[:2] + b" " + b[3:])
    zero_power = bytearray(b)
    zero_power[2 + 16 + 8 + 28 + 2 + PUBLIC_KEY_LEN:2 + 16 + 8 + 28 + 2 + PUBLIC_KEY_LEN + 8] = bytes(8)
    R.rejects("genesis: decoder rejects a zero-power validator", decode_genesis_header, bytes(zero_power))
    bad = dict(v["genesis"], allocations=list(reversed(v["genesis"]["allocations"])))
    R.rejects("genesis: JSON with unsorted allocations is invalid", genesis_from_json, bad)
    bad = dict(v["genesis"], validators=v["genesis"]["validators"] * 2)
    R.rejects("genesis: JSON with a duplicate validator is invalid", genesis_from_json, bad)
    g["hash"] = gh
    return g


def expected_txs(pks: dict[bytes, bytes]) -> dict[str, dict]:
    """The vector transactions as described in FORMATS.md 5.9."""
    pk2 = pks[bytes([2]) * 32]
    op = key_id(pk2)
    to = key_id(pks[bytes([3]) * 32])
    return {
        "register_operator": {"kind": KIND_REGISTER, "key": pk2, "nonce": 0},
        "submit_root_seq0_no_metadata": {"kind": KIND_SUBMIT, "operator": op, "seq": 0, "prev": ZERO,
                                         "root": sha256(b"audit batch 0"), "label": "", "record_count": None},
        "submit_root_seq1_with_metadata": {"kind": KIND_SUBMIT, "operator": op, "seq": 1, "prev": None,
                                           "root": sha256(b"audit batch 1"), "label": "ward-7/2026-01-01",
                                           "record_count": 1024},
        "transfer": {"kind": KIND_TRANSFER, "from_key": pk2, "nonce": 1, "to": to, "amount": 1_500_000_000},
    }


def check_transactions(d: str, pks: dict[bytes, bytes], genesis: dict) -> list[dict]:
    v = load(d, "transactions")
    gh = h2b(v["genesis_hash"], 32)
    R.eq("transactions: genesis_hash is that of genesis.json", gh, genesis["hash"])
    signer_seed = h2b(v["signer_seed"], 32)
    signer_pk = mldsa_public_key(signer_seed)
    expected = expected_txs(pks)
    registered: dict[bytes, bytes] = {}  # operator id -> key
    parsed = []
    prev_submission: dict[bytes, tuple[int, bytes]] = {}
    for t in v["transactions"]:
        n = f"tx {t['name']}"
        raw = h2b(t["bytes"])
        tx = decode_tx(raw)
        R.check(f"{n}: bytes decode strictly ({len(raw)} bytes, kind {tx['kind']})", True)
        unsigned = encode_unsigned(tx)
        R.eq(f"{n}: re-encoded from the decoded fields", unsigned + tx["signature"], raw)
        R.eq(f"{n}: unsigned_bytes = bytes without the last {SIGNATURE_LEN}", unsigned, t["unsigned_bytes"])
        R.eq(f"{n}: signature = last {SIGNATURE_LEN} bytes", tx["signature"], t["signature"])
        want = dict(expected[t["name"]])
        if want["kind"] == KIND_SUBMIT and want["prev"] is None:
            want["prev"] = prev_submission[want["operator"]][1]
        R.eq(f"{n}: unsigned bytes from the documented fields (5.9)", encode_unsigned(want), unsigned)
        size = {KIND_REGISTER: 5271, KIND_TRANSFER: 5311}.get(tx["kind"])
        if tx["kind"] == KIND_SUBMIT:
            size = 3417 + len(tx["label"].encode()) + (0 if tx["record_count"] is None else 8)
        R.eq(f"{n}: size per the offset table", len(raw), size)
        ctx = KIND_CONTEXT[tx["kind"]]
        R.eq(f"{n}: context string for the kind", t["context"], ctx.decode())
        msg = gh + unsigned
        R.eq(f"{n}: signing message = genesis_hash || unsigned", msg, t["signing_message"])
        if tx["kind"] == KIND_REGISTER:
            key = tx["key"]
            registered[key_id(key)] = key
        elif tx["kind"] == KIND_TRANSFER:
            key = tx["from_key"]
        else:
            key = registered.get(tx["operator"])
            R.check(f"{n}: operator has a registered key whose id is the operator id",
                    key is not None and key_id(key) == tx["operator"])
        R.eq(f"{n}: signing key is the key of signer_seed", key, signer_pk)
        R.check(f"{n}: ML-DSA-65 signature verifies ({ctx.decode()})", mldsa_verify(key, msg, tx["signature"], ctx))
        other_ctx = CTX_TRANSFER if ctx != CTX_TRANSFER else CTX_SUBMIT
        R.check(f"{n}: signature fails under another context", not mldsa_verify(key, msg, tx["signature"], other_ctx))
        R.check(f"{n}: signature fails for another network", not mldsa_verify(key, ZERO + unsigned, tx["signature"], ctx))
        tid = tx_id(raw)
        R.eq(f"{n}: id = SHA-256(0x00 || bytes)", tid, t["id"])
        R.eq(f"{n}: id = RFC 9162 leaf hash", log_leaf(raw), tid)
        if tx["kind"] == KIND_SUBMIT:
            last = prev_submission.get(tx["operator"])
            want_seq, want_prev = (0, ZERO) if last is None else (last[0] + 1, last[1])
            R.eq(f"{n}: seq continues the operator's chain", tx["seq"], want_seq)
            R.eq(f"{n}: prev = id of the operator's previous submission", tx["prev"], want_prev)
            prev_submission[tx["operator"]] = (tx["seq"], tid)
            # OpenTimestamps: audit root -> tx id (FORMATS.md 13 steps 1-2).
            ops = [("prepend", raw[:74]), ("append", raw[106:]), ("prepend", b"\x00"), ("sha256",)]
            R.check(f"{n}: audit root at offset 74 and OTS ops lead to the id",
                    raw[74:106] == tx["root"] and apply_ots(tx["root"], ops) == tid)
        parsed.append({"name": t["name"], "raw": raw, "tx": tx, "id": tid})

    # Decoder rejections (FORMATS.md 1.8), on the submission with metadata.
    raw = next(p["raw"] for p in parsed if p["name"] == "submit_root_seq1_with_metadata")
    R.rejects("tx decoder: rejects version 0", decode_tx, b"\x00" + raw[1:])
    R.rejects("tx decoder: rejects version 2", decode_tx, b"\x02" + raw[1:])
    R.rejects("tx decoder: rejects kind 9", decode_tx, raw[:1] + b"\x09" + raw[2:])
    R.rejects("tx decoder: rejects truncation (one byte short)", decode_tx, raw[:-1])
    R.rejects("tx decoder: rejects a trailing byte", decode_tx, raw + b"\x00")
    R.rejects("tx decoder: rejects oversize input", decode_tx, raw + bytes(MAX_TX_SIZE))
    R.rejects("tx decoder: rejects label length 65", decode_tx, raw[:106] + bytes([65]) + raw[107:])
    R.rejects("tx decoder: rejects a label that is not UTF-8", decode_tx, raw[:107] + b"\xff" + raw[108:])
    label_len = raw[106]
    tag_at = 107 + label_len
    R.rejects("tx decoder: rejects record_count option tag 2", decode_tx, raw[:tag_at] + b"\x02" + raw[tag_at + 1:])
    for p in parsed:
        R.check(f"tx decoder: rejects every proper prefix of {p['name']}",
                all_prefixes_rejected(decode_tx, p["raw"]))
    return parsed


def check_log(d: str) -> None:
    v = load(d, "log")
    leaves = [h2b(x) for x in v["leaves"]]
    R.check("log: leaf i is byte i repeated i times", leaves == [bytes([i]) * i for i in range(7)])
    hashes = [log_leaf(x) for x in leaves]
    R.eq("log: leaf hashes = SHA-256(0x00 || leaf)", [h.hex() for h in hashes], v["leaf_hashes"])
    R.eq("log: empty root = SHA-256()", sha256(), v["empty_root"])
    roots = {}
    for r in v["roots"]:
        n = r["tree_size"]
        roots[n] = mth(hashes[:n])
        R.eq(f"log: root of size {n} (MTH)", roots[n], r["root"])
    for p in v["inclusion_proofs"]:
        m, n = p["leaf_index"], p["tree_size"]
        path = [h2b(x, 32) for x in p["path"]]
        name = f"log: inclusion proof of leaf {m} in size {n}"
        R.eq(f"{name}: equals RFC 9162 PATH", [x.hex() for x in rfc_path(m, hashes[:n])], p["path"])
        R.check(f"{name}: verifies (RFC 9162 2.1.3.2)", verify_inclusion(m, n, path, hashes[m], roots[n]))
        R.check(f"{name}: OTS ops from the leaf hash give the root",
                apply_ots(hashes[m], inclusion_ots_ops(m, n, path)) == roots[n])
        wrong_leaf = hashes[(m + 1) % 7]
        R.check(f"{name}: fails for another leaf", not verify_inclusion(m, n, path, wrong_leaf, roots[n]))
        for i in range(len(path)):
            bad = path[:i] + [sha256(b"x")] + path[i + 1:]
            R.check(f"{name}: fails with path[{i}] tampered", not verify_inclusion(m, n, bad, hashes[m], roots[n]))
        R.check(f"{name}: fails with an extra path element",
                not verify_inclusion(m, n, path + [roots[n]], hashes[m], roots[n]))
    for p in v["consistency_proofs"]:
        m, n = p["old_size"], p["new_size"]
        path = [h2b(x, 32) for x in p["path"]]
        name = f"log: consistency proof {m} -> {n}"
        R.eq(f"{name}: equals RFC 9162 PROOF", [x.hex() for x in rfc_proof(m, hashes[:n])], p["path"])
        R.check(f"{name}: verifies (RFC 9162 2.1.4.2)", verify_consistency(m, n, path, roots[m], roots[n]))
        R.check(f"{name}: fails for another old root",
                not verify_consistency(m, n, path, sha256(b"y"), roots[n]))
        R.check(f"{name}: fails for another new root",
                not verify_consistency(m, n, path, roots[m], roots[n - 1]))
        for i in range(len(path)):
            bad = path[:i] + [sha256(b"x")] + path[i + 1:]
            R.check(f"{name}: fails with path[{i}] tampered", not verify_consistency(m, n, bad, roots[m], roots[n]))
    # Exhaustive self-consistency of the two algorithms on the vector leaves.
    ok = all(verify_inclusion(m, n, rfc_path(m, hashes[:n]), hashes[m], roots[n])
             for n in range(1, 8) for m in range(n))
    R.check("log: every inclusion proof for sizes 1..7 verifies", ok)
    ok = all(verify_consistency(m, n, rfc_proof(m, hashes[:n]), roots[m], roots[n])
             for n in range(0, 8) for m in range(n + 1))
    R.check("log: every consistency proof for sizes 0..7 verifies", ok)


def check_state(d: str, pks: dict[bytes, bytes], genesis: dict) -> None:
    v = load(d, "state")
    R.eq("state: params key = tagged(state-key, 0x02)", STATE_KEY_PARAMS, v["params_key"])
    R.eq("state: validators key = tagged(state-key, 0x03)", STATE_KEY_VALIDATORS, v["validators_key"])
    R.eq("state: params bytes = encoded default params", encode_params(genesis["params"]), v["params_bytes"])
    pairs = []
    by_key = {}
    for i, rec in enumerate(v["records"]):
        seed = bytes([i + 1]) * 32
        n = f"state: record of seed 0x{i + 1:02x}"
        acct = key_id(pks[seed])
        R.eq(f"{n}: account id", acct, rec["account_id"])
        a = account_from_json(rec["record"])
        value = encode_account(a)
        R.eq(f"{n}: value bytes from the record fields", value, rec["value_bytes"])
        R.eq(f"{n}: value bytes decode strictly to the record", decode_account(h2b(rec["value_bytes"])), a)
        R.check(f"{n}: size is 18, 27 or 99", len(value) in (18, 27, 99))
        k = state_key_account(acct)
        R.eq(f"{n}: tree key = tagged(state-key, 0x01 || id)", k, rec["tree_key"])
        vh = value_hash(value)
        R.eq(f"{n}: value hash = tagged(state-value, value)", vh, rec["value_hash"])
        pairs.append((k, vh))
        by_key[k] = vh
    b = h2b(v["records"][1]["value_bytes"])
    R.rejects("state: account decoder rejects version 2", decode_account, b"\x02" + b[1:])
    R.rejects("state: account decoder rejects operator tag 2", decode_account, b[:17] + b"\x02" + b[18:])
    R.rejects("state: account decoder rejects last tag 2", decode_account, b[:26] + b"\x02" + b[27:])
    R.rejects("state: account decoder rejects truncation", decode_account, b[:-1])
    R.rejects("state: account decoder rejects a trailing byte", decode_account, b + b"\x00")
    root = smt_root(pairs)
    R.eq("state: root of the three records (sparse Merkle tree)", root, v["root"])
    R.eq("state: root independent of insertion order", smt_root(list(reversed(pairs))), root)
    R.eq("state: empty tree root is ZERO", smt_root([]), ZERO)
    R.eq("state: one-key tree root is its leaf hash", smt_root(pairs[:1]), smt_leaf(*pairs[0]))
    absent_key = state_key_account(key_id(mldsa_public_key(bytes([4]) * 32)))
    for i, p in enumerate(v["proofs"]):
        k = h2b(p["tree_key"], 32)
        proof = proof_from_json(p["proof"])
        present = p["present"]
        n = f"state: proof {i} ({'present' if present else 'absent'}, key {p['tree_key'][:8]}...)"
        R.check(f"{n}: key is one of the records or seed 0x04", k in by_key or k == absent_key)
        R.eq(f"{n}: present flag", present, k in by_key)
        mine = smt_prove(pairs, k)
        R.check(f"{n}: equals the proof generated from the tree", mine == proof)
        value = by_key.get(k)
        R.check(f"{n}: verifies", smt_verify(root, k, value, proof))
        if present:
            R.check(f"{n}: fails as an absence proof", not smt_verify(root, k, None, proof))
            R.check(f"{n}: fails for another value", not smt_verify(root, k, sha256(b"v"), proof))
        else:
            R.check(f"{n}: fails as a presence proof", not smt_verify(root, k, proof["leaf"][1] if proof["leaf"] else ZERO, proof))
        if proof["siblings"]:
            bad = {"siblings": [sha256(b"t")] + proof["siblings"][1:], "leaf": proof["leaf"]}
            R.check(f"{n}: fails with a tampered sibling", not smt_verify(root, k, value, bad))
    R.eq("state: seed 0x04 tree key is the absent proof's key", absent_key.hex(), v["proofs"][2]["tree_key"])


def check_block(d: str, pks: dict[bytes, bytes], genesis: dict) -> None:
    v = load(d, "block")
    h = header_from_json(v["header"])
    hb = encode_header(h)
    R.eq("block: header bytes from the JSON fields", hb, v["header_bytes"])
    R.eq("block: header is 159 bytes", len(hb), HEADER_LEN)
    R.eq("block: header bytes decode strictly to the fields", decode_header(h2b(v["header_bytes"])), h)
    bh = block_hash(hb)
    R.eq("block: block hash = tagged(block-header, header)", bh, v["block_hash"])
    R.eq("block: parent of block 1 is the genesis hash", h["parent"], genesis["hash"])
    R.check("block: placeholder roots are SHA-256 of 'tx root', 'log root', 'state root'",
            (h["tx_root"], h["log_root"], h["state_root"]) ==
            (sha256(b"tx root"), sha256(b"log root"), sha256(b"state root")))
    R.check("block: header fields at their offsets (log_root 95..127, state_root 127..159, parent 9..41)",
            hb[95:127] == h["log_root"] and hb[127:159] == h["state_root"] and hb[9:41] == h["parent"])
    ops = [("prepend", TAG_BLOCK_HEADER + b"\x00" + hb[:95]), ("append", hb[127:]), ("sha256",)]
    R.eq("block: OTS ops from log_root give the block hash", apply_ots(h["log_root"], ops), bh)
    R.rejects("block: header decoder rejects version 2", decode_header, b"\x02" + hb[1:])
    R.rejects("block: header decoder rejects truncation", decode_header, hb[:-1])
    R.rejects("block: header decoder rejects a trailing byte", decode_header, hb + b"\x00")

    gh = genesis["hash"]
    pre = encode_vote(VOTE_PRECOMMIT, gh, h["height"], 0, bh)
    R.eq("block: precommit bytes (type 2, genesis, height, round 0, block)", pre, v["precommit_bytes"])
    R.eq("block: precommit is 79 bytes", len(pre), 79)
    nil = encode_vote(VOTE_PREVOTE, gh, h["height"], 0, None)
    R.eq("block: nil prevote bytes (type 1, ..., tag 0)", nil, v["nil_prevote_bytes"])
    R.eq("block: nil prevote is 47 bytes", len(nil), 47)
    R.eq("block: precommit decodes strictly", decode_vote(pre),
         {"vote_type": 2, "genesis": gh, "height": h["height"], "round": 0, "block": bh})
    R.rejects("block: vote decoder rejects vote type 3", decode_vote, pre[:1] + b"\x03" + pre[2:])
    R.rejects("block: vote decoder rejects value tag 2", decode_vote, nil[:-1] + b"\x02")
    R.rejects("block: vote decoder rejects nil with a trailing hash", decode_vote, nil + bh)

    cb = h2b(v["certificate_bytes"])
    cert = decode_certificate(cb)
    R.check("block: certificate decodes strictly", True)
    R.eq("block: certificate re-encodes to its bytes", encode_certificate(cert), cb)
    R.eq("block: certificate size 47 + 3311 n", len(cb), 47 + 3311 * len(cert["signatures"]))
    R.check("block: certificate is for this block and height", cert["block_hash"] == bh and cert["height"] == h["height"])
    validators = genesis["validators"]
    R.eq("block: validator 0 is the key of seed 0x01", validators[0]["public_key"], pks[bytes([1]) * 32])
    for idx, sig in cert["signatures"]:
        R.check(f"block: certificate signature of validator {idx} verifies over the precommit bytes",
                mldsa_verify(validators[idx]["public_key"], pre, sig, CTX_VOTE))
        R.check(f"block: certificate signature of validator {idx} fails over the nil prevote",
                not mldsa_verify(validators[idx]["public_key"], nil, sig, CTX_VOTE))
    err = verify_certificate(cert, gh, validators, hb)
    R.check("block: certificate verifies (indexes, signatures, > 2/3 power)", err is None, err or "")
    power = sum(validators[i]["power"] for i, _ in cert["signatures"])
    total = sum(x["power"] for x in validators)
    R.check(f"block: quorum 3*{power} > 2*{total}", is_quorum(power, total))
    R.check("block: quorum rule is strict (2 of 3 is not a quorum)", not is_quorum(2, 3) and is_quorum(3, 4))
    R.check("block: certificate fails for another round",
            verify_certificate(dict(cert, round=1), gh, validators, hb) is not None)
    R.check("block: certificate fails for another network",
            verify_certificate(cert, ZERO, validators, hb) is not None)
    R.check("block: certificate fails with a repeated signer",
            verify_certificate(dict(cert, signatures=cert["signatures"] * 2), gh, validators, hb) is not None)
    R.check("block: certificate fails without signatures",
            verify_certificate(dict(cert, signatures=[]), gh, validators, hb) is not None)
    other = bytearray(hb)
    other[41] ^= 1
    R.check("block: certificate fails for another header",
            verify_certificate(cert, gh, validators, bytes(other)) is not None)
    R.rejects("block: certificate decoder rejects version 2", decode_certificate, b"\x02" + cb[1:])
    R.rejects("block: certificate decoder rejects truncation", decode_certificate, cb[:-1])
    R.rejects("block: certificate decoder rejects a trailing byte", decode_certificate, cb + b"\x00")
    R.rejects("block: certificate decoder rejects 129 signatures", decode_certificate,
              cb[:45] + be(129, 2) + cb[47:])

    # Proposal message (FORMATS.md 10.4): round 1 re-proposing the lock of round 0.
    prop = bytes([1]) + gh + be(h["height"], 8) + be(1, 4) + b"\x01" + be(0, 4) + bh
    R.eq("block: proposal bytes (version, genesis, height, round 1, pol_round 0, block)", prop, v["proposal_bytes"])
    R.eq("block: proposal with a pol_round is 82 bytes", len(prop), 82)
    R.check("block: proposal signature verifies (context pantheon/v1/proposal)",
            mldsa_verify(validators[0]["public_key"], prop, h2b(v["proposal_signature"]), b"pantheon/v1/proposal"))
    R.check("block: proposal signature fails under the vote context",
            not mldsa_verify(validators[0]["public_key"], prop, h2b(v["proposal_signature"]), CTX_VOTE))


def main(argv: list[str]) -> int:
    d = argv[1] if len(argv) > 1 else os.path.dirname(os.path.abspath(__file__))
    sections = [("constants", lambda: check_constants())]
    state: dict = {}

    def keys():
        state["pks"] = check_keys(d)

    def genesis():
        state["genesis"] = check_genesis(d, state["pks"])

    sections += [
        ("keys.json", keys),
        ("genesis.json", genesis),
        ("transactions.json", lambda: check_transactions(d, state["pks"], state["genesis"])),
        ("log.json", lambda: check_log(d)),
        ("state.json", lambda: check_state(d, state["pks"], state["genesis"])),
        ("block.json", lambda: check_block(d, state["pks"], state["genesis"])),
    ]
    for name, fn in sections:
        print(f"== {name}")
        try:
            fn()
        except Exception as e:  # any exception is a failed check, reported and counted
            R.check(f"{name}: completed without error", False, f"{type(e).__name__}: {e}")
            traceback.print_exc(file=sys.stdout)
    print(f"== {R.passed} checks passed, {R.failed} failed")
    return 1 if R.failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
