#!/usr/bin/env python3
"""Independent verifier of Pantheon's test vectors (docs/vectors/*.json).

Written from docs/FORMATS.md, not from the Rust code. Everything is
re-derived from raw fields: keys from seeds, ids from keys, transactions
parsed field by field and re-encoded, signing messages rebuilt and ML-DSA-65
signatures verified with their context strings, RFC 9162 roots and proofs
recomputed and verified, state keys/values/root recomputed and state proofs
verified, the genesis header and hashes rebuilt from the JSON genesis, the
block hash from the header fields, and the commit certificate verified;
the block history log, the anchor commitment, the AnchorRecord transaction,
the Bitcoin part (double SHA-256, strict transaction parse, payload, Merkle
branch, proof of work, linkage) and the full anchored proof bundles of
both versions, link by link, with tampered copies refused at the right link;
the malformed bundles of bundle-malformed.json read as FORMATS 22.6 says
(the JSON structure first, then each member by the link that uses it), each
refused at the link the file names; the path limits of 22.7; and the
audit records of records.json (section 23): RFC 8785 bodies, envelopes,
signatures, record hashes, the stream's chain, manifest and approval
links, the batch tree, and the refused records at their links; and the
audit documents of audit.json (section 28): supply proofs (the state root
rebuilt from every account record and the genesis singletons, the sum of
the balances), log checkpoints (the C2SP note body) and RFC 9162
consistency proofs, each end's ML-DSA-65 certificate verified, with the
tampered and forged cases refused at their links.

Usage:  python3 verify_vectors.py [DIR]      (DIR defaults to this file's directory)
        python3 verify_vectors.py --verify FILE
                  (one bundle, record proof, operator export, receipt,
                   receipt evidence or audit document; the verdict as JSON,
                   exit 1 if invalid)

Requires Python >= 3.11 and the `cryptography` package >= 48 (ML-DSA-65).
Prints one line per check; exits 1 if any check fails.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import os
import sys
import traceback

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, mldsa

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
TAG_ANCHOR = b"pantheon/v1/anchor"
TAG_CERTIFICATE = b"pantheon/v1/certificate"
TAG_RECORD = b"pantheon/v1/record"
TAG_RECORD_BODY = b"pantheon/v1/record-body"

CTX_REGISTER = b"pantheon/v1/register-operator"
CTX_SUBMIT = b"pantheon/v1/submit-root"
CTX_TRANSFER = b"pantheon/v1/transfer"
CTX_VOTE = b"pantheon/v1/vote"
CTX_ANCHOR_RECORD = b"pantheon/v1/anchor-record"
CTX_RECORD = b"pantheon/v1/record"
CTX_APPROVAL = b"pantheon/v1/approval"
CTX_RECEIPT = b"pantheon/v1/receipt"

# Audit records (FORMATS.md 23).
RECORD_VERSION = 1
MAX_STREAM_LEN = 64
MAX_BODY_LEN = 1 << 20
MAX_SAFE_INTEGER = 2**53 - 1
RECORD_KINDS = {1: "decision", 2: "manifest", 3: "approval", 4: "event"}
KIND_MEMBERS = {
    "decision": [("inputs", "hash"), ("output", "hash"), ("policy", "present"), ("score", "number")],
    "manifest": [("model", "hash"), ("tokenizer", "hash"), ("system_prompt", "hash"), ("data", "hash")],
    "approval": [("subject", "hash"), ("approver", "public_key"), ("signature", "signature")],
    "event": [],
}

KIND_REGISTER, KIND_SUBMIT, KIND_TRANSFER, KIND_ANCHOR, KIND_ANCHOR_WITH_PART = 1, 2, 3, 4, 5
KIND_CONTEXT = {KIND_REGISTER: CTX_REGISTER, KIND_SUBMIT: CTX_SUBMIT, KIND_TRANSFER: CTX_TRANSFER,
                KIND_ANCHOR: CTX_ANCHOR_RECORD, KIND_ANCHOR_WITH_PART: CTX_ANCHOR_RECORD}
ANCHOR_RECORD_SIZE = 2 + 2 + 8 + 32 + 32 + 32 + 8 + SIGNATURE_LEN  # 3425
VOTE_PREVOTE, VOTE_PRECOMMIT = 1, 2

MAX_LABEL_LEN = 64
MAX_CHAIN_ID_LEN = 32
MAX_VALIDATORS = 128
MAX_ALLOCATIONS = 1 << 20
MAX_BLOCK_TXS = 100_000
MAX_RECORD_BITCOIN_TX = 1000
MAX_RECORD_PART = 1 + 4 + MAX_RECORD_BITCOIN_TX + 4 + 2 + 32 * 32 + 2 + 80 * 100  # 10,037
MAX_TX_SIZE = 2 + 2 + 8 + 32 + 8 + 2 + MAX_RECORD_PART + SIGNATURE_LEN  # 13,400: kind 5 (19.1)
ACCOUNT_MAX = 99
HEADER_LEN = 159
HEADER_LEN_V2 = 191
VOTE_MAX = 79
CERT_MAX = 47 + MAX_VALIDATORS * (2 + SIGNATURE_LEN)
GENESIS_HEADER_MAX = 1 + 1 + MAX_CHAIN_ID_LEN + 8 + 28 + 4 + 2 + MAX_VALIDATORS * (PUBLIC_KEY_LEN + 8) + 32
# Bitcoin networks a version-2 genesis may commit (FORMATS.md 11.7).
BITCOIN_NETWORKS = {1: "bitcoin", 2: "testnet4", 3: "signet", 4: "regtest"}
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


HEX_DIGITS = frozenset("0123456789abcdefABCDEF")


def h2b(text: str, n: int | None = None) -> bytes:
    """Hex of either case and nothing else (FORMATS 1.11): unlike
    bytes.fromhex, no whitespace; no 0x prefix; an even number of digits."""
    if not isinstance(text, str) or len(text) % 2 or not HEX_DIGITS.issuperset(text):
        raise DecodeError("not hex (digits 0-9, a-f, A-F only, an even number of them)")
    b = bytes.fromhex(text)
    if n is not None and len(b) != n:
        raise DecodeError(f"expected {n} bytes, got {len(b)}")
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
    elif kind == KIND_ANCHOR:
        out += be(tx["validator"], 2) + be(tx["height"], 8) + tx["commitment"] + tx["bitcoin_txid"]
        out += tx["bitcoin_block"] + be(tx["bitcoin_height"], 8)
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
        elif kind == KIND_ANCHOR:
            tx["validator"] = r.u16()
            tx["height"] = r.u64()
            tx["commitment"] = r.take(32)
            tx["bitcoin_txid"] = r.take(32)
            tx["bitcoin_block"] = r.take(32)
            tx["bitcoin_height"] = r.u64()
        elif kind == KIND_ANCHOR_WITH_PART:
            tx["validator"] = r.u16()
            tx["height"] = r.u64()
            tx["commitment"] = r.take(32)
            tx["bitcoin_height"] = r.u64()
            n = r.count("part", 2, MAX_RECORD_PART)
            part = decode_part(r.take(n))
            if len(part["raw_tx"]) > MAX_RECORD_BITCOIN_TX or not 1 <= len(part["headers"]) <= 100:
                raise DecodeError("part: over the record limits")
            tx["part"] = part
            tx["bitcoin_txid"] = h2(part["raw_tx"])
            tx["bitcoin_block"] = h2(part["headers"][0])
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
    found = root_from_path(leaf_index, tree_size, path, leaf)
    return found is not None and found == root


def verify_consistency(m: int, n: int, path: list[bytes], old_root: bytes, new_root: bytes) -> bool:
    """RFC 9162 section 2.1.4.2, with the m == n and m == 0 cases of FORMATS.md 8.4
    (m == 0: the path is empty and old_root is the empty tree's root; any
    new_root is consistent with it)."""
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


def encode_bitcoin_params(b: dict | None) -> bytes:
    if b is None:
        return b"\x00"
    code = {name: c for c, name in BITCOIN_NETWORKS.items()}[b["network"]]
    return b"\x01" + bytes([code]) + be(b["confirmations"], 2)


def encode_genesis_header(g: dict) -> bytes:
    cid = g["chain_id"]
    version = g.get("version", 1)
    bitcoin = encode_bitcoin_params(g["bitcoin"]) if version == 2 else b""
    return (bytes([version]) + bytes([len(cid)]) + cid + be(g["time_ms"], 8) + encode_params(g["params"])
            + bitcoin + encode_validators(g["validators"]) + g["allocations_hash"])


def decode_genesis_header(data: bytes) -> dict:
    def body(r: Reader) -> dict:
        version = r.u8()
        if version not in (1, 2):
            raise DecodeError(f"genesis: unsupported version {version}")
        cid = r.short_bytes("chain_id", MAX_CHAIN_ID_LEN)
        check_chain_id(cid)
        out = {"chain_id": cid, "time_ms": r.u64(), "params": decode_params(r)}
        if version == 2:
            out["version"] = 2
            out["bitcoin"] = None
            if r.option("bitcoin"):
                code = r.u8()
                if code not in BITCOIN_NETWORKS:
                    raise DecodeError(f"genesis: unknown Bitcoin network code {code}")
                confirmations = r.u16()
                if not 1 <= confirmations <= 100:
                    raise DecodeError("genesis: confirmations not in 1..=100")
                out["bitcoin"] = {"network": BITCOIN_NETWORKS[code], "confirmations": confirmations}
        out["validators"] = decode_validators(r)
        out["allocations_hash"] = r.take(32)
        return out

    return decode_exact(data, GENESIS_HEADER_MAX, body)


def allocations_hash(allocs: list[tuple[bytes, int]]) -> bytes:
    data = bytearray(be(len(allocs), 4))
    for account, amount in allocs:
        data += account + be(amount, 8)
    return tagged(TAG_GENESIS_ALLOCATIONS, bytes(data))


def genesis_from_json(j: dict) -> dict:
    """Parses and validates a JSON genesis file (FORMATS.md 11.6)."""
    top = {"chain_id", "time_ms", "params", "validators", "allocations"}
    version = j.get("version", 1)
    if type(version) is not int or version not in (1, 2):
        raise DecodeError(f"genesis JSON version {version!r}: this reader knows 1 (no member, or 1) and 2")
    if "version" in j:
        top |= {"version"}
    if version == 2:
        top |= {"bitcoin"}
    for obj, fields in [(j, top),
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
    out = {"chain_id": cid, "time_ms": j["time_ms"], "params": params, "validators": validators,
           "allocations": allocs, "allocations_hash": allocations_hash(allocs)}
    if version == 2:
        b = j["bitcoin"]
        if b is not None:
            if set(b) != {"network", "confirmations"} or b["network"] not in BITCOIN_NETWORKS.values():
                raise DecodeError("genesis JSON: bitcoin is {network, confirmations} with a known network")
            if not isinstance(b["confirmations"], int) or not 1 <= b["confirmations"] <= 100:
                raise DecodeError("genesis JSON: bitcoin.confirmations not in 1..=100")
        out["version"] = 2
        out["bitcoin"] = b
    return out


def is_quorum(power: int, total: int) -> bool:
    return 3 * power > 2 * total


# --------------------------------------------------------------------------
# Blocks, votes, certificates (FORMATS.md 9, 10)
# --------------------------------------------------------------------------

HEADER_FIELDS = ("height", "parent", "time_ms", "proposer", "tx_count", "tx_root", "log_size", "log_root", "state_root")


def encode_header(h: dict) -> bytes:
    """Version 1 (159 bytes), or version 2 (191) when the header commits to
    its parent's certificate (FORMATS 9.1, 9.4)."""
    last = h.get("last_certificate")
    return (bytes([1 if last is None else 2]) + be(h["height"], 8) + h["parent"] + be(h["time_ms"], 8)
            + be(h["proposer"], 2) + be(h["tx_count"], 4) + h["tx_root"] + be(h["log_size"], 8)
            + h["log_root"] + h["state_root"] + (b"" if last is None else last))


def decode_header(data: bytes) -> dict:
    def body(r: Reader) -> dict:
        version = r.u8()
        if version not in (1, 2):
            raise DecodeError(f"block header version {version}")
        h = {"height": r.u64(), "parent": r.take(32), "time_ms": r.u64(), "proposer": r.u16(),
             "tx_count": r.u32(), "tx_root": r.take(32), "log_size": r.u64(), "log_root": r.take(32),
             "state_root": r.take(32)}
        if version == 2:
            h["last_certificate"] = r.take(32)
        return h

    return decode_exact(data, HEADER_LEN_V2, body)


def header_from_json(j: dict) -> dict:
    if set(j) - {"last_certificate"} != set(HEADER_FIELDS):
        raise DecodeError("header JSON members")
    h = dict(j)
    for f in ("parent", "tx_root", "log_root", "state_root", "last_certificate"):
        if f in j:
            h[f] = h2b(j[f], 32)
    return h


def block_hash(header_bytes: bytes) -> bytes:
    assert len(header_bytes) in (HEADER_LEN, HEADER_LEN_V2)
    return tagged(TAG_BLOCK_HEADER, header_bytes)


def certificate_hash(cert_bytes: bytes) -> bytes:
    """What a version-2 header commits to as last_certificate (FORMATS 9.4)."""
    return tagged(TAG_CERTIFICATE, cert_bytes)


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
    R.eq("limits: max transaction size", MAX_TX_SIZE, 13_400)
    R.eq("limits: max commit certificate size", CERT_MAX, 423_855)
    R.eq("limits: max genesis header size", GENESIS_HEADER_MAX, 250_988)
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
    R.rejects("genesis: decoder rejects version 3", decode_genesis_header, b"\x03" + b[1:])
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
    for name, want_bitcoin in (("regtest", {"network": "regtest", "confirmations": 1}),
                               ("testnet4", {"network": "testnet4", "confirmations": 6}),
                               ("no_bitcoin", None)):
        w = v["version_2"][name]
        g2 = genesis_from_json(w["genesis"])
        R.eq(f"genesis v2 {name}: bitcoin member", g2["bitcoin"], want_bitcoin)
        h2 = encode_genesis_header(g2)
        R.eq(f"genesis v2 {name}: header bytes from the JSON fields", h2, w["header_bytes"])
        R.eq(f"genesis v2 {name}: header size 73 + C + 1960 n + (3 if anchoring)", len(h2),
             73 + len(g2["chain_id"]) + 1960 * len(g2["validators"]) + (3 if want_bitcoin else 0))
        d2 = decode_genesis_header(h2)
        R.check(f"genesis v2 {name}: header bytes decode to the JSON fields",
                d2 == {k: g2[k] for k in ("version", "chain_id", "time_ms", "params", "bitcoin", "validators",
                                          "allocations_hash")})
        R.eq(f"genesis v2 {name}: genesis hash", tagged(TAG_GENESIS, h2), w["genesis_hash"])
        R.check(f"genesis v2 {name}: another network than version 1", tagged(TAG_GENESIS, h2) != gh)
        if want_bitcoin:
            off = 2 + len(g2["chain_id"]) + 8 + 28
            R.rejects(f"genesis v2 {name}: decoder rejects network code 0", decode_genesis_header,
                      h2[:off + 1] + b"\x00" + h2[off + 2:])
            R.rejects(f"genesis v2 {name}: decoder rejects 0 confirmations", decode_genesis_header,
                      h2[:off + 2] + b"\x00\x00" + h2[off + 4:])
            R.rejects(f"genesis v2 {name}: decoder rejects 101 confirmations", decode_genesis_header,
                      h2[:off + 2] + be(101, 2) + h2[off + 4:])
    bad = dict(v["genesis"], bitcoin=None)
    R.rejects("genesis: JSON with a bitcoin member but no version is invalid", genesis_from_json, bad)
    bad = dict(v["version_2"]["regtest"]["genesis"])
    del bad["bitcoin"]
    R.rejects("genesis: version-2 JSON without a bitcoin member is invalid", genesis_from_json, bad)
    # What the genesis reader accepts (FORMATS 1.11).
    R.eq("genesis: an explicit \"version\": 1 is the same genesis",
         encode_genesis_header(genesis_from_json(dict(v["genesis"], version=1))), header)
    R.rejects("genesis: \"version\": 3 is refused", genesis_from_json, dict(v["genesis"], version=3))
    R.rejects("genesis: an unknown member is refused", genesis_from_json, dict(v["genesis"], note=1))
    text = json.dumps(v["genesis"])
    R.rejects("genesis: a duplicate member is refused", read_json_text, '{"time_ms":0,' + text[1:])
    R.eq("genesis: upper-case hex is the same genesis", encode_genesis_header(genesis_from_json(json.loads(
        text.replace(v["genesis"]["allocations"][0]["account"], v["genesis"]["allocations"][0]["account"].upper())))),
        header)

    def amount(text_):
        try:
            parse_units(text_)
        except ValueError as e:
            raise DecodeError(str(e)) from None
    for bad in ("05", "+5", "-1", "5.0", "1e3", " 5", ""):
        R.rejects(f"genesis: amount {bad!r} is refused", amount, bad)
    g["hash"] = gh
    g["header"] = header
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
        if m == 0:
            R.check(f"{name}: from size 0, any new root is consistent (8.4)",
                    verify_consistency(m, n, path, roots[m], sha256(b"any")))
            R.check(f"{name}: from size 0, a non-empty path is refused",
                    not verify_consistency(m, n, [roots[n]], roots[m], roots[n]))
        else:
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
    R.rejects("block: header decoder rejects version 3", decode_header, b"\x03" + hb[1:])
    R.rejects("block: header decoder rejects version 2 of 159 bytes", decode_header, b"\x02" + hb[1:])
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
    w = v["version_2"]
    h2 = header_from_json(w["header"])
    hb2 = encode_header(h2)
    R.eq("block v2: header bytes from the JSON fields", hb2, w["header_bytes"])
    R.eq("block v2: header is 191 bytes", len(hb2), HEADER_LEN_V2)
    R.eq("block v2: header bytes decode strictly to the fields", decode_header(hb2), h2)
    R.eq("block v2: block hash = tagged(block-header, all 191 bytes)", block_hash(hb2), w["block_hash"])
    R.eq("block v2: its parent is block 1 above", h2["parent"], bh)
    R.eq("block v2: certificate hash = tagged(certificate, certificate bytes)", certificate_hash(cb), w["certificate_hash"])
    R.eq("block v2: last_certificate (bytes 159..191) commits to block 1's certificate", hb2[159:191], certificate_hash(cb))
    R.eq("block v2: block = header || cert_len:u32 || certificate || count:u32", h2b(w["block_bytes"]),
         hb2 + be(len(cb), 4) + cb + be(0, 4))
    R.rejects("block v2: header decoder rejects a trailing byte", decode_header, hb2 + b"\x00")
    R.rejects("block v2: header decoder rejects version 1 of 191 bytes", decode_header, b"\x01" + hb2[1:])
    ops2 = [("prepend", TAG_BLOCK_HEADER + b"\x00" + hb2[:95]), ("append", hb2[127:]), ("sha256",)]
    R.eq("block v2: OTS ops from log_root (append 64 bytes) give the block hash", apply_ots(h2["log_root"], ops2),
         block_hash(hb2))
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


# --------------------------------------------------------------------------
# Anchoring (FORMATS.md 17-21): block history, anchor commitment,
# AnchorRecord, the Bitcoin part, anchored proof bundles
# --------------------------------------------------------------------------

class Invalid(Exception):
    """A failed link of a proof: str(e) starts with the link's name."""


def h2(b: bytes) -> bytes:
    """Bitcoin's double SHA-256 (internal byte order)."""
    return hashlib.sha256(hashlib.sha256(b).digest()).digest()


MAX_BTC_TX, MAX_BRANCH, MAX_HEADERS = 100_000, 32, 2016
# The confirmations a version-1 genesis's stated network needs (FORMATS 11.7).
DEFAULT_CONFIRMATIONS = {"bitcoin": 6, "testnet4": 6, "signet": 6, "regtest": 1}
PART_MAX = 1 + 4 + MAX_BTC_TX + 4 + 2 + 32 * MAX_BRANCH + 2 + 80 * MAX_HEADERS

POW_LIMIT = {
    "bitcoin": 0x00000000FFFF << 208,
    "main": 0x00000000FFFF << 208,
    "test": 0x00000000FFFF << 208,
    "testnet4": 0x00000000FFFF << 208,
    "signet": 0x00000377AE << 216,
    "regtest": 0x7FFFFF << 232,
}


def history_leaf(block_hash_: bytes) -> bytes:
    """FORMATS 17.1: leaf h-1 of the block history is SHA-256(0x00 || block hash h)."""
    assert len(block_hash_) == 32
    return log_leaf(block_hash_)


def anchor_commitment(genesis_hash: bytes, height: int, history_root: bytes) -> bytes:
    """FORMATS 18."""
    return tagged(TAG_ANCHOR, genesis_hash + be(height, 8) + history_root)


def root_from_path(leaf_index: int, tree_size: int, path: list[bytes], leaf: bytes) -> bytes | None:
    """RFC 9162 2.1.3.2 without the final comparison: the root the path leads to."""
    if leaf_index >= tree_size:
        return None
    fn, sn, r = leaf_index, tree_size - 1, leaf
    for p in path:
        if sn == 0:
            return None
        if fn & 1 == 1 or fn == sn:
            r = log_node(p, r)
            while fn & 1 == 0 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = log_node(r, p)
        fn >>= 1
        sn >>= 1
    return r if sn == 0 else None


def decode_part(b: bytes) -> dict:
    """FORMATS 20.5.1: the big-endian wrapper of the Bitcoin part."""
    def body(r: Reader) -> dict:
        r.version("bitcoin part")
        raw_tx = r.take(r.count("raw_tx", 4, MAX_BTC_TX))
        tx_index = r.u32()
        branch = [r.take(32) for _ in range(r.count("branch", 2, MAX_BRANCH))]
        headers = [r.take(80) for _ in range(r.count("headers", 2, MAX_HEADERS))]
        return {"raw_tx": raw_tx, "tx_index": tx_index, "branch": branch, "headers": headers}

    return decode_exact(b, PART_MAX, body)


def encode_part(p: dict) -> bytes:
    out = b"\x01" + be(len(p["raw_tx"]), 4) + p["raw_tx"] + be(p["tx_index"], 4)
    out += be(len(p["branch"]), 2) + b"".join(p["branch"])
    return out + be(len(p["headers"]), 2) + b"".join(p["headers"])


def part_from_json(j) -> dict:
    """FORMATS 20.5.2: exactly these members and JSON types, the maxima of
    20.5.1 (counted before decoding), hex of either case."""
    if not isinstance(j, dict) or set(j) != {"raw_tx", "tx_index", "branch", "headers"}:
        raise DecodeError("bitcoin part JSON: exactly raw_tx, tx_index, branch, headers")
    raw_tx, tx_index, branch, headers = j["raw_tx"], j["tx_index"], j["branch"], j["headers"]
    if not isinstance(raw_tx, str) or type(tx_index) is not int or not all(
            isinstance(x, list) and all(isinstance(e, str) for e in x) for x in (branch, headers)):
        raise DecodeError("bitcoin part JSON: member types")
    if len(branch) > MAX_BRANCH or len(headers) > MAX_HEADERS or len(raw_tx) > 2 * MAX_BTC_TX:
        raise DecodeError("bitcoin part JSON over its maxima")
    if not 0 <= tx_index < 2**32:
        raise DecodeError("tx_index")
    return {"raw_tx": h2b(raw_tx), "tx_index": tx_index,
            "branch": [h2b(x, 32) for x in branch], "headers": [h2b(x, 80) for x in headers]}


def parse_btc_tx_outputs(raw: bytes) -> list:
    """FORMATS 20.6.1 step 3: strict legacy (non-witness) parse; returns [(value, script)]."""
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
    """FORMATS 20.6.4 step 2 (Bitcoin Core's SetCompact)."""
    e, m = bits >> 24, bits & 0x007FFFFF
    if m != 0 and bits & 0x00800000:
        raise ValueError("negative")
    if m != 0 and (e > 34 or (m > 0xFF and e > 33) or (m > 0xFFFF and e > 32)):
        raise ValueError("overflow")
    target = m >> (8 * (3 - e)) if e <= 3 else m << (8 * (e - 3))
    if target == 0:
        raise ValueError("zero")
    return target


def verify_part(part: dict, commitment: bytes, chain: str, k: int) -> bytes:
    """FORMATS 20.6: returns the txid (internal order) or raises Invalid."""
    raw = part["raw_tx"]
    if len(raw) > MAX_BTC_TX:
        raise Invalid("transaction: too large")
    if len(raw) == 64:
        raise Invalid("transaction: 64-byte transactions are refused")
    outputs = parse_btc_tx_outputs(raw)
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
    if len(part["headers"]) > MAX_HEADERS:
        raise Invalid("headers: too many")
    branch, index = part["branch"], part["tx_index"]
    if len(branch) > MAX_BRANCH or (len(branch) < MAX_BRANCH and index >> len(branch)):
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


def check_part_failures(name: str, part: dict, commitment: bytes) -> None:
    """The documented failures of a three-confirmation regtest part at index 2 of 3."""
    def fails(what, p, prefix, chain="regtest", k=1, c=commitment):
        try:
            verify_part(p, c, chain, k)
            R.check(f"{name}: {what} is refused", False, "accepted")
        except Invalid as e:
            R.check(f"{name}: {what} is refused ({e})", str(e).startswith(prefix), str(e))

    fails("k=4", part, "confirmations", k=4)
    fails("mainnet", part, "header 0: target above", chain="main")
    fails("the duplicated position tx_index=3", dict(part, tx_index=3), "merkle: right child")
    fails("another commitment", part, "commitment: wrong", c=bytes(32))
    fails("a 64-byte transaction", dict(part, raw_tx=bytes(64)), "transaction: 64-byte")
    fails("a witness serialization", dict(part, raw_tx=part["raw_tx"][:4] + b"\x00\x01" + part["raw_tx"][4:]),
          "transaction")
    for i in range(len(part["headers"])):
        headers = list(part["headers"])
        h = bytearray(headers[i])
        h[79] ^= 0x80
        headers[i] = bytes(h)
        fails(f"a flipped nonce bit in header {i}", dict(part, headers=headers), "header")
    b = list(part["branch"])
    b[1] = bytes([b[1][0] ^ 1]) + b[1][1:]
    fails("a flipped branch bit", dict(part, branch=b), "merkle: root mismatch")


def check_anchor(d: str, pks: dict[bytes, bytes], genesis: dict) -> dict:
    v = load(d, "anchor")
    gh = genesis["hash"]
    R.eq("anchor: genesis hash is genesis.json's", h2b(v["genesis_hash"]), gh)

    # 17 block history log.
    hist = v["history"]
    hashes = [h2b(x, 32) for x in hist["block_hashes"]]
    leaves = [history_leaf(h) for h in hashes]
    R.eq("history: leaf hashes = SHA-256(0x00 || block hash)", [x.hex() for x in leaves], hist["leaf_hashes"])
    for r in hist["roots"]:
        R.eq(f"history: root of blocks 1..={r['size']}", mth(leaves[:r["size"]]), r["root"])
    for p in hist["inclusion_proofs"]:
        h, a = p["height"], p["size"]
        path = [h2b(x, 32) for x in p["path"]]
        n = f"history: block {h} in the history of {a}"
        R.eq(f"{n}: leaf index is height - 1", p["leaf_index"], h - 1)
        R.eq(f"{n}: path = RFC 9162 PATH", [x.hex() for x in rfc_path(h - 1, leaves[:a])], p["path"])
        R.check(f"{n}: inclusion verifies", verify_inclusion(h - 1, a, path, leaves[h - 1], mth(leaves[:a])))

    # 18 anchor commitment.
    c = v["commitment"]
    a = c["height"]
    root = mth(leaves[:a])
    R.eq("commitment: history root at A", root, c["history_root"])
    body = gh + be(a, 8) + root
    R.eq("commitment: body = genesis_hash || A:u64 || history_root (72 bytes)", body, c["body"])
    R.eq("commitment: preimage = 'pantheon/v1/anchor' || 0x00 || body", TAG_ANCHOR + b"\x00" + body, c["preimage"])
    commitment = anchor_commitment(gh, a, root)
    R.eq("commitment: SHA-256 of the preimage", commitment, c["commitment"])

    # 19 AnchorRecord transaction.
    t = v["anchor_record"]
    raw = h2b(t["bytes"])
    tx = decode_tx(raw)
    f = t["fields"]
    R.eq("anchor_record: kind 4, 3,425 bytes", (tx["kind"], len(raw)), (KIND_ANCHOR, ANCHOR_RECORD_SIZE))
    want = {"kind": KIND_ANCHOR, "validator": f["validator"], "height": f["height"],
            "commitment": h2b(f["commitment"], 32), "bitcoin_txid": h2b(f["bitcoin_txid"], 32),
            "bitcoin_block": h2b(f["bitcoin_block"], 32), "bitcoin_height": f["bitcoin_height"]}
    unsigned = encode_unsigned(want)
    R.eq("anchor_record: unsigned bytes from the fields", unsigned, t["unsigned_bytes"])
    R.eq("anchor_record: bytes = unsigned || signature", unsigned + tx["signature"], raw)
    R.eq("anchor_record: signing message = genesis_hash || unsigned", gh + unsigned, t["signing_message"])
    R.eq("anchor_record: id = SHA-256(0x00 || bytes)", tx_id(raw), t["id"])
    R.eq("anchor_record: context", t["context"], CTX_ANCHOR_RECORD.decode())
    vk = genesis["validators"][tx["validator"]]["public_key"]
    R.eq("anchor_record: validator 0 is the key of seed 0x01", vk, pks[h2b(t["signer_seed"], 32)])
    R.check("anchor_record: signature verifies (context pantheon/v1/anchor-record)",
            mldsa_verify(vk, gh + unsigned, tx["signature"], CTX_ANCHOR_RECORD))
    R.check("anchor_record: not with another context", not mldsa_verify(vk, gh + unsigned, tx["signature"], CTX_SUBMIT))
    R.eq("anchor_record: anchors the commitment at A", (tx["height"], tx["commitment"]), (a, commitment))
    R.eq("anchor_record: txid displays reversed", tx["bitcoin_txid"][::-1].hex(), f["bitcoin_txid_displayed"])
    R.eq("anchor_record: block displays reversed", tx["bitcoin_block"][::-1].hex(), f["bitcoin_block_displayed"])
    R.check("anchor_record: valid at the parent height (1 <= A <= block height - 1)",
            1 <= tx["height"] <= t["included_in_block"] - 1 and t["included_in_block"] <= len(hashes))
    R.rejects("anchor_record: decoder rejects a truncated record", decode_tx, raw[:-1])
    R.rejects("anchor_record: decoder rejects a trailing byte", decode_tx, raw + b"\x00")

    # 20 the Bitcoin part.
    b = v["bitcoin"]
    part = decode_part(h2b(b["part_bytes"]))
    R.check("bitcoin: binary encoding decodes and equals the JSON form", part == part_from_json(b["part"]))
    R.eq("bitcoin: re-encoding gives the bytes back", encode_part(part), b["part_bytes"])
    R.eq("bitcoin: size = 13 + len(raw_tx) + 32 n_branch + 80 n_headers", len(h2b(b["part_bytes"])),
         13 + len(part["raw_tx"]) + 32 * len(part["branch"]) + 80 * len(part["headers"]))
    R.rejects("bitcoin: decoder rejects a trailing byte", decode_part, h2b(b["part_bytes"]) + b"\x00")
    R.rejects("bitcoin: decoder rejects version 2", decode_part, b"\x02" + h2b(b["part_bytes"])[1:])
    off = b["commitment_offset"]
    R.eq("bitcoin: payload = 'PNTH' 01 commitment", h2b(b["payload"]), b"PNTH\x01" + commitment)
    R.eq("bitcoin: commitment verbatim in raw_tx at its offset", part["raw_tx"][off:off + 32], commitment)
    for k in range(1, b["confirmations"] + 1):
        txid = verify_part(part, commitment, b["network"], k)
        R.eq(f"bitcoin: verifies at k={k}; txid = H2(raw_tx)", txid, b["txid"])
    R.eq("bitcoin: txid displayed reversed", txid[::-1].hex(), b["txid_displayed"])
    R.eq("bitcoin: the record names this txid", tx["bitcoin_txid"], txid)
    R.eq("bitcoin: the record names block H2(headers[0])", tx["bitcoin_block"], h2(part["headers"][0]))
    for i, hh in enumerate(b["header_hashes"]):
        R.eq(f"bitcoin: header {i} hash (internal, displayed)", (h2(part["headers"][i]).hex(), h2(part["headers"][i])[::-1].hex()),
             (hh["internal"], hh["displayed"]))
        R.eq(f"bitcoin: header {i} nBits", int.from_bytes(part["headers"][i][72:76], "little"), b["bits"])
    check_part_failures("bitcoin", part, commitment)

    # 13: the whole path from block 1's hash to Bitcoin's merkle root as
    # OpenTimestamps operations.
    p1 = next(p for p in hist["inclusion_proofs"] if p["height"] == 1 and p["size"] == a)
    ops = [("prepend", b"\x00"), ("sha256",)]
    ops += inclusion_ots_ops(0, a, [h2b(x, 32) for x in p1["path"]])
    ops += [("prepend", TAG_ANCHOR + b"\x00" + gh + be(a, 8)), ("sha256",)]
    ops += [("prepend", part["raw_tx"][:off]), ("append", part["raw_tx"][off + 32:]), ("sha256",), ("sha256",)]
    for i, s in enumerate(part["branch"]):
        ops += [("prepend", s)] if (part["tx_index"] >> i) & 1 else [("append", s)]
        ops += [("sha256",), ("sha256",)]
    R.eq("ots: block 1 hash -> history -> commitment -> txid -> Bitcoin merkle root",
         apply_ots(hashes[0], ops), part["headers"][0][36:68])

    # The worked example of FORMATS 20.8 is bitcoin-part.json (check_bitcoin_part).
    return {"commitment": commitment, "record": tx}


def check_bitcoin_part(d: str) -> None:
    """bitcoin-part.json: the worked example of FORMATS 20.8, re-derived
    from its raw transaction and headers."""
    v = load(d, "bitcoin-part")
    commitment = h2b(v["commitment"], 32)
    R.eq("example 20.8: commitment = SHA-256('pantheon example commitment')", commitment,
         sha256(b"pantheon example commitment"))
    raw = h2b(v["raw_tx"])
    R.eq("example 20.8: raw_tx is 130 bytes", len(raw), 130)
    off = v["commitment_offset"]
    R.eq("example 20.8: the commitment starts at byte 63 of raw_tx", (off, raw[off:off + 32]), (63, commitment))
    R.eq("example 20.8: payload = 'PNTH' 01 commitment", h2b(v["payload"]), b"PNTH\x01" + commitment)
    R.check("example 20.8: outpoint H2('funding'):0, sequence 0xfffffffd, change 99,999,684 sat",
            raw[5:37] == h2(b"funding") and raw[37:41] == bytes(4) and raw[42:46] == b"\xfd\xff\xff\xff"
            and raw[95:103] == (99_999_684).to_bytes(8, "little") and raw[103:106] == b"\x16\x00\x14")
    txid = h2(raw)
    R.eq("example 20.8: txid = H2(raw_tx)", txid, v["txid"])
    R.eq("example 20.8: txid displayed reversed", txid[::-1].hex(), v["txid_displayed"])
    t = [h2(b"coinbase"), h2(b"filler"), txid]
    R.eq("example 20.8: the block's transactions", [x.hex() for x in t], v["block_transactions"])
    n01, n22 = h2(t[0] + t[1]), h2(t[2] + t[2])
    R.eq("example 20.8: n01 = H2(t0 || t1)", n01, v["n01"])
    R.eq("example 20.8: n22 = H2(t2 || t2) (odd level)", n22, v["n22"])
    R.eq("example 20.8: merkle root = H2(n01 || n22)", h2(n01 + n22), v["merkle_root"])
    part = decode_part(h2b(v["part_bytes"]))
    R.check("example 20.8: binary encoding equals the JSON form", part == part_from_json(v["part"]))
    R.eq("example 20.8: binary encoding is 447 bytes", len(h2b(v["part_bytes"])), 447)
    R.eq("example 20.8: re-encoding gives the bytes back", encode_part(part), v["part_bytes"])
    R.check("example 20.8: tx_index 2, branch [txid, n01], 3 headers",
            part["raw_tx"] == raw and part["tx_index"] == 2 and part["branch"] == [txid, n01]
            and len(part["headers"]) == 3)
    prev = ZERO
    for i, (hdr, hh) in enumerate(zip(part["headers"], v["header_hashes"])):
        R.eq(f"example 20.8: header {i} hash (internal, displayed)", (h2(hdr).hex(), h2(hdr)[::-1].hex()),
             (hh["internal"], hh["displayed"]))
        R.check(f"example 20.8: header {i} fields (version 0x20000000, prev, time, nBits)",
                hdr[:4] == (0x20000000).to_bytes(4, "little") and hdr[4:36] == prev
                and int.from_bytes(hdr[68:72], "little") == 1_700_000_000 + 600 * i
                and int.from_bytes(hdr[72:76], "little") == v["bits"]
                and hdr[36:68] == (h2(n01 + n22) if i == 0 else bytes([i]) * 32))
        prev = h2(hdr)
    def verdict(p, chain, k):
        try:
            verify_part(p, commitment, chain, k)
            return None
        except Invalid as e:
            return str(e).split(":")[0]
    for w in v["verdicts"]:
        R.eq(f"example 20.8: on {w['network']} with k={w['confirmations']}: fails at {w['fails']}",
             verdict(part, w["network"], w["confirmations"]), w["fails"])
    w = v["tx_index_3"]
    R.eq("example 20.8: claiming tx_index 3 (the duplicated position) fails at merkle",
         verdict(dict(part, tx_index=3), w["network"], w["confirmations"]), w["fails"])
    check_part_failures("example 20.8", part, commitment)


# --------------------------------------------------------------------------
# Reading a bundle (FORMATS 22.6): the JSON text, the structure, then each
# member by the link that uses it
# --------------------------------------------------------------------------

MAX_PATH_HASHES = 64
MAX_JSON_DEPTH = 16


def read_json_text(text: str):
    """The JSON readers of FORMATS 1.11, for a bundle or a genesis file:
    RFC 8259 only (no NaN or Infinity, no number beyond a double), no
    object with two members of the same name, no unpaired surrogate, arrays
    and objects nested at most 16 deep. `-0` is not an integer (a double,
    as serde_json reads it). Raises DecodeError."""
    def pairs(items):
        out = {}
        for k, v in items:
            if k in out:
                raise DecodeError(f"duplicate member {k!r}")
            out[k] = v
        return out

    def constant(name):
        raise DecodeError(f"{name} is not JSON")

    def number(text_):
        f = float(text_)
        if f in (float("inf"), float("-inf")):
            raise DecodeError(f"number {text_} is out of range")
        return f

    def integer(text_):
        return -0.0 if text_ == "-0" else int(text_)

    try:
        doc = json.loads(text, object_pairs_hook=pairs, parse_constant=constant, parse_float=number,
                         parse_int=integer)
    except (ValueError, RecursionError) as e:
        raise DecodeError(f"not JSON: {e}") from None

    def walk(v, depth):
        if isinstance(v, (dict, list)):
            if depth + 1 > MAX_JSON_DEPTH:
                raise DecodeError(f"arrays and objects nested more than {MAX_JSON_DEPTH} deep")
            items = v.items() if isinstance(v, dict) else enumerate(v)
            for k, x in items:
                if isinstance(k, str):
                    k.encode("utf-8")
                walk(x, depth + 1)
        elif isinstance(v, str):
            v.encode("utf-8")

    try:
        walk(doc, 0)
    except UnicodeEncodeError:
        raise DecodeError("a string with an unpaired surrogate") from None
    return doc


def read_bundle_text(text: str) -> dict:
    """FORMATS 22.6, stage 1: any failure is the format link."""
    try:
        return read_json_text(text)
    except DecodeError as e:
        raise Invalid(f"format: {e}") from None


def check_structure(b) -> None:
    """FORMATS 22.6, stage 2 (the format link): version 1 or 2, the members
    of 16, 21 and 22.1 present with their JSON types, nothing else in
    `inclusion` and `anchor`. Other top-level members are ignored."""
    def fail(why):
        raise Invalid(f"format: {why}")

    def is_int(x):
        return type(x) is int and 0 <= x <= U64_MAX

    def is_strings(x):
        return isinstance(x, list) and all(isinstance(e, str) for e in x)

    kinds = {"string": lambda x: isinstance(x, str), "integer": is_int, "object": lambda x: isinstance(x, dict),
             "strings": is_strings}

    def need(obj, what, name, kind, optional=False):
        if name not in obj:
            if optional:
                return
            fail(f"{what} has no member {name}")
        if not kinds[kind](obj[name]):
            fail(f"member {name} of {what} is not {kind}")

    if not isinstance(b, dict):
        fail("a bundle is a JSON object")
    if "version" not in b:
        fail("no version")
    if type(b["version"]) is not int or b["version"] not in (1, 2):
        fail(f"unsupported version {b['version']!r}")
    v1 = b["version"] == 1
    need(b, "the bundle", "genesis_hash", "string")
    need(b, "the bundle", "genesis", "string", optional=not v1)
    for name in ("submission", "operator_key", "header", "certificate"):
        need(b, "the bundle", name, "string")
    need(b, "the bundle", "inclusion", "object")
    need(b, "the bundle", "anchor", "object", optional=True)
    inc = b["inclusion"]
    need(inc, "inclusion", "leaf_index", "integer")
    need(inc, "inclusion", "tree_size", "integer")
    need(inc, "inclusion", "path", "strings" if v1 else "string")
    if set(inc) != {"leaf_index", "tree_size", "path"}:
        fail("an unknown member in inclusion")
    if "anchor" in b:
        an = b["anchor"]
        need(an, "anchor", "height", "integer")
        need(an, "anchor", "history_proof", "strings" if v1 else "string")
        need(an, "anchor", "commitment", "string")
        need(an, "anchor", "bitcoin", "object" if v1 else "string")
        if v1:
            need(an, "anchor", "record", "string")
        if set(an) != {"height", "history_proof", "commitment", "bitcoin"} | ({"record"} if v1 else set()):
            fail("an unknown member in anchor")


def b64(text: str) -> bytes:
    """FORMATS 22.2: RFC 4648 base64 with padding, canonical (re-encoding
    gives the same text), nothing else."""
    try:
        raw = base64.b64decode(text, validate=True)
    except ValueError as e:
        raise DecodeError(f"invalid base64: {e}") from None
    if base64.b64encode(raw).decode() != text:
        raise DecodeError("non-canonical base64")
    return raw


def b64_hashes(text: str) -> list[bytes]:
    """FORMATS 22.2: a path is the base64 of its 32-byte hashes, concatenated."""
    raw = b64(text)
    if len(raw) % 32 or len(raw) > MAX_PATH_HASHES * 32:
        raise DecodeError(f"a path is at most {MAX_PATH_HASHES} hashes of 32 bytes")
    return [raw[i:i + 32] for i in range(0, len(raw), 32)]


def hex_hashes(items: list[str]) -> list[bytes]:
    """Version 1 (FORMATS 16, 22.7): at most 64 hashes of 64 hex digits, counted first."""
    if len(items) > MAX_PATH_HASHES:
        raise DecodeError(f"{len(items)} hashes, more than {MAX_PATH_HASHES}")
    return [h2b(x, 32) for x in items]


def verify_bundle_text(text: str, *args, **kw) -> dict:
    """A bundle as a verifier receives it: its text (FORMATS 22.6)."""
    return verify_bundle(read_bundle_text(text), *args, **kw)


def verify_bundle(b: dict, trusted_genesis: bytes | None = None, chain: str | None = None, k: int | None = None,
                  genesis_header: bytes | None = None, checkpoint: bytes | None = None) -> dict:
    """FORMATS 16, 21 (version 1) and 22 (version 2): every link of an
    (anchored) proof bundle, in order, each member decoded by the link that
    uses it (22.6). `genesis_header` is the verifier's copy of the
    network's genesis header, for a bundle that does not carry it. `chain`
    is the Bitcoin network the verifier states (a version-2 genesis commits
    one, which must agree; a version-1 genesis needs it), `k`
    confirmations beyond the genesis's, `checkpoint` the internal-order
    hash of a Bitcoin block the verifier trusts (FORMATS 11.7). Raises
    Invalid naming the first link that fails."""
    def link(name, fn):
        try:
            return fn()
        except (DecodeError, ValueError, KeyError, IndexError, TypeError) as e:
            raise Invalid(f"{name}: {e}") from None

    check_structure(b)
    v1 = b["version"] == 1
    raw = h2b if v1 else b64
    bundle_gh = link("genesis", lambda: h2b(b["genesis_hash"], 32))
    if "genesis" in b:
        gb = link("genesis", lambda: raw(b["genesis"]))
    elif genesis_header is not None:
        gb = genesis_header
    else:
        raise Invalid("genesis: the bundle does not carry its genesis; supply it")
    g = link("genesis", lambda: decode_genesis_header(gb))
    gh = tagged(TAG_GENESIS, gb)
    pinned = [x for x in (trusted_genesis, genesis_header and tagged(TAG_GENESIS, genesis_header)) if x]
    if gh != bundle_gh or any(gh != x for x in pinned):
        raise Invalid("genesis: hash mismatch")
    sub_bytes = link("submission", lambda: raw(b["submission"]))
    sub = link("submission", lambda: decode_tx(sub_bytes))
    if sub["kind"] != KIND_SUBMIT:
        raise Invalid("submission: not a root submission")
    op_key = link("submission", lambda: raw(b["operator_key"]))
    if len(op_key) != PUBLIC_KEY_LEN or key_id(op_key) != sub["operator"]:
        raise Invalid("submission: not a submission of the operator key")
    if not mldsa_verify(op_key, gh + sub_bytes[:-SIGNATURE_LEN], sub["signature"], CTX_SUBMIT):
        raise Invalid("submission: signature does not verify")
    hb = link("header", lambda: raw(b["header"]))
    header = link("header", lambda: decode_header(hb))
    cert = link("certificate", lambda: decode_certificate(raw(b["certificate"])))
    if cert["block_hash"] != block_hash(hb) or cert["height"] != header["height"]:
        raise Invalid("header: not the certified block")
    why = verify_certificate(cert, gh, g["validators"], hb)
    if why:
        raise Invalid(f"certificate: {why}")
    inc = b["inclusion"]
    path = link("path", lambda: hex_hashes(inc["path"]) if v1 else b64_hashes(inc["path"]))
    if inc["tree_size"] != header["log_size"] or not verify_inclusion(
            inc["leaf_index"], inc["tree_size"], path, tx_id(sub_bytes), header["log_root"]):
        raise Invalid("path: the submission is not in the header's log")
    out = {"height": header["height"], "block_hash": block_hash(hb), "anchor": None,
           "seq": sub["seq"], "root": sub["root"], "operator": sub["operator"], "genesis_hash": gh,
           "prev": sub["prev"], "id": tx_id(sub_bytes), "state_root": header["state_root"],
           "time_ms": header["time_ms"]}
    if "anchor" not in b:
        return out
    an = b["anchor"]
    s, a = header["height"], an["height"]
    if not (1 <= s <= a):
        raise Invalid("history: anchored height below the block's")
    hist = link("history", lambda: hex_hashes(an["history_proof"]) if v1 else b64_hashes(an["history_proof"]))
    root = root_from_path(s - 1, a, hist, history_leaf(block_hash(hb)))
    if root is None:
        raise Invalid("history: not a path for the block in the anchored history")
    commitment = link("history", lambda: h2b(an["commitment"], 32))
    if anchor_commitment(gh, a, root) != commitment:
        raise Invalid("history: the path does not lead to the commitment")
    # The Bitcoin part is decoded right after history, before the record
    # (whose checks name its transaction and block).
    part = link("bitcoin", lambda: part_from_json(an["bitcoin"]) if v1 else decode_part(b64(an["bitcoin"])))
    out["anchor"] = {"height": a, "commitment": commitment, "bitcoin_txid": h2(part["raw_tx"]),
                     "bitcoin_block": h2(part["headers"][0]) if part["headers"] else None}
    if v1:
        rb = link("anchor_record", lambda: h2b(an["record"]))
        rec = link("anchor_record", lambda: decode_tx(rb))
        if rec["kind"] != KIND_ANCHOR or rec["validator"] >= len(g["validators"]):
            raise Invalid("anchor_record: not a record of a genesis validator")
        if not mldsa_verify(g["validators"][rec["validator"]]["public_key"], gh + rb[:-SIGNATURE_LEN],
                            rec["signature"], CTX_ANCHOR_RECORD):
            raise Invalid("anchor_record: signature does not verify")
        if rec["height"] != a or rec["commitment"] != commitment or rec["bitcoin_txid"] != h2(part["raw_tx"]) \
                or (part["headers"] and rec["bitcoin_block"] != h2(part["headers"][0])):
            raise Invalid("anchor_record: does not match the bundle")
        out["anchor"]["bitcoin_height"] = rec["bitcoin_height"]
    # The network: the genesis's (version 2), else the stated one.
    if g.get("version") == 2:
        if g["bitcoin"] is None:
            raise Invalid("bitcoin: the genesis says the network does not anchor")
        if chain is not None and chain != g["bitcoin"]["network"]:
            raise Invalid(f"bitcoin: the genesis anchors to {g['bitcoin']['network']}, not the stated {chain}")
        chain, need = g["bitcoin"]["network"], g["bitcoin"]["confirmations"]
    elif chain is None:
        raise Invalid("bitcoin: a version-1 genesis commits no Bitcoin network: state one")
    else:
        need = DEFAULT_CONFIRMATIONS[chain]
    need = max(need, k or 0)
    if chain != "regtest" and checkpoint is None:
        raise Invalid(f"bitcoin: headers alone are cheap to forge on {chain}: a checkpoint or live node is needed")
    try:
        verify_part(part, commitment, chain, need)
    except Invalid as e:
        raise Invalid(f"bitcoin: {e}") from None
    if checkpoint is not None and checkpoint not in [h2(h) for h in part["headers"]]:
        raise Invalid("bitcoin: the headers do not reach the checkpoint")
    out["anchor"]["network"], out["anchor"]["required"] = chain, need
    return out


def verify_record_proof(p: dict, trusted_genesis: bytes | None = None, depth: int = 0) -> dict:
    """FORMATS 24: a record proof, link by link (record, manifest,
    signature, body, kind, approval, chain, batch, then the bundle's).
    Raises Invalid naming the first link that fails."""
    if not isinstance(p, dict) or p.get("record_proof") != 1:
        raise Invalid("format: not a record proof of version 1")
    if ("record" in p) == ("record_hash" in p):
        raise Invalid("format: exactly one of record and record_hash")
    if "record" not in p and any(k in p for k in ("body", "previous", "next", "manifest")):
        raise Invalid("format: body, previous, next and manifest need the record")
    if "manifest" in p and depth >= 1:
        raise Invalid("format: manifest proofs nest too deep")
    batch, b = p.get("batch"), p.get("bundle")
    if not isinstance(batch, dict) or set(batch) != {"leaf_index", "tree_size", "path"}:
        raise Invalid("format: batch must hold exactly leaf_index, tree_size and path")
    if not isinstance(b, dict):
        raise Invalid("format: bundle is not an object")
    check_structure(b)
    try:
        op_key = b64(b["operator_key"])
    except (DecodeError, ValueError) as e:
        raise Invalid(f"signature: the bundle's operator_key: {e}") from None
    e = None
    if "record" in p:
        try:
            data = b64(p["record"])
        except (DecodeError, ValueError) as err:
            raise Invalid(f"record: {err}") from None
        try:
            e = verify_record(data, op_key, None)
            if "body" in p:
                e = verify_record(data, op_key, p["body"])
        except RecordError as err:
            raise Invalid(f"{err.link}: {err}") from None
        if e["kind"] == "decision":
            if "manifest" not in p:
                raise Invalid("manifest: the decision's manifest is not carried")
            m = p["manifest"]
            if "record" not in m:
                raise Invalid("manifest: the manifest proof must disclose the record")
            try:
                me = verify_record(b64(m["record"]), op_key, None)
            except (RecordError, DecodeError, ValueError) as err:
                raise Invalid(f"manifest: {err}") from None
            if me["hash"] != e["manifest"] or me["kind"] != "manifest":
                raise Invalid("manifest: the proof is of another record")
        elif "manifest" in p:
            raise Invalid("manifest: a manifest proof for a record that names none")
        for name, mine in (("previous", False), ("next", True)):
            if name in p:
                try:
                    n = verify_record(b64(p[name]), op_key, None)
                    if mine:
                        record_follows(n, e)
                    else:
                        record_follows(e, n)
                except (RecordError, DecodeError, ValueError) as err:
                    raise Invalid(f"chain: {name}: {err}") from None
        if "previous" not in p and e["index"] == 0:
            try:
                record_follows(e, None)
            except RecordError as err:
                raise Invalid(f"chain: {err}") from None
        rh = e["hash"]
    else:
        try:
            rh = h2b(p["record_hash"], 32)
        except (DecodeError, ValueError) as err:
            raise Invalid(f"record: record_hash: {err}") from None
    try:
        path = b64_hashes(batch["path"])
    except (DecodeError, ValueError) as err:
        raise Invalid(f"batch: path: {err}") from None
    if len(path) > 32:
        raise Invalid("batch: more than 32 hashes")
    root = root_from_path(batch["leaf_index"], batch["tree_size"], path, log_leaf(rh))
    if root is None:
        raise Invalid("batch: the path does not have the shape of its leaf and size")
    try:
        sub = decode_tx(b64(b["submission"]))
    except (DecodeError, ValueError):
        sub = None
    if sub is not None and sub["kind"] == KIND_SUBMIT:
        if sub["root"] != root:
            raise Invalid("batch: the path does not lead to the submission's root")
        if sub["record_count"] is not None and sub["record_count"] != batch["tree_size"]:
            raise Invalid("batch: the submission's record count is not the batch's size")
    out = verify_bundle(b, trusted_genesis)
    if out["root"] != root:
        raise Invalid("root: the bundle proves another root")
    out["record_hash"] = rh
    out["leaf_index"] = batch["leaf_index"]
    if e is not None and e["kind"] == "decision":
        try:
            mo = verify_record_proof(p["manifest"], trusted_genesis, depth + 1)
        except Invalid as err:
            raise Invalid(f"manifest: the manifest's proof: {err}") from None
        earlier = mo["seq"] < out["seq"] or (mo["seq"] == out["seq"] and mo["leaf_index"] < out["leaf_index"])
        if not earlier or mo["genesis_hash"] != out["genesis_hash"]:
            raise Invalid("manifest: not sealed before the decision on the same network")
    return out


def first_link(fn) -> str | None:
    """The link a verification fails at (None: valid)."""
    try:
        fn()
        return None
    except Invalid as e:
        return str(e).split(":")[0]


def check_limits(d: str) -> None:
    """bundle-limits.json (FORMATS 22.7): a bundle at every path limit
    verifies; the header count limit holds in the binary Bitcoin part."""
    v = load(d, "bundle-limits")
    b = v["bundle"]
    out = verify_bundle(b)
    R.check("limits: the bundle at every limit verifies with nothing supplied", out["anchor"] is not None)
    R.eq("limits: 64 inclusion path hashes", len(b64_hashes(b["inclusion"]["path"])), MAX_PATH_HASHES)
    R.eq("limits: 64 history path hashes", len(b64_hashes(b["anchor"]["history_proof"])), MAX_PATH_HASHES)
    part = decode_part(b64(b["anchor"]["bitcoin"]))
    R.eq("limits: 32 branch hashes", len(part["branch"]), MAX_BRANCH)
    R.eq("limits: the counts the file states", (v["inclusion_path_hashes"], v["history_path_hashes"],
                                               v["branch_hashes"], v["headers"]), (64, 64, 32, 3))
    R.eq("limits: log size and anchored height 2^64 - 1", (b["inclusion"]["tree_size"], b["anchor"]["height"]),
         (U64_MAX, U64_MAX))
    many = dict(part, headers=[bytes(80)] * MAX_HEADERS)
    R.eq("limits: a binary part of 2,016 headers decodes", len(decode_part(encode_part(many))["headers"]),
         MAX_HEADERS)
    R.rejects("limits: a binary part of 2,017 headers is refused", decode_part,
              encode_part(dict(part, headers=[bytes(80)] * (MAX_HEADERS + 1))))
    R.rejects("limits: a JSON part of 2,017 headers is refused", part_from_json,
              {"raw_tx": part["raw_tx"].hex(), "tx_index": 0, "branch": [], "headers": ["00" * 80] * 2017})


def check_malformed(d: str, genesis: dict) -> None:
    """bundle-malformed.json: each case read from its text (22.6) and
    checked with its base's trust fails at the named link, or verifies."""
    v = load(d, "bundle-malformed")
    bases = {"bundle": load(d, "bundle"), "bundle-v1": load(d, "bundle-v1"),
             "limits": load(d, "bundle-limits")["bundle"], "none": None}
    trust = {"bundle": {"chain": "regtest", "genesis_header": genesis["header"]},
             "bundle-v1": {"chain": "regtest"}, "limits": {}, "none": {}}
    names = [c["name"] for c in v["cases"]]
    R.check(f"malformed: {len(names)} cases with unique names", len(set(names)) == len(names))
    for c in v["cases"]:
        if "text" in c:
            text = c["text"]
        else:
            doc = copy.deepcopy(bases[c["base"]])
            for e in c.get("edits", []):
                *parents, last = e["at"]
                obj = doc
                for p in parents:
                    obj = obj[p]
                if e.get("remove"):
                    del obj[last]
                else:
                    obj[last] = e["value"]
            text = json.dumps(doc)
            if "insert" in c:
                text = "{" + c["insert"] + text[1:]
        got = first_link(lambda: verify_bundle_text(text, **trust[c["base"]]))
        R.eq(f"malformed ({c['base']}): {c['name']} -> {c['failed_link'] or 'valid'}", got, c["failed_link"])
    links = {c["failed_link"] for c in v["cases"]}
    R.check("malformed: every link that reads a member is covered",
            links >= {None, "format", "genesis", "submission", "header", "certificate", "path", "history",
                      "anchor_record", "bitcoin"})


def check_pinned_bundles(d: str) -> None:
    """bundle-pinned.json: the Bitcoin network comes from a version-2
    genesis, and off regtest headers alone are refused (FORMATS 11.7); the
    kind-5 record carries the Bitcoin part (19.1)."""
    v = load(d, "bundle-pinned")
    reg, tn4 = v["regtest"], v["testnet4"]
    rv = v["record_kind5"]
    rb = h2b(rv["bytes"])
    rec = decode_tx(rb)
    gh = tagged(TAG_GENESIS, b64(reg["genesis"]))
    R.eq("record kind 5: kind byte", rec["kind"], KIND_ANCHOR_WITH_PART)
    R.eq("record kind 5: size 3,363 + part", len(rb), 3363 + len(encode_part(rec["part"])))
    R.eq("record kind 5: the part is the regtest bundle's", encode_part(rec["part"]), b64(reg["anchor"]["bitcoin"]))
    R.check("record kind 5: height and commitment are the bundle's",
            rec["height"] == reg["anchor"]["height"] and rec["commitment"] == h2b(reg["anchor"]["commitment"]))
    R.eq("record kind 5: id", tx_id(rb), h2b(rv["id"]))
    R.check("record kind 5: validator 0's signature verifies (context anchor-record)",
            mldsa_verify(decode_genesis_header(b64(reg["genesis"]))["validators"][0]["public_key"],
                         gh + rb[:-SIGNATURE_LEN], rec["signature"], CTX_ANCHOR_RECORD))
    R.rejects("record kind 5: decoder rejects a truncated part", decode_tx, rb[:60] + rb[61:])
    out = verify_bundle(reg)
    R.check("bundle-pinned regtest: valid with no trust given, network from the genesis",
            out["anchor"]["network"] == "regtest" and out["anchor"]["required"] == 3)
    R.check("bundle-pinned regtest: genesis version 2, committing regtest",
            decode_genesis_header(b64(reg["genesis"]))["bitcoin"] == {"network": "regtest", "confirmations": 3})

    def refused(what, b, prefix, **kw):
        try:
            verify_bundle(b, **kw)
            R.check(f"bundle-pinned: {what} is refused", False, "accepted")
        except Invalid as e:
            R.check(f"bundle-pinned: {what} is refused at '{prefix}' ({e})", str(e).startswith(prefix), str(e))

    refused("regtest, checked as testnet4", reg, "bitcoin: the genesis anchors to regtest", chain="testnet4")
    refused("regtest, asking 4 confirmations of 3", reg, "bitcoin: confirmations", k=4)
    refused("testnet4 genesis with regtest-difficulty headers and no checkpoint", tn4, "bitcoin: headers alone")
    first = h2(decode_part(b64(tn4["anchor"]["bitcoin"]))["headers"][0])
    refused("testnet4 genesis with regtest-difficulty headers and a checkpoint", tn4, "bitcoin: header 0",
            checkpoint=first)
    refused("a version-1 genesis with no stated network", load(d, "bundle-v1"), "bitcoin: a version-1 genesis")


def check_bundle(d: str, genesis: dict, anchor: dict) -> None:
    """bundle.json (version 2, verified with genesis.json's header) and
    bundle-v1.json (version 1, carrying its genesis and the record)."""
    g = genesis["header"]
    b2, b1 = load(d, "bundle"), load(d, "bundle-v1")
    for name, b, kw in (("bundle", b2, {"genesis_header": g}), ("bundle-v1", b1, {})):
        out = verify_bundle(b, genesis["hash"], "regtest", 3, **kw)
        R.check(f"{name}: every link verifies (genesis .. path, history, {'anchor_record, ' if name == 'bundle-v1' else ''}"
                "bitcoin at k=3)", True)
        R.eq(f"{name}: the submission's block is block 1", out["height"], 1)
        R.eq(f"{name}: anchored commitment is anchor.json's", out["anchor"]["commitment"], anchor["commitment"])
        R.eq(f"{name}: the Bitcoin transaction is the one anchor.json's record names", out["anchor"]["bitcoin_txid"],
             anchor["record"]["bitcoin_txid"])
        plain = {k: v for k, v in b.items() if k != "anchor"}
        R.check(f"{name}: without 'anchor' it is a valid finality-only bundle",
                verify_bundle(plain, **kw)["anchor"] is None)
    R.check("bundle: version 2 carries no genesis and no record",
            "genesis" not in b2 and "record" not in b2["anchor"])
    R.eq("bundle: the same submission, header and certificate as bundle-v1", b64(b2["submission"]) + b64(b2["header"])
         + b64(b2["certificate"]), h2b(b1["submission"]) + h2b(b1["header"]) + h2b(b1["certificate"]))
    for what, kw in (("without the genesis supplied", {}),
                     ("with another network's genesis supplied", {"genesis_header": g[:-1] + bytes([g[-1] ^ 1])})):
        try:
            verify_bundle(b2, None, "regtest", 3, **kw)
            R.check(f"bundle: {what} is refused", False, "accepted")
        except Invalid as e:
            R.check(f"bundle: {what} is refused at link 'genesis' ({e})", str(e).startswith("genesis:"), str(e))
    embedded = dict(b2, genesis=base64.b64encode(g).decode())
    R.check("bundle: with the genesis embedded it verifies alone", verify_bundle(embedded, genesis["hash"], "regtest", 3)
            ["anchor"] is not None)

    def flip_hex(hexs: str, at: int) -> str:
        raw = bytearray(h2b(hexs))
        raw[at] ^= 1
        return raw.hex()

    def flip_b64(text: str, at: int) -> str:
        raw = bytearray(b64(text))
        raw[at] ^= 1
        return base64.b64encode(bytes(raw)).decode()

    def tampered(name: str, b: dict, kw: dict, what: str, prefix: str, edit) -> None:
        t = json.loads(json.dumps(b))
        edit(t)
        try:
            verify_bundle(t, None, "regtest", 3, **kw)
            R.check(f"{name}: {what} is refused", False, "accepted")
        except Invalid as e:
            R.check(f"{name}: {what} is refused at link '{prefix}' ({e})", str(e).startswith(prefix + ":"), str(e))

    # Version 1: hex members, and the record.
    t1 = lambda what, prefix, edit: tampered("bundle-v1", b1, {}, what, prefix, edit)  # noqa: E731
    t1("a flipped bit in the history path", "history",
       lambda t: t["anchor"]["history_proof"].__setitem__(0, flip_hex(t["anchor"]["history_proof"][0], 0)))
    t1("another anchored height", "history", lambda t: t["anchor"].__setitem__("height", t["anchor"]["height"] + 1))
    t1("a flipped commitment bit", "history",
       lambda t: t["anchor"].__setitem__("commitment", flip_hex(t["anchor"]["commitment"], 31)))
    t1("a flipped record signature bit", "anchor_record",
       lambda t: t["anchor"].__setitem__("record", flip_hex(t["anchor"]["record"], 200)))
    t1("a flipped record txid bit", "anchor_record",
       lambda t: t["anchor"].__setitem__("record", flip_hex(t["anchor"]["record"], 2 + 2 + 8 + 32)))
    t1("a flipped raw_tx bit", "anchor_record",
       lambda t: t["anchor"]["bitcoin"].__setitem__("raw_tx", flip_hex(t["anchor"]["bitcoin"]["raw_tx"], 0)))
    t1("a flipped branch bit", "bitcoin",
       lambda t: t["anchor"]["bitcoin"]["branch"].__setitem__(1, flip_hex(t["anchor"]["bitcoin"]["branch"][1], 0)))
    t1("a flipped bit in the last header", "bitcoin",
       lambda t: t["anchor"]["bitcoin"]["headers"].__setitem__(2, flip_hex(t["anchor"]["bitcoin"]["headers"][2], 79)))
    t1("a flipped submission bit", "submission", lambda t: t.__setitem__("submission", flip_hex(t["submission"], 40)))
    t1("a flipped header bit", "header", lambda t: t.__setitem__("header", flip_hex(t["header"], 20)))
    t1("a flipped inclusion path bit", "path",
       lambda t: t["inclusion"].__setitem__("path", [flip_hex(x, 0) for x in t["inclusion"]["path"]] or ["00" * 32]))

    # Version 2: base64 members; a changed transaction is the bitcoin link.
    kw2 = {"genesis_header": g}
    t2 = lambda what, prefix, edit: tampered("bundle", b2, kw2, what, prefix, edit)  # noqa: E731
    hist_len = len(b64(b2["anchor"]["history_proof"]))
    t2("a flipped bit in the history path", "history",
       lambda t: t["anchor"].__setitem__("history_proof", flip_b64(t["anchor"]["history_proof"], 0)))
    t2("a history path cut mid-hash", "history",
       lambda t: t["anchor"].__setitem__("history_proof", base64.b64encode(b64(t["anchor"]["history_proof"])[:hist_len - 1]).decode()))
    t2("another anchored height", "history", lambda t: t["anchor"].__setitem__("height", t["anchor"]["height"] + 1))
    t2("a flipped commitment bit", "history",
       lambda t: t["anchor"].__setitem__("commitment", flip_hex(t["anchor"]["commitment"], 31)))
    t2("a record member", "format", lambda t: t["anchor"].__setitem__("record", b1["anchor"]["record"]))
    raw_tx_at = 1 + 4  # version, length: the first byte of raw_tx in the binary part (20.5.1)
    t2("a flipped raw_tx bit", "bitcoin",
       lambda t: t["anchor"].__setitem__("bitcoin", flip_b64(t["anchor"]["bitcoin"], raw_tx_at)))
    t2("a flipped bit in the last header", "bitcoin",
       lambda t: t["anchor"].__setitem__("bitcoin", flip_b64(t["anchor"]["bitcoin"], len(b64(t["anchor"]["bitcoin"])) - 1)))
    t2("a Bitcoin part in its JSON form", "format",
       lambda t: t["anchor"].__setitem__("bitcoin", b1["anchor"]["bitcoin"]))
    t2("a flipped submission bit", "submission", lambda t: t.__setitem__("submission", flip_b64(t["submission"], 40)))
    t2("a hex submission", "submission", lambda t: t.__setitem__("submission", b1["submission"]))
    R.rejects("bundle: base64 with non-zero padding bits ('AB==') is refused", b64, "AB==")
    R.rejects("bundle: base64 without padding ('AA') is refused", b64, "AA")
    R.rejects("bundle: URL-safe base64 ('-_8=') is refused", b64, "-_8=")
    t2("a flipped header bit", "header", lambda t: t.__setitem__("header", flip_b64(t["header"], 20)))
    t2("a flipped certificate signature bit", "certificate",
       lambda t: t.__setitem__("certificate", flip_b64(t["certificate"], 100)))
    t2("a flipped inclusion path bit", "path",
       lambda t: t["inclusion"].__setitem__("path", flip_b64(t["inclusion"]["path"], 0) if t["inclusion"]["path"]
                                            else base64.b64encode(bytes(32)).decode()))
    for name, b, kw in (("bundle", b2, kw2), ("bundle-v1", b1, {})):
        try:
            verify_bundle(b, None, "regtest", 4, **kw)
            R.check(f"{name}: k=4 with 3 headers is refused", False, "accepted")
        except Invalid as e:
            R.check(f"{name}: k=4 with 3 headers is refused ({e})", str(e).startswith("bitcoin: confirmations"))



# --------------------------------------------------------------------------
# Audit records (FORMATS.md 23)
# --------------------------------------------------------------------------

class RecordError(Exception):
    """A refused record; `link` names the failing link."""

    def __init__(self, link: str, detail: str) -> None:
        super().__init__(f"{link}: {detail}")
        self.link = link


def jcs_number(x) -> str:
    """ECMAScript Number::toString, as RFC 8785 3.2.2.3 requires."""
    if isinstance(x, bool):
        raise RecordError("body", "not a number")
    if isinstance(x, int) or float(x).is_integer():
        if abs(x) > MAX_SAFE_INTEGER:
            raise RecordError("body", f"integer {x} beyond 2^53 - 1")
        return str(int(x))
    sign = "-" if x < 0 else ""
    text = repr(abs(float(x)))  # the shortest round-trip digits, as ECMAScript
    mantissa, _, exp = text.partition("e")
    whole, _, frac = mantissa.partition(".")
    all_digits = whole + frac
    lead = len(all_digits) - len(all_digits.lstrip("0"))
    digits = all_digits.lstrip("0").rstrip("0")
    n = len(whole) - lead + int(exp or 0)  # value = 0.digits x 10^n
    k = len(digits)
    if k <= n <= 21:
        out = digits + "0" * (n - k)
    elif 0 < n <= 21:
        out = digits[:n] + "." + digits[n:]
    elif -6 < n <= 0:
        out = "0." + "0" * (-n) + digits
    else:
        e = n - 1
        out = digits[0] + ("." + digits[1:] if k > 1 else "") + "e" + ("+" if e > 0 else "-") + str(abs(e))
    return sign + out


def jcs(v) -> str:
    """RFC 8785 canonical JSON of a parsed value."""
    if v is None:
        return "null"
    if v is True:
        return "true"
    if v is False:
        return "false"
    if isinstance(v, (int, float)):
        return jcs_number(v)
    if isinstance(v, str):
        return json.dumps(v, ensure_ascii=False)
    if isinstance(v, list):
        return "[" + ",".join(jcs(x) for x in v) + "]"
    if isinstance(v, dict):
        keys = sorted(v, key=lambda k: k.encode("utf-16-be"))
        return "{" + ",".join(json.dumps(k, ensure_ascii=False) + ":" + jcs(v[k]) for k in keys) + "}"
    raise RecordError("body", f"not JSON: {type(v).__name__}")


def canonical_body(body) -> bytes:
    if not isinstance(body, dict):
        raise RecordError("body", "must be a JSON object")
    out = jcs(body).encode("utf-8")
    if len(out) > MAX_BODY_LEN:
        raise RecordError("body", "too large")
    return out


def record_body_hash(body) -> bytes:
    return tagged(TAG_RECORD_BODY, canonical_body(body))


def decode_envelope(r: Reader) -> dict:
    r.version("record", RECORD_VERSION)
    e = {"operator": r.take(32)}
    stream = r.short_bytes("stream", MAX_STREAM_LEN)
    if not stream or any(not (chr(b).islower() or chr(b).isdigit() or chr(b) in "._/-") or b > 0x7f for b in stream):
        raise DecodeError("stream: 1 to 64 bytes of [a-z0-9._/-]")
    e["stream"] = stream.decode("ascii")
    e["index"] = r.u64()
    e["prev"] = r.take(32)
    e["time_ms"] = r.u64()
    kind = r.u8()
    if kind not in RECORD_KINDS:
        raise DecodeError(f"kind: invalid tag {kind}")
    e["kind"] = RECORD_KINDS[kind]
    tag = r.u8()
    if tag not in (0, 1):
        raise DecodeError(f"manifest: invalid tag {tag}")
    e["manifest"] = r.take(32) if tag == 1 else None
    e["body_hash"] = r.take(32)
    return e


def encode_envelope(e: dict) -> bytes:
    kind = {v: k for k, v in RECORD_KINDS.items()}[e["kind"]]
    stream = e["stream"].encode("ascii")
    manifest = b"\x00" if e["manifest"] is None else b"\x01" + e["manifest"]
    return (bytes([RECORD_VERSION]) + e["operator"] + bytes([len(stream)]) + stream + be(e["index"], 8)
            + e["prev"] + be(e["time_ms"], 8) + bytes([kind]) + manifest + e["body_hash"])


def decode_record(data: bytes) -> tuple[dict, bytes, bytes]:
    """(envelope fields, envelope bytes, signature) of a sealed record."""
    r = Reader(data)
    e = decode_envelope(r)
    env = data[:r.pos]
    sig = r.take(SIGNATURE_LEN)
    if r.pos != len(data):
        raise DecodeError("trailing bytes after the record")
    return e, env, sig


def check_envelope_rules(e: dict) -> None:
    if e["kind"] == "decision" and e["manifest"] is None:
        raise RecordError("manifest", "a decision must name the manifest in force")
    if e["kind"] in ("manifest", "approval") and e["manifest"] is not None:
        raise RecordError("manifest", "only decisions and events name a manifest")


def check_kind_members(kind: str, body: dict) -> None:
    for member, what in KIND_MEMBERS[kind]:
        if member not in body:
            raise RecordError("kind", f"{kind}: {member} is missing")
        v = body[member]
        if what == "hash":
            ok = isinstance(v, str) and len(v) == 64 and all(c in "0123456789abcdef" for c in v)
        elif what == "number":
            ok = isinstance(v, (int, float)) and not isinstance(v, bool)
        elif what == "present":
            ok = v is not None
        else:
            want = PUBLIC_KEY_LEN if what == "public_key" else SIGNATURE_LEN
            try:
                ok = isinstance(v, str) and len(base64.b64decode(v, validate=True)) == want
            except ValueError:
                ok = False
        if not ok:
            raise RecordError("kind", f"{kind}: {member} is malformed")


def verify_record(data: bytes, public_key: bytes, body=None) -> dict:
    """Verifies a sealed record (and its body, if given); raises RecordError."""
    try:
        e, env, sig = decode_record(data)
    except DecodeError as err:
        raise RecordError("record", str(err)) from err
    check_envelope_rules(e)
    if key_id(public_key) != e["operator"]:
        raise RecordError("signature", "the public key is not the record's operator")
    if not mldsa_verify(public_key, env, sig, CTX_RECORD):
        raise RecordError("signature", "does not verify")
    if body is not None:
        if record_body_hash(body) != e["body_hash"]:
            raise RecordError("body", "does not match body_hash")
        check_kind_members(e["kind"], body)
        if e["kind"] == "approval":
            subject = h2b(body["subject"], 32)
            approver = base64.b64decode(body["approver"])
            asig = base64.b64decode(body["signature"])
            if not mldsa_verify(approver, e["operator"] + subject, asig, CTX_APPROVAL):
                raise RecordError("approval", "the approver's signature does not verify")
    e["hash"] = tagged(TAG_RECORD, data)
    return e


def record_follows(e: dict, prev: dict | None) -> None:
    if prev is None:
        if e["index"] != 0 or e["prev"] != ZERO:
            raise RecordError("chain", "no predecessor")
        return
    if (prev["operator"], prev["stream"]) != (e["operator"], e["stream"]):
        raise RecordError("chain", "another operator or stream")
    if e["index"] != prev["index"] + 1:
        raise RecordError("chain", f"index {e['index']} follows {prev['index']}")
    if e["prev"] != prev["hash"]:
        raise RecordError("chain", "prev is not the previous record's hash")


def check_records(d: str) -> None:
    v = load(d, "records")
    for i, c in enumerate(v["jcs"]):
        n = f"jcs[{i}]"
        body = json.loads(c["input"])
        R.eq(f"{n}: RFC 8785 canonical form", jcs(body), c["canonical"])
        R.eq(f"{n}: body_hash = tagged(record-body, canonical)", record_body_hash(body), c["body_hash"])
    operator_pk = mldsa_public_key(h2b(v["operator_seed"], SEED_LEN))
    approver_pk = mldsa_public_key(h2b(v["approver_seed"], SEED_LEN))
    R.eq("records: operator id from its seed", key_id(operator_pk), v["operator"])
    R.eq("records: approver id from its seed", key_id(approver_pk), v["approver"])
    prev = None
    by_hash: dict[bytes, dict] = {}
    leaves = []
    for rec in v["records"]:
        n = f"records[{rec['name']}]"
        data = h2b(rec["envelope"]) + h2b(rec["signature"], SIGNATURE_LEN)
        f = rec["fields"]
        fields = {"operator": h2b(f["operator"], 32), "stream": f["stream"], "index": f["index"],
                  "prev": h2b(f["prev"], 32), "time_ms": f["time_ms"], "kind": f["kind"],
                  "manifest": None if f["manifest"] is None else h2b(f["manifest"], 32),
                  "body_hash": h2b(f["body_hash"], 32)}
        R.eq(f"{n}: envelope re-encoded from its fields", encode_envelope(fields), rec["envelope"])
        R.eq(f"{n}: body canonical form", jcs(rec["body"]), rec["body_canonical"])
        try:
            e = verify_record(data, operator_pk, rec["body"])
            R.check(f"{n}: signature, body hash, kind members (and approval) verify", True)
        except RecordError as err:
            R.check(f"{n}: verifies", False, str(err))
            continue
        R.eq(f"{n}: record_hash = tagged(record, envelope || signature)", e["hash"], rec["record_hash"])
        R.eq(f"{n}: leaf = SHA-256(0x00 || record_hash)", log_leaf(e["hash"]), rec["leaf"])
        try:
            record_follows(e, prev)
            R.check(f"{n}: follows the previous record of its stream", True)
        except RecordError as err:
            R.check(f"{n}: follows the previous record", False, str(err))
        if e["manifest"] is not None:
            m = by_hash.get(e["manifest"])
            R.check(f"{n}: its manifest is an earlier manifest record", m is not None and m["kind"] == "manifest")
        if e["kind"] == "approval":
            R.check(f"{n}: approves an earlier record", h2b(rec["body"]["subject"], 32) in by_hash)
        by_hash[e["hash"]] = e
        leaves.append(log_leaf(e["hash"]))
        prev = e
    b = v["batch"]
    root = mth(leaves)
    R.eq("records: batch root = MTH(leaves)", root, b["root"])
    for p in b["paths"]:
        path = [h2b(x, 32) for x in p["path"]]
        R.check(f"records: inclusion path of record {p['index']} verifies",
                verify_inclusion(p["index"], b["size"], path, leaves[p["index"]], root))
    first = None
    for rec in v["records"][:1]:
        first = verify_record(h2b(rec["envelope"]) + h2b(rec["signature"]), operator_pk)
    for bad in v["invalid"]:
        n = f"invalid[{bad['name']}]"
        try:
            if "body_text" in bad:
                canonical_body(json.loads(bad["body_text"]))
            elif "envelope" in bad:
                r = Reader(h2b(bad["envelope"]))
                check_envelope_rules(decode_envelope(r))
            else:
                e = verify_record(h2b(bad["record"]), operator_pk, bad.get("body"))
                if "follows" in bad:
                    record_follows(e, first)
            R.check(f"{n}: refused", False, "accepted")
        except RecordError as err:
            R.eq(f"{n}: refused at link {bad['link']}", err.link, bad["link"])


def check_record_proofs(d: str) -> None:
    v = load(d, "record-proof")
    for case in v["valid"]:
        n = f"valid[{case['name']}]"
        try:
            out = verify_record_proof(case["proof"])
            R.check(f"{n}: verifies", out["height"] == 1 and out["seq"] == 0, str(out))
        except Invalid as e:
            R.check(f"{n}: verifies", False, str(e))
    for case in v["invalid"]:
        n = f"invalid[{case['name']}]"
        R.eq(f"{n}: refused at link {case['link']}",
             first_link(lambda: verify_record_proof(case["proof"])), case["link"])


def verify_operator_export(x: dict, trusted_genesis: bytes | None = None) -> dict:
    """FORMATS 25: every bundle (each link as verify_bundle, the export's
    genesis given to a bundle without one), then the state record against
    the last bundle's state root (`state`) and the sequence against it
    (`completeness`). Raises Invalid naming the first link that fails."""
    if not isinstance(x, dict) or x.get("operator_export") != 1:
        raise Invalid("format: not an operator export of version 1")
    subs, st = x.get("submissions"), x.get("state")
    if not isinstance(subs, list) or not 1 <= len(subs) <= 100_000:
        raise Invalid("format: submissions must be a list of 1 to 100000 bundles")
    if not isinstance(st, dict) or set(st) != {"account", "proof"}:
        raise Invalid("format: state must hold exactly account and proof")
    try:
        operator = h2b(x["operator"], 32)
    except (ValueError, KeyError, TypeError) as e:
        raise Invalid(f"format: operator: {e}") from None
    genesis = None
    if "genesis" in x:
        try:
            genesis = b64(x["genesis"])
            decode_genesis_header(genesis)
        except (DecodeError, ValueError, TypeError) as e:
            raise Invalid(f"genesis: {e}") from None
    outs = []
    for i, b in enumerate(subs):
        try:
            outs.append(verify_bundle(b, trusted_genesis, genesis_header=None if "genesis" in b else genesis))
        except Invalid as e:
            raise Invalid(f"{str(e).split(':')[0]}: submissions[{i}]: {e}") from None
    first, last = outs[0], outs[-1]
    for i, o in enumerate(outs):
        if o["operator"] != operator or o["genesis_hash"] != first["genesis_hash"]:
            raise Invalid(f"completeness: submissions[{i}] is of another operator or network")
        if o["seq"] != first["seq"] + i:
            raise Invalid(f"completeness: submissions[{i}] has seq {o['seq']}, not {first['seq'] + i}")
        if (i > 0 and o["prev"] != outs[i - 1]["id"]) or (i == 0 and o["seq"] == 0 and o["prev"] != ZERO):
            raise Invalid(f"completeness: seq {o['seq']} names the wrong previous submission")
    try:
        account_bytes = b64(st["account"])
        account = decode_account(account_bytes)
        proof = proof_from_json(st["proof"])
    except (DecodeError, ValueError, KeyError, TypeError) as e:
        raise Invalid(f"state: {e}") from None
    if not smt_verify(last["state_root"], state_key_account(operator), value_hash(account_bytes), proof):
        raise Invalid("state: the account's proof does not lead to the last block's state root")
    op = account["operator"]
    if op is None:
        raise Invalid("state: not a registered operator's record")
    if op["next_seq"] != last["seq"] + 1 or op["last"] is None or op["last"]["id"] != last["id"]:
        raise Invalid(f"completeness: the state at block {last['height']} names next seq {op['next_seq']}, "
                      f"the export ends at {last['seq']}")
    return {"from_seq": first["seq"], "to_seq": last["seq"], "height": last["height"],
            "anchored": sum(o["anchor"] is not None for o in outs), "count": len(outs),
            "operator": operator, "genesis_hash": first["genesis_hash"]}


def check_operator_exports(d: str) -> None:
    v = load(d, "operator-export")
    valid = 0
    for case in v["cases"]:
        n = f"cases[{case['name']}]"
        if case["fails"] is None:
            try:
                out = verify_operator_export(case["export"])
                R.check(f"{n}: verifies, complete at its last block",
                        out["operator"].hex() == v["operator"] and out["anchored"] == out["count"], str(out))
                valid += 1
            except Invalid as e:
                R.check(f"{n}: verifies", False, str(e))
        else:
            R.eq(f"{n}: refused at link {case['fails']}",
                 first_link(lambda: verify_operator_export(case["export"])), case["fails"])
    R.eq("operator-export: three valid cases", valid, 3)


# --------------------------------------------------------------------------
# OpenTimestamps files (FORMATS.md 13.1)
# --------------------------------------------------------------------------

OTS_MAGIC = b"\x00OpenTimestamps\x00\x00Proof\x00\xbf\x89\xe2\xe8\x84\xe8\x92\x94"
OTS_BITCOIN_TAG = bytes.fromhex("0588960d73d71901")


def ots_parse(data: bytes) -> tuple[bytes, list[tuple], int]:
    """FORMATS 13.1: a linear .ots file (magic, version 1, SHA-256 file
    hash, digest, append/prepend/sha256 operations, one Bitcoin block
    header attestation, nothing after) -> (digest, ops, Bitcoin height)."""
    pos = 0

    def take(n: int) -> bytes:
        nonlocal pos
        if pos + n > len(data):
            raise DecodeError("ots: truncated")
        pos += n
        return data[pos - n:pos]

    def varuint() -> int:
        v, shift = 0, 0
        while True:
            b = take(1)[0]
            v |= (b & 0x7f) << shift
            if not b & 0x80:
                return v
            shift += 7

    if take(len(OTS_MAGIC)) != OTS_MAGIC or varuint() != 1 or take(1) != b"\x08":
        raise DecodeError("ots: not a version-1 SHA-256 detached timestamp")
    digest = take(32)
    ops: list[tuple] = []
    while True:
        tag = take(1)[0]
        if tag == 0x08:
            ops.append(("sha256",))
        elif tag in (0xf0, 0xf1):
            n = varuint()
            if not 1 <= n <= 4096:
                raise DecodeError("ots: an argument of 1 to 4096 bytes")
            ops.append(("append" if tag == 0xf0 else "prepend", take(n)))
        elif tag == 0x00:
            break
        else:
            raise DecodeError(f"ots: unexpected tag {tag:#x}")
    if take(8) != OTS_BITCOIN_TAG:
        raise DecodeError("ots: not a Bitcoin block header attestation")
    n = varuint()
    end = pos + n
    height = varuint()
    if pos != end or pos != len(data):
        raise DecodeError("ots: trailing bytes")
    return digest, ops, height


def bundle_ots_ops(b: dict) -> tuple[bytes, list[tuple], bytes]:
    """FORMATS 13 steps 1-4 and 6-10 from a bundle's members: (the audit
    root, the operations, the Merkle root of the part's first header)."""
    v1 = b["version"] == 1
    raw = h2b if v1 else b64
    hashes = hex_hashes if v1 else b64_hashes
    t, hdr, inc, a = raw(b["submission"]), raw(b["header"]), b["inclusion"], b["anchor"]
    part = part_from_json(a["bitcoin"]) if v1 else decode_part(b64(a["bitcoin"]))
    gh, big_a, commitment = h2b(b["genesis_hash"], 32), a["height"], h2b(a["commitment"], 32)
    ops: list[tuple] = [("prepend", t[:74]), ("append", t[106:]), ("prepend", b"\x00"), ("sha256",)]
    ops += inclusion_ots_ops(inc["leaf_index"], inc["tree_size"], hashes(inc["path"]))
    ops += [("prepend", TAG_BLOCK_HEADER + b"\x00" + hdr[:95]), ("append", hdr[127:]), ("sha256",)]
    ops += [("prepend", b"\x00"), ("sha256",)]
    ops += inclusion_ots_ops(decode_header(hdr)["height"] - 1, big_a, hashes(a["history_proof"]))
    ops += [("prepend", TAG_ANCHOR + b"\x00" + gh + be(big_a, 8)), ("sha256",)]
    rt = part["raw_tx"]
    script = b"\x6a\x25PNTH\x01" + commitment
    if rt.count(script) != 1:
        raise ValueError("the anchor output's script must appear once")
    c = rt.index(script) + 7
    ops += [("prepend", rt[:c]), ("append", rt[c + 32:]), ("sha256",), ("sha256",)]
    for i, sib in enumerate(part["branch"]):
        ops += [("prepend", sib)] if (part["tx_index"] >> i) & 1 else [("append", sib)]
        ops += [("sha256",), ("sha256",)]
    return t[74:106], ops, part["headers"][0][36:68]


def check_ots(d: str, genesis: dict) -> None:
    """ots.json: each file parses, names the listed operations, which are
    exactly the hash path re-derived here from the bundle (and, for the
    record proof, the record's leaf and batch path), and replay from the
    digest to the Merkle root of the bundle's first Bitcoin header."""
    v = load(d, "ots")
    for case in v["cases"]:
        n = f"ots[{case['name']}]"
        digest, ops, height = ots_parse(h2b(case["ots"]))
        listed = [("sha256",) if o["op"] == "sha256" else (o["op"], h2b(o["arg"])) for o in case["ops"]]
        R.eq(f"{n}: the file holds the listed operations, digest and height",
             (digest.hex(), ops, height), (case["digest"], listed, case["bitcoin_height"]))
        if case["source"] in ("bundle.json", "bundle-v1.json"):
            b = load(d, case["source"][:-5])
            verify_bundle(b, genesis["hash"], "regtest", genesis_header=genesis["header"] if "genesis" not in b else None)
            start, want, root = bundle_ots_ops(b)
        else:
            p = case["record_proof"]
            b = p["bundle"]
            verify_bundle(b, genesis["hash"], "regtest")
            rh = tagged(TAG_RECORD, b64(p["record"]))
            batch = p["batch"]
            root_ops = [("prepend", b"\x00"), ("sha256",)]
            root_ops += inclusion_ots_ops(batch["leaf_index"], batch["tree_size"], b64_hashes(batch["path"]))
            sub_root, bundle_ops, root = bundle_ots_ops(b)
            R.eq(f"{n}: the record's path leads to the submission's root", apply_ots(rh, root_ops), sub_root)
            start, want = rh, root_ops + bundle_ops
        R.eq(f"{n}: the digest is the path's start", digest, start)
        R.check(f"{n}: the operations are FORMATS 13's path, re-derived", ops == want)
        R.eq(f"{n}: the operations reach the first header's Merkle root", apply_ots(digest, ops), root)
        R.eq(f"{n}: merkle_root", root.hex(), case["merkle_root"])



# --------------------------------------------------------------------------
# Submission receipts and receipt evidence (FORMATS.md 26)
# --------------------------------------------------------------------------

RECEIPT_MEMBERS = {"receipt", "genesis_hash", "genesis", "validator", "received_at_ms", "deadline",
                   "submission", "operator", "seq", "batch", "signature"}


def receipt_leaf(submission: bytes, operator: bytes, seq: int) -> bytes:
    """26.1: submission || operator || seq (72 bytes)."""
    return submission + operator + be(seq, 8)


def receipt_head(genesis_hash: bytes, validator: bytes, received_at_ms: int, deadline: int,
                 tree_size: int, root: bytes) -> bytes:
    """26.1: the 121 signed bytes."""
    return b"\x01" + genesis_hash + validator + be(received_at_ms, 8) + be(deadline, 8) + be(tree_size, 8) + root


def is_u64(x) -> bool:
    return isinstance(x, int) and not isinstance(x, bool) and 0 <= x < 2 ** 64


def verify_receipt(r, genesis_header: bytes | None, pinned: bytes | None = None) -> dict:
    """FORMATS 26.3. `genesis_header` is the verifier's own (else the carried
    one is used). Raises Invalid naming the first link that fails."""
    if not isinstance(r, dict) or r.get("receipt") != 1:
        raise Invalid("format: not a receipt of version 1")
    required = RECEIPT_MEMBERS - {"genesis"}
    if not required <= set(r) or not set(r) <= RECEIPT_MEMBERS:
        raise Invalid(f"format: a receipt holds exactly {sorted(required)} and optionally genesis")
    batch = r["batch"]
    if not isinstance(batch, dict) or set(batch) != {"leaf_index", "tree_size", "path"}:
        raise Invalid("format: batch holds exactly leaf_index, tree_size and path")
    if not all(is_u64(x) for x in (r["received_at_ms"], r["deadline"], r["seq"], batch["leaf_index"],
                                    batch["tree_size"])):
        raise Invalid("format: numbers are u64 JSON integers")
    try:
        gh, validator = h2b(r["genesis_hash"], 32), h2b(r["validator"], 32)
        submission, operator = h2b(r["submission"], 32), h2b(r["operator"], 32)
    except (ValueError, TypeError) as e:
        raise Invalid(f"format: {e}") from None
    header = genesis_header
    if header is None and "genesis" in r:
        try:
            header = b64(r["genesis"])
        except DecodeError as e:
            raise Invalid(f"genesis: {e}") from None
    if header is None:
        raise Invalid("genesis: no genesis to find the validator in")
    try:
        g = decode_genesis_header(header)
    except (DecodeError, ValueError) as e:
        raise Invalid(f"genesis: {e}") from None
    if tagged(TAG_GENESIS, header) != gh:
        raise Invalid("genesis: the genesis is not the receipt's network")
    if pinned is not None and pinned != gh:
        raise Invalid("genesis: not the pinned network")
    found = [(i, v) for i, v in enumerate(g["validators"]) if key_id(v["public_key"]) == validator]
    if not found:
        raise Invalid("validator: not a validator of the network")
    index, v = found[0]
    try:
        path = b64(batch["path"])
    except DecodeError as e:
        raise Invalid(f"batch: {e}") from None
    if len(path) % 32 or len(path) > 32 * 32:
        raise Invalid("batch: the path is not whole hashes, at most 32")
    hashes = [path[i:i + 32] for i in range(0, len(path), 32)]
    root = root_from_path(batch["leaf_index"], batch["tree_size"], hashes,
                          log_leaf(receipt_leaf(submission, operator, r["seq"])))
    if root is None:
        raise Invalid("batch: the path does not have the shape of its leaf")
    try:
        sig = b64(r["signature"])
    except DecodeError as e:
        raise Invalid(f"signature: {e}") from None
    head = receipt_head(gh, validator, r["received_at_ms"], r["deadline"], batch["tree_size"], root)
    if len(sig) != 3309 or not mldsa_verify(v["public_key"], head, sig, CTX_RECEIPT):
        raise Invalid("signature: does not verify under the validator's key")
    return {"validator_index": index, "genesis_hash": gh, "operator": operator, "seq": r["seq"],
            "deadline": r["deadline"], "submission": submission, "genesis": g, "header": header}


def verify_receipt_evidence(e, pinned: bytes | None = None) -> dict:
    """FORMATS 26.4. Raises Invalid naming the first link that fails."""
    if not isinstance(e, dict) or e.get("receipt_evidence") != 1:
        raise Invalid("format: not receipt evidence of version 1")
    if set(e) != {"receipt_evidence", "receipt", "genesis", "header", "certificate", "state"}:
        raise Invalid("format: evidence holds exactly its six members")
    st = e["state"]
    if not isinstance(st, dict) or set(st) != {"account", "proof"}:
        raise Invalid("format: state holds exactly account and proof")
    try:
        header_g = b64(e["genesis"])
        decode_genesis_header(header_g)
    except (DecodeError, ValueError, TypeError) as x:
        raise Invalid(f"genesis: {x}") from None
    r = verify_receipt(e["receipt"], header_g, pinned)
    try:
        hb = b64(e["header"])
        h = decode_header(hb)
    except (DecodeError, ValueError, TypeError) as x:
        raise Invalid(f"header: {x}") from None
    if h["height"] < r["deadline"]:
        raise Invalid(f"deadline: block {h['height']} is before the deadline {r['deadline']}")
    try:
        cert = decode_certificate(b64(e["certificate"]))
    except (DecodeError, ValueError, TypeError) as x:
        raise Invalid(f"certificate: {x}") from None
    why = verify_certificate(cert, r["genesis_hash"], r["genesis"]["validators"], hb)
    if why is not None:
        raise Invalid(f"certificate: {why}")
    key = state_key_account(r["operator"])
    try:
        proof = proof_from_json(st["proof"])
        account_bytes = None if st["account"] is None else b64(st["account"])
        account = None if account_bytes is None else decode_account(account_bytes)
    except (DecodeError, ValueError, KeyError, TypeError) as x:
        raise Invalid(f"state: {x}") from None
    value = None if account_bytes is None else value_hash(account_bytes)
    if not smt_verify(h["state_root"], key, value, proof):
        raise Invalid("state: the proof does not lead to the block's state root")
    next_seq = 0 if account is None or account["operator"] is None else account["operator"]["next_seq"]
    if next_seq > r["seq"]:
        raise Invalid(f"deadline: next seq {next_seq} > {r['seq']}: the submission's seq was finalized")
    return {"height": h["height"], "next_seq": next_seq, "seq": r["seq"], "validator_index": r["validator_index"]}


def check_receipts(d: str, pks: dict[bytes, bytes]) -> None:
    v = load(d, "receipts")
    grp = v["group"]
    leaves = [bytes.fromhex(x) for x in grp["leaves"]]
    R.eq("receipts: leaves are 72 bytes", [len(x) for x in leaves], [72, 72, 72])
    hashes = [log_leaf(x) for x in leaves]
    R.eq("receipts: leaf hashes", [x.hex() for x in hashes], grp["leaf_hashes"])
    R.eq("receipts: group root (RFC 9162)", mth(hashes).hex(), grp["root"])
    msg = bytes.fromhex(grp["message"])
    R.eq("receipts: head is 121 bytes", len(msg), 121)
    R.check("receipts: head signature verifies (context pantheon/v1/receipt)",
            mldsa_verify(bytes.fromhex(v["validator_public_key"]), msg,
                         b64(v["receipts"][0]["receipt"]["signature"]), CTX_RECEIPT))
    R.check("receipts: the signer is keys.json seed 0x01",
            bytes.fromhex(v["validator_public_key"]) in pks.values())
    valid = 0
    for case in v["receipts"]:
        n = f"receipts[{case['name']}]"
        if case["fails"] is None:
            try:
                out = verify_receipt(case["receipt"], None)
                R.check(f"{n}: verifies", out["deadline"] == 3, str(out["deadline"]))
                valid += 1
            except Invalid as e:
                R.check(f"{n}: verifies", False, str(e))
        else:
            R.eq(f"{n}: refused at link {case['fails']}",
                 first_link(lambda: verify_receipt(case["receipt"], None)), case["fails"])
    R.eq("receipts: three valid receipts", valid, 3)
    for case in v["evidence"]:
        n = f"evidence[{case['name']}]"
        if case["fails"] is None:
            try:
                out = verify_receipt_evidence(case["evidence"])
                R.check(f"{n}: a breach at height 3, next seq 1", out["height"] == 3 and out["next_seq"] == 1,
                        str(out))
            except Invalid as e:
                R.check(f"{n}: verifies", False, str(e))
        else:
            R.eq(f"{n}: refused at link {case['fails']}",
                 first_link(lambda: verify_receipt_evidence(case["evidence"])), case["fails"])


def verify_file(path: str) -> int:
    """`verify_vectors.py --verify FILE`: a proof bundle, a record proof, an operator export,
    a receipt or receipt evidence, or an audit document (a supply proof, a log checkpoint or
    a consistency proof, FORMATS 28), as a stranger would check it; prints the verdict as
    JSON. An audit document is checked with no trust but what it carries."""
    with open(path, "rb") as f:
        raw = f.read()
    text = raw.decode("utf-8")
    try:
        doc = read_bundle_text(text)
        if audit_kind(doc) is not None:
            if len(raw) > MAX_AUDIT_BYTES:
                raise Invalid(f"format: more than {MAX_AUDIT_BYTES} bytes")
            print(json.dumps(audit_verdict(verify_audit(doc))))
            return 0
        if isinstance(doc, dict) and "operator_export" in doc:
            out = verify_operator_export(doc)
            print(json.dumps({"valid": True, "operator": out["operator"].hex(), "from_seq": out["from_seq"],
                              "to_seq": out["to_seq"], "height": out["height"], "count": out["count"],
                              "anchored": out["anchored"]}))
            return 0
        if isinstance(doc, dict) and "receipt_evidence" in doc:
            out = verify_receipt_evidence(doc)
            print(json.dumps({"valid": True, "breach": True, **out}))
            return 0
        if isinstance(doc, dict) and isinstance(doc.get("receipt"), dict):
            doc = doc["receipt"]
        if isinstance(doc, dict) and "receipt" in doc:
            out = verify_receipt(doc, None)
            print(json.dumps({"valid": True, "validator_index": out["validator_index"], "seq": out["seq"],
                              "deadline": out["deadline"], "submission": out["submission"].hex()}))
            return 0
        if isinstance(doc, dict) and "record_proof" in doc:
            out = verify_record_proof(doc)
        else:
            out = verify_bundle_text(text)
        print(json.dumps({"valid": True, "height": out["height"], "seq": out["seq"],
                          "root": out["root"].hex(), "anchored": out["anchor"] is not None}))
        return 0
    except Invalid as e:
        print(json.dumps({"valid": False, "failed_link": str(e).split(":")[0], "reason": str(e)}))
        return 1


# --- 27. Relay batches ------------------------------------------------------

B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


def base58btc(b: bytes) -> str:
    n = int.from_bytes(b, "big")
    out = ""
    while n:
        n, r = divmod(n, 58)
        out = B58[r] + out
    return "1" * (len(b) - len(b.lstrip(b"\0"))) + out


def relay_peer_id(key: bytes) -> str:
    """27.1: base58btc(identity multihash(protobuf Ed25519 public key))."""
    proto = bytes([0x08, 0x01, 0x12, 0x20]) + key
    return base58btc(bytes([0x00, len(proto)]) + proto)


def relay_message(genesis: bytes, time_ms: int, txs: list[bytes]) -> bytes:
    return (b"pantheon/v1/relay" + genesis + time_ms.to_bytes(8, "big")
            + len(txs).to_bytes(4, "big") + b"".join(sha256(t) for t in txs))


def relay_refusal(auth: dict, txs: list[bytes], genesis: bytes, accept: list[str],
                  now_ms: int) -> str | None:
    """27.2, in order: the first link that fails, or None."""
    if set(auth) != {"key", "time_ms", "signature"}:
        return "key"
    try:
        key = bytes.fromhex(auth["key"])
        pk = ed25519.Ed25519PublicKey.from_public_bytes(key)
    except ValueError:
        return "key"
    if relay_peer_id(key) not in accept:
        return "not_accepted"
    if abs(now_ms - auth["time_ms"]) > 60_000:
        return "time"
    try:
        pk.verify(bytes.fromhex(auth["signature"]), relay_message(genesis, auth["time_ms"], txs))
    except (ValueError, InvalidSignature):
        return "signature"
    return None


def check_relay(d: str) -> None:
    v = load(d, "relay")
    seed = bytes.fromhex(v["seed"])
    sk = ed25519.Ed25519PrivateKey.from_private_bytes(seed)
    pk = sk.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    R.eq("relay: public key from the seed (RFC 8032)", pk.hex(), v["public_key"])
    R.eq("relay: peer id of the key", relay_peer_id(pk), v["peer_id"])
    R.check("relay: the peer id is a libp2p Ed25519 id", v["peer_id"].startswith("12D3KooW"))
    genesis = bytes.fromhex(v["genesis_hash"])
    R.eq("relay: genesis is genesis.json's", v["genesis_hash"], load(d, "genesis")["genesis_hash"])
    txs = [bytes.fromhex(t) for t in v["txs"]]
    msg = relay_message(genesis, v["time_ms"], txs)
    R.eq("relay: the signed message (27.1)", msg.hex(), v["message"])
    R.eq("relay: Ed25519 is deterministic: the signature", sk.sign(msg).hex(), v["signature"])
    R.eq("relay: max skew", v["max_skew_ms"], 60_000)
    for case in v["cases"]:
        got = relay_refusal(case["auth"], [bytes.fromhex(t) for t in case["txs"]], genesis,
                            v["accept_from"], case["now_ms"])
        R.eq(f"relay[{case['name']}]: refused at", got, case["refused"])



# --- 28. Audit documents ------------------------------------------------------

MAX_SUPPLY_ACCOUNTS = 65_536
MAX_CONSISTENCY_HASHES = 128
MAX_AUDIT_BYTES = 32 << 20
AUDIT_KINDS = ("supply_proof", "log_checkpoint", "log_consistency")


def audit_kind(doc) -> str | None:
    """Which audit document `doc` is (28): the first of its version members."""
    if isinstance(doc, dict):
        for kind in AUDIT_KINDS:
            if kind in doc:
                return kind
    return None


def checkpoint_body(genesis_hash: bytes, size: int, root: bytes) -> str:
    """28.3: the C2SP tlog-checkpoint body, three lines each ending in LF."""
    return f"pantheon/v1/log/{genesis_hash.hex()}\n{size}\n{base64.b64encode(root).decode()}\n"


def audit_structure(x, kind: str) -> None:
    """28.1 to 28.4, the `format` link: exactly these members, of these types."""
    def fail(why):
        raise Invalid(f"format: {why}")

    def is_str(v):
        return isinstance(v, str)

    def is_u32(v):
        return is_u64(v) and v < 2 ** 32

    def is_block(v):
        return isinstance(v, dict) and set(v) == {"header", "certificate"} and all(map(is_str, v.values()))

    members = {
        "supply_proof": {"supply_proof": is_u32, "genesis_hash": is_str, "height": is_u64, "block": is_block,
                         "accounts": lambda v: isinstance(v, list) and all(
                             isinstance(a, dict) and set(a) == {"id", "record"} and all(map(is_str, a.values()))
                             for a in v)},
        "log_checkpoint": {"log_checkpoint": is_u32, "genesis_hash": is_str, "height": is_u64, "log_size": is_u64,
                           "log_root": is_str, "checkpoint": is_str, "block": is_block},
        "log_consistency": {"log_consistency": is_u32, "genesis_hash": is_str, "old_size": is_u64,
                            "new_size": is_u64, "old": is_block, "new": is_block,
                            "path": lambda v: isinstance(v, list) and all(map(is_str, v))},
    }[kind]
    if not isinstance(x, dict):
        fail("not a JSON object")
    extra = set(x) - set(members) - {"genesis"}
    if extra:
        fail(f"unknown members {sorted(extra)}")
    for name, ok in members.items():
        if name not in x or not ok(x[name]):
            fail(f"{name} missing or of the wrong type")
    if x.get("genesis") is not None and not is_str(x["genesis"]):
        fail("genesis is not a string")
    if x[kind] != 1:
        fail(f"unsupported {kind} version {x[kind]}")
    if kind == "supply_proof" and len(x["accounts"]) > MAX_SUPPLY_ACCOUNTS:
        fail(f"more than {MAX_SUPPLY_ACCOUNTS} account records")
    if kind == "log_consistency" and len(x["path"]) > MAX_CONSISTENCY_HASHES:
        fail(f"more than {MAX_CONSISTENCY_HASHES} path hashes")


def audit_genesis(x: dict, supplied: bytes | None, trusted: bytes | None) -> tuple[bytes, dict]:
    """28.1, the `genesis` link: the pinned hash, the header hashing to it
    (carried, else the verifier's), and the verifier's pins."""
    def link(fn):
        try:
            return fn()
        except (DecodeError, ValueError, TypeError) as e:
            raise Invalid(f"genesis: {e}") from None

    pinned = link(lambda: h2b(x["genesis_hash"], 32))
    if supplied is not None and tagged(TAG_GENESIS, supplied) != pinned:
        raise Invalid("genesis: the document is for another network than the genesis given")
    if x.get("genesis") is not None:
        gb = link(lambda: b64(x["genesis"]))
    elif supplied is not None:
        gb = supplied
    else:
        raise Invalid("genesis: the document does not carry its genesis; supply it")
    g = link(lambda: decode_genesis_header(gb))
    if tagged(TAG_GENESIS, gb) != pinned:
        raise Invalid("genesis: the genesis header does not hash to genesis_hash")
    if trusted is not None and trusted != pinned:
        raise Invalid("genesis: the document is for another network than the trusted one")
    return pinned, g


def audit_certified(block: dict, gh: bytes, g: dict) -> tuple[dict, bytes, dict]:
    """28.1: the header and certificate links of a certified header."""
    try:
        hb = b64(block["header"])
        header = decode_header(hb)
    except DecodeError as e:
        raise Invalid(f"header: {e}") from None
    try:
        cert = decode_certificate(b64(block["certificate"]))
    except DecodeError as e:
        raise Invalid(f"certificate: {e}") from None
    why = verify_certificate(cert, gh, g["validators"], hb)
    if why:
        raise Invalid(f"certificate: {why}")
    return header, hb, cert


def verify_audit(x, supplied_genesis: bytes | None = None, trusted_genesis: bytes | None = None) -> dict:
    """FORMATS 28: a supply proof, a checkpoint or a consistency proof, link
    by link. Raises Invalid naming the first link that fails."""
    kind = audit_kind(x)
    if kind is None:
        raise Invalid("format: not an audit document")
    audit_structure(x, kind)
    gh, g = audit_genesis(x, supplied_genesis, trusted_genesis)
    if kind == "supply_proof":
        header, hb, cert = audit_certified(x["block"], gh, g)
        if header["height"] != x["height"]:
            raise Invalid(f"header: the document says height {x['height']}, its header is at {header['height']}")
        pairs, total, last = [], 0, None
        for i, entry in enumerate(x["accounts"]):
            try:
                account = h2b(entry["id"], 32)
                if last is not None and last >= account:
                    raise DecodeError("ids are not in strictly increasing order")
                last = account
                record = b64(entry["record"])
                total += decode_account(record)["balance"]
            except DecodeError as e:
                raise Invalid(f"state: accounts[{i}]: {e}") from None
            pairs.append((state_key_account(account), value_hash(record)))
        pairs.append((STATE_KEY_PARAMS, value_hash(encode_params(g["params"]))))
        pairs.append((STATE_KEY_VALIDATORS, value_hash(encode_validators(g["validators"]))))
        if smt_root(pairs) != header["state_root"]:
            raise Invalid("state: the records do not rebuild the header's state root")
        if total != SUPPLY:
            raise Invalid(f"supply: the balances sum to {total}, the supply is {SUPPLY}")
        return {"kind": kind, "height": header["height"], "accounts": len(pairs) - 2,
                "state_root": header["state_root"], "sum_of_balances": total, "genesis_hash": gh}
    if kind == "log_checkpoint":
        header, hb, cert = audit_certified(x["block"], gh, g)
        if header["height"] != x["height"]:
            raise Invalid(f"header: the document says height {x['height']}, its header is at {header['height']}")
        if (x["log_size"] != header["log_size"] or x["log_root"] != header["log_root"].hex()
                or x["checkpoint"] != checkpoint_body(gh, header["log_size"], header["log_root"])):
            raise Invalid("checkpoint: the checkpoint does not match its header")
        return {"kind": kind, "height": header["height"], "log_size": header["log_size"],
                "log_root": header["log_root"], "genesis_hash": gh}
    old, _, _ = audit_certified(x["old"], gh, g)
    new, _, _ = audit_certified(x["new"], gh, g)
    if old["log_size"] != x["old_size"] or new["log_size"] != x["new_size"]:
        raise Invalid("header: the sizes are not those of the headers' logs")
    if old["height"] > new["height"]:
        raise Invalid("consistency: the old checkpoint is after the new one")
    try:
        path = [h2b(p, 32) for p in x["path"]]
    except DecodeError as e:
        raise Invalid(f"consistency: path: {e}") from None
    if not verify_consistency(old["log_size"], new["log_size"], path, old["log_root"], new["log_root"]):
        raise Invalid("consistency: the old log is not a prefix of the new one")
    return {"kind": kind, "old_size": old["log_size"], "new_size": new["log_size"],
            "old_height": old["height"], "new_height": new["height"], "genesis_hash": gh}


def audit_verdict(out: dict) -> dict:
    """What verify_file prints for a valid audit document."""
    return {"valid": True, **{k: (v.hex() if isinstance(v, bytes) else v) for k, v in out.items()}}


def check_audit(d: str) -> None:
    v = load(d, "audit")
    genesis = load(d, "genesis")
    header = bytes.fromhex(genesis["header_bytes"])
    R.eq("audit: the network is genesis.json's", v["genesis_hash"], genesis["genesis_hash"])
    R.eq("audit: the supply (4)", int(v["supply"]), SUPPLY)
    valid, kinds = 0, set()
    for case in v["cases"]:
        n = f"audit[{case['name']}]"
        supplied = header if case["trust"] == "genesis" else None
        doc = case["document"]
        # As a verifier receives it: the JSON text, read by the readers of 1.11.
        text = json.dumps(doc)

        def run():
            return verify_audit(read_bundle_text(text), supplied)

        if case["fails"] is None:
            try:
                out = audit_verdict(run())
                want = case["expect"]
                got = {k: out[k] for k in want}
                if "sum_of_balances" in want:
                    got["sum_of_balances"] = str(got["sum_of_balances"])
                R.eq(f"{n}: verifies, establishing what the file expects", got, want)
                valid += 1
                kinds.add(out["kind"])
            except Invalid as e:
                R.check(f"{n}: verifies", False, str(e))
        else:
            R.eq(f"{n}: refused at link {case['fails']}", first_link(run), case["fails"])
    R.eq("audit: eight valid documents", valid, 8)
    R.eq("audit: of all three kinds", sorted(kinds), sorted(AUDIT_KINDS))
    # 28.3 by hand: the checkpoint body of checkpoint_2.
    cp = next(c["document"] for c in v["cases"] if c["name"] == "checkpoint_2")
    R.eq("audit: checkpoint_2's body, line by line",
         cp["checkpoint"].split("\n"),
         [f"pantheon/v1/log/{v['genesis_hash']}", str(cp["log_size"]),
          base64.b64encode(bytes.fromhex(cp["log_root"])).decode(), ""])


def main(argv: list[str]) -> int:
    if len(argv) == 3 and argv[1] == "--verify":
        return verify_file(argv[2])
    d = argv[1] if len(argv) > 1 else os.path.dirname(os.path.abspath(__file__))
    sections = [("constants", lambda: check_constants())]
    state: dict = {}

    def keys():
        state["pks"] = check_keys(d)

    def genesis():
        state["genesis"] = check_genesis(d, state["pks"])

    def anchor():
        state["anchor"] = check_anchor(d, state["pks"], state["genesis"])

    sections += [
        ("keys.json", keys),
        ("genesis.json", genesis),
        ("transactions.json", lambda: check_transactions(d, state["pks"], state["genesis"])),
        ("log.json", lambda: check_log(d)),
        ("state.json", lambda: check_state(d, state["pks"], state["genesis"])),
        ("block.json", lambda: check_block(d, state["pks"], state["genesis"])),
        ("anchor.json", anchor),
        ("bundle.json, bundle-v1.json", lambda: check_bundle(d, state["genesis"], state["anchor"])),
        ("bundle-pinned.json", lambda: check_pinned_bundles(d)),
        ("bitcoin-part.json", lambda: check_bitcoin_part(d)),
        ("bundle-limits.json", lambda: check_limits(d)),
        ("bundle-malformed.json", lambda: check_malformed(d, state["genesis"])),
        ("records.json", lambda: check_records(d)),
        ("record-proof.json", lambda: check_record_proofs(d)),
        ("operator-export.json", lambda: check_operator_exports(d)),
        ("ots.json", lambda: check_ots(d, state["genesis"])),
        ("receipts.json", lambda: check_receipts(d, state["pks"])),
        ("relay.json", lambda: check_relay(d)),
        ("audit.json", lambda: check_audit(d)),
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
