//! The samples of every round and the markdown tables made of them: medians, and
//! ratios against rumqttc.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::measure::median;
use crate::run::{Client, IdleSample, Sample};

/// One kind of run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Scenario {
    /// Publisher of 0 messages: connect + disconnect, the fixed cost.
    PubBase,
    /// Publisher at this QoS.
    Pub(u8),
    /// Subscriber of 0 messages: connect + subscribe + disconnect.
    SubBase,
    /// Subscriber at this QoS.
    Sub(u8),
    /// Idle connections.
    Idle,
}

/// Everything measured.
#[derive(Default)]
pub struct Results {
    /// Messages per run, by QoS.
    pub messages: [usize; 3],
    /// Publisher and subscriber runs.
    pub samples: BTreeMap<(Client, Scenario), Vec<Sample>>,
    /// Idle runs.
    pub idle: BTreeMap<Client, Vec<IdleSample>>,
    /// Runs that failed, with why.
    pub errors: Vec<String>,
}

impl Results {
    /// CPU per message (µs) of each round, the median fixed cost subtracted.
    fn cpu_per_message(&self, client: Client, scenario: Scenario) -> Vec<f64> {
        let (base, qos) = match scenario {
            Scenario::Pub(q) => (Scenario::PubBase, q),
            Scenario::Sub(q) => (Scenario::SubBase, q),
            _ => return Vec::new(),
        };
        let fixed = self.fixed(client, base).map_or(0.0, |f| f.0);
        let n = self.messages[usize::from(qos)] as f64;
        self.runs(client, scenario)
            .iter()
            .map(|s| (s.cpu.as_secs_f64() - fixed) / n * 1e6)
            .collect()
    }

    /// Publisher messages per second of each round, the median fixed wall time
    /// subtracted.
    fn rate(&self, client: Client, qos: u8) -> Vec<f64> {
        let fixed = self.fixed(client, Scenario::PubBase).map_or(0.0, |f| f.1);
        let n = self.messages[usize::from(qos)] as f64;
        self.runs(client, Scenario::Pub(qos))
            .iter()
            .map(|s| n / (s.wall.as_secs_f64() - fixed).max(1e-6))
            .collect()
    }

    /// Median (CPU, wall) seconds of a baseline.
    fn fixed(&self, client: Client, base: Scenario) -> Option<(f64, f64)> {
        let runs = self.runs(client, base);
        let cpu: Vec<f64> = runs.iter().map(|s| s.cpu.as_secs_f64()).collect();
        let wall: Vec<f64> = runs.iter().map(|s| s.wall.as_secs_f64()).collect();
        Some((median(&cpu)?, median(&wall)?))
    }

    fn runs(&self, client: Client, scenario: Scenario) -> &[Sample] {
        self.samples
            .get(&(client, scenario))
            .map_or(&[], Vec::as_slice)
    }

    /// The markdown tables.
    pub fn render(&self, clients: &[Client]) -> String {
        let mut out = String::new();
        self.render_cpu(&mut out, clients);
        self.render_rate(&mut out, clients);
        self.render_idle(&mut out, clients);
        self.render_spread(&mut out, clients);
        if !self.errors.is_empty() {
            out.push_str("\nFailed runs (left out of the medians):\n\n");
            for e in &self.errors {
                let _ = writeln!(out, "* {e}");
            }
        }
        out
    }

    fn render_cpu(&self, out: &mut String, clients: &[Client]) {
        let columns = cpu_columns();
        out.push_str("\n**Client CPU per message** (µs, user + system of the client process; ");
        out.push_str("the ratio is against rumqttc, so **< 1× is less CPU than rumqttc**):\n\n");
        out.push_str("| client | pub QoS 0 | pub QoS 1 | pub QoS 2 | sub QoS 0 | sub QoS 1 | sub QoS 2 | fixed cost pub / sub (ms) |\n");
        out.push_str("|---|---|---|---|---|---|---|---|\n");
        for &c in clients {
            let _ = write!(out, "| {} |", c.label());
            for s in columns {
                let v = median(&self.cpu_per_message(c, s));
                let r = median(&self.cpu_per_message(Client::Rumqttc, s));
                let _ = write!(out, " {} |", cell(v, r, 2, ""));
            }
            let ms = |b| {
                self.fixed(c, b)
                    .map_or("-".into(), |f| format!("{:.1}", f.0 * 1e3))
            };
            let _ = writeln!(
                out,
                " {} / {} |",
                ms(Scenario::PubBase),
                ms(Scenario::SubBase)
            );
        }
    }

    fn render_rate(&self, out: &mut String, clients: &[Client]) {
        out.push_str("\n**Publisher throughput** (thousand messages/s; ratio against rumqttc, ");
        out.push_str("so **> 1× is faster than rumqttc**):\n\n");
        out.push_str(
            "| client | in-flight window | QoS 0 | QoS 1 | QoS 2 |\n|---|---|---|---|---|\n",
        );
        for &c in clients {
            let _ = write!(out, "| {} | {} |", c.label(), c.window());
            for q in 0..3 {
                let v = median(&self.rate(c, q)).map(|x| x / 1e3);
                let r = median(&self.rate(Client::Rumqttc, q)).map(|x| x / 1e3);
                let _ = write!(out, " {} |", cell(v, r, 1, "k"));
            }
            out.push('\n');
        }
    }

    fn render_idle(&self, out: &mut String, clients: &[Client]) {
        out.push_str("\n**Idle connections** (one process, keep alive 60 s; growth over the ");
        out.push_str("process before its first connection, divided by the connections):\n\n");
        out.push_str("| client | RSS per connection | threads per connection | connected |\n|---|---|---|---|\n");
        for &c in clients {
            let runs = self.idle.get(&c).map_or(&[][..], Vec::as_slice);
            if runs.is_empty() {
                let _ = writeln!(out, "| {} | not measured | not measured | - |", c.label());
                continue;
            }
            let per = |f: &dyn Fn(&IdleSample) -> f64| {
                let v: Vec<f64> = runs
                    .iter()
                    .map(|s| f(s) / s.connected.max(1) as f64)
                    .collect();
                median(&v).unwrap_or(0.0)
            };
            let connected: Vec<String> = runs.iter().map(|s| s.connected.to_string()).collect();
            let _ = writeln!(
                out,
                "| {} | {:.1} KiB | {:.2} | {} |",
                c.label(),
                per(&|s| s.rss_kib as f64),
                per(&|s| s.threads as f64),
                connected.join(" / ")
            );
        }
    }

    fn render_spread(&self, out: &mut String, clients: &[Client]) {
        out.push_str("\n**Spread across rounds** (min – max of CPU µs per message, and of ");
        out.push_str("publisher k msg/s at QoS 1):\n\n");
        out.push_str("| client | pub QoS 0 | pub QoS 1 | pub QoS 2 | sub QoS 0 | sub QoS 1 | sub QoS 2 | k msg/s QoS 1 |\n");
        out.push_str("|---|---|---|---|---|---|---|---|\n");
        for &c in clients {
            let _ = write!(out, "| {} |", c.label());
            for s in cpu_columns() {
                let _ = write!(out, " {} |", min_max(&self.cpu_per_message(c, s), 1.0, 2));
            }
            let _ = writeln!(out, " {} |", min_max(&self.rate(c, 1), 1e-3, 1));
        }
    }
}

fn cpu_columns() -> [Scenario; 6] {
    [
        Scenario::Pub(0),
        Scenario::Pub(1),
        Scenario::Pub(2),
        Scenario::Sub(0),
        Scenario::Sub(1),
        Scenario::Sub(2),
    ]
}

fn cell(value: Option<f64>, reference: Option<f64>, digits: usize, unit: &str) -> String {
    match (value, reference) {
        (Some(v), Some(r)) if r > 0.0 => format!("{v:.digits$}{unit} ({:.2}×)", v / r),
        (Some(v), _) => format!("{v:.digits$}{unit}"),
        _ => "-".into(),
    }
}

fn min_max(values: &[f64], scale: f64, digits: usize) -> String {
    let min = values.iter().copied().fold(f64::INFINITY, f64::min) * scale;
    let max = values.iter().copied().fold(f64::NEG_INFINITY, f64::max) * scale;
    if values.is_empty() {
        "-".into()
    } else {
        format!("{min:.digits$} – {max:.digits$}")
    }
}
