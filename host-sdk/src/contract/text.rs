//! Text shown to people, in every language the console supports.

use serde::{Deserialize, Serialize};

/// A text in English and Simplified Chinese: `{"en_US": …, "zh_Hans": …}` on the wire.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct I18nText {
    /// English.
    #[serde(rename = "en_US")]
    pub en_us: String,
    /// Simplified Chinese.
    #[serde(rename = "zh_Hans")]
    pub zh_hans: String,
}

impl I18nText {
    /// A text from its English and Chinese versions.
    pub fn new(en: impl Into<String>, zh: impl Into<String>) -> Self {
        I18nText { en_us: en.into(), zh_hans: zh.into() }
    }
}
