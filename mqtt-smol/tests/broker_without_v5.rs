//! The client against a broker without MQTT 5.0: mqtt-smol (the body is shared with
//! mqtt-std: driver-tests/).

#[path = "blocking/mod.rs"]
mod blocking;

mod driver {
    pub use crate::blocking::Client;
    pub use mqtt_smol::*;
}

#[path = "../../driver-tests/broker_without_v5.rs"]
mod suite;
