//! Persistence under SIGKILL: mqtt-std (the body, with its own `main`, is shared with
//! mqtt-smol: driver-tests/kill.rs).

mod driver {
    pub use mqtt_std::*;
}

#[path = "../../driver-tests/kill.rs"]
mod suite;

fn main() {
    suite::main();
}
