//! One integration's connection: lease, connect, subscribe, heartbeat (in the client), reconnect
//! with backoff, kick handling, and the observed status — written only while holding the bot's
//! lease, fenced by its token.
//!
//! The actor never fights: a `disconnected_event` (another connection took the bot) closes the
//! socket, records `displaced` and ends the actor; nothing reconnects until an operator presses
//! Reconnect or saves the config. Refused credentials (853000) have their own budget, after which
//! the integration is `unhealthy` with `config_invalid`. The lease is renewed while connected and
//! while reconnecting, and the socket is closed as soon as a renewal fails for long enough that
//! another instance could take over.
//!
//! Across host instances the actor follows the [`Balancer`]: as a standby it leaves a free lease
//! to the bot's preferred instance for a while, and as the holder it hands the bot over on purpose
//! (serving its in-flight answers, closing its socket, then releasing the lease) once the preferred
//! instance has settled. Stopping with the installation (host shutdown) drains the same way.

use std::sync::Arc;
use std::time::Duration;

use host_sdk::plugin::InstallationScope;
use host_sdk::{Integration, Lease};
use parking_lot::Mutex;
use tokio_util::sync::CancellationToken;

use super::balance::Balancer;
use super::client::{self, ClientConfig, CommandError, ConnectionEnd};
use super::inbound::{classify, Classified};
use super::reply::{CurrentClient, LongReply, ReplyTarget};
use super::settings::LongSettings;
use crate::config::LongConfig;
use crate::keys;
use crate::metrics::Metrics;
use crate::pipeline::Pipeline;
use crate::protocol::errcode;
use crate::state::observed::{self, ConnectionState, ObservedStatus};
use crate::state::{reason, rfc3339};

/// What an actor needs.
pub struct ActorContext {
    /// The installation (host services, tasks).
    pub scope: InstallationScope,
    /// Shared settings.
    pub settings: Arc<LongSettings>,
    /// The integration as it was when the actor started (its options may be left out: the actor
    /// reads them from `config`).
    pub integration: Integration,
    /// Its parsed options.
    pub config: LongConfig,
    /// The desired-state generation the actor serves (a later one restarts it).
    pub generation: u64,
    /// Where callbacks go.
    pub pipeline: Arc<Pipeline>,
    /// The subscribed connection, for replies that outlive the socket of their callback.
    pub current: CurrentClient,
    /// The installation's metrics.
    pub metrics: Arc<Metrics>,
    /// The installation's view of the live instances, which steers who takes the bot.
    pub balancer: Arc<Balancer>,
}

/// How an actor ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ActorExit {
    /// Stopped by its supervisor (or the installation), with the reason it recorded.
    Stopped,
    /// Another connection took the bot: do not restart without an operator.
    Displaced,
    /// WeCom refused the credentials too often: do not restart until the config is saved.
    AuthFailed,
}

/// The stop signal of one actor, with the reason to record.
#[derive(Clone, Default)]
pub struct StopSignal {
    token: CancellationToken,
    reason: Arc<Mutex<Option<&'static str>>>,
}

impl StopSignal {
    /// A signal that also fires when `parent` is cancelled (the installation stopping).
    pub fn child_of(parent: &CancellationToken) -> Self {
        StopSignal { token: parent.child_token(), reason: Arc::default() }
    }

    /// Asks the actor to stop, recording `reason`.
    pub fn stop(&self, reason: &'static str) {
        self.reason.lock().get_or_insert(reason);
        self.token.cancel();
    }

    /// The reason to record (`installation_stopped` when the installation itself stopped).
    fn reason(&self) -> &'static str {
        self.reason.lock().unwrap_or(reason::INSTALLATION_STOPPED)
    }
}

/// This actor's place in the `wecom_connections` gauge: one state at a time, none once dropped.
struct StateGauge {
    metrics: Arc<Metrics>,
    current: Option<&'static str>,
}

impl StateGauge {
    fn set(&mut self, state: &'static str) {
        if self.current == Some(state) {
            return;
        }
        if let Some(old) = self.current.replace(state) {
            self.metrics.connections.with_label_values(&[old]).dec();
        }
        self.metrics.connections.with_label_values(&[state]).inc();
    }
}

impl Drop for StateGauge {
    fn drop(&mut self) {
        if let Some(old) = self.current.take() {
            self.metrics.connections.with_label_values(&[old]).dec();
        }
    }
}

/// The observed status the actor keeps and writes.
struct Reporter {
    scope: InstallationScope,
    integration_id: String,
    status: ObservedStatus,
    gauge: StateGauge,
}

impl Reporter {
    fn now(&self) -> String {
        rfc3339(self.scope.host().now_ms())
    }

    /// [`Reporter::write`] under the lease as it is now.
    async fn write_under(&mut self, lease: &Mutex<Lease>) -> bool {
        let current = lease.lock().clone();
        self.write(&current).await
    }

    /// Writes the status under `lease`; false when a newer owner holds the bot.
    async fn write(&mut self, lease: &Lease) -> bool {
        self.gauge.set(self.status.state.as_str());
        self.status.written_at_ms = self.scope.host().now_ms();
        // Boxed, as the other steps an idle actor is not in: the actor's future stays small.
        let write = observed::write_fenced(self.scope.host().kv(), &self.integration_id, lease, self.status.clone());
        match Box::pin(write).await {
            Ok(written) => written,
            Err(e) => {
                tracing::warn!(integration_id = %self.integration_id, error = %e, "writing the connection status failed");
                true
            }
        }
    }
}

/// Runs one integration's connection until it is stopped, displaced or refused for good.
///
/// Every idle actor holds this future for its lifetime, so it is kept small (measured by
/// `-Zprint-type-sizes` and `plugin/tests/long_memory.rs`): it is an async block, not an async fn
/// (an async fn keeps its arguments twice: as given and as moved into its body, 272 bytes here),
/// and the steps an idle actor is not in (opening, status writes, lease calls) are boxed where
/// they are awaited.
#[allow(clippy::manual_async_fn)] // an async block on purpose: see the doc comment
pub fn run(ctx: ActorContext, stop: StopSignal) -> impl std::future::Future<Output = ActorExit> + Send {
    async move {
        let host = ctx.scope.host();
        let integration_id = ctx.integration.id.clone();
        let lease_key = keys::bot_lease(&ctx.config.bot_id);
        let mut reporter = Reporter {
            scope: ctx.scope.clone(),
            integration_id: integration_id.clone(),
            status: ObservedStatus::new(ConnectionState::Connecting, &ctx.settings.instance_id, ctx.generation),
            gauge: StateGauge { metrics: ctx.metrics.clone(), current: None },
        };
        if let Ok(Some(previous)) = Box::pin(observed::load(host.kv(), &integration_id)).await {
            // Keep the history another owner (or an earlier run) recorded.
            reporter.status.last_connected_at = previous.last_connected_at;
            reporter.status.last_disconnected_at = previous.last_disconnected_at;
            reporter.status.last_callback_at = previous.last_callback_at;
            reporter.status.last_ping_at = previous.last_ping_at;
        }
        loop {
            let Some(lease) = Box::pin(acquire(&ctx, &lease_key, &stop, &mut reporter.gauge)).await else {
                return ActorExit::Stopped; // stopped while waiting: another instance owns the status
            };
            ctx.metrics.lease_changes.with_label_values(&["acquired"]).inc();
            tracing::info!(integration_id = %integration_id, token = lease.token, "took the bot's lease");
            let lease = Arc::new(Mutex::new(lease));
            let lost = CancellationToken::new();
            let handing_off = std::sync::atomic::AtomicBool::new(false);
            let outcome = tokio::select! {
                outcome = session(&ctx, &mut reporter, &lease, &stop, &lost, &handing_off) => outcome,
                () = keep_lease(&ctx, &lease_key, &lease, &lost, &handing_off) => SessionEnd::LeaseLost,
            };
            let held = lease.lock().clone();
            let outcome = match outcome {
                SessionEnd::LeaseLost if handing_off.load(std::sync::atomic::Ordering::Acquire) => {
                    SessionEnd::HandedOff
                }
                other => other,
            };
            match outcome {
                SessionEnd::HandedOff => {
                    // The socket is closed and the lease still ours: release it so the preferred
                    // instance takes the bot at once; this actor stands by again.
                    match Box::pin(host.leases().release(&held)).await {
                        Ok(_) => ctx.metrics.lease_changes.with_label_values(&["handed_off"]).inc(),
                        Err(e) => {
                            tracing::warn!(integration_id = %integration_id, error = %e, "releasing the bot's lease for a hand-off failed")
                        }
                    }
                    tracing::info!(integration_id = %integration_id, "handed the bot over to its preferred instance");
                    reporter.gauge.set("standby");
                    continue;
                }
                SessionEnd::LeaseLost => {
                    ctx.metrics.lease_changes.with_label_values(&["lost"]).inc();
                    tracing::warn!(integration_id = %integration_id, "lost the bot's lease: closed the socket, waiting to take it again");
                    continue;
                }
                SessionEnd::Exit(exit, state, why) => {
                    if why != reason::INTEGRATION_DELETED {
                        reporter.status.state = state;
                        reporter.status.stop_reason = Some(why.to_string());
                        reporter.status.next_reconnect_at = None;
                        reporter.write(&held).await;
                    }
                    if why == reason::INSTALLATION_STOPPED {
                        // Draining: the others stop preferring this instance before the lease is
                        // free, so the bot's preferred survivor takes it without holding back.
                        ctx.balancer.withdrawn(Duration::from_secs(1)).await;
                    }
                    match Box::pin(host.leases().release(&held)).await {
                        Ok(_) => ctx.metrics.lease_changes.with_label_values(&["released"]).inc(),
                        Err(e) => {
                            tracing::warn!(integration_id = %integration_id, error = %e, "releasing the bot's lease failed")
                        }
                    }
                    tracing::info!(integration_id = %integration_id, reason = why, "long connection stopped");
                    return exit;
                }
            }
        }
    }
}

/// Takes the bot's lease, waiting (standby) while another instance or integration holds it.
///
/// The bot's preferred instance tries at every takeover poll. Another standby only looks at the
/// lease (every renew interval, or every takeover poll once the lease is free or its holder's
/// instance has left the live set) and leaves a free lease to the preferred instance for the
/// hold-back period, unless that instance is gone. Every change of the live set wakes it.
async fn acquire(ctx: &ActorContext, key: &str, stop: &StopSignal, gauge: &mut StateGauge) -> Option<Lease> {
    let ttl = ctx.settings.lease_ttl.as_millis() as u64;
    let owner = keys::lease_owner(&ctx.settings.instance_id, ctx.scope.tenant_id(), &ctx.integration.id);
    let balance = ctx.balancer.settings();
    let mut live_changed = ctx.balancer.subscribe();
    let mut free_since: Option<tokio::time::Instant> = None;
    loop {
        if stop.token.is_cancelled() || ctx.balancer.is_draining() {
            return None; // a stopping installation takes no new bot
        }
        let bot = &ctx.config.bot_id;
        let mut soon = true;
        let take = match ctx.balancer.preferred_of(bot) {
            Some(preferred) if preferred != ctx.settings.instance_id => {
                match ctx.scope.host().leases().current(key).await {
                    Ok(Some(holder)) => {
                        free_since = None;
                        gauge.set("standby");
                        // A holder whose instance left the live set is likely dead: watch closely.
                        soon = !ctx.balancer.is_live(keys::owner_instance(&holder.owner));
                        false
                    }
                    Ok(None) => {
                        let since = *free_since.get_or_insert_with(tokio::time::Instant::now);
                        since.elapsed() >= balance.hold_back || !ctx.balancer.is_alive_now(&preferred).await
                    }
                    Err(e) => {
                        tracing::warn!(integration_id = %ctx.integration.id, error = %e, "reading the bot's lease failed");
                        false
                    }
                }
            }
            _ => true,
        };
        if take {
            match ctx.scope.host().leases().acquire(key, &owner, ttl).await {
                Ok(Some(lease)) => return Some(lease),
                Ok(None) => {
                    free_since = None;
                    gauge.set("standby");
                }
                Err(e) => {
                    tracing::warn!(integration_id = %ctx.integration.id, error = %e, "taking the bot's lease failed")
                }
            }
        }
        let pause = if soon { balance.takeover_poll } else { ctx.settings.lease_renew_interval() };
        tokio::select! {
            () = stop.token.cancelled() => return None,
            () = tokio::time::sleep(pause) => {}
            _ = live_changed.changed() => {}
        }
    }
}

/// Renews the lease every third of its lifetime; returns (and cancels `lost`) once a renewal was
/// refused, or failed for so long that the lease may have expired.
///
/// After a renewal it also asks the balancer whether the bot should move to its preferred
/// instance; if so it books the installation's next hand-off slot (slots are spaced by the
/// hand-off interval, so many bots wanting to move leave one by one) and, when the slot comes and
/// the move is still wanted, sets `handing_off` and cancels `lost`: the session drains and closes
/// its socket while this keeps renewing, so the lease stays ours until the socket is closed and is
/// released only after.
async fn keep_lease(
    ctx: &ActorContext,
    key: &str,
    lease: &Mutex<Lease>,
    lost: &CancellationToken,
    handing_off: &std::sync::atomic::AtomicBool,
) {
    let ttl = ctx.settings.lease_ttl;
    let margin = ttl / 6;
    let every = ctx.settings.lease_renew_interval();
    let held_since = tokio::time::Instant::now();
    let mut last_ok = held_since;
    // The first renewal comes a random half to whole period after taking the lease (earlier is
    // always safe), so bots taken together (a host start, a failover) do not renew in one burst
    // every period for ever after.
    let mut next_renew = held_since + every.mul_f64(0.5 + 0.5 * rand::random::<f64>());
    let mut slot: Option<tokio::time::Instant> = None;
    loop {
        tokio::time::sleep_until(slot.map_or(next_renew, |s| s.min(next_renew))).await;
        let now = tokio::time::Instant::now();
        if now >= next_renew {
            next_renew = now + every;
            let current = lease.lock().clone();
            match Box::pin(ctx.scope.host().leases().renew(&current, ttl.as_millis() as u64)).await {
                Ok(Some(renewed)) => {
                    *lease.lock() = renewed;
                    last_ok = tokio::time::Instant::now();
                    let wanted = ctx.balancer.hand_off_target(&ctx.config.bot_id, held_since.elapsed()).is_some();
                    if wanted && slot.is_none() && !lost.is_cancelled() {
                        slot = Some(ctx.balancer.book_hand_off_slot());
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    tracing::warn!(integration_id = %ctx.integration.id, key, error = %e, "renewing the bot's lease failed");
                    if last_ok.elapsed() + every >= ttl.saturating_sub(margin) {
                        break;
                    }
                }
            }
        }
        if slot.is_some_and(|s| tokio::time::Instant::now() >= s) {
            slot = None;
            if let Some(target) = ctx.balancer.hand_off_target(&ctx.config.bot_id, held_since.elapsed()) {
                if !lost.is_cancelled() {
                    tracing::info!(integration_id = %ctx.integration.id, to = %target, "handing the bot over to its preferred instance");
                    handing_off.store(true, std::sync::atomic::Ordering::Release);
                    lost.cancel();
                }
            }
        }
    }
    lost.cancel();
}

/// One open socket: the client and its driver, which is awaited at most to its end.
struct Link {
    client: client::Client,
    driver: client::Driver,
    ended: Option<ConnectionEnd>,
}

impl Link {
    /// Waits for the connection to end (at once if it already has).
    async fn ended(&mut self) -> ConnectionEnd {
        if let Some(end) = &self.ended {
            return end.clone();
        }
        let end = (&mut self.driver).await;
        self.ended = Some(end.clone());
        end
    }

    /// Closes with a close frame and waits (bounded) for the driver to finish.
    async fn close(&mut self) {
        self.client.close();
        let _ = Box::pin(tokio::time::timeout(Duration::from_secs(1), self.ended())).await;
    }
}

/// How a session (one lease tenure) ended.
enum SessionEnd {
    /// The lease was lost: take it again.
    LeaseLost,
    /// The socket was closed to hand the bot over: release the lease, then stand by.
    HandedOff,
    /// The actor ends: its exit, the state and the reason to record.
    Exit(ActorExit, ConnectionState, &'static str),
}

/// Connects, subscribes and serves callbacks while holding the lease, reconnecting with backoff.
async fn session(
    ctx: &ActorContext,
    reporter: &mut Reporter,
    lease: &Mutex<Lease>,
    stop: &StopSignal,
    lost: &CancellationToken,
    handing_off: &std::sync::atomic::AtomicBool,
) -> SessionEnd {
    let integration_id = ctx.integration.id.clone();
    let lang = crate::i18n::Lang::from_preference(ctx.config.prefer_language.as_deref());
    let tls = match ctx.settings.tls.get() {
        Ok(tls) => tls,
        Err(e) => {
            // The operator must fix the file: say so and stop, as for invalid options.
            reporter.status.last_error = Some(format!("WECOM_EXTRA_CA_FILE: {e}"));
            return SessionEnd::Exit(ActorExit::Stopped, ConnectionState::Unhealthy, reason::CONFIG_INVALID);
        }
    };
    let client_config = ClientConfig {
        url: ctx.settings.ws_url.clone(),
        origin: ctx.config.ws_origin.clone(),
        tls,
        connect_timeout: ctx.settings.connect_timeout,
        ack_timeout: Duration::from_millis(ctx.config.timeout_ms),
        heartbeat_interval: ctx.settings.heartbeat,
        max_missed_pings: ctx.settings.max_missed_pings,
    };
    let mut attempts: u32 = 0;
    let mut auth_failures: u32 = 0;
    let stopped = || SessionEnd::Exit(ActorExit::Stopped, ConnectionState::Stopped, stop.reason());
    loop {
        if stop.token.is_cancelled() {
            return stopped();
        }
        if lost.is_cancelled() {
            return SessionEnd::LeaseLost;
        }
        reporter.status.state = if attempts == 0 { ConnectionState::Connecting } else { ConnectionState::Retrying };
        reporter.status.stop_reason = None;
        if !reporter.write_under(lease).await {
            return SessionEnd::LeaseLost;
        }
        // Boxed: opening needs large futures (DNS, TLS, the upgrade, the subscribe) that would
        // otherwise stay laid out in every idle actor.
        let opened = Box::pin(open(ctx, reporter, &client_config, stop, lost, &mut auth_failures)).await;
        let failure = match opened {
            Opened::End(end) => return end,
            Opened::Failed(failure) => failure,
            Opened::Ready(mut link, mut inbound) => {
                attempts = 0;
                auth_failures = 0;
                reporter.status.state = ConnectionState::Connected;
                reporter.status.last_connected_at = Some(reporter.now());
                reporter.status.last_error = None;
                reporter.status.reconnect_attempts = 0;
                reporter.status.next_reconnect_at = None;
                if !reporter.write_under(lease).await {
                    link.close().await;
                    return SessionEnd::LeaseLost;
                }
                tracing::info!(integration_id = %integration_id, bot_id = %ctx.config.bot_id, "subscribed");
                ctx.metrics.subscribes.inc();
                ctx.current.set(Some(link.client.clone()));
                let tenure = Tenure { lease, lost, handing_off };
                let served = serve(ctx, reporter, tenure, stop, &mut link, &mut inbound, lang).await;
                ctx.current.set(None);
                match served {
                    Served::Ended(end) => {
                        reporter.status.last_disconnected_at = Some(reporter.now());
                        describe(&end)
                    }
                    Served::Return(end) => return end,
                }
            }
        };
        attempts += 1;
        ctx.metrics.reconnects.inc();
        let delay = ctx.settings.backoff(attempts, rand::random::<f64>());
        reporter.status.state = ConnectionState::Retrying;
        reporter.status.reconnect_attempts = attempts;
        reporter.status.last_error = Some(match &reporter.status.last_error {
            Some(previous) if failure.starts_with("credentials refused") => format!("{previous}; {failure}"),
            _ => failure,
        });
        reporter.status.next_reconnect_at = Some(rfc3339(ctx.scope.host().now_ms() + delay.as_millis() as i64));
        if !reporter.write_under(lease).await {
            return SessionEnd::LeaseLost;
        }
        tracing::info!(integration_id = %integration_id, attempts, delay_ms = delay.as_millis() as u64, "reconnecting after a pause");
        tokio::select! {
            () = tokio::time::sleep(delay) => {}
            () = stop.token.cancelled() => return stopped(),
            () = lost.cancelled() => return SessionEnd::LeaseLost,
        }
    }
}

/// What opening a connection came to.
enum Opened {
    /// Subscribed: serve it.
    Ready(Link, client::Inbox),
    /// Not this time: the failure in words; retry after a pause.
    Failed(String),
    /// The session ends (stopped, lease lost, credentials refused too often).
    End(SessionEnd),
}

/// Takes one of the installation's opening slots (held until the subscribe is answered), connects
/// and subscribes. A refused subscribe counts in `auth_failures` and is recorded as the last error.
async fn open(
    ctx: &ActorContext,
    reporter: &mut Reporter,
    client_config: &ClientConfig,
    stop: &StopSignal,
    lost: &CancellationToken,
    auth_failures: &mut u32,
) -> Opened {
    let stopped = || Opened::End(SessionEnd::Exit(ActorExit::Stopped, ConnectionState::Stopped, stop.reason()));
    let opening = tokio::select! {
        permit = ctx.settings.connect_gate.clone().acquire_owned() => permit.ok(),
        () = stop.token.cancelled() => return stopped(),
        () = lost.cancelled() => return Opened::End(SessionEnd::LeaseLost),
    };
    let (client, driver, inbound) = match client::connect_compact(client_config).await {
        Ok(connected) => connected,
        Err(e) => return Opened::Failed(format!("cannot reach WeCom at {}: {e}", ctx.settings.ws_url)),
    };
    let mut link = Link { client: client.clone(), driver, ended: None };
    let subscribed = tokio::select! {
        result = client.subscribe(&ctx.config.bot_id, &ctx.config.secret) => result,
        end = link.ended() => Err(CommandError::Closed).inspect_err(|_| tracing::debug!(?end, "closed while subscribing")),
        () = stop.token.cancelled() => {
            link.close().await;
            return stopped();
        }
    };
    drop(opening);
    match subscribed {
        Err(CommandError::WeCom { errcode: code, errmsg }) if code == errcode::INVALID_CREDENTIALS => {
            // WeCom leaves the socket open after a refused subscribe: close it ourselves.
            link.close().await;
            *auth_failures += 1;
            ctx.metrics.auth_failures.inc();
            reporter.status.last_error =
                Some(format!("WeCom refused the Bot ID or Secret ({code}: {})", first_clause(&errmsg)));
            if *auth_failures >= ctx.settings.auth_failure_limit {
                tracing::warn!(integration_id = %ctx.integration.id, auth_failures, "WeCom keeps refusing the credentials: stopped until the config is saved or Reconnect is pressed");
                return Opened::End(SessionEnd::Exit(
                    ActorExit::AuthFailed,
                    ConnectionState::Unhealthy,
                    reason::CONFIG_INVALID,
                ));
            }
            Opened::Failed(format!(
                "credentials refused ({auth_failures} of {} tries)",
                ctx.settings.auth_failure_limit
            ))
        }
        Err(e) => {
            link.close().await;
            Opened::Failed(format!("subscribe failed: {e}"))
        }
        Ok(()) => Opened::Ready(link, inbound),
    }
}

/// How serving a subscribed connection ended.
enum Served {
    /// The connection ended: reconnect.
    Ended(ConnectionEnd),
    /// The session ends (stopped, displaced, lease lost).
    Return(SessionEnd),
}

/// The lease a session serves under, and how its end was asked for.
struct Tenure<'a> {
    lease: &'a Mutex<Lease>,
    /// Cancelled when the socket must close: the lease is lost, or the bot is being handed off.
    lost: &'a CancellationToken,
    /// Set (before `lost` is cancelled) when the end is a hand-off on purpose, not a loss.
    handing_off: &'a std::sync::atomic::AtomicBool,
}

/// Why a draining connection will close once its answers are served.
#[derive(Clone, Copy)]
enum Draining {
    /// The installation stops (host shutdown).
    Stopping,
    /// The bot moves to its preferred instance.
    HandingOff,
}

/// Serves a subscribed connection: callbacks to the pipeline, status with the last ping, until
/// the connection ends, the actor is stopped, the bot is taken over, or the lease is lost.
///
/// A connection given up on purpose (the installation stops, or the bot is handed off) drains
/// first: it keeps serving until the answers it has in flight are sent, for at most the drain
/// time, then closes. A lost lease or an operator's stop closes at once.
async fn serve(
    ctx: &ActorContext,
    reporter: &mut Reporter,
    tenure: Tenure<'_>,
    stop: &StopSignal,
    link: &mut Link,
    inbound: &mut client::Inbox,
    lang: crate::i18n::Lang,
) -> Served {
    let Tenure { lease, lost, handing_off } = tenure;
    let integration_id = ctx.integration.id.clone();
    // Every callback task holds a clone: the count above one is the answers in flight.
    let in_flight = Arc::new(());
    let mut draining: Option<(Draining, tokio::time::Instant)> = None;
    // Callbacks that arrive while the installation stops, answered inside this task.
    let mut kept: futures_util::stream::FuturesUnordered<
        std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>,
    > = futures_util::stream::FuturesUnordered::new();
    // Once per heartbeat: lastPingAt and lastCallbackAt reach the store within one interval, and
    // thousands of idle bots do not wake every few seconds for nothing.
    let mut status_tick = tokio::time::interval(ctx.settings.heartbeat);
    status_tick.tick().await;
    let mut written_callback_at = reporter.status.last_callback_at.clone();
    let mut arrivals: u64 = 0;
    loop {
        tokio::select! {
            end = link.ended() => return Served::Ended(end),
            callback = inbound.recv() => {
                let Some(callback) = callback else { continue };
                reporter.status.last_callback_at = Some(rfc3339(callback.received_at_ms));
                arrivals += 1;
                let arrival = (callback.received_at_ms, arrivals);
                match classify(&integration_id, lang, &callback.cmd, &callback.req_id, &callback.body, arrival) {
                    Classified::Displaced => {
                        ctx.metrics.kicks.inc();
                        tracing::warn!(integration_id = %integration_id, "another connection took this bot (disconnected_event): closing, not reconnecting");
                        link.close().await;
                        reporter.status.last_disconnected_at = Some(reporter.now());
                        reporter.status.last_error = Some("another connection subscribed with this Bot ID".into());
                        return Served::Return(SessionEnd::Exit(ActorExit::Displaced, ConnectionState::Stopped, reason::DISPLACED));
                    }
                    Classified::Event(event) => {
                        let pipeline = ctx.pipeline.clone();
                        let answering = in_flight.clone();
                        let target = ReplyTarget { chat_id: event.chat_id.clone(), chat_kind: event.chat_kind };
                        let reply = Arc::new(LongReply::new(
                            link.client.clone(),
                            ctx.current.clone(),
                            callback.req_id.clone(),
                            target,
                            ctx.settings.stream_lifetime,
                            ctx.settings.backoff_max + ctx.settings.connect_timeout,
                        ));
                        let task = async move {
                            pipeline.handle(*event, reply).await;
                            drop(answering);
                        };
                        if ctx.scope.is_stopping() {
                            // Draining for a shutdown: the installation takes no new task, but
                            // a callback that reached this socket is still answered on it.
                            kept.push(Box::pin(task));
                        } else if let Err(e) = ctx.scope.spawn(task) {
                            tracing::warn!(integration_id = %integration_id, error = %e, "a callback was not handled: the installation is stopping");
                        }
                    }
                }
            }
            _ = status_tick.tick() => {
                // Written only when something changed since the last write: with many bots the
                // status store sees about one write per bot and heartbeat, not one per tick.
                let ping = link.client.last_ping_ack_ms().map(rfc3339);
                if ping == reporter.status.last_ping_at && reporter.status.last_callback_at == written_callback_at {
                    continue;
                }
                reporter.status.last_ping_at = ping;
                written_callback_at = reporter.status.last_callback_at.clone();
                let current = lease.lock().clone();
                if !reporter.write(&current).await {
                    link.close().await;
                    return Served::Return(SessionEnd::LeaseLost);
                }
            }
            () = stop.token.cancelled(), if draining.is_none() => {
                if stop.reason() == reason::INSTALLATION_STOPPED {
                    draining = Some((Draining::Stopping, tokio::time::Instant::now() + ctx.settings.drain));
                    continue;
                }
                link.close().await;
                reporter.status.last_disconnected_at = Some(reporter.now());
                return Served::Return(SessionEnd::Exit(ActorExit::Stopped, ConnectionState::Stopped, stop.reason()));
            }
            () = lost.cancelled(), if draining.is_none() => {
                if handing_off.load(std::sync::atomic::Ordering::Acquire) {
                    draining = Some((Draining::HandingOff, tokio::time::Instant::now() + ctx.settings.drain));
                    continue;
                }
                link.close().await;
                reporter.status.last_disconnected_at = Some(reporter.now());
                return Served::Return(SessionEnd::LeaseLost);
            }
            Some(()) = futures_util::StreamExt::next(&mut kept), if !kept.is_empty() => {}
            () = tokio::time::sleep(DRAIN_CHECK), if draining.is_some() => {
                let Some((why, deadline)) = draining else { continue };
                let answering = Arc::strong_count(&in_flight) - 1;
                if answering > 0 && tokio::time::Instant::now() < deadline {
                    continue;
                }
                if answering > 0 {
                    tracing::warn!(integration_id = %integration_id, answering, "closing with answers still in flight: the drain time is over");
                }
                link.close().await;
                reporter.status.last_disconnected_at = Some(reporter.now());
                return Served::Return(match why {
                    Draining::Stopping => {
                        SessionEnd::Exit(ActorExit::Stopped, ConnectionState::Stopped, stop.reason())
                    }
                    Draining::HandingOff => SessionEnd::LeaseLost,
                });
            }
        }
    }
}

/// How often a draining connection looks whether its answers are all sent.
const DRAIN_CHECK: Duration = Duration::from_millis(10);

/// WeCom's message up to its first comma or bracket (the rest is a hint with the caller's IP).
fn first_clause(errmsg: &str) -> &str {
    errmsg.split([',', '[']).next().unwrap_or(errmsg).trim()
}

/// Why a connection ended, in words.
fn describe(end: &ConnectionEnd) -> String {
    match end {
        ConnectionEnd::ClosedByUs => "closed".into(),
        ConnectionEnd::ClosedByPeer { code, reason } => match code {
            Some(code) => format!("WeCom closed the connection ({code} {reason})"),
            None => "WeCom closed the connection".into(),
        },
        ConnectionEnd::DeadLink { missed_pings } => {
            format!("no heartbeat answer for {missed_pings} pings: the link was dead")
        }
        ConnectionEnd::Io(message) => format!("the connection broke: {message}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn future_size<A, B, F: std::future::Future>(_: fn(A, B) -> F) -> usize {
        std::mem::size_of::<F>()
    }

    #[test]
    fn an_idle_actors_future_stays_small() {
        // Every idle actor holds one for its lifetime: 4 784 bytes while opening a socket was laid
        // out inline, 2 264 once the steps an idle actor is not in were boxed (see `run`).
        let size = future_size(run);
        assert!(size <= 2560, "the actor's future is {size} bytes; its budget is 2560");
    }
}
