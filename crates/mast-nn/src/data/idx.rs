//! IDX files (the MNIST / Fashion-MNIST format), plain or gzipped.
//!
//! Layout: a big-endian u32 magic (2051 for images, 2049 for labels), then one
//! big-endian u32 per dimension (n, rows, cols for images; n for labels), then
//! the raw u8 data. Wrong magic numbers, truncated files, trailing bytes and
//! label/image count mismatches are reported with the file named.

use std::io::Read;
use std::path::Path;

use crate::error::{NnError, Result};

/// Magic number of an IDX file of u8 images (3 dimensions).
pub const IMAGES_MAGIC: u32 = 2051;
/// Magic number of an IDX file of u8 labels (1 dimension).
pub const LABELS_MAGIC: u32 = 2049;

/// Images read from an IDX file: `n` images of `rows × cols` u8 pixels, row-major.
#[derive(Debug, Clone, PartialEq)]
pub struct IdxImages {
    /// Number of images.
    pub n: usize,
    /// Rows per image.
    pub rows: usize,
    /// Columns per image.
    pub cols: usize,
    /// `n · rows · cols` pixels.
    pub pixels: Vec<u8>,
}

/// Reads a whole file, decompressing gzip (detected by its magic bytes).
pub fn read_maybe_gz(path: &Path) -> Result<Vec<u8>> {
    let raw = std::fs::read(path).map_err(|e| NnError::io(path, "cannot read", e))?;
    if raw.len() >= 2 && raw[0] == 0x1f && raw[1] == 0x8b {
        let mut out = Vec::with_capacity(raw.len() * 4);
        flate2::read::MultiGzDecoder::new(&raw[..])
            .read_to_end(&mut out)
            .map_err(|e| NnError::data(path, format!("corrupt gzip stream: {e}")))?;
        Ok(out)
    } else {
        Ok(raw)
    }
}

fn be_u32(bytes: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]])
}

/// Checks the header (magic and dimension count) and returns the dimensions.
fn header(bytes: &[u8], path: &Path, magic: u32, what: &str, ndims: usize) -> Result<Vec<usize>> {
    let head = 4 + 4 * ndims;
    if bytes.len() < 4 {
        return Err(NnError::data(
            path,
            format!(
                "truncated IDX file: {} bytes, not even a magic number",
                bytes.len()
            ),
        ));
    }
    let found = be_u32(bytes, 0);
    if found != magic {
        let hint = match found {
            IMAGES_MAGIC => " (this is an image file)",
            LABELS_MAGIC => " (this is a label file)",
            _ => "",
        };
        return Err(NnError::data(
            path,
            format!("wrong magic number {found} for IDX {what}: expected {magic}{hint}"),
        ));
    }
    if bytes.len() < head {
        return Err(NnError::data(
            path,
            format!("truncated IDX header: {} bytes, need {head}", bytes.len()),
        ));
    }
    Ok((0..ndims)
        .map(|k| be_u32(bytes, 4 + 4 * k) as usize)
        .collect())
}

fn check_len(bytes: &[u8], path: &Path, head: usize, expected: usize, what: &str) -> Result<()> {
    let have = bytes.len() - head;
    if have < expected {
        return Err(NnError::data(
            path,
            format!("truncated IDX {what}: the header promises {expected} data bytes, the file has {have}"),
        ));
    }
    if have > expected {
        return Err(NnError::data(
            path,
            format!(
                "IDX {what}: {} bytes after the {expected} data bytes the header promises",
                have - expected
            ),
        ));
    }
    Ok(())
}

/// Parses IDX image bytes (already decompressed); `path` names the file in errors.
pub fn parse_images(bytes: &[u8], path: &Path) -> Result<IdxImages> {
    let dims = header(bytes, path, IMAGES_MAGIC, "images", 3)?;
    let (n, rows, cols) = (dims[0], dims[1], dims[2]);
    if rows == 0 || cols == 0 {
        return Err(NnError::data(
            path,
            format!("IDX images of size {rows}×{cols}"),
        ));
    }
    let expected = n
        .checked_mul(rows)
        .and_then(|v| v.checked_mul(cols))
        .ok_or_else(|| NnError::data(path, "IDX image dimensions overflow"))?;
    check_len(bytes, path, 16, expected, "images")?;
    Ok(IdxImages {
        n,
        rows,
        cols,
        pixels: bytes[16..].to_vec(),
    })
}

/// Parses IDX label bytes (already decompressed).
pub fn parse_labels(bytes: &[u8], path: &Path) -> Result<Vec<u8>> {
    let dims = header(bytes, path, LABELS_MAGIC, "labels", 1)?;
    check_len(bytes, path, 8, dims[0], "labels")?;
    Ok(bytes[8..].to_vec())
}

/// Reads an IDX image file (plain or gzipped).
pub fn read_images(path: &Path) -> Result<IdxImages> {
    parse_images(&read_maybe_gz(path)?, path)
}

/// Reads an IDX label file (plain or gzipped).
pub fn read_labels(path: &Path) -> Result<Vec<u8>> {
    parse_labels(&read_maybe_gz(path)?, path)
}

/// Reads a matching pair of image and label files and checks that the counts agree.
pub fn read_pair(images: &Path, labels: &Path) -> Result<(IdxImages, Vec<u8>)> {
    let im = read_images(images)?;
    let lb = read_labels(labels)?;
    if im.n != lb.len() {
        return Err(NnError::data(
            labels,
            format!(
                "label/image count mismatch: {} labels for the {} images of {}",
                lb.len(),
                im.n,
                images.display()
            ),
        ));
    }
    Ok((im, lb))
}
