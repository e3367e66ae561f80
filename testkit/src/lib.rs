//! Test tooling shared by the host's and the simulator's tests:
//! - [`process`]: start a server binary, wait for its `listening on http://ADDR` line, stop it
//!   with SIGTERM;
//! - [`browser`]: a small headless-Chromium driver (Chrome DevTools Protocol over WebSocket).

pub mod browser;
pub mod process;
