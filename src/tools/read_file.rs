//! `read_file`: a regular file under the workflow's folder, opened so that
//! nothing can swap a path component for a way out between check and use.
//!
//! The path is resolved by the kernel relative to a handle on the folder,
//! with `openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS)`; on a kernel without
//! `openat2` (ENOSYS), one `openat(O_NOFOLLOW)` per component. So `..`,
//! absolute paths and every symbolic link are refused, whatever changes on
//! disk meanwhile. Then what was opened is checked: a regular file (a FIFO,
//! device or socket is refused without blocking, since the open is
//! non-blocking), with one link (a hard link to a file elsewhere looks like
//! any file, so files with more than one link are refused), and under the
//! folder. Its size is capped.

use std::fs::File;
use std::io::Read;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;

/// Largest file read, in bytes.
pub const MAX_FILE: u64 = 256 * 1024;

/// Flags of every open: read-only, no blocking on FIFOs, no leaking to
/// children.
const OPEN_FLAGS: libc::c_int =
    libc::O_RDONLY | libc::O_NONBLOCK | libc::O_CLOEXEC | libc::O_NOCTTY;

/// Reads `rel` under `root` (see the module docs); errors say what and why.
pub fn read_confined(root: &Path, rel: &str) -> Result<String, String> {
    read_with(root, rel, Opener::Best)
}

/// How the path is opened (the fallback is exercised by tests too).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Opener {
    /// `openat2`, or per-component `openat` if the kernel lacks it.
    Best,
    /// Per-component `openat(O_NOFOLLOW)` (only tests force it).
    #[cfg_attr(not(test), allow(dead_code))]
    PerComponent,
}

fn read_with(root: &Path, rel: &str, opener: Opener) -> Result<String, String> {
    let parts = components(rel)?;
    let root_dir = File::open(root).map_err(|e| {
        format!(
            "the workflow directory {} is not readable: {e}",
            root.display()
        )
    })?;
    let fd = match opener {
        Opener::Best => match open_beneath(&root_dir, rel) {
            Err(e) if e.raw_os_error() == Some(libc::ENOSYS) => {
                open_per_component(&root_dir, &parts)
            }
            r => r,
        },
        Opener::PerComponent => open_per_component(&root_dir, &parts),
    }
    .map_err(|e| open_error(rel, &e))?;
    let file = File::from(fd);
    let meta = file
        .metadata()
        .map_err(|e| format!("cannot inspect `{rel}`: {e}"))?;
    let ft = meta.file_type();
    if !ft.is_file() {
        let what = if ft.is_dir() {
            "a directory"
        } else if ft.is_fifo() {
            "a FIFO (named pipe)"
        } else if ft.is_socket() {
            "a socket"
        } else if ft.is_char_device() || ft.is_block_device() {
            "a device"
        } else {
            "not a regular file"
        };
        return Err(format!(
            "`{rel}` is {what}; read_file reads regular files only"
        ));
    }
    if meta.nlink() > 1 {
        return Err(format!(
            "`{rel}` has {} hard links; read_file refuses files with more than one link, since a link may be a file from outside the workflow's directory",
            meta.nlink()
        ));
    }
    check_opened(root, &file, rel)?;
    if meta.len() > MAX_FILE {
        return Err(format!(
            "`{rel}` is too large ({} bytes; read_file reads up to {MAX_FILE})",
            meta.len()
        ));
    }
    let mut bytes = Vec::new();
    // Bounded even if the file grows while it is read.
    file.take(MAX_FILE)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("cannot read `{rel}`: {e}"))?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// The path's components: relative, no `..`.
fn components(rel: &str) -> Result<Vec<&str>, String> {
    if rel.is_empty() {
        return Err(
            "`path` is empty; give a file's path relative to the workflow's directory".into(),
        );
    }
    if rel.starts_with('/') {
        return Err(format!(
            "`{rel}` is outside the workflow's directory: give a path relative to it"
        ));
    }
    if rel.contains('\0') {
        return Err("`path` contains a NUL byte".into());
    }
    let parts: Vec<&str> = rel
        .split('/')
        .filter(|p| !p.is_empty() && *p != ".")
        .collect();
    if parts.contains(&"..") {
        return Err(format!(
            "`{rel}` is outside the workflow's directory: read_file does not follow `..`"
        ));
    }
    if parts.is_empty() {
        return Err(format!("`{rel}` is the workflow's directory, not a file"));
    }
    Ok(parts)
}

fn open_error(rel: &str, e: &std::io::Error) -> String {
    match e.raw_os_error() {
        Some(libc::ELOOP) => format!(
            "`{rel}` goes through a symbolic link; read_file follows none (symlinks could lead outside the workflow's directory)"
        ),
        Some(libc::EXDEV) => format!("`{rel}` is outside the workflow's directory"),
        Some(libc::ENOTDIR) => {
            format!("cannot open `{rel}`: a part of the path is not a directory")
        }
        _ => format!("cannot open `{rel}`: {e}"),
    }
}

/// `openat2(root, rel, RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS)`.
fn open_beneath(root: &File, rel: &str) -> std::io::Result<OwnedFd> {
    let path =
        std::ffi::CString::new(rel).map_err(|_| std::io::Error::from_raw_os_error(libc::EINVAL))?;
    // SAFETY: open_how is plain data; zeroed is a valid value.
    let mut how: libc::open_how = unsafe { std::mem::zeroed() };
    how.flags = OPEN_FLAGS as u64 | libc::O_NOFOLLOW as u64;
    how.resolve = libc::RESOLVE_BENEATH | libc::RESOLVE_NO_SYMLINKS | libc::RESOLVE_NO_MAGICLINKS;
    // libc has the struct and the syscall number but no openat2() function
    // (glibc long had none), hence the raw syscall.
    // SAFETY: `path` is NUL-terminated and `how` lives across the call; the
    // size passed is the struct's.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_openat2,
            root.as_raw_fd(),
            path.as_ptr(),
            &how as *const libc::open_how,
            std::mem::size_of::<libc::open_how>(),
        )
    };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: a fresh descriptor the kernel just returned, owned by nobody.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as libc::c_int) })
}

/// One `openat(O_NOFOLLOW)` per component: directories, then the file.
fn open_per_component(root: &File, parts: &[&str]) -> std::io::Result<OwnedFd> {
    let mut dir: Option<OwnedFd> = None;
    for (i, part) in parts.iter().enumerate() {
        let last = i + 1 == parts.len();
        let flags = if last {
            OPEN_FLAGS | libc::O_NOFOLLOW
        } else {
            libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NOFOLLOW | libc::O_CLOEXEC
        };
        let name = std::ffi::CString::new(*part)
            .map_err(|_| std::io::Error::from_raw_os_error(libc::EINVAL))?;
        let at = dir.as_ref().map_or(root.as_raw_fd(), |d| d.as_raw_fd());
        // SAFETY: `at` is an open directory descriptor, `name` is
        // NUL-terminated.
        let fd = unsafe { libc::openat(at, name.as_ptr(), flags) };
        if fd < 0 {
            let e = std::io::Error::last_os_error();
            // O_DIRECTORY answers a symlink with ENOTDIR: say what it was.
            if e.raw_os_error() == Some(libc::ENOTDIR) && is_symlink_at(at, &name) {
                return Err(std::io::Error::from_raw_os_error(libc::ELOOP));
            }
            return Err(e);
        }
        // SAFETY: a fresh descriptor the kernel just returned.
        dir = Some(unsafe { OwnedFd::from_raw_fd(fd) });
    }
    dir.ok_or_else(|| std::io::Error::from_raw_os_error(libc::ENOENT))
}

fn is_symlink_at(dir: libc::c_int, name: &std::ffi::CStr) -> bool {
    // SAFETY: stat is plain data; fstatat fills it.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: `dir` is open, `name` NUL-terminated, `st` a valid out-pointer.
    let r = unsafe { libc::fstatat(dir, name.as_ptr(), &mut st, libc::AT_SYMLINK_NOFOLLOW) };
    r == 0 && st.st_mode & libc::S_IFMT == libc::S_IFLNK
}

/// What was opened is under the folder: the kernel's own name for the open
/// file starts with the folder's real path.
fn check_opened(root: &Path, file: &File, rel: &str) -> Result<(), String> {
    let Ok(real_root) = root.canonicalize() else {
        return Ok(());
    };
    match std::fs::read_link(format!("/proc/self/fd/{}", file.as_raw_fd())) {
        Ok(opened) if !opened.starts_with(&real_root) => {
            Err(format!("`{rel}` is outside the workflow's directory"))
        }
        // No /proc: the opener's guarantees stand alone.
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OPENERS: [Opener; 2] = [Opener::Best, Opener::PerComponent];

    fn setup() -> (tempfile::TempDir, tempfile::TempDir) {
        let root = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(root.path().join("notes.txt"), "hello").unwrap();
        std::fs::create_dir(root.path().join("sub")).unwrap();
        std::fs::write(root.path().join("sub/deep.txt"), "deep").unwrap();
        std::fs::write(outside.path().join("secret.txt"), "OUTSIDE").unwrap();
        (root, outside)
    }

    #[test]
    fn regular_files_inside_are_read() {
        let (root, _out) = setup();
        for o in OPENERS {
            assert_eq!(read_with(root.path(), "notes.txt", o).unwrap(), "hello");
            assert_eq!(
                read_with(root.path(), "./sub//deep.txt", o).unwrap(),
                "deep"
            );
        }
    }

    #[test]
    fn escapes_and_symlinks_are_refused() {
        let (root, out) = setup();
        let r = root.path();
        std::os::unix::fs::symlink(out.path().join("secret.txt"), r.join("out.txt")).unwrap();
        std::os::unix::fs::symlink(out.path(), r.join("outdir")).unwrap();
        std::os::unix::fs::symlink("notes.txt", r.join("inner.txt")).unwrap();
        for o in OPENERS {
            for (path, says) in [
                ("../x", "does not follow `..`"),
                ("sub/../../x", "does not follow `..`"),
                ("/etc/passwd", "outside"),
                ("out.txt", "symbolic link"),
                ("outdir/secret.txt", "symbolic link"),
                ("inner.txt", "symbolic link"),
                ("sub", "a directory"),
                ("", "empty"),
                ("missing.txt", "cannot open"),
            ] {
                let e = read_with(r, path, o).unwrap_err();
                assert!(e.contains(says), "{o:?} {path}: {e}");
                assert!(!e.contains("OUTSIDE"));
            }
        }
    }

    #[test]
    fn a_fifo_is_refused_at_once() {
        let (root, _out) = setup();
        let fifo = root.path().join("pipe");
        let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        // SAFETY: a NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        for o in OPENERS {
            // Without O_NONBLOCK the open would wait for a writer forever.
            let e = read_with(root.path(), "pipe", o).unwrap_err();
            assert!(e.contains("a FIFO"), "{e}");
        }
    }

    #[test]
    fn hard_links_are_refused_and_say_why() {
        let (root, out) = setup();
        std::fs::hard_link(
            out.path().join("secret.txt"),
            root.path().join("linked.txt"),
        )
        .unwrap();
        for o in OPENERS {
            let e = read_with(root.path(), "linked.txt", o).unwrap_err();
            assert!(e.contains("2 hard links"), "{e}");
        }
    }

    #[test]
    fn large_files_are_refused() {
        let (root, _out) = setup();
        std::fs::write(root.path().join("big"), vec![b'a'; MAX_FILE as usize + 1]).unwrap();
        let e = read_confined(root.path(), "big").unwrap_err();
        assert!(e.contains("too large"), "{e}");
    }

    #[test]
    fn a_symlink_swapped_in_during_reads_never_leaks_the_outside_file() {
        // The race an outside test won 108 times in 16,000: `swap` is a
        // regular file inside one moment and a symlink to a file outside the
        // next, exchanged atomically (renameat2 RENAME_EXCHANGE) in a loop.
        let (root, out) = setup();
        let r = root.path().to_path_buf();
        std::fs::write(r.join("swap"), "inside").unwrap();
        std::os::unix::fs::symlink(out.path().join("secret.txt"), r.join("other")).unwrap();
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let swapper = {
            let (r, stop) = (r.clone(), stop.clone());
            std::thread::spawn(move || {
                let a = std::ffi::CString::new(r.join("swap").to_str().unwrap()).unwrap();
                let b = std::ffi::CString::new(r.join("other").to_str().unwrap()).unwrap();
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    // SAFETY: two NUL-terminated paths.
                    unsafe {
                        libc::renameat2(
                            libc::AT_FDCWD,
                            a.as_ptr(),
                            libc::AT_FDCWD,
                            b.as_ptr(),
                            libc::RENAME_EXCHANGE,
                        );
                    }
                }
            })
        };
        let (mut leaked, mut read) = (0, 0);
        for _ in 0..50_000 {
            match read_confined(&r, "swap") {
                Ok(text) if text.contains("OUTSIDE") => leaked += 1,
                Ok(_) => read += 1,
                Err(_) => {}
            }
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        swapper.join().unwrap();
        assert_eq!(leaked, 0, "read the outside file {leaked} times");
        // The inside file was there part of the time: the race ran.
        assert!(read > 0);
    }
}
