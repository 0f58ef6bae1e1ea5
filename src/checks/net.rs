//! Name resolution, TCP reachability and an optional SNTP clock reading.

use std::net::SocketAddr;
use std::time::Duration;

pub async fn resolve(host: &str, port: u16) -> Result<Vec<SocketAddr>, String> {
    match tokio::net::lookup_host((host, port)).await {
        Ok(a) => {
            let v: Vec<SocketAddr> = a.collect();
            if v.is_empty() {
                Err(format!("{host} resolves to no address"))
            } else {
                Ok(v)
            }
        }
        Err(e) => Err(format!("cannot resolve {host}: {e}")),
    }
}

/// Connect to the first address that answers; returns it and the time it took.
pub async fn reach(
    addrs: &[SocketAddr],
    timeout: Duration,
) -> Result<(SocketAddr, Duration), String> {
    let mut last = String::from("no address to try");
    for a in addrs {
        let t0 = std::time::Instant::now();
        match tokio::time::timeout(timeout, tokio::net::TcpStream::connect(a)).await {
            Ok(Ok(_)) => return Ok((*a, t0.elapsed())),
            Ok(Err(e)) => last = format!("{a}: {e}"),
            Err(_) => last = format!("{a}: no answer within {} s", timeout.as_secs_f64()),
        }
    }
    Err(last)
}

/// Seconds since the Unix epoch from an NTP timestamp (seconds since 1900 + 32-bit fraction).
fn ntp_to_unix(secs: u32, frac: u32) -> f64 {
    secs as f64 - 2_208_988_800.0 + frac as f64 / 4_294_967_296.0
}

/// Offset of the jump host's clock against an SNTP server, in seconds (positive: the server is ahead).
pub async fn sntp_offset(server: &str, timeout: Duration) -> Result<f64, String> {
    let addr = if server.contains(':') {
        server.to_string()
    } else {
        format!("{server}:123")
    };
    let sock = tokio::net::UdpSocket::bind("0.0.0.0:0")
        .await
        .map_err(|e| e.to_string())?;
    sock.connect(&addr)
        .await
        .map_err(|e| format!("{addr}: {e}"))?;
    let mut req = [0u8; 48];
    req[0] = 0x1b; // LI 0, version 3, mode 3 (client)
    let t0 = now_unix();
    sock.send(&req).await.map_err(|e| format!("{addr}: {e}"))?;
    let mut resp = [0u8; 48];
    let n = tokio::time::timeout(timeout, sock.recv(&mut resp))
        .await
        .map_err(|_| format!("{addr}: no SNTP answer within {} s", timeout.as_secs_f64()))?
        .map_err(|e| format!("{addr}: {e}"))?;
    let t1 = now_unix();
    if n < 48 {
        return Err(format!("{addr}: short SNTP answer ({n} bytes)"));
    }
    let word = |i: usize| u32::from_be_bytes([resp[i], resp[i + 1], resp[i + 2], resp[i + 3]]);
    let server_tx = ntp_to_unix(word(40), word(44));
    Ok(server_tx - (t0 + t1) / 2.0)
}

pub fn now_unix() -> f64 {
    chrono::Utc::now().timestamp_micros() as f64 / 1e6
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ntp_epoch_conversion() {
        assert_eq!(ntp_to_unix(2_208_988_800, 0), 0.0);
        assert_eq!(ntp_to_unix(2_208_988_801, 1 << 31), 1.5);
    }

    #[tokio::test]
    async fn loopback_resolves_and_a_closed_port_is_unreachable() {
        let addrs = resolve("localhost", 9).await.unwrap();
        assert!(!addrs.is_empty());
        // Bind then drop a listener to get a port nobody listens on.
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        drop(l);
        let a: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        assert!(reach(&[a], Duration::from_secs(1)).await.is_err());
        assert!(resolve("no-such-host.invalid", 5432).await.is_err());
    }
}
