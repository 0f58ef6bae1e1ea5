//! What `wavedeck bench checksum` measures besides wall time: CPU seconds spent by the
//! database server for our sessions and by this process, and the load average. On a shared
//! machine the wall-clock rate moves with whatever else runs; CPU per row does not.

use std::collections::HashMap;
use std::future::Future;
use std::time::Instant;

/// How to attribute server CPU to a method.
#[derive(Clone)]
pub enum ServerCpu {
    /// PostgreSQL on this host: the backends whose `application_name` is ours (one process
    /// per session, so the figure is exactly our sessions' CPU).
    PgBackends { pool: sqlx::PgPool, app: String },
    /// MySQL/MariaDB on this host: the whole server process (one process, threads per
    /// session; other sessions on the same server are included).
    Process(i32),
    /// The server is elsewhere: no CPU figure.
    Unknown,
}

impl ServerCpu {
    /// CPU ticks per attributed process, or None when unknown.
    pub async fn sample(&self) -> Option<HashMap<i32, u64>> {
        match self {
            ServerCpu::PgBackends { pool, app } => {
                let pids: Vec<i32> = sqlx::query_scalar(
                    "SELECT pid FROM pg_stat_activity WHERE application_name = $1",
                )
                .bind(app)
                .fetch_all(pool)
                .await
                .ok()?;
                Some(
                    pids.into_iter()
                        .filter_map(|p| proc_cpu_ticks(p).map(|t| (p, t)))
                        .collect(),
                )
            }
            ServerCpu::Process(pid) => proc_cpu_ticks(*pid).map(|t| HashMap::from([(*pid, t)])),
            ServerCpu::Unknown => None,
        }
    }

    pub fn label(&self) -> &'static str {
        match self {
            ServerCpu::PgBackends { .. } => "server CPU = our PostgreSQL backends (/proc)",
            ServerCpu::Process(_) => {
                "server CPU = the whole mysqld process (/proc; other sessions included)"
            }
            ServerCpu::Unknown => "server CPU not measured (server not on this host)",
        }
    }
}

/// CPU seconds between two samples: processes that appeared in between count from zero.
pub fn cpu_delta(before: &HashMap<i32, u64>, after: &HashMap<i32, u64>) -> f64 {
    let ticks: u64 = after
        .iter()
        .map(|(pid, t)| t.saturating_sub(before.get(pid).copied().unwrap_or(0)))
        .sum();
    ticks as f64 / clock_ticks()
}

fn clock_ticks() -> f64 {
    // SAFETY: sysconf has no preconditions.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 {
        t as f64
    } else {
        100.0
    }
}

/// utime + stime of a process in clock ticks, from `/proc/<pid>/stat`.
pub fn proc_cpu_ticks(pid: i32) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    parse_stat_cpu(&s)
}

/// Fields after the `(comm)`: state is the first, utime the 12th, stime the 13th.
pub fn parse_stat_cpu(stat: &str) -> Option<u64> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    Some(f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?)
}

/// User + system CPU seconds of this process and of its waited-for children (the CLI
/// reference readers).
pub fn own_cpu() -> f64 {
    let get = |who| {
        // SAFETY: getrusage writes into the zeroed struct we own.
        let mut u: libc::rusage = unsafe { std::mem::zeroed() };
        if unsafe { libc::getrusage(who, &mut u) } != 0 {
            return 0.0;
        }
        let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
        tv(u.ru_utime) + tv(u.ru_stime)
    };
    get(libc::RUSAGE_SELF) + get(libc::RUSAGE_CHILDREN)
}

/// "1.23 0.98 0.80" (1, 5, 15 minutes).
pub fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|| "unknown".into())
}

pub fn is_local_host(host: &str) -> bool {
    host == "localhost" || host == "::1" || host.starts_with("127.") || host.starts_with('/')
}

pub struct Measured {
    pub method: String,
    pub streams: usize,
    pub secs: f64,
    pub rows: u64,
    /// Server CPU seconds (None: not attributable, e.g. parallel workers that have exited).
    pub server_cpu: Option<f64>,
    pub client_cpu: f64,
}

/// Time one method: wall, server CPU of our sessions, this process's CPU.
pub async fn measure<F>(
    server: &ServerCpu,
    method: &str,
    streams: usize,
    attributable: bool,
    f: F,
) -> anyhow::Result<Measured>
where
    F: Future<Output = anyhow::Result<u64>>,
{
    let s0 = server.sample().await;
    let c0 = own_cpu();
    let t = Instant::now();
    let rows = f.await?;
    let secs = t.elapsed().as_secs_f64();
    let c1 = own_cpu();
    let s1 = server.sample().await;
    let server_cpu = match (attributable, s0, s1) {
        (true, Some(a), Some(b)) => Some(cpu_delta(&a, &b)),
        _ => None,
    };
    eprintln!("  measured {method} ({streams} streams): {secs:.2} s");
    Ok(Measured {
        method: method.to_string(),
        streams,
        secs,
        rows,
        server_cpu,
        client_cpu: c1 - c0,
    })
}

impl Measured {
    pub fn rate(&self) -> f64 {
        self.rows as f64 / self.secs.max(1e-9)
    }
    /// Server CPU microseconds per row.
    pub fn server_us_per_row(&self) -> Option<f64> {
        self.server_cpu.map(|c| c * 1e6 / (self.rows.max(1) as f64))
    }
}

/// The result table; `mb` is the size that MB/s is computed from (stated in the header).
pub fn print_table(out: &[Measured], total_rows: u64, mb: f64) {
    println!(
        "  {:<72} {:>3} {:>8} {:>10} {:>7} {:>6} {:>8} {:>9} {:>8}",
        "method", "str", "seconds", "rows/s", "MB/s", "GB/h", "srv CPU", "srv us/row", "cli CPU"
    );
    for r in out {
        let srv = r
            .server_cpu
            .map(|c| format!("{c:.2}"))
            .unwrap_or_else(|| "-".into());
        let per = r
            .server_us_per_row()
            .map(|c| format!("{c:.3}"))
            .unwrap_or_else(|| "-".into());
        let mb_s = mb * (r.rows as f64 / total_rows.max(1) as f64) / r.secs.max(1e-9);
        println!(
            "  {:<72} {:>3} {:>8.2} {:>10.0} {:>7.1} {:>6.0} {:>8} {:>9} {:>8.2}",
            r.method,
            r.streams,
            r.secs,
            r.rate(),
            mb_s,
            // The same stream's bytes per hour: the unit `plan` sizes validation in.
            mb_s * 3.6,
            srv,
            per,
            r.client_cpu
        );
    }
}

pub fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into())
}

/// Run a command-line client as a reference reader, its output into nothing. Returns false
/// when the program is not installed.
pub async fn run_cli(mut cmd: tokio::process::Command) -> anyhow::Result<bool> {
    cmd.stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .stdin(std::process::Stdio::null());
    let out = match cmd.output().await {
        Ok(o) => o,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(e.into()),
    };
    if !out.status.success() {
        anyhow::bail!(
            "reference client failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_cpu_is_utime_plus_stime_even_with_spaces_in_the_name() {
        let stat = "1234 (postgres: a (b) c) S 1 2 3 4 5 6 7 8 9 10 250 50 0 0 20 0 1 0";
        assert_eq!(parse_stat_cpu(stat), Some(300));
        assert_eq!(parse_stat_cpu("garbage"), None);
    }

    #[test]
    fn cpu_delta_counts_new_processes_from_zero() {
        let a = HashMap::from([(1, 100), (2, 50)]);
        let b = HashMap::from([(1, 150), (3, 30)]);
        assert!((cpu_delta(&a, &b) * clock_ticks() - 80.0).abs() < 1e-9);
    }

    #[test]
    fn local_hosts() {
        assert!(is_local_host("127.0.0.1") && is_local_host("localhost"));
        assert!(!is_local_host("db.example.com"));
    }
}
