//! The `echo` agent: for input `X` it streams `echo: X` in several chunks. `/fail…` ends in an
//! error; `/slow N` streams for N seconds before completing.

use std::time::Duration;

use host_sdk::AgentEvent;

use super::{RunOutcome, RunSink};

/// Splits text into `parts` chunks on character boundaries.
fn chunks(text: &str, parts: usize) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    let size = chars.len().div_ceil(parts.max(1)).max(1);
    chars.chunks(size).map(|c| c.iter().collect()).collect()
}

/// Runs the echo agent.
pub async fn run(input: &str, sink: &RunSink) -> RunOutcome {
    let trimmed = input.trim();
    if trimmed.starts_with("/fail") {
        if !sink.send(AgentEvent::TextDelta("echo: ".into())).await {
            return RunOutcome::Cancelled;
        }
        return RunOutcome::Failed("the echo agent was asked to fail (/fail)".into());
    }
    let text = format!("echo: {trimmed}");
    let slow_secs = trimmed
        .strip_prefix("/slow")
        .and_then(|rest| rest.split_whitespace().next().map(str::to_string))
        .and_then(|n| n.parse::<f64>().ok())
        .filter(|n| n.is_finite() && *n >= 0.0)
        .map(|n| n.min(600.0));
    let parts = if slow_secs.is_some() { 10 } else { 4 };
    let pieces = chunks(&text, parts);
    let pause = slow_secs.map(|s| Duration::from_secs_f64(s / pieces.len() as f64));
    for piece in pieces {
        if let Some(pause) = pause {
            tokio::select! {
                _ = tokio::time::sleep(pause) => {}
                _ = sink.closed() => return RunOutcome::Cancelled,
            }
        }
        if !sink.send(AgentEvent::TextDelta(piece)).await {
            return RunOutcome::Cancelled;
        }
    }
    RunOutcome::Completed(text)
}

#[cfg(test)]
mod tests {
    use super::chunks;

    #[test]
    fn chunks_cover_the_text_on_char_boundaries() {
        let parts = chunks("echo: 你好世界", 4);
        assert!(parts.len() > 1);
        assert_eq!(parts.concat(), "echo: 你好世界");
    }
}
