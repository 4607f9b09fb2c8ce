//! A line chart of tickets waiting over the day, one line per policy, as a
//! PNG. Drawn directly (png + fontdue with the repository's DejaVu font):
//! plotting crates pull in system font libraries for their text.

use std::io;
use std::path::Path;

static FONT: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");

const W: usize = 1000;
const H: usize = 520;
const LEFT: usize = 70;
const RIGHT: usize = 20;
const TOP: usize = 50;
const BOTTOM: usize = 60;

struct Canvas {
    px: Vec<[u8; 3]>,
    font: fontdue::Font,
}

impl Canvas {
    fn set(&mut self, x: i64, y: i64, c: [u8; 3], a: f32) {
        if x < 0 || y < 0 || x >= W as i64 || y >= H as i64 {
            return;
        }
        let p = &mut self.px[y as usize * W + x as usize];
        for i in 0..3 {
            p[i] = (p[i] as f32 * (1.0 - a) + c[i] as f32 * a) as u8;
        }
    }

    fn line(&mut self, (x0, y0): (f64, f64), (x1, y1): (f64, f64), c: [u8; 3], thick: i64) {
        let n = ((x1 - x0).abs().max((y1 - y0).abs()) as usize).max(1);
        for i in 0..=n {
            let t = i as f64 / n as f64;
            let (x, y) = (x0 + (x1 - x0) * t, y0 + (y1 - y0) * t);
            for dx in 0..thick {
                for dy in 0..thick {
                    self.set(x as i64 + dx, y as i64 + dy, c, 1.0);
                }
            }
        }
    }

    fn text(&mut self, s: &str, x: f64, y: f64, size: f32, c: [u8; 3]) {
        let mut pen = x;
        for ch in s.chars() {
            let (m, bmp) = self.font.rasterize(ch, size);
            let top = y as i64 - m.height as i64 - m.ymin as i64;
            for gy in 0..m.height {
                for gx in 0..m.width {
                    let a = bmp[gy * m.width + gx] as f32 / 255.0;
                    if a > 0.0 {
                        self.set(
                            pen as i64 + m.xmin as i64 + gx as i64,
                            top + gy as i64,
                            c,
                            a,
                        );
                    }
                }
            }
            pen += m.advance_width as f64;
        }
    }

    fn text_width(&self, s: &str, size: f32) -> f64 {
        s.chars()
            .map(|c| self.font.metrics(c, size).advance_width as f64)
            .sum()
    }
}

/// One series: a name and (minute of day, value) points.
pub struct Series<'a> {
    pub name: &'a str,
    pub points: &'a [(f64, u32)],
}

const COLORS: [[u8; 3]; 4] = [
    [31, 119, 180],
    [214, 39, 40],
    [44, 160, 44],
    [148, 103, 189],
];

/// What the axes say: their titles, and the x axis's tick step and labels.
pub struct Axes {
    pub x_title: &'static str,
    pub y_title: &'static str,
    pub x_step: f64,
    pub x_label: fn(f64) -> String,
}

/// Tickets waiting over the time of day (x in minutes of the day).
pub fn waiting_chart(path: &Path, title: &str, series: &[Series<'_>]) -> io::Result<()> {
    let axes = Axes {
        x_title: "time of day",
        y_title: "tickets waiting",
        x_step: 60.0,
        x_label: |x| format!("{:02}:00", (x / 60.0) as u32),
    };
    line_chart(path, title, &axes, series)
}

/// Draws the series on `axes` and writes the PNG.
pub fn line_chart(path: &Path, title: &str, axes: &Axes, series: &[Series<'_>]) -> io::Result<()> {
    let font = fontdue::Font::from_bytes(FONT, fontdue::FontSettings::default())
        .map_err(io::Error::other)?;
    let mut cv = Canvas {
        px: vec![[255, 255, 255]; W * H],
        font,
    };
    let all = series.iter().flat_map(|s| s.points.iter());
    let (mut x_min, mut x_max, mut y_max) = (f64::MAX, f64::MIN, 1.0f64);
    for &(x, y) in all {
        x_min = x_min.min(x);
        x_max = x_max.max(x);
        y_max = y_max.max(y as f64);
    }
    if x_min > x_max {
        (x_min, x_max) = (0.0, 60.0);
    }
    let step = axes.x_step.max(1e-9);
    x_min = (x_min / step).floor() * step;
    x_max = (x_max / step).ceil() * step;
    let y_step = [5.0, 10.0, 20.0, 25.0, 50.0, 100.0, 200.0, 500.0]
        .into_iter()
        .find(|s| y_max / s <= 8.0)
        .unwrap_or(1000.0);
    let y_top = (y_max / y_step).ceil() * y_step;
    let (pw, ph) = ((W - LEFT - RIGHT) as f64, (H - TOP - BOTTOM) as f64);
    let sx = |x: f64| LEFT as f64 + (x - x_min) / (x_max - x_min).max(1.0) * pw;
    let sy = |y: f64| TOP as f64 + ph - y / y_top * ph;
    // Grid and axes.
    let grey = [225, 225, 225];
    let mut y = 0.0;
    while y <= y_top + 1e-9 {
        cv.line((sx(x_min), sy(y)), (sx(x_max), sy(y)), grey, 1);
        let label = format!("{y:.0}");
        let tw = cv.text_width(&label, 14.0);
        cv.text(
            &label,
            LEFT as f64 - 8.0 - tw,
            sy(y) + 5.0,
            14.0,
            [60, 60, 60],
        );
        y += y_step;
    }
    let mut x = x_min;
    while x <= x_max + 1e-9 {
        cv.line((sx(x), sy(0.0)), (sx(x), sy(0.0) + 5.0), [60, 60, 60], 1);
        let label = (axes.x_label)(x);
        let tw = cv.text_width(&label, 14.0);
        cv.text(&label, sx(x) - tw / 2.0, sy(0.0) + 22.0, 14.0, [60, 60, 60]);
        x += step;
    }
    cv.line((sx(x_min), sy(0.0)), (sx(x_max), sy(0.0)), [0, 0, 0], 1);
    cv.line((sx(x_min), sy(0.0)), (sx(x_min), sy(y_top)), [0, 0, 0], 1);
    cv.text(title, LEFT as f64, 30.0, 18.0, [0, 0, 0]);
    cv.text(axes.y_title, 8.0, TOP as f64 - 10.0, 13.0, [60, 60, 60]);
    cv.text(
        axes.x_title,
        W as f64 / 2.0 - 40.0,
        H as f64 - 12.0,
        13.0,
        [60, 60, 60],
    );
    // Series and legend.
    let mut lx = W as f64 - RIGHT as f64 - 10.0;
    for (i, s) in series.iter().enumerate().rev() {
        let c = COLORS[i % COLORS.len()];
        for pair in s.points.windows(2) {
            let (a, b) = (pair[0], pair[1]);
            cv.line((sx(a.0), sy(a.1 as f64)), (sx(b.0), sy(b.1 as f64)), c, 2);
        }
        let tw = cv.text_width(s.name, 14.0);
        lx -= tw + 34.0;
        cv.line((lx, 24.0), (lx + 22.0, 24.0), c, 3);
        cv.text(s.name, lx + 28.0, 30.0, 14.0, [0, 0, 0]);
    }
    let file = io::BufWriter::new(std::fs::File::create(path)?);
    let mut enc = png::Encoder::new(file, W as u32, H as u32);
    enc.set_color(png::ColorType::Rgb);
    enc.set_depth(png::BitDepth::Eight);
    let mut w = enc.write_header().map_err(io::Error::other)?;
    let data: Vec<u8> = cv.px.iter().flatten().copied().collect();
    w.write_image_data(&data).map_err(io::Error::other)?;
    Ok(())
}
