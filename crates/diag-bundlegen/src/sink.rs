//! Where generated files go: a directory, a `.zip` or a `.tar.gz`, behind one [`BundleSink`].

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use flate2::Compression;
use flate2::write::GzEncoder;

/// Receives the files of one bundle, bundle-relative `/`-separated paths, in any order.
pub trait BundleSink {
    /// Writes one file.
    fn file(&mut self, path: &str, bytes: &[u8]) -> io::Result<()>;
    /// Flushes and closes the container.
    fn finish(self: Box<Self>) -> io::Result<()>;
}

/// Writes the bundle as a directory.
#[derive(Debug)]
pub struct DirSink {
    root: PathBuf,
}

impl DirSink {
    /// Creates `root` (which must not exist or be empty).
    pub fn create(root: &Path) -> io::Result<DirSink> {
        std::fs::create_dir_all(root)?;
        Ok(DirSink {
            root: root.to_path_buf(),
        })
    }
}

impl BundleSink for DirSink {
    fn file(&mut self, path: &str, bytes: &[u8]) -> io::Result<()> {
        let target = self.root.join(path);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(target, bytes)
    }

    fn finish(self: Box<Self>) -> io::Result<()> {
        Ok(())
    }
}

/// Writes the bundle as a deflated `.zip` with every entry under `<prefix>/`, as `zip -r` of the
/// bundle folder would.
pub struct ZipSink {
    writer: zip::ZipWriter<BufWriter<File>>,
    prefix: String,
}

impl ZipSink {
    /// Creates the archive file.
    pub fn create(path: &Path, prefix: &str) -> io::Result<ZipSink> {
        let writer = zip::ZipWriter::new(BufWriter::new(File::create(path)?));
        Ok(ZipSink {
            writer,
            prefix: prefix.to_string(),
        })
    }
}

impl BundleSink for ZipSink {
    fn file(&mut self, path: &str, bytes: &[u8]) -> io::Result<()> {
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated)
            .large_file(bytes.len() as u64 >= u32::MAX as u64);
        self.writer
            .start_file(format!("{}/{path}", self.prefix), options)
            .map_err(io::Error::other)?;
        self.writer.write_all(bytes)
    }

    fn finish(self: Box<Self>) -> io::Result<()> {
        self.writer.finish().map_err(io::Error::other)?.flush()
    }
}

/// Writes the bundle as a gzip-compressed tarball with every entry under `<prefix>/`.
pub struct TarGzSink {
    builder: tar::Builder<GzEncoder<BufWriter<File>>>,
    prefix: String,
}

impl TarGzSink {
    /// Creates the archive file.
    pub fn create(path: &Path, prefix: &str) -> io::Result<TarGzSink> {
        let encoder = GzEncoder::new(BufWriter::new(File::create(path)?), Compression::default());
        Ok(TarGzSink {
            builder: tar::Builder::new(encoder),
            prefix: prefix.to_string(),
        })
    }
}

impl BundleSink for TarGzSink {
    fn file(&mut self, path: &str, bytes: &[u8]) -> io::Result<()> {
        let mut header = tar::Header::new_gnu();
        header.set_size(bytes.len() as u64);
        header.set_mode(0o644);
        // A fixed time keeps archives byte-identical across runs.
        header.set_mtime(1_644_206_400);
        header.set_cksum();
        self.builder
            .append_data(&mut header, format!("{}/{path}", self.prefix), bytes)
    }

    fn finish(self: Box<Self>) -> io::Result<()> {
        self.builder.into_inner()?.finish()?.flush()
    }
}

/// Keeps files in memory (tests and benches that want no disk).
#[derive(Debug, Default)]
pub struct MemorySink {
    /// Path → bytes, in write order.
    pub files: Vec<(String, Vec<u8>)>,
}

impl BundleSink for &mut MemorySink {
    fn file(&mut self, path: &str, bytes: &[u8]) -> io::Result<()> {
        self.files.push((path.to_string(), bytes.to_vec()));
        Ok(())
    }

    fn finish(self: Box<Self>) -> io::Result<()> {
        Ok(())
    }
}
