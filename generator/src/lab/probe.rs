//! Probing the lab on real packets: from a thread that `setns()`es into a
//! client's namespace, concurrent non-blocking TCP connects (tens of
//! thousands in flight, epoll, short timeouts) to every port of every LAN
//! host, and UDP datagrams answered by the LAN hosts' responders. Sockets keep
//! the namespace they were created in, so nothing is ever sent from the
//! machine's own namespace.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::fs::File;
use std::io;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use super::error::{Context, LabError, Result};

/// Moves the calling thread into a named network namespace (`/run/netns/NAME`).
pub fn enter_netns(ns: &str) -> io::Result<()> {
    let f = File::open(format!("/run/netns/{ns}"))?;
    if unsafe { libc::setns(f.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Runs `f` on a fresh thread inside namespace `ns`.
pub fn in_netns<T: Send + 'static>(ns: &str, f: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
    let ns = ns.to_string();
    std::thread::spawn(move || {
        enter_netns(&ns).with_context(|| format!("setns into {ns}"))?;
        f()
    })
    .join()
    .map_err(|_| LabError::Panicked { what: "probe" })?
}

/// Raises the soft RLIMIT_NOFILE to the hard limit (at least `want` if allowed).
pub fn raise_nofile(want: u64) -> u64 {
    unsafe {
        let mut r = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut r);
        if r.rlim_max < want {
            let try_r = libc::rlimit { rlim_cur: want, rlim_max: want };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &try_r) == 0 {
                return want;
            }
        }
        r.rlim_cur = r.rlim_max;
        libc::setrlimit(libc::RLIMIT_NOFILE, &r);
        r.rlim_cur
    }
}

#[derive(Debug, Clone, Copy)]
pub struct ScanOpts {
    /// Connects in flight at once.
    pub window: usize,
    /// How long a connect may stay unanswered before it counts as closed.
    pub timeout: Duration,
}

impl Default for ScanOpts {
    fn default() -> Self {
        ScanOpts { window: 16384, timeout: Duration::from_millis(1000) }
    }
}

fn sockaddr(a: SocketAddrV4) -> libc::sockaddr_in {
    libc::sockaddr_in { sin_family: libc::AF_INET as u16, sin_port: a.port().to_be(), sin_addr: libc::in_addr { s_addr: u32::from(*a.ip()).to_be() }, sin_zero: [0; 8] }
}

fn close_rst(fd: i32) {
    let l = libc::linger { l_onoff: 1, l_linger: 0 };
    unsafe {
        libc::setsockopt(fd, libc::SOL_SOCKET, libc::SO_LINGER, &l as *const _ as *const libc::c_void, std::mem::size_of::<libc::linger>() as u32);
        libc::close(fd);
    }
}

/// TCP connect scan from the current thread's namespace. Returns the targets
/// that completed a handshake (open); everything else timed out or was refused.
pub fn tcp_scan(targets: &[SocketAddrV4], opts: ScanOpts) -> Result<BTreeSet<SocketAddrV4>> {
    let ep = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
    if ep < 0 {
        return Err(LabError::os("epoll_create1 for the TCP scan"));
    }
    let mut open = BTreeSet::new();
    // fd -> target index; deadlines in FIFO order (one timeout for all).
    let mut inflight: HashMap<i32, usize> = HashMap::new();
    let mut deadlines: VecDeque<(Instant, i32, usize)> = VecDeque::new();
    let mut events = vec![libc::epoll_event { events: 0, u64: 0 }; 4096];
    let mut next = 0;
    let mut backoff_until: Option<Instant> = None;
    while next < targets.len() || !inflight.is_empty() {
        // Fill the window.
        while next < targets.len() && inflight.len() < opts.window && backoff_until.is_none_or(|t| Instant::now() >= t) {
            backoff_until = None;
            let t = targets[next];
            let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC, 0) };
            if fd < 0 {
                let e = io::Error::last_os_error();
                if e.raw_os_error() == Some(libc::EMFILE) || e.raw_os_error() == Some(libc::ENFILE) {
                    backoff_until = Some(Instant::now() + Duration::from_millis(5));
                    break;
                }
                return Err(e).context("a TCP socket for the scan");
            }
            let sa = sockaddr(t);
            let r = unsafe { libc::connect(fd, &sa as *const _ as *const libc::sockaddr, std::mem::size_of::<libc::sockaddr_in>() as u32) };
            let err = if r == 0 { 0 } else { io::Error::last_os_error().raw_os_error().unwrap_or(0) };
            match err {
                0 => {
                    open.insert(t);
                    close_rst(fd);
                    next += 1;
                }
                libc::EINPROGRESS => {
                    let mut ev = libc::epoll_event { events: (libc::EPOLLOUT | libc::EPOLLERR | libc::EPOLLHUP) as u32, u64: fd as u64 };
                    unsafe { libc::epoll_ctl(ep, libc::EPOLL_CTL_ADD, fd, &mut ev) };
                    inflight.insert(fd, next);
                    deadlines.push_back((Instant::now() + opts.timeout, fd, next));
                    next += 1;
                }
                libc::EADDRNOTAVAIL | libc::EAGAIN | libc::ENOBUFS => {
                    // Out of local ports or buffers: retry this one shortly.
                    unsafe { libc::close(fd) };
                    backoff_until = Some(Instant::now() + Duration::from_millis(5));
                    break;
                }
                _ => {
                    // Refused or unreachable right away: closed.
                    unsafe { libc::close(fd) };
                    next += 1;
                }
            }
        }
        let now = Instant::now();
        let wait = deadlines.front().map(|d| d.0.saturating_duration_since(now)).unwrap_or(Duration::from_millis(5));
        let wait = match backoff_until {
            Some(b) => wait.min(b.saturating_duration_since(now)),
            None => wait,
        };
        let n = unsafe { libc::epoll_wait(ep, events.as_mut_ptr(), events.len() as i32, wait.as_millis().min(1000) as i32) };
        if n < 0 {
            let e = io::Error::last_os_error();
            if e.kind() != io::ErrorKind::Interrupted {
                unsafe { libc::close(ep) };
                return Err(e).context("epoll_wait in the TCP scan");
            }
        }
        for ev in &events[..n.max(0) as usize] {
            let fd = ev.u64 as i32;
            let Some(idx) = inflight.remove(&fd) else { continue };
            let mut soerr: i32 = 0;
            let mut len = std::mem::size_of::<i32>() as u32;
            unsafe { libc::getsockopt(fd, libc::SOL_SOCKET, libc::SO_ERROR, &mut soerr as *mut _ as *mut libc::c_void, &mut len) };
            if soerr == 0 && ev.events & libc::EPOLLOUT as u32 != 0 {
                open.insert(targets[idx]);
            }
            unsafe { libc::epoll_ctl(ep, libc::EPOLL_CTL_DEL, fd, std::ptr::null_mut()) };
            close_rst(fd);
        }
        let now = Instant::now();
        while let Some(&(d, fd, idx)) = deadlines.front() {
            if d > now {
                break;
            }
            deadlines.pop_front();
            // Only if this fd still belongs to that probe (fds are reused).
            if inflight.get(&fd) == Some(&idx) {
                inflight.remove(&fd);
                unsafe {
                    libc::epoll_ctl(ep, libc::EPOLL_CTL_DEL, fd, std::ptr::null_mut());
                    libc::close(fd);
                }
            }
        }
    }
    unsafe { libc::close(ep) };
    Ok(open)
}

/// Options of the SYN scan.
#[derive(Debug, Clone, Copy)]
pub struct SynOpts {
    /// SYNs per second (paced in 1 ms slices).
    pub rate: u32,
    /// How long to keep listening for answers after the last SYN.
    pub linger: Duration,
}

impl Default for SynOpts {
    fn default() -> Self {
        SynOpts { rate: 12000, linger: Duration::from_millis(1000) }
    }
}

fn csum_add(mut sum: u32, data: &[u8]) -> u32 {
    let mut i = 0;
    while i + 1 < data.len() {
        sum += u32::from(u16::from_be_bytes([data[i], data[i + 1]]));
        i += 2;
    }
    if i < data.len() {
        sum += u32::from(data[i]) << 8;
    }
    sum
}

fn csum_fold(mut sum: u32) -> u16 {
    while sum >> 16 != 0 {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// The sequence number a probe carries: a keyed mix of its destination, so
/// an answer can be matched to a probe without keeping state per probe.
fn cookie(key: u64, dst: SocketAddrV4) -> u32 {
    let mut x = key ^ (u64::from(u32::from(*dst.ip())) << 16) ^ u64::from(dst.port());
    x ^= x >> 33;
    x = x.wrapping_mul(0xff51afd7ed558ccd);
    x ^= x >> 33;
    x = x.wrapping_mul(0xc4ceb9fe1a85ec53);
    x ^= x >> 33;
    x as u32
}

/// An IPv4 + TCP SYN packet (with an MSS option, like a real connect).
pub fn syn_packet(src: SocketAddrV4, dst: SocketAddrV4, seq: u32, dscp: u8) -> [u8; 44] {
    let mut p = [0u8; 44];
    p[0] = 0x45;
    p[1] = dscp << 2;
    p[2..4].copy_from_slice(&44u16.to_be_bytes());
    p[6] = 0x40; // DF
    p[8] = 64;
    p[9] = 6;
    p[12..16].copy_from_slice(&src.ip().octets());
    p[16..20].copy_from_slice(&dst.ip().octets());
    let ipsum = csum_fold(csum_add(0, &p[..20]));
    p[10..12].copy_from_slice(&ipsum.to_be_bytes());
    let t = &mut p[20..];
    t[0..2].copy_from_slice(&src.port().to_be_bytes());
    t[2..4].copy_from_slice(&dst.port().to_be_bytes());
    t[4..8].copy_from_slice(&seq.to_be_bytes());
    t[12] = 6 << 4; // data offset: 24 bytes
    t[13] = 0x02; // SYN
    t[14..16].copy_from_slice(&64240u16.to_be_bytes());
    t[20..24].copy_from_slice(&[2, 4, 0x05, 0x78]); // MSS 1400
    let mut pseudo = [0u8; 12];
    pseudo[0..4].copy_from_slice(&src.ip().octets());
    pseudo[4..8].copy_from_slice(&dst.ip().octets());
    pseudo[9] = 6;
    pseudo[10..12].copy_from_slice(&24u16.to_be_bytes());
    let sum = csum_fold(csum_add(csum_add(0, &pseudo), &p[20..44]));
    p[36..38].copy_from_slice(&sum.to_be_bytes());
    p
}

/// SYN scan from the current thread's namespace, as `src` (the client's VPN
/// address): one raw SYN per target; a SYN-ACK whose acknowledgement matches
/// the probe's cookie means open. The kernel answers each SYN-ACK with a RST
/// (there is no socket), so nothing stays open, and no SYN is retransmitted.
///
/// Coverage: `reached(tag)` reads a counter, at the gateway's forward hook,
/// of this client's SYNs carrying DSCP `tag` (1..=8). Probes go out in
/// chunks, each attempt with the next tag, so late packets of one chunk never
/// count for another; a chunk is done when its tag's counter grew by its
/// size (every SYN reached the filter). Otherwise the whole chunk is sent
/// again at a lower rate, so no flow goes untested because a busy tunnel
/// dropped its probe. Without a counter (`None`), each chunk is sent once.
pub fn syn_scan(src: Ipv4Addr, targets: &[SocketAddrV4], opts: SynOpts, reached: Option<&dyn Fn(u8) -> Result<u64>>) -> Result<SynResult> {
    // Reserve a source port so the kernel never hands it to a real socket.
    let reserve = std::net::TcpListener::bind((src, 0)).or_else(|_| std::net::TcpListener::bind(("0.0.0.0", 0))).context("reserving a source port for the SYN scan")?;
    let sport = reserve.local_addr().context("the SYN scan's source port")?.port();
    let srca = SocketAddrV4::new(src, sport);
    let tx = unsafe { libc::socket(libc::AF_INET, libc::SOCK_RAW | libc::SOCK_CLOEXEC, libc::IPPROTO_RAW) };
    if tx < 0 {
        return Err(LabError::os("raw socket"));
    }
    let rx = unsafe { libc::socket(libc::AF_INET, libc::SOCK_RAW | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC, libc::IPPROTO_TCP) };
    if rx < 0 {
        unsafe { libc::close(tx) };
        return Err(LabError::os("raw socket"));
    }
    struct Close(i32, i32);
    impl Drop for Close {
        fn drop(&mut self) {
            unsafe {
                libc::close(self.0);
                libc::close(self.1);
            }
        }
    }
    let _close = Close(tx, rx);
    let buf: i32 = 64 << 20;
    unsafe {
        libc::setsockopt(rx, libc::SOL_SOCKET, libc::SO_RCVBUFFORCE, &buf as *const _ as *const libc::c_void, 4);
        libc::setsockopt(tx, libc::SOL_SOCKET, libc::SO_SNDBUFFORCE, &buf as *const _ as *const libc::c_void, 4);
    }
    let key: u64 = rand::random();
    let mut res = SynResult::default();
    let mut rbuf = vec![0u8; 2048];
    let mut drain = |open: &mut BTreeSet<SocketAddrV4>| loop {
        let n = unsafe { libc::recv(rx, rbuf.as_mut_ptr() as *mut libc::c_void, rbuf.len(), 0) };
        if n <= 0 {
            break;
        }
        let p = &rbuf[..n as usize];
        let ihl = usize::from(p[0] & 0x0f) * 4;
        if p.len() < ihl + 20 || p[9] != 6 {
            continue;
        }
        let t = &p[ihl..];
        let from = SocketAddrV4::new(Ipv4Addr::new(p[12], p[13], p[14], p[15]), u16::from_be_bytes([t[0], t[1]]));
        let dport = u16::from_be_bytes([t[2], t[3]]);
        let ack = u32::from_be_bytes([t[8], t[9], t[10], t[11]]);
        if dport == sport && t[13] & 0x12 == 0x12 && ack == cookie(key, from).wrapping_add(1) {
            open.insert(from);
        }
    };
    let send = |dst: SocketAddrV4, tag: u8| -> Result<()> {
        let pkt = syn_packet(srca, dst, cookie(key, dst), tag);
        let sa = sockaddr(dst);
        loop {
            let r = unsafe {
                libc::sendto(tx, pkt.as_ptr() as *const libc::c_void, pkt.len(), 0, &sa as *const _ as *const libc::sockaddr, std::mem::size_of::<libc::sockaddr_in>() as u32)
            };
            if r >= 0 {
                return Ok(());
            }
            let e = io::Error::last_os_error();
            match e.raw_os_error() {
                Some(libc::ENOBUFS) | Some(libc::EAGAIN) | Some(libc::EINTR) => std::thread::sleep(Duration::from_micros(200)),
                _ => return Err(e).with_context(|| format!("sending a probe to {dst}")),
            }
        }
    };
    // AIMD on the rate, with a ceiling just under the last rate that lost
    // probes (it creeps up again slowly, as the machine's load changes).
    let mut rate = f64::from(opts.rate);
    let mut ceiling = f64::from(opts.rate) * 1.5;
    // The largest chunk: shrinks while chunks keep losing probes at the
    // lowest rate (a chunk of n probes at a loss rate p arrives whole with
    // probability (1-p)^n), and grows back as chunks arrive whole.
    let mut max_len = 50_000usize;
    // The scan gives up only when no chunk has arrived whole for STALL (a
    // loaded machine may lose many chunks; that is no reason to stop while
    // the scan still moves).
    let mut progress = Instant::now();
    let mut arrived_since_progress = 0u64;
    let mut pos = 0;
    while pos < targets.len() {
        // About a quarter of a second of probes per chunk.
        let len = ((rate / 4.0) as usize).max(250).min(max_len).min(targets.len() - pos);
        let chunk = &targets[pos..pos + len];
        let tag = (res.attempts % TAGS) as u8 + 1;
        res.attempts += 1;
        let before = reached.map(|f| f(tag)).transpose()?;
        // Paced by the clock: by time t, rate * t probes are out.
        let t0 = Instant::now();
        let mut i = 0;
        while i < chunk.len() {
            let due = ((t0.elapsed().as_secs_f64() * rate) as usize + 1).min(chunk.len());
            if due <= i {
                std::thread::sleep(Duration::from_micros(200));
                continue;
            }
            for &dst in &chunk[i..due] {
                send(dst, tag)?;
            }
            res.sent += due - i;
            i = due;
            drain(&mut res.open);
        }
        let (Some(f), Some(before)) = (reached, before) else {
            pos += len;
            continue;
        };
        // Wait until the counter stops growing (the tunnels drained).
        let (mut last, mut still) = (before, Instant::now());
        let deadline = Instant::now() + Duration::from_secs(3);
        // Most chunks drain within ~25 ms: look first at 30 ms (one counter
        // read per chunk, usually), then every 15 ms.
        std::thread::sleep(Duration::from_millis(15));
        let got = loop {
            std::thread::sleep(Duration::from_millis(15));
            drain(&mut res.open);
            let now_c = f(tag)?;
            if now_c - before >= len as u64 {
                break now_c - before;
            }
            if now_c != last {
                last = now_c;
                still = Instant::now();
            } else if still.elapsed() > Duration::from_millis(150) || Instant::now() > deadline {
                break now_c - before;
            }
        };
        // HEARTH_LAB_DEBUG=1: one line per chunk (tuning the rate control).
        if std::env::var_os("HEARTH_LAB_DEBUG").is_some() {
            eprintln!("chunk tag {tag} len {len} rate {rate:.0}: {got} arrived, send {:?}, wait {:?}", t0.elapsed(), still.elapsed());
        }
        if got >= len as u64 {
            res.reached += len;
            pos += len;
            progress = Instant::now();
            arrived_since_progress = 0;
            ceiling *= 1.02;
            rate = (rate * 1.05).min(ceiling * 0.95);
            max_len = max_len.saturating_mul(2).min(50_000);
        } else {
            res.resent_chunks += 1;
            arrived_since_progress += got;
            if got == 0 {
                // Nothing at all: the path is down. That is a handshake under
                // way, which cannot finish while every client keeps the
                // tunnels full (a rekey's packets queue behind the probes in
                // the same UDP socket): halve the rate and go quiet for a
                // second, so the handshake gets through.
                rate = (rate * 0.5).max(MIN_RATE);
                std::thread::sleep(Duration::from_millis(1000));
            } else {
                ceiling = rate;
                if rate <= MIN_RATE {
                    max_len = (len / 2).max(MIN_CHUNK);
                }
                rate = (rate * 0.8).max(MIN_RATE);
            }
            if progress.elapsed() > STALL {
                let (secs, confirmed, total, resent) = (STALL.as_secs(), pos, targets.len(), res.resent_chunks);
                return Err(if arrived_since_progress == 0 {
                    LabError::NoProbeArrives { secs, confirmed, total, resent }
                } else {
                    LabError::ProbesLost { secs, got, len, rate, confirmed, total, resent }
                });
            }
        }
        res.final_rate = rate as u32;
    }
    let end = Instant::now() + opts.linger;
    while Instant::now() < end {
        drain(&mut res.open);
        std::thread::sleep(Duration::from_millis(5));
    }
    drop(reserve);
    // Only answers to probes we sent count.
    let sent: std::collections::HashSet<SocketAddrV4> = targets.iter().copied().collect();
    res.open.retain(|a| sent.contains(a));
    Ok(res)
}

/// What a SYN scan found and how much it took.
#[derive(Debug, Default, Clone)]
pub struct SynResult {
    pub open: BTreeSet<SocketAddrV4>,
    /// SYNs sent, resends included.
    pub sent: usize,
    /// Probes whose SYN was counted at the gateway (once each).
    pub reached: usize,
    pub resent_chunks: usize,
    pub final_rate: u32,
    /// Chunk attempts (each with its own DSCP tag).
    pub attempts: usize,
}

/// DSCP tags the scan cycles through (counters per client and tag).
pub const TAGS: usize = 8;

/// The scan's floor rate (probes per second) and smallest chunk.
const MIN_RATE: f64 = 500.0;
const MIN_CHUNK: usize = 16;
/// How long a scan may go without a chunk arriving whole before it fails.
const STALL: Duration = Duration::from_secs(120);

/// UDP probe: one datagram per target, answered (echoed) by the responder.
/// Returns the targets whose echo came back. Unanswered ones are retried
/// `tries` times in total.
pub fn udp_probe(targets: &[SocketAddrV4], timeout: Duration, tries: usize) -> Result<BTreeSet<SocketAddrV4>> {
    let mut open = BTreeSet::new();
    let mut todo: Vec<SocketAddrV4> = targets.to_vec();
    for attempt in 0..tries {
        if todo.is_empty() {
            break;
        }
        let mut socks = vec![];
        for (i, t) in todo.iter().enumerate() {
            let s = std::net::UdpSocket::bind("0.0.0.0:0").context("binding a UDP socket for the scan")?;
            s.set_nonblocking(true).context("a non-blocking UDP socket for the scan")?;
            if s.connect(t).is_err() {
                continue;
            }
            let payload = format!("hearth-lab {attempt} {i} {t}");
            let _ = s.send(payload.as_bytes());
            socks.push((*t, s, payload));
        }
        let end = Instant::now() + timeout;
        let mut buf = [0u8; 512];
        while Instant::now() < end && socks.iter().any(|(t, _, _)| !open.contains(t)) {
            for (t, s, payload) in &socks {
                if let Ok(n) = s.recv(&mut buf) {
                    if &buf[..n] == payload.as_bytes() {
                        open.insert(*t);
                    }
                }
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        todo.retain(|t| !open.contains(t));
    }
    Ok(open)
}

/// How patiently [`udp_scan`] confirms an expected-open port that did not
/// answer: rounds of this many seconds, this many times (a datagram lost in
/// a busy tunnel at load average 10 is not a closed port).
pub const UDP_CONFIRM: (Duration, usize) = (Duration::from_secs(2), 6);

/// UDP scan whose "closed" verdicts are confirmed: every target is probed
/// (`first`: timeout per round, rounds), then each target in `expect_open`
/// that did not answer is probed again with `confirm` before it counts as
/// closed, as the TCP scan retries with real connects. An unexpected open
/// is never retried away.
pub fn udp_scan(targets: &[SocketAddrV4], expect_open: &BTreeSet<SocketAddrV4>, first: (Duration, usize), confirm: (Duration, usize)) -> Result<BTreeSet<SocketAddrV4>> {
    let mut open = udp_probe(targets, first.0, first.1)?;
    let again: Vec<SocketAddrV4> = targets.iter().filter(|t| expect_open.contains(t) && !open.contains(t)).copied().collect();
    if !again.is_empty() {
        open.extend(udp_probe(&again, confirm.0, confirm.1)?);
    }
    Ok(open)
}

/// The responder a LAN host runs (`hearth lab responder`): accepts every TCP
/// connection redirected to `port` and closes it, echoes every UDP datagram.
pub fn responder(port: u16) -> Result<()> {
    let tcp = {
        let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0) };
        if fd < 0 {
            return Err(LabError::os("the responder's TCP socket"));
        }
        let one: i32 = 1;
        unsafe { libc::setsockopt(fd, libc::SOL_SOCKET, libc::SO_REUSEADDR, &one as *const _ as *const libc::c_void, 4) };
        let sa = sockaddr(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, port));
        if unsafe { libc::bind(fd, &sa as *const _ as *const libc::sockaddr, std::mem::size_of::<libc::sockaddr_in>() as u32) } != 0 {
            return Err(LabError::os(format!("bind tcp {port}")));
        }
        if unsafe { libc::listen(fd, 65535) } != 0 {
            return Err(LabError::os(format!("listen tcp {port}")));
        }
        fd
    };
    let udp = std::net::UdpSocket::bind(("0.0.0.0", port)).with_context(|| format!("bind udp {port}"))?;
    std::thread::spawn(move || {
        let mut buf = [0u8; 2048];
        loop {
            if let Ok((n, from)) = udp.recv_from(&mut buf) {
                let _ = udp.send_to(&buf[..n], from);
            }
        }
    });
    loop {
        let c = unsafe { libc::accept4(tcp, std::ptr::null_mut(), std::ptr::null_mut(), libc::SOCK_CLOEXEC) };
        if c >= 0 {
            close_rst(c);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tcp_scan_finds_exactly_the_listening_loopback_ports() {
        // Loopback only: nothing leaves the machine.
        let l1 = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let l2 = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let (p1, p2) = (l1.local_addr().unwrap().port(), l2.local_addr().unwrap().port());
        let lo = Ipv4Addr::LOCALHOST;
        let mut targets: Vec<SocketAddrV4> = (p1.saturating_sub(50)..p1.saturating_add(50)).map(|p| SocketAddrV4::new(lo, p)).collect();
        targets.push(SocketAddrV4::new(lo, p2));
        let open = tcp_scan(&targets, ScanOpts { window: 32, timeout: Duration::from_millis(500) }).unwrap();
        assert!(open.contains(&SocketAddrV4::new(lo, p1)) && open.contains(&SocketAddrV4::new(lo, p2)), "{open:?}");
        // Any other port found open must be a real listener. Another test of
        // this process may have closed its own meanwhile: a port free now is
        // scanned again and must then be closed (a scanner that invents open
        // ports still fails here).
        let free: Vec<SocketAddrV4> = open.iter().filter(|a| a.port() != p1 && a.port() != p2 && std::net::TcpListener::bind(("127.0.0.1", a.port())).is_ok()).copied().collect();
        if !free.is_empty() {
            let again = tcp_scan(&free, ScanOpts { window: 32, timeout: Duration::from_millis(500) }).unwrap();
            assert!(again.is_empty(), "reported open, yet nothing listens: {again:?}");
        }
    }

    #[test]
    fn syn_packets_have_valid_checksums() {
        let p = syn_packet("10.0.0.1:40000".parse().unwrap(), "10.0.0.2:80".parse().unwrap(), 7, 3);
        assert_eq!(p[1], 3 << 2, "DSCP tag");
        assert_eq!(csum_fold(csum_add(0, &p[..20])), 0, "IP header checksum");
        let mut pseudo = [0u8; 12];
        pseudo[0..4].copy_from_slice(&[10, 0, 0, 1]);
        pseudo[4..8].copy_from_slice(&[10, 0, 0, 2]);
        pseudo[9] = 6;
        pseudo[10..12].copy_from_slice(&24u16.to_be_bytes());
        assert_eq!(csum_fold(csum_add(csum_add(0, &pseudo), &p[20..])), 0, "TCP checksum");
        assert_eq!(p[33], 0x02, "SYN only");
    }

    #[test]
    fn udp_probe_needs_the_echo() {
        let echo = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let silent = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let (pe, ps) = (echo.local_addr().unwrap().port(), silent.local_addr().unwrap().port());
        std::thread::spawn(move || {
            let mut b = [0u8; 512];
            while let Ok((n, f)) = echo.recv_from(&mut b) {
                let _ = echo.send_to(&b[..n], f);
            }
        });
        let lo = Ipv4Addr::LOCALHOST;
        let open = udp_probe(&[SocketAddrV4::new(lo, pe), SocketAddrV4::new(lo, ps)], Duration::from_millis(300), 2).unwrap();
        assert_eq!(open, BTreeSet::from([SocketAddrV4::new(lo, pe)]));
        drop(silent);
    }

    #[test]
    fn udp_closed_verdicts_are_confirmed_before_reporting() {
        // issue 19: "p08 -> srv: allowed but closed: udp 3000" on a loaded
        // machine. A responder that loses its first 4 datagrams (as a busy
        // tunnel does) looks closed to one quick probe, open to the scan.
        let lossy = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let silent = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let (pl, ps) = (lossy.local_addr().unwrap().port(), silent.local_addr().unwrap().port());
        std::thread::spawn(move || {
            let mut b = [0u8; 512];
            let mut seen = 0;
            while let Ok((n, f)) = lossy.recv_from(&mut b) {
                seen += 1;
                if seen > 4 {
                    let _ = lossy.send_to(&b[..n], f);
                }
            }
        });
        let lo = Ipv4Addr::LOCALHOST;
        let (l, q) = (SocketAddrV4::new(lo, pl), SocketAddrV4::new(lo, ps));
        let quick = (Duration::from_millis(200), 2);
        let open = udp_scan(&[l, q], &BTreeSet::from([l, q]), quick, (Duration::from_millis(200), 6)).unwrap();
        assert_eq!(open, BTreeSet::from([l]), "the lossy port is open, the silent one closed after confirming");
        drop(silent);
    }
}
