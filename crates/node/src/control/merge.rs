//! Answers put together from every worker: each port's counters are the sum over the
//! workers (a frame is counted where it is received, and where it is sent), its state
//! is its owner's; the tables, the same on every worker, come from worker 0.

use hvrouter_control::metrics::MetricsSnapshot;
use hvrouter_control::protocol::{
    CaptureBatch, CountersReport, DhcpGuestInfo, DhcpReport, Ipv6Report, Ipv6Sent, Payload,
    PortCounters, PortInfo, Response, WorkerCounters,
};

/// `show ports` rows from every worker, each with whether that worker owns the row's
/// port: the owner's row, with the counters of all. Rows are in the same order on every
/// worker (the same entries); if they are not, worker 0's rows are returned as they are.
pub fn ports(mut all: Vec<(Vec<PortInfo>, Vec<bool>)>) -> Vec<PortInfo> {
    if all.len() <= 1 {
        return all.pop().map(|(rows, _)| rows).unwrap_or_default();
    }
    let n = all[0].0.len();
    let aligned = all.iter().all(|(rows, owned)| {
        rows.len() == n
            && owned.len() == n
            && rows.iter().zip(&all[0].0).all(|(a, b)| a.name == b.name)
    });
    if !aligned {
        return all.swap_remove(0).0;
    }
    (0..n)
        .map(|i| {
            let owner = all.iter().position(|(_, owned)| owned[i]).unwrap_or(0);
            let mut row = all[owner].0[i].clone();
            row.counters = PortCounters::default();
            for (rows, _) in &all {
                add_port(&mut row.counters, &rows[i].counters);
            }
            row
        })
        .collect()
}

/// `show counters`: ports merged, the neighbor counters of worker 0 (the home worker,
/// which alone resolves the uplinks' neighbors), the workers' counters summed (the
/// longest pause is the longest of any).
pub fn counters(all: Vec<(CountersReport, Vec<bool>)>) -> Option<CountersReport> {
    let mut rows = Vec::with_capacity(all.len());
    let mut worker = WorkerCounters::default();
    let mut networks = None;
    for (report, owned) in all {
        add_worker(&mut worker, &report.worker);
        networks.get_or_insert(report.networks);
        rows.push((report.ports, owned));
    }
    Some(CountersReport {
        ports: ports(rows),
        networks: networks?,
        worker,
    })
}

/// The metrics snapshot, from every worker's.
pub fn metrics(all: Vec<(MetricsSnapshot, Vec<bool>)>) -> Option<MetricsSnapshot> {
    let mut rows = Vec::with_capacity(all.len());
    let mut worker = WorkerCounters::default();
    let mut first: Option<MetricsSnapshot> = None;
    let mut dhcp: Vec<(String, String, u64)> = Vec::new();
    let mut ipv6_sent: Vec<(String, u64)> = Vec::new();
    for (mut snap, owned) in all {
        add_worker(&mut worker, &snap.worker);
        add_pairs(&mut dhcp, snap.dhcp.drain(..));
        add_counts(&mut ipv6_sent, snap.ipv6_sent.drain(..));
        rows.push((std::mem::take(&mut snap.ports), owned));
        first.get_or_insert(snap);
    }
    let first = first?;
    Some(MetricsSnapshot {
        ports: ports(rows),
        networks: first.networks,
        worker,
        dhcp,
        ipv6_sent,
    })
}

/// A capture's answers from every worker (each records the frames it handles): the
/// frames in time order (the workers share one clock), the counts summed. The first
/// error, if any worker refused.
pub fn capture(all: Vec<Response>) -> Response {
    let mut merged: Option<CaptureBatch> = None;
    let mut other = None;
    for r in all {
        match r {
            Response::Ok(Payload::Captured(b)) => match merged.as_mut() {
                None => merged = Some(b),
                Some(m) => {
                    m.frames.extend(b.frames);
                    m.captured += b.captured;
                    m.dropped += b.dropped;
                    m.running |= b.running;
                }
            },
            e @ Response::Error { .. } => return e,
            r => {
                other.get_or_insert(r);
            }
        }
    }
    match merged {
        Some(mut b) => {
            b.frames.sort_by_key(|f| f.time_ns);
            Response::Ok(Payload::Captured(b))
        }
        None => other.unwrap_or_else(|| Response::error("no worker answered")),
    }
}

/// `show dhcp` from every worker: a guest's DHCP is served by the worker that has its
/// port, so its row is the one with a last message (the latest, if several), its
/// declines summed; the message and drop totals summed.
pub fn dhcp(all: Vec<DhcpReport>) -> Option<DhcpReport> {
    let mut it = all.into_iter();
    let mut out = it.next()?;
    for r in it {
        for g in r.guests {
            match out.guests.iter_mut().find(|o| o.tap == g.tap) {
                Some(o) => merge_dhcp_guest(o, g),
                None => out.guests.push(g),
            }
        }
        add_pairs(&mut out.totals.messages, r.totals.messages);
        add_counts(&mut out.totals.drops, r.totals.drops);
    }
    out.guests.sort_by(|a, b| a.tap.cmp(&b.tap));
    Some(out)
}

/// Add `(key, count)` rows into `to`, summing the counts of equal keys.
fn add_counts(to: &mut Vec<(String, u64)>, rows: impl IntoIterator<Item = (String, u64)>) {
    for (k, n) in rows {
        match to.iter_mut().find(|(a, _)| *a == k) {
            Some(e) => e.1 += n,
            None => to.push((k, n)),
        }
    }
}

/// The same for rows keyed by two names (DHCP direction and message type).
fn add_pairs(
    to: &mut Vec<(String, String, u64)>,
    rows: impl IntoIterator<Item = (String, String, u64)>,
) {
    for (a, b, n) in rows {
        match to.iter_mut().find(|(x, y, _)| *x == a && *y == b) {
            Some(e) => e.2 += n,
            None => to.push((a, b, n)),
        }
    }
}

fn merge_dhcp_guest(to: &mut DhcpGuestInfo, g: DhcpGuestInfo) {
    let declines = to.declines + g.declines;
    let newer = match (&to.last, &g.last) {
        (None, Some(_)) => true,
        (Some(a), Some(b)) => b.ago_ms < a.ago_ms,
        _ => false,
    };
    if newer {
        *to = g;
    } else if to.lease_left_s.is_none() {
        to.lease_left_s = g.lease_left_s;
    }
    to.declines = declines;
}

/// `show ipv6`: the networks, guests and neighbors of worker 0 (the tables are the same
/// everywhere, and worker 0 resolves the VLAN's neighbors); what was sent, summed (each
/// worker counts what it sent on its own ports).
pub fn ipv6(all: Vec<Option<Ipv6Report>>) -> Option<Ipv6Report> {
    let mut it = all.into_iter();
    let mut out = it.next()??;
    for r in it.flatten() {
        let Ipv6Sent {
            na_answered,
            na_unsolicited,
            ns_sent,
            ra_sent,
            errors_sent,
            errors_limited,
            echo_replies,
            dhcp6_replies,
        } = r.sent;
        let to = &mut out.sent;
        to.na_answered += na_answered;
        to.na_unsolicited += na_unsolicited;
        to.ns_sent += ns_sent;
        to.ra_sent += ra_sent;
        to.errors_sent += errors_sent;
        to.errors_limited += errors_limited;
        to.echo_replies += echo_replies;
        to.dhcp6_replies += dhcp6_replies;
    }
    Some(out)
}

fn add_worker(to: &mut WorkerCounters, w: &WorkerCounters) {
    let WorkerCounters {
        passes,
        idle_passes,
        rx,
        busy_ns,
        idle_ns,
        sleeps,
        longest_housekeeping_ns,
        longest_unpreempted_housekeeping_ns,
        workers,
        handed_out,
        handed_in,
    } = *w;
    to.workers += workers.max(1);
    to.handed_out += handed_out;
    to.handed_in += handed_in;
    to.passes += passes;
    to.idle_passes += idle_passes;
    to.rx += rx;
    to.busy_ns += busy_ns;
    to.idle_ns += idle_ns;
    to.sleeps += sleeps;
    to.longest_housekeeping_ns = to.longest_housekeeping_ns.max(longest_housekeeping_ns);
    to.longest_unpreempted_housekeeping_ns = to
        .longest_unpreempted_housekeeping_ns
        .max(longest_unpreempted_housekeeping_ns);
}

fn add_port(to: &mut PortCounters, c: &PortCounters) {
    let PortCounters {
        rx_packets,
        rx_bytes,
        tx_packets,
        tx_bytes,
        arp_answered,
        arp_sent,
        icmp_errors_sent,
        icmp_errors_suppressed,
        fragmented,
        gso_sent,
        gro_merged,
        gso_fallback,
        fast_path_rx,
        fast_path_tx,
        fast_path_redirect_failed,
        drops,
    } = c;
    to.rx_packets += rx_packets;
    to.rx_bytes += rx_bytes;
    to.tx_packets += tx_packets;
    to.tx_bytes += tx_bytes;
    to.arp_answered += arp_answered;
    to.arp_sent += arp_sent;
    to.icmp_errors_sent += icmp_errors_sent;
    to.icmp_errors_suppressed += icmp_errors_suppressed;
    to.fragmented += fragmented;
    to.gso_sent += gso_sent;
    to.gro_merged += gro_merged;
    to.gso_fallback += gso_fallback;
    to.fast_path_rx += fast_path_rx;
    to.fast_path_tx += fast_path_tx;
    to.fast_path_redirect_failed += fast_path_redirect_failed;
    for (reason, n) in drops {
        *to.drops.entry(reason.clone()).or_default() += n;
    }
}

#[cfg(test)]
mod tests;
