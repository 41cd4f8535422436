//! The driver's own tests (an unreachable bitcoind, the state file) and
//! the core's table tests: a state, a table of answers, the steps.

use super::*;
use crate::rpc::Auth;
use bitcoin::secp256k1::SecretKey;

fn engine(dir: &Path) -> AnchorEngine {
    let key = AnchorKey::from_secret(SecretKey::from_slice(&[5; 32]).unwrap());
    let rpc = BitcoinRpc::new("http://127.0.0.1:1", Auth::Cookie(dir.join("none")));
    AnchorEngine::open(
        dir.join("state.json"),
        key,
        rpc,
        Policy::for_network(Network::Regtest),
    )
    .unwrap()
}

fn target(h: u64) -> Target {
    Target {
        height: Height::new(h),
        commitment: Hash256::digest(&h.to_be_bytes()),
    }
}

#[test]
fn only_the_newest_waiting_target_is_kept() {
    let dir = tempfile::tempdir().unwrap();
    let mut e = engine(dir.path());
    e.request(target(5));
    e.request(target(3));
    assert_eq!(e.status().waiting, Some(target(5)));
    e.request(target(9));
    assert_eq!(e.status().waiting, Some(target(9)));
}

#[tokio::test]
async fn unreachable_bitcoind_is_an_event_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let mut e = engine(dir.path());
    e.request(target(1));
    let events = e.tick().await;
    assert!(
        matches!(events.as_slice(), [AnchorEvent::Unreachable { .. }]),
        "{events:?}"
    );
    // Reported once per outage.
    assert!(e.tick().await.is_empty());
    let status = e.status();
    assert_eq!(status.reachable, Some(false));
    assert_eq!(status.checked_at, None);
    assert!(status.last_error.is_some());
    // The waiting target was persisted.
    let text = std::fs::read_to_string(dir.path().join("state.json")).unwrap();
    assert!(text.contains(&target(1).commitment.to_string()));
}

#[test]
fn refuses_state_of_another_key() {
    let dir = tempfile::tempdir().unwrap();
    let e = engine(dir.path());
    let mut state = e.core.state().clone();
    state.waiting = Some(target(1));
    crate::fsio::write_atomic(&dir.path().join("state.json"), &state.to_bytes()).unwrap();
    let other = AnchorKey::from_secret(SecretKey::from_slice(&[6; 32]).unwrap());
    let rpc = BitcoinRpc::new("http://127.0.0.1:1", Auth::Cookie(dir.path().join("x")));
    let err = AnchorEngine::open(
        dir.path().join("state.json"),
        other,
        rpc,
        Policy::for_network(Network::Regtest),
    )
    .unwrap_err();
    assert!(matches!(err, EngineError::State { .. }), "{err}");
}

// ---------------------------------------------------------------------
// The core's table: every input it handles, one row each. A row sets up
// a world (simulated Bitcoin, earlier ticks), then runs one tick step by
// step with some answers overridden, and checks what the core asked for
// (in order; "persist" for a write), the events, and anything else.
// ---------------------------------------------------------------------

mod table {
    use std::time::{Duration, SystemTime, UNIX_EPOCH};

    use bitcoin::{Amount, FeeRate, Network, Transaction, Txid};
    use pantheon_runtime::amount::Height;
    use pantheon_runtime::hash::Hash256;

    use crate::engine::core::{Answer, Core, Mode, Query, Step, Tick};
    use crate::engine::sim::Bitcoin;
    use crate::engine::state::Phase;
    use crate::engine::{AnchorEvent, EngineError, Target};
    use crate::key::AnchorKey;
    use crate::policy::{FeePolicy, Policy};
    use crate::rpc::{BlockchainInfo, MempoolAccept, RpcError, ScanResult, Unspent, codes};
    use bitcoin::secp256k1::SecretKey;

    fn target(h: u64) -> Target {
        Target {
            height: Height::new(h),
            commitment: Hash256::digest(format!("table {h}").as_bytes()),
        }
    }

    type Override = (&'static str, Result<Answer, RpcError>);

    struct World {
        core: Core,
        btc: Bitcoin,
        key: AnchorKey,
        overrides: Vec<Override>,
        fail_write: bool,
        now: SystemTime,
    }

    struct Ran {
        trace: Vec<&'static str>,
        events: Vec<AnchorEvent>,
        result: Result<Option<Txid>, EngineError>,
    }

    impl World {
        fn new(policy: Policy, coins: &[u64]) -> Self {
            let key = AnchorKey::from_secret(SecretKey::from_slice(&[0x31; 32]).unwrap());
            let mut btc = Bitcoin::new(key.script_pubkey());
            for sats in coins {
                btc.fund(Amount::from_sat(*sats));
            }
            btc.mine_one(true);
            let core = Core::new(Core::fresh_state(&key, &policy), key.clone(), policy);
            Self {
                core,
                btc,
                key,
                overrides: Vec::new(),
                fail_write: false,
                now: UNIX_EPOCH + Duration::from_secs(1_900_000_000),
            }
        }

        fn funded() -> Self {
            Self::new(Policy::for_network(Network::Regtest), &[1_000_000])
        }

        /// `coins` under `policy`, target 10 requested.
        fn waiting_with(policy: Policy, coins: &[u64]) -> Self {
            let mut w = Self::new(policy, coins);
            w.core.request(target(10));
            w
        }

        /// Funded, target 10 requested.
        fn waiting() -> Self {
            Self::waiting_with(Policy::for_network(Network::Regtest), &[1_000_000])
        }

        /// Target 10's anchor sent, in the mempool.
        fn in_flight_with(policy: Policy) -> Self {
            let mut w = Self::waiting_with(policy, &[1_000_000]);
            w.work();
            w
        }

        fn in_flight() -> Self {
            Self::in_flight_with(Policy::for_network(Network::Regtest))
        }

        /// In flight, then left out of `bump_after_blocks` blocks by a
        /// market paying more.
        fn stuck(policy: Policy) -> Self {
            let mut w = Self::in_flight_with(policy);
            w.btc.market = FeeRate::from_sat_per_vb_u32(50);
            for _ in 0..w.core.policy().bump_after_blocks {
                w.btc.mine_one(true);
            }
            w
        }

        /// In flight, then mined.
        fn mined_with(policy: Policy) -> Self {
            let mut w = Self::in_flight_with(policy);
            w.btc.mine_one(true);
            w
        }

        fn mined() -> Self {
            Self::mined_with(Policy::for_network(Network::Regtest))
        }

        /// One tick, step by step: overridden answers first, else the
        /// simulated Bitcoin's.
        fn tick(&mut self, mode: Mode) -> Ran {
            self.now += Duration::from_secs(1);
            let mut tick = Tick::new(self.now, mode);
            let mut trace = Vec::new();
            loop {
                match self.core.step(&tick) {
                    Step::Ask(q) => {
                        trace.push(q.method());
                        let answer = match self.overrides.iter().find(|(m, _)| *m == q.method()) {
                            Some((_, a)) => a.clone(),
                            None => self.btc.answer(&q),
                        };
                        tick.answer(q, answer);
                    }
                    Step::Persist { txid, .. } => {
                        trace.push("persist");
                        if self.fail_write {
                            tick.write_failed(txid, "disk full".to_owned());
                        } else {
                            tick.persisted(txid);
                        }
                    }
                    Step::Done(outcome) => {
                        let (events, result) = self.core.finish(outcome);
                        return Ran {
                            trace,
                            events,
                            result,
                        };
                    }
                }
            }
        }

        fn work(&mut self) -> Ran {
            self.tick(Mode::Work)
        }

        fn sent(&self) -> Vec<Transaction> {
            self.core
                .state()
                .anchors
                .iter()
                .flat_map(|a| a.versions.iter().map(|v| v.tx.clone()))
                .collect()
        }
    }

    fn kind(e: &AnchorEvent) -> &'static str {
        match e {
            AnchorEvent::Broadcast { replaces: None, .. } => "Broadcast",
            AnchorEvent::Broadcast {
                replaces: Some(_), ..
            } => "Replaced",
            AnchorEvent::Confirmed { .. } => "Confirmed",
            AnchorEvent::Reorged { .. } => "Reorged",
            AnchorEvent::Unreachable { .. } => "Unreachable",
            AnchorEvent::Reconnected => "Reconnected",
            AnchorEvent::NoFunds { .. } => "NoFunds",
            AnchorEvent::Abandoned { .. } => "Abandoned",
        }
    }

    fn unreachable() -> RpcError {
        RpcError::Unreachable {
            url: "table".to_owned(),
            reason: "refused".to_owned(),
        }
    }

    fn refusal(reason: &str) -> Result<Answer, RpcError> {
        Ok(Answer::TestAccept(MempoolAccept {
            txid: Txid::from_raw_hash(bitcoin::hashes::Hash::all_zeros()),
            allowed: false,
            vsize: None,
            reject_reason: Some(reason.to_owned()),
        }))
    }

    fn tip_on(chain: &str, ibd: bool, w: &World) -> Result<Answer, RpcError> {
        Ok(Answer::Tip(BlockchainInfo {
            chain: chain.to_owned(),
            blocks: w.btc.tip_height(),
            headers: w.btc.tip_height(),
            bestblockhash: w.btc.tip(),
            initialblockdownload: ibd,
        }))
    }

    const SIGN_AND_SEND: &[&str] = &[
        "getblockchaininfo",
        "getmempoolinfo",
        "scantxoutset",
        "persist",
        "testmempoolaccept",
        "sendrawtransaction",
    ];
    const WATCH_MEMPOOL: &[&str] = &["getblockchaininfo", "getblockheader", "getmempoolentry"];

    struct Row {
        name: &'static str,
        /// The world before the tick under test (with its overrides).
        setup: fn() -> World,
        mode: Mode,
        trace: Option<&'static [&'static str]>,
        events: &'static [&'static str],
        /// Anything else to check after the tick.
        then: fn(&World, &Ran),
    }

    fn nothing(_: &World, _: &Ran) {}

    fn rows() -> Vec<Row> {
        vec![
            Row {
                name: "idle: one question, nothing else",
                setup: World::funded,
                mode: Mode::Work,
                trace: Some(&["getblockchaininfo"]),
                events: &[],
                then: |w, r| {
                    assert!(r.result.is_ok());
                    assert_eq!(w.core.status().reachable, Some(true));
                    assert!(w.core.status().checked_at.is_some());
                },
            },
            Row {
                name: "a waiting target is signed, persisted, then sent",
                setup: World::waiting,
                mode: Mode::Work,
                trace: Some(SIGN_AND_SEND),
                events: &["Broadcast"],
                then: |w, _| {
                    let sent = w.sent();
                    assert_eq!(sent.len(), 1);
                    assert!(w.btc.mempool.contains(&sent[0]));
                    assert_eq!(w.core.status().waiting, None);
                    assert_eq!(w.core.status().pending.len(), 1);
                },
            },
            Row {
                name: "prepare: signed and persisted, never sent",
                setup: World::waiting,
                mode: Mode::Prepare,
                trace: Some(&[
                    "getblockchaininfo",
                    "getmempoolinfo",
                    "scantxoutset",
                    "persist",
                ]),
                events: &[],
                then: |w, r| {
                    let txid = r.result.as_ref().unwrap().unwrap();
                    assert_eq!(w.sent()[0].compute_txid(), txid);
                    assert!(w.btc.mempool.is_empty());
                },
            },
            Row {
                name: "the write before the first send fails: nothing sent, the target waits",
                setup: || {
                    let mut w = World::waiting();
                    w.fail_write = true;
                    w
                },
                mode: Mode::Work,
                trace: Some(&[
                    "getblockchaininfo",
                    "getmempoolinfo",
                    "scantxoutset",
                    "persist",
                ]),
                events: &[],
                then: |w, r| {
                    assert!(matches!(r.result, Err(EngineError::State { .. })));
                    assert!(w.btc.mempool.is_empty());
                    let status = w.core.status();
                    assert_eq!(status.waiting, Some(target(10)));
                    assert!(status.pending.is_empty());
                    assert!(status.last_error.unwrap().contains("disk full"));
                },
            },
            Row {
                name: "empty wallet: NoFunds with the address to fund",
                setup: || World::waiting_with(Policy::for_network(Network::Regtest), &[]),
                mode: Mode::Work,
                trace: Some(&["getblockchaininfo", "getmempoolinfo", "scantxoutset"]),
                events: &["NoFunds"],
                then: |w, r| {
                    let AnchorEvent::NoFunds {
                        address, available, ..
                    } = &r.events[0]
                    else {
                        unreachable!()
                    };
                    assert_eq!(address, w.core.address());
                    assert_eq!(*available, Amount::ZERO);
                    assert_eq!(w.core.status().waiting, Some(target(10)));
                },
            },
            Row {
                name: "still empty at the same tip: reported once, coins not scanned again",
                setup: || {
                    let mut w = World::waiting_with(Policy::for_network(Network::Regtest), &[]);
                    w.work();
                    w
                },
                mode: Mode::Work,
                trace: Some(&["getblockchaininfo", "getblockheader", "getmempoolinfo"]),
                events: &[],
                then: |w, _| {
                    assert!(w.core.status().last_error.unwrap().contains("no funds"));
                    assert_eq!(w.core.status().balance, Some(Amount::ZERO));
                },
            },
            Row {
                name: "an immature coinbase output is not spendable",
                setup: || {
                    let mut w = World::waiting_with(Policy::for_network(Network::Regtest), &[]);
                    let tip = w.btc.tip_height();
                    let coin = Unspent {
                        txid: Txid::from_raw_hash(bitcoin::hashes::Hash::all_zeros()),
                        vout: 0,
                        value: Amount::from_sat(50 * 100_000_000),
                        coinbase: true,
                        height: tip,
                    };
                    w.overrides.push((
                        "scantxoutset",
                        Ok(Answer::Coins(ScanResult {
                            height: tip,
                            best_block: w.btc.tip(),
                            unspents: vec![coin],
                        })),
                    ));
                    w
                },
                mode: Mode::Work,
                trace: Some(&["getblockchaininfo", "getmempoolinfo", "scantxoutset"]),
                events: &["NoFunds"],
                then: nothing,
            },
            Row {
                name: "bitcoind unreachable: one event, the state kept",
                setup: || {
                    let mut w = World::waiting();
                    w.overrides.push(("getblockchaininfo", Err(unreachable())));
                    w
                },
                mode: Mode::Work,
                trace: Some(&["getblockchaininfo"]),
                events: &["Unreachable"],
                then: |w, _| {
                    assert_eq!(w.core.status().reachable, Some(false));
                    assert_eq!(w.core.status().waiting, Some(target(10)));
                },
            },
            Row {
                name: "still unreachable: not reported again",
                setup: || {
                    let mut w = World::funded();
                    w.overrides.push(("getblockchaininfo", Err(unreachable())));
                    w.work();
                    w
                },
                mode: Mode::Work,
                trace: Some(&["getblockchaininfo"]),
                events: &[],
                then: nothing,
            },
            Row {
                name: "gone in the middle of a tick: Unreachable, nothing half-done",
                setup: || {
                    let mut w = World::waiting();
                    w.overrides.push(("scantxoutset", Err(unreachable())));
                    w
                },
                mode: Mode::Work,
                trace: Some(&["getblockchaininfo", "getmempoolinfo", "scantxoutset"]),
                events: &["Unreachable"],
                then: |w, _| {
                    assert_eq!(w.core.status().waiting, Some(target(10)));
                    assert!(w.sent().is_empty());
                },
            },
            Row {
                name: "answers again: Reconnected, work resumes",
                setup: || {
                    let mut w = World::waiting();
                    w.overrides.push(("getblockchaininfo", Err(unreachable())));
                    w.work();
                    w.overrides.clear();
                    w
                },
                mode: Mode::Work,
                trace: Some(SIGN_AND_SEND),
                events: &["Broadcast", "Reconnected"],
                then: nothing,
            },
            Row {
                name: "bitcoind on another network: refused, said in the status",
                setup: || {
                    let mut w = World::funded();
                    w.core.request(target(10));
                    let tip = tip_on("main", false, &w);
                    w.overrides.push(("getblockchaininfo", tip));
                    w
                },
                mode: Mode::Work,
                trace: Some(&["getblockchaininfo"]),
                events: &[],
                then: |w, r| {
                    assert!(matches!(r.result, Err(EngineError::WrongNetwork { .. })));
                    assert!(w.core.status().last_error.unwrap().contains("main"));
                    assert!(w.sent().is_empty());
                },
            },
            Row {
                name: "initial block download off regtest: waits",
                setup: || {
                    let mut w =
                        World::waiting_with(Policy::for_network(Network::Signet), &[1_000_000]);
                    let tip = tip_on("signet", true, &w);
                    w.overrides.push(("getblockchaininfo", tip));
                    w
                },
                mode: Mode::Work,
                trace: Some(&["getblockchaininfo"]),
                events: &[],
                then: |w, _| {
                    assert!(
                        w.core
                            .status()
                            .last_error
                            .unwrap()
                            .contains("initial block download")
                    );
                },
            },
            Row {
                name: "the driver answers another question: a clear error, no panic",
                setup: || {
                    let mut w = World::funded();
                    let wrong = Ok(Answer::BestHash(w.btc.tip()));
                    w.overrides.push(("getblockchaininfo", wrong));
                    w
                },
                mode: Mode::Work,
                trace: Some(&["getblockchaininfo"]),
                events: &[],
                then: |_, r| {
                    let Err(e) = &r.result else { panic!() };
                    assert!(e.to_string().contains("getblockchaininfo"), "{e}");
                },
            },
            Row {
                name: "in the mempool, not yet due for a bump: watched, nothing sent",
                setup: World::in_flight,
                mode: Mode::Work,
                trace: Some(WATCH_MEMPOOL),
                events: &[],
                then: nothing,
            },
            Row {
                name: "stuck for bump_after_blocks: a BIP 125 replacement, persisted first",
                setup: || World::stuck(Policy::for_network(Network::Regtest)),
                mode: Mode::Work,
                trace: Some(&[
                    "getblockchaininfo",
                    "getblockheader",
                    "getmempoolentry",
                    "getmempoolinfo",
                    "persist",
                    "testmempoolaccept",
                    "sendrawtransaction",
                ]),
                events: &["Replaced"],
                then: |w, _| {
                    let sent = w.sent();
                    assert_eq!(sent.len(), 2);
                    let outpoints = |tx: &Transaction| -> Vec<_> {
                        tx.input.iter().map(|i| i.previous_output).collect()
                    };
                    assert_eq!(
                        outpoints(&sent[0]),
                        outpoints(&sent[1]),
                        "same inputs: only one can confirm"
                    );
                    assert!(!w.btc.mempool.contains(&sent[0]));
                    assert!(w.btc.mempool.contains(&sent[1]));
                },
            },
            Row {
                name: "a replacement above the fee cap: not sent, said in the status",
                setup: || {
                    let mut policy = Policy::for_network(Network::Regtest);
                    policy.max_fee_rate = FeeRate::from_sat_per_vb_u32(1);
                    World::stuck(policy)
                },
                mode: Mode::Work,
                trace: Some(&[
                    "getblockchaininfo",
                    "getblockheader",
                    "getmempoolentry",
                    "getmempoolinfo",
                ]),
                events: &[],
                then: |w, _| {
                    assert_eq!(w.sent().len(), 1);
                    assert!(
                        w.core
                            .status()
                            .last_error
                            .unwrap()
                            .contains("above the cap")
                    );
                },
            },
            Row {
                name: "refused for its fee: replaced in the same tick",
                setup: || {
                    let mut w = World::waiting();
                    w.overrides
                        .push(("testmempoolaccept", refusal("mempool min fee not met")));
                    w
                },
                mode: Mode::Work,
                trace: Some(&[
                    "getblockchaininfo",
                    "getmempoolinfo",
                    "scantxoutset",
                    "persist",
                    "testmempoolaccept",
                    "persist",
                    "testmempoolaccept",
                ]),
                events: &[],
                then: |w, _| assert_eq!(w.sent().len(), 2),
            },
            Row {
                name: "a refusal it cannot act on: kept, said in the status",
                setup: || {
                    let mut w = World::waiting();
                    w.overrides
                        .push(("testmempoolaccept", refusal("scriptpubkey")));
                    w
                },
                mode: Mode::Work,
                trace: Some(&[
                    "getblockchaininfo",
                    "getmempoolinfo",
                    "scantxoutset",
                    "persist",
                    "testmempoolaccept",
                ]),
                events: &[],
                then: |w, _| {
                    assert!(w.core.status().last_error.unwrap().contains("refused"));
                    assert_eq!(w.core.status().pending.len(), 1);
                },
            },
            Row {
                name: "already confirmed (-27): no error; the block scan will find it",
                setup: || {
                    let mut w = World::waiting();
                    w.overrides
                        .push(("testmempoolaccept", refusal("txn-already-known")));
                    w.overrides.push((
                        "sendrawtransaction",
                        Err(RpcError::Rpc {
                            method: "sendrawtransaction".to_owned(),
                            code: codes::VERIFY_ALREADY_IN_UTXO_SET,
                            message: "Transaction outputs already in utxo set".to_owned(),
                        }),
                    ));
                    w
                },
                mode: Mode::Work,
                trace: Some(SIGN_AND_SEND),
                events: &[],
                then: |w, _| assert_eq!(w.core.status().last_error, None),
            },
            Row {
                name: "sent before a crash that lost the write: found in the mempool, not sent again",
                setup: || {
                    let mut w = World::waiting();
                    w.tick(Mode::Prepare);
                    let tx = w.sent()[0].clone();
                    w.btc.accept(&tx, false).unwrap();
                    w
                },
                mode: Mode::Work,
                trace: Some(WATCH_MEMPOOL),
                events: &[],
                then: |w, _| {
                    let a = &w.core.state().anchors[0];
                    assert!(a.versions[0].accepted);
                    assert!(a.sent_height.is_some());
                },
            },
            Row {
                name: "mined: found by the block scan, Confirmed with k = 1",
                setup: World::mined,
                mode: Mode::Work,
                trace: Some(&[
                    "getblockchaininfo",
                    "getblockheader",
                    "getmempoolentry",
                    "getblockhash",
                    "getblock",
                ]),
                events: &["Confirmed"],
                then: |w, r| {
                    let AnchorEvent::Confirmed {
                        block_hash,
                        confirmations,
                        ..
                    } = r.events[0]
                    else {
                        unreachable!()
                    };
                    assert_eq!(block_hash, w.btc.tip());
                    assert_eq!(confirmations, 1);
                    assert_eq!(w.core.status().confirmed.len(), 1);
                },
            },
            Row {
                name: "in a block but short of k: pending until deep enough",
                setup: || {
                    let mut policy = Policy::for_network(Network::Regtest);
                    policy.confirmations = 2;
                    World::mined_with(policy)
                },
                mode: Mode::Work,
                trace: None,
                events: &[],
                then: |w, _| {
                    let status = w.core.status();
                    assert_eq!(status.pending.len(), 1);
                    assert_eq!(status.pending[0].confirmations, 1);
                    assert!(matches!(
                        w.core.state().anchors[0].phase,
                        Phase::InBlock { .. }
                    ));
                },
            },
            Row {
                name: "its block reorged out: Reorged, then Confirmed again in the new branch",
                setup: || {
                    let mut w = World::mined();
                    w.work();
                    w.btc.reorg(1);
                    w
                },
                mode: Mode::Work,
                trace: None,
                events: &["Reorged", "Confirmed"],
                then: |w, r| {
                    let (
                        AnchorEvent::Reorged {
                            block_hash: old, ..
                        },
                        AnchorEvent::Confirmed {
                            block_hash: new, ..
                        },
                    ) = (&r.events[0], &r.events[1])
                    else {
                        unreachable!()
                    };
                    assert_ne!(old, new);
                    assert!(w.btc.in_best(new) && !w.btc.in_best(old));
                },
            },
            Row {
                name: "past the watch depth: settled into the history",
                setup: || {
                    let mut policy = Policy::for_network(Network::Regtest);
                    policy.watch_depth = 2;
                    let mut w = World::mined_with(policy);
                    w.work();
                    w.btc.mine_one(true);
                    w
                },
                mode: Mode::Work,
                trace: Some(&["getblockchaininfo", "getblockheader"]),
                events: &[],
                then: |w, _| {
                    assert!(w.core.state().anchors.is_empty());
                    assert_eq!(w.core.state().recent.len(), 1);
                    assert_eq!(w.core.status().confirmed[0].confirmations, 2);
                },
            },
            Row {
                name: "its coin spent behind our back: Abandoned, made again with another coin",
                setup: || {
                    let mut w = World::waiting_with(
                        Policy::for_network(Network::Regtest),
                        &[1_000_000, 900_000],
                    );
                    w.tick(Mode::Prepare);
                    let coin = w.sent()[0].input[0].previous_output;
                    w.btc.spend(coin);
                    w.btc.mine_one(true);
                    w
                },
                mode: Mode::Work,
                trace: Some(&[
                    "getblockchaininfo",
                    "getblockheader",
                    "getmempoolentry",
                    "getblockhash",
                    "getblock",
                    "testmempoolaccept",
                    "gettxout",
                    "getbestblockhash",
                    "getmempoolinfo",
                    "scantxoutset",
                    "persist",
                    "testmempoolaccept",
                    "sendrawtransaction",
                ]),
                events: &["Abandoned", "Broadcast"],
                then: |w, _| {
                    let sent = w.sent();
                    assert_eq!(sent.len(), 1);
                    assert!(w.btc.mempool.contains(&sent[0]));
                    assert_eq!(w.core.state().anchors[0].target, target(10));
                },
            },
            Row {
                name: "the scan cursor unknown to bitcoind (-5): searched again from 144 back",
                setup: || {
                    let mut w = World::mined();
                    w.overrides.push((
                        "getblockheader",
                        Err(RpcError::Rpc {
                            method: "getblockheader".to_owned(),
                            code: codes::INVALID_ADDRESS_OR_KEY,
                            message: "Block not found".to_owned(),
                        }),
                    ));
                    w
                },
                mode: Mode::Work,
                trace: Some(&[
                    "getblockchaininfo",
                    "getblockheader",
                    "getmempoolentry",
                    "getblockhash", // the tip is at 2: from max(2 - 144, 0)
                    "getblockhash",
                    "getblock",
                    "getblockhash",
                    "getblock",
                ]),
                events: &["Confirmed"],
                then: nothing,
            },
            Row {
                name: "no fee estimate: the policy's floor",
                setup: || {
                    let mut policy = Policy::for_network(Network::Regtest);
                    policy.fee = FeePolicy::Estimate {
                        target_blocks: 6,
                        floor: FeeRate::from_sat_per_vb_u32(3),
                        cap: FeeRate::from_sat_per_vb_u32(20),
                    };
                    World::waiting_with(policy, &[1_000_000])
                },
                mode: Mode::Work,
                trace: Some(&[
                    "getblockchaininfo",
                    "getmempoolinfo",
                    "estimatesmartfee",
                    "scantxoutset",
                    "persist",
                    "testmempoolaccept",
                    "sendrawtransaction",
                ]),
                events: &["Broadcast"],
                then: |w, _| {
                    let tx = &w.sent()[0];
                    let fee = w.btc.fee_of(tx);
                    assert!(
                        fee >= FeeRate::from_sat_per_vb_u32(3)
                            .fee_vb(tx.vsize() as u64)
                            .unwrap()
                    );
                    assert!(
                        fee < FeeRate::from_sat_per_vb_u32(4)
                            .fee_vb(tx.vsize() as u64)
                            .unwrap()
                    );
                },
            },
            Row {
                name: "an estimate above the cap: the cap",
                setup: || {
                    let mut policy = Policy::for_network(Network::Regtest);
                    policy.fee = FeePolicy::Estimate {
                        target_blocks: 6,
                        floor: FeeRate::from_sat_per_vb_u32(1),
                        cap: FeeRate::from_sat_per_vb_u32(5),
                    };
                    let mut w = World::waiting_with(policy, &[1_000_000]);
                    w.btc.estimate = Some(FeeRate::from_sat_per_vb_u32(400));
                    w
                },
                mode: Mode::Work,
                trace: None,
                events: &["Broadcast"],
                then: |w, _| {
                    let tx = &w.sent()[0];
                    let fee = w.btc.fee_of(tx);
                    assert!(
                        fee < FeeRate::from_sat_per_vb_u32(6)
                            .fee_vb(tx.vsize() as u64)
                            .unwrap()
                    );
                },
            },
        ]
    }

    #[test]
    fn every_input_of_the_core() {
        for row in rows() {
            let mut w = (row.setup)();
            let ran = w.tick(row.mode);
            if let Some(trace) = row.trace {
                assert_eq!(ran.trace, trace, "{}: questions asked", row.name);
            }
            let kinds: Vec<&str> = ran.events.iter().map(kind).collect();
            assert_eq!(kinds, row.events, "{}: events", row.name);
            (row.then)(&w, &ran);
            // Whatever happened, the core's state writes and reads back.
            let bytes = w.core.state().to_bytes();
            assert_eq!(
                &crate::engine::state::State::from_bytes(&bytes).unwrap(),
                w.core.state(),
                "{}",
                row.name
            );
            let _ = &w.key;
        }
    }

    #[test]
    fn step_is_pure_and_replays_to_the_same_point() {
        let mut w = World::funded();
        w.core.request(target(10));
        let mut tick = Tick::new(w.now, Mode::Work);
        let before = w.core.state().clone();
        // Asked twice without an answer: the same question, nothing changed.
        let Step::Ask(first) = w.core.step(&tick) else {
            panic!()
        };
        let Step::Ask(again) = w.core.step(&tick) else {
            panic!()
        };
        assert_eq!(first, again);
        assert_eq!(w.core.state(), &before);
        tick.answer(first.clone(), w.btc.answer(&first));
        let Step::Ask(second) = w.core.step(&tick) else {
            panic!()
        };
        assert_ne!(second, first);
        assert_eq!(w.core.state(), &before);
    }

    #[test]
    fn requests_lower_than_what_is_anchored_or_waiting_are_ignored() {
        let mut w = World::funded();
        w.core.request(target(10));
        w.work();
        w.core.request(target(5));
        assert_eq!(w.core.status().waiting, None);
        w.core.request(target(20));
        w.core.request(target(15));
        assert_eq!(w.core.status().waiting, Some(target(20)));
        // The one unconfirmed anchor holds the next back.
        let ran = w.work();
        assert!(ran.events.is_empty(), "{:?}", ran.events);
        assert_eq!(w.core.status().waiting, Some(target(20)));
        w.btc.mine_one(true);
        let kinds: Vec<&str> = w.work().events.iter().map(kind).collect();
        assert_eq!(kinds, ["Confirmed", "Broadcast"]);
        let _ = Query::Tip;
    }
}
