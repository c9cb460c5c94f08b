//! Persistence across client restarts: mqtt-std (the body is shared with mqtt-smol:
//! driver-tests/).

mod driver {
    pub use mqtt_std::*;
}

#[path = "../../driver-tests/persistence.rs"]
mod suite;
