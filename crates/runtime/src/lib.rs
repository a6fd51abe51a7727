//! The router's runtime outside the packet path: what the control thread decides, and how
//! it hands work to the packet worker without the worker ever waiting for it.
//!
//! - [`jobs`]: closures the control thread sends to the worker, run between bursts
//!   (table changes, adopting ready sockets, copying state out for queries), with their
//!   answers sent back;
//! - [`plan`]: pure decisions: whether a guest add is new, unchanged, replaces guests
//!   whose devices are gone or is refused; what a reload removes, changes and adds.

#![forbid(unsafe_code)]

pub mod jobs;
pub mod plan;
