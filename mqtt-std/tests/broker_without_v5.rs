//! The client against a broker without MQTT 5.0: mqtt-std (the body is shared with
//! mqtt-smol: driver-tests/).

mod driver {
    pub use mqtt_std::*;
}

#[path = "../../driver-tests/broker_without_v5.rs"]
mod suite;
