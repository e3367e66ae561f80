//! `xpert-host --demo`: a WeCom bot anyone can talk to without a WeCom account. The simulator
//! runs in this process; once the host listens, the demo sets everything up through the host's
//! own HTTP API (as an operator would): the plugin at tenant level, a long-connection
//! integration for the simulator's bot, an echo Digital Expert, and a published WeCom Trigger
//! binding them. It then prints where to chat.

use std::time::Duration;

use serde_json::{json, Value};
use wecom_sim::{SimConfig, Simulator};

/// The demo's simulated bot.
pub const DEMO_BOT: &str = "DEMOBOT";

/// The running simulator and the bot's credentials.
pub struct Demo {
    /// The in-process simulator (kept alive for the host's lifetime).
    pub simulator: Simulator,
    /// The bot's long-connection secret (generated per run).
    secret: String,
}

impl Demo {
    /// Starts the simulator on a free loopback port with one bot.
    pub async fn start() -> Result<Demo, String> {
        let simulator = Simulator::start(SimConfig::default())
            .await
            .map_err(|e| format!("cannot start the demo's WeCom simulator: {e}"))?;
        let secret: String = (0..24).map(|_| format!("{:x}", rand::random::<u8>() % 16)).collect();
        simulator.add_bot(DEMO_BOT, &secret);
        Ok(Demo { simulator, secret })
    }

    /// The long-connection URL the host's plugin must use.
    pub fn ws_url(&self) -> String {
        self.simulator.ws_url()
    }

    /// Sets up the bot through the host's API at `base` (authenticated with `token`) and prints
    /// the chat page's address and the bot id. Failures are printed as one line each.
    pub async fn set_up(&self, base: &str, token: &str) {
        match self.set_up_steps(base, token).await {
            Ok(()) => {
                println!("demo chat: {}/chat", self.simulator.base_url());
                println!("demo bot: {DEMO_BOT}");
            }
            Err(e) => eprintln!("xpert-host: the demo setup failed: {e}"),
        }
        use std::io::Write as _;
        let _ = std::io::stdout().flush();
    }

    async fn set_up_steps(&self, base: &str, token: &str) -> Result<(), String> {
        let http = reqwest::Client::builder().timeout(Duration::from_secs(30)).build().map_err(|e| e.to_string())?;
        let call = |method: reqwest::Method, path: &str, body: Value| {
            let path = path.to_string();
            let request = http.request(method, format!("{base}{path}")).bearer_auth(token).json(&body);
            async move {
                let response = request.send().await.map_err(|e| format!("{path}: {e}"))?;
                let status = response.status();
                let answer: Value = response.json().await.unwrap_or(Value::Null);
                if status.is_success() {
                    Ok(answer)
                } else {
                    Err(format!("{path} answered {status}: {}", answer["error"]["message"].as_str().unwrap_or("")))
                }
            }
        };
        use reqwest::Method;
        call(Method::POST, "/api/plugins/install", json!({"name": "wecom", "level": "tenant"})).await?;
        let integration = call(
            Method::POST,
            "/api/integration",
            json!({"name": "Demo bot", "provider": "wecom_long", "options": {"botId": DEMO_BOT, "secret": self.secret}}),
        )
        .await?;
        let integration_id = integration["id"].as_str().ok_or("the integration has no id")?.to_string();
        let expert =
            call(Method::POST, "/api/xpert", json!({"name": "Echo expert", "agent": {"kind": "echo"}})).await?;
        let expert_id = expert["id"].as_str().ok_or("the Digital Expert has no id")?.to_string();
        let trigger = json!([{"provider": "wecom", "config": {"enabled": true, "integrationId": integration_id}}]);
        call(Method::PUT, &format!("/api/xpert/{expert_id}/triggers"), trigger).await?;
        call(Method::POST, &format!("/api/xpert/{expert_id}/publish"), json!({})).await?;
        Ok(())
    }
}
