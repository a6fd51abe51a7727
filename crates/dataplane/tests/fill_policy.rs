//! The fill-ring quota policy (`hvrouter_dataplane::fill`) on a simulated pool and
//! kernel, with a fake clock: hundreds of idle guests next to a busy one and the uplink,
//! growth bounded by the budget, quotas given back when quiet, starvation reported once.
//! No privileges, no devices.

use std::time::Duration;

use hvrouter_core::Instant;
use hvrouter_dataplane::fill::{
    FillBounds, FillEvent, FillPolicy, PoolPlan, TickInput, GUEST_FLOOR,
};

const BURST: usize = 64;

fn plan(frames: u32) -> PoolPlan {
    PoolPlan {
        frames,
        frame_size: 4096,
        rx_offset: 256,
        ring: 2048,
    }
}

/// One port: its quota, the chunks on its fill ring, and what it lent.
struct SimPort {
    policy: FillPolicy,
    in_fill: u32,
    lent: u32,
    /// Frames the kernel wrote into fill chunks, not yet taken off the RX ring.
    rx_ready: u32,
    kernel_drops: u64,
    refill_starved: u64,
    received: u64,
}

/// A pool shared by ports: the free stack's size and the lent figure, as in `sys`.
struct Sim {
    plan: PoolPlan,
    free: u32,
    lent: u32,
    ports: Vec<SimPort>,
    now: Instant,
}

impl Sim {
    fn new(frames: u32, guests: usize) -> Sim {
        let plan = plan(frames);
        let mut sim = Sim {
            plan,
            free: frames,
            lent: 0,
            ports: Vec::new(),
            now: Instant::ZERO,
        };
        sim.add(true);
        for _ in 0..guests {
            sim.add(false);
        }
        sim
    }

    /// Opens a port (index returned) and fills its ring, as `XdpPort::open` does.
    fn add(&mut self, uplink: bool) -> usize {
        let bounds = if uplink {
            self.plan.uplink()
        } else {
            self.plan.guest()
        };
        self.ports.push(SimPort {
            policy: FillPolicy::new(bounds),
            in_fill: 0,
            lent: 0,
            rx_ready: 0,
            kernel_drops: 0,
            refill_starved: 0,
            received: 0,
        });
        let i = self.ports.len() - 1;
        self.refill(i);
        i
    }

    fn refill(&mut self, i: usize) {
        let p = &mut self.ports[i];
        let others = self.lent - p.lent;
        let to = p.policy.plan(p.in_fill, self.free, others);
        let want = to.saturating_sub(p.in_fill);
        let got = want.min(self.free);
        if got < want {
            p.refill_starved += 1;
        }
        self.free -= got;
        p.in_fill += got;
        let lent = p.policy.lent(p.in_fill);
        self.lent = others + lent;
        p.lent = lent;
    }

    /// `n` frames of `chunks` chunks each arrive at port `i`: the kernel takes fill
    /// entries for whole frames and drops a frame it has too few for.
    fn arrive(&mut self, i: usize, n: u32, chunks: u32) {
        let p = &mut self.ports[i];
        for _ in 0..n {
            let available = p.in_fill - p.rx_ready;
            if available < chunks {
                p.kernel_drops += 1;
            } else {
                p.rx_ready += chunks;
            }
        }
    }

    /// One poll of port `i`: a receive burst (frames forwarded and completed at once:
    /// their chunks go back to the free stack), then the refill.
    fn poll(&mut self, i: usize) -> usize {
        let p = &mut self.ports[i];
        let take = p.rx_ready.min(BURST as u32);
        p.rx_ready -= take;
        p.in_fill -= take;
        p.received += u64::from(take);
        self.free += take;
        p.policy.on_rx(take as usize, BURST);
        self.refill(i);
        take as usize
    }

    fn poll_all(&mut self) {
        for i in 0..self.ports.len() {
            self.poll(i);
        }
    }

    /// A housekeeping tick on every port, 10 ms later; the kernel's counters are read.
    fn tick(&mut self) -> Vec<(usize, FillEvent)> {
        self.now = self.now + Duration::from_millis(10);
        let mut events = Vec::new();
        for i in 0..self.ports.len() {
            let p = &mut self.ports[i];
            let input = TickInput {
                in_fill: p.in_fill,
                refill_starved: p.refill_starved,
                fill_drops: Some(p.kernel_drops),
                large_frames: false,
            };
            let e = p.policy.tick(self.now, input);
            if e != FillEvent::None {
                events.push((i, e));
            }
            self.refill(i);
        }
        events
    }

    fn parked(&self) -> u32 {
        self.ports.iter().map(|p| p.in_fill).sum()
    }

    /// Every chunk is free or on a fill ring (frames complete at once here).
    fn check_conservation(&self) {
        assert_eq!(self.free + self.parked(), self.plan.frames);
        let lent: u32 = self.ports.iter().map(|p| p.lent).sum();
        assert_eq!(lent, self.lent, "the pool's lent figure is the ports' sum");
    }
}

#[test]
fn the_default_pool_serves_250_idle_guests_with_their_floors() {
    let p = plan(4096);
    assert!(p.guest_capacity(1) >= 250, "{}", p.guest_capacity(1));
    let sim = Sim::new(4096, 250);
    assert_eq!(sim.ports[0].in_fill, 512, "the uplink's floor");
    for g in &sim.ports[1..] {
        assert_eq!(g.in_fill, GUEST_FLOOR, "every guest holds its floor");
    }
    assert_eq!(sim.parked(), 512 + 250 * GUEST_FLOOR);
    assert_eq!(sim.lent, 0);
    sim.check_conservation();
}

#[test]
fn a_busy_guest_grows_while_busy_and_gives_it_back_when_quiet() {
    let mut sim = Sim::new(4096, 250);
    let busy = 7;
    // A stream: a full burst waits at every poll.
    for _ in 0..200 {
        let room = sim.ports[busy].in_fill - sim.ports[busy].rx_ready;
        sim.arrive(busy, room.min(BURST as u32), 1);
        sim.poll_all();
    }
    let grown = sim.ports[busy].policy.target();
    assert_eq!(grown, sim.plan.guest().max, "a busy guest reaches its max");
    assert_eq!(sim.ports[busy].in_fill, grown);
    assert_eq!(sim.ports[busy].kernel_drops, 0, "grew before it dropped");
    for g in sim.ports.iter().skip(1).filter(|g| g.received == 0) {
        assert_eq!(g.in_fill, GUEST_FLOOR, "idle guests keep their floor only");
    }
    sim.check_conservation();
    // Quiet, then a trickle of single frames: the target halves each quiet window and
    // the excess goes back to the pool as frames arrive (it is never refilled).
    for _ in 0..700 {
        sim.arrive(busy, 1, 1);
        sim.poll_all();
        sim.tick();
    }
    assert_eq!(sim.ports[busy].policy.target(), GUEST_FLOOR);
    assert_eq!(sim.ports[busy].in_fill, GUEST_FLOOR, "excess given back");
    assert_eq!(sim.lent, 0);
    sim.check_conservation();
}

#[test]
fn growth_is_bounded_by_the_budget_and_never_takes_a_new_guests_floor() {
    let frames = 4096;
    let mut sim = Sim::new(frames, 100);
    // Every guest takes a stream, then goes silent with its excess still parked.
    for _ in 0..300 {
        for i in 1..sim.ports.len() {
            let room = sim.ports[i].in_fill - sim.ports[i].rx_ready;
            sim.arrive(i, room.min(BURST as u32), 1);
        }
        sim.poll_all();
        assert!(sim.lent <= sim.plan.uplink().budget, "lent {}", sim.lent);
    }
    assert!(sim.ports.iter().skip(1).any(|p| p.policy.held_back() > 0));
    for _ in 0..100 {
        sim.tick();
        sim.poll_all();
    }
    sim.check_conservation();
    // Guests up to the capacity still get their floors from what growth left.
    let capacity = sim.plan.guest_capacity(1) as usize;
    while sim.ports.len() - 1 < capacity {
        let i = sim.add(false);
        assert_eq!(sim.ports[i].in_fill, GUEST_FLOOR, "guest {i} got its floor");
    }
    assert_eq!(sim.ports[0].in_fill, 512, "the uplink keeps its floor");
    assert!(sim.tick().is_empty(), "nobody starves");
    sim.check_conservation();
}

#[test]
fn a_port_without_its_floor_is_reported_once_and_recovers() {
    // A pool too small for what is attached (admission control would refuse this).
    let mut sim = Sim::new(256, 0);
    let mut added = Vec::new();
    while sim.free > 0 {
        added.push(sim.add(false));
    }
    let starved = sim.add(false);
    assert_eq!(sim.ports[starved].in_fill, 0);
    let events = sim.tick();
    assert_eq!(events, vec![(starved, FillEvent::Starved)]);
    assert!(sim.ports[starved].policy.starved());
    for _ in 0..10 {
        assert!(sim.tick().is_empty(), "reported once, not every tick");
    }
    // Two guests, now with a quota of one chunk, receive frames that are forwarded:
    // the pool has chunks again.
    for &donor in &added[..2] {
        sim.arrive(donor, GUEST_FLOOR, 1);
        sim.ports[donor].policy = FillPolicy::new(FillBounds::fixed(1));
    }
    sim.poll_all();
    let events = sim.tick();
    assert!(
        events.contains(&(starved, FillEvent::Recovered)),
        "{events:?}"
    );
    assert_eq!(sim.ports[starved].in_fill, GUEST_FLOOR);
}

#[test]
fn large_frames_raise_the_floor_after_one_drop() {
    let mut sim = Sim::new(4096, 10);
    let tap = 3;
    let chunks = sim.plan.largest_frame_chunks();
    assert_eq!(chunks, 18, "a 64 KB GSO frame in 3840-byte chunk payloads");
    sim.arrive(tap, 1, chunks);
    assert_eq!(
        sim.ports[tap].kernel_drops, 1,
        "dropped whole: the ring was short"
    );
    sim.tick(); // counters seen for the first time
    sim.arrive(tap, 1, chunks);
    sim.tick();
    let floor = sim.ports[tap].policy.floor();
    assert!(floor >= chunks, "floor {floor}");
    assert!(sim.ports[tap].in_fill >= chunks);
    sim.arrive(tap, 1, chunks);
    assert_eq!(sim.ports[tap].kernel_drops, 2, "the next large frame fits");
    assert_eq!(sim.poll(tap), chunks as usize);
    sim.check_conservation();
}

#[test]
fn growth_leaves_the_reserve_on_the_free_stack() {
    let p = plan(4096);
    let mut policy = FillPolicy::new(p.guest());
    for _ in 0..10 {
        policy.on_rx(BURST, BURST);
    }
    assert_eq!(policy.target(), p.guest().max);
    // Plenty free: up to the target.
    assert_eq!(policy.plan(0, 4000, 0), p.guest().max);
    // Free stack at the reserve: only the floor.
    assert_eq!(policy.plan(0, p.reserve(), 0), GUEST_FLOOR);
    // Budget spent by others: only the floor.
    assert_eq!(policy.plan(0, 4000, p.guest().budget), GUEST_FLOOR);
}

#[test]
fn pools_grow_in_powers_of_two_for_the_guests_asked() {
    let p = plan(4096);
    assert_eq!(p.guest_capacity(1), 320);
    assert_eq!(p.grown_for(250, 1, 262_144).map(|g| g.frames), Some(4096));
    assert_eq!(p.grown_for(500, 1, 262_144).map(|g| g.frames), Some(8192));
    assert_eq!(p.grown_for(1_000_000, 1, 262_144), None);
    let small = plan(256);
    assert_eq!(small.uplink().floor, 32);
    assert!(small.guest().max >= small.guest().large_floor);
}

#[test]
fn an_emptied_ring_catches_up_eightfold_a_low_one_doubles() {
    let p = plan(4096);
    let mut policy = FillPolicy::new(p.guest());
    policy.on_rx(8, BURST); // every chunk of the floor held a frame: some were lost
    assert_eq!(policy.target(), 64);
    policy.on_rx(40, BURST); // 40 of 64: the ring ran low
    assert_eq!(policy.target(), 128);
    policy.on_rx(10, BURST); // a trickle: no growth
    assert_eq!(policy.target(), 128);
    policy.on_rx(BURST, BURST); // a full burst: more is waiting
    assert_eq!(policy.target(), 256);
}

#[test]
fn a_busy_guest_may_hold_2048_chunks_of_a_64_mib_umem() {
    // A TCP sender behind a guest fills whatever the router leaves it before its next
    // poll: 512 chunks lost 10 % of a veth guest's frames, 2048 under 1 % (one stream).
    let p = plan(16384);
    assert_eq!(p.guest().max, 2048);
    let mut policy = FillPolicy::new(p.guest());
    while policy.target() < p.guest().max {
        policy.on_rx(BURST, BURST);
    }
    assert_eq!(policy.target(), 2048);
    // A 16 MiB UMEM still caps it at an eighth.
    assert_eq!(plan(4096).guest().max, 512);
}

#[test]
fn the_kernel_drop_counter_the_quota_follows_is_the_fill_one_only() {
    // Frames lost for want of RX ring room are not the quota's business: the port's
    // fill policy is only told of `rx_dropped` (see `rx_drops`), so a tick with an
    // unchanged fill-drop count leaves the quota alone.
    let p = plan(4096);
    let mut policy = FillPolicy::new(p.guest());
    let input = |fill_drops| TickInput {
        in_fill: GUEST_FLOOR,
        fill_drops: Some(fill_drops),
        ..TickInput::default()
    };
    policy.tick(Instant::ZERO, input(0));
    policy.tick(Instant::ZERO + Duration::from_millis(10), input(0));
    assert_eq!(policy.target(), GUEST_FLOOR);
    policy.tick(Instant::ZERO + Duration::from_millis(20), input(1));
    assert_eq!(
        policy.target(),
        p.guest().large_floor,
        "a fill drop raises the floor"
    );
}
