#!/usr/bin/env python3
"""Seed corpora for the fuzz targets, extracted from docs/vectors.

Usage: fuzz/seed.py [VECTORS_DIR [CORPUS_DIR]]   (defaults: docs/vectors, fuzz/corpus)

Writes one file per distinct input into CORPUS_DIR/<target>/, named by its
SHA-1, so running it again adds nothing new and never removes what the
fuzzer found. What each target gets:

- binary targets: every hex or base64 string of the vectors that decodes
  to bytes (transactions, headers, certificates, votes, genesis headers,
  Bitcoin parts, records, .ots files...), each decoder refusing the others
  quickly; plus, for the consensus codec, messages composed from those
  pieces by the grammar of node/src/consensus/codec.rs;
- JSON targets: every JSON object of the vectors that is a bundle, a
  record proof, an operator export or a genesis file, and the malformed
  bundles' texts;
- rpc_params: the hex strings as text; rpc_request: one request per
  method of rpc/src/api.rs, positional and with vector values.
"""

import base64
import binascii
import hashlib
import json
import os
import re
import struct
import sys

BINARY = ["tx", "block", "certificate", "genesis_header", "bitcoin_part", "record", "ots", "consensus"]
SIG_LEN = 3309
MAX_SEED = 1 << 20


def put(corpus, target, data):
    if isinstance(data, str):
        data = data.encode()
    if len(data) > MAX_SEED:
        return 0
    d = os.path.join(corpus, target)
    os.makedirs(d, exist_ok=True)
    path = os.path.join(d, hashlib.sha1(data).hexdigest())
    if os.path.exists(path):
        return 0
    with open(path, "wb") as f:
        f.write(data)
    return 1


def blob(s):
    """The bytes a vector string stands for, if it is hex or base64."""
    if len(s) >= 8 and len(s) % 2 == 0 and re.fullmatch(r"[0-9a-fA-F]+", s):
        return bytes.fromhex(s)
    if len(s) >= 12 and re.fullmatch(r"[A-Za-z0-9+/]+={0,2}", s):
        try:
            return base64.b64decode(s, validate=True)
        except binascii.Error:
            return None
    return None


def walk(value, key=""):
    """(key, value) for every member and element, depth first."""
    yield key, value
    if isinstance(value, dict):
        for k, v in value.items():
            yield from walk(v, k)
    elif isinstance(value, list):
        for v in value:
            yield from walk(v, key)


def kind(obj):
    if not isinstance(obj, dict):
        return None
    if "supply_proof" in obj or "log_checkpoint" in obj or "log_consistency" in obj:
        return "audit"
    if "record_proof" in obj:
        return "record_proof"
    if "operator_export" in obj:
        return "operator_export"
    if "receipt_evidence" in obj or ("receipt" in obj and "signature" in obj):
        return "receipt"
    if "submission" in obj and "version" in obj:
        return "bundle"
    if {"chain_id", "validators", "allocations"} <= obj.keys():
        return "genesis_json"
    return None


def malformed_bundles(vectors):
    """The texts of bundle-malformed.json's cases, built from their bases."""
    path = os.path.join(vectors, "bundle-malformed.json")
    if not os.path.exists(path):
        return
    with open(path) as f:
        cases = json.load(f)["cases"]
    bases = {}
    for case in cases:
        if "text" in case:
            yield case["text"]
            continue
        base = case["base"]
        name = "bundle-limits.json" if base == "limits" else base + ".json"
        if base not in bases:
            with open(os.path.join(vectors, name)) as f:
                doc = json.load(f)
            bases[base] = doc.get("bundle", doc) if base == "limits" else doc
        doc = json.loads(json.dumps(bases[base]))
        for edit in case.get("edits", []):
            *parents, last = edit["at"]
            node = doc
            for k in parents:
                node = node[k]
            if edit.get("remove"):
                del node[last]
            else:
                node[last] = edit["value"]
        text = json.dumps(doc, separators=(",", ":"))
        if "insert" in case:
            text = "{" + case["insert"] + text[1:]
        yield text


def consensus_seeds(headers, sigs, txs, hashes):
    """Messages of node/src/consensus/codec.rs built from vector pieces."""
    sig = sigs[0] if sigs else bytes(SIG_LEN)
    h = hashes[0] if hashes else bytes(32)
    rnd = b"\x01" + struct.pack(">I", 0)
    nil = b"\x00"
    # A libp2p peer id: identity multihash of an Ed25519 public key.
    peer = bytes([0x00, 0x24, 0x08, 0x01, 0x12, 0x20]) + bytes(range(32))
    out = []
    for header in headers:
        height = header[1:9]
        init = b"\x01" + height + rnd + nil + b"\x00\x00" + header + sig
        out.append(init)
        out.append(b"\x02" + height + rnd + nil + b"\x00\x00" + header + sig)  # proposal msg
        out.append(b"\x01" + b"\x00\x00\x00\x00\x00\x00\x00\x07" + struct.pack(">Q", 3) + b"\x01" + init)  # stream
        out.append(height + rnd + rnd + b"\x00\x00" + header + b"\x01")  # proposed value
    for vt in (1, 2):
        for value in (nil, b"\x01" + h):
            vote = bytes([vt]) + struct.pack(">Q", 1) + rnd + value + b"\x00\x00" + b"\x00"
            out.append(b"\x01" + vote + sig)
    txs = [t for t in txs if len(t) < 65536][:4]
    part = b"\x02" + struct.pack(">I", len(txs)) + b"".join(struct.pack(">H", len(t)) + t for t in txs)
    out.append(part)
    out.append(b"\x08" + b"stream-1" + struct.pack(">Q", 1) + b"\x00")  # fin
    out.append(b"\x02" + struct.pack(">Q", 1) + rnd + h + b"\x00\x01" + b"\x00\x00" + sig)  # polka
    out.append(struct.pack(">Q", 1) + rnd + h + b"\x00\x01" + b"\x00\x00" + sig)
    out.append(struct.pack(">Q", 1) + rnd + b"\x02" + b"\x00\x01" + b"\x02" + b"\x01" + h + b"\x00\x00" + sig)
    out.append(bytes([len(peer)]) + peer + struct.pack(">QQ", 5, 1))  # status
    out.append(b"\x01" + struct.pack(">QQ", 1, 4))  # request
    out.append(struct.pack(">H", 1952) + bytes(1952) + bytes([len(peer)]) + peer + sig)  # peer proof
    return out


def main():
    vectors = sys.argv[1] if len(sys.argv) > 1 else "docs/vectors"
    corpus = sys.argv[2] if len(sys.argv) > 2 else "fuzz/corpus"
    api = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "rpc", "src", "api.rs")
    added = {}
    blobs, texts, headers, sigs, txs, hashes = [], [], [], [], [], []

    def add(target, data):
        added[target] = added.get(target, 0) + put(corpus, target, data)

    for name in sorted(os.listdir(vectors)):
        if not name.endswith(".json"):
            continue
        with open(os.path.join(vectors, name)) as f:
            doc = json.load(f)
        for key, value in walk(doc):
            k = kind(value)
            if k:
                add(k, json.dumps(value, separators=(",", ":")))
            if isinstance(value, str):
                b = blob(value)
                if b is None:
                    continue
                blobs.append(b)
                if re.fullmatch(r"[0-9a-fA-F]+", value):
                    texts.append(value)
                if len(b) in (157, 189) and b[0] in (1, 2):
                    headers.append(b)
                elif len(b) == SIG_LEN:
                    sigs.append(b)
                elif len(b) == 32:
                    hashes.append(b)
                if key == "bytes" and name == "transactions.json":
                    txs.append(b)

    for text in malformed_bundles(vectors):
        add("bundle", text)
    for b in blobs:
        for t in BINARY:
            add(t, b)
    for m in consensus_seeds(headers, sigs, txs, hashes):
        add("consensus", m)
    for t in texts:
        if len(t) <= 2 * 65536:
            add("rpc_params", t)

    with open(api) as f:
        methods = re.findall(r'(?:method|subscription)\(name = "([^"]+)"', f.read())
    h = hashes[0].hex() if hashes else "00" * 32
    tx = txs[0].hex() if txs else ""
    for i, m in enumerate(methods):
        for params in ([], [h], [h, 0], [h, None, 2], [tx], [[tx]], [0, 10], [h, True]):
            add("rpc_request", json.dumps({"jsonrpc": "2.0", "id": i, "method": m, "params": params}))
        add("rpc_request", json.dumps({"jsonrpc": "2.0", "id": i, "method": m}))
    add("rpc_request", json.dumps({"jsonrpc": "2.0", "id": "x", "method": "pantheon_getProof",
                                   "params": {"id": h, "embed_genesis": False}}))

    for t in sorted(added):
        print(f"{t}: {added[t]} new seeds", file=sys.stderr)


if __name__ == "__main__":
    main()
