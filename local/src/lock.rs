//! One server per data directory. The server holds an exclusive `flock` on
//! `<data-dir>/satsgate.lock` for as long as it runs, with its pid inside,
//! so a second server on the same directory is refused with a message that
//! names the running one. The kernel drops the lock when the process ends,
//! however it ends (a stale file from a killed server locks nothing).
//! Commands such as `create-account` take no lock: SQLite's own locking
//! keeps them correct next to a running server.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

pub const LOCK_FILE: &str = "satsgate.lock";

/// Held while the server runs; dropping it releases the lock.
#[derive(Debug)]
pub struct DirLock {
    _file: File,
    pub path: PathBuf,
}

/// Take the data directory for this process, or say who has it.
pub fn lock_data_dir(dir: &Path) -> Result<DirLock, String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
    let path = dir.join(LOCK_FILE);
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(|e| format!("opening {}: {e}", path.display()))?;
    // SAFETY: flock on a file descriptor we own, for the life of `file`.
    let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
    if rc != 0 {
        let err = std::io::Error::last_os_error();
        if err.raw_os_error() != Some(libc::EWOULDBLOCK) {
            return Err(format!("locking {}: {err}", path.display()));
        }
        let mut text = String::new();
        let _ = file.read_to_string(&mut text);
        let pid = match text.trim() {
            "" => "unknown pid".to_string(),
            pid => format!("pid {pid}"),
        };
        return Err(format!(
            "another satsgate-local ({pid}) is already serving the data directory {}; \
             stop it first or choose another --data-dir (commands such as \
             `satsgate-local create-account` work while it runs)",
            dir.display()
        ));
    }
    let pid = std::process::id().to_string();
    file.set_len(0)
        .and_then(|_| file.rewind())
        .and_then(|_| file.write_all(pid.as_bytes()))
        .and_then(|_| file.flush())
        .map_err(|e| format!("writing {}: {e}", path.display()))?;
    Ok(DirLock { _file: file, path })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_is_refused_naming_the_holder_until_the_first_is_dropped() {
        let dir = std::env::temp_dir().join(format!("satsgate-lock-{}", std::process::id()));
        let first = lock_data_dir(&dir).unwrap();
        assert_eq!(
            std::fs::read_to_string(&first.path).unwrap(),
            std::process::id().to_string()
        );
        // flock locks belong to the open file, so a second open is refused
        // even within one process.
        let e = lock_data_dir(&dir).unwrap_err();
        assert!(e.contains(&format!("pid {}", std::process::id())), "{e}");
        drop(first);
        lock_data_dir(&dir).expect("free again once the holder is gone");
        std::fs::remove_dir_all(&dir).ok();
    }
}
