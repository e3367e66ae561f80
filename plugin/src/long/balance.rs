//! Spreading bots over the live host instances.
//!
//! Every installation writes a heartbeat key (`instance:<id>`, with a TTL) in its tenant's KV
//! namespace and re-reads the others' at the same period: that is the set of live instances as
//! this tenant sees it (every host restores every tenant's installation, so each tenant sees every
//! host). A bot's preferred instance is chosen by rendezvous hashing of its bot id with each live
//! instance id, with bounded loads: bots are taken in a fixed order (their own hash), and each
//! goes to the highest-scoring instance that has fewer than `ceil(bots / instances)` so far. Every
//! instance computes the same assignment from the same bots and live instances, no instance is
//! preferred by more than its fair share, and when an instance comes or goes few bots move
//! besides the ones it gains or loses. The bots are those of the tenant's integrations that
//! should connect (the supervisor tells after each reconcile); a bot not known yet falls back to
//! plain rendezvous.
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
//! An installation announces itself only while its tenant has bots that should connect: one with
//! no long connection to run writes nothing.
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

/// Assigns each bot to an instance: rendezvous hashing with bounded loads (see the module
/// documentation). Deterministic: the same bots and instances give the same assignment in every
/// process, whatever their order.
pub fn assign(bots: &[String], instances: &[String]) -> HashMap<String, String> {
    let mut assignment = HashMap::with_capacity(bots.len());
    if instances.is_empty() {
        return assignment;
    }
    let mut order: Vec<&String> = bots.iter().collect();
    order.sort_by_key(|b| (score(b, ""), b.as_str()));
    order.dedup();
    let capacity = order.len().div_ceil(instances.len());
    let mut load: HashMap<&str, usize> = instances.iter().map(|i| (i.as_str(), 0)).collect();
    let mut ranked: Vec<&str> = Vec::with_capacity(instances.len());
    for bot in order {
        ranked.clear();
        ranked.extend(instances.iter().map(String::as_str));
        ranked.sort_by_key(|i| std::cmp::Reverse((score(bot, i), *i)));
        if let Some(chosen) = ranked.iter().find(|i| load[**i] < capacity) {
            *load.get_mut(chosen).expect("every instance has a load") += 1;
            assignment.insert(bot.clone(), chosen.to_string());
        }
    }
    assignment
}

/// What this installation knows of the live instances and the bots to spread over them.
#[derive(Default)]
struct View {
    /// Live instance → when this installation first saw it alive (without a gap since).
    live: HashMap<String, Instant>,
    /// The bots that should connect, sorted.
    bots: Vec<String>,
    /// Bot → preferred instance, recomputed when `live` or `bots` change.
    assignment: HashMap<String, String>,
}

impl View {
    fn recompute(&mut self) {
        let mut instances: Vec<String> = self.live.keys().cloned().collect();
        instances.sort();
        self.assignment = assign(&self.bots, &instances);
        let mut shares: Vec<(&str, usize)> = instances.iter().map(|i| (i.as_str(), 0)).collect();
        for target in self.assignment.values() {
            if let Some(share) = shares.iter_mut().find(|(i, _)| *i == target) {
                share.1 += 1;
            }
        }
        tracing::info!(bots = self.bots.len(), shares = ?shares, "bots spread over the live instances");
    }
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
    /// Whether this installation has written its heartbeat yet (it does only while it has bots
    /// to spread: an installation with no long connection to run writes nothing).
    announced: AtomicBool,
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
            announced: AtomicBool::new(false),
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

    /// Whether there are bots to spread (integrations of the tenant that should connect).
    pub fn has_bots(&self) -> bool {
        !self.view.lock().bots.is_empty()
    }

    /// Whether this installation has announced itself yet.
    pub fn has_announced(&self) -> bool {
        self.announced.load(Ordering::Acquire)
    }

    /// Writes the heartbeat and re-reads the live instances, once.
    pub async fn beat(&self) {
        if self.draining.load(Ordering::Acquire) {
            return;
        }
        self.announced.store(true, Ordering::Release);
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
            let changed = kept != before || view.live.len() != kept;
            if changed {
                view.recompute();
            }
            changed
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

    /// Tells which bots should connect (the tenant's long-connection integrations that are not
    /// blocked); the assignment is recomputed when they change.
    pub fn set_bots(&self, mut bots: Vec<String>) {
        bots.sort();
        bots.dedup();
        let mut view = self.view.lock();
        if view.bots != bots {
            view.bots = bots;
            view.recompute();
            drop(view);
            self.changed.send_modify(|v| *v += 1);
        }
    }

    /// The instance a bot prefers among the live ones.
    pub fn preferred_of(&self, bot_id: &str) -> Option<String> {
        let view = self.view.lock();
        view.assignment
            .get(bot_id)
            .cloned()
            .filter(|i| view.live.contains_key(i))
            .or_else(|| preferred(bot_id, view.live.keys().map(String::as_str)).map(str::to_string))
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
        let target = self.preferred_of(bot_id)?;
        if target == self.instance_id {
            return None;
        }
        let seen_since = *self.view.lock().live.get(&target)?;
        (seen_since.elapsed() >= self.settings.settle).then_some(target)
    }

    /// Books this installation's next free hand-off slot and returns when it begins: slots are
    /// `handoff_interval` apart, so bots that want to move at the same moment leave one by one.
    pub fn book_hand_off_slot(&self) -> Instant {
        let now = Instant::now();
        let mut next = self.next_handoff.lock();
        let slot = (*next).max(now);
        *next = slot + self.settings.handoff_interval;
        slot
    }

    /// Runs the heartbeat until the installation stops, then withdraws: the heartbeat key is
    /// deleted before this installation's actors release their leases, so the other instances
    /// stop preferring this one and take its bots at once.
    pub async fn run(&self) {
        let cancelled = self.scope.cancellation();
        loop {
            tokio::select! {
                () = cancelled.cancelled() => break,
                () = tokio::time::sleep(self.settings.heartbeat) => {
                    if self.has_bots() {
                        self.beat().await;
                    }
                }
            }
        }
        self.withdraw().await;
    }

    /// Stops preferring this instance and deletes its heartbeat key.
    pub async fn withdraw(&self) {
        if self.draining.swap(true, Ordering::AcqRel) {
            return;
        }
        {
            let mut view = self.view.lock();
            view.live.remove(&self.instance_id);
            view.recompute();
        }
        if self.has_announced() {
            if let Err(e) = self.scope.host().kv().delete(&heartbeat_key(&self.instance_id)).await {
                tracing::warn!(error = %e, "deleting this instance's heartbeat failed");
            }
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

    fn bots(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("BOT{i:05}")).collect()
    }

    fn ids(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn the_assignment_gives_no_instance_more_than_its_fair_share_whatever_the_order() {
        let all = bots(1000);
        let instances = ids(&["host:4242:9f1c2e3a", "host:4243:00aa11bb", "other:77:deadbeef"]);
        let a = assign(&all, &instances);
        assert_eq!(a.len(), 1000, "every bot is assigned");
        for i in &instances {
            let n = a.values().filter(|v| *v == i).count();
            assert!(n <= 334, "{i} is preferred by {n} of 1000 bots; its fair share is 334");
        }
        let mut shuffled = all.clone();
        shuffled.reverse();
        let mut reversed = instances.clone();
        reversed.reverse();
        assert_eq!(assign(&shuffled, &reversed), a, "every process computes the same assignment");
    }

    #[test]
    fn an_instance_joining_takes_about_its_share_and_few_others_move() {
        let all = bots(999);
        let two = ids(&["a:1:x", "b:2:y"]);
        let three = ids(&["a:1:x", "b:2:y", "c:3:z"]);
        let before = assign(&all, &two);
        let after = assign(&all, &three);
        let to_c = after.values().filter(|v| *v == "c:3:z").count();
        let moved_between_old = all.iter().filter(|b| after[*b] != "c:3:z" && after[*b] != before[*b]).count();
        assert_eq!(to_c, 333);
        assert!(moved_between_old <= 100, "{moved_between_old} bots moved between the two old instances");
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
