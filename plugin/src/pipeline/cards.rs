//! The template cards the pipeline shows: the welcome card of a single chat and the reset card
//! that follows an error. Their button keys come back as `template_card_event`s.

use serde_json::{json, Value};

use crate::i18n::Lang;

/// The key of the button that starts a new conversation (what `/new` does).
pub const RESET_KEY: &str = "wecom_reset_session";

/// A card task id from `seed`: WeCom allows letters, digits and `_-@`, at most 128 bytes.
pub fn task_id(prefix: &str, seed: &str) -> String {
    let clean: String =
        seed.chars().map(|c| if c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '@') { c } else { '_' }).collect();
    let mut id = format!("{prefix}_{clean}");
    id.truncate(128);
    id
}

/// A `button_interaction` card with one "new conversation" button.
fn reset_button_card(task_id: &str, title: &str, desc: &str, button: &str) -> Value {
    json!({
        "card_type": "button_interaction",
        "main_title": {"title": title, "desc": desc},
        "task_id": task_id,
        "button_list": [{"text": button, "style": 1, "key": RESET_KEY}],
    })
}

/// The welcome card shown when a user opens a single chat with the bot.
pub fn welcome(lang: Lang, task_id: &str) -> Value {
    reset_button_card(
        task_id,
        lang.pick("Hello!", "你好！"),
        lang.pick(
            "Ask me anything. Send /new or press the button to start a new conversation.",
            "有什么可以帮你？发送 /new 或点击下方按钮可开始新的对话。",
        ),
        lang.pick("New conversation", "开始新对话"),
    )
}

/// The card shown with an error: its button does what `/new` does.
pub fn reset(lang: Lang, task_id: &str) -> Value {
    reset_button_card(
        task_id,
        lang.pick("Something went wrong", "出了点问题"),
        lang.pick(
            "If the problem persists, start a new conversation.",
            "如果问题持续出现，请开始新的对话。",
        ),
        lang.pick("New conversation", "开始新对话"),
    )
}

/// The card that replaces a clicked reset button: says whether the new conversation started.
pub fn reset_done(lang: Lang, task_id: &str, ok: bool) -> Value {
    let (title, desc) = if ok {
        (
            lang.pick("New conversation started", "已开始新的对话"),
            lang.pick("Your next message starts a fresh conversation.", "您的下一条消息将开始新的对话。"),
        )
    } else {
        (
            lang.pick("The conversation could not be reset", "无法重置对话"),
            lang.pick("Please send /new or press the button again.", "请发送 /new 或再次点击按钮。"),
        )
    };
    reset_button_card(task_id, title, desc, lang.pick("New conversation", "开始新对话"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn task_ids_use_only_the_allowed_characters_and_length() {
        assert_eq!(task_id("reset", "stream_a.b/c"), "reset_stream_a_b_c");
        let long = task_id("reset", &"x".repeat(300));
        assert_eq!(long.len(), 128);
    }

    #[test]
    fn cards_carry_their_task_id_and_the_reset_key_in_both_languages() {
        for lang in [Lang::En, Lang::Zh] {
            for card in [welcome(lang, "T"), reset(lang, "T"), reset_done(lang, "T", true)] {
                assert_eq!(card["task_id"], "T");
                assert_eq!(card["button_list"][0]["key"], RESET_KEY);
            }
        }
        assert_eq!(reset(Lang::Zh, "T")["main_title"]["title"], "出了点问题");
    }
}
