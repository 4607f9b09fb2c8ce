//! The pure ESC/POS encoder: a [`Commands`] builder for single commands and
//! [`encode_slip`], which lays a queue ticket out for 58 or 80 mm paper.

use super::layout::{text_width, wrap};
use serde::{Deserialize, Serialize};

/// Paper width.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum Paper {
    #[serde(rename = "58")]
    Mm58,
    #[default]
    #[serde(rename = "80")]
    Mm80,
}

impl Paper {
    /// Characters per line in Font A (12 × 24 dots).
    pub fn columns(self) -> usize {
        match self {
            Paper::Mm58 => 32,
            Paper::Mm80 => 48,
        }
    }

    /// Printable dots per line (203 dpi heads).
    pub fn dots(self) -> u32 {
        self.columns() as u32 * 12
    }

    pub fn from_mm(mm: u32) -> Option<Paper> {
        match mm {
            58 => Some(Paper::Mm58),
            80 => Some(Paper::Mm80),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum Align {
    #[default]
    Left,
    Center,
    Right,
}

/// QR error correction level.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum QrEc {
    L,
    #[default]
    M,
    Q,
    H,
}

impl QrEc {
    pub fn byte(self) -> u8 {
        match self {
            QrEc::L => 0x30,
            QrEc::M => 0x31,
            QrEc::Q => 0x32,
            QrEc::H => 0x33,
        }
    }
}

/// How (and whether) the printer beeps when a slip is ready (§2.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Beep {
    #[default]
    None,
    /// Epson `ESC ( A` function 48.
    Epson { pattern: u8, count: u8, cycle: u8 },
    /// Chinese clones and python-escpos: `ESC B n t`.
    Clone { times: u8, duration: u8 },
}

/// Character set the firmware accepts in Chinese mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Charset {
    /// GB18030: 2- and 4-byte codes (rare name characters print).
    #[default]
    Gb18030,
    /// GBK only: characters outside GBK become `?`.
    Gbk,
}

/// What differs between printer models.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct PrinterProfile {
    pub paper: Paper,
    /// Dots per QR module, 1–16.
    pub qr_module: u8,
    pub qr_ec: QrEc,
    pub beep: Beep,
    pub charset: Charset,
}

impl Default for PrinterProfile {
    fn default() -> Self {
        PrinterProfile { paper: Paper::Mm80, qr_module: 6, qr_ec: QrEc::M, beep: Beep::None, charset: Charset::Gb18030 }
    }
}

impl PrinterProfile {
    pub fn for_paper(paper: Paper) -> Self {
        PrinterProfile {
            paper,
            qr_module: if paper == Paper::Mm58 { 5 } else { 6 },
            ..Default::default()
        }
    }
}

/// Builder of raw ESC/POS bytes. Each method appends exactly one command.
#[derive(Debug, Default, Clone)]
pub struct Commands {
    buf: Vec<u8>,
    /// Characters that the charset could not encode and were printed as `?`.
    pub substituted: usize,
}

impl Commands {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn into_bytes(self) -> Vec<u8> {
        self.buf
    }

    pub fn bytes(&self) -> &[u8] {
        &self.buf
    }

    fn raw(&mut self, b: &[u8]) -> &mut Self {
        self.buf.extend_from_slice(b);
        self
    }

    /// `ESC @`
    pub fn init(&mut self) -> &mut Self {
        self.raw(&[0x1B, 0x40])
    }

    /// `FS &` on, `FS .` off.
    pub fn chinese(&mut self, on: bool) -> &mut Self {
        self.raw(if on { &[0x1C, 0x26] } else { &[0x1C, 0x2E] })
    }

    /// `ESC a n`
    pub fn align(&mut self, a: Align) -> &mut Self {
        let n = match a {
            Align::Left => 0,
            Align::Center => 1,
            Align::Right => 2,
        };
        self.raw(&[0x1B, 0x61, n])
    }

    /// `ESC E n`
    pub fn bold(&mut self, on: bool) -> &mut Self {
        self.raw(&[0x1B, 0x45, on as u8])
    }

    /// `GS ! n`, width and height multipliers 1–8.
    pub fn size(&mut self, width: u8, height: u8) -> &mut Self {
        let w = width.clamp(1, 8) - 1;
        let h = height.clamp(1, 8) - 1;
        self.raw(&[0x1D, 0x21, (w << 4) | h])
    }

    /// Text in the given charset; unmappable characters become `?`.
    pub fn text(&mut self, s: &str, charset: Charset) -> &mut Self {
        for c in s.chars() {
            if c.is_ascii() {
                if c == '\n' || !c.is_ascii_control() {
                    self.buf.push(c as u8);
                }
                continue;
            }
            let mut tmp = [0u8; 4];
            let enc = match charset {
                Charset::Gb18030 => encoding_rs::GB18030,
                Charset::Gbk => encoding_rs::GBK,
            };
            let (bytes, _, unmappable) = enc.encode(c.encode_utf8(&mut tmp));
            if unmappable {
                self.substituted += 1;
                self.buf.push(b'?');
            } else {
                self.buf.extend_from_slice(&bytes);
            }
        }
        self
    }

    /// `LF`
    pub fn lf(&mut self) -> &mut Self {
        self.raw(&[0x0A])
    }

    /// `ESC d n`: print and feed n lines.
    pub fn feed(&mut self, n: u8) -> &mut Self {
        self.raw(&[0x1B, 0x64, n])
    }

    /// The five `GS ( k` commands printing a model-2 QR code (§2.3). Content
    /// is UTF-8, as phone scanners expect.
    pub fn qr(&mut self, data: &str, module: u8, ec: QrEc) -> &mut Self {
        let k = data.len().min(7089);
        let n = k + 3;
        self.raw(&[0x1D, 0x28, 0x6B, 0x04, 0x00, 0x31, 0x41, 0x32, 0x00]);
        self.raw(&[0x1D, 0x28, 0x6B, 0x03, 0x00, 0x31, 0x43, module.clamp(1, 16)]);
        self.raw(&[0x1D, 0x28, 0x6B, 0x03, 0x00, 0x31, 0x45, ec.byte()]);
        self.raw(&[0x1D, 0x28, 0x6B, (n & 0xFF) as u8, (n >> 8) as u8, 0x31, 0x50, 0x30]);
        self.raw(&data.as_bytes()[..k]);
        self.raw(&[0x1D, 0x28, 0x6B, 0x03, 0x00, 0x31, 0x51, 0x30])
    }

    /// `GS V 42 00`: feed to the cutter and cut, the one form every manual lists (§2.5).
    pub fn cut(&mut self) -> &mut Self {
        self.raw(&[0x1D, 0x56, 0x42, 0x00])
    }

    pub fn beep(&mut self, beep: Beep) -> &mut Self {
        match beep {
            Beep::None => self,
            Beep::Epson { pattern, count, cycle } => {
                self.raw(&[0x1B, 0x28, 0x41, 0x04, 0x00, 0x30, pattern, count, cycle])
            }
            Beep::Clone { times, duration } => {
                self.raw(&[0x1B, 0x42, times.clamp(1, 9), duration.clamp(1, 9)])
            }
        }
    }
}

/// Everything printed on a queue ticket. Personal data arrives already masked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct TicketSlip {
    pub hall_name: String,
    pub ticket_no: String,
    pub category: String,
    /// Where to wait, e.g. 综合受理区 A 区.
    pub zone: String,
    /// e.g. 绿色通道 / 预约; empty for normal tickets.
    pub priority: String,
    pub people_ahead: u32,
    pub wait_minutes: u32,
    /// Local issue time, e.g. 2026-11-27 09:05.
    pub issued_at: String,
    /// Masked name (张*三), if the visitor showed an ID card.
    pub masked_name: String,
    /// 一次性告知: the materials to have ready.
    pub materials: Vec<String>,
    /// e.g. 法定办结时限 20 个工作日，承诺 5 个工作日
    pub time_limit: String,
    /// The ticket's status link, encoded in the QR code.
    pub status_url: String,
    pub privacy_line: String,
    /// Labels, so English slips are possible.
    pub labels: SlipLabels,
}

/// The fixed words on a slip (Chinese by default).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct SlipLabels {
    pub ahead: String,
    pub wait: String,
    pub go_to: String,
    pub issued: String,
    pub visitor: String,
    pub materials: String,
    pub scan: String,
}

impl Default for SlipLabels {
    fn default() -> Self {
        SlipLabels {
            ahead: "前面还有 {n} 人".into(),
            wait: "预计等待约 {n} 分钟".into(),
            go_to: "请到{zone}等候叫号".into(),
            issued: "取号时间 {t}".into(),
            visitor: "办事人 {name}".into(),
            materials: "一次性告知 · 请备齐以下材料".into(),
            scan: "扫码查看排队进度".into(),
        }
    }
}

impl SlipLabels {
    pub fn english() -> Self {
        SlipLabels {
            ahead: "{n} people ahead of you".into(),
            wait: "Estimated wait {n} min".into(),
            go_to: "Please wait in {zone}".into(),
            issued: "Issued {t}".into(),
            visitor: "Visitor {name}".into(),
            materials: "Please have these ready".into(),
            scan: "Scan to follow your place in line".into(),
        }
    }
}

/// Lays out and encodes a ticket slip for the profile's paper width.
pub fn encode_slip(slip: &TicketSlip, profile: &PrinterProfile) -> Commands {
    let cols = profile.paper.columns();
    let cs = profile.charset;
    let mut c = Commands::new();
    c.init().chinese(true);

    // Header: hall name, centred, bold.
    c.align(Align::Center).bold(true);
    for line in wrap(&slip.hall_name, cols, 0) {
        c.text(&line, cs).lf();
    }
    c.bold(false);

    // Category (double height) and the big number. The number uses the
    // largest size that fits the line.
    c.size(1, 2);
    for line in wrap(&slip.category, cols, 0) {
        c.text(&line, cs).lf();
    }
    let scale = (1..=4u8)
        .rev()
        .find(|s| text_width(&slip.ticket_no) * *s as usize <= cols)
        .unwrap_or(1);
    c.size(scale, scale).bold(true).text(&slip.ticket_no, cs).lf();
    c.size(1, 1).bold(false);
    if !slip.priority.is_empty() {
        c.bold(true).text(&format!("【{}】", slip.priority), cs).lf().bold(false);
    }

    let fill = |tpl: &str, key: &str, v: &str| tpl.replace(key, v);
    let body = [
        fill(&slip.labels.ahead, "{n}", &slip.people_ahead.to_string()),
        fill(&slip.labels.wait, "{n}", &slip.wait_minutes.to_string()),
        fill(&slip.labels.go_to, "{zone}", &slip.zone),
        fill(&slip.labels.issued, "{t}", &slip.issued_at),
    ];
    for (i, text) in body.iter().enumerate() {
        if i == 2 && slip.zone.is_empty() {
            continue;
        }
        for line in wrap(text, cols, 0) {
            c.text(&line, cs).lf();
        }
    }
    if !slip.masked_name.is_empty() {
        c.text(&fill(&slip.labels.visitor, "{name}", &slip.masked_name), cs).lf();
    }

    // The guidance checklist, left aligned with hanging indents.
    if !slip.materials.is_empty() || !slip.time_limit.is_empty() {
        c.align(Align::Left).text(&"-".repeat(cols), cs).lf();
        if !slip.materials.is_empty() {
            c.bold(true);
            for line in wrap(&slip.labels.materials, cols, 0) {
                c.text(&line, cs).lf();
            }
            c.bold(false);
            for (i, m) in slip.materials.iter().enumerate() {
                let item = format!("{}. {}", i + 1, m);
                let indent = text_width(&format!("{}. ", i + 1));
                for line in wrap(&item, cols, indent) {
                    c.text(&line, cs).lf();
                }
            }
        }
        for line in wrap(&slip.time_limit, cols, 0).into_iter().filter(|l| !l.is_empty()) {
            c.text(&line, cs).lf();
        }
        c.text(&"-".repeat(cols), cs).lf();
    }

    if !slip.status_url.is_empty() {
        c.align(Align::Center);
        c.qr(&slip.status_url, profile.qr_module, profile.qr_ec);
        c.text(&slip.labels.scan, cs).lf();
    }
    if !slip.privacy_line.is_empty() {
        c.align(Align::Center);
        for line in wrap(&slip.privacy_line, cols, 0) {
            c.text(&line, cs).lf();
        }
    }
    c.feed(3).cut().beep(profile.beep);
    c
}

/// A representative slip for test prints and documentation.
pub fn sample_slip() -> TicketSlip {
    TicketSlip {
        hall_name: "示例区政务服务中心".into(),
        ticket_no: "A001".into(),
        category: "社保卡申领与补换".into(),
        zone: "综合受理区".into(),
        priority: String::new(),
        people_ahead: 3,
        wait_minutes: 12,
        issued_at: "2026-11-27 09:05".into(),
        masked_name: "张*三".into(),
        materials: vec![
            "居民身份证原件".into(),
            "近期一寸白底免冠彩色照片一张（已有电子照片的无需提供）".into(),
            "代办的，提供代办人身份证原件及委托书".into(),
        ],
        time_limit: "法定办结时限 20 个工作日，承诺 即办".into(),
        status_url: "https://hall.example.gov.cn/t/2026-11-27/A001".into(),
        privacy_line: "本票据不含完整身份信息，请妥善保管".into(),
        labels: SlipLabels::default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(b: &[u8]) -> String {
        b.iter().map(|b| format!("{b:02X}")).collect::<Vec<_>>().join(" ")
    }

    #[test]
    fn qr_sequence_matches_the_worked_example() {
        let mut c = Commands::new();
        c.qr("A001", 6, QrEc::M);
        assert_eq!(
            hex(c.bytes()),
            "1D 28 6B 04 00 31 41 32 00 1D 28 6B 03 00 31 43 06 1D 28 6B 03 00 31 45 31 \
             1D 28 6B 07 00 31 50 30 41 30 30 31 1D 28 6B 03 00 31 51 30"
        );
    }

    #[test]
    fn chinese_text_as_gb18030() {
        let mut c = Commands::new();
        c.text("请到3号窗口办理", Charset::Gb18030);
        assert_eq!(hex(c.bytes()), "C7 EB B5 BD 33 BA C5 B4 B0 BF DA B0 EC C0 ED");
        // Outside GBK: 4 bytes in GB18030, '?' with GBK-only firmware.
        let mut c = Commands::new();
        c.text("\u{20000}", Charset::Gb18030);
        assert_eq!(hex(c.bytes()), "95 32 82 36");
        let mut c = Commands::new();
        c.text("\u{20000}", Charset::Gbk);
        assert_eq!((hex(c.bytes()).as_str(), c.substituted), ("3F", 1));
    }

    #[test]
    fn production_ticket_header_matches_the_hand_encoded_reference() {
        let mut c = Commands::new();
        c.init().chinese(true).align(Align::Center).bold(true).size(2, 2);
        c.text("A001", Charset::Gb18030).lf().bold(false).size(1, 1);
        c.text("请到3号窗口办理", Charset::Gb18030).lf();
        assert_eq!(
            hex(c.bytes()),
            "1B 40 1C 26 1B 61 01 1B 45 01 1D 21 11 41 30 30 31 0A 1B 45 00 1D 21 00 \
             C7 EB B5 BD 33 BA C5 B4 B0 BF DA B0 EC C0 ED 0A"
        );
    }

    #[test]
    fn cut_and_beeps() {
        let mut c = Commands::new();
        c.cut().beep(Beep::Clone { times: 2, duration: 4 });
        c.beep(Beep::Epson { pattern: 0x31, count: 2, cycle: 3 });
        assert_eq!(hex(c.bytes()), "1D 56 42 00 1B 42 02 04 1B 28 41 04 00 30 31 02 03");
    }
}
