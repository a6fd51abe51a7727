//! hvrouter's control plane, everything except the dataplane integration.
#![forbid(unsafe_code)]
