//! Paced viewers for `benches/paced.sh`: N players, each on its own keep-alive connection,
//! pulling the segments of one rendition the way a player does at steady state: one segment
//! per segment duration (the bitrate decides how many seconds a segment holds), reading at most
//! `--read-rate` bytes/s when given (a viewer on a slow link), for a bounded duration.
//! Arrivals are spread over the first segment interval. Loopback only.
//!
//! Prints one line of JSON: completed segments, errors, bytes, TTFB p50/p99 (request written to
//! first response byte).
//!
//! Usage: paced URL_FILE VIEWERS DURATION_S BITRATE_BITS_PER_S [READ_RATE_BYTES_PER_S]

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

struct Target {
    addr: String,
    host: String,
    path: String,
    bytes: u64,
}

#[derive(Default)]
struct Totals {
    completed: AtomicU64,
    errors: AtomicU64,
    bytes: AtomicU64,
}

fn parse_url(url: &str) -> Option<(String, String)> {
    let rest = url.strip_prefix("http://")?;
    let (host, path) = rest.split_at(rest.find('/')?);
    Some((host.to_string(), path.to_string()))
}

/// One request and its whole answer; the time to the first byte.
async fn fetch(
    sock: &mut TcpStream,
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
    totals: Arc<Totals>,
    ttfbs: Arc<std::sync::Mutex<Vec<u32>>>,
) {
    // Arrivals spread over one interval.
    let offset = interval.mul_f64((id as f64 * 0.618_033_988_75).fract());
    tokio::time::sleep_until((start + offset).into()).await;
    let mut buf = vec![0u8; 64 * 1024];
    let mut sock: Option<TcpStream> = None;
    let mut next = Instant::now();
    let mut index = id % targets.len();
    let mut mine = Vec::new();
    while Instant::now() + Duration::from_millis(1) < end {
        let target = &targets[index];
        if sock.is_none() {
            match TcpStream::connect(&target.addr).await {
                Ok(s) => {
                    let _ = s.set_nodelay(true);
                    sock = Some(s);
                }
                Err(_) => {
                    totals.errors.fetch_add(1, Ordering::Relaxed);
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
        let (host, path) = parse_url(url).ok_or("only http:// URLs")?;
        targets.push(Target {
            addr: host.clone(),
            host,
            path,
            bytes: size.trim().parse().map_err(|_| "bad size")?,
        });
    }
    if targets.is_empty() {
        return Err("no URLs".into());
    }
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
    println!(
        "{{\"viewers\":{viewers},\"interval_s\":{:.3},\"completed\":{},\"errors\":{},\"bytes\":{},\"ttfb_p50_ms\":{:.3},\"ttfb_p99_ms\":{:.3}}}",
        interval.as_secs_f64(),
        totals.completed.load(Ordering::Relaxed),
        totals.errors.load(Ordering::Relaxed),
        totals.bytes.load(Ordering::Relaxed),
        percentile(&all, 0.5),
        percentile(&all, 0.99),
    );
    Ok(())
}
