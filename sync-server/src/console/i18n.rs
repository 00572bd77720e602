//! The console's words: one table per language, Chinese first ([`ZH`]) and English ([`EN`]).
//!
//! Every string a page shows is a field of [`Texts`], so a table missing a word does not
//! compile, and a page cannot show a string that has no translation. Vocabulary labels (case
//! statuses, urgencies, task kinds, categories) come from `gridwalk-domain`, the same labels the
//! phone shows; [`Lang`] picks the column. The language is a cookie (`gw_lang`), not a server
//! setting: switching it changes nothing stored.

use gridwalk_protocol::Role;

/// A console language.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lang {
    #[default]
    Zh,
    En,
}

impl Lang {
    /// The cookie value.
    pub fn code(self) -> &'static str {
        match self {
            Lang::Zh => "zh",
            Lang::En => "en",
        }
    }

    pub fn parse(s: &str) -> Option<Lang> {
        match s {
            "zh" => Some(Lang::Zh),
            "en" => Some(Lang::En),
            _ => None,
        }
    }

    /// The `lang` attribute of the page.
    pub fn html_lang(self) -> &'static str {
        match self {
            Lang::Zh => "zh-CN",
            Lang::En => "en",
        }
    }

    /// The other language (the switch link).
    pub fn other(self) -> Lang {
        match self {
            Lang::Zh => Lang::En,
            Lang::En => Lang::Zh,
        }
    }

    pub fn texts(self) -> &'static Texts {
        match self {
            Lang::Zh => &ZH,
            Lang::En => &EN,
        }
    }

    /// Picks the label of a (zh, en) pair.
    pub fn pick<'a>(self, zh: &'a str, en: &'a str) -> &'a str {
        match self {
            Lang::Zh => zh,
            Lang::En => en,
        }
    }

    pub fn role(self, role: Role) -> &'static str {
        let t = self.texts();
        match role {
            Role::GridWorker => t.role_grid_worker,
            Role::GridLeader => t.role_grid_leader,
            Role::Community => t.role_community,
            Role::Street => t.role_street,
            Role::District => t.role_district,
        }
    }

    /// Label of a case status code (the code itself when unknown).
    pub fn case_status(self, code: &str) -> String {
        code.parse::<gridwalk_domain::model::CaseStatus>()
            .map(|s| self.pick(s.label_zh(), s.label_en()).to_string())
            .unwrap_or_else(|_| code.to_string())
    }

    pub fn urgency(self, code: &str) -> String {
        code.parse::<gridwalk_domain::model::Urgency>()
            .map(|s| self.pick(s.label_zh(), s.label_en()).to_string())
            .unwrap_or_else(|_| code.to_string())
    }

    pub fn task_kind(self, code: &str) -> String {
        code.parse::<gridwalk_domain::model::TaskKind>()
            .map(|s| self.pick(s.label_zh(), s.label_en()).to_string())
            .unwrap_or_else(|_| code.to_string())
    }

    pub fn task_status(self, code: &str) -> String {
        code.parse::<gridwalk_domain::model::TaskStatus>()
            .map(|s| self.pick(s.label_zh(), s.label_en()).to_string())
            .unwrap_or_else(|_| code.to_string())
    }

    pub fn priority(self, code: &str) -> String {
        code.parse::<gridwalk_domain::model::Priority>()
            .map(|s| self.pick(s.label_zh(), s.label_en()).to_string())
            .unwrap_or_else(|_| code.to_string())
    }

    pub fn category(self, code: &str) -> String {
        gridwalk_domain::taxonomy::CATEGORIES
            .iter()
            .find(|c| c.0 == code)
            .map(|c| self.pick(c.1, c.2).to_string())
            .unwrap_or_else(|| code.to_string())
    }

    pub fn case_type(self, code: &str) -> String {
        gridwalk_domain::taxonomy::case_type(code)
            .map(|t| self.pick(t.zh, t.en).to_string())
            .unwrap_or_else(|| code.to_string())
    }

    /// Label of a case action code.
    pub fn action(self, code: &str) -> &'static str {
        let t = self.texts();
        match code {
            "accept" | "register" => t.act_accept,
            "dispatch" => t.act_dispatch,
            "handle" => t.act_handle,
            "request_verification" => t.act_request_verification,
            "verify" => t.act_verify,
            "reject" => t.act_reject,
            "close" => t.act_close,
            "archive" => t.act_archive,
            "return" => t.act_return,
            "escalate" => t.act_escalate,
            "call_back" => t.act_call_back,
            "evaluate" => t.act_evaluate,
            "record_call_back" => t.act_record_call_back,
            "reopen" => t.act_reopen,
            _ => t.act_other,
        }
    }

    /// Label of a case event kind.
    pub fn event_kind(self, code: &str) -> &'static str {
        let t = self.texts();
        match code {
            "created" => t.ev_created,
            "edited" => t.ev_edited,
            "photo_added" => t.ev_photo_added,
            "submitted" => t.ev_submitted,
            "verification" => t.ev_verification,
            "call_back" => t.ev_call_back,
            _ => t.ev_server_update,
        }
    }

    pub fn satisfaction(self, code: &str) -> &'static str {
        let t = self.texts();
        match code {
            "satisfied" => t.satisfied,
            "basic" => t.basic,
            "unsatisfied" => t.unsatisfied,
            _ => t.unknown,
        }
    }

    /// A duration such as "2天3小时" / "2 d 3 h" (minutes under an hour).
    pub fn duration(self, ms: i64) -> String {
        let mins = (ms.unsigned_abs() / 60_000) as i64;
        let (d, h, m) = (mins / 1440, (mins % 1440) / 60, mins % 60);
        match self {
            Lang::Zh => match (d, h) {
                (0, 0) => format!("{m}分钟"),
                (0, h) => format!("{h}小时{m}分"),
                (d, h) => format!("{d}天{h}小时"),
            },
            Lang::En => match (d, h) {
                (0, 0) => format!("{m} min"),
                (0, h) => format!("{h} h {m} min"),
                (d, h) => format!("{d} d {h} h"),
            },
        }
    }
}

/// A time in China Standard Time, `YYYY-MM-DD HH:MM` (the same in both languages).
pub fn datetime(ms: i64) -> String {
    use chrono::TimeZone;
    chrono::FixedOffset::east_opt(8 * 3600)
        .and_then(|tz| tz.timestamp_millis_opt(ms).single())
        .map(|t| t.format("%Y-%m-%d %H:%M").to_string())
        .unwrap_or_default()
}

/// Today's date in China (`YYYY-MM-DD`).
pub fn today(now_ms: i64) -> String {
    datetime(now_ms).get(..10).unwrap_or("").to_string()
}

/// Every string of the console, in one language.
pub struct Texts {
    pub app_name: &'static str,
    pub nav_queue: &'static str,
    pub nav_tasks: &'static str,
    pub nav_deadlines: &'static str,
    pub nav_map: &'static str,
    pub nav_warnings: &'static str,
    pub nav_workers: &'static str,
    pub nav_ledgers: &'static str,
    pub sign_out: &'static str,
    pub switch_to: &'static str,
    pub skip_to_content: &'static str,

    pub role_grid_worker: &'static str,
    pub role_grid_leader: &'static str,
    pub role_community: &'static str,
    pub role_street: &'static str,
    pub role_district: &'static str,

    pub login_title: &'static str,
    pub login_hint: &'static str,
    pub username: &'static str,
    pub password: &'static str,
    pub sign_in: &'static str,
    pub bad_credentials: &'static str,
    pub too_many_attempts: &'static str,
    pub user_disabled: &'static str,
    pub worker_refused_title: &'static str,
    pub worker_refused: &'static str,
    pub signed_out: &'static str,

    pub not_found_title: &'static str,
    pub not_found_body: &'static str,
    pub csrf_title: &'static str,
    pub csrf_body: &'static str,
    pub forbidden_title: &'static str,
    pub forbidden_body: &'static str,
    pub invalid_title: &'static str,
    pub invalid_body: &'static str,
    pub refused_title: &'static str,
    pub refused_body: &'static str,
    pub server_error_title: &'static str,
    pub server_error_body: &'static str,
    pub error_code: &'static str,
    pub back: &'static str,
    pub field: &'static str,

    pub queue_title: &'static str,
    pub status: &'static str,
    pub category: &'static str,
    pub grid: &'static str,
    pub urgency: &'static str,
    pub reporter: &'static str,
    pub overdue_only: &'static str,
    pub any: &'static str,
    pub filter: &'static str,
    pub reset: &'static str,
    pub col_light: &'static str,
    pub col_type: &'static str,
    pub col_address: &'static str,
    pub col_received: &'static str,
    pub col_time_left: &'static str,
    pub by_status: &'static str,
    pub total: &'static str,
    pub no_cases: &'static str,
    pub next_page: &'static str,
    pub prev_page: &'static str,
    pub first_page: &'static str,
    pub light_red: &'static str,
    pub light_yellow: &'static str,
    pub light_green: &'static str,
    pub light_grey: &'static str,
    pub light_rule: &'static str,
    pub overdue_by: &'static str,
    pub left: &'static str,
    pub to_accept: &'static str,

    pub case_title: &'static str,
    pub description: &'static str,
    pub location: &'static str,
    pub no_location: &'static str,
    pub outside_grid: &'static str,
    pub timeline: &'static str,
    pub photos_before: &'static str,
    pub photos_after: &'static str,
    pub no_photos: &'static str,
    pub photo_pending: &'static str,
    pub actions: &'static str,
    pub no_actions: &'static str,
    pub reason: &'static str,
    pub reason_required: &'static str,
    pub note_optional: &'static str,
    pub assignee: &'static str,
    pub score: &'static str,
    pub reached: &'static str,
    pub reached_yes: &'static str,
    pub reached_no: &'static str,
    pub satisfaction: &'static str,
    pub satisfied: &'static str,
    pub basic: &'static str,
    pub unsatisfied: &'static str,
    pub unknown: &'static str,
    pub unsatisfied_reopens: &'static str,
    pub evaluation: &'static str,
    pub callback: &'static str,
    pub deadline: &'static str,
    pub received: &'static str,
    pub assigned_to: &'static str,
    pub escalated_to: &'static str,
    pub reopened: &'static str,
    pub related_tasks: &'static str,
    pub by: &'static str,
    pub map_caption: &'static str,

    pub act_accept: &'static str,
    pub act_dispatch: &'static str,
    pub act_handle: &'static str,
    pub act_request_verification: &'static str,
    pub act_verify: &'static str,
    pub act_reject: &'static str,
    pub act_close: &'static str,
    pub act_archive: &'static str,
    pub act_return: &'static str,
    pub act_escalate: &'static str,
    pub act_call_back: &'static str,
    pub act_evaluate: &'static str,
    pub act_record_call_back: &'static str,
    pub act_reopen: &'static str,
    pub act_other: &'static str,

    pub ev_created: &'static str,
    pub ev_edited: &'static str,
    pub ev_photo_added: &'static str,
    pub ev_submitted: &'static str,
    pub ev_verification: &'static str,
    pub ev_call_back: &'static str,
    pub ev_server_update: &'static str,

    pub tasks_title: &'static str,
    pub new_task: &'static str,
    pub task_kind: &'static str,
    pub task_title: &'static str,
    pub assign_to: &'static str,
    pub due_on: &'static str,
    pub priority: &'static str,
    pub notes: &'static str,
    pub target_case: &'static str,
    pub create_task: &'static str,
    pub task_created: &'static str,
    pub created_by: &'static str,
    pub no_tasks: &'static str,
    pub more: &'static str,
    pub whole_grid: &'static str,

    pub deadlines_title: &'static str,
    pub deadlines_intro: &'static str,
    pub hours: &'static str,
    pub save: &'static str,
    pub district_only: &'static str,
    pub saved: &'static str,
}

/// 简体中文 (default).
pub const ZH: Texts = Texts {
    app_name: "网格通 · 监督控制台",
    nav_queue: "事件工单",
    nav_tasks: "任务派发",
    nav_deadlines: "处置时限",
    nav_map: "一图一表",
    nav_warnings: "预警",
    nav_workers: "工作统计",
    nav_ledgers: "台账",
    sign_out: "退出登录",
    switch_to: "English",
    skip_to_content: "跳到正文",

    role_grid_worker: "网格员",
    role_grid_leader: "网格长",
    role_community: "社区",
    role_street: "街道",
    role_district: "区级",

    login_title: "登录控制台",
    login_hint: "使用与手机应用相同的账号登录。",
    username: "用户名",
    password: "密码",
    sign_in: "登录",
    bad_credentials: "用户名或密码错误。",
    too_many_attempts: "登录失败次数过多，请稍后再试。",
    user_disabled: "此账号已停用。",
    worker_refused_title: "控制台仅供管理人员使用",
    worker_refused: "控制台供网格长、社区、街道和区级人员使用。网格员请继续使用手机应用处理任务和上报事件。",
    signed_out: "您已退出登录。",

    not_found_title: "未找到",
    not_found_body: "此页面或记录不存在，或不在您的管辖范围内。",
    csrf_title: "请求已拒绝",
    csrf_body: "表单已过期或来源不明（CSRF 校验未通过），未做任何修改。请返回页面刷新后重试。",
    forbidden_title: "无权操作",
    forbidden_body: "您的角色不能执行此操作。",
    invalid_title: "输入有误",
    invalid_body: "提交的内容有误，未做任何修改。",
    refused_title: "操作未执行",
    refused_body: "事件当前状态不允许此操作（可能已被他人处理），未做任何修改。",
    server_error_title: "服务器错误",
    server_error_body: "服务器出现错误，未做任何修改。请稍后再试。",
    error_code: "错误代码",
    back: "返回",
    field: "字段",

    queue_title: "事件工单",
    status: "状态",
    category: "类别",
    grid: "网格",
    urgency: "紧急程度",
    reporter: "上报人",
    overdue_only: "仅看超期",
    any: "全部",
    filter: "筛选",
    reset: "清除筛选",
    col_light: "时限",
    col_type: "事件类型",
    col_address: "地点",
    col_received: "上报时间",
    col_time_left: "剩余时间",
    by_status: "各状态数量",
    total: "合计",
    no_cases: "没有符合条件的事件。",
    next_page: "下一页",
    prev_page: "上一页",
    first_page: "第一页",
    light_red: "已超期",
    light_yellow: "即将到期",
    light_green: "时限充足",
    light_grey: "不计时",
    light_rule: "红灯：已超过时限；黄灯：剩余时间不足总时限的四分之一；绿灯：其余在办事件；灰色：已核查、已结案、已归档或已退回，不再计时。待受理事件须在上报后 24 小时内受理，受理后按类别和紧急程度计算处置时限。",
    overdue_by: "超期",
    left: "剩余",
    to_accept: "待受理",

    case_title: "事件详情",
    description: "描述",
    location: "位置",
    no_location: "未记录位置",
    outside_grid: "位置在网格边界之外",
    timeline: "处置过程",
    photos_before: "上报照片",
    photos_after: "核查照片",
    no_photos: "无照片",
    photo_pending: "照片尚未上传",
    actions: "可执行操作",
    no_actions: "当前状态下没有可执行的操作。",
    reason: "原因",
    reason_required: "原因（必填）",
    note_optional: "备注（可选）",
    assignee: "派遣对象（部门或人员）",
    score: "评分（1-5）",
    reached: "是否联系上",
    reached_yes: "已联系上",
    reached_no: "未联系上",
    satisfaction: "满意度",
    satisfied: "满意",
    basic: "基本满意",
    unsatisfied: "不满意",
    unknown: "未知",
    unsatisfied_reopens: "回访不满意将重新打开事件，退回处置。",
    evaluation: "评价",
    callback: "满意度回访",
    deadline: "处置时限",
    received: "上报时间",
    assigned_to: "派遣至",
    escalated_to: "已上报至",
    reopened: "重新处置次数",
    related_tasks: "相关任务",
    by: "操作人",
    map_caption: "网格边界与事件位置",

    act_accept: "受理",
    act_dispatch: "派遣",
    act_handle: "开始处置",
    act_request_verification: "申请核查",
    act_verify: "核查通过",
    act_reject: "核查不通过",
    act_close: "结案",
    act_archive: "归档",
    act_return: "退回",
    act_escalate: "上报上级",
    act_call_back: "派发回访任务",
    act_evaluate: "评价",
    act_record_call_back: "记录回访结果",
    act_reopen: "重新处置",
    act_other: "操作",

    ev_created: "创建",
    ev_edited: "修改",
    ev_photo_added: "添加照片",
    ev_submitted: "上报",
    ev_verification: "现场核查",
    ev_call_back: "回访",
    ev_server_update: "状态更新",

    tasks_title: "任务派发",
    new_task: "派发新任务",
    task_kind: "任务类型",
    task_title: "任务标题",
    assign_to: "执行人",
    due_on: "截止日期",
    priority: "优先级",
    notes: "说明",
    target_case: "关联事件编号（可选）",
    create_task: "派发任务",
    task_created: "任务已派发，执行人下次同步时收到。",
    created_by: "派发人",
    no_tasks: "暂无任务。",
    more: "更多",
    whole_grid: "整个网格",

    deadlines_title: "处置时限",
    deadlines_intro: "各类事件在不同紧急程度下，自受理起的处置时限（小时）。修改只影响此后受理或重新处置的事件。",
    hours: "小时",
    save: "保存",
    district_only: "仅区级人员可以修改处置时限。",
    saved: "已保存。",
};

/// English.
pub const EN: Texts = Texts {
    app_name: "Gridwalk · Supervisor console",
    nav_queue: "Case queue",
    nav_tasks: "Tasks",
    nav_deadlines: "Deadlines",
    nav_map: "Map",
    nav_warnings: "Warnings",
    nav_workers: "Workers",
    nav_ledgers: "Ledgers",
    sign_out: "Sign out",
    switch_to: "中文",
    skip_to_content: "Skip to content",

    role_grid_worker: "Grid worker",
    role_grid_leader: "Grid leader",
    role_community: "Community",
    role_street: "Street",
    role_district: "District",

    login_title: "Sign in to the console",
    login_hint: "Use the same account as in the phone app.",
    username: "User name",
    password: "Password",
    sign_in: "Sign in",
    bad_credentials: "Wrong user name or password.",
    too_many_attempts: "Too many failed sign-ins. Try again later.",
    user_disabled: "This account is disabled.",
    worker_refused_title: "The console is for supervisors",
    worker_refused: "The console is for grid leaders and community, street and district staff. Grid workers: please keep using the phone app for tasks and cases.",
    signed_out: "You are signed out.",

    not_found_title: "Not found",
    not_found_body: "This page or record does not exist, or it is outside your scope.",
    csrf_title: "Request refused",
    csrf_body: "The form expired or came from elsewhere (CSRF check failed); nothing was changed. Go back, reload the page and try again.",
    forbidden_title: "Not allowed",
    forbidden_body: "Your role cannot do this.",
    invalid_title: "Invalid input",
    invalid_body: "Something in the form is not valid; nothing was changed.",
    refused_title: "Not done",
    refused_body: "The case's current status does not allow this (someone may have acted on it); nothing was changed.",
    server_error_title: "Server error",
    server_error_body: "The server failed; nothing was changed. Try again later.",
    error_code: "Error code",
    back: "Back",
    field: "Field",

    queue_title: "Case queue",
    status: "Status",
    category: "Category",
    grid: "Grid",
    urgency: "Urgency",
    reporter: "Reporter",
    overdue_only: "Overdue only",
    any: "Any",
    filter: "Filter",
    reset: "Clear filters",
    col_light: "Deadline",
    col_type: "Type",
    col_address: "Place",
    col_received: "Reported",
    col_time_left: "Time left",
    by_status: "By status",
    total: "Total",
    no_cases: "No cases match.",
    next_page: "Next page",
    prev_page: "Previous page",
    first_page: "First page",
    light_red: "Overdue",
    light_yellow: "Due soon",
    light_green: "On time",
    light_grey: "Not running",
    light_rule: "Red: past its deadline. Yellow: less than a quarter of the allowed time left. Green: every other open case. Grey: verified, closed, archived or returned — no clock runs. A reported case must be accepted within 24 hours; from acceptance the deadline of its category and urgency runs.",
    overdue_by: "Overdue by",
    left: "left",
    to_accept: "to accept",

    case_title: "Case",
    description: "Description",
    location: "Location",
    no_location: "No location recorded",
    outside_grid: "Located outside the grid boundary",
    timeline: "Timeline",
    photos_before: "Photos at report",
    photos_after: "Photos at verification",
    no_photos: "No photos",
    photo_pending: "Not uploaded yet",
    actions: "Actions",
    no_actions: "No action is possible in the current status.",
    reason: "Reason",
    reason_required: "Reason (required)",
    note_optional: "Note (optional)",
    assignee: "Dispatch to (department or person)",
    score: "Score (1-5)",
    reached: "Reached?",
    reached_yes: "Reached",
    reached_no: "Not reached",
    satisfaction: "Satisfaction",
    satisfied: "Satisfied",
    basic: "Basically satisfied",
    unsatisfied: "Unsatisfied",
    unknown: "Unknown",
    unsatisfied_reopens: "An unsatisfied answer reopens the case for handling.",
    evaluation: "Evaluation",
    callback: "Satisfaction call-back",
    deadline: "Deadline",
    received: "Reported",
    assigned_to: "Dispatched to",
    escalated_to: "Escalated to",
    reopened: "Times reopened",
    related_tasks: "Related tasks",
    by: "By",
    map_caption: "Grid boundary and case location",

    act_accept: "Accept",
    act_dispatch: "Dispatch",
    act_handle: "Start handling",
    act_request_verification: "Request verification",
    act_verify: "Verification passed",
    act_reject: "Verification failed",
    act_close: "Close",
    act_archive: "Archive",
    act_return: "Return",
    act_escalate: "Escalate",
    act_call_back: "Send a call-back task",
    act_evaluate: "Evaluate",
    act_record_call_back: "Record call-back",
    act_reopen: "Reopen",
    act_other: "Action",

    ev_created: "Created",
    ev_edited: "Edited",
    ev_photo_added: "Photo added",
    ev_submitted: "Reported",
    ev_verification: "On-site verification",
    ev_call_back: "Call-back",
    ev_server_update: "Status update",

    tasks_title: "Tasks",
    new_task: "Assign a task",
    task_kind: "Kind",
    task_title: "Title",
    assign_to: "Worker",
    due_on: "Due on",
    priority: "Priority",
    notes: "Notes",
    target_case: "Case id (optional)",
    create_task: "Assign",
    task_created: "Task assigned; the worker receives it at the next sync.",
    created_by: "Assigned by",
    no_tasks: "No tasks.",
    more: "More",
    whole_grid: "Whole grid",

    deadlines_title: "Deadlines",
    deadlines_intro: "Hours from acceptance to handle a case, per category and urgency. A change applies to cases accepted or reopened from now on.",
    hours: "hours",
    save: "Save",
    district_only: "Only district staff may change deadlines.",
    saved: "Saved.",
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_naturally() {
        assert_eq!(Lang::Zh.duration(90 * 60_000), "1小时30分");
        assert_eq!(Lang::En.duration(-(26 * 3_600_000)), "1 d 2 h");
        assert_eq!(Lang::Zh.duration(59_000), "0分钟");
    }

    #[test]
    fn labels_come_from_the_domain() {
        assert_eq!(Lang::Zh.case_status("handling"), "处置中");
        assert_eq!(Lang::En.case_status("handling"), "handling");
        assert_eq!(Lang::Zh.category("02"), "公共安全");
        assert_eq!(Lang::Zh.case_type("0203"), "电动车违规充电");
        assert_eq!(Lang::Zh.case_status("nonsense"), "nonsense");
        assert_eq!(Lang::parse("en"), Some(Lang::En));
        assert_eq!(Lang::parse("fr"), None);
    }
}
