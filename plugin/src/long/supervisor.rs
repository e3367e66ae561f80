//! One supervisor per installation: reconciles the desired state of every `wecom_long`
//! integration of the tenant with the actors running here. It runs an actor while the
//! integration is enabled, valid, bound to a published WeCom Trigger, not disconnected by an
//! operator and not latched (`displaced`, refused credentials); stops it with the reason
//! otherwise; restarts it when the options change or an operator presses Reconnect.
//!
//! It reconciles on every wake-up (lifecycle hooks, trigger publish/stop and actions on this
//! instance wake it at once) and every `reconcile_interval` (actions taken on another instance
//! reach it that way, through the shared store). Every instance runs a supervisor; the bot's
//! lease decides which one holds the socket.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use host_sdk::{Error, Integration};
use parking_lot::Mutex;
use tokio::sync::oneshot;

use super::actor::{self, ActorContext, ActorExit, StopSignal};
use super::balance::Balancer;
use super::settings::LongSettings;
use crate::config::LongConfig;
use crate::keys;
use crate::pipeline::Pipeline;
use crate::state::{blocking_reason_of, desired, observed, reason, PluginState};
use crate::PROVIDER_LONG;

/// An actor this supervisor started.
struct Running {
    generation: u64,
    /// The options it started with, as compact JSON: a tenth of the memory of a `Value` (whose
    /// map allocates a B-tree node of 11 slots), and as exact for telling a change.
    options: String,
    stop: StopSignal,
    exit: oneshot::Receiver<ActorExit>,
}

/// The supervisor of one installation's long connections.
pub struct Supervisor {
    state: Arc<PluginState>,
    settings: Arc<LongSettings>,
    pipeline: Arc<Pipeline>,
    balancer: Arc<Balancer>,
    running: Mutex<HashMap<String, Running>>,
    started: std::sync::atomic::AtomicBool,
}

impl Supervisor {
    /// A supervisor over an installation's state.
    pub fn new(state: Arc<PluginState>, settings: Arc<LongSettings>, pipeline: Arc<Pipeline>) -> Arc<Self> {
        let balancer =
            Arc::new(Balancer::new(state.scope.clone(), settings.instance_id.clone(), settings.balance.clone()));
        let supervisor = Arc::new(Supervisor {
            state,
            settings,
            pipeline,
            balancer,
            running: Mutex::new(HashMap::new()),
            started: std::sync::atomic::AtomicBool::new(false),
        });
        let _ = supervisor.state.supervisor.set(Arc::downgrade(&supervisor));
        supervisor
    }

    /// Starts the reconcile loop as a task of the installation, once; it ends (stopping every
    /// actor, which records why and releases its lease) when the installation stops. Called on
    /// the first wake-up — a lifecycle event (the host replays `Enabled` for every enabled
    /// integration at start), a trigger publish or stop, an action — so that registering the
    /// plugin starts no thread and an installation with no long connection costs none.
    pub fn ensure_started(self: &Arc<Self>) -> Result<(), Error> {
        if self.started.swap(true, std::sync::atomic::Ordering::AcqRel) {
            return Ok(());
        }
        let this = self.clone();
        let spawned = self.state.scope.spawn(async move { this.run().await });
        if spawned.is_ok() {
            let balancer = self.balancer.clone();
            let _ = self.state.scope.spawn(async move { balancer.run().await });
        }
        if spawned.is_err() {
            self.started.store(false, std::sync::atomic::Ordering::Release);
        }
        spawned
    }

    async fn run(self: Arc<Self>) {
        let cancelled = self.state.scope.cancellation();
        let wake = self.state.supervisor_wake.clone();
        loop {
            if let Err(e) = self.reconcile().await {
                tracing::warn!(error = %e, "reconciling the long connections failed; trying again");
            }
            tokio::select! {
                () = cancelled.cancelled() => break,
                () = wake.notified() => {}
                () = tokio::time::sleep(self.settings.reconcile_interval) => {}
            }
        }
        // The actors are children of the installation's token: they are stopping too. Their
        // tasks are tracked by the installation, whose stop waits for them.
        self.running.lock().clear();
    }

    /// Starts, stops and restarts actors so that they match the desired state. Reads the
    /// tenant's bindings, intents and statuses with one paged scan each.
    pub async fn reconcile(&self) -> Result<(), Error> {
        let host = self.state.host();
        let integrations = host.integrations().list_by_provider(PROVIDER_LONG).await?;
        let bindings = self.state.scan_all(&keys::binding("")).await?;
        let intents = self.state.scan_all(&keys::desired("")).await?;
        let statuses = self.state.scan_all(&keys::status("")).await?;
        let mut seen = std::collections::HashSet::with_capacity(integrations.len());
        let mut connecting = Vec::with_capacity(integrations.len());
        let mut planned = Vec::with_capacity(integrations.len());
        for (n, integration) in integrations.into_iter().enumerate() {
            // A pass over thousands of integrations must not hold this runtime thread (and the
            // callbacks queued behind it) for milliseconds: let other tasks run now and then.
            if n % 64 == 63 {
                tokio::task::yield_now().await;
            }
            seen.insert(integration.id.clone());
            let desired: desired::DesiredState =
                intents.get(&integration.id).and_then(|raw| serde_json::from_str(raw).ok()).unwrap_or_default();
            let observed: Option<observed::ObservedStatus> =
                statuses.get(&integration.id).and_then(|raw| serde_json::from_str(raw).ok());
            let bound = bindings.contains_key(&integration.id);
            let blocking = blocking_reason_of(&integration, &desired, observed.as_ref(), bound);
            if blocking.is_none() {
                if let Ok(config) = LongConfig::from_options(&integration.options) {
                    connecting.push(config.bot_id);
                }
            }
            planned.push((integration, desired.generation, blocking));
        }
        // The balancer knows the bots before any actor asks where its bot should go, and this
        // instance has announced itself (and learnt the others) before it takes any: hosts
        // started together spread their bots from the start instead of after a hand-off.
        self.balancer.set_bots(connecting);
        if self.balancer.has_bots() && !self.balancer.has_announced() {
            self.balancer.beat().await;
        }
        for (n, (integration, generation, blocking)) in planned.into_iter().enumerate() {
            if n % 64 == 63 {
                tokio::task::yield_now().await;
            }
            self.apply(integration, generation, blocking).await;
        }
        let gone: Vec<String> = self.running.lock().keys().filter(|id| !seen.contains(*id)).cloned().collect();
        for id in gone {
            if let Some(running) = self.running.lock().remove(&id) {
                running.stop.stop(reason::INTEGRATION_DELETED);
            }
        }
        Ok(())
    }

    async fn apply(&self, integration: Integration, generation: u64, blocking: Option<&'static str>) {
        let id = integration.id.clone();
        let previous = self.running.lock().remove(&id);
        let previous = match previous {
            Some(mut running) => match running.exit.try_recv() {
                // It ended on its own (displaced, refused credentials): its latch is in the store.
                Ok(_) | Err(oneshot::error::TryRecvError::Closed) => None,
                Err(oneshot::error::TryRecvError::Empty) => Some(running),
            },
            None => None,
        };
        match (blocking, previous) {
            (Some(why), Some(running)) => {
                tracing::info!(integration_id = %id, reason = why, "stopping the long connection");
                running.stop.stop(why);
            }
            (Some(_), None) => {}
            (None, Some(running))
                if running.generation == generation && running.options == options_json(&integration.options) =>
            {
                self.running.lock().insert(id, running);
            }
            (None, previous) => {
                if let Some(running) = previous {
                    tracing::info!(integration_id = %id, "restarting the long connection with the latest settings");
                    running.stop.stop(reason::RESTARTING);
                    // Let it close its socket and release the lease before the new actor asks.
                    let _ = tokio::time::timeout(Duration::from_secs(5), running.exit).await;
                }
                self.start_actor(integration, generation);
            }
        }
    }

    fn start_actor(&self, mut integration: Integration, generation: u64) {
        let Ok(config) = LongConfig::from_options(&integration.options) else { return };
        let id = integration.id.clone();
        let options = options_json(&integration.options);
        // The actor reads its options from `config`; the raw ones would only take room.
        integration.options = serde_json::Value::Null;
        let stop = StopSignal::child_of(&self.state.scope.cancellation());
        let (exit_tx, exit) = oneshot::channel();
        let ctx = ActorContext {
            scope: self.state.scope.clone(),
            settings: self.settings.clone(),
            integration,
            config,
            generation,
            pipeline: self.pipeline.clone(),
            current: Default::default(),
            metrics: self.state.metrics.clone(),
            balancer: self.balancer.clone(),
        };
        let actor_stop = stop.clone();
        let spawned = self.state.scope.spawn(async move {
            let exit = actor::run(ctx, actor_stop).await;
            let _ = exit_tx.send(exit);
        });
        match spawned {
            Ok(()) => {
                tracing::info!(integration_id = %id, generation, "long connection started");
                self.running.lock().insert(id, Running { generation, options, stop, exit });
            }
            Err(e) => tracing::warn!(integration_id = %id, error = %e, "the long connection could not start"),
        }
    }

    /// Stops the actor of an integration now, if one runs here, and waits (at most 5 s) until it
    /// has ended.
    pub async fn stop_now(&self, integration_id: &str, why: &'static str) {
        let running = self.running.lock().remove(integration_id);
        if let Some(running) = running {
            running.stop.stop(why);
            let _ = tokio::time::timeout(Duration::from_secs(5), running.exit).await;
        }
    }

    /// This installation's view of the live instances.
    pub fn balancer(&self) -> &Arc<Balancer> {
        &self.balancer
    }

    /// How many actors run here (for tests and the benchmark).
    pub fn running(&self) -> usize {
        self.running.lock().len()
    }
}

/// Options as compact JSON, for telling whether they changed.
fn options_json(options: &serde_json::Value) -> String {
    serde_json::to_string(options).unwrap_or_default()
}
