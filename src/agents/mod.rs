//! Agents that run Digital Experts: `echo` (deterministic, for demos and tests) and `openai`
//! (any OpenAI-compatible streaming endpoint). A run streams [`AgentEvent`]s into a channel;
//! dropping the receiver cancels it. Turns are stored so later turns carry the history.

mod echo;
mod openai;

use std::sync::Arc;

use host_sdk::host::AgentEventReceiver;
use host_sdk::{AgentEvent, AgentRequest, ConversationStatus, Error};
use serde_json::Value;
use tokio::sync::mpsc;

use crate::clock::now_rfc3339;
use crate::store::{MessageRecord, Store};

/// Starts agent runs.
#[derive(Clone)]
pub struct AgentRunner {
    store: Arc<dyn Store>,
    http: reqwest::Client,
}

/// Where a run writes its events.
pub struct RunSink {
    tx: mpsc::Sender<AgentEvent>,
}

impl RunSink {
    /// Sends an event; false when the consumer is gone (the run must stop).
    pub async fn send(&self, ev: AgentEvent) -> bool {
        self.tx.send(ev).await.is_ok()
    }
    /// Resolves when the consumer is gone.
    pub async fn closed(&self) {
        self.tx.closed().await
    }
}

impl AgentRunner {
    /// A runner over the store.
    pub fn new(store: Arc<dyn Store>) -> Self {
        let http =
            reqwest::Client::builder().connect_timeout(std::time::Duration::from_secs(10)).build().unwrap_or_default();
        AgentRunner { store, http }
    }

    /// Starts a run of the Digital Expert named in the request, which must belong to `tenant`
    /// (another tenant's expert answers "does not exist", like a missing one).
    pub async fn start(&self, tenant: &str, request: AgentRequest) -> Result<AgentEventReceiver, Error> {
        // Only the agent config: an expert's triggers (one per bound integration) are not parsed
        // for every run.
        let agent = self
            .store
            .xpert_agent(tenant.to_string(), request.xpert_id.clone())
            .await
            .map_err(|e| Error::unavailable(e.message))?
            .ok_or_else(|| {
                Error::not_found(format!("Digital Expert {} does not exist", crate::shown::id(&request.xpert_id)))
            })?;
        let conversation_id = match &request.conversation_id {
            Some(id)
                if self
                    .store
                    .conversation_exists(tenant.to_string(), id.clone(), request.xpert_id.clone())
                    .await
                    .map_err(|e| Error::unavailable(e.message))? =>
            {
                id.clone()
            }
            _ => {
                let id = uuid::Uuid::new_v4().to_string();
                self.store
                    .create_conversation(tenant.to_string(), id.clone(), request.xpert_id.clone(), now_rfc3339())
                    .await
                    .map_err(|e| Error::unavailable(e.message))?;
                id
            }
        };
        let history = self
            .store
            .messages(tenant.to_string(), conversation_id.clone())
            .await
            .map_err(|e| Error::unavailable(e.message))?;
        let (tx, rx) = mpsc::channel(64);
        let runner = self.clone();
        let tenant = tenant.to_string();
        tokio::spawn(async move {
            let sink = RunSink { tx };
            if !sink.send(AgentEvent::ConversationStart { conversation_id: conversation_id.clone() }).await {
                return;
            }
            let input = request.input.clone();
            let outcome = match agent.get("kind").and_then(Value::as_str) {
                Some("openai") => openai::run(&runner.http, &agent, &history, &request, &sink).await,
                _ => echo::run(&input, &sink).await,
            };
            let (status, error, answer) = match outcome {
                RunOutcome::Completed(answer) => (ConversationStatus::Success, None, answer),
                RunOutcome::Failed(message) => {
                    if !sink.send(AgentEvent::Error { message: message.clone() }).await {
                        return;
                    }
                    (ConversationStatus::Error, Some(message), String::new())
                }
                RunOutcome::Cancelled => return,
            };
            let store = runner.store.clone();
            let _ = store
                .append_message(
                    tenant.clone(),
                    conversation_id.clone(),
                    MessageRecord { role: "user".into(), content: input },
                )
                .await;
            if !answer.is_empty() {
                let _ = store
                    .append_message(
                        tenant,
                        conversation_id,
                        MessageRecord { role: "assistant".into(), content: answer },
                    )
                    .await;
            }
            if sink.send(AgentEvent::ConversationEnd { status, error }).await {
                sink.send(AgentEvent::Done).await;
            }
        });
        Ok(rx)
    }
}

/// How a run ended.
pub enum RunOutcome {
    /// Finished; the full answer text.
    Completed(String),
    /// Failed with this (secret-free) message.
    Failed(String),
    /// The consumer went away.
    Cancelled,
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use host_sdk::{AgentEvent, AgentRequest, ErrorCode};
    use serde_json::json;

    use super::AgentRunner;
    use crate::store::{SqliteStore, Store, TenantRecord, XpertRecord, DEFAULT_TENANT};

    #[tokio::test]
    async fn a_run_reaches_only_experts_and_conversations_of_its_tenant() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(SqliteStore::open(&dir.path().join("t.db")).unwrap());
        let b = TenantRecord { id: "tb".into(), name: "B".into(), created_at: "t".into() };
        assert!(store.create_tenant(b, "hash".into()).await.unwrap());
        let xpert = XpertRecord {
            id: "x1".into(),
            tenant_id: DEFAULT_TENANT.into(),
            name: "x".into(),
            agent: json!({"kind": "echo"}),
            triggers: json!([]),
            published: false,
            published_triggers: json!([]),
            created_at: "t".into(),
            updated_at: "t".into(),
        };
        assert!(store.put_xpert(xpert).await.unwrap());
        let runner = AgentRunner::new(store.clone());
        let request = |conversation: Option<String>| AgentRequest {
            xpert_id: "x1".into(),
            conversation_id: conversation,
            input: "hi".into(),
            ..Default::default()
        };

        let err = runner.start("tb", request(None)).await.expect_err("another tenant's expert is refused");
        assert_eq!(err.code, ErrorCode::NOT_FOUND);

        let mut events = runner.start(DEFAULT_TENANT, request(None)).await.unwrap();
        let Some(AgentEvent::ConversationStart { conversation_id }) = events.recv().await else { panic!("no start") };
        while let Some(ev) = events.recv().await {
            if matches!(ev, AgentEvent::Done) {
                break;
            }
        }
        assert_eq!(store.messages(DEFAULT_TENANT.into(), conversation_id.clone()).await.unwrap().len(), 2);
        assert!(store.messages("tb".into(), conversation_id).await.unwrap().is_empty(), "not readable from B");
    }
}
