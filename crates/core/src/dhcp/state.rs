//! Per-guest DHCP state: its rate limiter, the lease it was acknowledged, and what it
//! asked last and what it got, for `hvrouter show dhcp` and `explain dhcp`. Plain
//! `Copy` records: recording a request allocates nothing.

use core::fmt;

use wire::dhcp::MessageType;
use wire::Ipv4Addr;

use crate::drop::DropReason;
use crate::ratelimit::TokenBucket;
use crate::time::Instant;

/// Requests per second a guest may send (sustained). A client sends a handful at boot
/// and one per renewal (RFC 2131 section 4.1 retransmits after 4, 8, 16 ... seconds).
pub const RATE_PER_SEC: u32 = 2;
/// Requests a guest may send at once.
pub const BURST: u32 = 10;

/// Which REQUEST it was (RFC 2131 section 4.3.2 tells them apart by the fields set).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RequestState {
    /// Server identifier set: the client chose an offer.
    Selecting,
    /// Requested address set, no server identifier, `ciaddr` 0: the client verifies a
    /// remembered address (after a reboot).
    InitReboot,
    /// `ciaddr` set, unicast to the server: extending the lease at T1.
    Renewing,
    /// `ciaddr` set, broadcast: extending the lease at T2.
    Rebinding,
}

impl RequestState {
    /// Lower-case name, as RFC 2131 spells the client states.
    pub fn name(self) -> &'static str {
        match self {
            RequestState::Selecting => "selecting",
            RequestState::InitReboot => "init-reboot",
            RequestState::Renewing => "renewing",
            RequestState::Rebinding => "rebinding",
        }
    }
}

/// Why a REQUEST was refused with a DHCPNAK.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum NakReason {
    /// The address asked for (option 50 or `ciaddr`) is not the guest's.
    NotYourAddress,
}

/// What the server did with a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// DHCPOFFER of this address.
    Offered(Ipv4Addr),
    /// DHCPACK of this address, in this client state.
    Acked(Ipv4Addr, RequestState),
    /// DHCPACK to a DHCPINFORM (no address, no lease).
    Informed,
    /// DHCPNAK: the client asked for `requested`.
    Refused {
        /// What the client asked for.
        requested: Ipv4Addr,
        /// Its state.
        state: RequestState,
        /// Why.
        why: NakReason,
    },
    /// DHCPRELEASE: the lease is forgotten.
    Released,
    /// DHCPDECLINE: the guest says its address is in use by someone else.
    Declined(Ipv4Addr),
    /// Not answered, for this reason (counted as a drop).
    Dropped(DropReason),
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Outcome::Offered(a) => write!(f, "offered {a}"),
            Outcome::Acked(a, s) => write!(f, "acked {a} ({})", s.name()),
            Outcome::Informed => f.write_str("acked the inform (options only)"),
            Outcome::Refused {
                requested,
                state,
                why: NakReason::NotYourAddress,
            } => write!(
                f,
                "refused with a NAK: asked for {requested} ({}), which is not its address",
                state.name()
            ),
            Outcome::Released => f.write_str("released its lease"),
            Outcome::Declined(a) => write!(
                f,
                "declined {a}: it says another host uses it (check for a duplicate)"
            ),
            Outcome::Dropped(r) => write!(f, "not answered: {}", r.name()),
        }
    }
}

/// The last message from a guest.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LastRequest {
    /// When it arrived.
    pub at: Instant,
    /// Its type (`None`: it could not be parsed that far).
    pub message: Option<MessageType>,
    /// The transaction id (0 if unparsed).
    pub xid: u32,
    /// What the server did.
    pub outcome: Outcome,
}

/// An acknowledged lease.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Lease {
    /// The guest's address.
    pub address: Ipv4Addr,
    /// When it was acknowledged.
    pub acked_at: Instant,
    /// When it runs out unless renewed.
    pub expires: Instant,
}

/// One guest's DHCP state.
#[derive(Clone, Debug)]
pub struct GuestDhcp {
    pub(super) limit: TokenBucket,
    /// The last message and what became of it.
    pub last: Option<LastRequest>,
    /// The current lease, if acknowledged and not released.
    pub lease: Option<Lease>,
    /// DHCPDECLINE messages received from this guest.
    pub declines: u64,
}

impl GuestDhcp {
    /// A guest that has sent nothing yet.
    pub fn new(now: Instant) -> GuestDhcp {
        GuestDhcp {
            limit: TokenBucket::new(RATE_PER_SEC, BURST, now),
            last: None,
            lease: None,
            declines: 0,
        }
    }

    /// Requests the guest may still send at once.
    pub fn tokens(&self, now: Instant) -> u32 {
        self.limit.available(now)
    }
}

/// Messages received and sent, by type, all guests together.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DhcpCounters {
    /// DHCPDISCOVER received.
    pub discover: u64,
    /// DHCPREQUEST received.
    pub request: u64,
    /// DHCPDECLINE received.
    pub decline: u64,
    /// DHCPRELEASE received.
    pub release: u64,
    /// DHCPINFORM received.
    pub inform: u64,
    /// Messages of other types (server types from guests, unknown types).
    pub other: u64,
    /// DHCPOFFER sent.
    pub offer: u64,
    /// DHCPACK sent.
    pub ack: u64,
    /// DHCPNAK sent.
    pub nak: u64,
}

impl DhcpCounters {
    /// Count a received message.
    pub(super) fn received(&mut self, t: MessageType) {
        match t {
            MessageType::Discover => self.discover += 1,
            MessageType::Request => self.request += 1,
            MessageType::Decline => self.decline += 1,
            MessageType::Release => self.release += 1,
            MessageType::Inform => self.inform += 1,
            _ => self.other += 1,
        }
    }

    /// Count a sent reply.
    pub(super) fn sent(&mut self, t: MessageType) {
        match t {
            MessageType::Offer => self.offer += 1,
            MessageType::Ack => self.ack += 1,
            _ => self.nak += 1,
        }
    }

    /// Every counter by name: (direction, message type, value).
    pub fn by_name(&self) -> [(&'static str, &'static str, u64); 9] {
        [
            ("received", "discover", self.discover),
            ("received", "request", self.request),
            ("received", "decline", self.decline),
            ("received", "release", self.release),
            ("received", "inform", self.inform),
            ("received", "other", self.other),
            ("sent", "offer", self.offer),
            ("sent", "ack", self.ack),
            ("sent", "nak", self.nak),
        ]
    }
}
