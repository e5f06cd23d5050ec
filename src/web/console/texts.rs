//! The console's words in English and Russian: one table, so a word missing in one
//! language does not compile.

use crate::web::pages::Lang;

macro_rules! texts {
    ($($name:ident: $en:literal, $ru:literal;)*) => {
        pub struct ConsoleTexts { $(pub $name: &'static str,)* }
        const EN: ConsoleTexts = ConsoleTexts { $($name: $en,)* };
        const RU: ConsoleTexts = ConsoleTexts { $($name: $ru,)* };
    };
}

texts! {
    console: "Console", "Консоль";
    people: "People", "Сотрудники";
    offboardings: "Offboardings", "Увольнения";
    access_review: "Access review", "Обзор доступа";
    channels: "Channels", "Каналы";
    directory: "Directory", "Каталог";
    agreements: "Agreements", "Соглашения";
    audit: "Audit", "Аудит";
    status: "Status", "Состояние";
    my_access: "My access", "Мой доступ";
    no_role: "Your directory groups give you no console role. Ask an administrator if you need one.", "Ваши группы в каталоге не дают доступа к консоли. Если он нужен, обратитесь к администратору.";
    role_admin: "admin", "администратор";
    role_hr: "HR", "отдел кадров";
    role_auditor: "auditor", "аудитор";
    search: "Search", "Поиск";
    search_hint: "name, username or e-mail", "имя, логин или e-mail";
    any: "any", "любой";
    filter: "Filter", "Показать";
    username: "Username", "Логин";
    name: "Name", "Имя";
    email: "E-mail", "E-mail";
    status_col: "Status", "Статус";
    source: "Source", "Источник";
    group: "Group", "Группа";
    groups: "Groups", "Группы";
    tags: "Tags", "Метки";
    totp: "TOTP", "TOTP";
    nda: "NDA", "NDA";
    last_signin: "Last sign-in", "Последний вход";
    last_use: "Last use", "Последнее использование";
    live_tokens: "Live tokens", "Действующие токены";
    leaves: "Leaves", "Уходит";
    yes: "yes", "да";
    no: "no", "нет";
    never: "never", "никогда";
    next_page: "Next page", "Следующая страница";
    first_page: "First page", "Первая страница";
    nobody: "Nobody matches.", "Никого не найдено.";
    status_active: "active", "работает";
    status_pending: "pending first login", "ждёт первого входа";
    status_offboarded: "offboarded", "уволен";
    reaches: "Channels this person reaches", "Каналы, доступные сотруднику";
    channel: "Channel", "Канал";
    actions: "Actions", "Действия";
    granted_by: "Granted by", "Разрешено политикой";
    reaches_nothing: "No policy gives this person any channel.", "Ни одна политика не даёт сотруднику доступа к каналам.";
    tokens: "Tokens", "Токены";
    issued: "Issued", "Выдан";
    expires: "Expires", "Истекает";
    sessions: "Sessions", "Сеансы";
    started: "Started", "Начат";
    device: "Device", "Устройство";
    agreements_signed: "Agreements acknowledged", "Подписанные соглашения";
    version: "Version", "Версия";
    when: "When", "Когда";
    totp_enrolled: "enrolled", "подключён";
    totp_missing: "not enrolled", "не подключён";
    offboard_now: "Offboard now", "Уволить сейчас";
    reason: "Reason", "Причина";
    reason_needed: "A reason is required (at most 500 characters).", "Нужна причина (не длиннее 500 символов).";
    review_first: "Review what will be revoked", "Посмотреть, что будет отозвано";
    confirm_offboard: "Confirm: offboard", "Подтвердить увольнение";
    will_revoke: "This revokes at once, on every replica:", "Это сразу, на всех репликах, отзывает:";
    will_tokens: "live tokens", "действующих токенов";
    will_sessions: "every session and API key of this person", "все сеансы и API-ключи сотрудника";
    will_channels: "access to these channels", "доступ к каналам";
    cancel: "Cancel", "Отмена";
    schedule: "Schedule offboarding", "Запланировать увольнение";
    schedule_at: "Date and time", "Дата и время";
    zone: "Time zone", "Часовой пояс";
    schedule_button: "Schedule", "Запланировать";
    scheduled_for: "Scheduled to leave", "Запланировано увольнение";
    cancel_schedule: "Cancel this schedule", "Отменить";
    bad_time: "Give a date and time in the future, and a time zone such as Europe/Moscow.", "Укажите будущие дату и время и часовой пояс, например Europe/Moscow.";
    reinstate: "Reinstate", "Восстановить";
    reset_totp: "Reset TOTP", "Сбросить TOTP";
    revoke_tokens: "Revoke all tokens", "Отозвать все токены";
    done: "Done.", "Готово.";
    receipt: "Offboarding receipt", "Акт об увольнении";
    offboarded_at: "Offboarded", "Уволен";
    by: "By", "Кем";
    tokens_revoked: "Tokens revoked", "Отозвано токенов";
    sessions_ended: "Sessions ended", "Завершено сеансов";
    keys_revoked: "API keys revoked", "Отозвано API-ключей";
    replicas: "Replicas", "Реплики";
    replica: "Replica", "Реплика";
    state: "State", "Состояние";
    confirmed_after: "Confirmed after", "Подтверждено через";
    all_confirmed: "Every replica confirmed.", "Все реплики подтвердили.";
    waiting_replicas: "Waiting for every replica to confirm; this page refreshes itself.", "Ждём подтверждения от всех реплик; страница обновляется сама.";
    state_confirmed: "confirmed", "подтвердила";
    state_pending: "pending", "ожидает";
    state_failing_closed: "refusing every call until current", "отказывает во всех вызовах, пока не догонит";
    not_allowed: "Your console role does not allow this.", "Ваша роль в консоли этого не позволяет.";
    not_found: "No such person.", "Такого сотрудника нет.";
    in_progress: "The offboarding is still being written; this page refreshes itself.", "Увольнение ещё записывается; страница обновляется сама.";
    unused_days: "Unused for days", "Не использовался дней";
    download_csv: "Download CSV", "Скачать CSV";
    bad_filter: "A filter value is not one staffgate knows; nothing was filtered.", "Такого значения фильтра нет; ничего не отфильтровано.";
    blocked_totp: "blocked: no TOTP", "заблокирован: нет TOTP";
    blocked_nda: "blocked: NDA not acknowledged", "заблокирован: NDA не подписано";
    will_reach: "will reach after first login", "получит после первого входа";
    who_reaches: "Who can reach this channel", "Кто может обратиться к каналу";
    mode: "Mode", "Режим";
    live: "Live", "На связи";
    lag: "Lag", "Отставание";
    last_sync: "Last sync", "Последняя синхронизация";
    errors: "Last error", "Последняя ошибка";
    held_plans: "Plans held by the mass-offboarding guard", "Планы, задержанные защитой от массового увольнения";
    no_held_plans: "No plan is held.", "Задержанных планов нет.";
    would_offboard: "Would offboard", "Уволит";
    confirm_plan: "Confirm and apply", "Подтвердить и применить";
    dry_run: "Dry run", "Пробный прогон";
    event: "Event", "Событие";
    actor: "Actor", "Кто";
    subject: "Subject", "Объект";
    details: "Details", "Подробности";
    verify_chain: "Verify the chain", "Проверить цепочку";
    chain_ok: "The audit chain is intact", "Цепочка аудита цела";
    chain_broken: "The audit chain is broken at entry", "Цепочка аудита нарушена на записи";
    from: "From", "С";
    to: "To", "По";
    kind: "Kind", "Тип";
    upstream: "Upstream", "Адрес API";
    secret: "Secret", "Секрет";
    secret_set: "set", "задан";
    secret_missing: "not set", "не задан";
    set_secret: "Set or replace the secret", "Задать или заменить секрет";
    add_channel: "Add a channel", "Добавить канал";
    in_force: "In force from", "Действует с";
    acknowledged: "Acknowledged", "Подписали";
    missing: "Missing", "Не подписали";
    heartbeat: "Last heartbeat", "Последний сигнал";
    jobs: "Jobs", "Задачи";
    holder: "Run by", "Выполняет";
    outbox: "Mail outbox", "Очередь писем";
    waiting: "waiting", "ждут отправки";
    none: "none", "нет";
}

impl ConsoleTexts {
    pub fn of(lang: Lang) -> &'static ConsoleTexts {
        match lang {
            Lang::En => &EN,
            Lang::Ru => &RU,
        }
    }

    pub fn role(&self, role: crate::domain::Role) -> &'static str {
        match role {
            crate::domain::Role::Admin => self.role_admin,
            crate::domain::Role::Hr => self.role_hr,
            crate::domain::Role::Auditor => self.role_auditor,
        }
    }

    pub fn staff_status(&self, status: crate::domain::staff::StaffStatus) -> &'static str {
        use crate::domain::staff::StaffStatus::*;
        match status {
            Active => self.status_active,
            Pending => self.status_pending,
            Offboarded => self.status_offboarded,
        }
    }
}
