//! The LIBSVM text parser: the text is cut into chunks of whole lines, the chunks
//! are parsed in parallel, and their rows joined in order. The result, and the
//! first error with its line number, are those of a line-by-line parse, whatever
//! the chunking or the thread count: each chunk numbers its lines from 1 and
//! notes the first three distinct labels it sees; the join walks the chunks in
//! order, adding line offsets and checking the label set across chunks.

use std::path::Path;

use rayon::prelude::*;

use super::memory;
use crate::error::{MastError, Result};

/// Rows parsed from LIBSVM text.
#[derive(Debug, Default)]
pub(crate) struct ParsedText {
    pub raw_labels: Vec<f64>,
    pub lines: Vec<usize>,
    pub max_index: usize,
    pub indptr: Vec<usize>,
    pub indices: Vec<u32>,
    pub values: Vec<f64>,
}

/// What stopped a chunk, at a line counted from the chunk's start.
#[derive(Debug)]
enum ChunkError {
    /// A malformed line (the message is the line-by-line parser's).
    Message(String),
    /// A feature index that makes d too large for memory.
    TooWide(u64),
}

/// One chunk's rows, with line numbers counted from 1 at the chunk's start.
#[derive(Debug, Default)]
struct Chunk {
    labels: Vec<f64>,
    lines: Vec<usize>,
    /// Each row's end in `indices` (so `indptr` without its leading 0).
    row_ends: Vec<usize>,
    indices: Vec<u32>,
    values: Vec<f64>,
    max_index: usize,
    /// Lines in the chunk (valid when it parsed to the end).
    n_lines: usize,
    /// The first (up to three) distinct labels: value, line, token as written.
    first_labels: Vec<(f64, usize, String)>,
    error: Option<(usize, ChunkError)>,
}

/// The chunk size used by [`parse_text`]: about eight chunks a thread, within
/// [256 KiB, 16 MiB].
fn default_chunk_bytes(len: usize) -> usize {
    (len / (8 * rayon::current_num_threads().max(1))).clamp(256 << 10, 16 << 20)
}

/// Parses LIBSVM text; `path` names the file in errors.
pub(crate) fn parse_text(text: &[u8], path: &Path) -> Result<ParsedText> {
    parse_text_chunked(text, path, default_chunk_bytes(text.len()))
}

/// Parses LIBSVM text cut into chunks of about `chunk_bytes` (at least one line each).
pub(crate) fn parse_text_chunked(
    text: &[u8],
    path: &Path,
    chunk_bytes: usize,
) -> Result<ParsedText> {
    let max_dim = memory::max_dimension();
    let pieces = split_lines(text, chunk_bytes.max(1));
    let chunks: Vec<Chunk> = pieces
        .par_iter()
        .map(|piece| parse_chunk(piece, max_dim))
        .collect();
    join(chunks, path)
}

/// Cuts `text` after a newline at about every `chunk_bytes`.
fn split_lines(text: &[u8], chunk_bytes: usize) -> Vec<&[u8]> {
    let mut pieces = Vec::new();
    let mut start = 0;
    while start < text.len() {
        let target = start.saturating_add(chunk_bytes);
        let end = if target >= text.len() {
            text.len()
        } else {
            match memchr::memchr(b'\n', &text[target..]) {
                Some(k) => target + k + 1,
                None => text.len(),
            }
        };
        pieces.push(&text[start..end]);
        start = end;
    }
    pieces
}

/// Parses a feature index: a fast path for plain digits, else `str::parse`.
#[inline]
fn parse_index(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if !b.is_empty() && b.len() <= 18 && b.iter().all(u8::is_ascii_digit) {
        Some(b.iter().fold(0i64, |acc, &c| acc * 10 + (c - b'0') as i64))
    } else {
        s.parse().ok()
    }
}

fn parse_chunk(text: &[u8], max_dim: u64) -> Chunk {
    let mut out = Chunk::default();
    let mut pos = 0;
    let mut lineno = 0;
    while pos < text.len() {
        let end = memchr::memchr(b'\n', &text[pos..]).map_or(text.len(), |k| pos + k);
        let raw = &text[pos..end];
        pos = end + 1;
        lineno += 1;
        if let Err(e) = parse_line(raw, lineno, max_dim, &mut out) {
            out.error = Some((lineno, e));
            return out;
        }
    }
    out.n_lines = lineno;
    out
}

/// Parses one line (without its newline) into `out`; the checks and messages are
/// those of the line-by-line parser, in the same order.
#[inline]
fn parse_line(
    raw: &[u8],
    lineno: usize,
    max_dim: u64,
    out: &mut Chunk,
) -> std::result::Result<(), ChunkError> {
    let msg = |m: String| ChunkError::Message(m);
    let line = std::str::from_utf8(raw).map_err(|_| {
        msg("not valid text (UTF-8): stream did not contain valid UTF-8".to_string())
    })?;
    let content = match memchr::memchr(b'#', raw) {
        Some(p) => &line[..p],
        None => line,
    };
    let mut tokens = content.split_ascii_whitespace();
    let Some(label_tok) = tokens.next() else {
        return Ok(()); // blank or comment-only line
    };
    let label: f64 = label_tok
        .parse()
        .map_err(|_| msg(format!("label '{label_tok}' is not a number")))?;
    if !label.is_finite() {
        return Err(msg(format!("label '{label_tok}' is not finite")));
    }
    if out.first_labels.len() < 3 && !out.first_labels.iter().any(|(l, _, _)| *l == label) {
        out.first_labels
            .push((label, lineno, label_tok.to_string()));
    }
    let mut prev: usize = 0;
    for tok in tokens {
        let (idx_s, val_s) = tok
            .split_once(':')
            .ok_or_else(|| msg(format!("'{tok}' is not of the form index:value")))?;
        let idx: i64 = parse_index(idx_s)
            .ok_or_else(|| msg(format!("feature index '{idx_s}' is not an integer")))?;
        if idx < 1 {
            return Err(msg(format!(
                "feature index {idx} is below 1 (indices are 1-based)"
            )));
        }
        if idx > u32::MAX as i64 {
            return Err(msg(format!("feature index {idx} is too large")));
        }
        let idx = idx as usize;
        if idx <= prev {
            return Err(msg(format!(
                "feature indices must be strictly increasing: {idx} comes after {prev}"
            )));
        }
        let val: f64 = val_s
            .parse()
            .map_err(|_| msg(format!("value '{val_s}' of feature {idx} is not a number")))?;
        if !val.is_finite() {
            return Err(msg(format!(
                "value '{val_s}' of feature {idx} is not finite"
            )));
        }
        if idx as u64 > max_dim {
            return Err(ChunkError::TooWide(idx as u64));
        }
        prev = idx;
        if val != 0.0 {
            out.indices.push((idx - 1) as u32);
            out.values.push(val);
        }
    }
    out.max_index = out.max_index.max(prev);
    out.labels.push(label);
    out.lines.push(lineno);
    out.row_ends.push(out.indices.len());
    Ok(())
}

/// Joins the chunks in order, or returns the error a line-by-line parse meets first.
fn join(chunks: Vec<Chunk>, path: &Path) -> Result<ParsedText> {
    let parse_err = |line: usize, message: String| MastError::Parse {
        path: path.to_path_buf(),
        line,
        message,
    };
    // Distinct labels seen so far, with the first line of each.
    let mut label_set: Vec<(f64, usize)> = Vec::new();
    let mut line_offsets = Vec::with_capacity(chunks.len());
    let mut line_offset = 0;
    for chunk in &chunks {
        line_offsets.push(line_offset);
        for (label, line, tok) in &chunk.first_labels {
            if label_set.iter().any(|(l, _)| l == label) {
                continue;
            }
            let line = line_offset + line;
            if label_set.len() == 2 {
                return Err(parse_err(
                    line,
                    format!(
                        "a third distinct label '{tok}': binary classification needs exactly two \
                         (already seen {} on line {} and {} on line {})",
                        label_set[0].0, label_set[0].1, label_set[1].0, label_set[1].1
                    ),
                ));
            }
            label_set.push((*label, line));
        }
        match &chunk.error {
            Some((line, ChunkError::Message(m))) => {
                return Err(parse_err(line_offset + line, m.clone()))
            }
            Some((line, ChunkError::TooWide(idx))) => {
                let place = format!("{}:{}: ", path.display(), line_offset + line);
                return Err(memory::dimension_error(
                    &place,
                    &format!("feature index {idx}"),
                    *idx,
                ));
            }
            None => {}
        }
        line_offset += chunk.n_lines;
    }
    let n_rows: usize = chunks.iter().map(|c| c.labels.len()).sum();
    if n_rows == 0 {
        return Err(MastError::Data {
            path: path.to_path_buf(),
            message: "no data rows (the file is empty or holds only comments)".into(),
        });
    }
    let nnz: usize = chunks.iter().map(|c| c.indices.len()).sum();
    // Each chunk's place in the joined arrays.
    let mut row_starts = Vec::with_capacity(chunks.len());
    let mut nnz_starts = Vec::with_capacity(chunks.len());
    let (mut r, mut z) = (0, 0);
    for c in &chunks {
        row_starts.push(r);
        nnz_starts.push(z);
        r += c.labels.len();
        z += c.indices.len();
    }
    let mut out = ParsedText {
        raw_labels: vec![0.0; n_rows],
        lines: vec![0; n_rows],
        max_index: chunks.iter().map(|c| c.max_index).max().unwrap_or(0),
        indptr: vec![0; n_rows + 1],
        indices: vec![0; nnz],
        values: vec![0.0; nnz],
    };
    let row_lens: Vec<usize> = chunks.iter().map(|c| c.labels.len()).collect();
    let nnz_lens: Vec<usize> = chunks.iter().map(|c| c.indices.len()).collect();
    let labels = cut_mut(&mut out.raw_labels, &row_lens);
    let lines = cut_mut(&mut out.lines, &row_lens);
    let indptr = cut_mut(&mut out.indptr[1..], &row_lens);
    let indices = cut_mut(&mut out.indices, &nnz_lens);
    let values = cut_mut(&mut out.values, &nnz_lens);
    chunks
        .into_par_iter()
        .zip(labels)
        .zip(lines)
        .zip(indptr)
        .zip(indices)
        .zip(values)
        .zip(line_offsets)
        .zip(nnz_starts)
        .for_each(
            |(((((((chunk, labels), lines), indptr), indices), values), line_off), nnz_start)| {
                labels.copy_from_slice(&chunk.labels);
                for (dst, &l) in lines.iter_mut().zip(&chunk.lines) {
                    *dst = line_off + l;
                }
                for (dst, &e) in indptr.iter_mut().zip(&chunk.row_ends) {
                    *dst = nnz_start + e;
                }
                indices.copy_from_slice(&chunk.indices);
                values.copy_from_slice(&chunk.values);
            },
        );
    Ok(out)
}

/// Cuts `data` into consecutive mutable pieces of the given lengths.
fn cut_mut<'a, T>(mut data: &'a mut [T], lens: &[usize]) -> Vec<&'a mut [T]> {
    let mut pieces = Vec::with_capacity(lens.len());
    for &len in lens {
        let (head, tail) = std::mem::take(&mut data).split_at_mut(len);
        pieces.push(head);
        data = tail;
    }
    pieces
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_lines_cuts_after_newlines_and_covers_the_text() {
        let text = b"1 1:1\n-1 2:1\n\n1 3:1";
        for size in 1..=text.len() + 1 {
            let pieces = split_lines(text, size);
            assert_eq!(pieces.concat(), text.to_vec(), "size {size}");
            for p in &pieces[..pieces.len() - 1] {
                assert_eq!(p.last(), Some(&b'\n'), "size {size}");
            }
        }
        assert!(split_lines(b"", 4).is_empty());
    }

    #[test]
    fn index_fast_path_agrees_with_str_parse() {
        for s in [
            "1",
            "007",
            "4294967296",
            "123456789012345678",
            "+3",
            "-2",
            "",
            "1.5",
            "x",
        ] {
            assert_eq!(parse_index(s), s.parse::<i64>().ok(), "{s:?}");
        }
    }
}
