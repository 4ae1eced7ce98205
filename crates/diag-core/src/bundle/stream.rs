//! Readers the sources share: a byte range of a file read by position (so any number of threads
//! read one file without a lock), transparent gzip/zstd decompression, and multi-frame zstd.

use std::cell::RefCell;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::sync::Arc;

use zstd::zstd_safe::{self, DCtx, InBuffer, OutBuffer, ResetDirective};

/// gzip member magic (RFC 1952).
pub(crate) const GZIP_MAGIC: [u8; 2] = [0x1F, 0x8B];
/// zstd frame magic: metrics files are compressed but keep their `.json` name.
pub(crate) const ZSTD_MAGIC: [u8; 4] = [0x28, 0xB5, 0x2F, 0xFD];

/// Bytes `[start, end)` of a shared file, read with positional reads: readers of one file never
/// contend for a cursor.
#[derive(Debug, Clone)]
pub(crate) struct FileRange {
    file: Arc<File>,
    pos: u64,
    end: u64,
}

impl FileRange {
    pub(crate) fn new(file: Arc<File>, start: u64, len: u64) -> FileRange {
        FileRange {
            file,
            pos: start,
            end: start.saturating_add(len),
        }
    }
}

impl Read for FileRange {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let left = self.end.saturating_sub(self.pos);
        if left == 0 || buf.is_empty() {
            return Ok(0);
        }
        let want = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
        let n = read_at(&self.file, &mut buf[..want], self.pos)?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "file ends before the entry does",
            ));
        }
        self.pos += n as u64;
        Ok(n)
    }
}

#[cfg(unix)]
fn read_at(file: &File, buf: &mut [u8], offset: u64) -> io::Result<usize> {
    std::os::unix::fs::FileExt::read_at(file, buf, offset)
}

#[cfg(windows)]
fn read_at(file: &File, buf: &mut [u8], offset: u64) -> io::Result<usize> {
    std::os::windows::fs::FileExt::seek_read(file, buf, offset)
}

/// Concatenated zstd frames (as `zstd` writes for large or multi-threaded input, and as `cat
/// a.zst b.zst` gives), skippable frames skipped: libzstd's streaming decoder, which reads on
/// past the end of a frame. The decoder is made on the first read, so making this never fails.
pub(crate) struct ZstdFrames<R: BufRead> {
    state: ZstdState<R>,
}

enum ZstdState<R: BufRead> {
    /// Before the first read.
    Pending(R),
    /// Decoding.
    Decoding(zstd::stream::read::Decoder<'static, R>),
    /// The decoder could not be made (its error was returned once).
    Failed,
}

impl<R: BufRead> ZstdFrames<R> {
    pub(crate) fn new(inner: R) -> ZstdFrames<R> {
        ZstdFrames {
            state: ZstdState::Pending(inner),
        }
    }
}

impl<R: BufRead> Read for ZstdFrames<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if let ZstdState::Pending(_) = self.state {
            let ZstdState::Pending(inner) = std::mem::replace(&mut self.state, ZstdState::Failed)
            else {
                return Ok(0);
            };
            self.state = ZstdState::Decoding(zstd::stream::read::Decoder::with_buffer(inner)?);
        }
        match &mut self.state {
            ZstdState::Decoding(decoder) => decoder.read(buf).map_err(|e| {
                if is_cap_exceeded(&e) {
                    e
                } else {
                    zstd_error(e)
                }
            }),
            _ => Ok(0),
        }
    }
}

/// libzstd's errors as a reader of the file would put them: a cut file says so (the decoder
/// reports `incomplete frame` as an unexpected end), other damage says it is not valid zstd.
fn zstd_error(e: io::Error) -> io::Error {
    let text = e.to_string();
    if e.kind() == io::ErrorKind::UnexpectedEof || text.contains("incomplete frame") {
        io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "zstd data ends inside a frame (the file is cut short)",
        )
    } else if e.kind() == io::ErrorKind::Other {
        // libzstd's streaming decoder says "Destination buffer is too small" when a frame
        // decodes to more than the content size its header declares: a damaged frame, not a
        // buffer of ours.
        let meaning = match text.as_str() {
            "Destination buffer is too small" => {
                "a frame holds more data than its header declares (damaged frame)"
            }
            _ => &text,
        };
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("invalid zstd data: {meaning}"),
        )
    } else {
        e
    }
}

/// A file's bytes as stored, for [`read_whole`].
pub(crate) enum Stored<'a> {
    /// Already in memory (a rule case's replacement content).
    Memory(&'a [u8]),
    /// Read from the source; `size` is what the index says it holds.
    Stream(Box<dyn Read + Send + 'a>, u64),
}

/// Why [`read_whole`] gave no content.
pub(crate) enum WholeError {
    /// Reading or decompressing failed (zstd errors worded as [`ZstdFrames`] words them).
    Read(io::Error),
    /// The content passed the cap: reading stopped at this many bytes (the cap + 1).
    TooLarge(u64),
}

impl From<io::Error> for WholeError {
    fn from(e: io::Error) -> WholeError {
        WholeError::Read(e)
    }
}

/// What a thread keeps between the files it reads whole: one zstd context (making one per
/// file, with its window buffers, cost more than decompressing the small files of a metrics
/// folder) and the buffers, so that reading a thousand files does not allocate, zero and fault
/// in fresh pages for each.
#[derive(Default)]
struct Whole {
    dctx: Option<DCtx<'static>>,
    /// The stored bytes of the file being read.
    raw: Vec<u8>,
    /// Decompressed content, `out[..filled]` of one read; every byte of `out` is initialized
    /// (its length), so it only grows (and is zeroed) past the largest file the thread has
    /// read, unless a new one is written whole.
    out: Vec<u8>,
}

thread_local! {
    static WHOLE: RefCell<Whole> = RefCell::new(Whole::default());
}

/// Buffers (and a zstd context) a thread keeps for its next file, at most; bigger ones are
/// freed once used, so a thread that read one huge file does not hold its size for the life of
/// the process.
const KEEP_BYTES: usize = 8 << 20;

/// How much room a zstd frame of unknown content size first gets, then doubled as it fills.
const FIRST_ROOM: usize = 128 << 10;

/// Reads a whole file (decompressed when it starts with the zstd or gzip magic, as
/// [`decompressing`] would stream it) and lends the content to `f`; refused once it passes
/// `cap` bytes. The thread's zstd context and buffers are reused from file to file.
pub(crate) fn read_whole<T>(
    stored: Stored<'_>,
    cap: u64,
    f: impl FnOnce(&[u8]) -> T,
) -> Result<T, WholeError> {
    WHOLE.with(|cell| match cell.try_borrow_mut() {
        Ok(mut whole) => {
            let read = whole.read(stored, cap, f);
            whole.trim();
            read
        }
        // `f` reading another file whole on the same thread: that one gets its own state.
        Err(_) => Whole::default().read(stored, cap, f),
    })
}

impl Whole {
    fn read<T>(
        &mut self,
        stored: Stored<'_>,
        cap: u64,
        f: impl FnOnce(&[u8]) -> T,
    ) -> Result<T, WholeError> {
        let limit = cap.saturating_add(1);
        let raw: &[u8] = match stored {
            Stored::Memory(bytes) => bytes,
            Stored::Stream(reader, size) => {
                self.raw.clear();
                self.raw
                    .reserve(usize::try_from(size.min(limit)).unwrap_or(0));
                reader.take(limit).read_to_end(&mut self.raw)?;
                &self.raw
            }
        };
        let too_large = |n: usize| n as u64 > cap;
        match sniff(raw) {
            Compression::None if too_large(raw.len()) => Err(WholeError::TooLarge(limit)),
            Compression::None => Ok(f(raw)),
            Compression::Gzip => {
                let mut out = Vec::new();
                flate2::bufread::MultiGzDecoder::new(raw)
                    .take(limit)
                    .read_to_end(&mut out)?;
                if too_large(out.len()) {
                    return Err(WholeError::TooLarge(limit));
                }
                Ok(f(&out))
            }
            Compression::Zstd => {
                let fresh = || {
                    DCtx::try_create().ok_or_else(|| {
                        io::Error::new(io::ErrorKind::OutOfMemory, "no memory for a zstd context")
                    })
                };
                let dctx = match &mut self.dctx {
                    Some(dctx) => dctx,
                    none => none.insert(fresh()?),
                };
                let filled = match zstd_whole(dctx, raw, &mut self.out, cap) {
                    Err(WholeError::Read(_)) => {
                        // Damaged data fails however it is decoded, but which check trips
                        // first depends on the buffers an earlier file left in the context:
                        // the file is decoded again on a new context, so the error says the
                        // same whatever the thread read before.
                        let dctx = self.dctx.insert(fresh()?);
                        zstd_whole(dctx, raw, &mut self.out, cap)?
                    }
                    read => read?,
                };
                Ok(f(&self.out[..filled]))
            }
        }
    }

    fn trim(&mut self) {
        for buffer in [&mut self.raw, &mut self.out] {
            if buffer.capacity() > KEEP_BYTES {
                *buffer = Vec::new();
            }
        }
        // The context keeps the window buffers of the largest streamed frame (up to libzstd's
        // 128 MiB window limit): a large one goes with the file that needed it.
        if self.dctx.as_ref().is_some_and(|d| d.sizeof() > KEEP_BYTES) {
            self.dctx = None;
        }
    }
}

/// Decompresses every frame of `input` (skippable frames skipped) into `out`, from its
/// start; returns the content's length. A frame that declares its content size (and fits under
/// the cap) is given exactly that room, so libzstd decodes it in one pass without its window
/// buffers; others get room that doubles as they fill.
fn zstd_whole(
    dctx: &mut DCtx<'static>,
    input: &[u8],
    out: &mut Vec<u8>,
    cap: u64,
) -> Result<usize, WholeError> {
    let limit = usize::try_from(cap.saturating_add(1)).unwrap_or(usize::MAX);
    let code_error = |code: usize| {
        zstd_error(io::Error::other(
            zstd_safe::get_error_name(code).to_string(),
        ))
    };
    // A context left mid-frame by a failed file starts over.
    dctx.reset(ResetDirective::SessionOnly)
        .map_err(code_error)?;
    let (mut filled, mut pos, mut in_frame) = (0usize, 0usize, false);
    while pos < input.len() || in_frame {
        if pos == input.len() {
            return Err(zstd_error(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "incomplete frame",
            ))
            .into());
        }
        if filled >= limit {
            return Err(WholeError::TooLarge(limit as u64));
        }
        let left = limit - filled;
        let declared = if in_frame {
            None
        } else {
            zstd_safe::get_frame_content_size(&input[pos..])
                .ok()
                .flatten()
                .and_then(|n| usize::try_from(n).ok())
                .filter(|&n| n > 0 && n < left)
        };
        let room = declared.unwrap_or_else(|| FIRST_ROOM.max(filled)).min(left);
        let mut src = InBuffer::around(&input[pos..]);
        let (result, written) = if filled == 0 && out.len() < room && declared.is_some() {
            // A first frame larger than the buffer: a new one of exactly its size (a vector
            // made with a capacity has exactly that capacity), which libzstd fills without
            // the buffer being zeroed first.
            let mut exact = Vec::with_capacity(room);
            let mut dst = OutBuffer::around(&mut exact);
            let result = dctx.decompress_stream(&mut dst, &mut src);
            let written = dst.pos();
            *out = exact;
            (result, written)
        } else {
            if out.len() < filled + room {
                out.resize(filled + room, 0);
            }
            let mut dst = OutBuffer::around(&mut out[filled..filled + room]);
            let result = dctx.decompress_stream(&mut dst, &mut src);
            (result, dst.pos())
        };
        let progressed = written > 0 || src.pos() > 0;
        filled += written;
        pos += src.pos();
        if result.is_ok() && !progressed {
            // Input and room were both there: libzstd always takes or gives something.
            return Err(zstd_error(io::Error::other("the decoder made no progress")).into());
        }
        match result {
            Ok(0) => in_frame = false,
            Ok(_) => in_frame = true,
            Err(code) => return Err(code_error(code).into()),
        }
    }
    Ok(filled)
}

/// How a stream is compressed, by its first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Compression {
    None,
    Gzip,
    Zstd,
}

/// Wraps `reader` so it yields the decompressed bytes when it starts with the gzip or zstd
/// magic; otherwise the bytes as they are.
pub(crate) fn decompressing<'a>(
    reader: impl Read + Send + 'a,
) -> io::Result<Box<dyn Read + Send + 'a>> {
    let mut buffered = BufReader::with_capacity(64 << 10, reader);
    // One read almost always fills the buffer; a file shorter than a magic cannot carry one.
    let kind = sniff(buffered.fill_buf()?);
    Ok(match kind {
        Compression::Gzip => Box::new(flate2::bufread::MultiGzDecoder::new(buffered)),
        Compression::Zstd => Box::new(ZstdFrames::new(buffered)),
        Compression::None => Box::new(buffered),
    })
}

pub(crate) fn sniff(head: &[u8]) -> Compression {
    if head.starts_with(&ZSTD_MAGIC) {
        Compression::Zstd
    } else if head.starts_with(&GZIP_MAGIC) {
        Compression::Gzip
    } else {
        Compression::None
    }
}

/// Counts the bytes a stream yields and fails once they pass `cap` (the decompressed-size guard
/// of an archive stream; the caller names the entry and the limit).
pub(crate) struct Counted<R> {
    pub(crate) inner: R,
    pub(crate) count: Arc<std::sync::atomic::AtomicU64>,
    pub(crate) cap: u64,
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        let total = self
            .count
            .fetch_add(n as u64, std::sync::atomic::Ordering::Relaxed)
            + n as u64;
        if total > self.cap {
            return Err(io::Error::other(CapExceeded));
        }
        Ok(n)
    }
}

/// The marker error [`Counted`] returns; the archive reader turns it into a named cap error.
#[derive(Debug)]
pub(crate) struct CapExceeded;

impl std::fmt::Display for CapExceeded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("decompressed size cap exceeded")
    }
}

impl std::error::Error for CapExceeded {}

pub(crate) fn is_cap_exceeded(e: &io::Error) -> bool {
    e.get_ref().is_some_and(|inner| inner.is::<CapExceeded>())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn concatenated_zstd_frames_and_skippable_frames_read_through() {
        let mut all = zstd::bulk::compress(b"hello ", 1).unwrap_or_default();
        // A skippable frame: magic 0x184D2A5?, length, payload.
        all.extend([0x50, 0x2A, 0x4D, 0x18, 3, 0, 0, 0, 9, 9, 9]);
        all.extend(zstd::bulk::compress(b"world", 19).unwrap_or_default());
        let mut out = String::new();
        let read = decompressing(all.as_slice()).and_then(|mut r| r.read_to_string(&mut out));
        assert!(read.is_ok(), "{read:?}");
        assert_eq!(out, "hello world");
        // A frame cut short is an error, not a short read.
        let cut = &all[..all.len() - 4];
        let mut out = Vec::new();
        let read = decompressing(cut).and_then(|mut r| r.read_to_end(&mut out));
        assert!(read.is_err(), "{read:?}");
        // Garbage after the magic is an error naming zstd.
        let mut bad = ZSTD_MAGIC.to_vec();
        bad.extend([0xFF; 16]);
        let read = decompressing(bad.as_slice()).and_then(|mut r| r.read_to_end(&mut out));
        assert!(
            read.as_ref().is_err_and(|e| e.to_string().contains("zstd")),
            "{read:?}"
        );
    }

    #[test]
    fn concatenated_gzip_members_and_plain_text_read_through() {
        use std::io::Write;
        let mut one = Vec::new();
        for part in [&b"hello "[..], b"world"] {
            let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            let _ = enc.write_all(part);
            one.extend(enc.finish().unwrap_or_default());
        }
        let mut out = String::new();
        let read = decompressing(one.as_slice()).and_then(|mut r| r.read_to_string(&mut out));
        assert!(read.is_ok(), "{read:?}");
        assert_eq!(out, "hello world");
        let mut plain = String::new();
        let read = decompressing(&b"ab"[..]).and_then(|mut r| r.read_to_string(&mut plain));
        assert!(read.is_ok());
        assert_eq!(plain, "ab");
    }

    #[test]
    fn a_damaged_frame_says_the_same_after_the_thread_decoded_a_larger_one() {
        // A reused zstd context keeps the window buffers of the largest frame it decoded, and
        // with them a damaged frame tripped a later check: "Data corruption detected" in place
        // of what a new context says.
        let mut damaged = ZSTD_MAGIC.to_vec();
        damaged.extend(0..=255u8);
        let fresh = read_whole(Stored::Memory(&damaged), 1 << 20, |_| ()).err();
        let big: Vec<u8> = (0..1 << 20).map(|i: u32| (i * 7 % 251) as u8).collect();
        let mut frame = zstd::bulk::compress(&big, 1).unwrap_or_default();
        // Without its content size, as a streaming writer leaves a frame.
        let mut encoder = zstd::stream::write::Encoder::new(Vec::new(), 1).ok();
        if let Some(e) = encoder.as_mut() {
            let _ = std::io::Write::write_all(e, &big);
        }
        if let Some(streamed) = encoder.and_then(|e| e.finish().ok()) {
            frame.extend(streamed);
        }
        let read = read_whole(Stored::Memory(&frame), 4 << 20, |b| b.len()).ok();
        assert_eq!(read, Some(2 << 20));
        let after = read_whole(Stored::Memory(&damaged), 1 << 20, |_| ()).err();
        let text = |e: Option<WholeError>| match e {
            Some(WholeError::Read(e)) => e.to_string(),
            Some(WholeError::TooLarge(n)) => format!("too large: {n}"),
            None => "read".into(),
        };
        let (fresh, after) = (text(fresh), text(after));
        assert!(fresh.starts_with("invalid zstd data"), "{fresh}");
        assert_eq!(fresh, after);
    }

    #[test]
    fn whole_reads_stop_past_the_cap_and_cut_frames_say_so() {
        let content = vec![b'x'; 300 << 10];
        let frame = zstd::bulk::compress(&content, 1).unwrap_or_default();
        let len = read_whole(Stored::Memory(&frame), 1 << 20, |b| b.len()).ok();
        assert_eq!(len, Some(300 << 10));
        let over = read_whole(Stored::Memory(&frame), 100 << 10, |b| b.len());
        assert!(matches!(over, Err(WholeError::TooLarge(n)) if n == (100 << 10) + 1));
        let cut = read_whole(Stored::Memory(&frame[..frame.len() - 3]), 1 << 20, |b| {
            b.len()
        });
        let message = match cut {
            Err(WholeError::Read(e)) => e.to_string(),
            _ => String::new(),
        };
        assert_eq!(
            message,
            "zstd data ends inside a frame (the file is cut short)"
        );
    }
}
