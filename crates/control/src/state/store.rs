//! The state file: `STATE_DIR/state.json`, written atomically, with the previous good
//! version kept as `state.json.prev`.
//!
//! Saving: the current file, if it is valid, is copied to `state.json.prev` (itself
//! written atomically); an invalid one is renamed to `state.json.corrupt` for the
//! operator, never overwritten. The new state is written to `state.json.tmp`, fsynced,
//! renamed over `state.json`, and the directory is fsynced, so after a crash `state.json`
//! is either the old or the new state, complete. A `state.json.tmp` left by a crash is
//! never read.
//!
//! Loading never fails: a missing file is an empty state; an unreadable or invalid one
//! is reported (file and reason) and the backup is used if it is good. What was used is
//! said in [`Loaded::source`].

use std::fmt;
use std::fs::{self, DirBuilder, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::RuntimeState;
use crate::protocol::{validate_guest, validate_ifname, GuestSpec};

/// Version of the state file format this build writes. Version 1 (no device binding)
/// is still read.
pub const STATE_VERSION: u64 = 2;

const FILE: &str = "state.json";
const PREV: &str = "state.json.prev";
const TMP_SUFFIX: &str = ".tmp";
const CORRUPT: &str = "state.json.corrupt";

/// The file's contents.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct StateFile {
    version: u64,
    /// The boot the devices belong to (version 2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    boot_id: Option<String>,
    guests_added: Vec<GuestSpec>,
    guests_removed: Vec<String>,
    /// The device (ifindex) each added guest was added on (version 2).
    #[serde(default)]
    devices: std::collections::BTreeMap<String, u32>,
}

/// Which file the loaded state came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LoadSource {
    /// No usable file: no runtime changes.
    Empty,
    /// `state.json`.
    Current,
    /// `state.json.prev`: `state.json` was missing or bad.
    Backup,
}

/// A problem found while loading, for the log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StateWarning {
    /// The file concerned.
    pub file: PathBuf,
    /// What is wrong with it, and what was done instead.
    pub reason: String,
}

impl fmt::Display for StateWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.file.display(), self.reason)
    }
}

/// The result of [`StateStore::load`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Loaded {
    /// The state to start from.
    pub state: RuntimeState,
    /// Where it came from.
    pub source: LoadSource,
    /// Problems to log (empty when `state.json` was fine or absent with no backup).
    pub warnings: Vec<StateWarning>,
}

/// Why the state could not be saved.
#[derive(Debug, thiserror::Error)]
#[error("saving state to {}: {what}: {source}", file.display())]
pub struct StateError {
    /// The file being written.
    pub file: PathBuf,
    /// What was being done.
    pub what: &'static str,
    /// Cause.
    #[source]
    pub source: io::Error,
}

/// The state directory.
#[derive(Clone, Debug)]
pub struct StateStore {
    dir: PathBuf,
}

impl StateStore {
    /// The store in `dir` (created, mode 0700, on the first save if missing).
    pub fn new(dir: impl Into<PathBuf>) -> StateStore {
        StateStore { dir: dir.into() }
    }

    /// `DIR/state.json`.
    pub fn file(&self) -> PathBuf {
        self.dir.join(FILE)
    }

    fn prev(&self) -> PathBuf {
        self.dir.join(PREV)
    }

    /// Load the saved state. Never fails; see the module documentation.
    pub fn load(&self) -> Loaded {
        let (file, prev) = (self.file(), self.prev());
        let mut warnings = Vec::new();
        let warn = |file: &Path, reason: String| StateWarning {
            file: file.to_path_buf(),
            reason,
        };
        match read(&file) {
            Ok(Some(state)) => {
                return Loaded {
                    state,
                    source: LoadSource::Current,
                    warnings,
                }
            }
            Ok(None) => {
                if prev.exists() {
                    warnings.push(warn(&file, "missing, but a backup exists".to_string()));
                }
            }
            Err(reason) => warnings.push(warn(&file, reason)),
        }
        match read(&prev) {
            Ok(Some(state)) => {
                warnings.push(warn(
                    &prev,
                    "using this backup: the last good state before the latest save".into(),
                ));
                Loaded {
                    state,
                    source: LoadSource::Backup,
                    warnings,
                }
            }
            Ok(None) if warnings.is_empty() => Loaded {
                state: RuntimeState::new(),
                source: LoadSource::Empty,
                warnings,
            },
            other => {
                if let Err(reason) = other {
                    warnings.push(warn(&prev, reason));
                }
                let kept = if file.exists() {
                    format!("; the bad file will be kept as {CORRUPT} at the next save")
                } else {
                    String::new()
                };
                warnings.push(warn(
                    &file,
                    format!("no usable state: starting with the configuration's guests only{kept}"),
                ));
                Loaded {
                    state: RuntimeState::new(),
                    source: LoadSource::Empty,
                    warnings,
                }
            }
        }
    }

    /// Save `state` atomically (see the module documentation).
    pub fn save(&self, state: &RuntimeState) -> Result<(), StateError> {
        let file = self.file();
        let fail = |what, file: &Path| {
            let file = file.to_path_buf();
            move |source| StateError { file, what, source }
        };
        if !self.dir.is_dir() {
            DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(&self.dir)
                .map_err(fail("create the state directory", &self.dir))?;
        }
        match fs::read(&file) {
            Ok(bytes) if parse(&bytes).is_ok() => write_atomic(&self.prev(), &bytes)
                .map_err(fail("write the backup", &self.prev()))?,
            Ok(_) => fs::rename(&file, self.dir.join(CORRUPT))
                .map_err(fail("set the invalid state file aside", &file))?,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(_) => fs::rename(&file, self.dir.join(CORRUPT))
                .map_err(fail("set the unreadable state file aside", &file))?,
        }
        write_atomic(&file, &encode(state)).map_err(fail("write", &file))
    }
}

/// The file's bytes for `state`: pretty JSON, readable by an operator.
fn encode(state: &RuntimeState) -> Vec<u8> {
    let contents = StateFile {
        version: STATE_VERSION,
        boot_id: state.boot_id().map(str::to_string),
        guests_added: state.added().cloned().collect(),
        guests_removed: state.removed().map(str::to_string).collect(),
        devices: state
            .added()
            .filter_map(|g| state.device(&g.tap).map(|d| (g.tap.clone(), d)))
            .collect(),
    };
    // Plain strings and lists: serialization cannot fail.
    let mut bytes = serde_json::to_vec_pretty(&contents).unwrap_or_default();
    bytes.push(b'\n');
    bytes
}

/// Read and parse one state file: `Ok(None)` if it does not exist, `Err(reason)` if it
/// cannot be read or is not a valid state.
fn read(path: &Path) -> Result<Option<RuntimeState>, String> {
    match fs::read(path) {
        Ok(bytes) => parse(&bytes).map(Some),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(format!("unreadable: {e}")),
    }
}

fn parse(bytes: &[u8]) -> Result<RuntimeState, String> {
    let value: Value = serde_json::from_slice(bytes)
        .map_err(|e| format!("not valid JSON (truncated or corrupt?): {e}"))?;
    match value.get("version") {
        Some(Value::Number(n)) if matches!(n.as_u64(), Some(1 | STATE_VERSION)) => {}
        Some(v) => {
            return Err(format!(
                "state version {v} is not supported: this hvrouter reads version {STATE_VERSION} (written by a newer release?)"
            ))
        }
        None => return Err("not a state file: no \"version\"".to_string()),
    }
    let file: StateFile =
        serde_json::from_value(value).map_err(|e| format!("not a valid state file: {e}"))?;
    for g in &file.guests_added {
        validate_guest(g).map_err(|e| format!("not a valid state file: {e}"))?;
    }
    for tap in &file.guests_removed {
        validate_ifname(tap).map_err(|e| format!("not a valid state file: {e}"))?;
    }
    RuntimeState::from_lists(
        file.guests_added,
        file.guests_removed,
        file.devices,
        file.boot_id,
    )
    .map_err(|e| format!("not a valid state file: {e}"))
}

/// Write `bytes` to `path` atomically: `path.tmp`, fsync, rename, fsync the directory.
fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(TMP_SUFFIX);
    let tmp = PathBuf::from(tmp);
    let mut f = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    drop(f);
    fs::rename(&tmp, path)?;
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    File::open(dir)?.sync_all()
}
