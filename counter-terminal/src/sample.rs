//! Representative data for screenshots without a server (masked names only).

use crate::terminal::{CategoryInfo, State};
use hall_proto::v1 as pb;

pub fn state(now_ms: i64) -> State {
    let t = |n: &str, cat: &str, p: pb::PriorityClass, mins: i64, name: &str| pb::Ticket {
        number: n.into(),
        category: cat.into(),
        priority: p as i32,
        issued_at_ms: now_ms - mins * 60_000,
        masked_name: name.into(),
        ..Default::default()
    };
    let mut current = t("A023", "social_insurance", pb::PriorityClass::Normal, 14, "王*明");
    current.state = pb::TicketState::Serving as i32;
    current.called_at_ms = now_ms - 60_000;
    current.call_reason = "本窗口主办业务，按取号先后".into();
    let mut categories = std::collections::HashMap::new();
    for (code, name, m) in [
        ("social_insurance", "社保卡申领与补换", vec!["居民身份证原件", "近期一寸白底免冠彩色照片一张（已有电子照片的无需提供）", "代办的，提供代办人身份证原件及委托书"]),
        ("pension", "养老保险", vec!["居民身份证原件", "社保卡"]),
        ("employment", "就业登记与失业保险", vec!["居民身份证原件", "劳动合同"]),
        ("medical_insurance", "医保参保登记", vec!["居民身份证原件"]),
        ("housing_fund", "住房公积金", vec!["居民身份证原件", "公积金联名卡"]),
    ] {
        categories.insert(code.to_string(), CategoryInfo { name: name.into(), materials: m.into_iter().map(String::from).collect() });
    }
    State {
        session: Some(pb::Session { window: 2, token: "sample".into() }),
        queue: Some(pb::MyQueue {
            window: Some(pb::WindowInfo {
                number: 2,
                name: "2号窗口".into(),
                state: 4,
                clerk_id: "c02".into(),
                clerk_name: "李*华".into(),
                ..Default::default()
            }),
            current: Some(current),
            waiting: vec![
                t("A024", "social_insurance", pb::PriorityClass::Elderly, 12, "赵*"),
                t("A025", "social_insurance", pb::PriorityClass::Normal, 11, ""),
                t("C009", "employment", pb::PriorityClass::Normal, 9, "孙*"),
                t("A026", "social_insurance", pb::PriorityClass::Veteran, 6, "周*芳"),
                t("A027", "social_insurance", pb::PriorityClass::Normal, 4, ""),
            ],
            waiting_total: 5,
            suspended: vec![t("A019", "social_insurance", pb::PriorityClass::Normal, 40, "吴*")],
            today: Some(pb::WindowFigures { served: 18, no_shows: 1, avg_handling_s: 372, avg_rating: 4.8, ratings: 15 }),
            device_alerts: vec![pb::DeviceAlert {
                device_id: "kiosk-2/printer".into(),
                kind: "printer".into(),
                status: "paper_near_end".into(),
                ..Default::default()
            }],
        }),
        categories,
        connected: true,
        message: "已呼叫 A023：本窗口主办业务，按取号先后".into(),
        hall_name: "区政务服务中心".into(),
        ..Default::default()
    }
}

/// The district's network as `ListPeerSites` answers it: a street centre
/// that answered and a community station that did not.
pub fn peers() -> Vec<pb::PeerSite> {
    let c = |code: &str, name: &str, waiting: u32, open: bool| pb::PeerCategory {
        code: code.into(),
        name_zh: name.into(),
        waiting,
        estimated_wait_min: waiting * 6,
        open_now: open,
        ..Default::default()
    };
    vec![
        pb::PeerSite {
            site: "610102-street-1".into(),
            name: "街道便民服务中心".into(),
            reachable: true,
            categories: vec![
                c("social_insurance", "社保卡申领与补换", 3, true),
                c("pension", "养老保险", 1, true),
                c("medical_insurance", "医保参保登记", 0, true),
                c("civil_affairs", "民政事务", 2, true),
                c("tax", "税务", 0, false),
            ],
            ..Default::default()
        },
        pb::PeerSite {
            site: "610102-community-1".into(),
            name: "社区便民服务站".into(),
            reachable: false,
            error: "no answer within 3 s".into(),
            ..Default::default()
        },
    ]
}

/// The same clerk at the community station's remote window (远程虚拟窗口).
pub fn remote_state(now_ms: i64) -> State {
    let mut st = state(now_ms);
    st.hall_name = "社区便民服务站".into();
    st.session = Some(pb::Session { window: 2, token: "sample".into() });
    if let Some(q) = st.queue.as_mut() {
        q.window = Some(pb::WindowInfo {
            number: 2,
            name: "2号远程窗口".into(),
            state: 4,
            clerk_id: "d-c12".into(),
            clerk_name: "李*华".into(),
            remote: true,
            staffed_from: "610102-district".into(),
            remote_desk: "区政务服务中心 12号窗口".into(),
            video_url: "https://meet.example.gov.cn/hall/c1-w2".into(),
            ..Default::default()
        });
        q.waiting.truncate(2);
        q.waiting_total = 2;
        q.suspended.clear();
        q.device_alerts.clear();
        if let Some(t) = q.current.as_mut() {
            t.number = "P004".into();
            t.category = "pension".into();
        }
    }
    st.message = "已呼叫 P004".into();
    st
}
