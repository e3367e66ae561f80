//! Parameters of the capability calls (triggers and views) and the trigger checklist.

use serde::{Deserialize, Serialize};

/// What a trigger call is about: a Digital Expert and the trigger's config in it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TriggerParams {
    /// The Digital Expert (xpert) id.
    pub xpert_id: String,
    /// The trigger's config object as saved on the Digital Expert.
    #[serde(default)]
    pub config: serde_json::Value,
}

/// Severity of a publish checklist item.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChecklistLevel {
    /// Blocks publishing.
    Error,
    /// Shown, does not block.
    Warning,
}

/// One finding of a trigger's `validate`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChecklistItem {
    /// A stable upper-snake code, e.g. `TRIGGER_WECOM_INTEGRATION_CONFLICT`.
    pub code: String,
    /// Whether it blocks publishing.
    pub level: ChecklistLevel,
    /// A human-readable explanation.
    pub message: String,
}

/// Paging, search and sorting for a table view.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ViewQuery {
    /// 1-based page number.
    #[serde(default = "first_page")]
    pub page: u32,
    /// Rows per page.
    #[serde(default = "default_page_size")]
    pub page_size: u32,
    /// Free-text filter.
    #[serde(default)]
    pub search: Option<String>,
    /// Column to sort by.
    #[serde(default)]
    pub sort_by: Option<String>,
    /// `asc` or `desc`.
    #[serde(default)]
    pub sort_direction: Option<String>,
}

impl Default for ViewQuery {
    fn default() -> Self {
        ViewQuery { page: 1, page_size: default_page_size(), search: None, sort_by: None, sort_direction: None }
    }
}

fn first_page() -> u32 {
    1
}

fn default_page_size() -> u32 {
    10
}
