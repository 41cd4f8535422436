#![allow(clippy::unwrap_used, reason = "tests")]
//! The anchor engine and proofs against a real Bitcoin Core in regtest.

mod common;

use std::time::Instant;

use common::{Fixture, regtest_policy, target};
use pantheon_anchor::bitcoin::{Amount, FeeRate, Network, Txid};
use pantheon_anchor::rpc::codes;
use pantheon_anchor::spv::{self, ChainError, SpvError};
use pantheon_anchor::txbuild::{Coin, MAX_ONE_INPUT_VSIZE, build_anchor, fee_for};
use pantheon_anchor::{AnchorEvent, AnchorKey, AnchorPayload, FeePolicy, Policy};
use pantheon_runtime::hash::Hash256;

fn broadcast_txid(events: &[AnchorEvent]) -> Option<Txid> {
    events.iter().find_map(|e| match e {
        AnchorEvent::Broadcast { txid, .. } => Some(*txid),
        _ => None,
    })
}

fn confirmed(events: &[AnchorEvent]) -> Option<(u64, Txid, pantheon_anchor::bitcoin::BlockHash)> {
    events.iter().find_map(|e| match e {
        AnchorEvent::Confirmed {
            target,
            txid,
            block_hash,
            ..
        } => Some((target.height.get(), *txid, *block_hash)),
        _ => None,
    })
}

fn is_confirmed(e: &AnchorEvent) -> bool {
    matches!(e, AnchorEvent::Confirmed { .. })
}

fn is_broadcast(e: &AnchorEvent) -> bool {
    matches!(e, AnchorEvent::Broadcast { .. })
}

#[tokio::test]
async fn anchor_confirms_and_its_proof_verifies_at_k1_and_k6() {
    let started = Instant::now();
    let mut f = Fixture::start(true, regtest_policy()).await;
    let rpc = f.bitcoind.rpc().clone();

    f.engine.request(target(1));
    let events = f.engine.tick().await;
    let txid = broadcast_txid(&events).unwrap_or_else(|| panic!("{events:?}"));
    let entry = rpc.get_mempool_entry(&txid).await.unwrap().unwrap();
    assert!(entry.vsize <= MAX_ONE_INPUT_VSIZE, "{} vB", entry.vsize);
    eprintln!("anchor transaction: {} vB", entry.vsize);

    // Load: newer targets while one is in flight wait; only the newest is
    // kept. One transaction per interval.
    for h in 2..=5 {
        f.engine.request(target(h));
        assert!(f.engine.tick().await.is_empty());
    }
    assert_eq!(f.engine.status().waiting, Some(target(5)));
    assert_eq!(f.engine.status().pending.len(), 1);

    f.mine(1).await;
    let events = f.tick_until(is_broadcast).await;
    let (height, confirmed_txid, block) = confirmed(&events).unwrap();
    assert_eq!((height, confirmed_txid), (1, txid));
    let next = broadcast_txid(&events).unwrap();
    let status = f.engine.status();
    assert_eq!(status.waiting, None);
    assert_eq!(status.pending[0].target, target(5));
    assert_eq!(status.confirmed[0].target, target(1));
    assert!(status.balance.unwrap() > Amount::ZERO);
    assert_eq!(status.last_error, None);

    // The Bitcoin part at k = 1.
    let part = spv::build(&rpc, &txid, &block, 1).await.unwrap();
    let verified = spv::verify(&part, &target(1).commitment, Network::Regtest, 1).unwrap();
    assert_eq!(verified.txid, txid);
    assert_eq!(verified.block_hash, block);
    assert_eq!(
        spv::verify(&part, &target(1).commitment, Network::Regtest, 2),
        Err(SpvError::NotEnoughConfirmations { have: 1, need: 2 })
    );
    assert!(matches!(
        spv::verify(&part, &target(2).commitment, Network::Regtest, 1),
        Err(SpvError::WrongCommitment { .. })
    ));

    // Six confirmations exist after five more blocks; seven do not.
    f.mine(5).await;
    let part6 = spv::build(&rpc, &txid, &block, 6).await.unwrap();
    assert_eq!(part6.headers.len(), 6);
    spv::verify(&part6, &target(1).commitment, Network::Regtest, 6).unwrap();
    assert!(spv::verify(&part6, &target(1).commitment, Network::Regtest, 7).is_err());
    assert!(matches!(
        spv::build(&rpc, &txid, &block, 7).await,
        Err(ChainError::NotEnoughConfirmations {
            have: 6,
            need: 7,
            ..
        })
    ));
    let json = serde_json::to_string(&part6).unwrap();
    eprintln!(
        "Bitcoin part, k=6: {} bytes binary, {} bytes JSON",
        {
            use pantheon_runtime::codec::Encode;
            part6.to_bytes().len()
        },
        json.len()
    );

    // Against the live node.
    let live = spv::check_best_chain(&rpc, &part6, Network::Regtest, 6)
        .await
        .unwrap();
    assert_eq!(live.confirmations, 6);
    assert!(matches!(
        spv::check_best_chain(&rpc, &part6, Network::Signet, 1).await,
        Err(ChainError::WrongNetwork { .. })
    ));
    assert!(matches!(
        spv::check_best_chain(&rpc, &part6, Network::Regtest, 7).await,
        Err(ChainError::NotEnoughConfirmations { .. })
    ));

    // The newest waiting target was anchored next, in one transaction.
    let events = f.tick_until(is_confirmed).await;
    let (height, txid5, _) = confirmed(&events).unwrap();
    assert_eq!((height, txid5), (5, next));
    eprintln!("anchor_confirms test: {:?}", started.elapsed());
}

#[tokio::test]
async fn reorg_sends_the_anchor_back_then_it_confirms_in_another_block() {
    let mut f = Fixture::start(true, regtest_policy()).await;
    let rpc = f.bitcoind.rpc().clone();
    f.engine.request(target(7));
    let txid = broadcast_txid(&f.engine.tick().await).unwrap();
    f.mine(1).await;
    let (_, _, old_block) = confirmed(&f.tick_until(is_confirmed).await).unwrap();
    let old_part = spv::build(&rpc, &txid, &old_block, 1).await.unwrap();
    spv::check_best_chain(&rpc, &old_part, Network::Regtest, 1)
        .await
        .unwrap();

    // Invalidate the anchor block and mine a longer chain without the
    // anchor.
    rpc.invalidate_block(&old_block).await.unwrap();
    rpc.generate_block(&f.miner, &[]).await.unwrap();
    rpc.generate_block(&f.miner, &[]).await.unwrap();
    let events = f.engine.tick().await;
    assert!(
        events.iter().any(|e| matches!(e,
            AnchorEvent::Reorged { target: t, txid: x, block_hash } if *t == target(7) && *x == txid && *block_hash == old_block)),
        "{events:?}"
    );
    let status = f.engine.status();
    assert_eq!(status.pending.len(), 1);
    assert!(status.confirmed.is_empty());
    assert!(matches!(
        spv::check_best_chain(&rpc, &old_part, Network::Regtest, 1).await,
        Err(ChainError::NotInBestChain(b)) if b == old_block
    ));
    // The offline check still passes: headers alone cannot see a reorg.
    spv::verify(&old_part, &target(7).commitment, Network::Regtest, 1).unwrap();

    // bitcoind put the transaction back in its mempool; the next block
    // confirms it again.
    assert!(rpc.get_mempool_entry(&txid).await.unwrap().is_some());
    f.mine(1).await;
    let (height, again, new_block) = confirmed(&f.tick_until(is_confirmed).await).unwrap();
    assert_eq!((height, again), (7, txid));
    assert_ne!(new_block, old_block);
    let part = spv::build(&rpc, &txid, &new_block, 1).await.unwrap();
    spv::verify(&part, &target(7).commitment, Network::Regtest, 1).unwrap();
    spv::check_best_chain(&rpc, &part, Network::Regtest, 1)
        .await
        .unwrap();
}

#[tokio::test]
async fn bitcoind_stopped_then_restarted_loses_nothing() {
    let mut f = Fixture::start(true, regtest_policy()).await;
    f.engine.request(target(1));
    let txid = broadcast_txid(&f.engine.tick().await).unwrap();

    f.bitcoind.stop().await.unwrap();
    let events = f.engine.tick().await;
    assert!(
        matches!(events.as_slice(), [AnchorEvent::Unreachable { .. }]),
        "{events:?}"
    );
    // Requests keep coming while Bitcoin is away; nothing is reported twice.
    f.engine.request(target(2));
    f.engine.request(target(3));
    assert!(f.engine.tick().await.is_empty());
    let status = f.engine.status();
    assert_eq!(status.reachable, Some(false));
    assert!(status.last_error.unwrap().contains("unreachable"));

    f.bitcoind.restart().await.unwrap();
    let events = f.engine.tick().await;
    assert!(events.contains(&AnchorEvent::Reconnected), "{events:?}");
    // The mempool survived the clean restart, or the engine sent it again.
    assert!(
        f.bitcoind
            .rpc()
            .get_mempool_entry(&txid)
            .await
            .unwrap()
            .is_some()
    );

    f.mine(1).await;
    let events = f.tick_until(is_broadcast).await;
    assert_eq!(confirmed(&events).map(|c| (c.0, c.1)), Some((1, txid)));
    let third = broadcast_txid(&events).unwrap();

    // Killed outright: the mempool is lost, and the engine sends the same
    // transaction again.
    f.bitcoind.kill();
    let events = f.engine.tick().await;
    assert!(
        matches!(events.as_slice(), [AnchorEvent::Unreachable { .. }]),
        "{events:?}"
    );
    f.bitcoind.restart().await.unwrap();
    assert!(
        f.bitcoind
            .rpc()
            .get_mempool_entry(&third)
            .await
            .unwrap()
            .is_none()
    );
    let events = f.engine.tick().await;
    assert!(events.contains(&AnchorEvent::Reconnected), "{events:?}");
    assert_eq!(broadcast_txid(&events), Some(third), "{events:?}");

    f.mine(1).await;
    let events = f.tick_until(is_confirmed).await;
    assert_eq!(confirmed(&events).map(|c| (c.0, c.1)), Some((3, third)));
    assert_eq!(f.engine.status().reachable, Some(true));
}

#[tokio::test]
async fn anchor_whose_coin_is_spent_elsewhere_is_abandoned_and_made_again() {
    let mut f = Fixture::start(true, regtest_policy()).await;
    let rpc = f.bitcoind.rpc().clone();
    f.engine.request(target(1));
    let prepared = f.engine.prepare().await.unwrap().unwrap();

    // Someone else holding the key spends the same coin first.
    let key = AnchorKey::load(&f.dir.path().join("anchor").join("bitcoin.key")).unwrap();
    let state = std::fs::read_to_string(f.engine.state_path()).unwrap();
    let state: serde_json::Value = serde_json::from_str(&state).unwrap();
    let input = &state["anchors"][0]["inputs"][0];
    let coin = Coin {
        outpoint: input["outpoint"].as_str().unwrap().parse().unwrap(),
        value: Amount::from_sat(input["value_sat"].as_u64().unwrap()),
    };
    let foreign = build_anchor(
        &key,
        &[coin],
        &AnchorPayload::new(Hash256::digest(b"not pantheon")),
        FeeRate::from_sat_per_vb_u32(1),
    )
    .unwrap();
    rpc.send_raw_transaction(foreign.tx()).await.unwrap();
    f.mine(1).await;

    let events = f.engine.tick().await;
    assert!(
        events.contains(&AnchorEvent::Abandoned {
            target: target(1),
            txids: vec![prepared]
        }),
        "{events:?}"
    );
    let again = broadcast_txid(&events).unwrap();
    assert_ne!(again, prepared);
    f.mine(1).await;
    let (height, txid, _) = confirmed(&f.tick_until(is_confirmed).await).unwrap();
    assert_eq!((height, txid), (1, again));
}

#[tokio::test]
async fn crash_between_persisting_and_broadcasting_sends_the_same_transaction() {
    let mut f = Fixture::start(true, regtest_policy()).await;
    let rpc = f.bitcoind.rpc().clone();
    f.engine.request(target(1));
    let prepared = f.engine.prepare().await.unwrap().unwrap();
    assert!(rpc.get_mempool_entry(&prepared).await.unwrap().is_none());

    // Crash: the engine is dropped; a new one reads the state file.
    f.reopen();
    let events = f.engine.tick().await;
    assert_eq!(broadcast_txid(&events), Some(prepared), "{events:?}");
    f.mine(1).await;
    let (_, txid, block) = confirmed(&f.tick_until(is_confirmed).await).unwrap();
    assert_eq!(txid, prepared);
    // One anchor transaction in the block, no other spend of our coins.
    let info = rpc.get_block_info(&block).await.unwrap();
    assert_eq!(info.tx.len(), 2);

    // Crash after bitcoind accepted the transaction but before the engine
    // recorded it: the reopened engine finds it in the mempool and signs
    // nothing new.
    f.engine.request(target(2));
    let prepared = f.engine.prepare().await.unwrap().unwrap();
    let tx = rpc.get_raw_transaction(&prepared, None).await;
    assert!(tx.is_err(), "not sent yet");
    let state = std::fs::read_to_string(f.engine.state_path()).unwrap();
    let raw = state
        .split("\"raw_tx\": \"")
        .nth(2)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_owned();
    let sent: pantheon_anchor::bitcoin::Transaction =
        pantheon_anchor::bitcoin::consensus::encode::deserialize(&hex::decode(raw).unwrap())
            .unwrap();
    assert_eq!(rpc.send_raw_transaction(&sent).await.unwrap(), prepared);
    f.reopen();
    let events = f.engine.tick().await;
    assert!(
        events
            .iter()
            .all(|e| !matches!(e, AnchorEvent::Broadcast { txid, .. } if *txid != prepared)),
        "{events:?}"
    );
    f.mine(1).await;
    let (height, txid, block) = confirmed(&f.tick_until(is_confirmed).await).unwrap();
    assert_eq!((height, txid), (2, prepared));
    assert_eq!(rpc.get_block_info(&block).await.unwrap().tx.len(), 2);
}

#[tokio::test]
async fn stuck_anchor_is_replaced_and_the_replacement_confirms() {
    let mut policy = regtest_policy();
    policy.bump_after_blocks = 2;
    policy.watch_depth = 3;
    let mut f = Fixture::start(true, policy).await;
    let rpc = f.bitcoind.rpc().clone();
    f.engine.request(target(1));
    let events = f.engine.tick().await;
    let Some(AnchorEvent::Broadcast {
        txid: first,
        fee: first_fee,
        ..
    }) = events.first().cloned()
    else {
        panic!("{events:?}")
    };
    // The miner now sees a hugely negative fee and leaves it out.
    rpc.prioritise_transaction(&first, -100_000_000)
        .await
        .unwrap();
    f.mine(1).await;
    assert!(f.engine.tick().await.is_empty());
    f.mine(1).await;
    let events = f.engine.tick().await;
    let Some(AnchorEvent::Broadcast {
        txid: second,
        fee: second_fee,
        replaces,
        ..
    }) = events.iter().find(|e| is_broadcast(e)).cloned()
    else {
        panic!("{events:?}")
    };
    assert_eq!(replaces, Some(first));
    assert_ne!(second, first);
    let info = rpc.get_mempool_info().await.unwrap();
    let vsize = rpc.get_mempool_entry(&second).await.unwrap().unwrap().vsize;
    assert!(second_fee >= first_fee + fee_for(info.incremental_relay_fee, vsize));
    assert!(rpc.get_mempool_entry(&first).await.unwrap().is_none());

    f.mine(1).await;
    let (height, txid, _) = confirmed(&f.tick_until(is_confirmed).await).unwrap();
    assert_eq!((height, txid), (1, second));
    assert_eq!(f.engine.status().confirmed[0].txid, second);

    // Past the watch depth the anchor is settled: still in the status,
    // no longer in the engine's working state.
    f.mine(2).await;
    assert!(f.engine.tick().await.is_empty());
    let status = f.engine.status();
    assert!(status.pending.is_empty());
    assert_eq!(status.confirmed.len(), 1);
    assert_eq!(status.confirmed[0].confirmations, 3);
    let state: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(f.engine.state_path()).unwrap()).unwrap();
    assert_eq!(state["anchors"].as_array().unwrap().len(), 0);
    assert_eq!(state["recent"][0]["txid"], second.to_string());
}

#[tokio::test]
async fn empty_wallet_reports_no_funds_with_the_address() {
    let policy = Policy {
        fee: FeePolicy::Estimate {
            target_blocks: 6,
            floor: FeeRate::from_sat_per_vb_u32(2),
            cap: FeeRate::from_sat_per_vb_u32(20),
        },
        ..regtest_policy()
    };
    let mut f = Fixture::start(false, policy).await;
    let address = f.engine.address().clone();
    f.mine(1).await;
    f.engine.request(target(1));
    let events = f.engine.tick().await;
    let [
        AnchorEvent::NoFunds {
            address: to_fund,
            needed,
            available,
        },
    ] = events.as_slice()
    else {
        panic!("{events:?}")
    };
    assert_eq!(*to_fund, address);
    assert!(*needed > Amount::ZERO);
    assert_eq!(*available, Amount::ZERO);
    // Reported once; the status keeps saying it.
    assert!(f.engine.tick().await.is_empty());
    let status = f.engine.status();
    assert!(status.last_error.unwrap().contains(&address.to_string()));
    assert_eq!(status.balance, Some(Amount::ZERO));

    // A coinbase to our address is not spendable for 100 blocks.
    f.bitcoind.mine(1, &address).await.unwrap();
    f.mine(98).await;
    assert!(f.engine.tick().await.is_empty());
    assert_eq!(f.engine.status().balance, Some(Amount::ZERO));
    f.mine(1).await;
    let events = f.engine.tick().await;
    let Some(AnchorEvent::Broadcast { txid, fee, .. }) = events.first().cloned() else {
        panic!("{events:?}")
    };
    // The estimate is unavailable on regtest: the floor applies.
    let vsize = f
        .bitcoind
        .rpc()
        .get_mempool_entry(&txid)
        .await
        .unwrap()
        .unwrap()
        .vsize;
    assert!(fee >= fee_for(FeeRate::from_sat_per_vb_u32(2), vsize));
    assert_eq!(
        f.bitcoind
            .rpc()
            .get_mempool_entry(&Txid::from_raw_hash(
                pantheon_anchor::bitcoin::hashes::Hash::all_zeros()
            ))
            .await
            .unwrap()
            .map(|e| e.vsize),
        None
    );
    let err = f
        .bitcoind
        .rpc()
        .get_block_hash(1_000_000)
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some(codes::INVALID_PARAMETER));
}
