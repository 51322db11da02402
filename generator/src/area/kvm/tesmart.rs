//! The TESmart KVM switch's network protocol, the one implementation that
//! `hearth kvm switch`/`status` and the bastion's `hearth-kvm` command use,
//! and a simulator of the switch for tests and the lab.
//!
//! Protocol (kvmd's `kvmd/plugins/ugpio/tesmart.py`, 2026-08 master, and the
//! protocol notes PiKVM links): a request is the frame `AA BB 03 <cmd>
//! <value> EE`. Switch: cmd `01`, value = port, 1-based. Query the active
//! port: cmd `10`, value `00`; the reply is `AA BB 03 11 <port> EE` with the
//! port 0-based. kvmd reads a 6-byte reply after every command, opens a new
//! connection per command, and waits `switch_delay` (1 s) after a switch; so
//! do we. No reply byte is used before the whole frame is checked.

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The most ports a TESmart switch has (kvmd's pins 0-15).
pub const MAX_PORTS: u8 = 16;
/// Request command: switch to a port (value 1-based).
pub const CMD_SWITCH: u8 = 0x01;
/// Request command: which port is active (value 0).
pub const CMD_QUERY: u8 = 0x10;
/// Reply command: the active port (value 0-based).
pub const REPLY_ACTIVE: u8 = 0x11;

/// A request or reply frame: `AA BB 03 <cmd> <value> EE`.
pub fn frame(cmd: u8, value: u8) -> [u8; 6] {
    [0xAA, 0xBB, 0x03, cmd, value, 0xEE]
}

/// Checks a frame's fixed bytes and returns (cmd, value).
pub fn parse_frame(b: &[u8]) -> Option<(u8, u8)> {
    match b {
        [0xAA, 0xBB, 0x03, cmd, value, 0xEE] => Some((*cmd, *value)),
        _ => None,
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02X}")).collect::<Vec<_>>().join(" ")
}

/// Where a switch is and how long to wait for it.
#[derive(Debug, Clone)]
pub struct Switch {
    pub addr: SocketAddr,
    /// Number of ports (1..=16).
    pub ports: u8,
    /// Connect, write and read timeout of each command.
    pub timeout: Duration,
    /// Settle time after a switch before the active port is queried.
    pub switch_delay: Duration,
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("TESmart switch {addr} is unreachable: {source}\nhint: check that it is powered, cabled and at this address; from a VPN client, that your group may reach it")]
    Unreachable { addr: SocketAddr, source: std::io::Error },
    #[error("TESmart switch {addr} did not answer within {timeout:?} ({what})\nhint: a firewall may drop the traffic (is your group allowed?), or the switch is busy; retry")]
    Timeout { addr: SocketAddr, timeout: Duration, what: &'static str },
    #[error("TESmart switch {addr} closed the connection after {got} of 6 reply bytes ({bytes})")]
    Short { addr: SocketAddr, got: usize, bytes: String },
    #[error("TESmart switch {addr} sent a malformed reply: {bytes} (expected AA BB 03 11 <port> EE)")]
    Malformed { addr: SocketAddr, bytes: String },
    #[error("port {port} is out of range: the switch has ports 1-{ports}")]
    PortOutOfRange { port: u16, ports: u8 },
    #[error("TESmart switch {addr} reports port {active} active after switching to port {wanted}")]
    NotSwitched { addr: SocketAddr, wanted: u8, active: u8 },
    #[error("TESmart switch {addr}: {source}")]
    Io { addr: SocketAddr, source: std::io::Error },
}

impl Error {
    /// True when the switch never answered (firewall drop, no route).
    pub fn is_timeout(&self) -> bool {
        matches!(self, Error::Timeout { .. })
    }
}

impl Switch {
    fn io(&self, e: std::io::Error, what: &'static str) -> Error {
        match e.kind() {
            ErrorKind::TimedOut | ErrorKind::WouldBlock => Error::Timeout { addr: self.addr, timeout: self.timeout, what },
            _ => Error::Io { addr: self.addr, source: e },
        }
    }

    /// One command on a new connection: send the frame, read and check the
    /// 6-byte reply, return its 0-based port.
    fn command(&self, cmd: u8, value: u8) -> Result<u8, Error> {
        let mut s = TcpStream::connect_timeout(&self.addr, self.timeout).map_err(|e| match e.kind() {
            ErrorKind::TimedOut | ErrorKind::WouldBlock => Error::Timeout { addr: self.addr, timeout: self.timeout, what: "connect" },
            _ => Error::Unreachable { addr: self.addr, source: e },
        })?;
        s.set_read_timeout(Some(self.timeout)).map_err(|e| self.io(e, "setup"))?;
        s.set_write_timeout(Some(self.timeout)).map_err(|e| self.io(e, "setup"))?;
        s.set_nodelay(true).ok();
        s.write_all(&frame(cmd, value)).map_err(|e| self.io(e, "sending the command"))?;
        let deadline = Instant::now() + self.timeout;
        let mut buf = [0u8; 6];
        let mut got = 0;
        while got < 6 {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(Error::Timeout { addr: self.addr, timeout: self.timeout, what: "waiting for the reply" });
            }
            s.set_read_timeout(Some(left)).map_err(|e| self.io(e, "setup"))?;
            match s.read(&mut buf[got..]) {
                Ok(0) => return Err(Error::Short { addr: self.addr, got, bytes: hex(&buf[..got]) }),
                Ok(n) => got += n,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) if e.kind() == ErrorKind::ConnectionReset => return Err(Error::Short { addr: self.addr, got, bytes: hex(&buf[..got]) }),
                Err(e) => return Err(self.io(e, "waiting for the reply")),
            }
        }
        match parse_frame(&buf) {
            Some((REPLY_ACTIVE, p)) if p < MAX_PORTS => {
                if p >= self.ports {
                    Err(Error::PortOutOfRange { port: u16::from(p) + 1, ports: self.ports })
                } else {
                    Ok(p)
                }
            }
            _ => Err(Error::Malformed { addr: self.addr, bytes: hex(&buf) }),
        }
    }

    /// The active port, 1-based.
    pub fn active(&self) -> Result<u8, Error> {
        Ok(self.command(CMD_QUERY, 0x00)? + 1)
    }

    /// Switches to `port` (1-based), waits `switch_delay`, and confirms on a
    /// new connection that the port is active.
    pub fn switch(&self, port: u8) -> Result<(), Error> {
        if port == 0 || port > self.ports || port > MAX_PORTS {
            return Err(Error::PortOutOfRange { port: port.into(), ports: self.ports });
        }
        self.command(CMD_SWITCH, port)?;
        std::thread::sleep(self.switch_delay);
        let active = self.active()?;
        if active != port {
            return Err(Error::NotSwitched { addr: self.addr, wanted: port, active });
        }
        Ok(())
    }
}

/// How a simulated switch misbehaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Fault {
    /// A working switch.
    #[default]
    None,
    /// Reads the request and closes the connection without a reply.
    Drop,
    /// Replies with a frame whose trailer is wrong.
    Malformed,
    /// Replies with 3 of the 6 bytes, then closes.
    Short,
    /// Reports a port beyond its own count.
    OutOfRange,
    /// Accepts the switch command but keeps the old port.
    Stuck,
}

/// A TESmart switch simulator: answers the protocol above on a listener,
/// one command per connection like kvmd expects, with a configurable delay
/// before every reply and a fault mode. Prints one line per request.
#[derive(Debug, Clone)]
pub struct Simulator {
    pub ports: u8,
    pub active: Arc<AtomicU8>,
    pub delay: Duration,
    pub fault: Fault,
    pub log: bool,
}

impl Simulator {
    pub fn new(ports: u8, active: u8) -> Self {
        Simulator { ports, active: Arc::new(AtomicU8::new(active.saturating_sub(1))), delay: Duration::ZERO, fault: Fault::None, log: false }
    }

    /// The active port, 1-based.
    pub fn active(&self) -> u8 {
        self.active.load(Ordering::SeqCst) + 1
    }

    /// Serves until `stop` is set (checked between connections).
    pub fn serve(&self, listener: TcpListener, stop: Arc<AtomicBool>) -> std::io::Result<()> {
        listener.set_nonblocking(true)?;
        while !stop.load(Ordering::SeqCst) {
            match listener.accept() {
                Ok((s, peer)) => {
                    let me = self.clone();
                    std::thread::spawn(move || {
                        if let Err(e) = me.handle(s, peer) {
                            if me.log {
                                println!("{peer}: {e}");
                            }
                        }
                    });
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => std::thread::sleep(Duration::from_millis(10)),
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    fn handle(&self, mut s: TcpStream, peer: SocketAddr) -> std::io::Result<()> {
        s.set_nonblocking(false)?;
        s.set_read_timeout(Some(Duration::from_secs(10)))?;
        let mut req = [0u8; 6];
        s.read_exact(&mut req)?;
        let reply_port = match parse_frame(&req) {
            Some((CMD_SWITCH, p)) if (1..=self.ports).contains(&p) => {
                if self.fault != Fault::Stuck {
                    self.active.store(p - 1, Ordering::SeqCst);
                }
                Some(self.active.load(Ordering::SeqCst))
            }
            Some((CMD_QUERY, 0)) => Some(self.active.load(Ordering::SeqCst)),
            _ => None,
        };
        if self.log {
            println!("{peer}: request {} -> active port {}", hex(&req), self.active());
        }
        let Some(p) = reply_port else {
            return Ok(()); // an unknown request gets no answer, as on the hardware
        };
        std::thread::sleep(self.delay);
        let reply = match self.fault {
            Fault::None | Fault::Stuck => frame(REPLY_ACTIVE, p).to_vec(),
            Fault::Drop => return Ok(()),
            Fault::Malformed => vec![0xAA, 0xBB, 0x03, REPLY_ACTIVE, p, 0x00],
            Fault::Short => frame(REPLY_ACTIVE, p)[..3].to_vec(),
            Fault::OutOfRange => frame(REPLY_ACTIVE, self.ports).to_vec(),
        };
        s.write_all(&reply)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A simulator on a random loopback port, stopped when dropped.
    struct Sim {
        sim: Simulator,
        addr: SocketAddr,
        stop: Arc<AtomicBool>,
    }

    impl Drop for Sim {
        fn drop(&mut self) {
            self.stop.store(true, Ordering::SeqCst);
        }
    }

    fn start(sim: Simulator) -> Sim {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let (s, st) = (sim.clone(), stop.clone());
        std::thread::spawn(move || s.serve(l, st));
        Sim { sim, addr, stop }
    }

    fn client(addr: SocketAddr, timeout_ms: u64) -> Switch {
        Switch { addr, ports: 8, timeout: Duration::from_millis(timeout_ms), switch_delay: Duration::from_millis(50) }
    }

    #[test]
    fn frames_are_byte_exact() {
        assert_eq!(frame(CMD_SWITCH, 3), [0xAA, 0xBB, 0x03, 0x01, 0x03, 0xEE]);
        assert_eq!(frame(CMD_QUERY, 0), [0xAA, 0xBB, 0x03, 0x10, 0x00, 0xEE]);
        assert_eq!(parse_frame(&[0xAA, 0xBB, 0x03, 0x11, 0x02, 0xEE]), Some((0x11, 2)));
        assert_eq!(parse_frame(&[0xAA, 0xBB, 0x03, 0x11, 0x02, 0xEF]), None);
        assert_eq!(parse_frame(&[0xAA, 0xBB, 0x03, 0x11, 0x02]), None);
    }

    /// What the client puts on the wire, read by a raw listener.
    #[test]
    fn client_sends_exactly_the_kvmd_frames_one_connection_each() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        let seen = std::thread::spawn(move || {
            let mut frames = vec![];
            for _ in 0..3 {
                let (mut s, _) = l.accept().unwrap();
                let mut b = [0u8; 6];
                s.read_exact(&mut b).unwrap();
                frames.push(b);
                // Port 5 (0-based 4) is active once asked to switch there.
                s.write_all(&frame(REPLY_ACTIVE, 4)).unwrap();
            }
            frames
        });
        let sw = client(addr, 2000);
        sw.switch(5).unwrap();
        assert_eq!(sw.active().unwrap(), 5);
        let frames = seen.join().unwrap();
        assert_eq!(frames, vec![[0xAA, 0xBB, 0x03, 0x01, 0x05, 0xEE], [0xAA, 0xBB, 0x03, 0x10, 0x00, 0xEE], [0xAA, 0xBB, 0x03, 0x10, 0x00, 0xEE]]);
    }

    #[test]
    fn switch_and_query_against_the_simulator() {
        let s = start(Simulator::new(8, 1));
        let sw = client(s.addr, 2000);
        assert_eq!(sw.active().unwrap(), 1);
        sw.switch(7).unwrap();
        assert_eq!(s.sim.active(), 7);
        assert_eq!(sw.active().unwrap(), 7);
    }

    #[test]
    fn a_slow_switch_within_the_timeout_works_beyond_it_times_out() {
        let mut sim = Simulator::new(8, 2);
        sim.delay = Duration::from_millis(1000);
        let s = start(sim);
        assert_eq!(client(s.addr, 2000).active().unwrap(), 2);
        let t0 = Instant::now();
        let e = client(s.addr, 100).active().unwrap_err();
        assert!(e.is_timeout(), "{e}");
        assert!(t0.elapsed() < Duration::from_millis(900), "gave up at the timeout, not the reply: {:?}", t0.elapsed());
        assert!(e.to_string().contains("did not answer within 100ms"), "{e}");
    }

    #[test]
    fn a_dropped_connection_is_a_short_reply() {
        let mut sim = Simulator::new(8, 1);
        sim.fault = Fault::Drop;
        let s = start(sim);
        let e = client(s.addr, 2000).switch(3).unwrap_err();
        assert!(matches!(e, Error::Short { got: 0, .. }), "{e}");
        assert!(e.to_string().contains("closed the connection after 0 of 6 reply bytes"), "{e}");
    }

    #[test]
    fn a_truncated_reply_is_short() {
        let mut sim = Simulator::new(8, 1);
        sim.fault = Fault::Short;
        let s = start(sim);
        let e = client(s.addr, 2000).active().unwrap_err();
        assert!(matches!(e, Error::Short { got: 3, .. }), "{e}");
        assert!(e.to_string().contains("(AA BB 03)"), "{e}");
    }

    #[test]
    fn a_malformed_reply_is_rejected_not_trusted() {
        let mut sim = Simulator::new(8, 4);
        sim.fault = Fault::Malformed;
        let s = start(sim);
        let e = client(s.addr, 2000).active().unwrap_err();
        assert!(e.to_string().contains("malformed reply: AA BB 03 11 03 00"), "{e}");
    }

    #[test]
    fn a_port_beyond_the_switch_is_refused_both_ways() {
        let s = start(Simulator::new(8, 1));
        let sw = client(s.addr, 2000);
        for p in [0, 9, 200] {
            let e = sw.switch(p).unwrap_err();
            assert!(matches!(e, Error::PortOutOfRange { ports: 8, .. }), "{p}: {e}");
        }
        assert_eq!(s.sim.active(), 1, "nothing was sent");
        let mut sim = Simulator::new(8, 1);
        sim.fault = Fault::OutOfRange;
        let bad = start(sim);
        let e = client(bad.addr, 2000).active().unwrap_err();
        assert!(e.to_string().contains("port 9 is out of range: the switch has ports 1-8"), "{e}");
    }

    #[test]
    fn a_switch_that_does_not_switch_is_reported() {
        let mut sim = Simulator::new(8, 2);
        sim.fault = Fault::Stuck;
        let s = start(sim);
        let e = client(s.addr, 2000).switch(6).unwrap_err();
        assert!(e.to_string().contains("reports port 2 active after switching to port 6"), "{e}");
    }

    #[test]
    fn nothing_listening_is_unreachable() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        drop(l);
        let e = client(addr, 2000).active().unwrap_err();
        assert!(matches!(e, Error::Unreachable { .. }), "{e}");
    }

    #[test]
    fn the_switch_waits_its_delay_before_confirming() {
        let s = start(Simulator::new(8, 1));
        let mut sw = client(s.addr, 2000);
        sw.switch_delay = Duration::from_millis(400);
        let t0 = Instant::now();
        sw.switch(2).unwrap();
        assert!(t0.elapsed() >= Duration::from_millis(400), "{:?}", t0.elapsed());
    }
}
