//! Four validators on a network that looks like one: each in its own Linux
//! network namespace with its own address, every libp2p connection
//! between them through a proxy of this test that delays each chunk by
//! 50 ± 10 ms one way and treats 1% as lost, and partitions made by taking
//! interfaces down with `ip link set ... down`.
//!
//! ```text
//!  namespace pantheon-<pid>-hub        the test's (root) namespace
//!  +------------ br0 ------------+     +---------------------------------+
//!  | v0   v1   v2   v3   uplink -+-----+- pn<X>lan 10.X.0.254 (JSON-RPC) |
//!  +-|----|----|----|------------+     |                                 |
//!    | eth0 10.X.0.(i+1)               | proxy i->j listens on           |
//!  +-+-------------------+             |   10.X.s(i,j).254 and dials     |
//!  | pantheon-<pid>-v<i> |  to<j> -----+- pn<X>l<i><j>                   |
//!  | pantheon node       |             |   j's to<i> at 10.X.s(j,i).1    |
//!  +---------------------+             +---------------------------------+
//!
//!  to<j>: 10.X.s(i,j).1/24, one per peer j;  s(i,j) = 16 + 4i + j
//! ```
//!
//! Each validator has a LAN interface `eth0` on a bridge in a namespace of
//! the test (JSON-RPC from the test and the one-hop transaction relay of
//! ADR 0007, undelayed and never cut, as in the chaos test) and, for each
//! peer j, a point-to-point veth `to<j>` to the test's namespace, on which
//! it reaches the proxy for its link to j. Validators have no route to one
//! another (the root namespace does not forward), so the proxies are the
//! only path between them: the test checks that every one of the twelve
//! directed links carried a connection and that every peer a node reports
//! is one of its proxies. Taking `to<j>` down inside namespace i cuts the
//! pair {i, j} in both directions (both directed connections of the pair
//! run over it); established TCP connections stall and resume, as on a
//! real network, instead of being reset.
//!
//! Latency and loss are injected in user space because this kernel has no
//! `netem` qdisc; see `support/proxy.rs` for why 1% loss is a 200 ms
//! retransmission delay on 1% of chunks (and a 1 s SYN retransmission on
//! 1% of new connections) rather than dropped bytes.
//!
//! Checked: one chain (every node serves the same block hash and state root
//! at every height) after each phase; progress with one validator isolated
//! and none with the network split 2|2 (no side holds 3 of 4 votes); after
//! healing, all four reach a common new height and a submission made then
//! is finalized and seen finalized by all. Reported: finality latency,
//! submit to `finalized`, of submissions made under the delay (printed as
//! `netns finality: p50 .. ms p99 .. ms ...`), measured from the start of
//! `pantheon submit` (a new process: key load and signing included) to the
//! first poll (every 10 ms) of the submitting node that answers
//! `finalized`; percentiles are nearest-rank, so with 30 submissions p99
//! is the slowest one.
//!
//! Needs root (or CAP_NET_ADMIN) and iproute2's `ip`; where namespaces
//! cannot be created the test fails, it never skips. Namespaces are named
//! `pantheon-<pid>-*` and deleted on drop, also on a panic; those of dead
//! runs are deleted at start. Delay draws come from a seed printed at the
//! start (`PANTHEON_NETNS_SEED=<seed>` repeats them; process timing is not
//! reproducible).

#![allow(clippy::unwrap_used, clippy::print_stdout, reason = "tests")]

mod support;

#[path = "support/proxy.rs"]
mod proxy;

use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use pantheon_runtime::hash::Hash256;
use proxy::{Impairment, Link, SplitMix};
use serde_json::{Value, json};
use support::testnet::{Net, same_chain};
use support::{Rpc, ok, operator};

const VALIDATORS: usize = 4;
const BLOCK_MS: u64 = 500;
/// Every node uses the same ports: each has its own network stack.
const RPC_PORT: u16 = 9944;
const P2P_PORT: u16 = 26656;
/// Submissions timed under the delay.
const SAMPLES: usize = 30;
const DELAY: Duration = Duration::from_millis(50);
const JITTER: Duration = Duration::from_millis(10);
/// 1% (reported in whole percent).
const LOSS_PPM: u64 = 10_000;

/// `ip args...`, which must succeed.
fn ip(args: &[&str]) {
    let out = Command::new("ip")
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run `ip` (Debian package iproute2): {e}"));
    assert!(
        out.status.success(),
        "`ip {}` failed: {} (this test needs root or CAP_NET_ADMIN; it fails, never skips)",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr).trim()
    );
}

/// `ip args...`; whether it succeeded, and its stderr.
fn try_ip(args: &[&str]) -> (bool, String) {
    let out = Command::new("ip").args(args).output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn ip_stdout(args: &[&str]) -> String {
    let out = Command::new("ip").args(args).output().unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The namespaces, veths and bridge of one run, deleted on drop.
struct Lab {
    pid: u32,
    /// The second octet of every address: 10.X.0.0/16 is this run's.
    x: u8,
    namespaces: Vec<String>,
    root_links: Vec<String>,
}

impl Lab {
    fn hub(&self) -> String {
        format!("pantheon-{}-hub", self.pid)
    }

    fn ns(&self, i: usize) -> String {
        format!("pantheon-{}-v{i}", self.pid)
    }

    /// Node `i`'s LAN address (JSON-RPC).
    fn lan(&self, i: usize) -> Ipv4Addr {
        Ipv4Addr::new(10, self.x, 0, u8::try_from(i + 1).unwrap())
    }

    /// The subnet of node `i`'s point-to-point link toward `j`.
    fn segment(i: usize, j: usize) -> u8 {
        u8::try_from(16 + 4 * i + j).unwrap()
    }

    /// Node `i`'s end of its link toward `j` (interface `to<j>`).
    fn node_end(&self, i: usize, j: usize) -> Ipv4Addr {
        Ipv4Addr::new(10, self.x, Self::segment(i, j), 1)
    }

    /// The test's end of that link, where the proxy `i → j` listens.
    fn root_end(&self, i: usize, j: usize) -> Ipv4Addr {
        Ipv4Addr::new(10, self.x, Self::segment(i, j), 254)
    }

    fn rpc_url(&self, i: usize) -> String {
        format!("http://{}:{RPC_PORT}", self.lan(i))
    }

    /// Builds the network of the module docs for `n` nodes; panics (the
    /// test fails) if any step is refused.
    fn create(n: usize) -> Self {
        remove_stale_namespaces();
        let mut lab = Self {
            pid: std::process::id(),
            x: 0,
            namespaces: Vec::new(),
            root_links: Vec::new(),
        };
        let hub = lab.hub();
        ip(&["netns", "add", &hub]);
        lab.namespaces.push(hub.clone());
        lab.x = claim_subnet(&hub);
        let lan = format!("pn{}lan", lab.x);
        lab.root_links.push(lan.clone());
        let x = lab.x;
        ip(&["-n", &hub, "link", "add", "br0", "type", "bridge"]);
        ip(&["-n", &hub, "link", "set", "br0", "up"]);
        ip(&["-n", &hub, "link", "set", "uplink", "master", "br0", "up"]);
        ip(&["addr", "add", &format!("10.{x}.0.254/24"), "dev", &lan]);
        ip(&["link", "set", &lan, "up"]);
        for i in 0..n {
            let ns = lab.ns(i);
            ip(&["netns", "add", &ns]);
            lab.namespaces.push(ns.clone());
            ip(&["-n", &ns, "link", "set", "lo", "up"]);
            let port = format!("v{i}");
            ip(&[
                "link", "add", "name", "eth0", "netns", &ns, "type", "veth", "peer", "name", &port,
                "netns", &hub,
            ]);
            ip(&["-n", &hub, "link", "set", &port, "master", "br0", "up"]);
            ip(&[
                "-n",
                &ns,
                "addr",
                "add",
                &format!("{}/24", lab.lan(i)),
                "dev",
                "eth0",
            ]);
            ip(&["-n", &ns, "link", "set", "eth0", "up"]);
            for j in (0..n).filter(|&j| j != i) {
                let root = format!("pn{x}l{i}{j}");
                let inside = format!("to{j}");
                ip(&[
                    "link", "add", "name", &root, "type", "veth", "peer", "name", &inside, "netns",
                    &ns,
                ]);
                lab.root_links.push(root.clone());
                ip(&[
                    "addr",
                    "add",
                    &format!("{}/24", lab.root_end(i, j)),
                    "dev",
                    &root,
                ]);
                ip(&["link", "set", &root, "up"]);
                ip(&[
                    "-n",
                    &ns,
                    "addr",
                    "add",
                    &format!("{}/24", lab.node_end(i, j)),
                    "dev",
                    &inside,
                ]);
                ip(&["-n", &ns, "link", "set", &inside, "up"]);
            }
        }
        lab
    }

    /// `ip link set to<j> up|down` in node `i`'s namespace: the pair
    /// {i, j} connected or cut.
    fn set_link(&self, i: usize, j: usize, up: bool) {
        let state = if up { "up" } else { "down" };
        ip(&["-n", &self.ns(i), "link", "set", &format!("to{j}"), state]);
    }

    /// Cuts every pair with one node in `side` and the other outside it
    /// (an empty side heals everything).
    fn split(&self, side: &[usize]) {
        for i in 0..VALIDATORS {
            for j in (i + 1)..VALIDATORS {
                let cut = side.contains(&i) != side.contains(&j);
                self.set_link(i, j, !cut);
            }
        }
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        // Deleting a namespace destroys its veths (and their peers in the
        // root namespace) asynchronously; delete the root ends first so
        // that nothing of this run outlives the test.
        for link in &self.root_links {
            let _ = try_ip(&["link", "del", link]);
        }
        for ns in self.namespaces.iter().rev() {
            let _ = try_ip(&["netns", "del", ns]);
        }
    }
}

/// Deletes the namespaces of runs whose process is gone (a SIGKILLed test
/// cannot clean up).
fn remove_stale_namespaces() {
    for line in ip_stdout(&["netns", "list"]).lines() {
        let name = line.split_whitespace().next().unwrap_or_default();
        let Some(pid) = name
            .strip_prefix("pantheon-")
            .and_then(|rest| rest.split('-').next())
            .and_then(|p| p.parse::<u32>().ok())
        else {
            continue;
        };
        if !Path::new(&format!("/proc/{pid}")).exists() {
            let _ = try_ip(&["netns", "del", name]);
        }
    }
}

/// Claims a free 10.X.0.0/16 for this run by creating the root end of the
/// LAN uplink, `pn<X>lan` (an interface name exists once, so two runs
/// cannot claim the same X), skipping any X the root namespace routes.
fn claim_subnet(hub: &str) -> u8 {
    let routes = ip_stdout(&["-4", "route", "show", "table", "all"]);
    for k in 0..190u16 {
        let x = u8::try_from(64 + (13 + k) % 190).unwrap(); // from 10.77
        if routes.contains(&format!("10.{x}.")) {
            continue;
        }
        let name = format!("pn{x}lan");
        let (created, err) = try_ip(&[
            "link", "add", "name", &name, "type", "veth", "peer", "name", "uplink", "netns", hub,
        ]);
        if created {
            return x;
        }
        assert!(
            err.contains("exists"),
            "cannot create veth {name}: {err} (the namespace test needs root or CAP_NET_ADMIN; \
             it does not skip)"
        );
    }
    panic!("no free 10.X.0.0/16 in 10.64..10.253 for the namespace test");
}

/// The validator processes, each `ip netns exec <ns> pantheon node`,
/// stopped on drop (before the namespaces go).
struct Validators(Vec<Child>);

impl Validators {
    fn start(lab: &Lab, dir: &Path) -> Self {
        let mut children = Vec::new();
        for i in 0..VALIDATORS {
            let home = dir.join(format!("node-{i}"));
            let log = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(home.join("node.log"))
                .unwrap();
            let child = Command::new("ip")
                .args(["netns", "exec", &lab.ns(i)])
                .arg(support::bin())
                .arg("node")
                .arg("--config")
                .arg(home.join("node.toml"))
                .current_dir(&home)
                .stdin(Stdio::null())
                .stdout(log.try_clone().unwrap())
                .stderr(log)
                .spawn()
                .unwrap();
            // `ip netns exec` execs the node in place: the same pid, which
            // `pantheon testnet status` and `down` find in node.pid.
            std::fs::write(home.join("node.pid"), format!("{}\n", child.id())).unwrap();
            children.push(child);
        }
        Self(children)
    }
}

impl Drop for Validators {
    fn drop(&mut self) {
        for c in &self.0 {
            support::terminate(c);
        }
        let deadline = Instant::now() + Duration::from_secs(15);
        for c in &mut self.0 {
            support::reap_by(c, deadline);
        }
    }
}

/// Points node i's config at the namespaces: RPC on its LAN address,
/// libp2p on every interface, its peers through the proxies `i → j`
/// (started here, returned with their ends), relay to the others' LAN.
fn configure(lab: &Lab, dir: &Path, rng: &mut SplitMix) -> Vec<(usize, usize, Link)> {
    let impairment = Impairment::wan(DELAY, JITTER, LOSS_PPM);
    let mut links = Vec::new();
    for i in 0..VALIDATORS {
        let path = dir.join(format!("node-{i}/node.toml"));
        let mut config: toml::Table =
            toml::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let mut peers = Vec::new();
        let mut relay = Vec::new();
        for j in (0..VALIDATORS).filter(|&j| j != i) {
            let link = Link::start(
                SocketAddr::from((lab.root_end(i, j), 0)),
                SocketAddr::from((lab.node_end(j, i), P2P_PORT)),
                impairment,
                rng.next_u64(),
            )
            .unwrap();
            peers.push(toml::Value::from(format!(
                "/ip4/{}/tcp/{}",
                link.listen.ip(),
                link.listen.port()
            )));
            relay.push(toml::Value::from(lab.rpc_url(j)));
            links.push((i, j, link));
        }
        let rpc = config["rpc"].as_table_mut().unwrap();
        rpc.insert("addr".into(), format!("{}:{RPC_PORT}", lab.lan(i)).into());
        let p2p = config["p2p"].as_table_mut().unwrap();
        p2p.insert(
            "listen".into(),
            format!("/ip4/0.0.0.0/tcp/{P2P_PORT}").into(),
        );
        p2p.insert("peers".into(), peers.into());
        config["relay"]
            .as_table_mut()
            .unwrap()
            .insert("peers".into(), relay.into());
        std::fs::write(&path, toml::to_string(&config).unwrap()).unwrap();
    }
    // The manifest names the nodes where the test reaches them, so that
    // `pantheon testnet status` (and the support helpers over it) work.
    let path = dir.join("testnet.json");
    let mut manifest: Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    for i in 0..VALIDATORS {
        manifest["nodes"][i]["rpc"] = json!(format!("{}:{RPC_PORT}", lab.lan(i)));
        manifest["nodes"][i]["p2p"] = json!(format!("/ip4/{}/tcp/{P2P_PORT}", lab.lan(i)));
    }
    std::fs::write(&path, serde_json::to_string_pretty(&manifest).unwrap()).unwrap();
    links
}

/// The nodes' finalized heights (a node's JSON-RPC is on the LAN, which
/// is never cut: an error is a failure, retried a few times).
fn heights(rpcs: &[Rpc]) -> Vec<u64> {
    rpcs.iter()
        .enumerate()
        .map(|(i, r)| {
            let mut tries = 0;
            loop {
                match r.call("system_health", vec![]) {
                    Ok(h) => return h["height"].as_u64().unwrap(),
                    Err(e) if tries >= 5 => panic!("node {i}: system_health: {e:?}"),
                    Err(e) => eprintln!("node {i}: system_health: {e:?}, retrying"),
                }
                tries += 1;
                std::thread::sleep(Duration::from_millis(200));
            }
        })
        .collect()
}

/// Polls `done` every 100 ms for at most `limit`; returns how long it took.
fn wait_until(net: &Net, what: &str, limit: Duration, mut done: impl FnMut() -> bool) -> Duration {
    let start = Instant::now();
    while !done() {
        assert!(
            start.elapsed() < limit,
            "{what}: not within {limit:?}\n{}",
            net.logs()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    start.elapsed()
}

/// Submits `root` through `node` under `seq` (the node's next if `None`)
/// with `pantheon submit`, and polls that node every 10 ms until it is
/// finalized; returns the submission's (id, seq, submit-to-finalized
/// latency).
fn timed_submit(
    lab: &Lab,
    rpcs: &[Rpc],
    node: usize,
    key: &Path,
    root: &str,
    seq: Option<u64>,
) -> (String, u64, Duration) {
    let rpc_url = lab.rpc_url(node);
    let rpc = &rpcs[node];
    let start = Instant::now();
    let mut args = vec![
        "submit".to_owned(),
        "--key".into(),
        key.to_str().unwrap().into(),
        "--root".into(),
        root.into(),
        "--json".into(),
        "--rpc".into(),
        rpc_url.clone(),
    ];
    if let Some(s) = seq {
        args.extend(["--seq".to_owned(), s.to_string()]);
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let receipt: Value = serde_json::from_str(&ok(&args)).unwrap();
    let id = receipt["id"].as_str().unwrap().to_owned();
    loop {
        if let Ok(s) = rpc.call("pantheon_getSubmission", vec![json!(id)])
            && matches!(s["status"].as_str(), Some("finalized" | "anchored"))
        {
            let seq = receipt["seq"].as_u64().unwrap();
            return (id, seq, start.elapsed());
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "submission {id} through {rpc_url} not finalized within 60 s"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// The nearest-rank percentile (`per_mille` of 1000) of sorted samples.
fn percentile(sorted: &[Duration], per_mille: usize) -> Duration {
    let rank = (per_mille * sorted.len()).div_ceil(1000).max(1);
    sorted[rank - 1]
}

fn ms(d: Duration) -> u128 {
    d.as_millis()
}

#[test]
fn four_validators_in_namespaces_keep_one_chain_under_latency_loss_and_partitions() {
    let began = Instant::now();
    let seed = support::seed("PANTHEON_NETNS_SEED", "netns");
    let mut rng = SplitMix(seed);
    let lab = Lab::create(VALIDATORS);
    let net = Net::new();
    net.cmd(&[
        "init",
        "--validators",
        "4",
        "--no-bitcoin",
        "--base-port",
        &RPC_PORT.to_string(),
        "--block-time-ms",
        &BLOCK_MS.to_string(),
    ]);
    let dir: PathBuf = net.dir.path().canonicalize().unwrap();
    let links = configure(&lab, &dir, &mut rng);
    let validators = Validators::start(&lab, &dir);
    let rpcs: Vec<Rpc> = (0..VALIDATORS).map(|i| Rpc::new(&lab.rpc_url(i))).collect();
    let all: Vec<usize> = (0..VALIDATORS).collect();

    // Up, fully meshed through the proxies.
    net.wait_height(&all, 2);
    wait_until(
        &net,
        "every validator has 3 peers",
        Duration::from_secs(60),
        || {
            rpcs.iter().all(|r| {
                r.call("system_health", vec![])
                    .is_ok_and(|h| h["peers"].as_u64() == Some(3))
            })
        },
    );
    for (i, rpc) in rpcs.iter().enumerate() {
        let peers = rpc.call("system_peers", vec![]).unwrap();
        for p in peers.as_array().unwrap() {
            let address = p["address"].as_str().unwrap_or_default();
            assert!(
                (0..VALIDATORS)
                    .filter(|&j| j != i)
                    .any(|j| address.starts_with(&format!("/ip4/{}/", lab.root_end(i, j)))),
                "node {i}'s peer {p} is not one of its proxies"
            );
        }
        eprintln!("node {i} peers: {peers}");
    }
    let setup = began.elapsed();

    let (key, _) = operator(
        &lab.rpc_url(0),
        &dir.join("funder.key"),
        &dir,
        "netns",
        "10",
    );
    let root = |k: &str| Hash256::digest(format!("netns/{seed}/{k}").as_bytes()).to_string();

    // Finality latency under the delay: one submission at a time, through
    // each node in turn, at a random moment of the block interval.
    let mut seq: Option<u64> = None;
    let mut samples = Vec::new();
    for k in 0..SAMPLES {
        std::thread::sleep(Duration::from_millis(rng.below(BLOCK_MS)));
        let (_, s, latency) = timed_submit(
            &lab,
            &rpcs,
            k % VALIDATORS,
            &key,
            &root(&k.to_string()),
            seq,
        );
        eprintln!(
            "netns: submission {k} through node {}: {} ms",
            k % VALIDATORS,
            ms(latency)
        );
        seq = Some(s + 1);
        samples.push(latency);
    }
    samples.sort();
    let (p50, p99) = (percentile(&samples, 500), percentile(&samples, 990));

    // Validator 3 isolated: the other three (2f + 1) go on without it.
    let before = heights(&rpcs);
    eprintln!("netns: isolating validator 3 at heights {before:?}");
    for j in 0..3 {
        lab.set_link(3, j, false);
    }
    let isolated_at = before[3];
    let top = *before.iter().max().unwrap();
    wait_until(
        &net,
        "0, 1, 2 progress with 3 isolated",
        Duration::from_secs(60),
        || heights(&rpcs)[..3].iter().all(|&h| h >= top + 4),
    );
    let (_, s, isolated_latency) = timed_submit(&lab, &rpcs, 1, &key, &root("isolated"), seq);
    seq = Some(s + 1);
    let now = heights(&rpcs);
    assert!(
        now[3] <= isolated_at + 1,
        "isolated validator 3 went from {isolated_at} to {} alone",
        now[3]
    );
    same_chain(&net, &all, *now.iter().min().unwrap(), 3);

    // Healed: 3 catches up through its proxies.
    eprintln!("netns: healing validator 3 at heights {now:?}");
    for j in 0..3 {
        lab.set_link(3, j, true);
    }
    let target = *heights(&rpcs).iter().max().unwrap();
    let caught_up = wait_until(&net, "3 catches up", Duration::from_secs(60), || {
        heights(&rpcs)[3] >= target
    });

    // Split 2|2: neither side holds 3 of 4 votes, so nothing is finalized.
    eprintln!("netns: splitting {{0, 1}} | {{2, 3}}");
    lab.split(&[0, 1]);
    std::thread::sleep(Duration::from_secs(2));
    let split_at = heights(&rpcs);
    std::thread::sleep(Duration::from_secs(8));
    let after = heights(&rpcs);
    assert!(
        after.iter().max() <= split_at.iter().max(),
        "a side of the 2|2 split finalized alone: {split_at:?} -> {after:?}"
    );
    same_chain(&net, &all, *after.iter().min().unwrap(), 3);

    // Healed: live again, one chain, and new submissions are finalized.
    eprintln!("netns: healing the split at heights {after:?}");
    lab.split(&[]);
    let top = *heights(&rpcs).iter().max().unwrap();
    let recovered = wait_until(
        &net,
        "all four past the split",
        Duration::from_secs(90),
        || heights(&rpcs).iter().all(|&h| h >= top + 3),
    );
    let (healed_id, _, healed_latency) = timed_submit(&lab, &rpcs, 2, &key, &root("healed"), seq);
    let common = *heights(&rpcs).iter().min().unwrap();
    same_chain(&net, &all, common, 3);
    wait_until(
        &net,
        "all four see the healed submission finalized",
        Duration::from_secs(30),
        || {
            rpcs.iter().all(|r| {
                r.call("pantheon_getSubmission", vec![json!(healed_id)])
                    .is_ok_and(|s| matches!(s["status"].as_str(), Some("finalized" | "anchored")))
            })
        },
    );

    // Every link carried connections: the proxies are the validators' path.
    for (i, j, link) in &links {
        let n = link
            .stats
            .connections
            .load(std::sync::atomic::Ordering::Relaxed);
        assert!(n >= 1, "link {i} -> {j} carried no connection");
    }
    let total = |f: fn(&proxy::Stats) -> &std::sync::atomic::AtomicU64| -> u64 {
        links
            .iter()
            .map(|(_, _, l)| f(&l.stats).load(std::sync::atomic::Ordering::Relaxed))
            .sum()
    };
    let chunks = total(|s| &s.chunks);
    println!(
        "netns finality: p50 {} ms p99 {} ms over {SAMPLES} submissions ({}±{} ms, {}% loss)",
        ms(p50),
        ms(p99),
        ms(DELAY),
        ms(JITTER),
        LOSS_PPM / 10_000
    );
    println!(
        "netns: submit to finalized {} ms with validator 3 isolated, {} ms after healing the \
         2|2 split; 3 caught up in {} ms, all four past the split {} ms after healing; \
         min {} max {} ms; {} connections, {chunks} chunks ({} KiB), {} delayed as lost, {} \
         lost SYNs; setup {} s, total {} s",
        ms(isolated_latency),
        ms(healed_latency),
        ms(caught_up),
        ms(recovered),
        ms(samples[0]),
        ms(samples[SAMPLES - 1]),
        total(|s| &s.connections),
        total(|s| &s.bytes) / 1024,
        total(|s| &s.lost_chunks),
        total(|s| &s.lost_syns),
        setup.as_secs(),
        began.elapsed().as_secs()
    );
    drop(validators);
}
