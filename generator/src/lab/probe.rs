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

use anyhow::{anyhow, Result};

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
        enter_netns(&ns).map_err(|e| anyhow!("setns into {ns}: {e}"))?;
        f()
    })
    .join()
    .map_err(|_| anyhow!("probe thread panicked"))?
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
    libc::sockaddr_in {
        sin_family: libc::AF_INET as u16,
        sin_port: a.port().to_be(),
        sin_addr: libc::in_addr { s_addr: u32::from(*a.ip()).to_be() },
        sin_zero: [0; 8],
    }
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
        return Err(io::Error::last_os_error().into());
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
                return Err(e.into());
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
                return Err(e.into());
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
            let s = std::net::UdpSocket::bind("0.0.0.0:0")?;
            s.set_nonblocking(true)?;
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

/// The responder a LAN host runs (`hearth lab responder`): accepts every TCP
/// connection redirected to `port` and closes it, echoes every UDP datagram.
pub fn responder(port: u16) -> Result<()> {
    let tcp = {
        let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0) };
        if fd < 0 {
            return Err(io::Error::last_os_error().into());
        }
        let one: i32 = 1;
        unsafe { libc::setsockopt(fd, libc::SOL_SOCKET, libc::SO_REUSEADDR, &one as *const _ as *const libc::c_void, 4) };
        let sa = sockaddr(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, port));
        if unsafe { libc::bind(fd, &sa as *const _ as *const libc::sockaddr, std::mem::size_of::<libc::sockaddr_in>() as u32) } != 0 {
            return Err(anyhow!("bind tcp {port}: {}", io::Error::last_os_error()));
        }
        if unsafe { libc::listen(fd, 65535) } != 0 {
            return Err(io::Error::last_os_error().into());
        }
        fd
    };
    let udp = std::net::UdpSocket::bind(("0.0.0.0", port))?;
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
        assert!(open.iter().all(|a| a.port() == p1 || a.port() == p2 || std::net::TcpListener::bind(("127.0.0.1", a.port())).is_err()));
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
}
