//! Tabs a plugin adds to a host page: manifests, data and action results.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::I18nText;

/// How a tab shows its data.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ViewKind {
    /// One item of labelled values.
    Stats,
    /// Rows with paging, search and sort.
    Table,
}

/// How a value is rendered.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FieldKind {
    /// Plain text.
    Text,
    /// A state badge.
    Status,
    /// An RFC 3339 time, shown in local time.
    Datetime,
    /// A number.
    Number,
}

/// One labelled value of a stats tab, or one column of a table tab.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ViewField {
    /// The key in the item or row.
    pub key: String,
    /// Its label.
    pub label: I18nText,
    /// How to render it.
    #[serde(rename = "type")]
    pub kind: FieldKind,
    /// Whether a table can be sorted by it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub sortable: bool,
}

/// Where an action's button is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ActionScope {
    /// Above the tab; acts on the whole integration.
    Toolbar,
    /// On each row; acts on that row (`targetId`).
    Row,
}

/// A button of a tab.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ViewAction {
    /// The action's key (the last path segment of its URL).
    pub key: String,
    /// Its label.
    pub label: I18nText,
    /// Where it is.
    pub scope: ActionScope,
    /// A question to confirm before acting, if it is destructive.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confirm: Option<I18nText>,
}

/// One tab.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ViewManifest {
    /// The tab's key (`status`, `sessions`).
    pub key: String,
    /// Its title.
    pub title: I18nText,
    /// How it shows its data.
    pub kind: ViewKind,
    /// Position among the tabs (smaller first).
    #[serde(default)]
    pub order: i32,
    /// How often the page re-reads the data while the tab is open.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub poll_seconds: Option<u32>,
    /// The values of a stats tab.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub items: Vec<ViewField>,
    /// The columns of a table tab.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub columns: Vec<ViewField>,
    /// The row key of a table tab (sent as `targetId` by row actions).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub row_key: Option<String>,
    /// Whether a table tab offers a search box.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub searchable: bool,
    /// Rows per page of a table tab.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page_size: Option<u32>,
    /// The tab's buttons.
    #[serde(default)]
    pub actions: Vec<ViewAction>,
}

/// A tab's data: `{"item":{…}}` for stats, `{"items":[…],"total":N}` for tables.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ViewData {
    /// The one item of a stats tab.
    Stats {
        /// Values by field key.
        item: Value,
    },
    /// One page of a table tab.
    Table {
        /// The rows of this page.
        items: Vec<Value>,
        /// Rows in all pages (after search).
        total: u64,
    },
}

/// What an action did, in words for people.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ActionResult {
    /// Whether the action did what was asked.
    pub success: bool,
    /// What was done (or why nothing was), in both languages.
    pub message: I18nText,
    /// Whether the page should re-read the tab's data.
    pub refresh: bool,
}
