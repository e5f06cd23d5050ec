//! The employee pages' words in English and Russian, chosen from the browser's language
//! with a switch on every page.

use axum::http::HeaderMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    En,
    Ru,
}

impl Texts {
    /// `actions` in this language's words, e.g. "read, administer chats".
    pub fn actions_in_words(&self, actions: crate::domain::ActionSet) -> String {
        actions
            .iter()
            .map(|a| {
                let at = crate::domain::Action::ALL.iter().position(|x| *x == a);
                at.map_or(a.as_str(), |i| self.action_names[i])
            })
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// "Try again in N minutes", rounded up.
    pub fn wait_for(&self, secs: u64) -> String {
        let minutes = secs.div_ceil(60).max(1);
        format!("{} {minutes} {}", self.try_again_in, self.minutes)
    }

    /// This language's words for a refusal the pages explain; `None` for the rest, which
    /// get the generic failure page. The code comes from the API's one error mapping.
    pub fn refusal(&self, code: crate::domain::ErrorCode) -> Option<&'static str> {
        use crate::domain::ErrorCode::*;
        Some(match code {
            InvalidCredentials | SessionInvalid => self.wrong_credentials,
            SigninRateLimited => self.rate_limited,
            StaffOffboarded => self.offboarded,
            DirectoryUnavailable => self.directory_down,
            PasswordChangeRequired => self.must_change_password,
            PasswordExpired => self.password_expired,
            DirectoryAccountLocked => self.account_locked,
            DirectoryAccountDisabled => self.account_disabled,
            DirectoryAccountExpired => self.account_expired,
            SigninNotAllowed => self.signin_not_allowed,
            TotpInvalid => self.wrong_code,
            TotpReplayed => self.replayed_code,
            TotpLocked => self.locked_out,
            OidcStateInvalid | OidcIssuerMismatch | OidcIdTokenInvalid | OidcProviderRefused => {
                self.sso_failed
            }
            OidcProviderUnavailable | OidcSourceNotFound => self.sso_down,
            OidcUsernameTaken => self.sso_username_taken,
            OidcNotProvisioned | OidcClaimsUnusable => self.sso_not_provisioned,
            _ => return None,
        })
    }
}

impl Lang {
    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Ru => "ru",
        }
    }

    pub fn parse(raw: &str) -> Option<Lang> {
        match raw {
            "en" => Some(Lang::En),
            "ru" => Some(Lang::Ru),
            _ => None,
        }
    }

    /// `?lang=`, then the `staffgate_lang` cookie, then the first language the browser
    /// names in Accept-Language; English otherwise.
    pub fn pick(query: Option<&str>, headers: &HeaderMap) -> Lang {
        if let Some(l) = query.and_then(Lang::parse) {
            return l;
        }
        let cookie = headers
            .get_all(axum::http::header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .filter_map(|p| p.trim().split_once('='))
            .find(|(k, _)| *k == LANG_COOKIE)
            .and_then(|(_, v)| Lang::parse(v));
        if let Some(l) = cookie {
            return l;
        }
        headers
            .get(axum::http::header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(',').next())
            .map(|first| first.trim().to_ascii_lowercase())
            .filter(|first| first.starts_with("ru"))
            .map_or(Lang::En, |_| Lang::Ru)
    }

    pub fn texts(self) -> &'static Texts {
        match self {
            Lang::En => &EN,
            Lang::Ru => &RU,
        }
    }
}

pub const LANG_COOKIE: &str = "staffgate_lang";

/// Every word on the pages.
pub struct Texts {
    pub title_sign_in: &'static str,
    pub username: &'static str,
    pub password: &'static str,
    pub sign_in: &'static str,
    pub sign_out: &'static str,
    pub wrong_credentials: &'static str,
    pub rate_limited: &'static str,
    pub offboarded: &'static str,
    pub directory_down: &'static str,
    pub must_change_password: &'static str,
    pub password_expired: &'static str,
    pub account_locked: &'static str,
    pub account_disabled: &'static str,
    pub account_expired: &'static str,
    pub signin_not_allowed: &'static str,
    pub sso_with: &'static str,
    pub sso_failed: &'static str,
    pub sso_down: &'static str,
    pub sso_username_taken: &'static str,
    pub sso_not_provisioned: &'static str,
    pub sso_pickup_title: &'static str,
    pub sso_pickup_lead: &'static str,
    pub sso_pickup_warning: &'static str,
    pub form_expired: &'static str,
    pub title_enrol: &'static str,
    pub enrol_intro: &'static str,
    pub enrol_key: &'static str,
    pub open_in_app: &'static str,
    pub not_found_title: &'static str,
    pub not_found: &'static str,
    pub to_my_access: &'static str,
    pub code: &'static str,
    pub confirm: &'static str,
    pub title_recovery: &'static str,
    pub recovery_intro: &'static str,
    pub continue_: &'static str,
    pub download_codes: &'static str,
    pub renew_codes: &'static str,
    pub renew_codes_hint: &'static str,
    pub title_totp: &'static str,
    pub totp_intro: &'static str,
    pub recovery_code: &'static str,
    pub use_recovery: &'static str,
    pub wrong_code: &'static str,
    pub replayed_code: &'static str,
    pub locked_out: &'static str,
    pub title_nda: &'static str,
    pub nda_intro: &'static str,
    pub device: &'static str,
    pub try_again_in: &'static str,
    pub minutes: &'static str,
    pub nda_new_version: &'static str,
    pub effective_from: &'static str,
    pub details: &'static str,
    pub nda_accept: &'static str,
    pub nda_changed: &'static str,
    pub title_access: &'static str,
    pub channels: &'static str,
    pub channel: &'static str,
    pub actions: &'static str,
    /// Each action in words, in the order of `Action::ALL`.
    pub action_names: [&'static str; 5],
    pub no_channels: &'static str,
    pub issue_token: &'static str,
    pub lifetime: &'static str,
    pub issue: &'static str,
    pub new_token: &'static str,
    pub new_token_hint: &'static str,
    pub broker_hint: &'static str,
    pub telegram_hint: &'static str,
    pub issued: &'static str,
    pub last_used: &'static str,
    pub never: &'static str,
    pub my_tokens: &'static str,
    pub expires: &'static str,
    pub revoke: &'static str,
    pub no_tokens: &'static str,
    pub my_sessions: &'static str,
    pub started: &'static str,
    pub from: &'static str,
    pub this_session: &'static str,
    pub sign_out_everywhere: &'static str,
    pub my_ndas: &'static str,
    pub version: &'static str,
    pub acknowledged_at: &'static str,
    pub gate_refused: &'static str,
    pub steps: [&'static str; 3],
}

pub static EN: Texts = Texts {
    title_sign_in: "Sign in",
    username: "Username",
    password: "Password",
    sign_in: "Sign in",
    sign_out: "Sign out",
    wrong_credentials: "The username or password is wrong.",
    rate_limited: "Too many failed attempts. Wait a while and try again.",
    offboarded: "Your access has ended. Contact HR if you think this is a mistake.",
    directory_down: "The company directory does not answer. Try again in a minute.",
    must_change_password: "Your directory password must be changed before you can sign in. Change it on a company computer (Ctrl+Alt+Del, then Change a password) or on the company's password page, then sign in again.",
    password_expired: "Your directory password has expired. Change it on a company computer (Ctrl+Alt+Del, then Change a password) or on the company's password page, then sign in again.",
    account_locked: "Your directory account is locked after too many wrong passwords. Wait for it to unlock, or ask IT.",
    account_disabled: "Your directory account is disabled. Ask IT.",
    account_expired: "Your directory account has expired. Ask IT or HR.",
    signin_not_allowed: "Your directory account may not sign in at this time or from this place.",
    sso_with: "Sign in with",
    sso_failed: "The sign-in at your identity provider could not be completed safely. Start again from this page.",
    sso_down: "Your identity provider does not answer. Try again in a minute.",
    sso_username_taken: "Your username at the identity provider belongs to another person in staffgate. Ask IT to sort it out.",
    sso_not_provisioned: "Your identity provider account is not set up for staffgate. Ask IT.",
    sso_pickup_title: "Finish signing in",
    sso_pickup_lead: "Go back to the program that started this sign-in and enter this code:",
    sso_pickup_warning: "Enter it only into a program you started yourself, just now. Whoever enters this code is signed in as you. If you did not start a sign-in, close this page.",
    form_expired: "This form expired. Please try again.",
    title_enrol: "Set up two-factor authentication",
    enrol_intro: "Scan the code with an authenticator app (Google Authenticator, Microsoft Authenticator, FreeOTP, 1Password…), or type the key into it. Then enter the 6-digit code the app shows.",
    enrol_key: "Key",
    open_in_app: "On this phone? Open it in the authenticator app",
    not_found_title: "Page not found",
    not_found: "There is no page at this address.",
    to_my_access: "Go to my access",
    code: "6-digit code",
    confirm: "Confirm",
    title_recovery: "Your recovery codes",
    recovery_intro: "Each code signs you in once if you lose your phone. They are shown only now: print them or keep them in a password manager.",
    continue_: "Continue",
    download_codes: "Download as a text file",
    renew_codes: "New recovery codes",
    renew_codes_hint: "Lost or used up your codes? Enter a code from your authenticator app to get ten new ones; the old unused ones stop working.",
    title_totp: "Two-factor authentication",
    totp_intro: "Enter the 6-digit code from your authenticator app.",
    recovery_code: "Recovery code",
    use_recovery: "Use a recovery code",
    wrong_code: "That code is wrong or expired.",
    replayed_code: "That code was already used. Wait for the next one.",
    locked_out: "Too many wrong codes. Two-factor sign-in is locked for a while.",
    title_nda: "Confidentiality agreement",
    nda_intro: "Please read the current version. Your acknowledgement is recorded with the time and this version's fingerprint.",
    nda_new_version: "This is a new version of the agreement you accepted before: please read it again.",
    try_again_in: "Try again in at most",
    device: "Device",
    minutes: "min.",
    effective_from: "in force from",
    details: "Details",
    nda_accept: "I have read and accept this agreement",
    nda_changed: "The agreement changed while you were reading. Please read the current version.",
    title_access: "My access",
    channels: "Channels I can reach",
    channel: "Channel",
    actions: "Actions",
    action_names: [
        "read",
        "send",
        "receive updates",
        "administer chats",
        "payments",
    ],
    no_channels: "No channel is open to you yet.",
    issue_token: "Get a token",
    lifetime: "Lifetime",
    issue: "Issue",
    new_token: "Your new token",
    new_token_hint: "Select and copy it now: it is shown only once. It works only through staffgate and stops when it expires or your access ends.",
    broker_hint: "Call the channel's API through staffgate's broker with it as a bearer token, in place of the real address:",
    telegram_hint: "Give your bot library this base URL and the token as the bot token (it has Telegram's shape); or try it with curl:",
    issued: "Issued",
    last_used: "Last used",
    never: "never",
    my_tokens: "My live tokens",
    expires: "Expires",
    revoke: "Revoke",
    no_tokens: "No live tokens.",
    my_sessions: "My sessions",
    started: "Started",
    from: "From",
    this_session: "this session",
    sign_out_everywhere: "Sign out everywhere",
    my_ndas: "Agreements I acknowledged",
    version: "Version",
    acknowledged_at: "Acknowledged",
    gate_refused: "A token cannot be issued yet:",
    steps: ["Two-factor authentication", "Agreement", "Access"],
};

pub static RU: Texts = Texts {
    title_sign_in: "Вход",
    username: "Имя пользователя",
    password: "Пароль",
    sign_in: "Войти",
    sign_out: "Выйти",
    wrong_credentials: "Неверное имя пользователя или пароль.",
    rate_limited: "Слишком много неудачных попыток. Подождите и попробуйте снова.",
    offboarded: "Ваш доступ прекращён. Если это ошибка, обратитесь в отдел кадров.",
    directory_down: "Каталог компании не отвечает. Попробуйте через минуту.",
    must_change_password: "Пароль в каталоге нужно сменить, прежде чем войти. Смените его на рабочем компьютере (Ctrl+Alt+Del, затем «Изменить пароль») или на странице смены пароля компании и войдите снова.",
    password_expired: "Срок действия пароля в каталоге истёк. Смените его на рабочем компьютере (Ctrl+Alt+Del, затем «Изменить пароль») или на странице смены пароля компании и войдите снова.",
    account_locked: "Учётная запись в каталоге заблокирована после неверных паролей. Подождите разблокировки или обратитесь в ИТ.",
    account_disabled: "Учётная запись в каталоге отключена. Обратитесь в ИТ.",
    account_expired: "Срок действия учётной записи в каталоге истёк. Обратитесь в ИТ или отдел кадров.",
    signin_not_allowed: "Вашей учётной записи сейчас или отсюда вход запрещён.",
    sso_with: "Войти через",
    sso_failed: "Вход через поставщика удостоверений не удалось завершить безопасно. Начните заново с этой страницы.",
    sso_down: "Поставщик удостоверений не отвечает. Попробуйте через минуту.",
    sso_username_taken: "Ваше имя пользователя у поставщика удостоверений принадлежит другому человеку в staffgate. Обратитесь в ИТ.",
    sso_not_provisioned: "Ваша учётная запись у поставщика удостоверений не подключена к staffgate. Обратитесь в ИТ.",
    sso_pickup_title: "Завершите вход",
    sso_pickup_lead: "Вернитесь в программу, которая начала этот вход, и введите код:",
    sso_pickup_warning: "Вводите его только в программу, которую вы только что запустили сами: кто введёт этот код, войдёт под вашим именем. Если вы не начинали вход, закройте эту страницу.",
    form_expired: "Форма устарела. Попробуйте ещё раз.",
    title_enrol: "Настройка двухфакторной аутентификации",
    enrol_intro: "Отсканируйте код приложением-аутентификатором (Google Authenticator, Microsoft Authenticator, FreeOTP, 1Password…) или введите ключ вручную. Затем введите 6-значный код из приложения.",
    enrol_key: "Ключ",
    open_in_app: "Вы на этом телефоне? Откройте в приложении-аутентификаторе",
    not_found_title: "Страница не найдена",
    not_found: "По этому адресу страницы нет.",
    to_my_access: "Перейти к моему доступу",
    code: "6-значный код",
    confirm: "Подтвердить",
    title_recovery: "Ваши коды восстановления",
    recovery_intro: "Каждый код позволяет войти один раз, если вы потеряете телефон. Они показываются только сейчас: распечатайте их или сохраните в менеджере паролей.",
    continue_: "Продолжить",
    download_codes: "Скачать текстовым файлом",
    renew_codes: "Новые коды восстановления",
    renew_codes_hint: "Потеряли или израсходовали коды? Введите код из приложения-аутентификатора, чтобы получить десять новых; старые неиспользованные перестанут действовать.",
    title_totp: "Двухфакторная аутентификация",
    totp_intro: "Введите 6-значный код из приложения-аутентификатора.",
    recovery_code: "Код восстановления",
    use_recovery: "Использовать код восстановления",
    wrong_code: "Код неверный или устарел.",
    replayed_code: "Этот код уже использован. Дождитесь следующего.",
    locked_out: "Слишком много неверных кодов. Вход временно заблокирован.",
    title_nda: "Соглашение о конфиденциальности",
    nda_intro: "Прочитайте действующую версию. Ваше согласие записывается со временем и отпечатком этой версии.",
    nda_new_version: "Это новая версия соглашения, которое вы уже принимали: прочитайте её ещё раз.",
    try_again_in: "Повторите не более чем через",
    device: "Устройство",
    minutes: "мин.",
    effective_from: "действует с",
    details: "Подробности",
    nda_accept: "Я прочитал(а) и принимаю соглашение",
    nda_changed: "Соглашение изменилось, пока вы читали. Прочитайте действующую версию.",
    title_access: "Мой доступ",
    channels: "Доступные мне каналы",
    channel: "Канал",
    actions: "Действия",
    action_names: [
        "чтение",
        "отправка",
        "приём обновлений",
        "управление чатами",
        "платежи",
    ],
    no_channels: "Вам пока не открыт ни один канал.",
    issue_token: "Получить токен",
    lifetime: "Срок действия",
    issue: "Выдать",
    new_token: "Ваш новый токен",
    new_token_hint: "Выделите и скопируйте его сейчас: он показывается один раз. Он работает только через staffgate и перестаёт действовать по истечении срока или с прекращением доступа.",
    broker_hint: "Вызывайте API канала через брокер staffgate с этим bearer-токеном вместо настоящего адреса:",
    telegram_hint: "Укажите библиотеке бота этот базовый адрес, а токен — как токен бота (он в формате Telegram); или проверьте через curl:",
    issued: "Выдан",
    last_used: "Использован",
    never: "ни разу",
    my_tokens: "Мои действующие токены",
    expires: "Истекает",
    revoke: "Отозвать",
    no_tokens: "Действующих токенов нет.",
    my_sessions: "Мои сеансы",
    started: "Начат",
    from: "Откуда",
    this_session: "этот сеанс",
    sign_out_everywhere: "Выйти на всех устройствах",
    my_ndas: "Принятые мной соглашения",
    version: "Версия",
    acknowledged_at: "Принято",
    gate_refused: "Токен пока нельзя выдать:",
    steps: ["Двухфакторная аутентификация", "Соглашение", "Доступ"],
};
