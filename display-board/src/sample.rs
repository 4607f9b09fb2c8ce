//! Representative data for screenshots when no server is given: the
//! built-in hall's names, a morning's calls and queues. Masked names only.

use hall_proto::v1 as pb;

pub fn snapshot() -> pb::BoardState {
    let queues = [
        ("social_insurance", "社保卡申领与补换", "Social security card", "general", 12, 18),
        ("pension", "养老保险", "Pension insurance", "general", 4, 20),
        ("employment", "就业登记与失业保险", "Employment", "general", 3, 9),
        ("medical_insurance", "医保参保登记", "Medical insurance", "general", 9, 12),
        ("medical_claims", "医疗费用报销", "Medical claims", "general", 5, 22),
        ("tax_declaration", "个人税费申报", "Tax declaration", "general", 6, 10),
        ("invoice", "发票申领", "Invoices", "general", 2, 5),
        ("household", "户籍业务", "Household registration", "general", 3, 8),
        ("id_card", "居民身份证", "Resident ID card", "general", 7, 11),
        ("entry_exit", "出入境证件", "Exit and entry", "general", 2, 9),
        ("notary", "公证服务", "Notary", "general", 1, 15),
        ("real_estate", "不动产登记", "Real estate registration", "general", 5, 25),
        ("veterans", "退役军人服务", "Veterans affairs", "general", 0, 0),
        ("housing_fund", "住房公积金", "Housing fund", "general", 4, 8),
        ("cross_region", "跨区域通办", "Cross-region services", "crossregion", 2, 10),
        ("business_registration", "企业开办", "Business registration", "enterprise", 3, 16),
        ("construction_permit", "工程建设许可", "Construction permits", "enterprise", 1, 20),
        ("assisted", "帮办代办", "Assisted handling", "assist", 1, 12),
    ];
    let calls = [
        ("A023", 2, "social_insurance", "王*明", 9 * 60 + 41, false),
        ("D015", 5, "medical_insurance", "李*", 9 * 60 + 40, false),
        ("J031", 12, "id_card", "", 9 * 60 + 40, true),
        ("F012", 8, "tax_declaration", "陈*华", 9 * 60 + 38, false),
        ("B006", 3, "pension", "赵*", 9 * 60 + 37, false),
        ("Q004", 23, "business_registration", "", 9 * 60 + 35, false),
        ("U003", 21, "cross_region", "周*芳", 9 * 60 + 33, false),
        ("A022", 1, "social_insurance", "孙*", 9 * 60 + 31, false),
        ("T009", 18, "housing_fund", "", 9 * 60 + 30, false),
        ("H010", 11, "household", "吴*强", 9 * 60 + 28, false),
    ];
    // 2026-11-27 in Asia/Shanghai (UTC+8).
    let day_ms: i64 = 1_795_737_600_000 - 8 * 3_600_000;
    pb::BoardState {
        seq: 1,
        hall_name_zh: "示例区政务服务中心".into(),
        hall_name_en: "District Government Service Centre".into(),
        service_date: "2026-11-27".into(),
        windows: (1..=30)
            .map(|n| pb::WindowInfo {
                number: n,
                name: format!("{n}号窗口"),
                zone: if n >= 23 { "enterprise" } else { "general" }.into(),
                state: if n == 7 { 3 } else { 4 },
                clerk_name: "张*三".into(),
                current_ticket: calls.iter().find(|c| c.1 == n).map(|c| c.0.to_string()).unwrap_or_default(),
                pause_reason: String::new(),
                tiers: vec![],
                clerk_id: String::new(),
                ..Default::default()
            })
            .collect(),
        recent_calls: calls
            .iter()
            .map(|(number, window, category, name, minute, recall)| pb::CallInfo {
                number: number.to_string(),
                window: *window,
                window_name: format!("{window}号窗口"),
                category: category.to_string(),
                masked_name: name.to_string(),
                at_ms: day_ms + *minute as i64 * 60_000,
                recall: *recall,
                recall_count: u32::from(*recall),
            })
            .collect(),
        queues: queues
            .iter()
            .map(|(code, zh, en, zone, waiting, wait)| pb::QueueCount {
                code: code.to_string(),
                name_zh: zh.to_string(),
                name_en: en.to_string(),
                zone: zone.to_string(),
                waiting: *waiting,
                estimated_wait_min: *wait,
            })
            .collect(),
        notice: "温馨提示：周末不打烊，周六、周日 9:00-12:00 办理常用业务；“高效办成一件事”请到 28 号综合窗口；办事过程中如有意见，欢迎在窗口评价器上评价。".into(),
    }
}
