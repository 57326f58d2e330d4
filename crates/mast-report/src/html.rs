//! Self-contained HTML reports: title, paragraphs, sections, figures (PNG
//! embedded as a base64 data URI, with a link to the SVG next to it), tables
//! and code blocks, in one file that opens from disk with no other assets.

use std::fmt::Write as _;
use std::path::Path;

use crate::error::{ReportError, Result};
use crate::figure::{check_stem, Figure};
use crate::io::write_atomic;

/// Escapes `&`, `<`, `>`, `"` and `'` for HTML text and attribute values.
///
/// ```
/// assert_eq!(mast_report::html_escape("<script>a & b</script>"),
///            "&lt;script&gt;a &amp; b&lt;/script&gt;");
/// ```
pub fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Standard base64 (RFC 4648 alphabet, `=` padding), as data URIs need.
///
/// ```
/// assert_eq!(mast_report::base64_encode(b"Man"), "TWFu");
/// assert_eq!(mast_report::base64_encode(b"Ma"), "TWE=");
/// assert_eq!(mast_report::base64_encode(b""), "");
/// ```
pub fn base64_encode(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (b[0] as u32) << 16 | (b[1] as u32) << 8 | b[2] as u32;
        for k in 0..4 {
            if k <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * k) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Whether a table cell reads as a number (`0.845`, `-1.2e-3`, `−3`,
/// `12%`, `0.84 ± 0.01`); such columns are right-aligned.
fn looks_numeric(cell: &str) -> bool {
    let s = cell.trim().replace('−', "-");
    let s = s.split(" ± ").next().unwrap_or("").trim();
    let s = s.strip_suffix('%').unwrap_or(s).trim();
    !s.is_empty() && s.parse::<f64>().is_ok()
}

/// Placeholder cells that do not make a column non-numeric.
fn is_placeholder(cell: &str) -> bool {
    matches!(
        cell.trim(),
        "" | "-" | "—" | "–" | "n/a" | "NaN" | "diverged"
    )
}

/// For each of `width` columns: whether all its real cells are numbers.
fn numeric_columns(rows: &[Vec<String>], width: usize) -> Vec<bool> {
    (0..width)
        .map(|c| {
            let mut cells = rows
                .iter()
                .filter_map(|r| r.get(c))
                .filter(|s| !is_placeholder(s));
            let mut any = false;
            let all = cells.all(|s| {
                any = true;
                looks_numeric(s)
            });
            any && all
        })
        .collect()
}

/// A Markdown (GitHub) table. Numeric columns (every non-placeholder cell a
/// number) are right-aligned; `|` in cells is escaped and newlines become
/// spaces. Rows shorter than the widest row (or the header) are padded with
/// empty cells.
///
/// ```
/// let t = mast_report::markdown_table(
///     &["method", "accuracy"],
///     &[vec!["erm".into(), "0.845".into()], vec!["a|b".into(), "0.84".into()]],
/// );
/// assert_eq!(t, "| method | accuracy |\n|---|---:|\n| erm | 0.845 |\n| a\\|b | 0.84 |\n");
/// ```
pub fn markdown_table<H: AsRef<str>>(header: &[H], rows: &[Vec<String>]) -> String {
    let width = rows
        .iter()
        .map(Vec::len)
        .max()
        .unwrap_or(0)
        .max(header.len());
    let numeric = numeric_columns(rows, width);
    let cell = |s: &str| s.replace('|', "\\|").replace(['\n', '\r'], " ");
    let mut out = String::new();
    let line = |cells: Vec<String>| format!("| {} |\n", cells.join(" | "));
    out.push_str(&line(
        (0..width)
            .map(|c| header.get(c).map_or(String::new(), |h| cell(h.as_ref())))
            .collect(),
    ));
    let rule: Vec<&str> = numeric
        .iter()
        .map(|&n| if n { "---:" } else { "---" })
        .collect();
    out.push_str(&format!("|{}|\n", rule.join("|")));
    for row in rows {
        out.push_str(&line(
            (0..width)
                .map(|c| row.get(c).map_or(String::new(), |s| cell(s)))
                .collect(),
        ));
    }
    out
}

#[derive(Debug, Clone, PartialEq)]
enum Block {
    Section(String),
    Paragraph(String),
    Figure {
        png: Vec<u8>,
        svg_href: Option<String>,
        caption: String,
    },
    Table {
        header: Vec<String>,
        rows: Vec<Vec<String>>,
    },
    Code(String),
}

/// A one-file HTML report, built block by block in reading order.
///
/// ```
/// use mast_report::{BarChart, HtmlReport};
/// let dir = std::env::temp_dir().join(format!("mast-report-doc-html-{}", std::process::id()));
/// let fig = BarChart::new("ratio").categories(["a", "b"]).series("s", vec![1.0, 2.0]);
/// let report = HtmlReport::new("Step scaling <draft>")
///     .paragraph("Time per step, relative to dense.")
///     .section("Results")
///     .saved_figure(&fig, &dir, "ratio", "Figure 1: ratios.").unwrap()
///     .table(["method", "ratio"], vec![vec!["mast".into(), "0.5".into()]])
///     .code("cargo bench -p mast");
/// let html = report.render().unwrap();
/// assert!(html.contains("Step scaling &lt;draft&gt;"));
/// assert!(html.contains("data:image/png;base64,"));
/// assert!(html.contains(r#"href="ratio.svg""#));
/// report.write(&dir.join("index.html")).unwrap();
/// # std::fs::remove_dir_all(&dir).unwrap();
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct HtmlReport {
    title: String,
    blocks: Vec<Block>,
}

const PNG_MAGIC: &[u8] = b"\x89PNG\r\n\x1a\n";

impl HtmlReport {
    /// An empty report; `title` is the page title and the top heading.
    pub fn new(title: impl Into<String>) -> Self {
        HtmlReport {
            title: title.into(),
            blocks: Vec::new(),
        }
    }

    /// Starts a section with a heading.
    pub fn section(mut self, heading: impl Into<String>) -> Self {
        self.blocks.push(Block::Section(heading.into()));
        self
    }

    /// Adds a paragraph of plain text (escaped; blank lines split it into
    /// several paragraphs).
    pub fn paragraph(mut self, text: impl Into<String>) -> Self {
        self.blocks.push(Block::Paragraph(text.into()));
        self
    }

    /// Embeds PNG bytes with a caption and, when `svg_href` is given, a link
    /// to the SVG version (a URL relative to where the report is written).
    /// Errors when `png` is not a PNG.
    pub fn figure_png(
        mut self,
        png: Vec<u8>,
        svg_href: Option<String>,
        caption: impl Into<String>,
    ) -> Result<Self> {
        if !png.starts_with(PNG_MAGIC) {
            return Err(ReportError::invalid("figure bytes are not a PNG image"));
        }
        self.blocks.push(Block::Figure {
            png,
            svg_href,
            caption: caption.into(),
        });
        Ok(self)
    }

    /// Embeds the PNG file at `png_path`; if `STEM.svg` exists next to it,
    /// links it by file name (so write the report into the same folder).
    pub fn figure_file(self, png_path: &Path, caption: impl Into<String>) -> Result<Self> {
        let png = std::fs::read(png_path).map_err(|source| ReportError::Io {
            path: png_path.to_path_buf(),
            action: "cannot read",
            source,
        })?;
        let svg = png_path.with_extension("svg");
        let svg_href = svg
            .exists()
            .then(|| svg.file_name().map(|n| n.to_string_lossy().into_owned()))
            .flatten();
        self.figure_png(png, svg_href, caption)
    }

    /// Saves `figure` as `dir/stem.png` and `dir/stem.svg` (see
    /// [`Figure::save`]), embeds the PNG and links `stem.svg`. Write the
    /// report into `dir` for the link to work.
    pub fn saved_figure<F: Figure>(
        self,
        figure: &F,
        dir: &Path,
        stem: &str,
        caption: impl Into<String>,
    ) -> Result<Self> {
        check_stem(stem)?;
        let paths = figure.save(dir, stem)?;
        let png = std::fs::read(&paths[0]).map_err(|source| ReportError::Io {
            path: paths[0].clone(),
            action: "cannot read",
            source,
        })?;
        self.figure_png(png, Some(format!("{stem}.svg")), caption)
    }

    /// Adds a table: a header and rows of cells (rows must be as long as
    /// the header, checked when rendering). Numeric columns are
    /// right-aligned.
    pub fn table<H: Into<String>>(
        mut self,
        header: impl IntoIterator<Item = H>,
        rows: Vec<Vec<String>>,
    ) -> Self {
        self.blocks.push(Block::Table {
            header: header.into_iter().map(Into::into).collect(),
            rows,
        });
        self
    }

    /// Adds a code block, e.g. the commands that reproduce the experiment.
    pub fn code(mut self, code: impl Into<String>) -> Self {
        self.blocks.push(Block::Code(code.into()));
        self
    }

    /// The whole page. Errors on a table whose rows differ in length from
    /// its header.
    pub fn render(&self) -> Result<String> {
        let mut h = String::new();
        let title = html_escape(&self.title);
        h.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
        h.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
        let _ = writeln!(
            h,
            "<title>{title}</title>\n<style>{CSS}</style>\n</head>\n<body>"
        );
        let _ = writeln!(h, "<h1>{title}</h1>");
        let mut figures = 0;
        for (b, block) in self.blocks.iter().enumerate() {
            match block {
                Block::Section(s) => {
                    let _ = writeln!(h, "<h2>{}</h2>", html_escape(s));
                }
                Block::Paragraph(p) => {
                    for part in p.split("\n\n").filter(|s| !s.trim().is_empty()) {
                        let _ = writeln!(h, "<p>{}</p>", html_escape(part.trim()));
                    }
                }
                Block::Figure {
                    png,
                    svg_href,
                    caption,
                } => {
                    figures += 1;
                    let alt = if caption.is_empty() {
                        format!("Figure {figures}")
                    } else {
                        caption.clone()
                    };
                    let _ = write!(
                        h,
                        "<figure>\n<img alt=\"{}\" src=\"data:image/png;base64,{}\">\n<figcaption>{}",
                        html_escape(&alt),
                        base64_encode(png),
                        html_escape(caption)
                    );
                    if let Some(href) = svg_href {
                        let _ = write!(h, " <a href=\"{}\">SVG</a>", html_escape(href));
                    }
                    h.push_str("</figcaption>\n</figure>\n");
                }
                Block::Table { header, rows } => {
                    for (r, row) in rows.iter().enumerate() {
                        if row.len() != header.len() {
                            return Err(ReportError::invalid(format!(
                                "table (block {b}) row {r} has {} cells but the header has {}",
                                row.len(),
                                header.len()
                            )));
                        }
                    }
                    let numeric = numeric_columns(rows, header.len());
                    let class = |c: usize| if numeric[c] { " class=\"num\"" } else { "" };
                    h.push_str("<table>\n<thead><tr>");
                    for (c, cell) in header.iter().enumerate() {
                        let _ = write!(h, "<th{}>{}</th>", class(c), html_escape(cell));
                    }
                    h.push_str("</tr></thead>\n<tbody>\n");
                    for row in rows {
                        h.push_str("<tr>");
                        for (c, cell) in row.iter().enumerate() {
                            let _ = write!(h, "<td{}>{}</td>", class(c), html_escape(cell));
                        }
                        h.push_str("</tr>\n");
                    }
                    h.push_str("</tbody>\n</table>\n");
                }
                Block::Code(code) => {
                    let _ = writeln!(
                        h,
                        "<pre><code>{}</code></pre>",
                        html_escape(code.trim_end())
                    );
                }
            }
        }
        h.push_str("</body>\n</html>\n");
        Ok(h)
    }

    /// Renders and writes the page to `path` atomically (through
    /// `path.tmp`); the parent folder is created if missing.
    pub fn write(&self, path: &Path) -> Result<()> {
        let html = self.render()?;
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            crate::io::ensure_dir(dir)?;
        }
        write_atomic(path, html.as_bytes())
    }
}

const CSS: &str = "
body{font-family:system-ui,-apple-system,'Segoe UI','DejaVu Sans',sans-serif;max-width:1000px;margin:2em auto;padding:0 1em;line-height:1.5;color:#222}
h1{font-size:1.7em;border-bottom:1px solid #ddd;padding-bottom:.3em}
h2{font-size:1.3em;margin-top:1.6em}
figure{margin:1.2em 0}
figure img{max-width:100%;height:auto;border:1px solid #eee}
figcaption{font-size:.92em;color:#555}
table{border-collapse:collapse;margin:1em 0;font-size:.95em}
th,td{border:1px solid #ccc;padding:.3em .7em;text-align:left}
th{background:#f3f3f3}
.num{text-align:right;font-variant-numeric:tabular-nums}
pre{background:#f6f8fa;border:1px solid #e1e4e8;padding:.8em 1em;overflow-x:auto;font-size:.9em}
";
