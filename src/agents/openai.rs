//! The `openai` agent: streams from any OpenAI-compatible `/v1/chat/completions` endpoint
//! (`stream: true`, server-sent events), sending the conversation's earlier turns as history.

use futures_util::StreamExt;
use host_sdk::{AgentEvent, AgentRequest};
use serde_json::{json, Value};

use super::{RunOutcome, RunSink};
use crate::store::MessageRecord;

/// The chat-completions URL for a base URL given with or without `/v1`.
pub fn completions_url(base_url: &str) -> String {
    let base = base_url.trim().trim_end_matches('/');
    if base.ends_with("/v1") {
        format!("{base}/chat/completions")
    } else {
        format!("{base}/v1/chat/completions")
    }
}

/// Runs one turn.
pub async fn run(
    http: &reqwest::Client,
    agent: &Value,
    history: &[MessageRecord],
    request: &AgentRequest,
    sink: &RunSink,
) -> RunOutcome {
    let base_url = agent.get("baseUrl").and_then(Value::as_str).unwrap_or_default();
    let model = agent.get("model").and_then(Value::as_str).unwrap_or_default();
    let api_key = agent.get("apiKey").and_then(Value::as_str).unwrap_or_default();
    let mut messages = Vec::new();
    if let Some(system) = agent.get("systemPrompt").and_then(Value::as_str).filter(|s| !s.is_empty()) {
        messages.push(json!({"role": "system", "content": system}));
    }
    for turn in history {
        messages.push(json!({"role": turn.role, "content": turn.content}));
    }
    messages.push(json!({"role": "user", "content": request.input}));
    let mut call =
        http.post(completions_url(base_url)).json(&json!({"model": model, "stream": true, "messages": messages}));
    if !api_key.is_empty() {
        call = call.bearer_auth(api_key);
    }
    let response = tokio::select! {
        r = call.send() => r,
        _ = sink.closed() => return RunOutcome::Cancelled,
    };
    let response = match response {
        Ok(r) => r,
        Err(e) => return RunOutcome::Failed(format!("the model endpoint is unreachable: {}", e.without_url())),
    };
    if !response.status().is_success() {
        return RunOutcome::Failed(format!("the model endpoint answered HTTP {}", response.status().as_u16()));
    }
    let mut body = response.bytes_stream();
    // Bytes, not text: a network chunk may end inside a multi-byte character, so only whole
    // lines (split on the byte `\n`, which never occurs inside a UTF-8 sequence) are decoded.
    let mut buffer: Vec<u8> = Vec::new();
    let mut answer = String::new();
    loop {
        let chunk = tokio::select! {
            c = body.next() => c,
            _ = sink.closed() => return RunOutcome::Cancelled,
        };
        let Some(chunk) = chunk else { break };
        let chunk = match chunk {
            Ok(c) => c,
            Err(e) => return RunOutcome::Failed(format!("the model stream broke: {}", e.without_url())),
        };
        buffer.extend_from_slice(&chunk);
        while let Some(end) = buffer.iter().position(|b| *b == b'\n') {
            let bytes: Vec<u8> = buffer.drain(..=end).collect();
            let line = String::from_utf8_lossy(&bytes);
            let Some(data) = line.trim().strip_prefix("data:") else { continue };
            let data = data.trim();
            if data == "[DONE]" {
                return RunOutcome::Completed(answer);
            }
            let Ok(event) = serde_json::from_str::<Value>(data) else { continue };
            let delta = &event["choices"][0]["delta"];
            if let Some(reasoning) = delta.get("reasoning_content").and_then(Value::as_str).filter(|s| !s.is_empty()) {
                if !sink.send(AgentEvent::Reasoning(reasoning.to_string())).await {
                    return RunOutcome::Cancelled;
                }
            }
            if let Some(text) = delta.get("content").and_then(Value::as_str).filter(|s| !s.is_empty()) {
                answer.push_str(text);
                if !sink.send(AgentEvent::TextDelta(text.to_string())).await {
                    return RunOutcome::Cancelled;
                }
            }
        }
    }
    RunOutcome::Completed(answer)
}

#[cfg(test)]
mod tests {
    use super::completions_url;

    #[test]
    fn base_urls_with_or_without_v1_reach_the_same_endpoint() {
        assert_eq!(completions_url("http://h:1"), "http://h:1/v1/chat/completions");
        assert_eq!(completions_url("http://h:1/v1/"), "http://h:1/v1/chat/completions");
    }
}
