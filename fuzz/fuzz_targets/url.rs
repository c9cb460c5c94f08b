//! `BrokerUrl::parse` (mqtt-engine `url.rs`) over arbitrary strings.
//!
//! Checked: no panic; an accepted URL has a non-empty host and a non-empty path; its
//! `Display` form parses again to an equal value
//! (the path is compared for WebSocket schemes only, since `Display` writes it only for
//! them: a TCP URL's path means nothing and parses back as the default `/mqtt`), and
//! printing that again gives the same text; `redirected` never panics and keeps the scheme
//! and, for a bare `host:port`, the path; `ClientOptions::new` accepts what `parse`
//! accepts, and an engine can be made from it (the engine re-parses the printed URL).
#![no_main]

mod common;

use common::two_strings;
use libfuzzer_sys::fuzz_target;
use mqtt_engine::{BrokerUrl, ClientOptions, Engine};

/// The pieces a leading 0xFE builds the input's strings from (see [`two_strings`]).
const PIECES: [&str; 16] = [
    "mqtt://", "ws://", "wss://", "mqtts://", "[", "]", ":", "/", "::1", "h", "1883", "65536", "@",
    "%", "://", "TCP://",
];

fn same(a: &BrokerUrl, b: &BrokerUrl) -> bool {
    a.scheme == b.scheme
        && a.host == b.host
        && a.port == b.port
        && (!a.scheme.is_websocket() || a.path == b.path)
}

fuzz_target!(|data: &[u8]| {
    // The input: `url 0xFF reference`.
    let (text, reference) = two_strings(data, &PIECES);
    let Ok(url) = BrokerUrl::parse(&text) else {
        assert!(
            ClientOptions::new(&text, "c").is_err(),
            "ClientOptions::new accepts {text:?}, which parse refuses"
        );
        return;
    };
    assert!(!url.host.is_empty(), "{text:?}: empty host");
    assert!(!url.path.is_empty(), "{text:?}: empty path");
    let printed = url.to_string();
    let again = BrokerUrl::parse(&printed).unwrap_or_else(|e| {
        panic!("{text:?} parsed to {url:?}, printed as {printed:?}, which does not parse: {e}")
    });
    assert!(
        same(&url, &again),
        "{text:?} -> {url:?} -> {printed:?} -> {again:?}"
    );
    assert_eq!(again.to_string(), printed, "printing is not stable");

    // The engine takes the printed form of the URL.
    let options = ClientOptions::new(&text, "c")
        .unwrap_or_else(|e| panic!("ClientOptions::new refuses {text:?}, which parses: {e}"));
    if !url.scheme.is_tls() {
        // (TLS would load the platform's certificates: slow and not what this checks.)
        if let Err(e) = Engine::new(options) {
            panic!("no engine for {text:?} ({url:?}): {e}");
        }
    }

    if let Ok(r) = url.redirected(&reference) {
        assert!(!r.host.is_empty());
        if !reference.contains("://") {
            assert_eq!(r.scheme, url.scheme, "redirect changed the scheme");
            assert_eq!(r.path, url.path, "redirect changed the path");
        }
    }
});
