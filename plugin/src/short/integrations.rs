//! The webhook's read cache of integrations: every callback needs its integration (provider,
//! enabled, options), and asking the host each time (a store read behind the ABI, the options
//! crossing as JSON) was the largest part of a refresh callback's cost.
//!
//! An entry is kept at most `WECOM_SHORT_INTEGRATION_CACHE_MS` (1 000; 0: no cache). A change
//! made through this host reaches the cache at once: the provider's lifecycle hooks (called
//! after the host has stored the change) [`IntegrationCache::forget`] the integration. A change
//! made through another host process is seen within that time. Absence is never cached, so an
//! integration created anywhere is found by its first callback.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use host_sdk::{Error, Integration};
use parking_lot::Mutex;

use crate::state::PluginState;

/// The most integrations kept; past it the cache starts over (deleted ones leave entries).
const MAX_ENTRIES: usize = 4096;

/// Integrations read recently, per installation.
pub struct IntegrationCache {
    ttl: Duration,
    entries: Mutex<HashMap<String, (Arc<Integration>, Instant)>>,
    /// Bumped by every [`IntegrationCache::forget`]: a read that started before a forget does
    /// not put what it read (possibly from before the change) into the cache.
    generation: AtomicU64,
}

impl IntegrationCache {
    /// A cache keeping entries for `ttl` (zero: reads always go to the host).
    pub fn new(ttl: Duration) -> Arc<Self> {
        Arc::new(IntegrationCache { ttl, entries: Mutex::default(), generation: AtomicU64::new(0) })
    }

    /// The integration `id` of the installation's tenant, from the cache while it is fresh.
    pub async fn get(&self, state: &PluginState, id: &str) -> Result<Option<Arc<Integration>>, Error> {
        if let Some((integration, at)) = self.entries.lock().get(id) {
            if at.elapsed() < self.ttl {
                return Ok(Some(integration.clone()));
            }
        }
        let generation = self.generation.load(Ordering::Acquire);
        let Some(integration) = state.host().integrations().get(id).await? else {
            self.entries.lock().remove(id);
            return Ok(None);
        };
        let integration = Arc::new(integration);
        if !self.ttl.is_zero() {
            let mut entries = self.entries.lock();
            if self.generation.load(Ordering::Acquire) == generation {
                if entries.len() >= MAX_ENTRIES {
                    entries.clear();
                }
                entries.insert(id.to_string(), (integration.clone(), Instant::now()));
            }
        }
        Ok(Some(integration))
    }

    /// Drops what is kept of `id` (it changed, or is gone).
    pub fn forget(&self, id: &str) {
        let mut entries = self.entries.lock();
        self.generation.fetch_add(1, Ordering::AcqRel);
        entries.remove(id);
    }
}
