//! Output files written safely and whole.
//!
//! A regular file (or a path that does not exist yet) is written into a temporary file created
//! beside it with an unpredictable name and `O_CREAT|O_EXCL` (the `tempfile` crate), so a
//! symlink planted in a shared output directory is never followed, then renamed over the target:
//! a reader never sees half a file, and a symlink planted at the target path is replaced, not
//! written through. A FIFO or a character device (`/proc/self/fd/1`, a terminal) is written
//! through, as a user who names one expects. A path that is one of the run's input captures
//! ([`protect_inputs`]) is never written. An existing regular file that is not empty and does
//! not hold what the output writes (`existing.rs`: a capture named where a report's name was
//! forgotten, a text file) is refused unless the command was given `--force`
//! ([`allow_replacing`]). Temporary files still open when the process is interrupted are removed
//! by [`cleanup`] (see `commands::signals`). Errors name the target, not the temporary file.

mod existing;
mod staged;

use std::fmt;
use std::fs;
use std::io::{self, Write};
#[cfg(unix)]
use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

pub use existing::{sniff, CaptureFormat, Found, OutputKind};
pub use staged::{create, Staged};

/// The temporary files being written now, for [`cleanup`].
static PENDING: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

/// The run's input captures: no output is ever written over one.
static INPUTS: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

/// `--force`: an existing file of another format may be replaced (never an input capture).
static FORCE: AtomicBool = AtomicBool::new(false);

/// Declares whether the run may replace existing files that do not hold what it writes.
pub fn allow_replacing(force: bool) {
    FORCE.store(force, Ordering::Relaxed);
}

/// Declares the run's input captures (`-`, standard input, is no file and is left out).
pub fn protect_inputs<'a>(paths: impl IntoIterator<Item = &'a Path>) {
    let mut inputs = match INPUTS.lock() {
        Ok(i) => i,
        Err(poisoned) => poisoned.into_inner(),
    };
    inputs.extend(
        paths
            .into_iter()
            .filter(|p| p.as_os_str() != "-")
            .map(Path::to_path_buf),
    );
}

/// The input capture that `path` names, if it names one.
pub fn input_at(path: &Path) -> Option<PathBuf> {
    let inputs = match INPUTS.lock() {
        Ok(i) => i,
        Err(poisoned) => poisoned.into_inner(),
    };
    inputs.iter().find(|i| same_file(path, i)).cloned()
}

/// Removes every temporary file still being written (on SIGINT/SIGTERM, before exiting).
pub fn cleanup() {
    let pending = match PENDING.lock() {
        Ok(p) => p.clone(),
        Err(poisoned) => poisoned.into_inner().clone(),
    };
    for p in pending {
        let _ = fs::remove_file(p);
    }
}

fn pending(path: &Path, add: bool) {
    let mut p = match PENDING.lock() {
        Ok(p) => p,
        Err(poisoned) => poisoned.into_inner(),
    };
    if add {
        p.push(path.to_path_buf());
    } else {
        p.retain(|q| q != path);
    }
}

/// A FIFO or a character device: written through, never replaced.
fn is_stream(path: &Path) -> bool {
    #[cfg(unix)]
    {
        fs::metadata(path).is_ok_and(|m| {
            let t = m.file_type();
            t.is_fifo() || t.is_char_device()
        })
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        false
    }
}

/// Why an output path is not written.
#[derive(Debug)]
pub enum Refusal {
    /// The path is one of the run's input captures: never written, `--force` or not.
    Input { path: PathBuf, input: PathBuf },
    /// The file there holds something other than the output (without `--force`).
    Foreign {
        path: PathBuf,
        found: Found,
        kind: OutputKind,
    },
    /// What the file there holds could not be read (without `--force`).
    Unreadable { path: PathBuf, error: io::Error },
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::Input { path, input } => write!(
                f,
                "{} is the input capture {}: refusing to overwrite it",
                path.display(),
                input.display()
            ),
            Refusal::Foreign { path, found, kind } => write!(
                f,
                "{} looks like {found}, not {kind}: refusing to replace it (--force replaces it)",
                path.display()
            ),
            Refusal::Unreadable { path, error } => write!(
                f,
                "{}: cannot tell what the file there holds ({error}): refusing to replace it \
                 (--force replaces it)",
                path.display()
            ),
        }
    }
}

impl std::error::Error for Refusal {}

impl From<Refusal> for io::Error {
    fn from(r: Refusal) -> Self {
        io::Error::new(io::ErrorKind::AlreadyExists, r)
    }
}

/// Whether output `kind` may be written at `path` (checked again by [`write`]; a command calls
/// it before its work, so that a wrong path fails at once and before anything is written).
pub fn check(path: &Path, kind: OutputKind) -> Result<(), Refusal> {
    check_with(path, kind, FORCE.load(Ordering::Relaxed))
}

fn check_with(path: &Path, kind: OutputKind, force: bool) -> Result<(), Refusal> {
    if let Some(input) = input_at(path) {
        return Err(Refusal::Input {
            path: path.to_path_buf(),
            input,
        });
    }
    if force {
        return Ok(());
    }
    // Only a regular file is looked into: a symlink is replaced (its target never written), a
    // FIFO or device written through.
    match existing::sniff(path) {
        Ok(Some(found)) if !kind.may_replace(found) => Err(Refusal::Foreign {
            path: path.to_path_buf(),
            found,
            kind,
        }),
        Ok(_) => Ok(()),
        Err(error) => Err(Refusal::Unreadable {
            path: path.to_path_buf(),
            error,
        }),
    }
}

/// Writes output `kind`'s `bytes` to `path` whole: through a FIFO or device, else via a
/// temporary file beside it and a rename; never over an input capture nor, without `--force`,
/// over a file that holds something else ([`check`]). An error names `path`.
pub fn write(path: &Path, kind: OutputKind, bytes: &[u8]) -> io::Result<()> {
    write_with(path, kind, bytes, FORCE.load(Ordering::Relaxed))
}

fn write_with(path: &Path, kind: OutputKind, bytes: &[u8], force: bool) -> io::Result<()> {
    let named = |e: io::Error| io::Error::new(e.kind(), format!("{}: {e}", path.display()));
    check_with(path, kind, force)?;
    if is_stream(path) {
        let mut f = fs::OpenOptions::new()
            .write(true)
            .open(path)
            .map_err(named)?;
        return f.write_all(bytes).and_then(|()| f.flush()).map_err(named);
    }
    let mut tmp = temp_beside(path).map_err(named)?;
    let tmp_path = tmp.path().to_path_buf();
    let result = tmp
        .write_all(bytes)
        .and_then(|()| tmp.as_file().sync_data())
        .map_err(named)
        .and_then(|()| tmp.persist(path).map(drop).map_err(|e| named(e.error)));
    // A failed write or rename drops the temporary file, which removes it.
    pending(&tmp_path, false);
    result
}

/// A new temporary file beside `path`, created exclusively and registered for [`cleanup`].
fn temp_beside(path: &Path) -> io::Result<tempfile::NamedTempFile> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let name = path
        .file_name()
        .map_or_else(|| "output".into(), |n| n.to_string_lossy().into_owned());
    let mut builder = tempfile::Builder::new();
    let prefix = format!(".{name}.");
    builder.prefix(&prefix).suffix(".tmp");
    // Created with the mode any new file gets (0666 less the umask), not tempfile's 0600: a
    // graph or report is meant to be read by whoever may read the directory.
    #[cfg(unix)]
    builder.permissions(std::os::unix::fs::PermissionsExt::from_mode(0o666));
    let tmp = builder.tempfile_in(dir)?;
    pending(tmp.path(), true);
    Ok(tmp)
}

/// Whether `a` and `b` name the same existing file (same device and inode), so that an output
/// path never overwrites an input.
pub fn same_file(a: &Path, b: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        match (fs::metadata(a), fs::metadata(b)) {
            (Ok(x), Ok(y)) => x.dev() == y.dev() && x.ino() == y.ino(),
            _ => false,
        }
    }
    #[cfg(not(unix))]
    {
        matches!((fs::canonicalize(a), fs::canonicalize(b)), (Ok(x), Ok(y)) if x == y)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_whole_and_leaves_no_temporary_file() {
        let dir = tempfile::tempdir().expect("temp dir");
        let target = dir.path().join("out.xml");
        write(&target, OutputKind::JUnit, b"<a/>").expect("written");
        write(&target, OutputKind::JUnit, b"<b/>").expect("rewritten");
        assert_eq!(fs::read(&target).expect("readable"), b"<b/>");
        let names: Vec<_> = fs::read_dir(dir.path())
            .expect("listable")
            .map(|e| e.expect("entry").file_name())
            .collect();
        assert_eq!(names, ["out.xml"]);
    }

    #[cfg(unix)]
    #[test]
    fn a_symlink_at_the_target_is_replaced_not_followed() {
        let dir = tempfile::tempdir().expect("temp dir");
        let victim = dir.path().join("victim");
        fs::write(&victim, b"precious").expect("victim");
        let target = dir.path().join("out.png");
        std::os::unix::fs::symlink(&victim, &target).expect("planted");
        write(&target, OutputKind::Png, b"graph").expect("written");
        assert_eq!(fs::read(&victim).expect("victim"), b"precious");
        assert!(!fs::symlink_metadata(&target).expect("exists").is_symlink());
        assert_eq!(fs::read(&target).expect("target"), b"graph");
    }

    #[cfg(unix)]
    #[test]
    fn files_get_the_usual_mode() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("temp dir");
        let target = dir.path().join("g.svg");
        write(&target, OutputKind::Svg, b"<svg/>").expect("written");
        let mode = |p: &Path| fs::metadata(p).expect("exists").permissions().mode() & 0o777;
        // The mode a plain `File::create` gets under the current umask.
        let plain = dir.path().join("plain");
        fs::File::create(&plain).expect("created");
        assert_eq!(mode(&target), mode(&plain));
    }

    #[test]
    fn errors_name_the_target() {
        let e = write(
            Path::new("/nonexistent-dir/out.xml"),
            OutputKind::JUnit,
            b"x",
        )
        .expect_err("no such dir");
        assert!(e.to_string().contains("/nonexistent-dir/out.xml"), "{e}");
    }

    #[test]
    fn an_input_capture_is_never_written() {
        let dir = tempfile::tempdir().expect("temp dir");
        let capture = dir.path().join("in.pcap");
        fs::write(&capture, b"capture").expect("capture");
        protect_inputs([capture.as_path()]);
        // Not even with --force.
        let e = write_with(
            &dir.path().join(".").join("in.pcap"),
            OutputKind::JUnit,
            b"xml",
            true,
        )
        .expect_err("refused");
        assert!(e.to_string().contains("refusing to overwrite"), "{e}");
        assert_eq!(fs::read(&capture).expect("capture"), b"capture");
        write(&dir.path().join("out.xml"), OutputKind::JUnit, b"xml")
            .expect("other paths are written");
    }

    const PCAP_HEAD: &[u8] = &[0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0];

    #[test]
    fn a_file_of_another_format_needs_force() {
        let dir = tempfile::tempdir().expect("temp dir");
        let capture = dir.path().join("a.pcap");
        fs::write(&capture, PCAP_HEAD).expect("capture");
        let e = write_with(&capture, OutputKind::JUnit, b"<x/>", false).expect_err("refused");
        assert_eq!(
            e.to_string(),
            format!(
                "{} looks like a capture (pcap), not a JUnit report: refusing to replace it \
                 (--force replaces it)",
                capture.display()
            )
        );
        assert_eq!(fs::read(&capture).expect("capture"), PCAP_HEAD);
        let notes = dir.path().join("notes.txt");
        fs::write(&notes, b"notes").expect("notes");
        assert!(write_with(&notes, OutputKind::JUnit, b"<x/>", false).is_err());
        assert_eq!(fs::read(&notes).expect("notes"), b"notes");
        write_with(&notes, OutputKind::JUnit, b"<x/>", true).expect("forced");
        assert_eq!(fs::read(&notes).expect("notes"), b"<x/>");
        assert_eq!(hidden(dir.path()), Vec::<String>::new());
    }

    #[test]
    fn empty_files_and_the_same_format_are_replaced() {
        let dir = tempfile::tempdir().expect("temp dir");
        let empty = dir.path().join("g.png");
        fs::write(&empty, b"").expect("empty");
        write_with(&empty, OutputKind::Png, b"\x89PNG\r\n\x1a\n1", false).expect("empty");
        write_with(&empty, OutputKind::Png, b"\x89PNG\r\n\x1a\n2", false).expect("a PNG");
        assert_eq!(fs::read(&empty).expect("png"), b"\x89PNG\r\n\x1a\n2");
        let e = write_with(&empty, OutputKind::Svg, b"<svg/>", false).expect_err("a PNG");
        assert!(
            e.to_string()
                .contains("looks like a PNG image, not an SVG graph"),
            "{e}"
        );
    }

    fn hidden(dir: &Path) -> Vec<String> {
        fs::read_dir(dir)
            .expect("listable")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with('.'))
            .collect()
    }

    #[test]
    fn same_file_is_by_identity() {
        let dir = tempfile::tempdir().expect("temp dir");
        let a = dir.path().join("a");
        fs::write(&a, b"1").expect("a");
        let also_a = dir.path().join(".").join("a");
        assert!(same_file(&a, &also_a));
        assert!(!same_file(&a, &dir.path().join("b")));
    }
}
