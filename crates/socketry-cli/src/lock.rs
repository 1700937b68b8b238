//! `-L` and `-W`: a lock file that says socketry is running (it holds the pid), made when
//! socketry starts and removed when it exits, as socat's are, so that scripts can refuse or
//! wait for a second instance, and find the first one's pid.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::flags::LockWait;

/// How often `-W` looks whether the lock file is gone.
const WAIT_POLL: Duration = Duration::from_millis(100);

/// The lock file socketry made; removed when this is dropped.
#[derive(Debug)]
pub struct LockFile {
    path: PathBuf,
}

impl LockFile {
    /// Creates `path` holding socketry's pid. If it exists, `-L` fails and `-W` waits until
    /// it is gone; the error is one line naming the file.
    pub fn take(path: &Path, wait: LockWait) -> Result<LockFile, String> {
        let shown = path.display();
        let mut waited = false;
        loop {
            match std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(path)
            {
                Ok(mut file) => {
                    writeln!(file, "{}", std::process::id())
                        .map_err(|e| format!("writing the lock file \"{shown}\": {e}"))?;
                    return Ok(LockFile {
                        path: path.to_owned(),
                    });
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => match wait {
                    LockWait::Fail => {
                        return Err(format!(
                            "the lock file \"{shown}\" exists: another instance holds it (-L)"
                        ))
                    }
                    LockWait::Wait => {
                        if !waited {
                            tracing::info!("waiting for the lock file \"{shown}\" to go (-W)");
                            waited = true;
                        }
                        std::thread::sleep(WAIT_POLL);
                    }
                },
                Err(e) => return Err(format!("creating the lock file \"{shown}\": {e}")),
            }
        }
    }
}

impl Drop for LockFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}
