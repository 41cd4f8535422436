//! A TCP proxy that delays what it forwards, as a wide-area link would:
//! every chunk read from one side is written to the other after a one-way
//! delay drawn from `delay ± jitter`, in order, and a small share of the
//! chunks and of the new connections pays a retransmission as if a packet
//! had been lost.
//!
//! ```text
//!  dialer ──▶ listen ─┬─ reader ─▶ [bounded queue: (release time, bytes)] ─▶ writer ──▶ target
//!                     └─ writer ◀─ [bounded queue: (release time, bytes)] ◀─ reader ◀──┘
//! ```
//!
//! Why loss is a delay and not a drop: the validators speak TCP, and TCP
//! never shows a lost segment to the application; it retransmits it after
//! its retransmission timeout (at least 200 ms on Linux) and holds every
//! later byte of the stream back until it arrives (head-of-line blocking).
//! Dropping bytes in a proxy would instead corrupt the stream (the Noise
//! session would fail and the connection would reset), which is not what
//! 1% packet loss does. So a "lost" chunk is released `retransmit` later
//! than drawn, and, since release times never decrease within one
//! direction of one connection, everything behind it waits too. A lost SYN
//! costs the initial retransmission timeout (1 s): that share of new
//! connections is dialed to the target only after `syn_retransmit`.
//!
//! The delays are drawn from a seeded generator (splitmix64), one stream
//! per connection and direction, so a seed names the same draws; the
//! timing of real processes around them is not reproducible.
//!
//! Cutting links is not this module's job: the namespace test takes the
//! interfaces down under the proxy, so the kernel drops the packets and
//! TCP sees what it would see on a real network.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::time::{Duration, Instant};

/// What a link does to the bytes it carries.
#[derive(Debug, Clone, Copy)]
pub struct Impairment {
    /// Mean one-way delay.
    pub delay: Duration,
    /// The delay is uniform in `delay - jitter ..= delay + jitter`.
    pub jitter: Duration,
    /// Chunks (and new connections) treated as lost, per million.
    pub loss_ppm: u64,
    /// The extra delay of a lost chunk (TCP's minimum retransmission
    /// timeout).
    pub retransmit: Duration,
    /// The extra delay of a lost connection attempt (TCP's initial SYN
    /// retransmission timeout).
    pub syn_retransmit: Duration,
}

impl Impairment {
    /// `delay ± jitter` one way and `loss_ppm` parts per million lost,
    /// with Linux's retransmission timeouts (200 ms, 1 s for a SYN).
    pub const fn wan(delay: Duration, jitter: Duration, loss_ppm: u64) -> Self {
        Self {
            delay,
            jitter,
            loss_ppm,
            retransmit: Duration::from_millis(200),
            syn_retransmit: Duration::from_secs(1),
        }
    }
}

/// Counters of one link, for the report.
#[derive(Debug, Default)]
pub struct Stats {
    /// Connections accepted and dialed through to the target.
    pub connections: AtomicU64,
    /// Connections accepted whose target could not be reached.
    pub unreachable: AtomicU64,
    /// Chunks forwarded (both directions).
    pub chunks: AtomicU64,
    /// Bytes forwarded (both directions).
    pub bytes: AtomicU64,
    /// Chunks that paid a retransmission.
    pub lost_chunks: AtomicU64,
    /// Connections whose dial paid a SYN retransmission.
    pub lost_syns: AtomicU64,
}

/// One direction of dialing, through a proxy that listens on `listen` and
/// forwards to `target`. Its threads run until the test process ends.
pub struct Link {
    /// Where dialers connect.
    pub listen: SocketAddr,
    /// Its counters.
    pub stats: Arc<Stats>,
}

/// How long a dial to the target may take (the target's link may be down).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// How long a write may block before the connection is given up (a peer
/// behind a link that stays down).
const WRITE_TIMEOUT: Duration = Duration::from_secs(30);
/// Largest chunk read at once.
const CHUNK: usize = 16 * 1024;
/// Chunks in flight per direction: the proxy's window (4 MiB at most).
const QUEUE: usize = 256;

impl Link {
    /// Binds `listen` (port 0 for any free port) and forwards every
    /// connection accepted there to `target` under `impairment`, with
    /// delays drawn from `seed`.
    ///
    /// # Errors
    /// The bind.
    pub fn start(
        listen: SocketAddr,
        target: SocketAddr,
        impairment: Impairment,
        seed: u64,
    ) -> std::io::Result<Self> {
        let listener = TcpListener::bind(listen)?;
        let listen = listener.local_addr()?;
        let stats = Arc::new(Stats::default());
        let s = stats.clone();
        std::thread::Builder::new()
            .name(format!("proxy {listen}"))
            .spawn(move || {
                let mut rng = SplitMix(seed);
                for inbound in listener.incoming() {
                    let Ok(inbound) = inbound else { continue };
                    let conn_seed = rng.next_u64();
                    let stats = s.clone();
                    let _ = std::thread::Builder::new()
                        .name(format!("dial {target}"))
                        .spawn(move || connect(inbound, target, impairment, conn_seed, &stats));
                }
            })?;
        Ok(Self { listen, stats })
    }
}

/// Dials `target` for `inbound` (late if the SYN is "lost") and starts the
/// two directions.
fn connect(inbound: TcpStream, target: SocketAddr, imp: Impairment, seed: u64, stats: &Arc<Stats>) {
    let mut rng = SplitMix(seed);
    if rng.below(1_000_000) < imp.loss_ppm {
        stats.lost_syns.fetch_add(1, Ordering::Relaxed);
        std::thread::sleep(imp.syn_retransmit);
    }
    let Ok(outbound) = TcpStream::connect_timeout(&target, CONNECT_TIMEOUT) else {
        stats.unreachable.fetch_add(1, Ordering::Relaxed);
        let _ = inbound.shutdown(Shutdown::Both);
        return;
    };
    stats.connections.fetch_add(1, Ordering::Relaxed);
    for s in [&inbound, &outbound] {
        let _ = s.set_nodelay(true);
        let _ = s.set_write_timeout(Some(WRITE_TIMEOUT));
    }
    let (Ok(a), Ok(b)) = (inbound.try_clone(), outbound.try_clone()) else {
        return;
    };
    direction(inbound, b, imp, rng.next_u64(), stats.clone());
    direction(outbound, a, imp, rng.next_u64(), stats.clone());
}

/// One direction of one connection: a reader that stamps each chunk with
/// its release time, and a writer that sends it then.
fn direction(from: TcpStream, to: TcpStream, imp: Impairment, seed: u64, stats: Arc<Stats>) {
    let (tx, rx) = sync_channel::<(Instant, Vec<u8>)>(QUEUE);
    let Ok(from_again) = from.try_clone() else {
        return;
    };
    let _ = std::thread::Builder::new()
        .name("proxy read".into())
        .spawn(move || read_side(from, &tx, imp, seed, &stats));
    let _ = std::thread::Builder::new()
        .name("proxy write".into())
        .spawn(move || write_side(&rx, to, &from_again));
}

fn read_side(
    mut from: TcpStream,
    tx: &SyncSender<(Instant, Vec<u8>)>,
    imp: Impairment,
    seed: u64,
    stats: &Stats,
) {
    let mut rng = SplitMix(seed);
    let jitter = u64::try_from(imp.jitter.as_micros()).unwrap_or(u64::MAX);
    let mut last = Instant::now();
    let mut buf = vec![0u8; CHUNK];
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(_) => {
                let _ = from.shutdown(Shutdown::Both);
                break;
            }
        };
        // delay - jitter + uniform(0..=2 jitter)
        let mut delay = (imp.delay + Duration::from_micros(rng.below(2 * jitter + 1)))
            .saturating_sub(imp.jitter);
        if rng.below(1_000_000) < imp.loss_ppm {
            delay += imp.retransmit;
            stats.lost_chunks.fetch_add(1, Ordering::Relaxed);
        }
        // In order: never before the chunk ahead of it.
        last = last.max(Instant::now() + delay);
        stats.chunks.fetch_add(1, Ordering::Relaxed);
        stats
            .bytes
            .fetch_add(u64::try_from(n).unwrap_or(u64::MAX), Ordering::Relaxed);
        if tx.send((last, buf[..n].to_vec())).is_err() {
            break;
        }
    }
}

fn write_side(rx: &Receiver<(Instant, Vec<u8>)>, mut to: TcpStream, from: &TcpStream) {
    // Ends when the reader has ended and everything it queued is sent.
    while let Ok((release, bytes)) = rx.recv() {
        let now = Instant::now();
        if release > now {
            std::thread::sleep(release - now);
        }
        if to.write_all(&bytes).is_err() {
            // The far side is gone: tear down both, so the reader stops.
            let _ = to.shutdown(Shutdown::Both);
            let _ = from.shutdown(Shutdown::Both);
            return;
        }
    }
    let _ = to.shutdown(Shutdown::Write);
}

/// splitmix64: small and fully specified, so a seed means the same draws
/// on every machine.
pub struct SplitMix(pub u64);

impl SplitMix {
    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (`n` > 0; the modulo bias is below 2^-40 for the
    /// sizes used here).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }
}
