//! The JSON forms of the two bundle versions (FORMATS 16, 21, 22) and
//! their one reader.
//!
//! Writing is plain serde over the two documents. Reading is in two
//! stages (FORMATS 22.6), so that a verifier names the link a malformed
//! member belongs to:
//!
//! ```text
//! text --JSON, no duplicate member, depth <= 16--> tree
//!      --version, members present with their JSON types--> ReceivedBundle   (else: format)
//!      each member's text (hex, base64, path length, Bitcoin part)
//!      decoded into its value or the reason it does not decode, kept for
//!      the link that uses it
//! ```

use std::collections::BTreeSet;
use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::de::{DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};

use super::{
    BUNDLE_VERSION_1, MAX_PATH_HASHES, Member, ProofBundle, ReceivedAnchor, ReceivedBundle,
};
use crate::amount::Height;
use crate::anchor::{AnchorCommitment, BitcoinPart};
use crate::codec::Encode;
use crate::crypto::{PUBLIC_KEY_LEN, PublicKey};
use crate::hash::{GenesisHash, Hash256};
use crate::log::InclusionProof;

/// How deeply a bundle may nest arrays and objects; the top-level object
/// is depth 1 (a bundle needs 4: version 1's `anchor.bitcoin.branch`).
pub(super) const MAX_DEPTH: usize = 16;

// ---------------------------------------------------------------------
// Writing
// ---------------------------------------------------------------------

/// Version 1 (sections 16 and 21): bytes as hex.
#[derive(Serialize)]
struct V1 {
    version: u32,
    genesis_hash: GenesisHash,
    genesis: Hex,
    submission: Hex,
    operator_key: PublicKey,
    inclusion: InclusionProof,
    header: Hex,
    certificate: Hex,
    #[serde(skip_serializing_if = "Option::is_none")]
    anchor: Option<AnchorV1>,
}

#[derive(Serialize)]
struct AnchorV1 {
    height: Height,
    history_proof: Vec<Hash256>,
    commitment: AnchorCommitment,
    record: Hex,
    bitcoin: BitcoinPart,
}

/// Version 2 (section 22): bytes as base64, paths as one byte string.
/// Its JSON Schema is [`ProofBundle`]'s: nodes write version 2.
#[derive(Serialize, schemars::JsonSchema)]
#[schemars(rename = "ProofBundle")]
struct V2 {
    /// The bundle version: 2.
    #[schemars(extend("const" = 2))]
    version: u32,
    /// The network's genesis hash: the pin every other link hangs from.
    genesis_hash: GenesisHash,
    /// Base64 of the genesis header (FORMATS 11.3); absent when the
    /// verifier supplies it.
    #[serde(skip_serializing_if = "Option::is_none")]
    genesis: Option<B64>,
    /// Base64 of the signed submission (FORMATS 5.4).
    submission: B64,
    /// Base64 of the operator's ML-DSA-65 public key (1952 bytes).
    operator_key: B64,
    /// The submission's RFC 9162 inclusion proof in the block's log.
    inclusion: InclusionV2,
    /// Base64 of the block header (FORMATS 9.1).
    header: B64,
    /// Base64 of the block's commit certificate (FORMATS 10.3).
    certificate: B64,
    /// The anchor part; absent in a finality-only bundle.
    #[serde(skip_serializing_if = "Option::is_none")]
    anchor: Option<AnchorV2>,
}

/// A version-2 inclusion proof (FORMATS 22.2).
#[derive(Serialize, schemars::JsonSchema)]
#[schemars(rename = "BundleInclusion")]
struct InclusionV2 {
    /// The submission's index in the log.
    leaf_index: u64,
    /// The log's size at the block.
    tree_size: u64,
    /// Base64 of the path's 32-byte hashes, concatenated from the leaf up.
    path: B64,
}

/// A version-2 anchor part (FORMATS 22.3).
#[derive(Serialize, schemars::JsonSchema)]
#[schemars(rename = "BundleAnchor")]
struct AnchorV2 {
    /// The anchored height `A`.
    height: Height,
    /// Base64 of the block's history path (32-byte hashes, leaf up).
    history_proof: B64,
    /// The anchor commitment for `A`.
    commitment: AnchorCommitment,
    /// Base64 of the Bitcoin part: transaction, Merkle branch, headers.
    bitcoin: B64,
}

/// Bytes as lower-case hex.
struct Hex(Vec<u8>);

impl Serialize for Hex {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(&self.0))
    }
}

/// Bytes as RFC 4648 base64 with padding.
struct B64(Vec<u8>);

/// RFC 4648 base64 with padding, as [`B64`] writes it.
impl schemars::JsonSchema for B64 {
    fn inline_schema() -> bool {
        true
    }
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Base64".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "contentEncoding": "base64",
            "pattern": "^[A-Za-z0-9+/]*={0,2}$"
        })
    }
}

/// The version a node writes (2, [`V2`]); version 1, still read, is
/// specified in FORMATS 16 and 21.
impl schemars::JsonSchema for ProofBundle {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "ProofBundle".into()
    }
    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        let mut schema = V2::json_schema(generator);
        schema.insert(
            "description".into(),
            "A self-contained proof that a submission is final and, with its anchor part, \
             anchored in Bitcoin: bundle version 2 (docs/FORMATS.md 22)"
                .into(),
        );
        schema
    }
}

impl Serialize for B64 {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&STANDARD.encode(&self.0))
    }
}

fn hashes_to_bytes(path: &[Hash256]) -> B64 {
    B64(path.iter().flat_map(|h| *h.as_bytes()).collect())
}

impl Serialize for ProofBundle {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let bytes = |b: &[u8]| b.to_vec();
        if self.version == BUNDLE_VERSION_1 {
            let anchor = match &self.anchor {
                Some(a) => Some(AnchorV1 {
                    height: a.height,
                    history_proof: a.history_proof.clone(),
                    commitment: a.commitment,
                    record: Hex(a.record.clone().ok_or_else(|| {
                        serde::ser::Error::custom("a version-1 anchor part needs its record")
                    })?),
                    bitcoin: a.bitcoin.clone(),
                }),
                None => None,
            };
            return V1 {
                version: self.version,
                genesis_hash: self.genesis_hash,
                genesis: Hex(self.genesis.clone().ok_or_else(|| {
                    serde::ser::Error::custom("a version-1 bundle needs its genesis")
                })?),
                submission: Hex(bytes(&self.submission)),
                operator_key: self.operator_key.clone(),
                inclusion: self.inclusion.clone(),
                header: Hex(bytes(&self.header)),
                certificate: Hex(bytes(&self.certificate)),
                anchor,
            }
            .serialize(s);
        }
        V2 {
            version: self.version,
            genesis_hash: self.genesis_hash,
            genesis: self.genesis.clone().map(B64),
            submission: B64(bytes(&self.submission)),
            operator_key: B64(self.operator_key.as_bytes().to_vec()),
            inclusion: InclusionV2 {
                leaf_index: self.inclusion.leaf_index,
                tree_size: self.inclusion.tree_size,
                path: hashes_to_bytes(&self.inclusion.path),
            },
            header: B64(bytes(&self.header)),
            certificate: B64(bytes(&self.certificate)),
            anchor: self.anchor.as_ref().map(|a| AnchorV2 {
                height: a.height,
                history_proof: hashes_to_bytes(&a.history_proof),
                commitment: a.commitment,
                bitcoin: B64(a.bitcoin.to_bytes()),
            }),
        }
        .serialize(s)
    }
}

// ---------------------------------------------------------------------
// Reading, stage 1: the JSON tree, refusing duplicate members
// ---------------------------------------------------------------------

/// A JSON value whose objects keep their members in document order and
/// never hold two of the same name.
enum Json {
    Null,
    Bool(bool),
    Number(serde_json::Number),
    String(String),
    Array(Vec<Self>),
    Object(Vec<(String, Self)>),
}

impl Json {
    const fn kind(&self) -> &'static str {
        match self {
            Self::Null => "null",
            Self::Bool(_) => "a boolean",
            Self::Number(_) => "a number",
            Self::String(_) => "a string",
            Self::Array(_) => "an array",
            Self::Object(_) => "an object",
        }
    }

    fn into_value(self) -> serde_json::Value {
        use serde_json::Value;
        match self {
            Self::Null => Value::Null,
            Self::Bool(b) => Value::Bool(b),
            Self::Number(n) => Value::Number(n),
            Self::String(s) => Value::String(s),
            Self::Array(a) => Value::Array(a.into_iter().map(Self::into_value).collect()),
            Self::Object(o) => {
                Value::Object(o.into_iter().map(|(k, v)| (k, v.into_value())).collect())
            }
        }
    }
}

/// Reads one [`Json`] value at nesting depth `.0` (the containers around
/// it).
#[derive(Clone, Copy)]
struct Tree(usize);

impl Tree {
    fn enter<E: serde::de::Error>(self) -> Result<Self, E> {
        if self.0 >= MAX_DEPTH {
            return Err(E::custom(format!(
                "arrays and objects nested more than {MAX_DEPTH} deep"
            )));
        }
        Ok(Self(self.0 + 1))
    }
}

impl<'de> DeserializeSeed<'de> for Tree {
    type Value = Json;
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Json, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Tree {
    type Value = Json;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_unit<E>(self) -> Result<Json, E> {
        Ok(Json::Null)
    }

    fn visit_none<E>(self) -> Result<Json, E> {
        Ok(Json::Null)
    }

    fn visit_some<D: serde::Deserializer<'de>>(self, d: D) -> Result<Json, D::Error> {
        self.deserialize(d)
    }

    fn visit_bool<E>(self, b: bool) -> Result<Json, E> {
        Ok(Json::Bool(b))
    }

    fn visit_u64<E>(self, n: u64) -> Result<Json, E> {
        Ok(Json::Number(n.into()))
    }

    fn visit_i64<E>(self, n: i64) -> Result<Json, E> {
        Ok(Json::Number(n.into()))
    }

    fn visit_f64<E: serde::de::Error>(self, n: f64) -> Result<Json, E> {
        serde_json::Number::from_f64(n)
            .map(Json::Number)
            .ok_or_else(|| E::custom("a number that is not finite"))
    }

    fn visit_str<E>(self, s: &str) -> Result<Json, E> {
        Ok(Json::String(s.to_owned()))
    }

    fn visit_string<E>(self, s: String) -> Result<Json, E> {
        Ok(Json::String(s))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Json, A::Error> {
        let inner = self.enter()?;
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(inner)? {
            items.push(item);
        }
        Ok(Json::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Json, A::Error> {
        use serde::de::Error as _;
        let inner = self.enter()?;
        let mut seen = BTreeSet::new();
        let mut members = Vec::new();
        while let Some(name) = map.next_key::<String>()? {
            if !seen.insert(name.clone()) {
                return Err(A::Error::custom(format!("duplicate member {name:?}")));
            }
            let value = map.next_value_seed(inner)?;
            members.push((name, value));
        }
        Ok(Json::Object(members))
    }
}

// ---------------------------------------------------------------------
// Reading, stage 2: the structure (the format link)
// ---------------------------------------------------------------------

/// The members of one JSON object, taken out one by one.
struct Object {
    what: &'static str,
    members: Vec<(String, Json)>,
}

impl Object {
    fn new(what: &'static str, json: Json) -> Result<Self, String> {
        match json {
            Json::Object(members) => Ok(Self { what, members }),
            other => Err(format!("{what} is {}, not an object", other.kind())),
        }
    }

    fn take(&mut self, name: &str) -> Option<Json> {
        let at = self.members.iter().position(|(n, _)| n == name)?;
        Some(self.members.swap_remove(at).1)
    }

    fn required(&mut self, name: &str) -> Result<Json, String> {
        self.take(name)
            .ok_or_else(|| format!("{} has no member `{name}`", self.what))
    }

    fn string(&mut self, name: &str) -> Result<String, String> {
        let value = self.required(name)?;
        self.as_string(name, value)
    }

    fn optional_string(&mut self, name: &str) -> Result<Option<String>, String> {
        self.take(name).map(|v| self.as_string(name, v)).transpose()
    }

    fn as_string(&self, name: &str, value: Json) -> Result<String, String> {
        match value {
            Json::String(s) => Ok(s),
            other => Err(format!(
                "member `{name}` of {} is {}, not a string",
                self.what,
                other.kind()
            )),
        }
    }

    fn integer(&mut self, name: &str) -> Result<u64, String> {
        let value = self.required(name)?;
        if let Json::Number(n) = &value
            && let Some(v) = n.as_u64()
        {
            return Ok(v);
        }
        let kind = if matches!(value, Json::Number(_)) {
            "a number with a sign, fraction or exponent, or beyond u64"
        } else {
            value.kind()
        };
        Err(format!(
            "member `{name}` of {} is {kind}, not an integer in 0..2^64",
            self.what
        ))
    }

    fn strings(&mut self, name: &str) -> Result<Vec<String>, String> {
        match self.required(name)? {
            Json::Array(items) => items
                .into_iter()
                .map(|item| match item {
                    Json::String(s) => Ok(s),
                    other => Err(format!(
                        "member `{name}` of {} holds {}, not only strings",
                        self.what,
                        other.kind()
                    )),
                })
                .collect(),
            other => Err(format!(
                "member `{name}` of {} is {}, not an array of strings",
                self.what,
                other.kind()
            )),
        }
    }

    fn object(&mut self, name: &str, what: &'static str) -> Result<Option<Self>, String> {
        self.take(name).map(|v| Self::new(what, v)).transpose()
    }

    /// Refuses members not taken (in `inclusion` and `anchor`).
    fn exactly(self) -> Result<(), String> {
        match self.members.first() {
            None => Ok(()),
            Some((name, _)) => Err(format!("{} has an unknown member `{name}`", self.what)),
        }
    }
}

/// Reads a bundle's structure; an error is the format link's.
fn read(doc: Json) -> Result<ReceivedBundle, String> {
    let mut top = Object::new("the bundle", doc)?;
    let version = match top.required("version")? {
        Json::Number(n) => match n.as_u64() {
            Some(v @ 1..=2) => u32::try_from(v).map_err(|e| e.to_string())?,
            _ => {
                return Err(format!(
                    "unsupported bundle version {n} (this verifier reads 1 and 2)"
                ));
            }
        },
        other => return Err(format!("`version` is {}, not a number", other.kind())),
    };
    let v1 = version == BUNDLE_VERSION_1;
    let bytes = if v1 { hex_bytes } else { base64_bytes };

    let genesis_hash = top.string("genesis_hash")?;
    let genesis = if v1 {
        Some(top.string("genesis")?)
    } else {
        top.optional_string("genesis")?
    };
    let submission = top.string("submission")?;
    let operator_key = top.string("operator_key")?;
    let mut inclusion = top
        .object("inclusion", "`inclusion`")?
        .ok_or("the bundle has no member `inclusion`")?;
    let leaf_index = inclusion.integer("leaf_index")?;
    let tree_size = inclusion.integer("tree_size")?;
    let inclusion_path = if v1 {
        hex_path(&inclusion.strings("path")?)
    } else {
        base64_path(&inclusion.string("path")?)
    };
    inclusion.exactly()?;
    let header = top.string("header")?;
    let certificate = top.string("certificate")?;
    let anchor = top
        .object("anchor", "`anchor`")?
        .map(|a| read_anchor(a, v1))
        .transpose()?;
    // Other top-level members are ignored (FORMATS 16, 22.1).

    Ok(ReceivedBundle {
        version,
        genesis_hash: genesis_hash.parse().map_err(|e| format!("{e}")),
        genesis: genesis.map(|g| bytes(&g)),
        submission: bytes(&submission),
        operator_key: bytes(&operator_key).and_then(|k| public_key(&k)),
        leaf_index,
        tree_size,
        inclusion_path,
        header: bytes(&header),
        certificate: bytes(&certificate),
        anchor,
    })
}

fn read_anchor(mut a: Object, v1: bool) -> Result<ReceivedAnchor, String> {
    let height = Height::new(a.integer("height")?);
    let history_proof = if v1 {
        hex_path(&a.strings("history_proof")?)
    } else {
        base64_path(&a.string("history_proof")?)
    };
    let commitment = a.string("commitment")?;
    let record = if v1 {
        Some(hex_bytes(&a.string("record")?))
    } else {
        None
    };
    let bitcoin = if v1 {
        let part = a.required("bitcoin")?;
        if !matches!(part, Json::Object(_)) {
            return Err(format!(
                "member `bitcoin` of `anchor` is {}, not an object",
                part.kind()
            ));
        }
        // Its members and their text are the bitcoin link's (20.5.2).
        BitcoinPart::deserialize(part.into_value()).map_err(|e| e.to_string())
    } else {
        base64_bytes(&a.string("bitcoin")?)
            .and_then(|b| BitcoinPart::from_bytes(&b).map_err(|e| e.to_string()))
    };
    a.exactly()?;
    Ok(ReceivedAnchor {
        height,
        history_proof,
        commitment: commitment.parse().map_err(|e| format!("{e}")),
        record,
        bitcoin,
    })
}

// ---------------------------------------------------------------------
// Reading, stage 3: each member's text, for its link
// ---------------------------------------------------------------------

/// Hex of either case, nothing else (no `0x`, no whitespace).
fn hex_bytes(text: &str) -> Member<Vec<u8>> {
    hex::decode(text).map_err(|e| format!("not hex: {e}"))
}

/// RFC 4648 base64 with padding, canonical: no other character, no
/// missing padding, no non-zero padding bits.
fn base64_bytes(text: &str) -> Member<Vec<u8>> {
    STANDARD
        .decode(text.as_bytes())
        .map_err(|e| format!("invalid base64: {e}"))
}

fn public_key(bytes: &[u8]) -> Member<PublicKey> {
    let key: [u8; PUBLIC_KEY_LEN] = bytes
        .try_into()
        .map_err(|_| format!("{} bytes, not {PUBLIC_KEY_LEN}", bytes.len()))?;
    Ok(PublicKey::from_bytes(key))
}

/// Version 1: an array of 64-hex-digit hashes, at most [`MAX_PATH_HASHES`]
/// (counted before any is decoded).
fn hex_path(items: &[String]) -> Member<Vec<Hash256>> {
    if items.len() > MAX_PATH_HASHES {
        return Err(format!(
            "{} hashes, more than {MAX_PATH_HASHES}",
            items.len()
        ));
    }
    items
        .iter()
        .enumerate()
        .map(|(i, h)| h.parse().map_err(|e| format!("hash {i}: {e}")))
        .collect()
}

/// Version 2: the hashes concatenated, as one base64 string.
fn base64_path(text: &str) -> Member<Vec<Hash256>> {
    let bytes = base64_bytes(text)?;
    if !bytes.len().is_multiple_of(32) || bytes.len() > MAX_PATH_HASHES * 32 {
        return Err(format!(
            "{} bytes, not a path of at most {MAX_PATH_HASHES} hashes of 32 bytes",
            bytes.len()
        ));
    }
    Ok(bytes
        .chunks_exact(32)
        .map(|c| {
            let mut h = [0u8; 32];
            h.copy_from_slice(c);
            Hash256::from_bytes(h)
        })
        .collect())
}

impl<'de> Deserialize<'de> for ReceivedBundle {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error as _;
        let doc = Tree(0).deserialize(d)?;
        read(doc).map_err(D::Error::custom)
    }
}

/// A typed bundle is read as a [`ReceivedBundle`] whose members must all
/// decode.
impl<'de> Deserialize<'de> for ProofBundle {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error as _;
        ReceivedBundle::deserialize(d)?
            .into_bundle()
            .map_err(D::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::super::Link;
    use super::*;

    fn format_reason(text: &str) -> String {
        let e = ReceivedBundle::from_json(text).unwrap_err();
        assert_eq!(e.link, Link::Format, "{text}: {e}");
        e.reason
    }

    #[test]
    fn duplicates_depth_and_versions_are_the_format_link() {
        assert!(format_reason(r#"{"version": 2, "version": 2}"#).contains("duplicate"));
        assert!(format_reason(r#"{"version": 2, "x": {"a": 1, "a": 1}}"#).contains("duplicate"));
        let deep = format!(
            r#"{{"version": 2, "x": {}{}}}"#,
            "[".repeat(MAX_DEPTH),
            "]".repeat(MAX_DEPTH)
        );
        assert!(format_reason(&deep).contains("nested"));
        for v in ["3", "0", "\"2\"", "2.0", "true", "-0", "02"] {
            format_reason(&format!(r#"{{"version": {v}}}"#));
        }
        assert!(format_reason("[]").contains("not an object"));
        assert!(format_reason(r#"{"version": 2}"#).contains("genesis_hash"));
    }
}
