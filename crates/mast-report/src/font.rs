//! The embedded font. Plotters' `ab_glyph` text backend loads no system
//! fonts: text renders only for registered families. This crate ships
//! DejaVu Sans (`assets/DejaVuSans.ttf`, Bitstream Vera license in
//! `assets/DejaVuSans-LICENSE.txt`) inside the binary and registers it once,
//! under the generic family names, before anything is drawn.

use std::sync::OnceLock;

use ab_glyph::{point, Font, FontRef, GlyphId, PxScale, ScaleFont};
use plotters::style::text_anchor::{HPos, VPos};
use plotters::style::FontStyle;
use plotters_backend::{
    BackendColor, BackendCoord, BackendStyle, BackendTextStyle, DrawingBackend, DrawingErrorKind,
};

use crate::error::{ReportError, Result};

/// The TrueType bytes of DejaVu Sans, embedded at compile time.
pub const DEJAVU_SANS: &[u8] = include_bytes!("../assets/DejaVuSans.ttf");

/// The family every figure of this crate draws its text with. SVG files name
/// it too, so viewers substitute their own sans-serif font.
pub const FAMILY: &str = "sans-serif";

static REGISTERED: OnceLock<std::result::Result<(), String>> = OnceLock::new();

/// Registers the embedded font with plotters under `sans-serif`, `serif` and
/// `monospace` (all styles fall back to the regular face). Runs once per
/// process; later calls return the first outcome. Every figure calls it
/// before drawing, so callers only need it when they draw plotters text of
/// their own.
///
/// ```
/// mast_report::register_fonts().unwrap();
/// mast_report::register_fonts().unwrap(); // idempotent
/// ```
pub fn register_fonts() -> Result<()> {
    REGISTERED
        .get_or_init(|| {
            for family in ["sans-serif", "serif", "monospace"] {
                plotters::style::register_font(family, FontStyle::Normal, DEJAVU_SANS)
                    .map_err(|_| format!("the embedded font cannot be parsed as `{family}`"))?;
            }
            Ok(())
        })
        .clone()
        .map_err(ReportError::Plot)
}

/// The embedded font, parsed once.
fn parsed_font() -> Option<&'static FontRef<'static>> {
    static FONT: OnceLock<Option<FontRef<'static>>> = OnceLock::new();
    FONT.get_or_init(|| FontRef::try_from_slice(DEJAVU_SANS).ok())
        .as_ref()
}

/// A drawing backend that delegates everything to `B` except text, which it
/// rasterises itself with the embedded font.
///
/// Plotters' `ab_glyph` text drawing drops each glyph's left side bearing
/// (so letters like `n` and `1` sit too far left and words get uneven gaps,
/// "unprun ed") and puts the baseline half an em below the anchor (so text
/// sits high). This backend places every glyph at its true bounds on a
/// baseline at the font's ascent, within the same layout box plotters
/// measures, so alignment and sizes match plotters' text size estimates. The
/// figures of this crate render bitmaps through it; SVG output keeps text
/// as text and does not need it.
pub(crate) struct TextFix<B>(pub B);

type Res<B> = std::result::Result<(), DrawingErrorKind<<B as DrawingBackend>::ErrorType>>;

impl<B: DrawingBackend> DrawingBackend for TextFix<B> {
    type ErrorType = B::ErrorType;

    fn get_size(&self) -> (u32, u32) {
        self.0.get_size()
    }

    fn ensure_prepared(&mut self) -> Res<B> {
        self.0.ensure_prepared()
    }

    fn present(&mut self) -> Res<B> {
        self.0.present()
    }

    fn draw_pixel(&mut self, point: BackendCoord, color: BackendColor) -> Res<B> {
        self.0.draw_pixel(point, color)
    }

    fn draw_line<S: BackendStyle>(
        &mut self,
        from: BackendCoord,
        to: BackendCoord,
        style: &S,
    ) -> Res<B> {
        self.0.draw_line(from, to, style)
    }

    fn draw_rect<S: BackendStyle>(
        &mut self,
        upper_left: BackendCoord,
        bottom_right: BackendCoord,
        style: &S,
        fill: bool,
    ) -> Res<B> {
        self.0.draw_rect(upper_left, bottom_right, style, fill)
    }

    fn draw_path<S: BackendStyle, I: IntoIterator<Item = BackendCoord>>(
        &mut self,
        path: I,
        style: &S,
    ) -> Res<B> {
        self.0.draw_path(path, style)
    }

    fn draw_circle<S: BackendStyle>(
        &mut self,
        center: BackendCoord,
        radius: u32,
        style: &S,
        fill: bool,
    ) -> Res<B> {
        self.0.draw_circle(center, radius, style, fill)
    }

    fn fill_polygon<S: BackendStyle, I: IntoIterator<Item = BackendCoord>>(
        &mut self,
        vert: I,
        style: &S,
    ) -> Res<B> {
        self.0.fill_polygon(vert, style)
    }

    fn blit_bitmap(&mut self, pos: BackendCoord, size: (u32, u32), src: &[u8]) -> Res<B> {
        self.0.blit_bitmap(pos, size, src)
    }

    fn draw_text<S: BackendTextStyle>(
        &mut self,
        text: &str,
        style: &S,
        pos: BackendCoord,
    ) -> Res<B> {
        let color = style.color();
        if color.alpha == 0.0 {
            return Ok(());
        }
        let Some(font) = parsed_font() else {
            return Err(DrawingErrorKind::FontError(Box::new(FontFailure)));
        };
        // The same layout box and anchoring as plotters' default.
        let ((min_x, min_y), (max_x, max_y)) = style
            .layout_box(text)
            .map_err(|e| DrawingErrorKind::FontError(Box::new(e)))?;
        let (width, height) = (max_x - min_x, max_y - min_y);
        let dx = match style.anchor().h_pos {
            HPos::Left => 0,
            HPos::Right => -width,
            HPos::Center => -width / 2,
        };
        let dy = match style.anchor().v_pos {
            VPos::Top => 0,
            VPos::Center => -height / 2,
            VPos::Bottom => -height,
        };
        let trans = style.transform();
        let (w, h) = self.get_size();
        let scaled = font.as_scaled(PxScale::from(style.size() as f32));
        let baseline = scaled.ascent();
        let mut caret = 0f32;
        let mut prev: Option<GlyphId> = None;
        for c in text.chars() {
            let id = scaled.glyph_id(c);
            if let Some(p) = prev {
                caret += scaled.kern(p, id);
            }
            prev = Some(id);
            let glyph = id.with_scale_and_position(scaled.scale(), point(caret, baseline));
            caret += scaled.h_advance(id);
            let Some(outline) = scaled.outline_glyph(glyph) else {
                continue;
            };
            let bounds = outline.px_bounds();
            let mut failed = None;
            outline.draw(|gx, gy, coverage| {
                if failed.is_some() || coverage <= 0.0 {
                    return;
                }
                let x = bounds.min.x as i32 + gx as i32;
                let y = bounds.min.y as i32 + gy as i32;
                let (x, y) = trans.transform(x + dx - min_x, y + dy - min_y);
                let (x, y) = (pos.0 + x, pos.1 + y);
                if x >= 0 && y >= 0 && x < w as i32 && y < h as i32 {
                    let ink = BackendColor {
                        alpha: color.alpha * coverage.min(1.0) as f64,
                        rgb: color.rgb,
                    };
                    if let Err(e) = self.0.draw_pixel((x, y), ink) {
                        failed = Some(e);
                    }
                }
            });
            if let Some(e) = failed {
                return Err(e);
            }
        }
        Ok(())
    }
}

/// The embedded font could not be parsed (never happens with the shipped
/// file).
#[derive(Debug)]
struct FontFailure;

impl std::fmt::Display for FontFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the embedded font cannot be parsed")
    }
}

impl std::error::Error for FontFailure {}
