//! Desired state and observed status in the shared KV store, through the same FFI host objects a
//! real host hands over (the TestHost's in-memory services): intent survives concurrent writers,
//! and only the current lease holder's status writes land.

use std::sync::Arc;

use host_sdk::host::{export_host_api, TestHost};
use host_sdk::plugin::Host;
use plugin_wecom::keys;
use plugin_wecom::state::desired;
use plugin_wecom::state::observed::{self, ConnectionState, ObservedStatus};

fn client(host: &Arc<TestHost>) -> Host {
    Host::new(export_host_api(host.services(), host.handle(), "wecom", "t1"))
}

fn plugin_side() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap()
}

fn status(state: ConnectionState) -> ObservedStatus {
    ObservedStatus::new(state, "", 0)
}

#[test]
fn a_status_write_from_a_lease_that_was_taken_over_is_refused() {
    let host = TestHost::new();
    let api = client(&host);
    plugin_side().block_on(async {
        let bot = keys::bot_lease("aibBOT");
        let old = api.leases().acquire(&bot, "instance-a", 1_000).await.unwrap().expect("free");
        assert!(observed::write_fenced(api.kv(), "i1", &old, status(ConnectionState::Connected)).await.unwrap());

        // a's lease lapses (a paused process); b takes the bot and writes.
        host.advance_ms(2_000);
        let new = api.leases().acquire(&bot, "instance-b", 1_000).await.unwrap().expect("expired lease is free");
        assert!(new.token > old.token);
        assert!(observed::write_fenced(api.kv(), "i1", &new, status(ConnectionState::Connecting)).await.unwrap());

        // a wakes up and tries to report: refused, and b's status stands.
        let stale = observed::write_fenced(api.kv(), "i1", &old, status(ConnectionState::Retrying)).await.unwrap();
        assert!(!stale, "a stale owner's write must be refused");
        let stored = observed::load(api.kv(), "i1").await.unwrap().unwrap();
        assert_eq!((stored.state, stored.lease_owner.as_str()), (ConnectionState::Connecting, "instance-b"));
        assert_eq!(stored.fence_token, new.token);
    });
}

#[test]
fn concurrent_intent_updates_are_never_lost() {
    let host = TestHost::new();
    let api = client(&host);
    plugin_side().block_on(async {
        let mut writers = Vec::new();
        for _ in 0..8 {
            let api = api.clone();
            writers.push(tokio::spawn(async move {
                desired::update(api.kv(), "i1", |d| d.generation += 1).await.unwrap();
            }));
        }
        for w in writers {
            w.await.unwrap();
        }
        assert_eq!(desired::load(api.kv(), "i1").await.unwrap().generation, 8, "every increment landed");
        desired::update(api.kv(), "i1", |d| d.manual_disconnect = true).await.unwrap();
        let state = desired::load(api.kv(), "i1").await.unwrap();
        assert!(state.manual_disconnect && state.generation == 8);
        desired::forget(api.kv(), "i1").await.unwrap();
        assert_eq!(desired::load(api.kv(), "i1").await.unwrap(), desired::DesiredState::default());
    });
}
