//! Spreading bots over the live host instances.
//!
//! Every installation writes a heartbeat key (`instance:<id>`, with a TTL) in its tenant's KV
//! namespace and re-reads the others' at the same period: that is the set of live instances as
//! this tenant sees it (every host restores every tenant's installation, so each tenant sees every
//! host). A bot's preferred instance is chosen by rendezvous hashing of its bot id with each live
//! instance id: stable, and when an instance comes or goes only the bots it gains or loses move.
//!
//! The lease still decides who holds a bot; this only steers who takes it:
//!
//! - a standby that is the bot's preferred instance takes a free lease at once; the others leave a
//!   free lease to the preferred instance for a hold-back period (unless it is gone);
//! - a holder hands a bot over on purpose (closes its socket, then releases the lease) when the
//!   preferred instance is another live one that has been seen alive for the settle period and the
//!   holder has held the bot for as long; hand-offs are rate-limited per installation;
//! - a stopping installation deletes its heartbeat first, so the others stop preferring it.
//!
//! Nothing here kicks: the only way a bot changes hands is a released or expired lease.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use host_sdk::plugin::InstallationScope;
use parking_lot::Mutex;
use tokio::sync::watch;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::settings::BalanceSettings;

/// The prefix of the heartbeat keys (inside the tenant's KV namespace).
pub const HEARTBEAT_PREFIX: &str = "instance:";

/// The heartbeat key of an instance.
pub fn heartbeat_key(instance_id: &str) -> String {
    format!("{HEARTBEAT_PREFIX}{instance_id}")
}

/// The rendezvous score of a bot on an instance: FNV-1a over both ids, finished with the
/// SplitMix64 mixer so that near-identical ids still score independently. Every process computes
/// the same value (no per-process hash seed).
pub fn score(bot_id: &str, instance_id: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in bot_id.bytes().chain(std::iter::once(0xff)).chain(instance_id.bytes()) {
        h ^= u64::from(byte);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h = (h ^ (h >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h = (h ^ (h >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    h ^ (h >> 31)
}

/// The instance among `instances` that `bot_id` prefers (highest score; ties by id).
pub fn preferred<'a>(bot_id: &str, instances: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    instances.into_iter().max_by_key(|i| (score(bot_id, i), *i))
}

/// What this installation knows of the live instances.
#[derive(Default)]
struct View {
    /// Live instance → when this installation first saw it alive (without a gap since).
    live: HashMap<String, Instant>,
}

/// One installation's balancing: its heartbeat, its view of the live instances, and the
/// hand-off rate limit its actors share.
pub struct Balancer {
    scope: InstallationScope,
    instance_id: String,
    settings: BalanceSettings,
    view: Mutex<View>,
    /// Bumped whenever the set of live instances changes: standbys look again at once.
    changed: watch::Sender<u64>,
    next_handoff: Mutex<Instant>,
    draining: AtomicBool,
    withdrawn: CancellationToken,
}

impl Balancer {
    /// A balancer for this installation on instance `instance_id`.
    pub fn new(scope: InstallationScope, instance_id: String, settings: BalanceSettings) -> Self {
        let mut view = View::default();
        view.live.insert(instance_id.clone(), Instant::now());
        Balancer {
            scope,
            instance_id,
            settings,
            view: Mutex::new(view),
            changed: watch::channel(0).0,
            next_handoff: Mutex::new(Instant::now()),
            draining: AtomicBool::new(false),
            withdrawn: CancellationToken::new(),
        }
    }

    /// This instance's id.
    pub fn instance_id(&self) -> &str {
        &self.instance_id
    }

    /// The balancing settings.
    pub fn settings(&self) -> &BalanceSettings {
        &self.settings
    }

    /// Writes the heartbeat and re-reads the live instances, once.
    pub async fn beat(&self) {
        if self.draining.load(Ordering::Acquire) {
            return;
        }
        let kv = self.scope.host().kv();
        let ttl = self.settings.instance_ttl.as_millis() as u64;
        if let Err(e) = kv.set(&heartbeat_key(&self.instance_id), &self.instance_id, ttl).await {
            tracing::warn!(error = %e, "writing this instance's heartbeat failed");
        }
        let mut seen = Vec::new();
        let mut after = String::new();
        loop {
            match kv.scan_prefix(HEARTBEAT_PREFIX, &after, 200).await {
                Ok(page) => {
                    let full = page.len() == 200;
                    if let Some(last) = page.last() {
                        after = last.key.clone();
                    }
                    seen.extend(
                        page.into_iter().filter_map(|e| e.key.strip_prefix(HEARTBEAT_PREFIX).map(str::to_string)),
                    );
                    if !full {
                        break;
                    }
                }
                Err(e) => {
                    // Keep the last view: a store hiccup is not a change of membership.
                    tracing::warn!(error = %e, "reading the live instances failed");
                    return;
                }
            }
        }
        self.update(seen);
    }

    /// Replaces the live set with `seen` (this instance always counts while not draining).
    fn update(&self, mut seen: Vec<String>) {
        if !self.draining.load(Ordering::Acquire) && !seen.contains(&self.instance_id) {
            seen.push(self.instance_id.clone());
        }
        let now = Instant::now();
        let changed = {
            let mut view = self.view.lock();
            let before = view.live.len();
            view.live.retain(|id, _| seen.contains(id));
            let kept = view.live.len();
            for id in seen {
                view.live.entry(id).or_insert(now);
            }
            kept != before || view.live.len() != kept
        };
        if changed {
            let live: Vec<String> = self.live();
            tracing::info!(live = ?live, "the live instances changed");
            self.changed.send_modify(|v| *v += 1);
        }
    }

    /// The live instances, sorted.
    pub fn live(&self) -> Vec<String> {
        let mut live: Vec<String> = self.view.lock().live.keys().cloned().collect();
        live.sort();
        live
    }

    /// Whether an instance is in the current view.
    pub fn is_live(&self, instance_id: &str) -> bool {
        self.view.lock().live.contains_key(instance_id)
    }

    /// A receiver that changes whenever the live set does.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.changed.subscribe()
    }

    /// The instance a bot prefers among the live ones.
    pub fn preferred_of(&self, bot_id: &str) -> Option<String> {
        let view = self.view.lock();
        preferred(bot_id, view.live.keys().map(String::as_str)).map(str::to_string)
    }

    /// Whether this instance is the bot's preferred one.
    pub fn prefers_me(&self, bot_id: &str) -> bool {
        self.preferred_of(bot_id).is_none_or(|p| p == self.instance_id)
    }

    /// Whether `instance_id` is alive now, read from the store (not the view): asked before
    /// leaving a free lease to it, so a stale view never keeps a bot unowned.
    pub async fn is_alive_now(&self, instance_id: &str) -> bool {
        match self.scope.host().kv().get(&heartbeat_key(instance_id)).await {
            Ok(found) => found.is_some(),
            Err(_) => self.is_live(instance_id),
        }
    }

    /// Where a bot held here for `held_for` should go, if it should move now: its preferred
    /// instance when that is another one that has been alive for the settle period, and the bot
    /// has been held here for as long (so a bot moves at most once per settle period).
    pub fn hand_off_target(&self, bot_id: &str, held_for: Duration) -> Option<String> {
        if self.draining.load(Ordering::Acquire) || held_for < self.settings.settle {
            return None;
        }
        let view = self.view.lock();
        let target = preferred(bot_id, view.live.keys().map(String::as_str))?;
        if target == self.instance_id {
            return None;
        }
        let seen_since = view.live.get(target)?;
        (seen_since.elapsed() >= self.settings.settle).then(|| target.to_string())
    }

    /// Takes this installation's next hand-off slot if one is free now (at most one hand-off per
    /// `handoff_interval`).
    pub fn take_hand_off_slot(&self) -> bool {
        let now = Instant::now();
        let mut next = self.next_handoff.lock();
        if now < *next {
            return false;
        }
        *next = now + self.settings.handoff_interval;
        true
    }

    /// Runs the heartbeat until the installation stops, then withdraws: the heartbeat key is
    /// deleted before this installation's actors release their leases, so the other instances
    /// stop preferring this one and take its bots at once.
    pub async fn run(&self) {
        let cancelled = self.scope.cancellation();
        loop {
            tokio::select! {
                () = cancelled.cancelled() => break,
                () = tokio::time::sleep(self.settings.heartbeat) => self.beat().await,
            }
        }
        self.withdraw().await;
    }

    /// Stops preferring this instance and deletes its heartbeat key.
    pub async fn withdraw(&self) {
        if self.draining.swap(true, Ordering::AcqRel) {
            return;
        }
        self.view.lock().live.remove(&self.instance_id);
        if let Err(e) = self.scope.host().kv().delete(&heartbeat_key(&self.instance_id)).await {
            tracing::warn!(error = %e, "deleting this instance's heartbeat failed");
        }
        self.withdrawn.cancel();
    }

    /// Waits (at most `limit`) until the heartbeat is withdrawn.
    pub async fn withdrawn(&self, limit: Duration) {
        let _ = tokio::time::timeout(limit, self.withdrawn.cancelled()).await;
    }

    /// Whether this installation is draining (stopping).
    pub fn is_draining(&self) -> bool {
        self.draining.load(Ordering::Acquire)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_preference_is_stable_and_spreads_bots_evenly() {
        let instances = ["h1:101:aa", "h2:202:bb", "h3:303:cc"];
        let mut counts = HashMap::new();
        for n in 0..3000 {
            let bot = format!("BOT{n:05}");
            let p = preferred(&bot, instances).unwrap();
            assert_eq!(preferred(&bot, instances.iter().rev().copied()), Some(p), "order does not matter");
            *counts.entry(p).or_insert(0) += 1;
        }
        for (instance, count) in counts {
            assert!((850..=1150).contains(&count), "{instance} is preferred by {count} of 3000 bots");
        }
    }

    #[test]
    fn only_the_bots_of_a_leaving_instance_move() {
        let three = ["a", "b", "c"];
        let two = ["a", "b"];
        for n in 0..1000 {
            let bot = format!("B{n}");
            let before = preferred(&bot, three).unwrap();
            let after = preferred(&bot, two).unwrap();
            if before != "c" {
                assert_eq!(before, after, "{bot} moved although its instance stayed");
            }
        }
    }
}
