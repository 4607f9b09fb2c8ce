//! Representative data for screenshots without a server: a catalogue shaped
//! like the built-in hall's, a visitor with a fictitious card, a ticket.

use crate::flow::{CatalogView, Visitor};
use hall_proto::v1 as pb;

pub fn catalog() -> CatalogView {
    let zones = [
        ("general", "综合受理区", "General Service Area"),
        ("crossregion", "跨区域通办专窗", "Cross-Region Service Windows"),
        ("enterprise", "企业服务专区", "Enterprise Service Zone"),
        ("assist", "帮办代办", "Assisted & Agency Service"),
    ];
    let depts = [("hrss", "人社"), ("medins", "医保"), ("tax", "税务"), ("police", "公安"), ("market", "市场监管"), ("landplan", "资规"), ("cross", "跨区域"), ("assist", "帮办")];
    #[rustfmt::skip]
    let cats = [
        ("social_insurance", "社保参保登记", "Social insurance enrollment", "hrss", "general", 12, 18, true, vec!["居民身份证原件", "社会保障卡（如已办理）", "单位参保的提供劳动合同"], 20, 1),
        ("pension", "养老保险待遇", "Pension benefits", "hrss", "general", 6, 14, true, vec!["居民身份证原件", "社会保障卡", "银行账户信息"], 20, 5),
        ("medical_insurance", "医保参保缴费", "Medical insurance", "medins", "general", 9, 11, false, vec!["居民身份证原件或医保电子凭证"], 0, 0),
        ("medical_claims", "医疗费用报销", "Medical expense claims", "medins", "general", 4, 9, true, vec!["居民身份证原件", "医疗费用发票原件", "费用明细清单", "出院小结（住院的）"], 20, 10),
        ("tax_declaration", "税费申报缴纳", "Tax declaration", "tax", "general", 15, 25, false, vec!["居民身份证原件", "相关合同或收入证明"], 0, 0),
        ("id_card", "身份证办理", "Resident ID card", "police", "general", 7, 16, true, vec!["户口簿", "原身份证（换领、补领的）"], 60, 20),
        ("cross_region", "跨区域通办", "Cross-region services", "cross", "crossregion", 2, 6, true, vec!["居民身份证原件", "异地业务所需材料（可先电话咨询）"], 20, 10),
        ("business_registration", "企业开办登记", "Business registration", "market", "enterprise", 5, 20, true, vec!["法定代表人身份证原件", "公司章程", "住所使用证明"], 3, 1),
        ("food_license", "食品经营许可", "Food business licence", "market", "enterprise", 1, 5, true, vec!["营业执照", "食品安全管理制度", "经营场所平面图"], 20, 10),
        ("real_estate", "不动产登记", "Real estate registration", "landplan", "general", 8, 30, true, vec!["身份证明", "不动产权证书", "买卖合同"], 5, 3),
        ("assisted", "帮办代办", "Assisted handling for key projects", "assist", "assist", 0, 0, false, vec!["项目基本情况说明"], 0, 0),
    ];
    let categories = cats
        .into_iter()
        .map(|(code, zh, en, dept, zone, waiting, wait, id, materials, legal, promised)| pb::Category {
            code: code.into(),
            name_zh: zh.into(),
            name_en: en.into(),
            department: dept.into(),
            zone: zone.into(),
            waiting,
            estimated_wait_min: wait,
            issued_today: waiting * 3,
            id_card_required: id,
            open_now: code != "real_estate",
            issue_from: "08:30".into(),
            issue_until: if code == "real_estate" { "11:30".into() } else { "16:30".into() },
            guidance: Some(pb::Guidance {
                materials: materials.into_iter().map(String::from).collect(),
                legal_time_limit_days: legal,
                promised_time_limit_days: promised,
                fees: "免费".into(),
                notes: String::new(),
            }),
            ..Default::default()
        })
        .collect();
    let c = pb::Catalog {
        hall_name_zh: "示例区政务服务中心".into(),
        hall_name_en: "Example District Government Service Centre".into(),
        departments: depts.iter().map(|(c, n)| pb::Department { code: (*c).into(), name_zh: (*n).into(), name_en: String::new() }).collect(),
        zones: zones.iter().map(|(c, zh, en)| pb::Zone { code: (*c).into(), name_zh: (*zh).into(), name_en: (*en).into() }).collect(),
        categories,
        bundles: vec![pb::Bundle {
            code: "food_workshop_one".into(),
            name_zh: "开办小作坊店一件事".into(),
            name_en: "Open a small food workshop (one go)".into(),
            stages: vec!["business_registration".into(), "food_license".into()],
            waiting: 1,
            ..Default::default()
        }],
        service_date: "2026-11-27".into(),
        open_today: true,
        notice: "周六上午 9:00–12:00 正常办公（周末不打烊）".into(),
        ..Default::default()
    };
    CatalogView::from_pb(&c)
}

/// A fictitious 72-year-old visitor (valid check digit, no real person).
pub fn visitor() -> Visitor {
    Visitor {
        masked_name: "王*明".into(),
        masked_number: "110101********0022".into(),
        age: 70,
        identity: pb::Identity::default(),
    }
}

pub fn ticket() -> pb::Ticket {
    pb::Ticket {
        number: "A023".into(),
        category: "social_insurance".into(),
        service_date: "2026-11-27".into(),
        people_ahead: 5,
        estimated_wait_min: 18,
        masked_name: "王*明".into(),
        priority: pb::PriorityClass::Elderly as i32,
        issued_at_ms: 1_795_741_500_000,
        ..Default::default()
    }
}
