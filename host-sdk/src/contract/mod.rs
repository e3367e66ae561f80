//! The typed host↔plugin contract: what crosses the boundary as JSON (descriptors, setup
//! information, view manifests and data, action results, trigger checklists and parameters).
//!
//! Both sides use these serde structs, so a field renamed on one side fails to compile instead of
//! silently vanishing on the other. They cross as JSON strings (not `StableAbi` layouts) because
//! they grow often; a field added later with `#[serde(default)]` stays compatible both ways.

mod descriptors;
mod params;
mod setup;
mod text;
mod views;

pub use descriptors::{ConfigSchema, ProviderDescriptor, TriggerDescriptor, ViewExtensionDescriptor};
pub use params::{ChecklistItem, ChecklistLevel, TriggerParams, ViewQuery};
pub use setup::{SetupInfo, TestResult};
pub use text::I18nText;
pub use views::{ActionResult, ActionScope, FieldKind, ViewAction, ViewData, ViewField, ViewKind, ViewManifest};
