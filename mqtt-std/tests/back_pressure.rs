//! Back-pressure of mqtt-std (the body is shared with mqtt-smol: driver-tests/).

mod driver {
    pub use mqtt_std::*;
}

#[path = "../../driver-tests/back_pressure.rs"]
mod suite;
