//! Input lines, read with a bound. One line of a log or webhook file is held in memory at a
//! time, so a file without line breaks (a binary file, `/dev/zero`) must be refused when its
//! line grows past a limit, not read whole until the allocator aborts the process.

use std::io::{self, BufRead, Read};

/// The longest input line accepted, in bytes: without its `\n`, with the `\r` of a `\r\n`
/// (which the replay strips after). A Meta webhook payload is
/// at most 3 MB (platform facts §8.2) and a wire-format event far shorter, so
/// this leaves room for both without letting one line take the machine's memory.
pub const MAX_LINE_BYTES: usize = 16 << 20;

/// What [`read_line`] found.
#[derive(Debug, PartialEq, Eq)]
pub enum Line {
    /// A line, without its `\n`, is in the buffer.
    Read,
    /// The line is longer than the limit; the buffer holds its first `limit + 1` bytes and
    /// the rest is still unread (see [`skip_rest_of_line`]).
    TooLong,
    /// The input has ended.
    End,
}

/// Reads the next line into `buf` (cleared first), holding at most `limit + 1` bytes of it.
pub fn read_line(input: &mut dyn BufRead, buf: &mut Vec<u8>, limit: usize) -> io::Result<Line> {
    buf.clear();
    let read = input.take(limit as u64 + 1).read_until(b'\n', buf)?;
    if read == 0 {
        return Ok(Line::End);
    }
    if buf.last() == Some(&b'\n') {
        buf.pop();
        return Ok(Line::Read);
    }
    if buf.len() > limit {
        return Ok(Line::TooLong);
    }
    Ok(Line::Read) // the last line, without a line break
}

/// Drops the rest of a line [`read_line`] found too long, up to and including its `\n`,
/// without holding it.
pub fn skip_rest_of_line(input: &mut dyn BufRead) -> io::Result<()> {
    loop {
        let available = input.fill_buf()?;
        if available.is_empty() {
            return Ok(());
        }
        match available.iter().position(|&b| b == b'\n') {
            Some(end) => {
                input.consume(end + 1);
                return Ok(());
            }
            None => {
                let len = available.len();
                input.consume(len);
            }
        }
    }
}

/// What a malformed line's bytes say about the input's encoding, for its message; `first`:
/// whether it is the input's first line. A file saved as UTF-16 (as Windows PowerShell 5's
/// `>` writes one) failed with "invalid utf-8 sequence of 1 bytes from index 0", or, without
/// a byte-order mark, with "key must be a string at line 1 column 2"; a compressed log with
/// "invalid utf-8 sequence": neither named the encoding or the way out. Only malformed lines
/// are looked at, so lines that decode pay nothing.
pub fn encoding_hint(line: &[u8], first: bool) -> Option<&'static str> {
    const COMPRESSED: [(&[u8], &str); 4] = [
        (
            b"\x1F\x8B",
            "the input is gzip-compressed: decompress it first (`zcat FILE | convstate replay -`)",
        ),
        (
            b"\x28\xB5\x2F\xFD",
            "the input is zstd-compressed: decompress it first (`zstdcat FILE | convstate replay -`)",
        ),
        (
            b"\xFD7zXZ\0",
            "the input is xz-compressed: decompress it first (`xzcat FILE | convstate replay -`)",
        ),
        (
            b"BZh",
            "the input is bzip2-compressed: decompress it first (`bzcat FILE | convstate replay -`)",
        ),
    ];
    if first {
        // bzip2's magic is text ("BZh"), so its block size digit (1 to 9) must follow.
        let bzip2_level =
            |magic: &[u8]| magic != b"BZh" || matches!(line.get(3), Some(b'1'..=b'9'));
        if let Some((_, hint)) =
            (COMPRESSED.iter()).find(|(magic, _)| line.starts_with(magic) && bzip2_level(magic))
        {
            return Some(hint);
        }
    }
    if line.starts_with(b"\xFF\xFE") || line.starts_with(b"\xFE\xFF") {
        return Some(
            "the line starts with a UTF-16 byte-order mark: the input is UTF-16 text, and the \
             replay reads UTF-8; convert it to UTF-8 first (`iconv -f UTF-16 -t UTF-8`)",
        );
    }
    // UTF-16 text of ASCII JSON is half NUL bytes; JSON holds none (a control character is
    // refused in a string and between values).
    let nul = line.iter().filter(|&&b| b == 0).count();
    (line.len() >= 2 && nul * 5 >= line.len() * 2).then_some(
        "the line is mostly NUL bytes, as UTF-16 text is (JSON holds none): if the input is \
         UTF-16, convert it to UTF-8 first (`iconv -f UTF-16 -t UTF-8`)",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utf16_and_compressed_inputs_are_named() {
        let utf16 = |line: &[u8], first| encoding_hint(line, first).unwrap_or_default();
        assert!(utf16(b"\xFF\xFE{\0", true).contains("UTF-16 byte-order mark"));
        assert!(utf16(b"\xFE\xFF\0{", false).contains("UTF-16 byte-order mark"));
        assert!(utf16(b"{\0\"\0t\0", true).contains("mostly NUL bytes"));
        assert!(utf16(b"\0\"\0t\0", false).contains("mostly NUL bytes"));
        assert!(utf16(b"\x1F\x8B\x08\0\0\0\0\0", true).contains("gzip"));
        assert!(utf16(b"\x28\xB5\x2F\xFD\0", true).contains("zstd"));
        assert!(utf16(b"BZh91AY&SY", true).contains("bzip2"));
        assert_eq!(encoding_hint(b"BZhello", true), None, "text, not bzip2");
        // A compressor's magic starts only an input, not a later line; the bytes of a
        // compressed stream are not mostly NUL.
        assert_eq!(encoding_hint(b"\x1F\x8Bxyzxyzxyz", false), None);
        assert_eq!(
            encoding_hint(b"\x1F\x8B\x08\0\x99\x41\x42\x43", false),
            None
        );
        assert_eq!(encoding_hint(b"{\"type\":\"tick\"}", true), None);
        assert_eq!(encoding_hint(b"\xFFx", true), None);
    }

    fn lines(text: &[u8], limit: usize) -> Vec<(Line, Vec<u8>)> {
        let mut input = io::BufReader::with_capacity(4, text);
        let mut out = Vec::new();
        let mut buf = Vec::new();
        loop {
            let line = read_line(&mut input, &mut buf, limit).unwrap();
            match line {
                Line::End => return out,
                Line::TooLong => skip_rest_of_line(&mut input).unwrap(),
                Line::Read => {}
            }
            out.push((line, buf.clone()));
        }
    }

    #[test]
    fn lines_up_to_the_limit_are_read_and_longer_ones_are_skipped_whole() {
        let got = lines(b"abc\nabcdefgh\n\nabcd\nxyz", 4);
        assert_eq!(
            got,
            vec![
                (Line::Read, b"abc".to_vec()),
                (Line::TooLong, b"abcde".to_vec()),
                (Line::Read, b"".to_vec()),
                (Line::Read, b"abcd".to_vec()),
                (Line::Read, b"xyz".to_vec()),
            ]
        );
    }

    #[test]
    fn a_too_long_last_line_without_a_break_ends_the_input() {
        let got = lines(b"ok\n0123456789", 4);
        assert_eq!(
            got,
            vec![
                (Line::Read, b"ok".to_vec()),
                (Line::TooLong, b"01234".to_vec())
            ]
        );
    }
}
