//! Every figure type: saving, real text rendering, and bad input.

use std::path::{Path, PathBuf};

use mast_report::{
    Band, BandCurves, BarChart, BoxplotFigure, Figure, Heatmap, OverlayStyle, ReportError, RgbImage,
};

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("mast-report-test-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn boxplot(title: &str) -> BoxplotFigure {
    BoxplotFigure::new(title)
        .x_label("sparsity q")
        .y_label("accuracy")
        .groups(["0.1", "0.5"])
        .series(
            "erm",
            vec![vec![0.80, 0.81, 0.79, 0.70], vec![0.70, 0.72, 0.69]],
        )
        .series("mast", vec![vec![0.82, 0.83, 0.82], vec![0.79, 0.80, 0.78]])
        .reference_line(0.845, "unpruned ERM")
}

fn curves(title: &str) -> BandCurves {
    BandCurves::new(title)
        .x_label("iteration")
        .x_values(vec![1.0, 10.0, 100.0, 1000.0])
        .log_x(true)
        .log_y(true)
        .series_from_runs(
            "dsgd",
            vec![vec![1.0, 0.3, 0.05, 0.01], vec![1.1, 0.35, 0.04, 0.012]],
            Band::StdDev(2.0), // lower band goes negative: clamped on log y
        )
        .series(
            "gd",
            vec![0.9, 0.2, 0.02, 0.001],
            vec![0.8, 0.1, 0.01, 0.0005],
            vec![1.0, 0.3, 0.03, 0.002],
        )
}

fn heatmap(title: &str) -> Heatmap {
    Heatmap::new(title)
        .x_categories(["0.1", "0.5", "0.9"])
        .y_categories(["1e-2", "1e-1", "1e0"])
        .values(vec![
            vec![Some(0.5), Some(0.6), Some(0.7)],
            vec![Some(0.4), Some(0.45), Some(f64::NAN)],
            vec![Some(0.35), None, None],
        ])
        .log_color(true)
        .annotate(true)
        .color_label("final loss")
        .overlay(
            "theory γ",
            vec![Some(1.2), Some(0.9), Some(0.2)],
            OverlayStyle::LineMarkers,
        )
        .overlay(
            "largest stable γ",
            vec![Some(2.0), Some(1.0), Some(0.0)],
            OverlayStyle::Markers,
        )
}

fn bars(title: &str) -> BarChart {
    BarChart::new(title)
        .categories(["d = 1e3", "d = 1e4"])
        .series("keep 50%", vec![0.55, 0.51])
        .series("keep 1%", vec![0.06, 0.011])
        .reference_line(1.0, "dense")
        .log_y(true)
}

fn no_tmp_files(dir: &Path) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        assert!(
            !name.ends_with(".tmp"),
            "temporary file left behind: {name}"
        );
    }
}

fn check_save<F: Figure>(fig: &F, title: &str, name: &str) {
    let dir = temp_dir(name);
    let paths = fig.save(&dir, name).unwrap();
    assert_eq!(
        paths,
        vec![
            dir.join(format!("{name}.png")),
            dir.join(format!("{name}.svg"))
        ]
    );
    let png = std::fs::read(&paths[0]).unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    let decoder = png::Decoder::new(std::io::Cursor::new(&png));
    let reader = decoder.read_info().unwrap();
    assert_eq!(reader.info().width, 900);
    assert_eq!(reader.info().height, 560);
    let svg = std::fs::read_to_string(&paths[1]).unwrap();
    assert!(svg.starts_with("<svg"), "{}", &svg[..40.min(svg.len())]);
    assert!(svg.contains(title), "SVG lacks the title `{title}`");
    no_tmp_files(&dir);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn every_figure_saves_png_and_svg() {
    check_save(&boxplot("Box title"), "Box title", "boxplot");
    check_save(&curves("Curve title"), "Curve title", "curves");
    check_save(&heatmap("Heat title"), "Heat title", "heatmap");
    check_save(&bars("Bar title"), "Bar title", "bars");
}

/// Pixels in rows `y0..y1` that are not white.
fn ink(img: &RgbImage, y0: u32, y1: u32) -> usize {
    (y0..y1)
        .flat_map(|y| (0..img.width).map(move |x| (x, y)))
        .filter(|&(x, y)| img.pixel(x, y) != Some([255, 255, 255]))
        .count()
}

#[test]
fn the_embedded_font_really_renders() {
    let with = boxplot("A title that must show").render_rgb().unwrap();
    let without = boxplot("").render_rgb().unwrap();
    assert_eq!((with.width, with.height), (900, 560));
    // The title band (top 40 px) has glyph pixels only with a title.
    let title_ink = ink(&with, 0, 40);
    assert!(
        title_ink > 300,
        "title band has only {title_ink} non-white pixels"
    );
    assert_ne!(with, without);
    // Without a title the legend moves up, but nothing is drawn above it.
    assert_eq!(ink(&without, 0, 8), 0);
    // Anti-aliased glyphs give grey levels, not just the line colours.
    let greys = (0..40)
        .flat_map(|y| (0..with.width).map(move |x| (x, y)))
        .filter_map(|(x, y)| with.pixel(x, y))
        .filter(|p| p[0] == p[1] && p[1] == p[2] && p[0] > 0 && p[0] < 255)
        .count();
    assert!(greys > 20, "{greys} anti-aliased pixels");
}

#[test]
fn every_figure_draws_its_title() {
    fn title_ink<F: Figure>(with: &F, without: &F) {
        let a = with.render_rgb().unwrap();
        let b = without.render_rgb().unwrap();
        // The title occupies rows 12..~36; the legend starts below it, or at
        // row 8 when there is no title.
        let with_ink = ink(&a, 0, 36);
        assert!(with_ink > 150, "title band has {with_ink} non-white pixels");
        assert_eq!(ink(&b, 0, 8), 0);
        assert_ne!(a, b);
    }
    title_ink(&curves("Curves"), &curves(""));
    title_ink(&heatmap("Heatmap"), &heatmap(""));
    title_ink(&bars("Bars"), &bars(""));
}

#[test]
fn custom_size() {
    let img = bars("small").size(400, 300).render_rgb().unwrap();
    assert_eq!((img.width, img.height), (400, 300));
    assert!(bars("tiny").size(10, 10).render_png().is_err());
}

fn invalid<F: Figure>(fig: &F, needle: &str) {
    match fig.render_png() {
        Err(ReportError::InvalidInput(msg)) => {
            assert!(msg.contains(needle), "message `{msg}` lacks `{needle}`")
        }
        Err(e) => panic!("expected InvalidInput containing `{needle}`, got {e}"),
        Ok(_) => panic!("expected an error containing `{needle}`"),
    }
    // The SVG path validates too.
    assert!(fig.render_svg().is_err());
}

#[test]
fn boxplot_rejects_bad_input() {
    invalid(&BoxplotFigure::new("t").series("s", vec![]), "no groups");
    invalid(&BoxplotFigure::new("t").groups(["a"]), "no seriess");
    invalid(
        &BoxplotFigure::new("t")
            .groups(["a", "b"])
            .series("s", vec![vec![1.0]]),
        "2 groups",
    );
    invalid(
        &BoxplotFigure::new("t")
            .groups(["a"])
            .series("s", vec![vec![]]),
        "no samples",
    );
    invalid(
        &BoxplotFigure::new("t")
            .groups(["a"])
            .series("s", vec![vec![1.0, f64::NAN]]),
        "group `a`, sample 1",
    );
    invalid(
        &BoxplotFigure::new("t")
            .groups(["a", "a"])
            .series("s", vec![vec![1.0], vec![1.0]]),
        "twice",
    );
    invalid(&boxplot("t").y_range(1.0, 0.0), "lower < upper");
    invalid(
        &boxplot("t").reference_line(f64::NAN, "ref"),
        "reference line",
    );
}

#[test]
fn curves_reject_bad_input() {
    invalid(
        &BandCurves::new("t").series("s", vec![], vec![], vec![]),
        "no x values",
    );
    let base = || BandCurves::new("t").x_values(vec![1.0, 2.0, 3.0]);
    invalid(
        &base().series("s", vec![1.0, 2.0], vec![1.0, 2.0], vec![1.0, 2.0]),
        "3 x values",
    );
    invalid(
        &base().series("s", vec![1.0; 3], vec![1.0; 3], vec![1.0; 2]),
        "upper band",
    );
    invalid(
        &base().series("s", vec![1.0, f64::NAN, 1.0], vec![1.0; 3], vec![1.0; 3]),
        "line value 1",
    );
    invalid(
        &base().series("s", vec![1.0; 3], vec![2.0; 3], vec![1.0; 3]),
        "above upper",
    );
    invalid(
        &base()
            .series("s", vec![1.0, 0.0, 1.0], vec![0.0; 3], vec![1.0; 3])
            .log_y(true),
        "log y",
    );
    invalid(
        &BandCurves::new("t")
            .x_values(vec![0.0, 1.0])
            .log_x(true)
            .series("s", vec![1.0; 2], vec![1.0; 2], vec![1.0; 2]),
        "positive x",
    );
    invalid(
        &BandCurves::new("t").x_values(vec![2.0, 1.0]).series(
            "s",
            vec![1.0; 2],
            vec![1.0; 2],
            vec![1.0; 2],
        ),
        "increase",
    );
    invalid(
        &base().series_from_runs("s", vec![], Band::MinMax),
        "no runs",
    );
    invalid(
        &base().series_from_runs("s", vec![vec![f64::NAN; 3]], Band::MinMax),
        "x[0]",
    );
    invalid(&base(), "no seriess");
}

#[test]
fn heatmap_rejects_bad_input() {
    let base = || {
        Heatmap::new("t")
            .x_categories(["a", "b"])
            .y_categories(["1", "2"])
    };
    invalid(
        &Heatmap::new("t").y_categories(["1"]).values(vec![vec![]]),
        "no x categorys",
    );
    invalid(
        &base().values(vec![vec![Some(1.0), Some(2.0)]]),
        "2 y categories",
    );
    invalid(
        &base().values(vec![vec![Some(1.0)], vec![Some(1.0), Some(2.0)]]),
        "row 0",
    );
    invalid(
        &base().values(vec![vec![None, Some(f64::NAN)], vec![None, None]]),
        "every heatmap cell is diverged",
    );
    let ok_values = || vec![vec![Some(1.0), Some(2.0)], vec![Some(3.0), None]];
    invalid(
        &base()
            .values(vec![vec![Some(-1.0), Some(2.0)], vec![Some(3.0), None]])
            .log_color(true),
        "not positive",
    );
    invalid(
        &base()
            .values(ok_values())
            .overlay("o", vec![Some(0.0)], OverlayStyle::Markers),
        "2 x categories",
    );
    invalid(
        &base()
            .values(ok_values())
            .overlay("o", vec![Some(5.0), None], OverlayStyle::Markers),
        "outside",
    );
    // All diverged is drawable once the colour range is given.
    assert!(base()
        .values(vec![vec![None; 2]; 2])
        .color_range(0.1, 1.0)
        .render_png()
        .is_ok());
}

#[test]
fn bars_reject_bad_input() {
    let base = || BarChart::new("t").categories(["a", "b"]);
    invalid(&BarChart::new("t").series("s", vec![]), "no categorys");
    invalid(&base(), "no seriess");
    invalid(&base().series("s", vec![1.0]), "2 categories");
    invalid(
        &base().series("s", vec![1.0, f64::INFINITY]),
        "category `b`",
    );
    invalid(&base().series("s", vec![1.0, 0.0]).log_y(true), "log y");
    // Negative values are fine on a linear axis.
    assert!(base().series("s", vec![1.0, -0.5]).render_png().is_ok());
}

#[test]
fn bad_input_writes_nothing() {
    let dir = temp_dir("bad");
    let bad = BarChart::new("t")
        .categories(["a"])
        .series("s", vec![f64::NAN]);
    assert!(bad.save(&dir, "bad").is_err());
    assert!(!dir.join("bad.png").exists());
    assert!(!dir.join("bad.svg").exists());
    assert!(bars("t").save(&dir, "../escape").is_err());
    assert!(bars("t").save(&dir, "").is_err());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn save_overwrites_atomically() {
    let dir = temp_dir("overwrite");
    bars("first").save(&dir, "fig").unwrap();
    bars("second").save(&dir, "fig").unwrap();
    let svg = std::fs::read_to_string(dir.join("fig.svg")).unwrap();
    assert!(svg.contains("second") && !svg.contains("first"));
    no_tmp_files(&dir);
    std::fs::remove_dir_all(&dir).unwrap();
}
