//! Agent invocation: the request, the NonExhaustive event enum, the pull stream and the service.

use abi_stable::nonexhaustive_enum::NonExhaustive;
use abi_stable::sabi_trait;
use abi_stable::std_types::{RArc, RBox, ROption, RResult, RString, RVec};
use abi_stable::StableAbi;
use async_ffi::{FfiContext, FfiFuture, FfiPoll};

use super::FfiError;
use crate::{AgentEvent, AgentFile, AgentRequest, ConversationStatus};

/// The FFI twin of [`AgentFile`].
#[repr(C)]
#[derive(StableAbi, Clone, Debug)]
pub struct FfiAgentFile {
    /// Where the agent can read the file (a `data:` URL is fine).
    pub url: RString,
    /// MIME type.
    pub mime_type: RString,
    /// Original name.
    pub name: RString,
}

/// The FFI twin of [`AgentRequest`].
#[repr(C)]
#[derive(StableAbi, Clone, Debug)]
pub struct FfiAgentRequest {
    /// Digital Expert id.
    pub xpert_id: RString,
    /// Conversation to continue, if any.
    pub conversation_id: ROption<RString>,
    /// The user's text.
    pub input: RString,
    /// Attached files.
    pub files: RVec<FfiAgentFile>,
    /// Extra options as a JSON object string.
    pub options_json: RString,
}

/// The FFI form of one agent event. New variants may be added in later minor versions; a
/// consumer that meets one it does not know sees [`AgentEvent::Unknown`] and skips it.
#[repr(u8)]
#[derive(StableAbi, Clone, Debug, PartialEq)]
#[sabi(kind(WithNonExhaustive(size = [usize; 8], traits(Send, Sync, Debug, Clone, PartialEq))))]
#[non_exhaustive]
pub enum FfiAgentEvent {
    /// Visible text to append.
    TextDelta(RString),
    /// Reasoning text.
    Reasoning(RString),
    /// The run's conversation id.
    ConversationStart(RString),
    /// The turn ended: status code (0 success, 1 error, 2 interrupted) and optional error text.
    ConversationEnd(u8, ROption<RString>),
    /// The run failed with this message.
    Error(RString),
    /// The run is over.
    Done,
}

/// The NonExhaustive wrapper that actually crosses the boundary.
pub type FfiAgentEventNe = FfiAgentEvent_NE;

/// A pull stream of agent events. Implemented by the host, polled by the plugin with the
/// plugin's waker. Dropping it cancels the agent run.
#[sabi_trait]
pub trait AgentStream: Send {
    /// Polls for the next event; `Ready(None)` ends the stream.
    #[sabi(last_prefix_field)]
    fn poll_next(&mut self, cx: &mut FfiContext<'_>) -> FfiPoll<ROption<FfiAgentEventNe>>;
}

/// The owned stream object handed to the plugin.
pub type AgentStreamBox = AgentStream_TO<'static, RBox<()>>;

/// Runs agents. Implemented by the host.
#[sabi_trait]
pub trait AgentService: Send + Sync {
    /// Starts a run and returns its event stream.
    #[sabi(last_prefix_field)]
    fn invoke(&self, request: FfiAgentRequest) -> FfiFuture<RResult<AgentStreamBox, FfiError>>;
}

/// The shared agent-service object.
pub type AgentServiceArc = AgentService_TO<'static, RArc<()>>;

impl From<AgentFile> for FfiAgentFile {
    fn from(f: AgentFile) -> Self {
        FfiAgentFile { url: f.url.into(), mime_type: f.mime_type.into(), name: f.name.into() }
    }
}

impl From<FfiAgentFile> for AgentFile {
    fn from(f: FfiAgentFile) -> Self {
        AgentFile { url: f.url.into_string(), mime_type: f.mime_type.into_string(), name: f.name.into_string() }
    }
}

impl From<AgentRequest> for FfiAgentRequest {
    fn from(r: AgentRequest) -> Self {
        FfiAgentRequest {
            xpert_id: r.xpert_id.into(),
            conversation_id: r.conversation_id.map(RString::from).into(),
            input: r.input.into(),
            files: r.files.into_iter().map(FfiAgentFile::from).collect(),
            options_json: r.options.to_string().into(),
        }
    }
}

impl From<FfiAgentRequest> for AgentRequest {
    fn from(r: FfiAgentRequest) -> Self {
        AgentRequest {
            xpert_id: r.xpert_id.into_string(),
            conversation_id: r.conversation_id.into_option().map(RString::into_string),
            input: r.input.into_string(),
            files: r.files.into_iter().map(AgentFile::from).collect(),
            options: serde_json::from_str(&r.options_json).unwrap_or(serde_json::Value::Null),
        }
    }
}

fn status_code(s: ConversationStatus) -> u8 {
    match s {
        ConversationStatus::Success => 0,
        ConversationStatus::Error => 1,
        ConversationStatus::Interrupted => 2,
    }
}

fn status_from_code(c: u8) -> ConversationStatus {
    match c {
        0 => ConversationStatus::Success,
        2 => ConversationStatus::Interrupted,
        _ => ConversationStatus::Error,
    }
}

impl AgentEvent {
    /// Converts to the FFI form. [`AgentEvent::Unknown`] has no FFI form and gives `None`.
    pub fn into_ffi(self) -> Option<FfiAgentEventNe> {
        let ev = match self {
            AgentEvent::TextDelta(t) => FfiAgentEvent::TextDelta(t.into()),
            AgentEvent::Reasoning(t) => FfiAgentEvent::Reasoning(t.into()),
            AgentEvent::ConversationStart { conversation_id } => {
                FfiAgentEvent::ConversationStart(conversation_id.into())
            }
            AgentEvent::ConversationEnd { status, error } => {
                FfiAgentEvent::ConversationEnd(status_code(status), error.map(RString::from).into())
            }
            AgentEvent::Error { message } => FfiAgentEvent::Error(message.into()),
            AgentEvent::Done => FfiAgentEvent::Done,
            AgentEvent::Unknown => return None,
        };
        Some(NonExhaustive::new(ev))
    }

    /// Converts from the FFI form; variants newer than this build become [`AgentEvent::Unknown`].
    pub fn from_ffi(ev: FfiAgentEventNe) -> AgentEvent {
        match ev.into_enum() {
            Ok(FfiAgentEvent::TextDelta(t)) => AgentEvent::TextDelta(t.into_string()),
            Ok(FfiAgentEvent::Reasoning(t)) => AgentEvent::Reasoning(t.into_string()),
            Ok(FfiAgentEvent::ConversationStart(id)) => {
                AgentEvent::ConversationStart { conversation_id: id.into_string() }
            }
            Ok(FfiAgentEvent::ConversationEnd(code, error)) => AgentEvent::ConversationEnd {
                status: status_from_code(code),
                error: error.into_option().map(RString::into_string),
            },
            Ok(FfiAgentEvent::Error(m)) => AgentEvent::Error { message: m.into_string() },
            Ok(FfiAgentEvent::Done) => AgentEvent::Done,
            Err(_) => AgentEvent::Unknown,
        }
    }
}
