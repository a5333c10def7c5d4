//! Opening input files safely: only regular files are read (a FIFO would
//! block forever and `/dev/zero` never ends), and text files are capped.
//! Used by the workflow, config and session loaders.

use std::fs::File;
use std::io::{self, Read};
use std::path::Path;

/// Largest workflow or config file read: far beyond any real one.
pub const MAX_TEXT_BYTES: u64 = 16 << 20;

/// Why an input file was not read.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// The OS refused (missing, no permission, …).
    #[error("{0}")]
    Io(#[from] io::Error),
    /// Not a regular file.
    #[error("it is {0}, not a regular file")]
    NotRegular(&'static str),
    /// Past the size cap.
    #[error("it is larger than {} MiB", .0 >> 20)]
    TooLarge(u64),
    /// Not UTF-8.
    #[error("it is not UTF-8 text")]
    NotUtf8,
}

impl SourceError {
    /// A one-line fix hint, worded for a workflow file.
    pub fn hint(&self) -> &'static str {
        match self {
            SourceError::Io(e) if e.kind() == io::ErrorKind::NotFound => {
                "check the path; built-in workflows are named `builtin:NAME`"
            }
            SourceError::Io(e) if e.kind() == io::ErrorKind::PermissionDenied => {
                "check the file's permissions"
            }
            SourceError::Io(_) => "check that the file exists and is readable",
            SourceError::NotRegular("a directory") => "give the path of a file, not a directory",
            SourceError::NotRegular(_) => {
                "save the contents to a regular file and give its path (pipes and devices are not read)"
            }
            SourceError::TooLarge(_) => "this cannot be a workflow or config file; check the path",
            SourceError::NotUtf8 => "workflow files must be UTF-8 text",
        }
    }
}

/// Opens `path` for reading if it is a regular file. Opened without
/// blocking and checked on the open handle, so a FIFO swapped in after a
/// check cannot hang the open.
pub fn open_regular(path: &Path) -> Result<File, SourceError> {
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(libc::O_NONBLOCK);
    }
    let file = options.open(path)?;
    let kind = file.metadata()?.file_type();
    if kind.is_file() {
        return Ok(file);
    }
    Err(SourceError::NotRegular(describe(&kind)))
}

/// Reads a regular text file of at most `cap` bytes.
pub fn read_text(path: &Path, cap: u64) -> Result<String, SourceError> {
    let file = open_regular(path)?;
    if file.metadata()?.len() > cap {
        return Err(SourceError::TooLarge(cap));
    }
    // The file may grow after the check: read one byte past the cap at most.
    let mut bytes = Vec::new();
    file.take(cap + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > cap {
        return Err(SourceError::TooLarge(cap));
    }
    String::from_utf8(bytes).map_err(|_| SourceError::NotUtf8)
}

fn describe(kind: &std::fs::FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if kind.is_fifo() {
            return "a FIFO (named pipe)";
        }
        if kind.is_char_device() {
            return "a character device";
        }
        if kind.is_block_device() {
            return "a block device";
        }
        if kind.is_socket() {
            return "a socket";
        }
    }
    if kind.is_dir() {
        return "a directory";
    }
    "a special file"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn devices_directories_and_fifos_are_refused() {
        let e = read_text(Path::new("/dev/zero"), MAX_TEXT_BYTES).unwrap_err();
        assert!(
            matches!(e, SourceError::NotRegular("a character device")),
            "{e}"
        );
        let dir = tempfile::tempdir().unwrap();
        let e = read_text(dir.path(), MAX_TEXT_BYTES).unwrap_err();
        assert!(matches!(e, SourceError::NotRegular("a directory")), "{e}");
        let fifo = dir.path().join("fifo");
        let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        // SAFETY: a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        let e = read_text(&fifo, MAX_TEXT_BYTES).unwrap_err();
        assert!(
            matches!(e, SourceError::NotRegular("a FIFO (named pipe)")),
            "{e}"
        );
    }

    #[test]
    fn text_files_are_capped() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("big.toml");
        std::fs::write(&p, "x".repeat(101)).unwrap();
        assert!(matches!(
            read_text(&p, 100),
            Err(SourceError::TooLarge(100))
        ));
        assert_eq!(read_text(&p, 101).unwrap().len(), 101);
        std::fs::write(&p, [0xff, 0xfe]).unwrap();
        assert!(matches!(read_text(&p, 100), Err(SourceError::NotUtf8)));
    }
}
