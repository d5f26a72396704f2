//! ZIP archives of one file, as CFPB publishes its whole database (`complaints.csv.zip`,
//! `complaints.json.zip`): the member is found through the archive's central directory and
//! inflated as it is read, never unpacked to disk.
//!
//! Only what such downloads use is read: one file (folders and macOS's `__MACOSX/` copies
//! aside), stored or deflated, with ZIP64 sizes and offsets for members past 4 GB.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};

/// The local file header's signature, the first bytes of every ZIP archive.
pub const MAGIC: [u8; 4] = *b"PK\x03\x04";
const END: &[u8; 4] = b"PK\x05\x06";
const END64_LOCATOR: &[u8; 4] = b"PK\x06\x07";
const END64: &[u8; 4] = b"PK\x06\x06";
const CENTRAL: &[u8; 4] = b"PK\x01\x02";

/// The one member of an archive: where its data starts, how it is compressed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// Its name in the archive.
    pub name: String,
    /// Offset of its data (past the local header).
    pub data_start: u64,
    /// Compressed size in bytes.
    pub compressed: u64,
    /// 0 stored, 8 deflated.
    pub method: u16,
}

fn u16_at(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().expect("4 bytes"))
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().expect("8 bytes"))
}

fn read_at(file: &mut File, at: u64, len: usize) -> std::io::Result<Vec<u8>> {
    let mut buf = vec![0; len];
    file.seek(SeekFrom::Start(at))?;
    file.read_exact(&mut buf)?;
    Ok(buf)
}

fn bad(msg: impl Into<String>) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, msg.into())
}

/// Finds the archive's one file. An error says what is wrong: no end record (a download
/// cut short), several files (naming them), a compression other than deflate.
pub fn member(file: &mut File) -> std::io::Result<Member> {
    let len = file.metadata()?.len();
    // The end record is the last 22 bytes, followed by a comment of up to 64 KB.
    let tail_len = len.min(22 + 65_535);
    let tail = read_at(file, len - tail_len, tail_len as usize)?;
    let end = tail
        .windows(4)
        .rposition(|w| w == END)
        .filter(|&p| p + 22 <= tail.len())
        .ok_or_else(|| {
            bad("a ZIP archive without its end record (the download was cut short? fetch it again)")
        })?;
    let (mut entries, mut dir_len, mut dir_at) = (
        u64::from(u16_at(&tail, end + 10)),
        u64::from(u32_at(&tail, end + 12)),
        u64::from(u32_at(&tail, end + 16)),
    );
    if end >= 20 && &tail[end - 20..end - 16] == END64_LOCATOR {
        let at = u64_at(&tail, end - 20 + 8);
        let rec = read_at(file, at, 56)?;
        if &rec[..4] != END64 {
            return Err(bad("a ZIP64 archive whose end record is damaged"));
        }
        entries = u64_at(&rec, 32);
        dir_len = u64_at(&rec, 40);
        dir_at = u64_at(&rec, 48);
    }
    if dir_at.checked_add(dir_len).is_none_or(|e| e > len) {
        return Err(bad(
            "a ZIP archive whose directory lies past its end (damaged or cut short)",
        ));
    }
    let dir = read_at(file, dir_at, dir_len as usize)?;
    let mut files = Vec::new();
    let mut p = 0;
    for _ in 0..entries {
        if p + 46 > dir.len() || &dir[p..p + 4] != CENTRAL {
            return Err(bad("a ZIP archive whose directory is damaged"));
        }
        let method = u16_at(&dir, p + 10);
        let mut compressed = u64::from(u32_at(&dir, p + 20));
        let uncompressed = u32_at(&dir, p + 24);
        let (n, e, c) = (
            usize::from(u16_at(&dir, p + 28)),
            usize::from(u16_at(&dir, p + 30)),
            usize::from(u16_at(&dir, p + 32)),
        );
        let mut local = u64::from(u32_at(&dir, p + 42));
        if p + 46 + n + e > dir.len() {
            return Err(bad("a ZIP archive whose directory is damaged"));
        }
        let name = String::from_utf8_lossy(&dir[p + 46..p + 46 + n]).into_owned();
        // ZIP64: the sizes and offset that do not fit in 32 bits are in extra field 1, in
        // this order, only those that are 0xFFFFFFFF here.
        let mut extra = &dir[p + 46 + n..p + 46 + n + e];
        while extra.len() >= 4 {
            let (id, size) = (u16_at(extra, 0), usize::from(u16_at(extra, 2)));
            let body = &extra[4..(4 + size).min(extra.len())];
            if id == 1 {
                let mut values = body.chunks_exact(8).map(|c| u64_at(c, 0));
                if uncompressed == u32::MAX {
                    values.next();
                }
                if compressed == u64::from(u32::MAX) {
                    compressed = values.next().unwrap_or(compressed);
                }
                if local == u64::from(u32::MAX) {
                    local = values.next().unwrap_or(local);
                }
            }
            extra = &extra[(4 + size).min(extra.len())..];
        }
        p += 46 + n + e + c;
        if !name.ends_with('/') && !name.starts_with("__MACOSX/") {
            files.push((name, method, compressed, local));
        }
    }
    let (name, method, compressed, local) = match files.len() {
        1 => files.remove(0),
        0 => return Err(bad("a ZIP archive with no file in it")),
        _ => {
            let names: Vec<&str> = files.iter().map(|f| f.0.as_str()).collect();
            return Err(bad(format!(
                "a ZIP archive of {} files ({}): unzip it and ingest each",
                names.len(),
                names.join(", ")
            )));
        }
    };
    let header = read_at(file, local, 30)?;
    if header[..4] != MAGIC {
        return Err(bad(format!(
            "{name} in the ZIP archive: its header is damaged"
        )));
    }
    let skip = 30 + u64::from(u16_at(&header, 26)) + u64::from(u16_at(&header, 28));
    if method != 0 && method != 8 {
        return Err(bad(format!(
            "{name} in the ZIP archive is compressed with method {method}, which walletwatch does not read (it reads stored and deflated files): unzip it first"
        )));
    }
    Ok(Member {
        name,
        data_start: local + skip,
        compressed,
        method,
    })
}

/// `input` (positioned at the member's data) as the member's bytes.
pub fn reader<R: Read + Send + 'static>(member: &Member, input: R) -> Box<dyn Read + Send> {
    if member.method == 8 {
        Box::new(flate2::read::DeflateDecoder::new(
            std::io::BufReader::with_capacity(1 << 20, input),
        ))
    } else {
        Box::new(input.take(member.compressed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    /// A minimal archive of `files` (name, data), each stored, with a local header, a
    /// central directory and an end record.
    fn stored_zip(files: &[(&str, &[u8])]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut dir = Vec::new();
        for (name, data) in files {
            let at = out.len() as u32;
            let size = data.len() as u32;
            out.extend_from_slice(&MAGIC);
            out.extend_from_slice(&[20, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
            out.extend_from_slice(&0u32.to_le_bytes()); // crc (not checked)
            out.extend_from_slice(&size.to_le_bytes());
            out.extend_from_slice(&size.to_le_bytes());
            out.extend_from_slice(&(name.len() as u16).to_le_bytes());
            out.extend_from_slice(&0u16.to_le_bytes());
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(data);
            dir.extend_from_slice(CENTRAL);
            dir.extend_from_slice(&[20, 0, 20, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
            dir.extend_from_slice(&0u32.to_le_bytes());
            dir.extend_from_slice(&size.to_le_bytes());
            dir.extend_from_slice(&size.to_le_bytes());
            dir.extend_from_slice(&(name.len() as u16).to_le_bytes());
            dir.extend_from_slice(&[0; 12]);
            dir.extend_from_slice(&at.to_le_bytes());
            dir.extend_from_slice(name.as_bytes());
        }
        let dir_at = out.len() as u32;
        out.extend_from_slice(&dir);
        out.extend_from_slice(END);
        out.extend_from_slice(&[0; 4]);
        out.extend_from_slice(&(files.len() as u16).to_le_bytes());
        out.extend_from_slice(&(files.len() as u16).to_le_bytes());
        out.extend_from_slice(&(dir.len() as u32).to_le_bytes());
        out.extend_from_slice(&dir_at.to_le_bytes());
        out.extend_from_slice(&0u16.to_le_bytes());
        out
    }

    fn open(bytes: &[u8]) -> (tempfile::TempDir, File) {
        let d = tempfile::tempdir().expect("tempdir");
        let p = d.path().join("a.zip");
        std::fs::File::create(&p)
            .and_then(|mut f| f.write_all(bytes))
            .expect("write");
        (d, File::open(p).expect("open"))
    }

    #[test]
    fn the_one_file_is_found_past_folders_and_macos_copies() {
        let body = b"id,text\n1,my transfer failed\n";
        let zip = stored_zip(&[
            ("data/", b""),
            ("__MACOSX/._complaints.csv", b"junk"),
            ("data/complaints.csv", body),
        ]);
        let (_d, mut f) = open(&zip);
        let m = member(&mut f).expect("member");
        assert_eq!(m.name, "data/complaints.csv");
        f.seek(SeekFrom::Start(m.data_start)).expect("seek");
        let mut got = Vec::new();
        reader(&m, f).read_to_end(&mut got).expect("read");
        assert_eq!(got, body);
    }

    #[test]
    fn several_files_a_cut_archive_and_an_empty_one_are_errors_saying_so() {
        let two = stored_zip(&[("a.csv", b"x"), ("b.csv", b"y")]);
        let (_d, mut f) = open(&two);
        let e = member(&mut f).expect_err("two files").to_string();
        assert!(e.contains("2 files (a.csv, b.csv)"), "{e}");
        let (_d, mut f) = open(&two[..two.len() - 10]);
        let e = member(&mut f).expect_err("cut").to_string();
        assert!(e.contains("cut short"), "{e}");
        let (_d, mut f) = open(&stored_zip(&[("only/", b"")]));
        let e = member(&mut f).expect_err("empty").to_string();
        assert!(e.contains("no file"), "{e}");
    }
}
