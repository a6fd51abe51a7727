//! Port trait, in-memory ports and the burst pipeline.
#![forbid(unsafe_code)]
