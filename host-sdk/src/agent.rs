//! Plain Rust types for agent invocation and its event stream.

/// A file handed to the agent with the user's message (for example a decrypted WeCom image).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AgentFile {
    /// Where the agent can read it; a `data:` URL is fine.
    pub url: String,
    /// The MIME type, e.g. `image/png`.
    pub mime_type: String,
    /// The original file name, if known.
    pub name: String,
}

/// One agent run: the Digital Expert to run, the conversation to continue and the user's input.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AgentRequest {
    /// The Digital Expert (xpert) id.
    pub xpert_id: String,
    /// The conversation to continue; `None` starts a new one (announced by
    /// [`AgentEvent::ConversationStart`]).
    pub conversation_id: Option<String>,
    /// The user's text.
    pub input: String,
    /// Files sent with the text.
    pub files: Vec<AgentFile>,
    /// Extra options as a JSON object (channel, sender, language, …); the host may ignore them.
    pub options: serde_json::Value,
}

/// How a conversation turn ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConversationStatus {
    /// The run completed normally.
    Success,
    /// The run failed.
    Error,
    /// The run was interrupted (cancelled, or waiting for human input).
    Interrupted,
}

/// One event of an agent run, in the order the agent produced them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AgentEvent {
    /// Visible answer text to append.
    TextDelta(String),
    /// Reasoning text (not shown to WeCom users).
    Reasoning(String),
    /// The run belongs to this conversation (a new one, or the one asked for).
    ConversationStart {
        /// The conversation id to store for the next turn.
        conversation_id: String,
    },
    /// The turn ended with this status.
    ConversationEnd {
        /// How it ended.
        status: ConversationStatus,
        /// The error text when `status` is `Error`.
        error: Option<String>,
    },
    /// The run failed; no more events follow except `Done`.
    Error {
        /// A secret-free message for logs and users.
        message: String,
    },
    /// The run is over; the stream ends after this.
    Done,
    /// An event kind newer than this build of the SDK; consumers skip it.
    Unknown,
}
