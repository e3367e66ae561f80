//! Fault injection, scriptable from the Rust API and the control API.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use serde::Deserialize;

#[derive(Clone, Debug)]
struct Refusal {
    bot_id: String,
    cmd: String,
    errcode: i64,
    after: u32,
    seen: u32,
}

#[derive(Default)]
struct FaultState {
    withhold_acks: HashSet<String>,
    withhold_ping_acks: HashSet<String>,
    ack_delay: HashMap<String, Duration>,
    refusals: Vec<Refusal>,
    duplicates: HashMap<String, u32>,
    outage_until: Option<Instant>,
    bot_outage_until: HashMap<String, Instant>,
}

impl FaultState {
    fn clear_bot(&mut self, bot_id: &str) {
        self.withhold_acks.remove(bot_id);
        self.withhold_ping_acks.remove(bot_id);
        self.ack_delay.remove(bot_id);
        self.refusals.retain(|r| r.bot_id != bot_id);
        self.duplicates.remove(bot_id);
        self.bot_outage_until.remove(bot_id);
    }
}

/// The active faults.
#[derive(Default)]
pub struct Faults {
    state: Mutex<FaultState>,
}

/// A fault as the control API takes it (`POST /sim/faults`, `{"kind": "...", "botId": "...", ...}`;
/// `bot_id` is accepted too). Every fault is per bot; the two that may omit `botId` keep their
/// simulator-wide meaning without it: `outage` (every handshake and subscribe refused) and `clear`
/// (every fault of every bot cleared).
#[derive(Clone, Debug, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", rename_all_fields = "camelCase")]
pub enum FaultSpec {
    /// Send no acks to this bot's commands (pings included).
    WithholdAcks {
        /// The bot.
        #[serde(alias = "bot_id")]
        bot_id: String,
    },
    /// Delay every ack to this bot.
    DelayAcks {
        /// The bot.
        #[serde(alias = "bot_id")]
        bot_id: String,
        /// Milliseconds.
        ms: u64,
    },
    /// Send no ping acks to this bot.
    WithholdPingAcks {
        /// The bot.
        #[serde(alias = "bot_id")]
        bot_id: String,
    },
    /// Refuse a command with an errcode, after `after` successes.
    Refuse {
        /// The bot.
        #[serde(alias = "bot_id")]
        bot_id: String,
        /// The command.
        cmd: String,
        /// The errcode to answer.
        errcode: i64,
        /// Successes before refusing.
        #[serde(default)]
        after: u32,
    },
    /// Deliver the next `count` callbacks twice (same msgid and req_id).
    DuplicateCallbacks {
        /// The bot.
        #[serde(alias = "bot_id")]
        bot_id: String,
        /// How many callbacks.
        #[serde(default = "one")]
        count: u32,
    },
    /// For this long, refuse subscribes of `bot_id` with 853000 (its live socket stays); without
    /// `bot_id`, refuse every WebSocket handshake (503) and every subscribe.
    Outage {
        /// Milliseconds.
        ms: u64,
        /// The bot (absent: the whole simulator).
        #[serde(default, alias = "bot_id")]
        bot_id: Option<String>,
    },
    /// Clear every fault of `bot_id`; without it, every fault of every bot.
    Clear {
        /// The bot (absent: all bots and the simulator-wide outage).
        #[serde(default, alias = "bot_id")]
        bot_id: Option<String>,
    },
}

impl FaultSpec {
    /// The bot the fault is about (`None`: simulator-wide).
    pub fn bot_id(&self) -> Option<&str> {
        match self {
            FaultSpec::WithholdAcks { bot_id }
            | FaultSpec::DelayAcks { bot_id, .. }
            | FaultSpec::WithholdPingAcks { bot_id }
            | FaultSpec::Refuse { bot_id, .. }
            | FaultSpec::DuplicateCallbacks { bot_id, .. } => Some(bot_id),
            FaultSpec::Outage { bot_id, .. } | FaultSpec::Clear { bot_id } => bot_id.as_deref(),
        }
    }
}

fn one() -> u32 {
    1
}

impl Faults {
    /// Applies a fault spec (drops are handled by the simulator itself).
    pub fn apply(&self, spec: FaultSpec) {
        let mut st = self.state.lock();
        match spec {
            FaultSpec::WithholdAcks { bot_id } => {
                st.withhold_acks.insert(bot_id);
            }
            FaultSpec::DelayAcks { bot_id, ms } => {
                st.ack_delay.insert(bot_id, Duration::from_millis(ms));
            }
            FaultSpec::WithholdPingAcks { bot_id } => {
                st.withhold_ping_acks.insert(bot_id);
            }
            FaultSpec::Refuse { bot_id, cmd, errcode, after } => {
                st.refusals.push(Refusal { bot_id, cmd, errcode, after, seen: 0 })
            }
            FaultSpec::DuplicateCallbacks { bot_id, count } => {
                *st.duplicates.entry(bot_id).or_default() += count;
            }
            FaultSpec::Outage { ms, bot_id: None } => {
                st.outage_until = Some(Instant::now() + Duration::from_millis(ms))
            }
            FaultSpec::Outage { ms, bot_id: Some(bot) } => {
                st.bot_outage_until.insert(bot, Instant::now() + Duration::from_millis(ms));
            }
            FaultSpec::Clear { bot_id: None } => *st = FaultState::default(),
            FaultSpec::Clear { bot_id: Some(bot) } => st.clear_bot(&bot),
        }
    }

    pub(crate) fn withhold_ack(&self, bot_id: &str, _cmd: &str) -> bool {
        self.state.lock().withhold_acks.contains(bot_id)
    }

    pub(crate) fn withhold_ping(&self, bot_id: &str) -> bool {
        let st = self.state.lock();
        st.withhold_ping_acks.contains(bot_id) || st.withhold_acks.contains(bot_id)
    }

    pub(crate) fn ack_delay(&self, bot_id: &str) -> Option<Duration> {
        self.state.lock().ack_delay.get(bot_id).copied()
    }

    pub(crate) fn refusal(&self, bot_id: &str, cmd: &str) -> Option<i64> {
        let mut st = self.state.lock();
        let r = st.refusals.iter_mut().find(|r| r.bot_id == bot_id && r.cmd == cmd)?;
        r.seen += 1;
        (r.seen > r.after).then_some(r.errcode)
    }

    pub(crate) fn take_duplicate(&self, bot_id: &str) -> bool {
        let mut st = self.state.lock();
        match st.duplicates.get_mut(bot_id) {
            Some(n) if *n > 0 => {
                *n -= 1;
                true
            }
            _ => false,
        }
    }

    /// Whether handshakes are being refused now (a simulator-wide outage).
    pub fn in_outage(&self) -> bool {
        self.state.lock().outage_until.is_some_and(|t| Instant::now() < t)
    }

    /// Whether subscribes of this bot are being refused now (its own or a simulator-wide outage).
    pub fn bot_in_outage(&self, bot_id: &str) -> bool {
        let st = self.state.lock();
        let now = Instant::now();
        st.outage_until.is_some_and(|t| now < t) || st.bot_outage_until.get(bot_id).is_some_and(|t| now < *t)
    }
}
