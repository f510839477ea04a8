//! `cargo bench -p satsgate-local --bench http`: the real `satsgate-local`
//! binary (built with the bench profile: release settings without LTO) on a
//! temporary data directory, driven over HTTP on loopback by a reqwest
//! client with a fixed number of concurrent requests.
//!
//! One run reports, each next to a baseline measured in the same run:
//! - create-invoice and get-invoice throughput as ratios to `GET /v1/health`,
//!   and the server's CPU time per request (utime + stime of its
//!   `/proc/<pid>/stat`, the background jobs included), and the background
//!   jobs' CPU with no requests at the same number of open invoices;
//! - RSS after 0, 10,000 and 100,000 invoices (and after the restart);
//! - restart time at 100,000 invoices (spawn to the first `200` health answer);
//! - disk bytes per invoice;
//! - get-invoice p50/p99 with 20,000 open invoices (every one due at each
//!   chain-poller run, every 5 s) next to the same with none open.
//!
//! Sizes come from the environment, so a quick run is possible:
//! `BENCH_INVOICES` (100000), `BENCH_CHECKPOINT` (10000), `BENCH_OPEN`
//! (20000), `BENCH_CONCURRENCY` (16), `BENCH_REQUESTS` (20000, per
//! throughput phase), `BENCH_P99_CONCURRENCY` (4), `BENCH_P99_SECS` (20),
//! `BENCH_IDLE_SECS` (5). `BENCH_SERVER_BIN` runs another build of
//! satsgate-local (to compare two builds with one bench). The server's
//! per-key rate limit is raised with `RATE_LIMIT_PER_MINUTE` so the
//! benchmark is never throttled (every
//! answer's status is checked); its connection cap (512) is above any
//! concurrency used here.

use serde_json::{json, Value};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .map(|v| {
            v.parse()
                .unwrap_or_else(|_| panic!("{name}=`{v}` is not a number"))
        })
        .unwrap_or(default)
}

struct Server {
    child: Child,
    url: String,
    lines: Vec<String>,
}

impl Server {
    fn start(dir: &Path) -> Server {
        let bin = std::env::var_os("BENCH_SERVER_BIN")
            .unwrap_or_else(|| env!("CARGO_BIN_EXE_satsgate-local").into());
        let mut child = Command::new(bin)
            .args(["--listen", "127.0.0.1:0", "--data-dir"])
            .arg(dir)
            .env_remove("TABLE_NAME")
            .env("RUST_LOG", "error")
            .env("RATE_LIMIT_PER_MINUTE", "1000000000")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start satsgate-local");
        let mut out = BufReader::new(child.stdout.take().unwrap());
        let mut lines = Vec::new();
        while !lines
            .last()
            .is_some_and(|l: &String| l.starts_with("listening on "))
        {
            let mut line = String::new();
            if out.read_line(&mut line).unwrap() == 0 {
                panic!("satsgate-local exited early: {lines:?}");
            }
            lines.push(line.trim_end().to_string());
        }
        let url = lines.last().unwrap()["listening on ".len()..].to_string();
        std::thread::spawn(move || for _ in out.lines() {});
        Server { child, url, lines }
    }

    fn printed(&self, name: &str) -> String {
        let prefix = format!("{name}=");
        self.lines
            .iter()
            .find_map(|l| l.strip_prefix(&prefix))
            .unwrap_or_else(|| panic!("{name} not printed: {:?}", self.lines))
            .to_string()
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// utime + stime of the server process, in clock ticks.
    fn cpu_ticks(&self) -> u64 {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.pid())).unwrap();
        // Fields after the command name (which may hold spaces) start at state (field 3).
        let rest = &stat[stat.rfind(')').unwrap() + 2..];
        let f: Vec<&str> = rest.split(' ').collect();
        f[11].parse::<u64>().unwrap() + f[12].parse::<u64>().unwrap()
    }

    fn rss_mb(&self) -> f64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).unwrap();
        let kb: f64 = status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap();
        kb / 1024.0
    }

    /// Stop like Ctrl-C does and wait for the exit.
    fn stop(mut self) {
        unsafe { libc::kill(self.pid() as i32, libc::SIGINT) };
        let status = self.child.wait().unwrap();
        assert!(status.success(), "clean exit on SIGINT: {status}");
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn tick_secs() -> f64 {
    1.0 / unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64
}

fn dir_bytes(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok()?.metadata().ok())
        .filter(|m| m.is_file())
        .map(|m| m.len())
        .sum()
}

/// One request the load driver sends: request number -> (method, path, body).
type MakeRequest = dyn Fn(usize) -> (reqwest::Method, String, Option<Value>) + Send + Sync;

/// What a load phase measured.
struct Phase {
    requests: usize,
    secs: f64,
    cpu_secs: f64,
    latencies: Vec<Duration>,
    /// Answer bodies, when asked for (in completion order).
    bodies: Vec<Value>,
}

impl Phase {
    fn per_sec(&self) -> f64 {
        self.requests as f64 / self.secs
    }
    fn cpu_us(&self) -> f64 {
        self.cpu_secs * 1e6 / self.requests as f64
    }
    /// `q` quantile of the latencies (sorted at the end of the phase).
    fn quantile_ms(&self, q: f64) -> f64 {
        let i = ((self.latencies.len() as f64 * q).ceil() as usize).clamp(1, self.latencies.len());
        self.latencies[i - 1].as_secs_f64() * 1e3
    }
}

enum Until {
    Requests(usize),
    Elapsed(Duration),
}

struct Driver {
    client: reqwest::Client,
    url: String,
    key: String,
}

impl Driver {
    /// `concurrency` workers send requests until `until`; every answer must
    /// have status `want` (a throttled or failed request stops the bench).
    async fn run(
        &self,
        server: &Server,
        concurrency: usize,
        until: Until,
        want: u16,
        keep_bodies: bool,
        make: Arc<MakeRequest>,
    ) -> Phase {
        let next = Arc::new(AtomicUsize::new(0));
        let cpu0 = server.cpu_ticks();
        let t0 = Instant::now();
        let deadline = match until {
            Until::Elapsed(d) => Some(t0 + d),
            Until::Requests(_) => None,
        };
        let limit = match until {
            Until::Requests(n) => n,
            Until::Elapsed(_) => usize::MAX,
        };
        let workers: Vec<_> = (0..concurrency)
            .map(|_| {
                let (next, make) = (next.clone(), make.clone());
                let (client, url, key) = (self.client.clone(), self.url.clone(), self.key.clone());
                tokio::spawn(async move {
                    let (mut lat, mut bodies) = (Vec::new(), Vec::new());
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        if i >= limit || deadline.is_some_and(|d| Instant::now() >= d) {
                            return (lat, bodies);
                        }
                        let (method, path, body) = make(i);
                        let mut rb = client
                            .request(method, format!("{url}{path}"))
                            .bearer_auth(&key);
                        if let Some(b) = body {
                            rb = rb.json(&b);
                        }
                        let t = Instant::now();
                        let r = rb.send().await.expect("request sent");
                        let status = r.status().as_u16();
                        let bytes = r.bytes().await.expect("answer read");
                        lat.push(t.elapsed());
                        assert_eq!(status, want, "{path}: {}", String::from_utf8_lossy(&bytes));
                        if keep_bodies {
                            bodies.push(serde_json::from_slice(&bytes).expect("JSON answer"));
                        }
                    }
                })
            })
            .collect();
        let mut phase = Phase {
            requests: 0,
            secs: 0.0,
            cpu_secs: 0.0,
            latencies: Vec::new(),
            bodies: Vec::new(),
        };
        for w in workers {
            let (lat, bodies) = w.await.unwrap();
            phase.latencies.extend(lat);
            phase.bodies.extend(bodies);
        }
        phase.secs = t0.elapsed().as_secs_f64();
        phase.cpu_secs = (server.cpu_ticks() - cpu0) as f64 * tick_secs();
        phase.requests = phase.latencies.len();
        phase.latencies.sort();
        phase
    }
}

/// Server CPU seconds per second while no request is sent (the chain
/// poller, price poller and fan-out working on their own).
async fn background_cpu(server: &Server, secs: u64) -> f64 {
    let cpu0 = server.cpu_ticks();
    let t0 = Instant::now();
    tokio::time::sleep(Duration::from_secs(secs)).await;
    (server.cpu_ticks() - cpu0) as f64 * tick_secs() / t0.elapsed().as_secs_f64()
}

fn health() -> Arc<MakeRequest> {
    Arc::new(|_| (reqwest::Method::GET, "/v1/health".into(), None))
}

fn create() -> Arc<MakeRequest> {
    Arc::new(|_| {
        let body = json!({"amount": "10.00", "currency": "USD"});
        (reqwest::Method::POST, "/v1/invoices".into(), Some(body))
    })
}

/// GETs spread over `ids` (a fixed stride, so every id is visited).
fn get_of(ids: Arc<Vec<String>>) -> Arc<MakeRequest> {
    Arc::new(move |i| {
        let id = &ids[(i * 7919) % ids.len()];
        (reqwest::Method::GET, format!("/v1/invoices/{id}"), None)
    })
}

fn ids_of(phase: &Phase) -> Vec<String> {
    phase
        .bodies
        .iter()
        .map(|b| b["id"].as_str().expect("invoice id").to_string())
        .collect()
}

fn row(name: &str, p: &Phase, base: &Phase) {
    println!(
        "| {name} | {} | {:.0} | {:.3}x | {:.0} | {:.1}x |",
        p.requests,
        p.per_sec(),
        p.per_sec() / base.per_sec(),
        p.cpu_us(),
        p.cpu_us() / base.cpu_us(),
    );
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let invoices = env_or("BENCH_INVOICES", 100_000) as usize;
    let checkpoint = (env_or("BENCH_CHECKPOINT", 10_000) as usize).min(invoices);
    let open = (env_or("BENCH_OPEN", 20_000) as usize).min(invoices);
    let concurrency = env_or("BENCH_CONCURRENCY", 16) as usize;
    let requests = env_or("BENCH_REQUESTS", 20_000) as usize;
    let p99_concurrency = env_or("BENCH_P99_CONCURRENCY", 4) as usize;
    let p99_secs = Duration::from_secs(env_or("BENCH_P99_SECS", 20));
    let idle_secs = env_or("BENCH_IDLE_SECS", 5);
    assert!(
        checkpoint <= open,
        "BENCH_CHECKPOINT must be at most BENCH_OPEN"
    );

    let dir: PathBuf = std::env::temp_dir().join(format!("satsgate-bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let server = Server::start(&dir);
    let driver = Driver {
        client: reqwest::Client::new(),
        url: server.url.clone(),
        key: server.printed("SATSGATE_STORE_KEY"),
    };
    println!(
        "satsgate-local (bench profile) pid {} on {}, data dir {}",
        server.pid(),
        server.url,
        dir.display()
    );
    println!(
        "concurrency {concurrency} (p99 phases: {p99_concurrency}), {requests} requests per throughput phase, {} CPUs",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );

    // Warm up connections and the price poller's first run.
    driver
        .run(
            &server,
            concurrency,
            Until::Requests(2_000),
            200,
            false,
            health(),
        )
        .await;
    let rss_0 = server.rss_mb();
    let disk_0 = dir_bytes(&dir);
    let bg_0 = background_cpu(&server, idle_secs).await;
    let health_0 = driver
        .run(
            &server,
            concurrency,
            Until::Requests(requests),
            200,
            false,
            health(),
        )
        .await;

    // p99 of get-invoice with no open invoice (a cancelled one is fetched).
    let one = driver
        .run(&server, 1, Until::Requests(1), 201, true, create())
        .await;
    let quiet_id = ids_of(&one).remove(0);
    let cancel_path = format!("/v1/invoices/{quiet_id}/cancel");
    driver
        .run(
            &server,
            1,
            Until::Requests(1),
            200,
            false,
            Arc::new(move |_| (reqwest::Method::POST, cancel_path.clone(), Some(json!({})))),
        )
        .await;
    let quiet = Arc::new(vec![quiet_id]);
    let p99_none = driver
        .run(
            &server,
            p99_concurrency,
            Until::Elapsed(p99_secs),
            200,
            false,
            get_of(quiet.clone()),
        )
        .await;

    // Create invoices up to the checkpoint (all stay open: `new`).
    let create_1 = driver
        .run(
            &server,
            concurrency,
            Until::Requests(checkpoint),
            201,
            true,
            create(),
        )
        .await;
    let mut ids = ids_of(&create_1);
    let rss_10k = server.rss_mb();
    let bg_10k = background_cpu(&server, idle_secs).await;
    let health_10k = driver
        .run(
            &server,
            concurrency,
            Until::Requests(requests),
            200,
            false,
            health(),
        )
        .await;
    let get_10k = driver
        .run(
            &server,
            concurrency,
            Until::Requests(requests),
            200,
            false,
            get_of(Arc::new(ids.clone())),
        )
        .await;

    // Up to `open` open invoices, then p99 while the chain poller checks them.
    let create_2 = driver
        .run(
            &server,
            concurrency,
            Until::Requests(open - checkpoint),
            201,
            true,
            create(),
        )
        .await;
    ids.extend(ids_of(&create_2));
    let bg_open = background_cpu(&server, idle_secs).await;
    let p99_open = driver
        .run(
            &server,
            p99_concurrency,
            Until::Elapsed(p99_secs),
            200,
            false,
            get_of(quiet),
        )
        .await;

    // The rest, in batches so the answers' ids need not all be held twice.
    let t_fill = Instant::now();
    let cpu_fill = server.cpu_ticks();
    while ids.len() < invoices {
        let n = (invoices - ids.len()).min(10_000);
        let batch = driver
            .run(
                &server,
                concurrency,
                Until::Requests(n),
                201,
                true,
                create(),
            )
            .await;
        ids.extend(ids_of(&batch));
    }
    let fill_rate = (invoices - open) as f64 / t_fill.elapsed().as_secs_f64();
    let fill_cpu_us = (server.cpu_ticks() - cpu_fill) as f64 * tick_secs() * 1e6
        / (invoices - open).max(1) as f64;
    let rss_full = server.rss_mb();
    let disk_full = dir_bytes(&dir);
    let bg_full = background_cpu(&server, idle_secs).await;

    // Restart at `invoices` invoices.
    server.stop();
    let db_after_stop = dir_bytes(&dir);
    let t0 = Instant::now();
    let server = Server::start(&dir);
    let client = reqwest::Client::new();
    loop {
        let r = client.get(format!("{}/v1/health", server.url)).send().await;
        if r.is_ok_and(|r| r.status() == 200) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let restart = t0.elapsed();
    let rss_restart = server.rss_mb();
    let driver = Driver {
        url: server.url.clone(),
        ..driver
    };
    let first_get = Instant::now();
    driver
        .run(
            &server,
            1,
            Until::Requests(1),
            200,
            false,
            get_of(Arc::new(vec![ids[ids.len() / 2].clone()])),
        )
        .await;
    let first_get = first_get.elapsed();
    server.stop();
    let _ = std::fs::remove_dir_all(&dir);

    println!("\n## Throughput (server CPU from /proc/{{pid}}/stat, background jobs included)");
    println!("| phase | requests | per s | vs health | CPU µs/req | CPU vs health |");
    println!("|---|---|---|---|---|---|");
    row("GET /v1/health, 0 invoices", &health_0, &health_0);
    row(
        &format!("POST /v1/invoices, 0 to {checkpoint}"),
        &create_1,
        &health_0,
    );
    row(
        &format!("GET /v1/health, {checkpoint} open"),
        &health_10k,
        &health_10k,
    );
    row(
        &format!("GET /v1/invoices/{{id}}, {checkpoint} open"),
        &get_10k,
        &health_10k,
    );
    println!(
        "| POST /v1/invoices, {open} to {invoices} | {} | {fill_rate:.0} | {:.3}x | {fill_cpu_us:.0} | |",
        invoices - open,
        fill_rate / health_0.per_sec()
    );
    println!("\nbackground CPU with no requests (core-seconds per second): {bg_0:.3} at 0 open, {bg_10k:.3} at {checkpoint}, {bg_open:.3} at {open}, {bg_full:.3} at {invoices}");

    println!("\n## Memory and disk");
    println!("RSS: {rss_0:.1} MB at 0 invoices, {rss_10k:.1} MB at {checkpoint}, {rss_full:.1} MB at {invoices}, {rss_restart:.1} MB after the restart");
    let n = ids.len() as f64 + 1.0;
    println!(
        "disk: {:.0} bytes per invoice while running (database + WAL), {:.0} after a clean stop (database only); {:.1} MB in all",
        (disk_full - disk_0) as f64 / n,
        (db_after_stop - disk_0) as f64 / n,
        db_after_stop as f64 / 1e6
    );

    println!("\n## Restart at {invoices} invoices");
    println!(
        "spawn to first 200 health answer: {:.0} ms; first get-invoice after it: {:.1} ms",
        restart.as_secs_f64() * 1e3,
        first_get.as_secs_f64() * 1e3
    );

    println!(
        "\n## get-invoice latency, {p99_concurrency} concurrent, {} s each",
        p99_secs.as_secs()
    );
    let (n50, n99) = (p99_none.quantile_ms(0.5), p99_none.quantile_ms(0.99));
    let (o50, o99) = (p99_open.quantile_ms(0.5), p99_open.quantile_ms(0.99));
    println!("| open invoices | requests | p50 ms | p99 ms | max ms |");
    println!("|---|---|---|---|---|");
    println!(
        "| 0 | {} | {n50:.2} | {n99:.2} | {:.2} |",
        p99_none.requests,
        p99_none.quantile_ms(1.0)
    );
    println!(
        "| {open} | {} | {o50:.2} | {o99:.2} | {:.2} |",
        p99_open.requests,
        p99_open.quantile_ms(1.0)
    );
    println!("p99 with {open} open / p99 with none: {:.2}x", o99 / n99);
}
