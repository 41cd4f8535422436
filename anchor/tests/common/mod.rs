//! Shared set-up for the regtest tests: a real bitcoind, a funded key, an
//! engine.

use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::Duration;

use pantheon_anchor::bitcoin::secp256k1::SecretKey;
use pantheon_anchor::bitcoin::{Address, Network};
use pantheon_anchor::{AnchorEngine, AnchorEvent, AnchorKey, Policy, Regtest, Target};
use pantheon_runtime::amount::Height;
use pantheon_runtime::hash::Hash256;

/// The bitcoind binary: found, or built once by `scripts/ensure-bitcoind`.
/// Never skips: without bitcoind the test fails saying why.
pub fn bitcoind_exe() -> PathBuf {
    static EXE: OnceLock<PathBuf> = OnceLock::new();
    EXE.get_or_init(|| {
        if let Ok(exe) = pantheon_anchor::find_bitcoind() {
            return exe;
        }
        // At run time: a test binary reused from another checkout sharing
        // the target directory would otherwise name that checkout.
        let root = std::env::var("CARGO_MANIFEST_DIR").unwrap();
        let script = format!("{root}/../scripts/ensure-bitcoind");
        eprintln!("bitcoind not found; provisioning it with {script} (builds Bitcoin Core once)");
        let out = std::process::Command::new(&script)
            .stderr(std::process::Stdio::inherit())
            .output()
            .unwrap_or_else(|e| panic!("cannot run {script}: {e}"));
        assert!(
            out.status.success(),
            "{script} failed ({}); install bitcoind or set BITCOIND_EXE",
            out.status
        );
        let path = String::from_utf8_lossy(&out.stdout).trim().to_owned();
        let exe = PathBuf::from(path.lines().last().unwrap_or_default());
        assert!(
            exe.is_file(),
            "{script} printed {exe:?}, which is not a file"
        );
        exe
    })
    .clone()
}

/// A commitment for Pantheon height `h`.
pub fn target(h: u64) -> Target {
    Target {
        height: Height::new(h),
        commitment: Hash256::digest(format!("pantheon state at {h}").as_bytes()),
    }
}

/// A regtest node, our key and an engine over them.
pub struct Fixture {
    pub dir: tempfile::TempDir,
    pub bitcoind: Regtest,
    pub engine: AnchorEngine,
    /// Where blocks that must not pay us are mined to.
    pub miner: Address,
}

impl Fixture {
    /// Starts bitcoind; mines 101 blocks to our address when `fund`.
    pub async fn start(fund: bool, policy: Policy) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let bitcoind = Regtest::start_with(bitcoind_exe(), dir.path().join("bitcoind"), Vec::new())
            .await
            .unwrap();
        let key =
            AnchorKey::load_or_create(&dir.path().join("anchor").join("bitcoin.key")).unwrap();
        let miner = AnchorKey::from_secret(SecretKey::from_slice(&[0x77; 32]).unwrap())
            .address(Network::Regtest);
        if fund {
            bitcoind
                .mine(101, &key.address(Network::Regtest))
                .await
                .unwrap();
        }
        let engine = AnchorEngine::open(
            dir.path().join("anchor").join("anchor-state.json"),
            key,
            bitcoind.rpc().clone(),
            policy,
        )
        .unwrap();
        Self {
            dir,
            bitcoind,
            engine,
            miner,
        }
    }

    /// Mines `n` blocks (with the mempool) to the miner.
    pub async fn mine(&self, n: u64) {
        self.bitcoind.mine(n, &self.miner).await.unwrap();
    }

    /// Reopens the engine from its state file, as after a crash.
    pub fn reopen(&mut self) {
        let key = AnchorKey::load(&self.dir.path().join("anchor").join("bitcoin.key")).unwrap();
        let policy = *self.engine.policy();
        self.engine = AnchorEngine::open(
            self.dir.path().join("anchor").join("anchor-state.json"),
            key,
            self.bitcoind.rpc().clone(),
            policy,
        )
        .unwrap();
    }

    /// Ticks until an event matches `pred` (at most 20 ticks, 100 ms apart);
    /// returns every event seen.
    pub async fn tick_until(&mut self, pred: impl Fn(&AnchorEvent) -> bool) -> Vec<AnchorEvent> {
        let mut seen = Vec::new();
        for _ in 0..20 {
            let events = self.engine.tick().await;
            let done = events.iter().any(&pred);
            seen.extend(events);
            if done {
                return seen;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("no matching event after 20 ticks; saw {seen:?}");
    }
}

pub fn regtest_policy() -> Policy {
    Policy::for_network(Network::Regtest)
}
