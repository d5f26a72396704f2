//! Opening an input file: fingerprint, raw copy into the store, gzip, zstd or ZIP, and
//! text encoding.

use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread::JoinHandle;

use encoding_rs::Encoding;
use xxhash_rust::xxh3::Xxh3;

use super::IngestError;

/// Content fingerprint of a file: xxh3 over its size and three 1 MB samples (start,
/// middle, end). Cheap on multi-GB files, and the same for the same bytes anywhere.
pub fn fingerprint(path: &Path) -> Result<(String, u64), IngestError> {
    let mut f = File::open(path).map_err(|e| IngestError::open(path, e))?;
    let len = f.metadata().map_err(|e| IngestError::open(path, e))?.len();
    let mut h = Xxh3::new();
    h.update(&len.to_le_bytes());
    const SAMPLE: u64 = 1 << 20;
    let mut buf = vec![0u8; SAMPLE as usize];
    for at in [
        0,
        len.saturating_sub(SAMPLE) / 2,
        len.saturating_sub(SAMPLE),
    ] {
        f.seek(SeekFrom::Start(at))
            .map_err(|e| IngestError::open(path, e))?;
        let mut got = 0;
        while got < buf.len() {
            let n = f
                .read(&mut buf[got..])
                .map_err(|e| IngestError::open(path, e))?;
            if n == 0 {
                break;
            }
            got += n;
        }
        h.update(&buf[..got]);
    }
    Ok((format!("{:016x}", h.digest()), len))
}

/// Counts bytes read from the underlying file (drives the progress bar).
struct Counted<R> {
    inner: R,
    read: Arc<AtomicU64>,
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// Copies an input, byte for byte, into the store's raw layer under a temporary name, on
/// its own thread while the input is parsed; [`RawCopy::finish`] renames it into place.
/// The copy is written past the page cache ([`copy_direct`]); compressing it (zstd at its
/// fastest level) had cost 15% of the ingest's CPU time on the 1M-row benchmark.
pub struct RawCopy {
    handle: JoinHandle<std::io::Result<u64>>,
    tmp: PathBuf,
    path: PathBuf,
}

impl RawCopy {
    fn start(from: &Path, path: PathBuf) -> Self {
        let tmp = crate::store::tmp_path(&path);
        let (from, to) = (from.to_path_buf(), tmp.clone());
        let handle = std::thread::spawn(move || copy_direct(&from, &to));
        Self { handle, tmp, path }
    }

    /// Waits for the copy and moves it into place.
    pub fn finish(self) -> Result<(), IngestError> {
        let joined = self.handle.join().map_err(|_| {
            IngestError::open(&self.tmp, std::io::Error::other("raw-copy thread panicked"))
        })?;
        joined.map_err(|e| IngestError::open(&self.tmp, e))?;
        std::fs::rename(&self.tmp, &self.path).map_err(|e| IngestError::open(&self.path, e))
    }
}

/// Copies `from` to `to` (created or truncated), writing with `O_DIRECT` where the file
/// system takes it: straight to the disk, instead of filling a second copy of a multi-GB
/// file in the page cache for the kernel to flush later (perf: that copy and its flushing
/// were 6-13% of the 1M-row ingest's CPU time, and varied with the page cache's state).
/// The source is mapped 8 MB at a time, not read: `write(2)` takes its pages from the page
/// cache (where the parser's reads put them) with no copy through a buffer of ours (perf:
/// that copy was 2.4% of the 200k-row ingest's samples; 1M rows, five alternating runs:
/// 3.50 → 3.39 s, 6.65 → 6.46 CPU-s). Where `O_DIRECT` is refused (tmpfs, some network
/// file systems) it is `std::fs::copy`.
#[cfg(target_os = "linux")]
pub fn copy_direct(from: &Path, to: &Path) -> std::io::Result<u64> {
    use std::io::Write;
    use std::os::unix::fs::{FileExt, OpenOptionsExt};
    const ALIGN: usize = 4096;
    const CHUNK: usize = 8 << 20;
    let direct = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .custom_flags(libc::O_DIRECT)
        .open(to);
    let Ok(mut out) = direct else {
        return std::fs::copy(from, to);
    };
    let src = File::open(from)?;
    let len = usize::try_from(src.metadata()?.len()).map_err(std::io::Error::other)?;
    if len == 0 {
        return Ok(0);
    }
    // O_DIRECT wants the buffer, the length and the file offset aligned to the block size.
    // Each chunk is mapped on its own (page-aligned offsets) and unmapped once written,
    // so the process keeps one chunk of the source resident, not the whole file.
    let whole = len / ALIGN * ALIGN;
    let mut at = 0;
    while at < whole {
        let n = CHUNK.min(whole - at);
        // SAFETY: the mapped bytes are only handed to write(2), never read by this
        // process, so a file that shrinks meanwhile makes the write fail (EFAULT) rather
        // than fault here.
        let map = unsafe {
            memmap2::MmapOptions::new()
                .offset(at as u64)
                .len(n)
                .populate()
                .map(&src)?
        };
        if let Err(e) = out.write_all(&map) {
            if at == 0 && e.raw_os_error() == Some(libc::EINVAL) {
                drop(out);
                return std::fs::copy(from, to);
            }
            return Err(e);
        }
        at += n;
    }
    drop(out);
    if whole < len {
        // The unaligned tail, read with pread and written through the page cache.
        let mut tail = vec![0u8; len - whole];
        src.read_exact_at(&mut tail, whole as u64)?;
        std::fs::OpenOptions::new()
            .append(true)
            .open(to)?
            .write_all(&tail)?;
    }
    Ok(len as u64)
}

/// Copies `from` to `to`: `std::fs::copy` where there is no `O_DIRECT` (not Linux).
#[cfg(not(target_os = "linux"))]
pub fn copy_direct(from: &Path, to: &Path) -> std::io::Result<u64> {
    std::fs::copy(from, to)
}

/// An opened input: decoded UTF-8 text, plus what was learnt opening it.
pub struct Input {
    /// The decoded text stream.
    pub reader: Box<dyn Read + Send>,
    /// Name of the encoding it was decoded from.
    pub encoding: &'static str,
    /// Bytes of the file read so far (for progress).
    pub bytes_read: Arc<AtomicU64>,
    /// First bytes of the decoded text (to recognise the format).
    pub head: Vec<u8>,
    /// The raw copy being written, if this file was not yet in the raw layer.
    pub raw_copy: Option<RawCopy>,
}

/// Reader that first replays a peeked prefix.
struct Prefixed<R> {
    head: std::io::Cursor<Vec<u8>>,
    rest: R,
}

impl<R: Read> Read for Prefixed<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.head.read(buf)?;
        if n > 0 { Ok(n) } else { self.rest.read(buf) }
    }
}

fn peek<R: Read>(mut r: R, n: usize) -> std::io::Result<(Vec<u8>, Prefixed<R>)> {
    let mut head = vec![0u8; n];
    let mut got = 0;
    while got < n {
        let k = r.read(&mut head[got..])?;
        if k == 0 {
            break;
        }
        got += k;
    }
    head.truncate(got);
    Ok((
        head.clone(),
        Prefixed {
            head: std::io::Cursor::new(head),
            rest: r,
        },
    ))
}

/// Looks an encoding up by label (`utf-8`, `gbk`, `gb18030`, `big5`…).
pub fn encoding_by_label(label: &str) -> Option<&'static Encoding> {
    Encoding::for_label(label.trim().as_bytes())
}

/// Guesses the encoding of a text prefix: a BOM, valid UTF-8, else chardetng's guess
/// (GBK and GB18030 are decoded as GB18030, their superset).
pub fn detect_encoding(head: &[u8]) -> &'static Encoding {
    if let Some((enc, _)) = Encoding::for_bom(head) {
        return enc;
    }
    let valid = match std::str::from_utf8(head) {
        Ok(_) => true,
        // A multi-byte character cut by the end of the sample is still UTF-8.
        Err(e) => e.error_len().is_none() && e.valid_up_to() + 4 > head.len(),
    };
    if valid {
        return encoding_rs::UTF_8;
    }
    let mut det = chardetng::EncodingDetector::new(chardetng::Iso2022JpDetection::Deny);
    det.feed(head, false);
    let guess = det.guess(None, chardetng::Utf8Detection::Deny);
    if guess == encoding_rs::GBK {
        encoding_rs::GB18030
    } else {
        guess
    }
}

/// Opens `path`: checks it, copies it into the raw layer at `raw_path` (if given), undoes
/// gzip, zstd or a one-file ZIP, and decodes it to UTF-8 (`encoding` forced, or detected).
pub fn open(
    path: &Path,
    raw_path: Option<PathBuf>,
    encoding: Option<&'static Encoding>,
) -> Result<Input, IngestError> {
    let file = File::open(path).map_err(|e| IngestError::open(path, e))?;
    let meta = file.metadata().map_err(|e| IngestError::open(path, e))?;
    if meta.is_dir() {
        return Err(IngestError::open(
            path,
            std::io::Error::other("is a folder, not a file"),
        ));
    }
    if meta.len() == 0 {
        return Err(IngestError::Empty {
            path: path.display().to_string(),
        });
    }
    let mut magic = [0u8; 4];
    let got = {
        let mut f = &file;
        f.read(&mut magic).map_err(|e| IngestError::open(path, e))?
    };
    let gz = got >= 2 && magic[..2] == [0x1f, 0x8b];
    let zst = got == 4 && magic == [0x28, 0xb5, 0x2f, 0xfd];
    let mut file = file;
    let zip = if got == 4 && magic == super::zip::MAGIC {
        Some(
            super::zip::member(&mut file)
                .map_err(|e| IngestError::read(&path.display().to_string(), e))?,
        )
    } else {
        None
    };
    let start = zip.as_ref().map_or(0, |m| m.data_start);
    (&file)
        .seek(SeekFrom::Start(start))
        .map_err(|e| IngestError::open(path, e))?;
    let bytes_read = Arc::new(AtomicU64::new(0));
    let raw_copy = raw_path.map(|p| RawCopy::start(path, p));
    let counted = Counted {
        inner: file,
        read: bytes_read.clone(),
    };
    let decompressed: Box<dyn Read + Send> = if let Some(member) = &zip {
        super::zip::reader(member, counted)
    } else if gz {
        Box::new(GzErrors {
            inner: flate2::read::MultiGzDecoder::new(BufReader::with_capacity(1 << 20, counted)),
        })
    } else if zst {
        Box::new(zstd::Decoder::new(counted).map_err(|e| IngestError::open(path, e))?)
    } else {
        Box::new(counted)
    };
    let (head, prefixed) = peek(decompressed, 64 * 1024)
        .map_err(|e| IngestError::read(&path.display().to_string(), e))?;
    let enc = encoding.unwrap_or_else(|| detect_encoding(&head));
    let (reader, head): (Box<dyn Read + Send>, Vec<u8>) = if enc == encoding_rs::UTF_8 {
        let skip = if head.starts_with(b"\xEF\xBB\xBF") {
            3
        } else {
            0
        };
        let mut r = prefixed;
        if skip > 0 {
            let mut bom = [0u8; 3];
            r.read_exact(&mut bom)
                .map_err(|e| IngestError::read(&path.display().to_string(), e))?;
        }
        (Box::new(r), head[skip..].to_vec())
    } else {
        let decoded_head = enc
            .decode_with_bom_removal(&head)
            .0
            .into_owned()
            .into_bytes();
        let r = encoding_rs_io::DecodeReaderBytesBuilder::new()
            .encoding(Some(enc))
            .bom_override(true)
            .build(prefixed);
        (Box::new(r), decoded_head)
    };
    Ok(Input {
        reader,
        encoding: enc.name(),
        bytes_read,
        head,
        raw_copy,
    })
}

/// Gives gzip errors a message a person can act on.
struct GzErrors<R> {
    inner: R,
}

impl<R: Read> Read for GzErrors<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.inner.read(buf).map_err(|e| {
            if e.kind() == std::io::ErrorKind::UnexpectedEof {
                std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    "the gzip stream is truncated (the download was cut short? fetch the file again)",
                )
            } else {
                std::io::Error::new(e.kind(), format!("not a valid gzip stream: {e}"))
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_direct_copy_is_byte_for_byte() {
        let dir = tempfile::tempdir().unwrap();
        // Sizes around the 4 KiB alignment and the 8 MiB chunk, and an empty file.
        for len in [
            0usize,
            1,
            4095,
            4096,
            4097,
            (8 << 20) - 1,
            8 << 20,
            (8 << 20) + 12_345,
            (16 << 20) + 4103,
        ] {
            let data: Vec<u8> = (0..len).map(|i| (i * 31 % 251) as u8).collect();
            let (from, to) = (dir.path().join("in.csv"), dir.path().join("out.csv"));
            std::fs::write(&from, &data).unwrap();
            std::fs::write(&to, b"an older, longer file that must be replaced entirely").unwrap();
            assert_eq!(copy_direct(&from, &to).unwrap(), len as u64);
            assert!(
                std::fs::read(&to).unwrap() == data,
                "copy of {len} bytes differs"
            );
        }
    }
}
