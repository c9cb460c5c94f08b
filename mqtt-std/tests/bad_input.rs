//! How the client survives a broker that breaks the protocol: mqtt-std (the body is shared with mqtt-smol: driver-tests/).

mod driver {
    pub use mqtt_std::*;
}

#[path = "../../driver-tests/bad_input.rs"]
mod suite;
