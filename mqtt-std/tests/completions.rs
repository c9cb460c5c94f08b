//! Completions delivered once: mqtt-std (the body is shared with mqtt-smol: driver-tests/).

mod driver {
    pub use mqtt_std::*;
}

#[path = "../../driver-tests/completions.rs"]
mod suite;
