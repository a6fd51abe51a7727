//! The binary as the systemd unit runs it: `check-config` (the unit's `ExecStartPre`)
//! refuses what `run` refuses, and `run`'s log lines honour `router.log_level` and carry
//! journald priorities when stderr is the journal.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_hvrouter");

/// A fresh scratch directory for one test.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("hvr-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn hvrouter(args: &[&str]) -> Output {
    Command::new(BIN).args(args).output().unwrap()
}

/// What `run` refuses in the file, `check-config` refuses too, with the same located
/// message (`workers = 4` once passed `check-config` and then stopped `run`: the unit's
/// `ExecStartPre` said yes and `Restart=always` crash-looped it). Several workers with
/// the fast path is such a case.
#[test]
fn check_config_refuses_what_run_refuses() {
    let dir = scratch("workers");
    let path = dir.join("hvrouter.toml");
    std::fs::write(
        &path,
        "[router]\nlog_level = \"info\"\n\n[dataplane]\nfast_path = \"on\"\nworkers = 4\n",
    )
    .unwrap();
    let p = path.to_str().unwrap();
    let want = format!(
        "{p}:6: dataplane.workers: 4 workers asked, but the fast path runs with one \
         worker: set workers = 1 or turn fast_path off"
    );

    let check = hvrouter(&["check-config", p]);
    assert!(!check.status.success(), "check-config accepted workers = 4");
    let stderr = String::from_utf8_lossy(&check.stderr);
    assert_eq!(stderr.trim_end(), want);

    let run = hvrouter(&["run", "--config", p]);
    assert!(!run.status.success());
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(
        stderr.contains("event=fatal") && stderr.contains(&want),
        "run: {stderr}"
    );

    // Under the unit (ExecStartPre), stderr is the journal: the same line at error
    // priority, so `journalctl -p err -u hvrouter` says why the start was refused.
    let err = dir.join("stderr");
    std::fs::write(&err, "").unwrap();
    let meta = std::fs::metadata(&err).unwrap();
    let status = Command::new(BIN)
        .args(["check-config", p])
        .env("JOURNAL_STREAM", format!("{}:{}", meta.dev(), meta.ino()))
        .stderr(std::fs::File::create(&err).unwrap())
        .status()
        .unwrap();
    assert!(!status.success());
    assert_eq!(
        std::fs::read_to_string(&err).unwrap(),
        format!("<3>{want}\n")
    );

    // The same file with one worker passes.
    std::fs::write(&path, "[dataplane]\nworkers = 1\n").unwrap();
    let ok = hvrouter(&["check-config", p]);
    assert!(ok.status.success(), "{ok:?}");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A worker CPU this machine does not let the router use is valid TOML but would stop
/// `run` when it pins its worker: `check-config` refuses it too, naming the key.
#[test]
fn check_config_refuses_a_cpu_the_machine_does_not_have() {
    let dir = scratch("cpus");
    let path = dir.join("hvrouter.toml");
    std::fs::write(&path, "[dataplane]\nworkers = 1\ncpus = [1000]\n").unwrap();
    let p = path.to_str().unwrap();
    let check = hvrouter(&["check-config", p]);
    let stderr = String::from_utf8_lossy(&check.stderr);
    assert!(!check.status.success(), "check-config accepted CPU 1000");
    assert!(
        stderr.contains(&format!("{p}: dataplane.cpus: CPU 1000 is not one")),
        "{stderr}"
    );
    let run = hvrouter(&["run", "--config", p]);
    assert!(!run.status.success());
    assert!(String::from_utf8_lossy(&run.stderr).contains("dataplane.cpus: CPU 1000"));
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `hvrouter run` with stderr on `file`, and `JOURNAL_STREAM` set to `journal_stream`;
/// the file's text once it exits (it fails at once: the configuration is missing).
fn run_missing_config(file: &Path, journal_stream: &str) -> String {
    let status = Command::new(BIN)
        .args(["run", "--config", "/nonexistent/hvrouter.toml"])
        .env("JOURNAL_STREAM", journal_stream)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(file).unwrap())
        .status()
        .unwrap();
    assert!(!status.success());
    std::fs::read_to_string(file).unwrap()
}

/// sd-daemon(3): a line starting `<3>` is logged at priority 3 (error). systemd says
/// "stderr is the journal" with JOURNAL_STREAM=DEV:INO of that stream; the router
/// compares it with stderr's own device and inode, so a stderr redirected elsewhere by a
/// parent stays plain.
#[test]
fn journal_priority_prefix_only_when_stderr_is_the_journal() {
    let dir = scratch("journal");
    let file = dir.join("stderr");
    std::fs::write(&file, "").unwrap();
    let meta = std::fs::metadata(&file).unwrap();
    let this_stream = format!("{}:{}", meta.dev(), meta.ino());

    let text = run_missing_config(&file, &this_stream);
    let first = text.lines().next().unwrap_or("");
    assert!(first.starts_with("<3>ts="), "{text}");
    assert!(first.contains(" level=error event=fatal "), "{text}");
    assert!(first.contains("/nonexistent/hvrouter.toml"), "{text}");

    // Another stream (e.g. the journal of a parent whose stderr was redirected): plain.
    let other = format!("{}:{}", meta.dev(), meta.ino() + 1);
    let text = run_missing_config(&file, &other);
    assert!(text.starts_with("ts="), "{text}");
    assert!(text.contains(" level=error event=fatal "), "{text}");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A router started in its own network namespace with no networks (it attaches to
/// nothing), removed on drop even when the test fails.
struct NsRouter {
    ns: String,
    child: Option<Child>,
    dir: PathBuf,
}

impl NsRouter {
    fn start(dir: &Path, config: &Path) -> NsRouter {
        let ns = format!("hvr-log{}", std::process::id() % 100_000);
        let added = Command::new("ip")
            .args(["netns", "add", &ns])
            .status()
            .unwrap();
        assert!(added.success(), "ip netns add {ns}");
        let mut r = NsRouter {
            ns,
            child: None,
            dir: dir.to_path_buf(),
        };
        let child = Command::new("ip")
            .args(["netns", "exec", &r.ns, BIN, "run", "--config"])
            .arg(config)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.join("router.err")).unwrap())
            .spawn()
            .unwrap();
        r.child = Some(child);
        r
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("router.err")).unwrap_or_default()
    }

    /// Wait until `ok` holds, the router exits, or 20 s pass.
    fn wait_for(&mut self, what: &str, mut ok: impl FnMut(&NsRouter) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if ok(self) {
                return;
            }
            if let Some(status) = self.child.as_mut().and_then(|c| c.try_wait().unwrap()) {
                panic!("router exited ({status}) before {what}:\n{}", self.log());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("no {what} within 20 s:\n{}", self.log());
    }

    fn signal(&self, sig: &str) {
        let pid = self.child.as_ref().unwrap().id().to_string();
        let s = Command::new("kill")
            .args(["-s", sig, &pid])
            .status()
            .unwrap();
        assert!(s.success());
    }
}

impl Drop for NsRouter {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        let _ = Command::new("ip").args(["netns", "del", &self.ns]).status();
    }
}

/// `log_level = "warn"` hides info lines (`started`); after the file says `info` and a
/// SIGHUP reload, info lines (`reloaded`, `stopping`) are written again.
#[test]
fn log_level_at_start_and_on_reload() {
    let uid = Command::new("id").arg("-u").output().unwrap();
    if String::from_utf8_lossy(&uid.stdout).trim() != "0" {
        eprintln!(
            "SKIP log_level_at_start_and_on_reload: needs root (network namespace, AF_XDP UMEM)"
        );
        return;
    }
    let dir = scratch("level");
    let socket = dir.join("control.sock");
    let config = dir.join("hvrouter.toml");
    let text = |level: &str| {
        format!(
            "[router]\ncontrol_socket = \"{}\"\nstate_dir = \"{}\"\nmetrics_listen = \"off\"\n\
             log_level = \"{level}\"\n\n[dataplane]\npoll = \"interrupt\"\nframes = 64\n",
            socket.display(),
            dir.join("state").display()
        )
    };
    std::fs::write(&config, text("warn")).unwrap();
    let mut r = NsRouter::start(&dir, &config);
    let sock = socket.to_str().unwrap().to_string();
    r.wait_for("an answer to ping", |_| {
        hvrouter(&["--socket", &sock, "ping"]).status.success()
    });
    let log = r.log();
    assert!(
        !log.contains("level=info"),
        "log_level = warn wrote info lines:\n{log}"
    );

    std::fs::write(&config, text("info")).unwrap();
    r.signal("HUP");
    r.wait_for("event=reloaded", |r| r.log().contains("event=reloaded"));
    r.signal("TERM");
    let mut child = r.child.take().unwrap();
    let status = child.wait().unwrap();
    assert!(status.success(), "{status}:\n{}", r.log());
    let log = r.log();
    assert!(
        log.contains("level=info event=stopping"),
        "no stopping line:\n{log}"
    );
    assert!(!log.contains("event=started"), "{log}");
    drop(r);
    std::fs::remove_dir_all(&dir).unwrap();
}
