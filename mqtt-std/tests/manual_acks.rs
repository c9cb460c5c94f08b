//! Manual acknowledgements: mqtt-std (the body is shared with mqtt-smol: driver-tests/).

mod driver {
    pub use mqtt_std::*;
}

#[path = "../../driver-tests/manual_acks.rs"]
mod suite;
