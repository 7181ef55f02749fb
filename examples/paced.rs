//! Paced viewers for `benches/paced.sh`: N players, each on its own keep-alive connection,
//! pulling the segments of one rendition the way a player does at steady state: one segment
//! per segment duration (the bitrate decides how many seconds a segment holds), reading at most
//! `--read-rate` bytes/s when given (a viewer on a slow link), for a bounded duration.
//! Arrivals are spread over the first segment interval. Loopback only.
//!
//! Prints one line of JSON: completed segments, errors, bytes, TTFB p50/p99 (request written to
//! first response byte).
//!
//! `https://` URLs are fetched over TLS (rustls, HTTP/1.1 by ALPN, SNI from the URL's host),
//! trusting only the CA certificate(s) in the PEM file named by `PACED_CA`. Every viewer makes a
//! full handshake (no session resumption: each is a different player); the handshake is part of
//! connecting, not of TTFB. The JSON then also names the protocol, cipher suite and ALPN agreed.
//!
//! Usage: paced URL_FILE VIEWERS DURATION_S BITRATE_BITS_PER_S [READ_RATE_BYTES_PER_S]

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

struct Target {
    addr: String,
    host: String,
    path: String,
    bytes: u64,
    /// The name to verify and send as SNI: an https:// URL.
    tls: Option<ServerName<'static>>,
}

/// A viewer's connection: TCP, or TLS over TCP.
trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// What the first TLS handshake agreed (protocol, cipher suite, ALPN), for the report.
static NEGOTIATED: OnceLock<String> = OnceLock::new();

#[derive(Default)]
struct Totals {
    completed: AtomicU64,
    errors: AtomicU64,
    bytes: AtomicU64,
}

/// Host (with its port) and path of an http:// or https:// URL; whether it is https.
fn parse_url(url: &str) -> Option<(String, String, bool)> {
    let (rest, tls) = match url.strip_prefix("https://") {
        Some(rest) => (rest, true),
        None => (url.strip_prefix("http://")?, false),
    };
    let (host, path) = rest.split_at(rest.find('/')?);
    Some((host.to_string(), path.to_string(), tls))
}

/// Trusts only the certificates in the PEM file `ca`; HTTP/1.1 by ALPN; no resumption.
fn tls_connector(ca: &str) -> Result<TlsConnector, String> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(ca).map_err(|e| format!("PACED_CA {ca}: {e}"))? {
        roots
            .add(cert.map_err(|e| format!("PACED_CA {ca}: {e}"))?)
            .map_err(|e| format!("PACED_CA {ca}: {e}"))?;
    }
    if roots.is_empty() {
        return Err(format!("PACED_CA {ca}: no certificate"));
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    config.resumption = rustls::client::Resumption::disabled();
    Ok(TlsConnector::from(Arc::new(config)))
}

/// A connection to the target's server: TCP, then the TLS handshake for an https:// target.
async fn connect(target: &Target, tls: Option<&TlsConnector>) -> Result<Box<dyn Io>, String> {
    let tcp = TcpStream::connect(&target.addr)
        .await
        .map_err(|e| format!("connect: {e}"))?;
    let _ = tcp.set_nodelay(true);
    let (Some(name), Some(connector)) = (&target.tls, tls) else {
        return Ok(Box::new(tcp));
    };
    let stream = connector
        .connect(name.clone(), tcp)
        .await
        .map_err(|e| format!("TLS handshake: {e}"))?;
    NEGOTIATED.get_or_init(|| {
        let (_, session) = stream.get_ref();
        format!(
            "{} {} {}",
            session
                .protocol_version()
                .map_or("?".into(), |v| format!("{v:?}")),
            session
                .negotiated_cipher_suite()
                .map_or("?".into(), |s| format!("{:?}", s.suite())),
            String::from_utf8_lossy(session.alpn_protocol().unwrap_or(b"(no ALPN)")),
        )
    });
    Ok(Box::new(stream))
}

/// One request and its whole answer; the time to the first byte.
async fn fetch(
    sock: &mut Box<dyn Io>,
    target: &Target,
    read_rate: u64,
    buf: &mut [u8],
) -> Result<(Duration, u64), String> {
    let request = format!(
        "GET {} HTTP/1.1\r\nHost: {}\r\nUser-Agent: paced\r\n\r\n",
        target.path, target.host
    );
    let asked = Instant::now();
    sock.write_all(request.as_bytes())
        .await
        .map_err(|e| format!("write: {e}"))?;
    sock.flush().await.map_err(|e| format!("flush: {e}"))?;
    let mut head = Vec::new();
    let mut ttfb = None;
    let (body_start, length) = loop {
        let n = sock.read(buf).await.map_err(|e| format!("read: {e}"))?;
        if n == 0 {
            return Err("closed before an answer".into());
        }
        ttfb.get_or_insert_with(|| asked.elapsed());
        head.extend_from_slice(&buf[..n]);
        if let Some(end) = head.windows(4).position(|w| w == b"\r\n\r\n") {
            let text = String::from_utf8_lossy(&head[..end]).to_ascii_lowercase();
            if !text.starts_with("http/1.1 200") {
                return Err(text.lines().next().unwrap_or("").to_string());
            }
            let length = text
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse::<u64>().ok())
                .ok_or("no content-length")?;
            break (end + 4, length);
        }
    };
    let mut got = (head.len() - body_start) as u64;
    let started = Instant::now();
    while got < length {
        let want = if read_rate > 0 {
            // Never ahead of the viewer's link.
            let allowed = (started.elapsed().as_secs_f64() * read_rate as f64) as u64;
            if got >= allowed {
                tokio::time::sleep(Duration::from_millis(20)).await;
                continue;
            }
            ((allowed - got) as usize).min(buf.len())
        } else {
            buf.len()
        };
        let want = want.min((length - got) as usize);
        let n = sock
            .read(&mut buf[..want])
            .await
            .map_err(|e| format!("read body: {e}"))?;
        if n == 0 {
            return Err("closed mid-body".into());
        }
        got += n as u64;
    }
    let ttfb = ttfb.unwrap_or_default();
    Ok((ttfb, length))
}

#[allow(clippy::too_many_arguments)]
async fn viewer(
    id: usize,
    targets: Arc<Vec<Target>>,
    interval: Duration,
    start: Instant,
    end: Instant,
    read_rate: u64,
    tls: Option<TlsConnector>,
    totals: Arc<Totals>,
    ttfbs: Arc<std::sync::Mutex<Vec<u32>>>,
) {
    // Arrivals spread over one interval.
    let offset = interval.mul_f64((id as f64 * 0.618_033_988_75).fract());
    tokio::time::sleep_until((start + offset).into()).await;
    let mut buf = vec![0u8; 64 * 1024];
    let mut sock: Option<Box<dyn Io>> = None;
    let mut next = Instant::now();
    let mut index = id % targets.len();
    let mut mine = Vec::new();
    while Instant::now() + Duration::from_millis(1) < end {
        let target = &targets[index];
        if sock.is_none() {
            let patience = (interval * 10).max(Duration::from_secs(10));
            match tokio::time::timeout(patience, connect(target, tls.as_ref())).await {
                Ok(Ok(s)) => sock = Some(s),
                other => {
                    let why = match other {
                        Ok(Err(e)) => e,
                        _ => "connect timed out".into(),
                    };
                    if totals.errors.fetch_add(1, Ordering::Relaxed) < 5 {
                        eprintln!("viewer {id}: {why}");
                    }
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    continue;
                }
            }
        }
        let Some(s) = sock.as_mut() else { continue };
        match tokio::time::timeout(interval * 10, fetch(s, target, read_rate, &mut buf)).await {
            Ok(Ok((ttfb, bytes))) if bytes == target.bytes => {
                totals.completed.fetch_add(1, Ordering::Relaxed);
                totals.bytes.fetch_add(bytes, Ordering::Relaxed);
                mine.push(ttfb.as_micros().min(u32::MAX as u128) as u32);
            }
            other => {
                let why = match other {
                    Ok(Ok((_, bytes))) => format!("{bytes} bytes, {} expected", target.bytes),
                    Ok(Err(e)) => e,
                    Err(_) => "timed out".into(),
                };
                if totals.errors.fetch_add(1, Ordering::Relaxed) < 5 {
                    eprintln!("viewer {id}: {why}");
                }
                sock = None;
            }
        }
        index = (index + 1) % targets.len();
        next += interval;
        let now = Instant::now();
        if next > now {
            tokio::time::sleep_until(next.min(end).into()).await;
        } else {
            next = now;
        }
    }
    if let Ok(mut all) = ttfbs.lock() {
        all.extend(mine);
    }
}

fn percentile(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    f64::from(sorted[i]) / 1000.0
}

fn main() -> Result<(), String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = "usage: paced URL_FILE VIEWERS DURATION_S BITRATE_BITS_PER_S [READ_RATE]";
    let arg = |i: usize| args.get(i).ok_or(usage);
    let urls = std::fs::read_to_string(arg(0)?).map_err(|e| e.to_string())?;
    let viewers: usize = arg(1)?.parse().map_err(|_| usage)?;
    let duration = Duration::from_secs(arg(2)?.parse().map_err(|_| usage)?);
    let bitrate: f64 = arg(3)?.parse().map_err(|_| usage)?;
    let read_rate: u64 = args
        .get(4)
        .map_or(Ok(0), |r| r.parse())
        .map_err(|_| usage)?;
    // Each line: URL SIZE_IN_BYTES.
    let mut targets = Vec::new();
    for line in urls.lines().filter(|l| !l.trim().is_empty()) {
        let (url, size) = line.split_once(' ').ok_or("a line is URL SIZE")?;
        let (host, path, https) = parse_url(url).ok_or("only http:// and https:// URLs")?;
        let tls = if https {
            // The name without the port (no IPv6 literals here).
            let name = host
                .rsplit_once(':')
                .map_or(host.as_str(), |(name, _)| name);
            Some(ServerName::try_from(name.to_string()).map_err(|e| format!("{name}: {e}"))?)
        } else {
            None
        };
        targets.push(Target {
            addr: if https && !host.contains(':') {
                format!("{host}:443")
            } else {
                host.clone()
            },
            host,
            path,
            bytes: size.trim().parse().map_err(|_| "bad size")?,
            tls,
        });
    }
    if targets.is_empty() {
        return Err("no URLs".into());
    }
    let tls = if targets.iter().any(|t| t.tls.is_some()) {
        let ca = std::env::var("PACED_CA").map_err(|_| "https:// URLs need PACED_CA=CA.pem")?;
        Some(tls_connector(&ca)?)
    } else {
        None
    };
    let mean_bytes = targets.iter().map(|t| t.bytes as f64).sum::<f64>() / targets.len() as f64;
    let interval = Duration::from_secs_f64(mean_bytes * 8.0 / bitrate);
    let targets = Arc::new(targets);
    let totals = Arc::new(Totals::default());
    let ttfbs = Arc::new(std::sync::Mutex::new(Vec::new()));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    runtime.block_on(async {
        let start = Instant::now();
        let end = start + duration;
        let tasks: Vec<_> = (0..viewers)
            .map(|id| {
                tokio::spawn(viewer(
                    id,
                    targets.clone(),
                    interval,
                    start,
                    end,
                    read_rate,
                    tls.clone(),
                    totals.clone(),
                    ttfbs.clone(),
                ))
            })
            .collect();
        for t in tasks {
            let _ = t.await;
        }
    });
    let mut all = ttfbs.lock().map(|v| v.clone()).unwrap_or_default();
    all.sort_unstable();
    let negotiated = NEGOTIATED
        .get()
        .map(|n| format!(",\"tls\":\"{n}\""))
        .unwrap_or_default();
    println!(
        "{{\"viewers\":{viewers},\"interval_s\":{:.3},\"completed\":{},\"errors\":{},\"bytes\":{},\"ttfb_p50_ms\":{:.3},\"ttfb_p99_ms\":{:.3}{negotiated}}}",
        interval.as_secs_f64(),
        totals.completed.load(Ordering::Relaxed),
        totals.errors.load(Ordering::Relaxed),
        totals.bytes.load(Ordering::Relaxed),
        percentile(&all, 0.5),
        percentile(&all, 0.99),
    );
    Ok(())
}
