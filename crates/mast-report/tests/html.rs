//! HTML reports: escaping, embedded figures, tables, atomic writes.

use mast_report::{base64_encode, html_escape, markdown_table, BarChart, Figure, HtmlReport};

/// A test-side base64 decoder (standard alphabet, padded), to check the
/// encoder by round trip.
fn base64_decode(s: &str) -> Vec<u8> {
    let value = |c: u8| -> u32 {
        match c {
            b'A'..=b'Z' => (c - b'A') as u32,
            b'a'..=b'z' => (c - b'a' + 26) as u32,
            b'0'..=b'9' => (c - b'0' + 52) as u32,
            b'+' => 62,
            b'/' => 63,
            _ => panic!("not base64: {}", c as char),
        }
    };
    assert_eq!(s.len() % 4, 0, "base64 length {}", s.len());
    let mut out = Vec::new();
    for chunk in s.as_bytes().chunks(4) {
        let pad = chunk.iter().filter(|&&c| c == b'=').count();
        let n = chunk
            .iter()
            .map(|&c| if c == b'=' { 0 } else { value(c) })
            .fold(0u32, |acc, v| acc << 6 | v);
        let bytes = [(n >> 16) as u8, (n >> 8) as u8, n as u8];
        out.extend_from_slice(&bytes[..3 - pad]);
    }
    out
}

fn temp_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("mast-report-html-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

#[test]
fn base64_round_trips_every_length() {
    let data: Vec<u8> = (0..=255u8).chain((0..=255u8).rev()).collect();
    for n in [0, 1, 2, 3, 4, 5, 100, 511, 512] {
        let enc = base64_encode(&data[..n]);
        assert_eq!(enc.len(), n.div_ceil(3) * 4);
        assert_eq!(base64_decode(&enc), &data[..n], "length {n}");
    }
    assert_eq!(base64_encode(b"foobar"), "Zm9vYmFy");
    assert_eq!(base64_encode(b"fooba"), "Zm9vYmE=");
    assert_eq!(base64_encode(&[0xfb, 0xff]), "+/8=");
}

#[test]
fn everything_is_escaped() {
    let evil = "<script>alert('x')</script> & \"q\"";
    assert_eq!(
        html_escape(evil),
        "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;q&quot;"
    );
    let html = HtmlReport::new(evil)
        .section(evil)
        .paragraph(evil)
        .table([evil], vec![vec![evil.to_string()]])
        .code(evil)
        .figure_png(
            BarChart::new("t")
                .categories(["a"])
                .series("s", vec![1.0])
                .render_png()
                .unwrap(),
            Some(evil.to_string()),
            evil,
        )
        .unwrap()
        .render()
        .unwrap();
    assert!(!html.contains("<script>"), "unescaped script tag");
    assert!(!html.contains("alert('x')"));
    assert_eq!(
        html.matches("&lt;script&gt;").count(),
        10,
        "title ×2, h2, p, th, td, code, alt, caption, href"
    );
    assert!(html
        .contains(r#"href="&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;q&quot;""#));
}

#[test]
fn figures_are_embedded_and_linked() {
    let dir = temp_dir("embed");
    let fig = BarChart::new("ratios")
        .categories(["a", "b"])
        .series("s", vec![1.0, 2.0]);
    let report = HtmlReport::new("report")
        .saved_figure(&fig, &dir, "ratios", "Figure 1")
        .unwrap()
        .figure_file(&dir.join("ratios.png"), "again, from the file")
        .unwrap();
    report.write(&dir.join("index.html")).unwrap();
    let html = std::fs::read_to_string(dir.join("index.html")).unwrap();
    let png = std::fs::read(dir.join("ratios.png")).unwrap();
    let uris: Vec<&str> = html
        .split("data:image/png;base64,")
        .skip(1)
        .map(|rest| &rest[..rest.find('"').unwrap()])
        .collect();
    assert_eq!(uris.len(), 2);
    for uri in uris {
        assert_eq!(
            base64_decode(uri),
            png,
            "embedded PNG differs from the file"
        );
    }
    assert_eq!(html.matches(r#"<a href="ratios.svg">SVG</a>"#).count(), 2);
    // No external assets: nothing but the SVG links points elsewhere.
    assert!(!html.contains("src=\"http") && !html.contains("<link") && !html.contains("<script"));
    let leftovers: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn figure_errors() {
    assert!(HtmlReport::new("r")
        .figure_png(b"GIF89a".to_vec(), None, "x")
        .is_err());
    let missing = std::env::temp_dir().join("mast-report-no-such-file.png");
    let err = HtmlReport::new("r").figure_file(&missing, "x").unwrap_err();
    assert!(
        err.to_string().contains("mast-report-no-such-file.png"),
        "{err}"
    );
}

#[test]
fn tables_align_numbers_and_check_shape() {
    let rows = vec![
        vec![
            "erm".to_string(),
            "0.845".to_string(),
            "−1.5e-3".to_string(),
        ],
        vec!["mast".to_string(), "—".to_string(), "84.2%".to_string()],
    ];
    let html = HtmlReport::new("t")
        .table(["method", "acc", "delta"], rows.clone())
        .render()
        .unwrap();
    assert!(
        html.contains(r#"<th>method</th><th class="num">acc</th><th class="num">delta</th>"#),
        "{html}"
    );
    assert!(html.contains("<td>erm</td>"));
    assert!(html.contains(r#"<td class="num">0.845</td>"#));
    let bad = HtmlReport::new("t").table(["a", "b"], vec![vec!["1".into()]]);
    assert!(bad
        .render()
        .unwrap_err()
        .to_string()
        .contains("row 0 has 1 cells"));
    let md = markdown_table(&["method", "acc", "delta"], &rows);
    assert_eq!(md.lines().nth(1), Some("|---|---:|---:|"));
    assert_eq!(md.lines().count(), 4);
}

#[test]
fn write_is_atomic_and_creates_the_folder() {
    let dir = temp_dir("write");
    let path = dir.join("sub").join("index.html");
    HtmlReport::new("one").write(&path).unwrap();
    HtmlReport::new("two")
        .paragraph("a\n\nb")
        .write(&path)
        .unwrap();
    let html = std::fs::read_to_string(&path).unwrap();
    assert!(html.contains("<h1>two</h1>") && html.contains("<p>a</p>\n<p>b</p>"));
    assert!(!dir.join("sub").join("index.html.tmp").exists());
    std::fs::remove_dir_all(&dir).unwrap();
}
