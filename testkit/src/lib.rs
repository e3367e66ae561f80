//! Test tooling shared by the host's and the simulator's tests:
//! - [`process`]: start a server binary, wait for its `listening on http://ADDR` line, stop it
//!   with SIGTERM;
//! - [`browser`]: a small headless-Chromium driver (Chrome DevTools Protocol over WebSocket);
//! - [`proxy`]: a TCP proxy a test cuts and restores, to play a lost server connection.

pub mod browser;
pub mod process;
pub mod proxy;
