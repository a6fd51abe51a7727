//! A router port's counters as the lab tests read them (`show ports --json`).

use super::Lab;

/// Counters of one port, from `show ports --json`: the port's counter object as text.
pub struct PortCounters(String);

impl PortCounters {
    /// A top-level counter (rx_packets, icmp_errors_sent, ...) or a drop reason.
    pub fn get(&self, key: &str) -> u64 {
        let pat = format!("\"{key}\": ");
        let Some(at) = self.0.find(&pat) else {
            panic!("no counter {key} in {}", self.0)
        };
        self.0[at + pat.len()..]
            .chars()
            .take_while(|c| c.is_ascii_digit())
            .collect::<String>()
            .parse()
            .unwrap()
    }

    /// Sum of every drop reason.
    pub fn total_drops(&self) -> u64 {
        let at = self.0.find("\"drops\"").unwrap();
        let end = at + self.0[at..].find('}').unwrap();
        self.0[at..end]
            .split(": ")
            .skip(1)
            .map(|v| {
                v.chars()
                    .take_while(|c| c.is_ascii_digit())
                    .collect::<String>()
                    .parse::<u64>()
                    .unwrap_or(0)
            })
            .sum()
    }
}

impl Lab {
    /// Counters of port `dev` (hvr-up0, hvr-g1, ...).
    pub fn port_counters(&self, dev: &str) -> PortCounters {
        let out = self.cli(&["show", "ports", "--json"]);
        assert!(out.status.success(), "show ports failed: {out:?}");
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        // Each port object lists "counters" before "name" (keys are sorted).
        let name = text
            .find(&format!("\"name\": \"{dev}\""))
            .unwrap_or_else(|| panic!("no port {dev} in {text}"));
        let start = text[..name].rfind("\"counters\"").unwrap();
        PortCounters(text[start..name].to_string())
    }
}

impl Lab {
    /// The workers' longest housekeeping call since the router started, and the
    /// longest not preempted, in ms (`show counters`).
    pub fn longest_pause(&self) -> (f64, f64) {
        let out = self.cli(&["show", "counters", "--json"]);
        assert!(out.status.success(), "show counters failed: {out:?}");
        let json = String::from_utf8_lossy(&out.stdout).to_string();
        let read = |key: &str| {
            let pat = format!("\"{key}\":");
            let at = json
                .find(&pat)
                .unwrap_or_else(|| panic!("no {key} in {json}"));
            json[at + pat.len()..]
                .trim_start()
                .chars()
                .take_while(char::is_ascii_digit)
                .collect::<String>()
                .parse::<f64>()
                .unwrap()
                / 1e6
        };
        (
            read("longest_housekeeping_ns"),
            read("longest_unpreempted_housekeeping_ns"),
        )
    }
}

/// The machine's load averages (1, 5, 15 min), to print next to a measurement.
pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}
