//! The Telegram Bot API's methods and what each does, from the method list of the Bot API
//! documentation (core.telegram.org/bots/api), by name rather than by prefix: `sendInvoice`
//! moves money and `deleteChatPhoto` administers a chat, whatever their first word says.
//! A method not in the table is denied; bot configuration is never brokered.

use crate::domain::Action;

/// Reading: no side effect on chats, money or the bot's update queue.
const READ: &[&str] = &[
    "getme",
    "getfile",
    "getchat",
    "getchatadministrators",
    "getchatmembercount",
    "getchatmember",
    "getuserprofilephotos",
    "getuserchatboosts",
    "getbusinessconnection",
    "getmycommands",
    "getmyname",
    "getmydescription",
    "getmyshortdescription",
    "getchatmenubutton",
    "getmydefaultadministratorrights",
    "getstickerset",
    "getcustomemojistickers",
    "getforumtopiciconstickers",
    "getgamehighscores",
    "getwebhookinfo",
    "getavailablegifts",
    "getusergifts",
    "getchatgifts",
];

/// Consuming the bot's updates: a second consumer breaks the production bot's polling.
const RECEIVE: &[&str] = &["getupdates"];

/// Talking in chats: sending, editing, deleting and answering messages.
const SEND: &[&str] = &[
    "sendmessage",
    "forwardmessage",
    "forwardmessages",
    "copymessage",
    "copymessages",
    "sendphoto",
    "sendaudio",
    "senddocument",
    "sendvideo",
    "sendanimation",
    "sendvoice",
    "sendvideonote",
    "sendmediagroup",
    "sendlocation",
    "sendvenue",
    "sendcontact",
    "sendpoll",
    "sendchecklist",
    "senddice",
    "sendchataction",
    "sendsticker",
    "sendgame",
    "sendmessagedraft",
    "editmessagetext",
    "editmessagecaption",
    "editmessagemedia",
    "editmessagelivelocation",
    "stopmessagelivelocation",
    "editmessagechecklist",
    "editmessagereplymarkup",
    "stoppoll",
    "deletemessage",
    "deletemessages",
    "answercallbackquery",
    "answerinlinequery",
    "answerwebappquery",
    "savepreparedinlinemessage",
    "setmessagereaction",
    "setgamescore",
    "readbusinessmessage",
    "deletebusinessmessages",
];

/// Administering chats, their members, topics, stickers, stories and business accounts.
const MANAGE: &[&str] = &[
    "banchatmember",
    "unbanchatmember",
    "restrictchatmember",
    "promotechatmember",
    "setchatadministratorcustomtitle",
    "banchatsenderchat",
    "unbanchatsenderchat",
    "setchatpermissions",
    "exportchatinvitelink",
    "createchatinvitelink",
    "editchatinvitelink",
    "createchatsubscriptioninvitelink",
    "editchatsubscriptioninvitelink",
    "revokechatinvitelink",
    "approvechatjoinrequest",
    "declinechatjoinrequest",
    "setchatphoto",
    "deletechatphoto",
    "setchattitle",
    "setchatdescription",
    "pinchatmessage",
    "unpinchatmessage",
    "unpinallchatmessages",
    "leavechat",
    "setchatstickerset",
    "deletechatstickerset",
    "setchatmenubutton",
    "createforumtopic",
    "editforumtopic",
    "closeforumtopic",
    "reopenforumtopic",
    "deleteforumtopic",
    "unpinallforumtopicmessages",
    "editgeneralforumtopic",
    "closegeneralforumtopic",
    "reopengeneralforumtopic",
    "hidegeneralforumtopic",
    "unhidegeneralforumtopic",
    "unpinallgeneralforumtopicmessages",
    "uploadstickerfile",
    "createnewstickerset",
    "addstickertoset",
    "setstickerpositioninset",
    "deletestickerfromset",
    "replacestickerinset",
    "setstickeremojilist",
    "setstickerkeywords",
    "setstickermaskposition",
    "setstickersettitle",
    "setstickersetthumbnail",
    "setcustomemojistickersetthumbnail",
    "deletestickerset",
    "setuseremojistatus",
    "verifyuser",
    "verifychat",
    "removeuserverification",
    "removechatverification",
    "setbusinessaccountname",
    "setbusinessaccountusername",
    "setbusinessaccountbio",
    "setbusinessaccountprofilephoto",
    "removebusinessaccountprofilephoto",
    "setbusinessaccountgiftsettings",
    "poststory",
    "editstory",
    "deletestory",
    "setpassportdataerrors",
];

/// Money: invoices, checkout answers, Stars, gifts, paid media, refunds.
const PAY: &[&str] = &[
    "sendinvoice",
    "createinvoicelink",
    "answershippingquery",
    "answerprecheckoutquery",
    "getstartransactions",
    "refundstarpayment",
    "edituserstarsubscription",
    "sendgift",
    "giftpremiumsubscription",
    "sendpaidmedia",
    "getbusinessaccountstarbalance",
    "transferbusinessaccountstars",
    "getbusinessaccountgifts",
    "convertgifttostars",
    "upgradegift",
    "transfergift",
    "getmystarbalance",
];

/// What a Bot API method does; `None` for bot configuration (webhooks, `setMy*`,
/// `deleteMy*`, `logOut`, `close`) and for any method not in the table.
pub fn action(method: &str) -> Option<Action> {
    let m = method.to_ascii_lowercase();
    let m = m.as_str();
    [
        (READ, Action::Read),
        (RECEIVE, Action::Receive),
        (SEND, Action::Send),
        (MANAGE, Action::Manage),
        (PAY, Action::Pay),
    ]
    .into_iter()
    .find(|(methods, _)| methods.contains(&m))
    .map(|(_, action)| action)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn methods_are_classified_by_what_they_do() {
        assert_eq!(action("getMe"), Some(Action::Read));
        assert_eq!(action("getUpdates"), Some(Action::Receive));
        assert_eq!(action("sendMessage"), Some(Action::Send));
        assert_eq!(action("editMessageText"), Some(Action::Send));
        for pay in [
            "sendInvoice",
            "sendGift",
            "sendPaidMedia",
            "answerPreCheckoutQuery",
            "refundStarPayment",
        ] {
            assert_eq!(action(pay), Some(Action::Pay), "{pay}");
        }
        for manage in [
            "deleteStickerSet",
            "deleteChatPhoto",
            "banChatMember",
            "pinChatMessage",
            "createChatInviteLink",
        ] {
            assert_eq!(action(manage), Some(Action::Manage), "{manage}");
        }
    }

    #[test]
    fn bot_configuration_and_unknown_methods_are_denied() {
        for denied in [
            "setWebhook",
            "deleteWebhook",
            "logOut",
            "close",
            "setMyCommands",
            "deleteMyCommands",
            "setMyName",
            "frobnicate",
            "sendMessage2",
            "",
        ] {
            assert_eq!(action(denied), None, "{denied}");
        }
    }

    #[test]
    fn no_method_is_in_two_classes() {
        let all: Vec<&str> = [READ, RECEIVE, SEND, MANAGE, PAY].concat();
        let mut sorted = all.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), all.len());
        assert!(
            all.iter()
                .all(|m| !m.starts_with("setmy") && !m.starts_with("deletemy"))
        );
    }
}
