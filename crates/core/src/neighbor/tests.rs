//! Neighbor cache tests (fake clock).
