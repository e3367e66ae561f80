//! User-facing text in English and Simplified Chinese.

use serde_json::{json, Value};

/// A label object as the host and UI expect it: `{"en_US": …, "zh_Hans": …}`.
pub fn label(en: &str, zh: &str) -> Value {
    json!({ "en_US": en, "zh_Hans": zh })
}

/// The language a user-facing message is written in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lang {
    /// English.
    En,
    /// Simplified Chinese (the default, as on the WeCom platform).
    Zh,
}

impl Lang {
    /// From an integration's `preferLanguage`: empty, missing or any `zh*` means Chinese.
    pub fn from_preference(pref: Option<&str>) -> Lang {
        match pref.map(str::trim) {
            Some(p) if !p.is_empty() && !p.to_ascii_lowercase().starts_with("zh") => Lang::En,
            _ => Lang::Zh,
        }
    }

    /// Picks the text for this language.
    pub fn pick<'a>(self, en: &'a str, zh: &'a str) -> &'a str {
        match self {
            Lang::En => en,
            Lang::Zh => zh,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chinese_is_the_default_language() {
        assert_eq!(Lang::from_preference(None), Lang::Zh);
        assert_eq!(Lang::from_preference(Some("")), Lang::Zh);
        assert_eq!(Lang::from_preference(Some("zh-Hans")), Lang::Zh);
        assert_eq!(Lang::from_preference(Some("en")), Lang::En);
    }
}
