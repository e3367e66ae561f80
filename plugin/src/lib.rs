//! # plugin-wecom: the WeCom (企业微信) smart-bot integration for Xpert AI
//!
//! Built as a `cdylib` that the host loads through `host-sdk`'s stable ABI. The FFI edge lives in
//! [`ffi`] alone; everything else is plain Rust that knows nothing of abi_stable:
//!
//! - [`config`]: the two connection types' options and their validation;
//! - [`crypto`]: the EncodingAESKey and WXBizMsgCrypt primitives; [`aes_cbc`]: AES-256-CBC
//!   decryption (VAES where the CPU has it);
//! - [`descriptors`]: what operators see (schemas with en/zh labels, help links);
//! - [`providers`]: the `wecom` (short) and `wecom_long` (long) integration providers;
//! - [`trigger`]: the WeCom Trigger binding an integration to one Digital Expert;
//! - [`state`]: desired state (operator intent) and observed status (fenced writes by the bot's
//!   owner), kept in the host's shared KV store; [`sessions`]: conversation sessions;
//! - [`views`]: the Status and Sessions tabs (read models that never write);
//! - [`routes`]: the plugin's HTTP routes; [`short`]: the short connection (webhook callbacks);
//! - [`i18n`]: user-facing strings in English and Chinese;
//! - [`long`]: the long connection; [`pipeline`]: the conversation, for both transports;
//! - [`metrics`]: the installation's Prometheus metrics, scraped through the host's `/metrics`.
//!
//! State never lives in process globals: bindings, intent and status are in the host's KV store
//! and sessions in its sessions store, so several host instances can share one set of integrations; what belongs to one
//! installation (its tenant, log sink and tasks) hangs off its `InstallationScope`.

#![warn(missing_docs)]

pub mod aes_cbc;
pub mod config;
pub mod crypto;
pub mod descriptors;
pub mod ffi;
pub mod http_client;
pub mod i18n;
pub mod keys;
pub mod long;
pub mod metrics;
pub mod pipeline;
pub mod protocol;
pub mod providers;
pub mod routes;
pub mod sessions;
pub mod short;
pub mod state;
pub mod trigger;
pub mod views;

/// The two provider names.
pub const PROVIDER_SHORT: &str = "wecom";
/// The long-connection provider name.
pub const PROVIDER_LONG: &str = "wecom_long";
/// The trigger name.
pub const TRIGGER_NAME: &str = "wecom";
/// WeCom's public long-connection endpoint (overridable with the host's `WECOM_WS_URL`).
pub const DEFAULT_WS_URL: &str = "wss://openws.work.weixin.qq.com";
/// The documentation page linked from both providers.
pub const HELP_URL: &str = "https://developer.work.weixin.qq.com/document/path/101463";
