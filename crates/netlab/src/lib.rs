//! The namespace lab shared by every privileged test of the workspace, the benchmarks and
//! the demo: one place for what each of them needs to build network namespaces and clean
//! them up.
//!
//! - [`cmd`]: root and tool checks, running commands (in a namespace or not), waiting for
//!   an effect, ping.
//! - [`ns`]: namespaces named per process that are deleted on drop, also when a test
//!   panics, and the veth pairs between them.
//! - [`frames`]: hand-built test frames (ARP, ICMP echo) and the Internet checksum.
//! - [`thread`]: a worker thread stopped and joined on drop.
//! - [`relay`] and the `hvr-tap-relay` binary: two taps opened as QEMU opens a
//!   virtio-net NIC, one moved into a guest namespace, frames copied between them with
//!   their vnet header: a tap guest with offloads, without a VM.
//!
//! Test rules it keeps: namespaces and links carry the `hvr` prefix and the process id,
//! only documentation prefixes are used (RFC 5737, RFC 3849), and only processes the test
//! started are ended.

pub mod cmd;
pub mod frames;
pub mod ns;
pub mod relay;
pub mod thread;

pub use cmd::{eventually, have, is_root, ns_exec, ok, ping, received, run, skip_unless_root};
pub use ns::Namespaces;
pub use thread::Worker;
