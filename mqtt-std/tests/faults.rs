//! The client behind a faulty network: mqtt-std (the body is shared with mqtt-smol: driver-tests/).

mod driver {
    pub use mqtt_std::*;
}

#[path = "../../driver-tests/faults.rs"]
mod suite;
