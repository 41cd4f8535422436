//! Which connections the server accepts: a pure core, no I/O.
//!
//! The pool of [`Limits::max_connections`] is shared so that no single
//! client can take it from the others:
//!
//! - one peer address holds at most [`Limits::max_connections_per_address`]
//!   connections (IPv6 peers are grouped by /64, the block one host is
//!   usually given, and IPv4-mapped IPv6 addresses count as IPv4);
//! - the last [`Limits::reserved_connections`] slots go only to addresses
//!   that hold no connection yet, so that even many attacking addresses
//!   filling the rest leave room for clients that are not among them.
//!
//! Connections held open without sending are closed by the server's header
//! and body timeouts (`server.rs`); this module only counts.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr};
use std::sync::{Arc, Mutex};

use crate::server::Limits;

/// The unit a per-address limit counts: an IPv4 address or an IPv6 /64.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AddressKey(IpAddr);

impl AddressKey {
    /// The key of a peer address.
    #[must_use]
    pub fn of(ip: IpAddr) -> Self {
        match ip {
            IpAddr::V4(v4) => Self(IpAddr::V4(v4)),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => Self(IpAddr::V4(v4)),
                None => {
                    let prefix = u128::from(v6) & !((1u128 << 64) - 1);
                    Self(IpAddr::V6(Ipv6Addr::from(prefix)))
                }
            },
        }
    }
}

/// Why a connection was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    /// Every slot is taken.
    #[error("the server holds its maximum of {0} connections")]
    Full(u32),
    /// Only reserved slots are left, and this address already holds some.
    #[error("only slots reserved for other addresses are left")]
    Reserved,
    /// This address holds its maximum.
    #[error("this address holds its maximum of {0} connections")]
    PerAddress(u32),
}

/// The counts of open connections.
#[derive(Debug)]
pub struct Admission {
    max: u32,
    per_address: u32,
    reserved: u32,
    open: u32,
    by_address: HashMap<AddressKey, u32>,
}

impl Admission {
    /// No connection open yet.
    #[must_use]
    pub fn new(limits: &Limits) -> Self {
        Self {
            max: limits.max_connections,
            per_address: limits.max_connections_per_address.max(1),
            reserved: limits.reserved_connections.min(limits.max_connections),
            open: 0,
            by_address: HashMap::new(),
        }
    }

    /// Counts a new connection from `key`, or says why not.
    ///
    /// # Errors
    /// [`Refused`]; then nothing is counted.
    pub fn admit(&mut self, key: AddressKey) -> Result<(), Refused> {
        let held = self.by_address.get(&key).copied().unwrap_or(0);
        if self.open >= self.max {
            return Err(Refused::Full(self.max));
        }
        if held >= self.per_address {
            return Err(Refused::PerAddress(self.per_address));
        }
        if held > 0 && self.open >= self.max - self.reserved {
            return Err(Refused::Reserved);
        }
        self.open += 1;
        *self.by_address.entry(key).or_insert(0) += 1;
        Ok(())
    }

    /// Forgets a connection counted by [`Admission::admit`].
    pub fn release(&mut self, key: AddressKey) {
        if let Some(held) = self.by_address.get_mut(&key) {
            *held -= 1;
            if *held == 0 {
                self.by_address.remove(&key);
            }
            self.open -= 1;
        }
    }

    /// Connections open now.
    #[must_use]
    pub fn open(&self) -> u32 {
        self.open
    }
}

/// A counted connection: released when dropped, whichever way the
/// connection ends (closed, timed out, or a WebSocket session that outlives
/// its HTTP upgrade request, since the permit travels with the socket).
#[derive(Debug)]
pub struct Permit {
    admission: Arc<Mutex<Admission>>,
    key: AddressKey,
}

impl Permit {
    /// Admits a connection from `ip` into `admission`.
    ///
    /// # Errors
    /// [`Refused`].
    pub fn acquire(admission: &Arc<Mutex<Admission>>, ip: IpAddr) -> Result<Self, Refused> {
        let key = AddressKey::of(ip);
        admission
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .admit(key)?;
        Ok(Self {
            admission: Arc::clone(admission),
            key,
        })
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        self.admission
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .release(self.key);
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]

    use std::net::Ipv4Addr;

    use super::*;

    fn limits(max: u32, per_address: u32, reserved: u32) -> Limits {
        Limits {
            max_connections: max,
            max_connections_per_address: per_address,
            reserved_connections: reserved,
            ..Limits::default()
        }
    }

    fn v4(last: u8) -> AddressKey {
        AddressKey::of(IpAddr::V4(Ipv4Addr::new(10, 0, 0, last)))
    }

    #[test]
    fn one_address_cannot_take_the_pool_and_the_reserve_stays_for_newcomers() {
        let mut a = Admission::new(&limits(10, 4, 2));
        for _ in 0..4 {
            a.admit(v4(1)).unwrap();
        }
        assert_eq!(a.admit(v4(1)), Err(Refused::PerAddress(4)));
        for _ in 0..4 {
            a.admit(v4(2)).unwrap();
        }
        // 8 of 10 open: the last two slots go to addresses holding none.
        assert_eq!(a.admit(v4(2)), Err(Refused::PerAddress(4)));
        a.admit(v4(3)).unwrap();
        assert_eq!(a.admit(v4(3)), Err(Refused::Reserved));
        a.admit(v4(4)).unwrap();
        assert_eq!(a.admit(v4(5)), Err(Refused::Full(10)));
        assert_eq!(a.open(), 10);
        a.release(v4(1));
        a.admit(v4(5)).unwrap();
        // Releasing what was never admitted changes nothing.
        a.release(v4(9));
        assert_eq!(a.open(), 10);
    }

    #[test]
    fn ipv6_counts_by_64_and_mapped_ipv4_as_ipv4() {
        let host: Ipv6Addr = "2001:db8:1:2::1".parse().unwrap();
        let same_64: Ipv6Addr = "2001:db8:1:2:ffff::9".parse().unwrap();
        let other_64: Ipv6Addr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(
            AddressKey::of(IpAddr::V6(host)),
            AddressKey::of(IpAddr::V6(same_64))
        );
        assert_ne!(
            AddressKey::of(IpAddr::V6(host)),
            AddressKey::of(IpAddr::V6(other_64))
        );
        let mapped = Ipv4Addr::new(10, 0, 0, 1).to_ipv6_mapped();
        assert_eq!(AddressKey::of(IpAddr::V6(mapped)), v4(1));
    }

    #[test]
    fn permits_release_on_drop() {
        let admission = Arc::new(Mutex::new(Admission::new(&limits(2, 1, 0))));
        let ip = IpAddr::V4(Ipv4Addr::LOCALHOST);
        let p = Permit::acquire(&admission, ip).unwrap();
        assert_eq!(
            Permit::acquire(&admission, ip).unwrap_err(),
            Refused::PerAddress(1)
        );
        drop(p);
        let _again = Permit::acquire(&admission, ip).unwrap();
        assert_eq!(admission.lock().unwrap().open(), 1);
    }
}
