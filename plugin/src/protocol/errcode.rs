//! WeCom error codes seen on the long connection (protocol §3.10), each with a short meaning.

/// Success.
pub const OK: i64 = 0;
/// `aibot_subscribe` with a wrong bot id or secret. Permanent: do not retry in a loop (subscribe
/// is rate-protected), and close the socket yourself (the server leaves it open).
pub const INVALID_CREDENTIALS: i64 = 853000;
/// The req_id is not valid for that command (wrong callback type, or the event's 5 s window passed).
pub const INVALID_REQ_ID: i64 = 846605;
/// A single-shot req_id (welcome, card update) was already answered.
pub const ALREADY_RESPONDED: i64 = 846606;
/// Per-conversation rate limit (30/min, 1000/h; every stream frame counts).
pub const RATE_LIMITED: i64 = 846607;
/// The stream is older than its lifetime (6 or 10 min from its first frame); terminal for it.
pub const STREAM_EXPIRED: i64 = 846608;
/// The message type is not allowed there (e.g. `msgtype:"text"` in `aibot_respond_msg`).
pub const INVALID_MSGTYPE: i64 = 40008;
/// The chatid is wrong (chatids are case-sensitive) or the chat never spoke to the bot.
pub const INVALID_CHATID: i64 = 93006;

/// A short English meaning of a known errcode, for logs and status lines.
pub fn meaning(errcode: i64) -> Option<&'static str> {
    Some(match errcode {
        OK => "ok",
        INVALID_CREDENTIALS => "invalid bot_id or secret",
        INVALID_REQ_ID => "invalid req_id for this command, or its reply window passed",
        ALREADY_RESPONDED => "request already responded",
        RATE_LIMITED => "send frequency limit exceeded",
        STREAM_EXPIRED => "stream update expired",
        INVALID_MSGTYPE => "invalid message type",
        INVALID_CHATID => "invalid chatid",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_named_code_has_a_meaning_and_others_have_none() {
        for code in [
            OK,
            INVALID_CREDENTIALS,
            INVALID_REQ_ID,
            ALREADY_RESPONDED,
            RATE_LIMITED,
            STREAM_EXPIRED,
            INVALID_MSGTYPE,
            INVALID_CHATID,
        ] {
            assert!(meaning(code).is_some_and(|m| !m.is_empty()), "{code}");
        }
        assert_eq!(meaning(12345), None);
    }
}
