//! `pantheon records`: the operator library for operators without code.
//!
//! An operator directory holds `operator.json` (the key file's path and
//! the operator id) and the library's files (`records.log`, `batches.log`,
//! `outbox.log`, `bundles/`, `status.json`; see `pantheon-sdk`). `append`
//! is the log's writer; `run` follows the log read-only and submits, so
//! both may run at once; `status`, `prove` and `verify` only read;
//! `export` asks a node for every anchored submission of an operator.

use std::io::{BufRead, IsTerminal};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::Subcommand;
use pantheon_runtime::crypto::{KeyCache, Keypair};
use pantheon_runtime::hash::{AuditRoot, Hash256};
use pantheon_runtime::log::MerkleLog;
use pantheon_runtime::proof::ProofBundle;
use pantheon_runtime::record::Kind;
use pantheon_runtime::record_proof::{self, Parts};
use pantheon_sdk::log::Sealed;
use pantheon_sdk::submit::{BUNDLE_DIR, STATUS_FILE};
use pantheon_sdk::{BatchPolicy, Batches, Config, Entry, Outbox, RecordLog, Submitter};
use serde_json::{Value, json};

use super::output;
use super::progress::{Mode, Progress};
use crate::client::Client;
use crate::keyfile;
use crate::now_ms;

/// The directory's own file: which key seals its records.
const OPERATOR_FILE: &str = "operator.json";
/// Lines sealed per fsync by `append`.
const APPEND_CHUNK: usize = 1_000;

/// `pantheon records ...`.
#[derive(Subcommand)]
pub enum RecordsCommand {
    /// Create an operator directory (and a key, unless --key names one).
    Init {
        #[command(flatten)]
        dir: DirArg,
        /// An existing key file to seal with (else `<dir>/operator.key` is made).
        #[arg(long)]
        key: Option<PathBuf>,
    },
    /// Seal records from JSON lines (stdin or --file); prints each record's
    /// place and hash once it is durable.
    Append {
        #[command(flatten)]
        dir: DirArg,
        /// Read the lines from this file instead of stdin.
        #[arg(long)]
        file: Option<PathBuf>,
        /// The stream of lines that name none.
        #[arg(long, default_value = "main")]
        stream: String,
    },
    /// Cut batches, submit them and follow them to anchored (long-running).
    Run {
        #[command(flatten)]
        dir: DirArg,
        /// Nodes' JSON-RPC URLs, comma-separated, used in turn.
        #[arg(long, value_delimiter = ',', default_value = "http://127.0.0.1:9944")]
        rpc: Vec<String>,
        /// Cut a batch once this many records wait.
        #[arg(long, default_value_t = 1_000)]
        batch_records: u64,
        /// ... or once the oldest waiting record is this old (ms).
        #[arg(long, default_value_t = 2_000)]
        batch_ms: u64,
        /// Most batches waiting for finality (the backlog's bound).
        #[arg(long, default_value_t = 256)]
        max_unfinalized: u64,
        /// Exit once every record is in a batch that reached this status.
        #[arg(long, value_enum)]
        until: Option<super::WaitFor>,
        /// Give up (exit 1) after this many seconds.
        #[arg(long)]
        timeout_secs: Option<u64>,
    },
    /// Records, batches and their statuses (from the files and `run`'s last report).
    Status {
        #[command(flatten)]
        dir: DirArg,
    },
    /// Write a self-contained proof of one record, down to Bitcoin.
    Prove {
        #[command(flatten)]
        dir: DirArg,
        /// The record's position in the log, from 0 (as `append` prints it).
        #[arg(long, conflicts_with = "hash")]
        seq: Option<u64>,
        /// The record's hash.
        #[arg(long)]
        hash: Option<String>,
        /// Leave the body out (the verifier gets it separately, or not at all).
        #[arg(long)]
        no_body: bool,
        /// Disclose only the record's hash, not the record.
        #[arg(long)]
        hash_only: bool,
        /// Include the previous and next records of its stream.
        #[arg(long)]
        neighbours: bool,
        /// Fetch the batch's bundle from this node (else the saved one).
        #[arg(long)]
        rpc: Option<String>,
        /// Write the proof here instead of stdout.
        #[arg(long, required_if_eq("format", "ots"))]
        out: Option<PathBuf>,
        /// `json`: the record proof; `ots`: an OpenTimestamps file of its
        /// hash path, from the record's hash to Bitcoin (FORMATS 13.1),
        /// written only for an anchored proof that verifies.
        #[arg(long, value_enum, default_value = "json")]
        format: super::ots::Format,
        /// With `--format ots`: the Bitcoin block's height (default: the
        /// height the node of `--rpc` names).
        #[arg(long)]
        bitcoin_height: Option<u64>,
    },
    /// Write every anchored submission of an operator, with its bundle
    /// and the state record that proves the range complete, as one file
    /// an auditor verifies offline (`pantheon verify FILE`).
    Export {
        #[command(flatten)]
        dir: DirArg,
        /// The operator (default: the directory's).
        #[arg(long)]
        operator: Option<String>,
        /// The node to ask.
        #[arg(long, default_value = "http://127.0.0.1:9944")]
        rpc: String,
        /// The first sequence number.
        #[arg(long, default_value_t = 0)]
        from_seq: u64,
        /// Submissions per RPC call (at most 64).
        #[arg(long, default_value_t = 64)]
        page: u64,
        /// Write the export here instead of stdout.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Re-walk the whole local log: every record, every batch root, every
    /// saved bundle, and (with --rpc) every batch's status on chain.
    Verify {
        #[command(flatten)]
        dir: DirArg,
        /// Also ask this node about every batch.
        #[arg(long)]
        rpc: Option<String>,
    },
}

/// The operator directory.
#[derive(clap::Args)]
pub struct DirArg {
    /// The operator directory.
    #[arg(long, default_value = ".pantheon/operator")]
    dir: PathBuf,
    /// Print machine-readable JSON.
    #[arg(long)]
    json: bool,
}

/// Runs a `records` command.
///
/// # Errors
/// The command's failure.
pub async fn run(command: RecordsCommand) -> Result<()> {
    match command {
        RecordsCommand::Init { dir, key } => init(&dir.dir, key.as_deref(), dir.json),
        RecordsCommand::Append { dir, file, stream } => {
            append(&dir.dir, file.as_deref(), &stream, dir.json)
        }
        RecordsCommand::Run {
            dir,
            rpc,
            batch_records,
            batch_ms,
            max_unfinalized,
            until,
            timeout_secs,
        } => {
            let config = Config {
                endpoints: rpc,
                policy: BatchPolicy {
                    max_records: batch_records,
                    max_wait_ms: batch_ms,
                },
                max_unfinalized,
                ..Config::default()
            };
            submit(
                &dir.dir,
                config,
                until.map(Into::into),
                timeout_secs.map(Duration::from_secs),
                dir.json,
            )
            .await
        }
        RecordsCommand::Status { dir } => status(&dir.dir, dir.json),
        RecordsCommand::Prove {
            dir,
            seq,
            hash,
            no_body,
            hash_only,
            neighbours,
            rpc,
            out,
            format,
            bitcoin_height,
        } => {
            let want = match (seq, hash) {
                (Some(s), None) => Want::Seq(s),
                (None, Some(h)) => Want::Hash(h.parse().context("--hash must be 64 hex digits")?),
                _ => bail!("name the record with --seq N or --hash HEX"),
            };
            let opts = ProveOpts {
                body: !no_body && !hash_only,
                hash_only,
                neighbours,
            };
            let doc = prove(&dir.dir, want, &opts, rpc.as_deref()).await?;
            if format == super::ots::Format::Ots {
                let ots = super::ots::OtsArgs {
                    out: out.context("--format ots needs --out FILE")?,
                    bitcoin_height,
                    node_claim: None,
                };
                return super::ots::record(&doc, rpc.as_deref(), ots, dir.json).await;
            }
            let text = serde_json::to_string_pretty(&doc)? + "\n";
            match out {
                Some(path) => {
                    pantheon_anchor::fsio::write_atomic(&path, text.as_bytes())
                        .with_context(|| format!("writing {}", path.display()))?;
                    eprintln!("record proof written to {}", path.display());
                }
                None => print!("{text}"),
            }
            Ok(())
        }
        RecordsCommand::Export {
            dir,
            operator,
            rpc,
            from_seq,
            page,
            out,
        } => {
            let operator = match operator {
                Some(id) => id.parse().context("--operator must be 64 hex digits")?,
                None => operator_key(&dir.dir)?.id(),
            };
            export(&operator, &rpc, from_seq, page, out.as_deref(), dir.json).await
        }
        RecordsCommand::Verify { dir, rpc } => verify_dir(&dir.dir, rpc.as_deref(), dir.json).await,
    }
}

/// `records export`: the pages of `pantheon_exportOperator` joined into
/// one document, complete as of the last page's block.
async fn export(
    operator: &pantheon_runtime::crypto::AccountId,
    rpc: &str,
    from: u64,
    per_page: u64,
    out: Option<&Path>,
    json: bool,
) -> Result<()> {
    let client = Client::new(rpc)?;
    let mut page = client.export_page(operator, from, per_page).await?;
    let mut doc = page.export.clone();
    while let Some(next) = page.next_from {
        page = client.export_page(operator, next, per_page).await?;
        let more = page.export["submissions"]
            .as_array()
            .context("the node's export page has no submissions")?
            .clone();
        doc["submissions"]
            .as_array_mut()
            .context("the node's export page has no submissions")?
            .extend(more);
        doc["state"] = page.export["state"].clone();
    }
    let count = doc["submissions"].as_array().map_or(0, Vec::len);
    let text = serde_json::to_string(&doc)? + "\n";
    match out {
        Some(path) => pantheon_anchor::fsio::write_atomic(path, text.as_bytes())
            .with_context(|| format!("writing {}", path.display()))?,
        None => print!("{text}"),
    }
    let summary = json!({
        "operator": operator.to_string(),
        "from_seq": from,
        "to_seq": page.anchored_to,
        "submissions": count,
        "next_seq": page.next_seq,
        "out": out.map(|p| p.display().to_string()),
    });
    let human = format!(
        "export of operator {operator}: seq {from}..={} ({count} submissions, all anchored){}{}",
        page.anchored_to,
        match page.next_seq.saturating_sub(page.anchored_to + 1) {
            0 => String::new(),
            n => format!(
                "; {n} later submissions are finalized but not anchored yet: export again later"
            ),
        },
        out.map_or_else(String::new, |p| format!("; written to {}", p.display())),
    );
    if json {
        eprintln!("{summary}");
    } else {
        eprintln!("{human}");
    }
    Ok(())
}

/// The key the directory seals with.
fn operator_key(dir: &Path) -> Result<Keypair> {
    let path = dir.join(OPERATOR_FILE);
    let text = std::fs::read_to_string(&path).with_context(|| {
        format!(
            "reading {} (make the directory with `pantheon records init --dir {}`)",
            path.display(),
            dir.display()
        )
    })?;
    let v: Value =
        serde_json::from_str(&text).with_context(|| format!("{} is not JSON", path.display()))?;
    let key_path = v["key"]
        .as_str()
        .with_context(|| format!("{} names no key", path.display()))?;
    let key_path = if Path::new(key_path).is_absolute() {
        PathBuf::from(key_path)
    } else {
        dir.join(key_path)
    };
    let key = keyfile::read(&key_path)?;
    if v["operator"].as_str() != Some(key.id().to_string().as_str()) {
        bail!(
            "{} is the key of {}, but {} says operator {}",
            key_path.display(),
            key.id(),
            path.display(),
            v["operator"]
        );
    }
    Ok(key)
}

fn init(dir: &Path, key: Option<&Path>, json: bool) -> Result<()> {
    if dir.join(OPERATOR_FILE).exists() {
        let key = operator_key(dir)?;
        output(
            json,
            &json!({ "dir": dir, "operator": key.id(), "created": false }),
            || {
                format!(
                    "{} is already the directory of operator {}",
                    dir.display(),
                    key.id()
                )
            },
        );
        return Ok(());
    }
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let (key, key_path) = match key {
        Some(path) => {
            let abs = std::fs::canonicalize(path)
                .with_context(|| format!("key file {}", path.display()))?;
            (keyfile::read(&abs)?, abs.display().to_string())
        }
        None => {
            let key = keyfile::generate()?;
            keyfile::write(&dir.join("operator.key"), &key, false)?;
            (key, "operator.key".to_owned())
        }
    };
    // Creates the empty log.
    let log = RecordLog::open(dir, key)?;
    let id = log.key().id();
    let text = serde_json::to_string_pretty(&json!({ "key": key_path, "operator": id }))? + "\n";
    pantheon_anchor::fsio::write_atomic(&dir.join(OPERATOR_FILE), text.as_bytes())?;
    output(
        json,
        &json!({ "dir": dir, "operator": id, "created": true }),
        || {
            format!(
                "operator directory {} for operator {id}\n  register the operator once: pantheon operator register --key {} --wait",
                dir.display(),
                if key_path.starts_with('/') {
                    key_path.clone()
                } else {
                    dir.join(&key_path).display().to_string()
                }
            )
        },
    );
    Ok(())
}

/// One line of `append`'s input.
fn entry_of(line: &str, stream: &str, log: &RecordLog) -> Result<Entry> {
    let v: Value = serde_json::from_str(line).context("not JSON")?;
    let obj = v.as_object().context("not a JSON object")?;
    let allowed = ["kind", "stream", "manifest", "time_ms", "body"];
    if let Some(k) = obj.keys().find(|k| !allowed.contains(&k.as_str())) {
        bail!(
            "unknown member {k:?} (a line has kind, body and optionally stream, manifest, time_ms)"
        );
    }
    let kind_name = obj
        .get("kind")
        .and_then(Value::as_str)
        .context("member \"kind\" (decision, manifest, approval or event) is missing")?;
    let kind = Kind::from_name(kind_name).with_context(|| format!("unknown kind {kind_name:?}"))?;
    let body = obj
        .get("body")
        .cloned()
        .context("member \"body\" is missing")?;
    let manifest =
        match obj.get("manifest") {
            Some(m) => Some(
                m.as_str()
                    .context("\"manifest\" must be a record hash")?
                    .parse::<Hash256>()
                    .context("\"manifest\" must be 64 hex digits")?,
            ),
            // A decision binds to the manifest in force: the latest sealed.
            None if kind == Kind::Decision => Some(log.last_manifest().context(
                "a decision needs a manifest: seal a manifest record first (or name one)",
            )?),
            None => None,
        };
    let time_ms = match obj.get("time_ms") {
        Some(t) => t.as_u64().context("\"time_ms\" must be an integer")?,
        None => now_ms(),
    };
    let stream = match obj.get("stream") {
        Some(s) => s
            .as_str()
            .context("\"stream\" must be a string")?
            .to_owned(),
        None => stream.to_owned(),
    };
    Ok(Entry {
        stream,
        kind,
        manifest,
        time_ms,
        body,
    })
}

fn sealed_json(s: &Sealed) -> Value {
    json!({
        "seq": s.seq,
        "stream": s.record.envelope.stream,
        "index": s.record.envelope.index,
        "kind": s.record.envelope.kind.name(),
        "hash": s.hash,
    })
}

fn append(dir: &Path, file: Option<&Path>, stream: &str, json: bool) -> Result<()> {
    let key = operator_key(dir)?;
    let log = RecordLog::open(dir, key)?;
    let reader: Box<dyn BufRead> = match file {
        Some(p) => Box::new(std::io::BufReader::new(
            std::fs::File::open(p).with_context(|| format!("opening {}", p.display()))?,
        )),
        None => Box::new(std::io::BufReader::new(std::io::stdin())),
    };
    let mut lines = reader.lines();
    let mut number = 0usize;
    let mut sealed = 0u64;
    // On stderr; not drawn over the records `append` prints on a terminal.
    let mode = if std::io::stdout().is_terminal() {
        Mode::Hidden
    } else {
        Mode::detect(false)
    };
    let mut progress = Progress::open_count("records append", "records sealed", mode);
    loop {
        let mut chunk = Vec::new();
        let mut failure = None;
        // A chunk ends at APPEND_CHUNK lines or at a decision that needs a
        // manifest the chunk seals (the log knows it only once sealed).
        while chunk.len() < APPEND_CHUNK {
            let Some(line) = lines.next() else { break };
            number += 1;
            let line = line.with_context(|| format!("reading line {number}"))?;
            if line.trim().is_empty() {
                continue;
            }
            let needs_flush = chunk.iter().any(|e: &Entry| e.kind == Kind::Manifest);
            if needs_flush && line.contains("\"decision\"") && !line.contains("\"manifest\"") {
                // Seal what we have so that the decision sees the manifest.
                sealed += print_sealed(&log.append_all(std::mem::take(&mut chunk))?, json);
            }
            match entry_of(&line, stream, &log) {
                Ok(e) => chunk.push(e),
                Err(e) => {
                    failure = Some(e.context(format!("line {number}")));
                    break;
                }
            }
        }
        if chunk.is_empty() && failure.is_none() {
            break;
        }
        match log.append_all(chunk) {
            Ok(s) => {
                sealed += print_sealed(&s, json);
                progress.set(sealed);
            }
            Err(e) => {
                progress.abandon();
                return Err(anyhow::Error::new(e).context(format!(
                    "at or before line {number}; {sealed} records sealed before it"
                )));
            }
        }
        if let Some(e) = failure {
            progress.abandon();
            return Err(e.context(format!("{sealed} records sealed before it; nothing after")));
        }
    }
    progress.set(sealed);
    progress.finish(&format!("in {}", log.path().display()));
    if mode == Mode::Hidden && !json {
        eprintln!("{sealed} records sealed in {}", log.path().display());
    }
    Ok(())
}

fn print_sealed(sealed: &[Sealed], json: bool) -> u64 {
    for s in sealed {
        if json {
            println!("{}", sealed_json(s));
        } else {
            println!(
                "{} {} {}#{} {}",
                s.seq,
                s.record.envelope.kind.name(),
                s.record.envelope.stream,
                s.record.envelope.index,
                s.hash
            );
        }
    }
    sealed.len() as u64
}

async fn submit(
    dir: &Path,
    config: Config,
    until: Option<pantheon_rpc::types::Status>,
    timeout: Option<Duration>,
    json: bool,
) -> Result<()> {
    let key = operator_key(dir)?;
    let log = Arc::new(RecordLog::follow(dir, key)?);
    let submitter = Submitter::start(dir, log, config)?;
    let start = Instant::now();
    let mut last_print = Instant::now() - Duration::from_secs(10);
    // Text: batches finalized of batches cut, with the records and
    // anchoring as its state (rate-limited off a terminal). JSON: the
    // report itself every two seconds, one object per line.
    let mut progress = Progress::counter("records run", "batches finalized", 0, Mode::detect(json));
    let result = loop {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => break Ok(()),
            () = tokio::time::sleep(Duration::from_millis(200)) => {}
        }
        let r = submitter.report();
        if json && last_print.elapsed() >= Duration::from_secs(2) {
            last_print = Instant::now();
            eprintln!("{}", serde_json::to_string(&r)?);
        }
        progress.show(
            r.finalized,
            Some(r.batches),
            format!(
                "records {} (waiting {}), anchored {}{}{}",
                r.records,
                r.waiting_records,
                r.anchored,
                if r.backlog_full {
                    " [backlog full]"
                } else {
                    ""
                },
                r.error
                    .as_deref()
                    .map(|e| format!("; {e}"))
                    .unwrap_or_default()
            ),
        );
        if let Some(status) = until {
            let reached = match status {
                pantheon_rpc::types::Status::Anchored => r.settled,
                _ => r.finalized,
            };
            if r.records > 0 && r.waiting_records == 0 && reached == r.batches {
                break Ok(());
            }
        }
        if timeout.is_some_and(|t| start.elapsed() > t) {
            break Err(anyhow::anyhow!(
                "not done within {:?}: {}",
                timeout.unwrap_or_default(),
                serde_json::to_string(&r)?
            ));
        }
    };
    let report = submitter.report();
    tokio::task::spawn_blocking(move || submitter.stop()).await?;
    if result.is_ok() {
        progress.show(report.finalized, Some(report.batches), "");
        progress.finish(&format!(
            "records {}, anchored {}",
            report.records, report.settled
        ));
    } else {
        progress.abandon();
    }
    if result.is_ok() {
        output(json, &serde_json::to_value(&report)?, || {
            format!(
                "records {}, batches {}: finalized {}, anchored {} (bundles in {})",
                report.records,
                report.batches,
                report.finalized,
                report.settled,
                dir.join(BUNDLE_DIR).display()
            )
        });
    }
    result
}

/// What the files say, read-only.
struct Local {
    key: Keypair,
    log: RecordLog,
    batches: Batches,
    outbox: Outbox,
}

fn local(dir: &Path) -> Result<Local> {
    let key = operator_key(dir)?;
    let log = RecordLog::follow(dir, operator_key(dir)?)?;
    let batches = Batches::read(dir, &log)?;
    let outbox = Outbox::read(dir, &key, batches.list())?;
    Ok(Local {
        key,
        log,
        batches,
        outbox,
    })
}

fn status(dir: &Path, json: bool) -> Result<()> {
    let l = local(dir)?;
    let report: Option<Value> = std::fs::read(dir.join(STATUS_FILE))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok());
    let v = json!({
        "operator": l.key.id(),
        "records": l.log.durable(),
        "batched": l.batches.batched(),
        "batches": l.batches.list().len(),
        "signed": l.outbox.len(),
        "settled": l.outbox.settled(),
        "first_seq": l.outbox.pin().map(|p| p.seq),
        "genesis_hash": l.outbox.pin().map(|p| p.genesis.to_string()),
        "last_run": report,
    });
    output(json, &v, || {
        let mut s = format!(
            "operator {}\n  records {} ({} in batches)\n  batches {}: {} submitted, {} anchored with saved bundles",
            l.key.id(),
            l.log.durable(),
            l.batches.batched(),
            l.batches.list().len(),
            l.outbox.len(),
            l.outbox.settled()
        );
        if let Some(r) = &v["last_run"].as_object() {
            s.push_str(&format!(
                "\n  last run: finalized {}, anchored {}, via {}{}",
                r.get("finalized").unwrap_or(&Value::Null),
                r.get("anchored").unwrap_or(&Value::Null),
                r.get("endpoint").and_then(Value::as_str).unwrap_or("-"),
                r.get("error")
                    .and_then(Value::as_str)
                    .map(|e| format!("; last error: {e}"))
                    .unwrap_or_default()
            ));
        }
        s
    });
    Ok(())
}

enum Want {
    Seq(u64),
    Hash(Hash256),
}

struct ProveOpts {
    body: bool,
    hash_only: bool,
    neighbours: bool,
}

/// The bundle of batch `n`: fetched from `rpc`, or the saved one.
async fn batch_bundle(l: &Local, dir: &Path, n: u64, rpc: Option<&str>) -> Result<ProofBundle> {
    if let Some(url) = rpc {
        let tx = l
            .outbox
            .signed()
            .get(usize::try_from(n).unwrap_or(usize::MAX))
            .with_context(|| {
                format!("batch {n} is not submitted yet: run `pantheon records run`")
            })?;
        return Client::new(url)?
            .proof(&tx.submission_id().to_string(), true)
            .await
            .with_context(|| format!("batch {n}'s bundle from {url}"));
    }
    let path = dir.join(BUNDLE_DIR).join(format!("{n}.json"));
    let text = std::fs::read(&path).with_context(|| {
        format!(
            "batch {n} has no saved bundle ({}): it is saved once anchored by `pantheon records run`; \
             or pass --rpc URL for the node's current bundle",
            path.display()
        )
    })?;
    serde_json::from_slice(&text).with_context(|| format!("{} is not a bundle", path.display()))
}

async fn prove(dir: &Path, want: Want, opts: &ProveOpts, rpc: Option<&str>) -> Result<Value> {
    let l = local(dir)?;
    let stored = l.log.stored()?;
    let seq = match want {
        Want::Seq(s) => s,
        Want::Hash(h) => stored
            .iter()
            .find(|s| s.hash == h)
            .map(|s| s.seq)
            .with_context(|| format!("no record {h} in this log"))?,
    };
    prove_seq(&l, dir, &stored, seq, opts, rpc).await
}

async fn prove_seq(
    l: &Local,
    dir: &Path,
    stored: &[Sealed],
    seq: u64,
    opts: &ProveOpts,
    rpc: Option<&str>,
) -> Result<Value> {
    let sealed = stored
        .get(usize::try_from(seq).unwrap_or(usize::MAX))
        .with_context(|| format!("the log holds {} records, not {seq}", stored.len()))?;
    let batch = *l
        .batches
        .list()
        .iter()
        .find(|b| b.first <= seq && seq < b.end)
        .with_context(|| {
            format!("record {seq} is not in a batch yet: run `pantheon records run`")
        })?;
    let leaves = l.log.hashes(batch.first, batch.end);
    let tree = MerkleLog::from_leaf_hashes(
        leaves
            .iter()
            .map(|(h, _)| pantheon_runtime::log::leaf_hash(h.as_bytes())),
    );
    let inclusion = tree.inclusion_proof(seq - batch.first, batch.len())?;
    let bundle = batch_bundle(l, dir, batch.number, rpc).await?;
    let record = &sealed.record;
    let body: Option<Value> = if opts.body {
        Some(serde_json::from_slice(&sealed.body).context("the stored body")?)
    } else {
        None
    };
    let stream = &record.envelope.stream;
    let neighbour = |index: u64| {
        stored
            .iter()
            .find(|s| s.record.envelope.stream == *stream && s.record.envelope.index == index)
            .map(|s| &s.record)
    };
    let (previous, next) = if opts.neighbours && !opts.hash_only {
        (
            record.envelope.index.checked_sub(1).and_then(neighbour),
            neighbour(record.envelope.index + 1),
        )
    } else {
        (None, None)
    };
    let manifest = match record.envelope.manifest {
        Some(m) if !opts.hash_only => {
            let mseq = stored
                .iter()
                .find(|s| s.hash == m)
                .map(|s| s.seq)
                .with_context(|| format!("the manifest {m} the record names is not in this log"))?;
            let mopts = ProveOpts {
                body: true,
                hash_only: false,
                neighbours: false,
            };
            Some(Box::pin(prove_seq(l, dir, stored, mseq, &mopts, rpc)).await?)
        }
        _ => None,
    };
    Ok(record_proof::write(&Parts {
        record: (!opts.hash_only).then_some(record),
        record_hash: sealed.hash,
        body: body.as_ref(),
        leaf_index: inclusion.leaf_index,
        tree_size: inclusion.tree_size,
        path: &inclusion.path,
        previous,
        next,
        manifest,
        bundle: &bundle,
    })?)
}

async fn verify_dir(dir: &Path, rpc: Option<&str>, json: bool) -> Result<()> {
    let l = local(dir)?;
    let stored = l.log.stored()?;
    let public = l.key.public().clone();
    let mut manifests = std::collections::HashSet::new();
    for s in &stored {
        let body: Value = serde_json::from_slice(&s.body)
            .with_context(|| format!("record {}: the stored body", s.seq))?;
        s.record
            .verify(&public, Some(&body))
            .with_context(|| format!("record {} ({})", s.seq, s.hash))?;
        if let Some(m) = s.record.envelope.manifest
            && !manifests.contains(&m)
        {
            bail!(
                "record {} ({}): manifest link failed: it names manifest {m}, which is not a \
                 manifest sealed before it in this log",
                s.seq,
                s.hash
            );
        }
        if s.record.envelope.kind == Kind::Manifest {
            manifests.insert(s.hash);
        }
    }
    // The batch list was checked against the log when read; the outbox
    // against the batches. Now every saved bundle, and the chain.
    let genesis = l.outbox.pin().map(|p| p.genesis);
    let client = rpc.map(Client::new).transpose()?;
    let keys = KeyCache::new(64);
    let (mut bundles, mut finalized, mut anchored) = (0u64, 0u64, 0u64);
    for (i, batch) in l.batches.list().iter().enumerate() {
        let root = AuditRoot::new(batch.root);
        let path = dir.join(BUNDLE_DIR).join(format!("{i}.json"));
        if let Ok(bytes) = std::fs::read(&path) {
            let b = pantheon_runtime::proof::ReceivedBundle::from_slice(&bytes)
                .map_err(|e| anyhow::anyhow!("batch {i}'s bundle: {e}"))?;
            let trust = pantheon_anchor::Trust {
                genesis_hash: genesis,
                ..pantheon_anchor::Trust::default()
            };
            let checks = pantheon_anchor::Checks {
                root: Some(root),
                ..pantheon_anchor::Checks::default()
            };
            pantheon_anchor::verify_bundle(&b, &trust, &checks, &keys)
                .map_err(|e| anyhow::anyhow!("batch {i}'s bundle ({}): {e}", path.display()))?;
            bundles += 1;
        }
        if let (Some(c), Some(tx)) = (&client, l.outbox.signed().get(i)) {
            let info = c.answer(
                pantheon_rpc::api::PantheonRpcClient::get_submission(
                    c.rpc(),
                    tx.submission_id().to_string(),
                )
                .await,
            );
            match info {
                Ok(info) if info.root == root => match info.status {
                    pantheon_rpc::types::Status::Anchored => {
                        finalized += 1;
                        anchored += 1;
                    }
                    pantheon_rpc::types::Status::Finalized => finalized += 1,
                    pantheon_rpc::types::Status::Received => {}
                },
                Ok(info) => bail!("batch {i}: the chain holds root {}, not {root}", info.root),
                Err(e) => bail!("batch {i} ({}): {e}", tx.submission_id()),
            }
        }
    }
    let v = json!({
        "valid": true,
        "records": stored.len(),
        "batches": l.batches.list().len(),
        "submitted": l.outbox.len(),
        "bundles_verified": bundles,
        "finalized": rpc.map(|_| finalized),
        "anchored": rpc.map(|_| anchored),
    });
    output(json, &v, || {
        let mut s = format!(
            "VALID: {} records (signatures, bodies, chains, manifests), {} batches (roots), {} saved bundles verified",
            stored.len(),
            l.batches.list().len(),
            bundles
        );
        if rpc.is_some() {
            s.push_str(&format!(
                "; on chain: {finalized} of {} finalized, {anchored} anchored",
                l.batches.list().len()
            ));
        }
        s
    });
    Ok(())
}
