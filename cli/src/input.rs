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

#[cfg(test)]
mod tests {
    use super::*;

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
