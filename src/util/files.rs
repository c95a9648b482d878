//! Reading a file a user names without letting it hang us: opened without blocking (a FIFO
//! with no writer would block `open(2)` for good), refused unless it is a regular file, and
//! read up to a cap.

use std::io::Read;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

/// Why a file was not read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("cannot read the file: {0}")]
    Io(#[from] std::io::Error),
    #[error("is not a regular file ({0}): not read")]
    NotRegular(&'static str),
    #[error("the file is {size} bytes, more than the {cap}-byte limit")]
    TooLarge { size: u64, cap: u64 },
}

/// What kind of file `t` is, in words, when it is not a regular file.
pub fn kind_of(t: std::fs::FileType) -> Option<&'static str> {
    use std::os::unix::fs::FileTypeExt;
    if t.is_file() {
        None
    } else if t.is_dir() {
        Some("a directory")
    } else if t.is_fifo() {
        Some("a named pipe (FIFO)")
    } else if t.is_socket() {
        Some("a socket")
    } else if t.is_block_device() || t.is_char_device() {
        Some("a device")
    } else {
        Some("not a file")
    }
}

/// Opens `path` (links followed) without blocking, and only if it is a regular file.
pub fn open_regular(path: &Path) -> Result<std::fs::File, ReadError> {
    open_with(path, 0)
}

fn open_with(path: &Path, flags: i32) -> Result<std::fs::File, ReadError> {
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY | flags)
        .open(path)
        .map_err(|e| match e.raw_os_error() {
            // O_NOFOLLOW on a link: ELOOP (Linux, macOS) or EMLINK (FreeBSD).
            Some(libc::ELOOP | libc::EMLINK) if flags & libc::O_NOFOLLOW != 0 => {
                ReadError::NotRegular("a symbolic link")
            }
            _ => ReadError::Io(e),
        })?;
    let meta = file.metadata()?;
    if let Some(kind) = kind_of(meta.file_type()) {
        return Err(ReadError::NotRegular(kind));
    }
    Ok(file)
}

/// Reads a regular file whole, refusing one over `cap` bytes (checked before and while reading:
/// a file that grows meanwhile is not read past the cap).
pub fn read_regular(path: &Path, cap: u64) -> Result<Vec<u8>, ReadError> {
    read_opened(open_regular(path)?, cap)
}

/// As `read_regular`, refusing a symbolic link as the last part of `path` too (a file served
/// to the network is only ever the file that is there).
pub fn read_regular_nofollow(path: &Path, cap: u64) -> Result<Vec<u8>, ReadError> {
    read_opened(open_with(path, libc::O_NOFOLLOW)?, cap)
}

fn read_opened(file: std::fs::File, cap: u64) -> Result<Vec<u8>, ReadError> {
    let size = file.metadata()?.len();
    if size > cap {
        return Err(ReadError::TooLarge { size, cap });
    }
    let mut bytes = Vec::with_capacity(size as usize);
    file.take(cap + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > cap {
        return Err(ReadError::TooLarge {
            size: bytes.len() as u64,
            cap,
        });
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fifo_is_refused_at_once_and_a_regular_file_is_read() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("clawcron.yaml");
        let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        // SAFETY: a valid C string; mkfifo only creates the node.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        let started = std::time::Instant::now();
        let e = read_regular(&fifo, 1024).unwrap_err();
        assert!(started.elapsed() < std::time::Duration::from_secs(1));
        assert_eq!(
            e.to_string(),
            "is not a regular file (a named pipe (FIFO)): not read"
        );
        assert_eq!(
            read_regular(dir.path(), 1024).unwrap_err().to_string(),
            "is not a regular file (a directory): not read"
        );
        let file = dir.path().join("a.yaml");
        std::fs::write(&file, "x: 1\n").unwrap();
        assert_eq!(read_regular(&file, 1024).unwrap(), b"x: 1\n");
        assert_eq!(
            read_regular(&file, 2).unwrap_err().to_string(),
            "the file is 5 bytes, more than the 2-byte limit"
        );
    }
}
