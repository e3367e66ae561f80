//! The compact connection the actors use (`connect_compact`): callbacks in an inbox instead of a
//! channel, commands queued in the shared state. Same rules as the channel, over real sockets
//! against the simulator: order, end of stream, a full inbox drops and counts, and no command
//! hangs once the driver is gone.
//!
//! Every wait is for an event, bounded by [`WAIT`].

use std::time::Duration;

use plugin_wecom::long::client::{connect_compact, ClientConfig, CommandError, CALLBACK_CHANNEL_CAPACITY};
use plugin_wecom::long::transport::TlsSettings;
use serde_json::json;
use tokio::time::{timeout, Instant};
use wecom_sim::{Chat, SimConfig, Simulator};

const BOT: &str = "BOTINBOX";
const SECRET: &str = "inbox-secret";
const WAIT: Duration = Duration::from_secs(10);

fn config(url: String) -> ClientConfig {
    ClientConfig {
        heartbeat_interval: Duration::from_secs(3600),
        ack_timeout: Duration::from_secs(2),
        ..ClientConfig::new(url, TlsSettings::new(None).expect("public roots"))
    }
}

async fn simulator() -> Simulator {
    let sim = Simulator::start(SimConfig::default()).await.expect("simulator");
    sim.add_bot(BOT, SECRET);
    sim
}

#[tokio::test]
async fn callbacks_come_in_order_and_the_inbox_ends_with_the_connection() {
    let sim = simulator().await;
    let (client, driver, mut inbox) = connect_compact(&config(sim.ws_url())).await.expect("connect");
    let driver = tokio::spawn(driver);
    client.subscribe(BOT, SECRET).await.expect("subscribed");
    let first = sim.send_text(BOT, "alice", Chat::Single, "one").expect("sent");
    let second = sim.send_text(BOT, "alice", Chat::Single, "two").expect("sent");
    for expected in [first, second] {
        let callback = timeout(WAIT, inbox.recv()).await.expect("a callback").expect("not ended");
        assert_eq!((callback.cmd.as_str(), callback.req_id), ("aibot_msg_callback", expected));
    }

    assert_eq!(sim.drop_connections(BOT), 1);
    timeout(WAIT, driver).await.expect("the driver ends").expect("no panic");
    assert_eq!(timeout(WAIT, inbox.recv()).await.expect("an answer"), None, "nothing comes after the end");
    assert_eq!(client.request("ping", None, json!(null)).await, Err(CommandError::Closed));
}

#[tokio::test]
async fn a_full_inbox_drops_and_counts_while_acks_keep_flowing() {
    let sim = simulator().await;
    let (client, driver, mut inbox) = connect_compact(&config(sim.ws_url())).await.expect("connect");
    tokio::spawn(driver);
    client.subscribe(BOT, SECRET).await.expect("subscribed");
    let extra = 5;
    let sent: Vec<String> = (0..CALLBACK_CHANNEL_CAPACITY + extra)
        .map(|i| sim.send_text(BOT, "bob", Chat::Single, &format!("m{i}")).expect("sent"))
        .collect();
    // The driver reads in order, so once a command sent now is acked every callback was handled.
    client.request("ping", None, json!(null)).await.expect("acks flow while the inbox is full");
    assert_eq!(client.dropped_callbacks(), extra as u64);
    for expected in &sent[..CALLBACK_CHANNEL_CAPACITY] {
        let callback = timeout(WAIT, inbox.recv()).await.expect("a callback").expect("not ended");
        assert_eq!(&callback.req_id, expected, "the first ones are kept, in order");
    }
    let quiet = Instant::now() + Duration::from_millis(100);
    assert!(tokio::time::timeout_at(quiet, inbox.recv()).await.is_err(), "the dropped ones do not come");
}

#[tokio::test]
async fn commands_fail_at_once_when_the_driver_is_dropped() {
    let sim = simulator().await;
    let (client, driver, _inbox) = connect_compact(&config(sim.ws_url())).await.expect("connect");
    // Queued, never taken: the driver is not polled.
    let queued = tokio::spawn({
        let client = client.clone();
        async move { client.request("ping", None, json!(null)).await }
    });
    tokio::task::yield_now().await;
    drop(driver);
    let answer = timeout(WAIT, queued).await.expect("the queued command is answered").expect("no panic");
    assert_eq!(answer, Err(CommandError::Closed));
    assert!(client.is_closed());
    assert_eq!(client.request("ping", None, json!(null)).await, Err(CommandError::Closed));
}
