//! Renders a decoded slip to a PNG, so a person can see the ticket the
//! printer simulator "printed": 203 dpi dots (Font A cells of 12 × 24 dots),
//! sizes, bold, alignment and real QR codes. Chinese is drawn with the
//! embedded Droid Sans Fallback font (Apache-2.0), so it renders everywhere.

use crate::escpos::decode::{Item, PrintedSlip};
use crate::escpos::layout::char_width;
use crate::escpos::{Align, Paper, QrEc};
use std::io;
use std::path::Path;
use std::sync::OnceLock;

/// The font every client uses for Chinese (one copy in the repository).
pub static CJK_FONT: &[u8] = include_bytes!("../../assets/fonts/DroidSansFallbackFull.ttf");

/// Latin letters and digits (Droid Sans Fallback has none), monospaced like
/// the printer's Font A.
pub static MONO_FONT: &[u8] = include_bytes!("../../assets/fonts/DejaVuSansMono.ttf");

fn load(bytes: &'static [u8]) -> fontdue::Font {
    fontdue::Font::from_bytes(bytes, fontdue::FontSettings::default()).expect("the embedded font parses")
}

/// The font that has a glyph for `c`: DejaVu Sans Mono for what it covers
/// (Latin, digits, punctuation), Droid Sans Fallback for the rest.
fn font_for(c: char) -> &'static fontdue::Font {
    static CJK: OnceLock<fontdue::Font> = OnceLock::new();
    static MONO: OnceLock<fontdue::Font> = OnceLock::new();
    let mono = MONO.get_or_init(|| load(MONO_FONT));
    if char_width(c) == 1 && mono.lookup_glyph_index(c) != 0 {
        mono
    } else {
        CJK.get_or_init(|| load(CJK_FONT))
    }
}

const CELL_W: u32 = 12;
const CELL_H: u32 = 24;
const MARGIN: u32 = 16;
const LINE_GAP: u32 = 6;

/// An 8-bit grey image, white paper and black ink.
#[derive(Debug, Clone)]
pub struct Image {
    pub width: u32,
    pub height: u32,
    pub pixels: Vec<u8>,
}

impl Image {
    fn new(width: u32, height: u32) -> Self {
        Image { width, height, pixels: vec![255; (width * height) as usize] }
    }

    fn ink(&mut self, x: i64, y: i64, coverage: u8) {
        if x < 0 || y < 0 || x >= self.width as i64 || y >= self.height as i64 {
            return;
        }
        let p = &mut self.pixels[(y as u32 * self.width + x as u32) as usize];
        *p = (*p).min(255 - coverage);
    }

    fn fill(&mut self, x: u32, y: u32, w: u32, h: u32) {
        for yy in y..(y + h).min(self.height) {
            for xx in x..(x + w).min(self.width) {
                self.pixels[(yy * self.width + xx) as usize] = 0;
            }
        }
    }

    /// Share of dark pixels, 0–1 (tests use it to see that something was drawn).
    pub fn ink_ratio(&self) -> f64 {
        self.pixels.iter().filter(|&&p| p < 128).count() as f64 / self.pixels.len() as f64
    }

    pub fn write_png(&self, path: &Path) -> io::Result<()> {
        let file = std::io::BufWriter::new(std::fs::File::create(path)?);
        let mut enc = png::Encoder::new(file, self.width, self.height);
        enc.set_color(png::ColorType::Grayscale);
        enc.set_depth(png::BitDepth::Eight);
        let mut w = enc.write_header().map_err(io::Error::other)?;
        w.write_image_data(&self.pixels).map_err(io::Error::other)?;
        Ok(())
    }
}

fn item_height(item: &Item) -> u32 {
    match item {
        Item::Line(l) => CELL_H * l.height() as u32 + LINE_GAP,
        Item::Qr { data, module, ec, .. } => qr(data, *ec)
            .map_or(CELL_H, |q| (q.width() as u32 + 4) * *module as u32 + LINE_GAP),
        Item::Barcode { .. } => 64 + CELL_H + LINE_GAP,
        Item::Raster { height, .. } => *height as u32,
        Item::Feed { lines } => CELL_H * *lines as u32 / 2,
    }
}

fn qr(data: &str, ec: QrEc) -> Option<qrcode::QrCode> {
    let level = match ec {
        QrEc::L => qrcode::EcLevel::L,
        QrEc::M => qrcode::EcLevel::M,
        QrEc::Q => qrcode::EcLevel::Q,
        QrEc::H => qrcode::EcLevel::H,
    };
    qrcode::QrCode::with_error_correction_level(data.as_bytes(), level).ok()
}

fn x_for(align: Align, content: u32, paper: u32) -> u32 {
    MARGIN
        + match align {
            Align::Left => 0,
            Align::Center => paper.saturating_sub(content) / 2,
            Align::Right => paper.saturating_sub(content),
        }
}

/// Draws one character into a cell at (x, y) of size (w × h) dots.
fn draw_char(img: &mut Image, c: char, x: u32, y: u32, wmul: u32, hmul: u32, bold: bool) {
    if c == ' ' {
        return;
    }
    let px = 22.0 * hmul as f32;
    let (m, bitmap) = font_for(c).rasterize(c, px);
    if m.width == 0 {
        return;
    }
    let stretch = wmul as f32 / hmul as f32;
    let cell_w = char_width(c) as u32 * CELL_W * wmul;
    let glyph_w = (m.width as f32 * stretch).ceil() as u32;
    let baseline = y as i64 + (CELL_H * hmul) as i64 * 4 / 5;
    let top = baseline - (m.ymin as i64 + m.height as i64);
    let left = x as i64 + (cell_w.saturating_sub(glyph_w) / 2) as i64;
    for gy in 0..m.height {
        for gx in 0..glyph_w as usize {
            let sx = ((gx as f32 / stretch) as usize).min(m.width - 1);
            let cov = bitmap[gy * m.width + sx];
            if cov > 0 {
                img.ink(left + gx as i64, top + gy as i64, cov);
                if bold {
                    img.ink(left + gx as i64 + 1, top + gy as i64, cov);
                }
            }
        }
    }
}

/// Renders a slip on paper of the given width.
pub fn render(slip: &PrintedSlip, paper: Paper) -> Image {
    let pw = paper.dots();
    let height = MARGIN * 2 + slip.items.iter().map(item_height).sum::<u32>() + 24;
    let mut img = Image::new(pw + MARGIN * 2, height);
    let mut y = MARGIN;
    for item in &slip.items {
        match item {
            Item::Line(line) => {
                let content: u32 = line
                    .runs
                    .iter()
                    .map(|r| {
                        r.text.chars().map(|c| char_width(c) as u32 * CELL_W * r.width as u32).sum::<u32>()
                    })
                    .sum();
                let lh = line.height() as u32;
                let mut x = x_for(line.align, content, pw);
                for run in &line.runs {
                    let (w, h) = (run.width as u32, run.height as u32);
                    // Runs of a smaller size sit on the line's baseline.
                    let yy = y + (lh - h) * CELL_H;
                    for c in run.text.chars() {
                        draw_char(&mut img, c, x, yy, w, h, run.bold);
                        x += char_width(c) as u32 * CELL_W * w;
                    }
                }
            }
            Item::Qr { data, module, ec, align } => {
                if let Some(code) = qr(data, *ec) {
                    let n = code.width() as u32;
                    let m = *module as u32;
                    let side = (n + 4) * m;
                    let x0 = x_for(*align, side, pw) + 2 * m;
                    let colors = code.to_colors();
                    for (i, color) in colors.iter().enumerate() {
                        if *color == qrcode::Color::Dark {
                            let (cx, cy) = (i as u32 % n, i as u32 / n);
                            img.fill(x0 + cx * m, y + 2 * m + cy * m, m, m);
                        }
                    }
                }
            }
            Item::Barcode { data, align, .. } => {
                // A visual stand-in: bars from the data bytes, and the text.
                let bars: Vec<u8> = data.bytes().flat_map(|b| [b & 7, b >> 3 & 3, b >> 5 & 7]).collect();
                let width: u32 = bars.iter().map(|b| (*b as u32 % 3 + 1) * 2 * 2).sum();
                let mut x = x_for(*align, width, pw);
                for (i, b) in bars.iter().enumerate() {
                    let w = (*b as u32 % 3 + 1) * 2;
                    if i % 2 == 0 {
                        img.fill(x, y, w, 64);
                    }
                    x += w * 2;
                }
                let tw: u32 = data.chars().map(|c| char_width(c) as u32 * CELL_W).sum();
                let mut x = x_for(*align, tw, pw);
                for c in data.chars() {
                    draw_char(&mut img, c, x, y + 66, 1, 1, false);
                    x += char_width(c) as u32 * CELL_W;
                }
            }
            Item::Raster { .. } | Item::Feed { .. } => {}
        }
        y += item_height(item);
    }
    if slip.cut {
        // A dashed line where the cutter cut.
        let yy = height - 4;
        for x in (0..img.width).step_by(8) {
            img.fill(x, yy, 4, 1);
        }
    }
    img
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::escpos::{encode_slip, sample_slip, Decoder, PrinterProfile};

    #[test]
    fn a_slip_renders_with_ink_and_a_qr_code() {
        let bytes = encode_slip(&sample_slip(), &PrinterProfile::for_paper(Paper::Mm58)).into_bytes();
        let (slips, _) = Decoder::decode_all(&bytes);
        let img = render(&slips[0], Paper::Mm58);
        assert_eq!(img.width, 384 + 32);
        let r = img.ink_ratio();
        assert!(r > 0.03 && r < 0.5, "ink ratio {r}");
        // Chinese glyphs exist in the font (no blank cells).
        for c in ['号', 'A', '1', '*', '，'] {
            let f = font_for(c);
            assert_ne!(f.lookup_glyph_index(c), 0, "no glyph for {c}");
            let (m, _) = f.rasterize(c, 24.0);
            assert!(m.width > 1 && m.height > 1, "{c}");
        }
    }
}
