//! Outputs written as a stream (evidence captures, copied frame by frame in a second pass over
//! the input): the rules of [`super::write`] — never over an input, a file of another format only
//! with `--force`, a symlink replaced and not followed, a FIFO or device written through — without
//! holding the whole file in memory. The file appears whole at [`Staged::finish`]; dropped before
//! that (an error, an interrupt), its temporary file is removed.

use std::fs;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;

use tempfile::NamedTempFile;

use super::{check_with, is_stream, pending, temp_beside, OutputKind, FORCE};

/// Where the bytes go.
enum Sink {
    /// A FIFO or a character device, written through.
    Stream(BufWriter<fs::File>),
    /// A temporary file beside the target, renamed over it at the end.
    Temp(BufWriter<NamedTempFile>, PathBuf),
}

/// An output being written; [`Staged::finish`] puts it in place.
pub struct Staged {
    path: PathBuf,
    sink: Option<Sink>,
}

/// Starts writing output `kind` to `path`, checked as [`super::write`] checks it.
pub fn create(path: &Path, kind: OutputKind) -> io::Result<Staged> {
    let named = |e: io::Error| io::Error::new(e.kind(), format!("{}: {e}", path.display()));
    check_with(path, kind, FORCE.load(Ordering::Relaxed))?;
    let sink = if is_stream(path) {
        let f = fs::OpenOptions::new()
            .write(true)
            .open(path)
            .map_err(named)?;
        Sink::Stream(BufWriter::new(f))
    } else {
        let tmp = temp_beside(path).map_err(named)?;
        let tmp_path = tmp.path().to_path_buf();
        Sink::Temp(BufWriter::new(tmp), tmp_path)
    };
    Ok(Staged {
        path: path.to_path_buf(),
        sink: Some(sink),
    })
}

impl Staged {
    /// The target path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Flushes and puts the file in place (renamed over the target). An error names the target.
    pub fn finish(mut self) -> io::Result<()> {
        let path = self.path.clone();
        let named = |e: io::Error| io::Error::new(e.kind(), format!("{}: {e}", path.display()));
        match self.sink.take() {
            None => Ok(()),
            Some(Sink::Stream(mut w)) => w.flush().map_err(named),
            Some(Sink::Temp(w, tmp_path)) => {
                let result = w
                    .into_inner()
                    .map_err(|e| named(e.into_error()))
                    .and_then(|tmp| {
                        tmp.as_file().sync_data().map_err(named)?;
                        tmp.persist(&path).map(drop).map_err(|e| named(e.error))
                    });
                // A failed write or rename dropped the temporary file, which removed it.
                pending(&tmp_path, false);
                result
            }
        }
    }
}

impl Write for Staged {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match &mut self.sink {
            Some(Sink::Stream(w)) => w.write(buf),
            Some(Sink::Temp(w, _)) => w.write(buf),
            None => Err(io::Error::other("output already finished")),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match &mut self.sink {
            Some(Sink::Stream(w)) => w.flush(),
            Some(Sink::Temp(w, _)) => w.flush(),
            None => Ok(()),
        }
    }
}

impl Drop for Staged {
    fn drop(&mut self) {
        // Not finished: the temporary file goes with its handle; forget it for `cleanup`.
        if let Some(Sink::Temp(_, tmp_path)) = &self.sink {
            pending(tmp_path, false);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = fs::read_dir(dir)
            .expect("listable")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn appears_whole_at_finish_only() {
        let dir = tempfile::tempdir().expect("temp dir");
        let target = dir.path().join("e.pcapng");
        let mut s = create(&target, OutputKind::Evidence).expect("created");
        s.write_all(b"part one, ").expect("written");
        assert!(!target.exists(), "nothing at the target before finish");
        s.write_all(b"part two").expect("written");
        s.finish().expect("finished");
        assert_eq!(fs::read(&target).expect("target"), b"part one, part two");
        assert_eq!(names(dir.path()), ["e.pcapng"]);
    }

    #[test]
    fn dropped_unfinished_leaves_nothing() {
        let dir = tempfile::tempdir().expect("temp dir");
        let target = dir.path().join("e.pcapng");
        let mut s = create(&target, OutputKind::Evidence).expect("created");
        s.write_all(b"half").expect("written");
        drop(s);
        assert_eq!(names(dir.path()), Vec::<String>::new());
    }

    #[cfg(unix)]
    #[test]
    fn a_planted_symlink_is_replaced_and_a_foreign_file_refused() {
        let dir = tempfile::tempdir().expect("temp dir");
        let victim = dir.path().join("victim");
        fs::write(&victim, b"precious").expect("victim");
        let target = dir.path().join("e.pcapng");
        std::os::unix::fs::symlink(&victim, &target).expect("planted");
        let mut s = create(&target, OutputKind::Evidence).expect("created");
        s.write_all(b"evidence").expect("written");
        s.finish().expect("finished");
        assert_eq!(fs::read(&victim).expect("victim"), b"precious");
        assert!(!fs::symlink_metadata(&target).expect("there").is_symlink());
        let notes = dir.path().join("notes.pcapng");
        fs::write(&notes, b"my notes").expect("notes");
        let e = create(&notes, OutputKind::Evidence)
            .err()
            .expect("a text file is refused");
        assert!(e.to_string().contains("refusing to replace"), "{e}");
        assert_eq!(fs::read(&notes).expect("notes"), b"my notes");
    }
}
