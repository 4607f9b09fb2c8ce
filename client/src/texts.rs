//! The one table of user-facing words the clients share, in Chinese and
//! English: server refusals, priority classes, printer states and the
//! connection banner.
//!
//! Refusals are read as typed values ([`Refusal::from_status`]) and worded by
//! their [`ErrorReason`] and metadata, never by the message text (which is for
//! logs and may change). A reason this table does not know is worded by its
//! gRPC code alone.
//!
//! Not for screen labels: those live in each client's `.slint` files.

use hall_proto::errors::{ErrorReason, Refusal};
use hall_proto::v1 as pb;
use tonic::Code;

/// The language of a screen: Chinese first, English selectable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub enum Lang {
    #[default]
    Zh,
    En,
}

impl Lang {
    pub fn from_en(en: bool) -> Lang {
        if en { Lang::En } else { Lang::Zh }
    }

    pub fn is_en(self) -> bool {
        self == Lang::En
    }

    /// The text of this language out of a pair.
    pub fn pick<T>(self, zh: T, en: T) -> T {
        match self {
            Lang::Zh => zh,
            Lang::En => en,
        }
    }
}

/// A server refusal (or transport failure) in words for the person at the
/// screen.
pub fn refusal(status: &tonic::Status, lang: Lang) -> String {
    refusal_text(&Refusal::from_status(status), lang)
}

/// [`refusal`] for an already decoded refusal.
pub fn refusal_text(r: &Refusal, lang: Lang) -> String {
    use ErrorReason as R;
    let m = |k: &str| r.meta(k).to_string();
    let (zh, en): (String, String) = match r.reason {
        R::InvalidField => {
            let fields: Vec<&str> = r.field_violations.iter().map(|(f, _)| f.as_str()).collect();
            (format!("输入有误：{}", fields.join("、")), format!("Please check: {}", fields.join(", ")))
        }
        R::InvalidIdNumber => ("身份证信息无法识别，请到咨询台办理。".into(), "The ID card could not be used; please ask at the desk.".into()),
        R::UnknownCategory => (format!("没有该事项（{}）。", m("category")), format!("There is no service '{}'.", m("category"))),
        R::UnknownWindow => (format!("没有 {} 号窗口。", m("window")), format!("There is no window {}.", m("window"))),
        R::UnknownTicket => (format!("没有找到号码 {}。", m("number")), format!("Number {} was not found.", m("number"))),
        R::OutsideHours => (
            format!("当前不在取号时间，下次取号时间 {}。", m("next_opening")),
            format!("Numbers are not issued now; next issuing time {}.", m("next_opening")),
        ),
        R::QuotaExhausted => ("该事项今日号源已取完，可预约其他日期办理。".into(), "Today's numbers for this service are all taken.".into()),
        R::AlreadyHoldsTicket => (
            format!("您今天已取过该事项的号 {}，请留意叫号，无需重复取号。", m("number")),
            format!("You already hold number {} for this service today; please wait for your call.", m("number")),
        ),
        R::PersonLimit => ("您今天取该事项的号已达上限。".into(), "You have reached today's limit for this service.".into()),
        R::IdCardRequired => ("该事项需要身份证，请将身份证放在感应区后重试。".into(), "This service needs your ID card: place it on the reader.".into()),
        R::NotLoggedIn | R::NoSession => ("登录已失效，请重新登录".into(), "The session has ended; please log in again.".into()),
        R::BadCredentials => ("工号或密码错误，请重新输入".into(), "Wrong clerk id or PIN; please try again.".into()),
        R::WindowTaken => (
            format!("该窗口已由 {} {} 登录，请联系其先退出", m("clerk"), m("clerk_name")),
            format!("This window is in use by {} {}; ask them to log out first.", m("clerk"), m("clerk_name")),
        ),
        R::ClerkElsewhere => (
            format!("您已在 {} 号窗口登录，请先在那里退出", m("window")),
            format!("You are logged in at window {}; log out there first.", m("window")),
        ),
        R::WindowPaused => ("窗口已暂停服务，请先恢复".into(), "The window is paused; resume it first.".into()),
        R::NoCurrentTicket => ("当前没有正在办理的号".into(), "There is no current ticket.".into()),
        R::WindowBusy => (
            format!("当前号 {}（{}）尚未处理完，请先办结、过号或挂起", m("number"), ticket_state_word(&m("state"), Lang::Zh)),
            format!("Ticket {} ({}) is not finished: finish, mark as no-show or suspend it first.", m("number"), ticket_state_word(&m("state"), Lang::En)),
        ),
        R::NothingWaiting => ("当前没有等候的号".into(), "Nobody is waiting.".into()),
        R::WrongState => (
            format!("号码 {} 现在是“{}”，不能这样操作", m("number"), ticket_state_word(&m("state"), Lang::Zh)),
            format!("Ticket {} is {}: this cannot be done now.", m("number"), ticket_state_word(&m("state"), Lang::En)),
        ),
        R::AlreadyRated => ("该号已经评价过".into(), "This ticket has already been rated.".into()),
        R::NoAppointment => ("没有查到您今天的预约，请直接取号或到咨询台。".into(), "No appointment found for you today; take a number or ask at the desk.".into()),
        R::UnknownAppointment => ("没有查到该预约。".into(), "That booking was not found.".into()),
        R::BookingBlocked => (
            format!("您近期多次预约未到（爽约 {} 次），{} 前暂不能预约，可到现场取号。", m("missed"), m("until")),
            format!("You missed {} appointments recently: booking is closed to you until {}. You can still take a number in the hall.", m("missed"), m("until")),
        ),
        R::BookingLimit => {
            let (zh, en) = if m("period") == "month" { ("每月", "month") } else { ("每周", "week") };
            (
                format!("每人{zh}最多预约 {} 次，已达上限。", m("limit")),
                format!("At most {} bookings per person per {en}: you have reached it.", m("limit")),
            )
        }
        R::RemoteShareExhausted => (
            "今日线上取号名额已满，请到大厅现场取号。".into(),
            "Today's remote numbers for this service are all taken; please take a number in the hall.".into(),
        ),
        R::BadCode => ("验证码错误或已过期，请重新获取。".into(), "The code is wrong or has expired; ask for a new one.".into()),
        R::SiteUnreachable => (
            format!("{} 暂时无法连接，号仍在本窗口，请稍后重试。", m("site")),
            format!("{} cannot be reached; the ticket stays here. Try again shortly.", m("site")),
        ),
        R::TokenRejected => (
            "本机未获授权取号（设备令牌无效），请到咨询台或使用其他取号机。".into(),
            "This kiosk is not authorised (device token refused); please use another kiosk or ask at the desk.".into(),
        ),
        R::CertificateRequired => (
            "本机证书缺失或已吊销，未获授权，请联系管理员重新登记设备。".into(),
            "This device has no valid hall certificate (missing or revoked); ask the administrator to enroll it.".into(),
        ),
        R::RoleForbidden => (
            format!("本机（{}）无权执行此操作", m("role")),
            format!("This device ({}) may not do this.", m("role")),
        ),
        R::TicketSecretMismatch => (
            "需要凭取号小票上的二维码才能取消该号。".into(),
            "Cancelling this ticket needs the QR code on its slip.".into(),
        ),
        R::WrongWindow => (
            "本评价器属于其他窗口。".into(),
            "This rating pad belongs to another window.".into(),
        ),
        R::CrossSiteRefused => (
            "请求来源不符，已拒绝。".into(),
            "Refused: the request came from another site.".into(),
        ),
        R::StaffSessionInvalid => (
            "登录已过期或已在别处结束，请重新登录。".into(),
            "Your staff session has ended (expired, logged out or opened elsewhere); please log in again.".into(),
        ),
        R::PairingCodeInvalid => ("配对码无效、已使用或已过期，请重新生成。".into(), "The pairing code is unknown, used or expired; make a new one.".into()),
        R::PriorityNotAllowed => ("绿色通道需读取身份证并达到规定年龄。".into(), "The green channel needs an ID card showing the required age.".into()),
        R::LockedOut => {
            let minutes = m("retry_after_s").parse::<u64>().unwrap_or(900).div_ceil(60);
            let (who_zh, who_en) = if m("scope") == "device" {
                ("本机", "from this terminal")
            } else {
                ("该工号", "for this clerk id")
            };
            (
                format!("{who_zh}登录失败次数过多，已锁定，请 {minutes} 分钟后再试或联系值班长"),
                format!("Too many failed logins {who_en}: locked, try again in {minutes} min or ask the supervisor."),
            )
        }
        R::StorageFull => (
            "系统存储空间已满，暂时无法办理，请联系工作人员；空间恢复后自动继续。".into(),
            "The server's disk is full: this cannot be saved now; please tell staff. Service resumes by itself once space is freed.".into(),
        ),
        R::StorageUnavailable | R::ShuttingDown => ("服务器暂时无法处理，请稍后重试。".into(), "The server cannot take this right now; please try again shortly.".into()),
        R::UnknownFollowUp | R::CatalogConflict | R::Unspecified => return by_code(r, lang),
    };
    lang.pick(zh, en)
}

/// A refusal without a reason this table knows: worded by its gRPC code.
fn by_code(r: &Refusal, lang: Lang) -> String {
    let (zh, en) = match r.code {
        Code::Unavailable | Code::Cancelled | Code::DeadlineExceeded => ("与服务器连接中断，正在重连", "Connection to the server lost; reconnecting"),
        Code::Unauthenticated => ("本机未获授权，请联系工作人员", "Not authorised; please ask staff"),
        Code::PermissionDenied => ("没有权限进行此操作", "Not allowed"),
        Code::NotFound => ("没有找到", "Not found"),
        Code::InvalidArgument => ("输入有误", "Invalid input"),
        Code::FailedPrecondition => ("现在不能这样操作", "This cannot be done now"),
        Code::ResourceExhausted => ("已达上限", "Limit reached"),
        Code::AlreadyExists => ("已经办理过", "Already done"),
        _ => ("操作未完成，请重试或联系工作人员", "Not done; please try again or ask staff"),
    };
    lang.pick(zh, en).to_string()
}

/// A ticket state as the server names it in refusal metadata ("called").
fn ticket_state_word(state: &str, lang: Lang) -> &'static str {
    let (zh, en) = match state.to_ascii_lowercase().as_str() {
        "waiting" => ("等候中", "waiting"),
        "called" => ("已呼叫", "called"),
        "serving" => ("办理中", "being served"),
        "suspended" => ("已挂起", "suspended"),
        "done" => ("已办结", "done"),
        _ => ("其他状态", "in another state"),
    };
    lang.pick(zh, en)
}

/// The words for a priority class ("" for normal tickets). The same words
/// on the kiosk, the slip, the counter terminal and the board.
pub fn priority(p: pb::PriorityClass, lang: Lang) -> &'static str {
    use pb::PriorityClass as P;
    let (zh, en) = match p {
        P::Elderly => ("绿色通道", "Green channel"),
        P::Disabled => ("残疾人优先", "Disability priority"),
        P::Veteran => ("军人优先", "Veteran priority"),
        P::Pregnant => ("孕妇优先", "Pregnancy priority"),
        P::Appointment => ("预约", "Appointment"),
        P::KeyProject => ("帮办代办", "Assisted"),
        _ => ("", ""),
    };
    lang.pick(zh, en)
}

/// [`priority`] for the wire's `i32`.
pub fn priority_of(p: i32, lang: Lang) -> &'static str {
    priority(pb::PriorityClass::try_from(p).unwrap_or(pb::PriorityClass::Normal), lang)
}

/// A printer state code (`paper_out`, `cover_open`, …) in words.
pub fn printer_state(code: &str, lang: Lang) -> &'static str {
    let (zh, en) = match code {
        "paper_out" => ("打印纸已用完", "The printer is out of paper"),
        "paper_near_end" => ("打印纸将尽，请及时更换", "The paper roll is nearly used up"),
        "cover_open" => ("打印机盖未关好", "The printer cover is open"),
        "cutter_error" => ("打印机切纸故障", "The printer's cutter is jammed"),
        "offline" => ("打印机未连接或无响应", "The printer does not answer"),
        _ => ("打印机故障", "The printer has a fault"),
    };
    lang.pick(zh, en)
}

/// The connection banner: "与服务器连接中断，正在重连…（自 09:05:12 起）".
pub fn reconnecting(since_local: &str, lang: Lang) -> String {
    match (lang, since_local.is_empty()) {
        (Lang::Zh, true) => "与服务器连接中断，正在重连…".into(),
        (Lang::Zh, false) => format!("与服务器连接中断，正在重连…（自 {since_local} 起）"),
        (Lang::En, true) => "Connection lost, reconnecting…".into(),
        (Lang::En, false) => format!("Connection lost since {since_local}, reconnecting…"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hall_proto::errors::Refusal;

    fn wire(r: Refusal) -> tonic::Status {
        r.into_status()
    }

    #[test]
    fn refusals_are_worded_by_reason_and_metadata_not_by_message() {
        let s = wire(
            Refusal::new(Code::AlreadyExists, ErrorReason::AlreadyHoldsTicket, "whatever the server says").with("number", "A007"),
        );
        assert_eq!(refusal(&s, Lang::Zh), "您今天已取过该事项的号 A007，请留意叫号，无需重复取号。");
        assert!(refusal(&s, Lang::En).contains("A007"));
        let s = wire(
            Refusal::new(Code::FailedPrecondition, ErrorReason::WindowBusy, "")
                .with("number", "A023")
                .with("state", "called"),
        );
        assert_eq!(refusal(&s, Lang::Zh), "当前号 A023（已呼叫）尚未处理完，请先办结、过号或挂起");
        let s = wire(Refusal::new(Code::FailedPrecondition, ErrorReason::OutsideHours, "").with("next_opening", "2026-11-30 09:00"));
        assert_eq!(refusal(&s, Lang::Zh), "当前不在取号时间，下次取号时间 2026-11-30 09:00。");
        let s = wire(Refusal::new(Code::ResourceExhausted, ErrorReason::QuotaExhausted, "").with("category", "a").with("quota", 200));
        assert_eq!(refusal(&s, Lang::En), "Today's numbers for this service are all taken.");
    }

    #[test]
    fn an_unknown_reason_is_worded_by_its_code() {
        // A plain status (a proxy, an older server): the message is not read.
        let s = tonic::Status::failed_precondition("window 3 is paused");
        assert_eq!(refusal(&s, Lang::Zh), "现在不能这样操作");
        assert_eq!(refusal(&tonic::Status::unavailable("x"), Lang::En), "Connection to the server lost; reconnecting");
    }

    #[test]
    fn one_wording_per_priority_class() {
        assert_eq!(priority(pb::PriorityClass::Elderly, Lang::Zh), "绿色通道");
        assert_eq!(priority_of(pb::PriorityClass::Veteran as i32, Lang::En), "Veteran priority");
        assert_eq!(priority(pb::PriorityClass::Normal, Lang::Zh), "");
    }
}
