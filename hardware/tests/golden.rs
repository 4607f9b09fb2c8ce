//! Golden tests: our slip bytes for a fixed ticket, python-escpos' reference
//! ticket read into the expected paper model, and the reference card read.

use expect_test::{expect, expect_file};
use hall_hardware::escpos::decode::{Decoder, Item};
use hall_hardware::escpos::{encode_slip, sample_slip, Align, Paper, PrinterProfile, QrEc};

fn hex_dump(b: &[u8]) -> String {
    b.chunks(16)
        .map(|c| c.iter().map(|b| format!("{b:02X}")).collect::<Vec<_>>().join(" "))
        .collect::<Vec<_>>()
        .join("\n")
        + "\n"
}

#[test]
fn our_slip_bytes_for_a_fixed_ticket() {
    let b58 = encode_slip(&sample_slip(), &PrinterProfile::for_paper(Paper::Mm58)).into_bytes();
    expect_file!["golden/slip_58mm.hex"].assert_eq(&hex_dump(&b58));
    let b80 = encode_slip(&sample_slip(), &PrinterProfile::for_paper(Paper::Mm80)).into_bytes();
    expect_file!["golden/slip_80mm.hex"].assert_eq(&hex_dump(&b80));
}

#[test]
fn python_escpos_ticket_reads_into_the_expected_paper() {
    let bytes = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/ticket_python_escpos.bin")).unwrap();
    let (slips, errors) = Decoder::decode_all(&bytes);
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(slips.len(), 1);
    let s = &slips[0];
    assert!(s.cut);
    let summary: Vec<String> = s
        .items
        .iter()
        .map(|i| match i {
            Item::Line(l) => format!(
                "line {:?} {:?}",
                l.align,
                l.runs.iter().map(|r| format!("{}[{}x{}{}]", r.text, r.width, r.height, if r.bold { " bold" } else { "" })).collect::<Vec<_>>()
            ),
            Item::Qr { data, module, ec, align } => format!("qr {data:?} module {module} ec {ec:?} {align:?}"),
            Item::Barcode { system, data, align } => format!("barcode {system} {data:?} {align:?}"),
            other => format!("{other:?}"),
        })
        .collect();
    expect![[r#"
        line Center ["A001[2x2 bold]"]
        line Center ["请到3号窗口办理[1x1]"]
        qr "Q:A001:20240101" module 6 ec M Center
        barcode 4 "A001" Center
        Feed { lines: 6 }"#]]
    .assert_eq(&summary.join("\n"));
    assert!(matches!(&s.items[2], Item::Qr { ec: QrEc::M, align: Align::Center, .. }));
}
