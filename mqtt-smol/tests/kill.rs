//! Persistence under SIGKILL: mqtt-smol (the body, with its own `main`, is shared with
//! mqtt-std: driver-tests/kill.rs).

#[path = "blocking/mod.rs"]
mod blocking;

mod driver {
    pub use crate::blocking::Client;
    pub use mqtt_smol::*;
}

#[path = "../../driver-tests/kill.rs"]
mod suite;

fn main() {
    suite::main();
}
