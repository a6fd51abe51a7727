//! The few `bpf(2)` commands we need, with `union bpf_attr` laid out per command
//! (include/uapi/linux/bpf.h). Attributes are zero-initialised structs; the kernel
//! accepts a shorter `attr` than its own and requires unused tail bytes to be zero.

use crate::insn::Insn;
use std::io;
use std::mem::size_of;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

const BPF_MAP_CREATE: libc::c_int = 0;
const BPF_MAP_LOOKUP_ELEM: libc::c_int = 1;
const BPF_MAP_UPDATE_ELEM: libc::c_int = 2;
const BPF_MAP_DELETE_ELEM: libc::c_int = 3;
const BPF_PROG_LOAD: libc::c_int = 5;
const BPF_PROG_TEST_RUN: libc::c_int = 10;
const BPF_LINK_CREATE: libc::c_int = 28;

pub(crate) const BPF_MAP_TYPE_HASH: u32 = 1;
pub(crate) const BPF_MAP_TYPE_ARRAY: u32 = 2;
pub(crate) const BPF_MAP_TYPE_PERCPU_ARRAY: u32 = 6;
pub(crate) const BPF_MAP_TYPE_DEVMAP_HASH: u32 = 25;
pub(crate) const BPF_MAP_TYPE_LPM_TRIE: u32 = 11;
pub(crate) const BPF_MAP_TYPE_XSKMAP: u32 = 17;
pub(crate) const BPF_PROG_TYPE_XDP: u32 = 6;
pub(crate) const BPF_XDP: u32 = 37;
/// `map_flags`: allocate elements on update (required for `BPF_MAP_TYPE_LPM_TRIE`).
pub(crate) const BPF_F_NO_PREALLOC: u32 = 1;
/// `prog_flags`: the program understands multi-buffer frames (section `xdp.frags`).
pub(crate) const BPF_F_XDP_HAS_FRAGS: u32 = 1 << 5;

/// Marker for attribute structs.
///
/// # Safety
/// Implementors are `repr(C)` structs of integers matching one `bpf_attr` variant, valid
/// when all-zero, whose pointer fields (as `u64`) are either 0 or point to memory valid
/// for what the kernel does with them during the call.
unsafe trait Attr {}

fn sys_bpf<A: Attr>(cmd: libc::c_int, attr: &mut A) -> io::Result<libc::c_long> {
    // SAFETY: attr is a valid, writable bpf_attr variant of the given size (Attr
    // contract); pointer fields inside it were set by the safe wrappers below from live
    // borrows that outlast the call.
    let rc = unsafe { libc::syscall(libc::SYS_bpf, cmd, attr as *mut A, size_of::<A>()) };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(rc)
}

fn fd_from(rc: libc::c_long) -> io::Result<OwnedFd> {
    let fd = libc::c_int::try_from(rc).map_err(|_| io::Error::other("bpf returned a bad fd"))?;
    // SAFETY: the command returned a new descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

fn obj_name(name: &str) -> [u8; 16] {
    let mut out = [0u8; 16];
    for (o, b) in out.iter_mut().zip(name.bytes().take(15)) {
        *o = b;
    }
    out
}

#[repr(C)]
#[derive(Default)]
struct MapCreate {
    map_type: u32,
    key_size: u32,
    value_size: u32,
    max_entries: u32,
    map_flags: u32,
    inner_map_fd: u32,
    numa_node: u32,
    map_name: [u8; 16],
}
// SAFETY: repr(C) integers laid out as bpf_attr's BPF_MAP_CREATE part; no pointers.
unsafe impl Attr for MapCreate {}

/// Creates a map with 4-byte keys and values.
pub(crate) fn map_create_u32(map_type: u32, max_entries: u32, name: &str) -> io::Result<OwnedFd> {
    map_create(map_type, 4, max_entries, 0, name)
}

/// Creates a map with `key_size`-byte keys and 4-byte values.
pub(crate) fn map_create(
    map_type: u32,
    key_size: u32,
    max_entries: u32,
    map_flags: u32,
    name: &str,
) -> io::Result<OwnedFd> {
    map_create_sized(map_type, key_size, 4, max_entries, map_flags, name)
}

/// Creates a map with `key_size`-byte keys and `value_size`-byte values.
pub(crate) fn map_create_sized(
    map_type: u32,
    key_size: u32,
    value_size: u32,
    max_entries: u32,
    map_flags: u32,
    name: &str,
) -> io::Result<OwnedFd> {
    let mut attr = MapCreate {
        map_type,
        key_size,
        value_size,
        max_entries,
        map_flags,
        map_name: obj_name(name),
        ..Default::default()
    };
    fd_from(sys_bpf(BPF_MAP_CREATE, &mut attr)?)
}

#[repr(C)]
#[derive(Default)]
struct MapElem {
    map_fd: u32,
    _pad: u32,
    key: u64,
    value: u64,
    flags: u64,
}
// SAFETY: repr(C) layout of bpf_attr's element commands; key/value point to live
// buffers of the map's key and value sizes (see callers: key and value lengths are
// those the map was created with; a lookup's buffer holds what the kernel writes).
unsafe impl Attr for MapElem {}

/// Sets `map[key] = value` on a map created by [`map_create_u32`].
pub(crate) fn map_update_u32(map: BorrowedFd<'_>, key: u32, value: u32) -> io::Result<()> {
    map_update(map, &key.to_ne_bytes(), value)
}

/// Deletes `map[key]` on a map created by [`map_create_u32`].
pub(crate) fn map_delete_u32(map: BorrowedFd<'_>, key: u32) -> io::Result<()> {
    map_delete(map, &key.to_ne_bytes())
}

/// Sets `map[key] = value` on a map created by [`map_create`] with
/// `key_size == N` (the kernel reads exactly `key_size` bytes from `key`).
pub(crate) fn map_update<const N: usize>(
    map: BorrowedFd<'_>,
    key: &[u8; N],
    value: u32,
) -> io::Result<()> {
    let mut attr = MapElem {
        map_fd: map.as_raw_fd() as u32,
        key: key.as_ptr() as u64,
        value: &value as *const u32 as u64,
        ..Default::default()
    };
    sys_bpf(BPF_MAP_UPDATE_ELEM, &mut attr).map(drop)
}

/// Sets `map[key] = value` on a map whose key size is `K` and value size `V` bytes
/// (the kernel reads exactly that many bytes from each).
pub(crate) fn map_update_bytes<const K: usize, const V: usize>(
    map: BorrowedFd<'_>,
    key: &[u8; K],
    value: &[u8; V],
) -> io::Result<()> {
    let mut attr = MapElem {
        map_fd: map.as_raw_fd() as u32,
        key: key.as_ptr() as u64,
        value: value.as_ptr() as u64,
        ..Default::default()
    };
    sys_bpf(BPF_MAP_UPDATE_ELEM, &mut attr).map(drop)
}

/// Sets `map[key] = value` where the kernel reads `value.len()` bytes: a per-CPU map's
/// value for every possible CPU (each rounded up to 8 bytes).
pub(crate) fn map_update_slice<const K: usize>(
    map: BorrowedFd<'_>,
    key: &[u8; K],
    value: &[u8],
) -> io::Result<()> {
    let mut attr = MapElem {
        map_fd: map.as_raw_fd() as u32,
        key: key.as_ptr() as u64,
        value: value.as_ptr() as u64,
        ..Default::default()
    };
    sys_bpf(BPF_MAP_UPDATE_ELEM, &mut attr).map(drop)
}

/// Reads `map[key]` into `out` on a map whose key size is `K`; `out` must be as long
/// as what the kernel writes: the value size, or for a per-CPU map the value size
/// rounded up to 8 times the number of possible CPUs ([`possible_cpus`]).
pub(crate) fn map_lookup_into<const K: usize>(
    map: BorrowedFd<'_>,
    key: &[u8; K],
    out: &mut [u8],
) -> io::Result<()> {
    let mut attr = MapElem {
        map_fd: map.as_raw_fd() as u32,
        key: key.as_ptr() as u64,
        value: out.as_mut_ptr() as u64,
        ..Default::default()
    };
    sys_bpf(BPF_MAP_LOOKUP_ELEM, &mut attr).map(drop)
}

/// The number of possible CPUs (`/sys/devices/system/cpu/possible`, e.g. `0-1`): how
/// many values a per-CPU map lookup returns.
pub(crate) fn possible_cpus() -> io::Result<usize> {
    let text = std::fs::read_to_string("/sys/devices/system/cpu/possible")?;
    let bad = || io::Error::new(io::ErrorKind::InvalidData, "cpu/possible");
    let mut last = 0usize;
    for part in text.trim().split(',') {
        let hi = part.rsplit('-').next().ok_or_else(bad)?;
        last = last.max(hi.parse::<usize>().map_err(|_| bad())?);
    }
    Ok(last + 1)
}

/// Deletes `map[key]` on a map created by [`map_create`] with `key_size == N`.
pub(crate) fn map_delete<const N: usize>(map: BorrowedFd<'_>, key: &[u8; N]) -> io::Result<()> {
    let mut attr = MapElem {
        map_fd: map.as_raw_fd() as u32,
        key: key.as_ptr() as u64,
        ..Default::default()
    };
    sys_bpf(BPF_MAP_DELETE_ELEM, &mut attr).map(drop)
}

#[repr(C)]
#[derive(Default)]
struct ProgLoad {
    prog_type: u32,
    insn_cnt: u32,
    insns: u64,
    license: u64,
    log_level: u32,
    log_size: u32,
    log_buf: u64,
    kern_version: u32,
    prog_flags: u32,
    prog_name: [u8; 16],
    prog_ifindex: u32,
    expected_attach_type: u32,
}
// SAFETY: repr(C) layout of bpf_attr's BPF_PROG_LOAD part; insns/license/log_buf point to
// live slices whose lengths are passed alongside (see prog_load).
unsafe impl Attr for ProgLoad {}

/// Loads an XDP program. On failure, when `log` is given, the verifier's log is
/// written into it (NUL-terminated).
pub(crate) fn prog_load_xdp(
    insns: &[Insn],
    prog_flags: u32,
    name: &str,
    log: Option<&mut [u8]>,
) -> io::Result<OwnedFd> {
    const LICENSE: &[u8] = b"Apache-2.0\0";
    let (log_buf, log_size, log_level) = match log {
        Some(buf) => (
            buf.as_mut_ptr() as u64,
            u32::try_from(buf.len()).unwrap_or(u32::MAX),
            1,
        ),
        None => (0, 0, 0),
    };
    let mut attr = ProgLoad {
        prog_type: BPF_PROG_TYPE_XDP,
        insn_cnt: u32::try_from(insns.len())
            .map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?,
        insns: insns.as_ptr() as u64,
        license: LICENSE.as_ptr() as u64,
        log_level,
        log_size,
        log_buf,
        prog_flags,
        prog_name: obj_name(name),
        expected_attach_type: BPF_XDP,
        ..Default::default()
    };
    fd_from(sys_bpf(BPF_PROG_LOAD, &mut attr)?)
}

#[repr(C)]
#[derive(Default)]
struct LinkCreate {
    prog_fd: u32,
    target_ifindex: u32,
    attach_type: u32,
    flags: u32,
    _rest: [u64; 4],
}
// SAFETY: repr(C) layout of bpf_attr's BPF_LINK_CREATE part; no pointers.
unsafe impl Attr for LinkCreate {}

/// Attaches an XDP program to `ifindex` through a BPF link; `xdp_flags` selects the
/// mode (`XDP_FLAGS_SKB_MODE` / `XDP_FLAGS_DRV_MODE`). Closing the link detaches.
pub(crate) fn link_create_xdp(
    prog: BorrowedFd<'_>,
    ifindex: u32,
    xdp_flags: u32,
) -> io::Result<OwnedFd> {
    let mut attr = LinkCreate {
        prog_fd: prog.as_raw_fd() as u32,
        target_ifindex: ifindex,
        attach_type: BPF_XDP,
        flags: xdp_flags,
        ..Default::default()
    };
    fd_from(sys_bpf(BPF_LINK_CREATE, &mut attr)?)
}

#[repr(C)]
#[derive(Default)]
struct TestRun {
    prog_fd: u32,
    retval: u32,
    data_size_in: u32,
    data_size_out: u32,
    data_in: u64,
    data_out: u64,
    repeat: u32,
    duration: u32,
    ctx_size_in: u32,
    ctx_size_out: u32,
    ctx_in: u64,
    ctx_out: u64,
    flags: u32,
    cpu: u32,
    batch_size: u32,
    _pad: u32,
}
// SAFETY: repr(C) layout of bpf_attr's BPF_PROG_TEST_RUN part; data_in points to a live
// slice of data_size_in bytes, data_out is null or a live writable slice of
// data_size_out bytes, the other pointers are null.
unsafe impl Attr for TestRun {}

/// Runs a program once on `data` (`BPF_PROG_TEST_RUN`) and returns its return value.
pub(crate) fn prog_test_run(prog: BorrowedFd<'_>, data: &[u8]) -> io::Result<u32> {
    prog_test_run_out(prog, data, &mut []).map(|(rv, _)| rv)
}

/// [`prog_test_run`], also copying the frame as the program left it into `out`
/// (empty: not copied); returns the return value and the frame's length.
pub(crate) fn prog_test_run_out(
    prog: BorrowedFd<'_>,
    data: &[u8],
    out: &mut [u8],
) -> io::Result<(u32, usize)> {
    let too_big = || io::Error::from(io::ErrorKind::InvalidInput);
    let mut attr = TestRun {
        prog_fd: prog.as_raw_fd() as u32,
        data_size_in: u32::try_from(data.len()).map_err(|_| too_big())?,
        data_in: data.as_ptr() as u64,
        data_size_out: u32::try_from(out.len()).map_err(|_| too_big())?,
        data_out: if out.is_empty() {
            0
        } else {
            out.as_mut_ptr() as u64
        },
        repeat: 1,
        ..Default::default()
    };
    sys_bpf(BPF_PROG_TEST_RUN, &mut attr)?;
    Ok((attr.retval, attr.data_size_out as usize))
}
