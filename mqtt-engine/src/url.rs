//! Broker addresses as URLs: `mqtt://`, `mqtts://`, `ws://`, `wss://`.

use core::fmt;

use crate::error::Error;

/// How the bytes travel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Scheme {
    /// `mqtt://` (also `tcp://`): plain TCP, default port 1883.
    Mqtt,
    /// `mqtts://` (also `ssl://`, `tls://`): TLS, default port 8883.
    Mqtts,
    /// `ws://`: WebSocket, default port 80.
    Ws,
    /// `wss://`: WebSocket over TLS, default port 443.
    Wss,
}

impl Scheme {
    /// The default port of the scheme.
    pub fn default_port(self) -> u16 {
        match self {
            Scheme::Mqtt => 1883,
            Scheme::Mqtts => 8883,
            Scheme::Ws => 80,
            Scheme::Wss => 443,
        }
    }

    /// Whether the scheme uses TLS.
    pub fn is_tls(self) -> bool {
        matches!(self, Scheme::Mqtts | Scheme::Wss)
    }

    /// Whether the scheme uses WebSocket.
    pub fn is_websocket(self) -> bool {
        matches!(self, Scheme::Ws | Scheme::Wss)
    }

    fn name(self) -> &'static str {
        match self {
            Scheme::Mqtt => "mqtt",
            Scheme::Mqtts => "mqtts",
            Scheme::Ws => "ws",
            Scheme::Wss => "wss",
        }
    }
}

/// A parsed broker URL.
///
/// ```
/// use mqtt_engine::{BrokerUrl, Scheme};
/// let url = BrokerUrl::parse("wss://broker.example.com/mqtt").unwrap();
/// assert_eq!((url.scheme, url.host.as_str(), url.port, url.path.as_str()),
///            (Scheme::Wss, "broker.example.com", 443, "/mqtt"));
/// assert_eq!(BrokerUrl::parse("mqtt://[::1]").unwrap().port, 1883);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct BrokerUrl {
    /// The transport.
    pub scheme: Scheme,
    /// Host name or IP address (IPv6 without brackets).
    pub host: String,
    /// Port (the scheme's default when the URL has none).
    pub port: u16,
    /// The WebSocket path (`/mqtt` when the URL has none); unused for TCP.
    pub path: String,
}

impl BrokerUrl {
    /// Parses `scheme://host[:port][/path]`. A bare `host:port` is taken as `mqtt://`.
    pub fn parse(url: &str) -> Result<BrokerUrl, Error> {
        let bad = |why: &str| Error::InvalidUrl(format!("{url:?}: {why}"));
        let (scheme, rest) = match url.split_once("://") {
            Some((s, rest)) => {
                let scheme = match s.to_ascii_lowercase().as_str() {
                    "mqtt" | "tcp" => Scheme::Mqtt,
                    "mqtts" | "ssl" | "tls" => Scheme::Mqtts,
                    "ws" => Scheme::Ws,
                    "wss" => Scheme::Wss,
                    _ => return Err(bad("the scheme must be mqtt, mqtts, ws or wss")),
                };
                (scheme, rest)
            }
            None => (Scheme::Mqtt, url),
        };
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, ""),
        };
        let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
            let (host, after) = v6
                .split_once(']')
                .ok_or_else(|| bad("unclosed '[' in the host"))?;
            let port = match after.strip_prefix(':') {
                Some(p) => Some(p),
                None if after.is_empty() => None,
                None => return Err(bad("unexpected text after the IPv6 address")),
            };
            (host, port)
        } else {
            match authority.rsplit_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (authority, None),
            }
        };
        if host.is_empty() {
            return Err(bad("the host is missing"));
        }
        if host.contains(['[', ']']) {
            // No host name or IP address holds a bracket; one kept in the host would
            // print (bracketed, when the host also holds ':') as a URL that no longer
            // parses.
            return Err(bad(
                "the host holds '[' or ']' (write an IPv6 address as [address])",
            ));
        }
        let port = match port {
            Some(p) => p
                .parse::<u16>()
                .map_err(|_| bad("the port is not a number from 0 to 65535"))?,
            None => scheme.default_port(),
        };
        Ok(BrokerUrl {
            scheme,
            host: host.to_string(),
            port,
            path: if path.is_empty() {
                "/mqtt".to_string()
            } else {
                path.to_string()
            },
        })
    }

    /// The same broker at another `host:port` (a 5.0 Server Reference), keeping the scheme
    /// and path.
    pub fn redirected(&self, reference: &str) -> Result<BrokerUrl, Error> {
        if reference.contains("://") {
            return BrokerUrl::parse(reference);
        }
        let mut url = BrokerUrl::parse(&format!("{}://{reference}", self.scheme.name()))?;
        url.path = self.path.clone();
        Ok(url)
    }
}

impl fmt::Display for BrokerUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        write!(f, "{}://{}:{}", self.scheme.name(), host, self.port)?;
        if self.scheme.is_websocket() {
            f.write_str(&self.path)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_ports_and_paths() {
        for (url, scheme, port) in [
            ("mqtt://h", Scheme::Mqtt, 1883),
            ("mqtts://h", Scheme::Mqtts, 8883),
            ("ws://h", Scheme::Ws, 80),
            ("wss://h", Scheme::Wss, 443),
            ("h:1234", Scheme::Mqtt, 1234),
        ] {
            let u = BrokerUrl::parse(url).unwrap();
            assert_eq!(
                (u.scheme, u.host.as_str(), u.port),
                (scheme, "h", port),
                "{url}"
            );
        }
        assert_eq!(BrokerUrl::parse("ws://h:9001/ws/x").unwrap().path, "/ws/x");
        assert_eq!(BrokerUrl::parse("ws://h").unwrap().path, "/mqtt");
    }

    #[test]
    fn refuses_bad_urls_with_a_reason() {
        for bad in [
            "http://h",
            "mqtt://",
            "mqtt://h:99999",
            "mqtt://[::1",
            "mqtt://a]b:c:1",
        ] {
            let e = BrokerUrl::parse(bad).unwrap_err().to_string();
            assert!(e.contains(bad), "{e}");
        }
    }

    #[test]
    fn redirect_keeps_scheme_and_path() {
        let u = BrokerUrl::parse("wss://a/p").unwrap();
        let r = u.redirected("b:8443").unwrap();
        assert_eq!(
            (r.scheme, r.host.as_str(), r.port, r.path.as_str()),
            (Scheme::Wss, "b", 8443, "/p")
        );
    }
}
