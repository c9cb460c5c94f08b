//! Broker URLs: what `BrokerUrl::parse` accepts prints back as a URL that parses to the
//! same broker (the engine hands the printed form to the session and parses it again).

use mqtt_engine::{BrokerUrl, ClientOptions, Engine};

/// Found by the `url` fuzz target: `mqtt://a]b:c:1` was accepted with the host `a]b:c`,
/// which prints bracketed (it holds ':') as `mqtt://[a]b:c]:1`, which does not parse, so
/// `ClientOptions::new` succeeded and `Engine::new` then failed on its own printed URL.
#[test]
fn a_host_holding_a_bracket_is_refused_so_that_every_accepted_url_prints_back() {
    for url in [
        "mqtt://a]b:c:1",
        "mqtt://a[b:1",
        "ws://x]:80/p",
        "mqtt://[a]b]:1",
        "h]",
    ] {
        let e = BrokerUrl::parse(url).expect_err(url).to_string();
        assert!(e.contains("'[' or ']'") || e.contains("IPv6"), "{url}: {e}");
        assert!(ClientOptions::new(url, "c").is_err(), "{url}");
    }
    for url in [
        "mqtt://[::1]:1883",
        "mqtt://a:b:1883",
        "ws://[fe80::1]/mqtt",
        "h:1",
    ] {
        let parsed = BrokerUrl::parse(url).expect(url);
        let printed = parsed.to_string();
        assert_eq!(BrokerUrl::parse(&printed).expect(&printed), parsed, "{url}");
        assert!(
            Engine::new(ClientOptions::new(url, "c").unwrap()).is_ok(),
            "{url}"
        );
    }
}
