//! Output files written whole: into a hidden temporary file beside the target (the same file
//! system, so the rename is atomic), then renamed over it. A reader never sees half a file.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

/// `.NAME.PID.tmp.EXT` beside `path`: hidden, and with the extension encoders that choose their
/// format by it (plotters' PNG backend) need.
pub fn temp_beside(path: &Path, ext: &str) -> PathBuf {
    let name = path
        .file_name()
        .map_or_else(|| "output".into(), |n| n.to_string_lossy().into_owned());
    path.with_file_name(format!(".{name}.{}.tmp.{ext}", std::process::id()))
}

/// Writes `path` through `write`, which fills the temporary file it is given; `rename_error`
/// turns a failed rename into the caller's error. The temporary file is removed on failure.
pub fn write_with<E>(
    path: &Path,
    ext: &str,
    write: impl FnOnce(&Path) -> Result<(), E>,
    rename_error: impl FnOnce(io::Error) -> E,
) -> Result<(), E> {
    let tmp = temp_beside(path, ext);
    let result = write(&tmp).and_then(|()| fs::rename(&tmp, path).map_err(rename_error));
    if result.is_err() {
        // Best effort: the temporary file may not exist.
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// Writes `bytes` to `path` whole.
pub fn write(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let ext = path
        .extension()
        .map_or_else(String::new, |e| e.to_string_lossy().into_owned());
    write_with(path, &ext, |tmp| fs::write(tmp, bytes), |e| e)
}
