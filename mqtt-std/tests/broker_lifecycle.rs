//! The client's life cycle against a real mosquitto: mqtt-std (the body is shared with mqtt-smol: driver-tests/).

mod driver {
    pub use mqtt_std::*;
}

#[path = "../../driver-tests/broker_lifecycle.rs"]
mod suite;
