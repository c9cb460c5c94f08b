#!/usr/bin/env python3
"""Estimates what a library cut would save, without touching the library.

    python3 embedded-size/cuts.py                       # list the cuts
    python3 embedded-size/cuts.py client-decode no-v5   # build base and base + these cuts

Copies mqtt-proto, mqtt-session and embedded-size into a scratch directory
($CUTS_DIR, default /tmp/embedded-exp/<cuts>), makes each copy a standalone package,
applies the named cuts as source edits there, builds the `drive` and `connect` firmware
(CARGO_TARGET_DIR=$CARGO_TARGET_DIR/exp-<cuts>, default /work/target-embedded) and prints
their `.text` sizes next to the unmodified build's. Each cut is a crude stand-in for the
proper change (README.md says what that is): it removes the code a feature flag or a
redesign would remove, keeping the rest compiling. The edits are plain text
replacements written against the tree of 2026-12-03 (commit d7309c5); a cut whose
anchor text has changed stops with a message instead of measuring something else.
"""
import glob
import os
import re
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
SCRATCH = os.environ.get("CUTS_DIR", "/tmp/embedded-exp")
TARGET_ROOT = os.environ.get("CARGO_TARGET_DIR", "/work/target-embedded")


class Tree:
    def __init__(self, d):
        self.d = d

    def read(self, p):
        with open(os.path.join(self.d, p)) as f:
            return f.read()

    def write(self, p, s):
        with open(os.path.join(self.d, p), "w") as f:
            f.write(s)

    def replace(self, p, old, new, count=1):
        s = self.read(p)
        if old not in s:
            sys.exit(f"cut anchor not found in {p}:\n{old}")
        self.write(p, s.replace(old, new, count))


def decode_arm_error(t, kinds):
    """Packet::decode_at refuses these packet types instead of decoding them."""
    p = "mqtt-proto/src/packet/mod.rs"
    s = t.read(p)
    for k in kinds:
        m = re.search(rf"PacketType::{k} => Packet::[^\n]*\?\)?,", s)
        if not m:
            sys.exit(f"decode_at arm for {k} not found")
        s = s.replace(m.group(0), f"PacketType::{k} => return Err(DecodeError::WrongSender {{ what: t.name() }}),")
    t.write(p, s)


def session_arm_drop(t, kind, handler):
    """Session::handle_packet no longer dispatches `kind` (it falls to the refusal arm)."""
    p = "mqtt-session/src/session/connection.rs"
    s = t.read(p)
    for arm in (
        f"            Packet::{kind}(a) => {{\n                self.prove_connection();\n                self.{handler}(now, a)\n            }}\n",
        f"            Packet::{kind}(a) => self.{handler}(now, a),\n",
    ):
        if arm in s:
            t.write(p, s.replace(arm, ""))
            return
    sys.exit(f"handle_packet arm for {kind} not found")


def client_decode(t):
    decode_arm_error(t, ["Connect", "Subscribe", "Unsubscribe"])


def no_v5(t):
    t.replace("mqtt-proto/src/version.rs", "        matches!(self, ProtocolVersion::V5)\n", "        false\n")


def v5_only(t):
    t.replace("mqtt-proto/src/version.rs", "        matches!(self, ProtocolVersion::V5)\n", "        true\n")


def no_v31(t):
    t.replace("mqtt-proto/src/packet/connack.rs", "version != ProtocolVersion::V3_1;", "true;")
    t.replace("mqtt-proto/src/packet/connack.rs", "if version == ProtocolVersion::V3_1 &&", "if false &&")
    t.replace("mqtt-proto/src/packet/connect.rs", "&& version == ProtocolVersion::V3_1 {", "&& false {")
    t.replace("mqtt-session/src/session/connection.rs", "(self.version() == mqtt_proto::ProtocolVersion::V3_1 && self.resuming)", "(false && self.resuming)")


IDSET = '''
/// A sorted set of packet identifiers on a Vec (instead of BTreeSet<u16>).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct IdSet(alloc::vec::Vec<u16>);
impl IdSet {
    pub(crate) fn insert(&mut self, id: u16) -> bool {
        match self.0.binary_search(&id) { Ok(_) => false, Err(i) => { self.0.insert(i, id); true } }
    }
    pub(crate) fn remove(&mut self, id: &u16) -> bool {
        match self.0.binary_search(id) { Ok(i) => { self.0.remove(i); true } Err(_) => false }
    }
    pub(crate) fn contains(&self, id: &u16) -> bool { self.0.binary_search(id).is_ok() }
    pub(crate) fn clear(&mut self) { self.0.clear() }
    pub(crate) fn len(&self) -> usize { self.0.len() }
    pub(crate) fn iter(&self) -> core::slice::Iter<'_, u16> { self.0.iter() }
}
impl FromIterator<u16> for IdSet {
    fn from_iter<I: IntoIterator<Item = u16>>(i: I) -> IdSet {
        let mut s = IdSet::default();
        for x in i { s.insert(x); }
        s
    }
}
'''


def idset(t):
    p = "mqtt-session/src/session/inbound.rs"
    t.replace(p, "use alloc::collections::{BTreeSet, VecDeque};", "use alloc::collections::VecDeque;\n" + IDSET)
    s = t.read(p)
    t.write(p, s.replace("BTreeSet<u16>", "IdSet"))


BACKOFF = '''    pub(crate) fn next_delay(&mut self, policy: &ReconnectPolicy) -> Duration {
        let shift = self.failures.min(20);
        self.failures = self.failures.saturating_add(1);
        let ms = |d: Duration| d.as_millis().min(u128::from(u32::MAX)) as u64;
        let base_ms = (ms(policy.min_delay) << shift).min(ms(policy.max_delay)) as u32;
        let jitter = u32::from(policy.jitter_percent.min(100));
        let mut delay = base_ms;
        if jitter != 0 {
            self.rng ^= self.rng >> 12;
            self.rng ^= self.rng << 25;
            self.rng ^= self.rng >> 27;
            let random = ((self.rng.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 32) as u32) % 1001;
            let cut = ((u64::from(base_ms) * u64::from(jitter * random)) * 42_950 >> 32) as u32;
            delay -= cut.min(base_ms);
        }
        Duration::new(u64::from(delay / 1000), (delay % 1000) * 1_000_000)
    }
}

'''


def backoff_u32(t):
    p = "mqtt-session/src/backoff.rs"
    s = t.read(p)
    a, b = s.index("    pub(crate) fn next_delay"), s.index("#[cfg(test)]")
    t.write(p, s[:a] + BACKOFF + s[b:])


def no_short_ack(t):
    t.replace("mqtt-proto/src/decoder.rs", "        if header.remaining_length == 2\n", "        if false && header.remaining_length == 2\n")


def no_qos2(t):
    decode_arm_error(t, ["PubRec", "PubRel", "PubComp"])
    p = "mqtt-proto/src/decoder.rs"
    s = t.read(p)
    for k in ["PubRec", "PubRel", "PubComp"]:
        s = s.replace(f"        crate::PacketType::{k} => Packet::{k}(crate::{k}::new(id)),\n", "")
    t.write(p, s)
    session_arm_drop(t, "PubRec", "handle_pubrec")
    session_arm_drop(t, "PubRel", "handle_pubrel")
    session_arm_drop(t, "PubComp", "handle_pubcomp")
    a = "        let Some(packet_id) = publish.packet_id else {"
    t.replace("mqtt-session/src/session/inbound.rs", a,
              '        if publish.qos == QoS::ExactlyOnce {\n            return Err(ProtocolViolation::UnexpectedPacket("QoS 2"));\n        }\n' + a)
    a = "        admission::check_reserved(&message)?;"
    t.replace("mqtt-session/src/session/outbound.rs", a,
              a + "\n        if message.qos == QoS::ExactlyOnce {\n            return Err(UsageError::QueueFull);\n        }")


def no_auth(t):
    decode_arm_error(t, ["Auth"])
    p = "mqtt-session/src/session/connection.rs"
    t.replace(p, "            Packet::Auth(a) => self.handle_auth(now, a, awaiting),\n", "")
    t.replace(p, "            self.follow_redirect(c.reason_code, c.properties.server_reference.as_ref());", "")
    t.replace(p, "        self.follow_redirect(d.reason_code, d.properties.server_reference.as_ref());", "")


def no_unsubscribe(t):
    decode_arm_error(t, ["UnsubAck"])
    session_arm_drop(t, "UnsubAck", "handle_unsuback")


def no_resubscribe(t):
    a = "    pub(crate) fn resubscribe(&mut self, now: Instant) {"
    t.replace("mqtt-session/src/session/subscriptions.rs", a, a + "\n        if true {\n            return;\n        }")


def actions_vec(t):
    p = "mqtt-session/src/session/mod.rs"
    t.replace(p, "    pub(crate) actions: VecDeque<Action>,", "    pub(crate) actions: alloc::vec::Vec<Action>,")
    t.replace(p, "            actions: VecDeque::new(),", "            actions: alloc::vec::Vec::new(),")
    t.replace(p, "            self.actions = VecDeque::new();", "            self.actions = alloc::vec::Vec::new();")
    t.replace(p, "        self.actions.pop_front()", "        if self.actions.is_empty() { None } else { Some(self.actions.remove(0)) }")
    for f in glob.glob(os.path.join(t.d, "mqtt-session/src/session/*.rs")):
        with open(f) as fh:
            s = fh.read()
        with open(f, "w") as fh:
            fh.write(s.replace("self.actions.push_back(", "self.actions.push("))


def never_dropped(t):
    s = t.read("embedded-size/src/lib.rs")
    t.write("embedded-size/src/lib.rs", s.replace("    black_box(session);\n", "    core::mem::forget(black_box(session));\n"))


def panic_fmt(t):
    for b in ["drive", "connect"]:
        t.replace(f"embedded-size/src/bin/{b}.rs", "fn panic(_: &core::panic::PanicInfo<'_>) -> ! {\n",
                  "fn panic(info: &core::panic::PanicInfo<'_>) -> ! {\n"
                  "    struct Sink;\n"
                  "    impl core::fmt::Write for Sink {\n"
                  "        fn write_str(&mut self, s: &str) -> core::fmt::Result {\n"
                  "            core::hint::black_box(s);\n"
                  "            Ok(())\n"
                  "        }\n"
                  "    }\n"
                  "    let _ = core::fmt::write(&mut Sink, format_args!(\"{info}\"));\n")


def connect_no_read(t):
    t.replace("embedded-size/src/lib.rs",
              "    receive(&mut session, now, buf, pick(&wire::CONNACK), tally);\n    session\n",
              "    if false {\n        receive(&mut session, now, buf, pick(&wire::CONNACK), tally);\n    }\n    session\n")


CUTS = {
    "client-decode": (client_decode, "decode only what a server sends (no CONNECT/SUBSCRIBE/UNSUBSCRIBE decoding)"),
    "no-v5": (no_v5, "ProtocolVersion::is_v5() is false: every 5.0-only branch folds away"),
    "v5-only": (v5_only, "is_v5() is true: every 3.1/3.1.1-only branch folds away (for a 5.0 application)"),
    "no-v31": (no_v31, "the four MQTT 3.1 special cases folded away"),
    "idset": (idset, "incoming QoS 2 identifiers in a sorted Vec<u16> instead of three BTreeSet<u16>"),
    "backoff-u32": (backoff_u32, "reconnect back-off in u32 milliseconds: no 64-bit division, no Duration::saturating_mul"),
    "no-short-ack": (no_short_ack, "no 2-byte acknowledgement fast path in Decoder::decode"),
    "no-qos2": (no_qos2, "no QoS 2 (PUBREC/PUBREL/PUBCOMP refused, QoS 2 publish refused)"),
    "no-auth": (no_auth, "no enhanced authentication (AUTH) and no server redirection (5.0 features)"),
    "no-unsubscribe": (no_unsubscribe, "no UNSUBACK decoding or handling (an application that never unsubscribes)"),
    "no-resubscribe": (no_resubscribe, "no re-subscription when the server lost the session"),
    "actions-vec": (actions_vec, "the action queue (0 to 2 entries) as a Vec instead of a VecDeque"),
    "never-dropped": (never_dropped, "(program) the session is never dropped, as in a firmware's endless loop"),
    "panic-fmt": (panic_fmt, "(program) a panic handler that formats the PanicInfo (what a printing handler pays)"),
    "connect-no-read": (connect_no_read, "(program) the connect program without handle_read of the CONNACK"),
}


def standalone(d):
    """Makes the copied mqtt-proto / mqtt-session packages build outside the workspace."""
    for c in ["mqtt-proto", "mqtt-session"]:
        p = os.path.join(d, c, "Cargo.toml")
        with open(p) as f:
            s = f.read()
        s = re.sub(r"^(version|edition|rust-version|license|repository)\.workspace = true\n", "", s, flags=re.M)
        s = s.replace("[package]\n", '[package]\nversion = "0.1.0"\nedition = "2024"\n', 1)
        s = s.replace("bytes.workspace = true", 'bytes = { version = "1.10", default-features = false }')
        s = s.replace("bytestring.workspace = true", 'bytestring = "1.5"')
        s = s.replace("mqtt-proto.workspace = true", 'mqtt-proto = { path = "../mqtt-proto", default-features = false }')
        s = re.sub(r"\[dev-dependencies\][^\[]*", "", s)
        s = re.sub(r"\[lints\][^\[]*", "", s)
        with open(p, "w") as f:
            f.write(s + "\n[workspace]\n")


def build(name, cuts):
    d = os.path.join(SCRATCH, name)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    for c in ["mqtt-proto", "mqtt-session", "embedded-size"]:
        shutil.copytree(os.path.join(ROOT, c), os.path.join(d, c), ignore=shutil.ignore_patterns("target"))
    standalone(d)
    t = Tree(d)
    for c in cuts:
        CUTS[c][0](t)
    env = dict(os.environ, CARGO_TARGET_DIR=os.path.join(TARGET_ROOT, "exp-" + name))
    r = subprocess.run(
        ["cargo", "build", "-q", "--release", "--target", "thumbv7em-none-eabihf", "--features", "embedded", "--bins"],
        cwd=os.path.join(d, "embedded-size"), env=env, capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"{name}: build failed\n{r.stderr[-3000:]}")
    out = os.path.join(env["CARGO_TARGET_DIR"], "thumbv7em-none-eabihf", "release")
    sizes = []
    for b in ["drive", "connect"]:
        s = subprocess.run(["llvm-size", "-A", os.path.join(out, b)], capture_output=True, text=True).stdout
        sizes.append(int(next(l.split()[1] for l in s.splitlines() if l.startswith(".text"))))
    return sizes


def main():
    cuts = sys.argv[1:]
    if not cuts:
        print(__doc__)
        for k, (_, what) in CUTS.items():
            print(f"  {k:16} {what}")
        return
    for c in cuts:
        if c not in CUTS:
            sys.exit(f"unknown cut {c}")
    base = build("base", [])
    name = "+".join(cuts)
    cut = build(name, cuts)
    print(f"{'':40} {'drive':>8} {'connect':>8}")
    print(f"{'base':40} {base[0]:8} {base[1]:8}")
    print(f"{name:40} {cut[0]:8} {cut[1]:8}")
    print(f"{'saving':40} {base[0] - cut[0]:8} {base[1] - cut[1]:8}")


if __name__ == "__main__":
    main()
