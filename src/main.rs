//! xpert-host: the reference host (placeholder until the host work lands).
mod web;

fn main() {
    let _ = web::router;
}
