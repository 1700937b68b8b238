//! The benchmark's own peers: an echo backend, a generator of short connections, and a
//! client that holds many idle ones.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// What one short connection sends, and gets back from the echo backend.
pub const REQUEST: &[u8; 32] = b"GET /benchmark HTTP/1.0\r\n\r\n.....";

/// Serves every connection on `port` by echoing it until EOF. Prints `ready` once listening.
pub fn backend(port: u16) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .with_context(|| format!("binding the backend to port {port}"))?;
        println!("ready");
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                // Out of descriptors, say: let others finish.
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            };
            tokio::spawn(async move {
                let (mut read, mut write) = stream.into_split();
                let _ = tokio::io::copy(&mut read, &mut write).await;
            });
        }
    })
}

/// How many short connections (connect, one request, its echo, close) `concurrency` clients
/// complete against `port` in `duration`, and how many failed.
pub fn connection_rate(
    port: u16,
    concurrency: usize,
    duration: Duration,
) -> anyhow::Result<(u64, u64)> {
    repeat(concurrency, duration, move || async move {
        let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port)).await?;
        stream.write_all(REQUEST).await?;
        let mut reply = [0; REQUEST.len()];
        stream.read_exact(&mut reply).await?;
        anyhow::ensure!(&reply == REQUEST, "the reply differs from the request");
        Ok(())
    })
}

/// How many times `concurrency` clients complete `attempt` in `duration`, each starting
/// another as soon as one ends, and how many attempts failed (or were still running 5 s
/// after the end).
pub fn repeat<A, F>(
    concurrency: usize,
    duration: Duration,
    attempt: A,
) -> anyhow::Result<(u64, u64)>
where
    A: Fn() -> F + Clone + Send + 'static,
    F: std::future::Future<Output = anyhow::Result<()>> + Send,
{
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let done = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    runtime.block_on(async {
        let deadline = tokio::time::Instant::now() + duration;
        let mut clients = tokio::task::JoinSet::new();
        for _ in 0..concurrency {
            let (attempt, done, failed) = (attempt.clone(), done.clone(), failed.clone());
            clients.spawn(async move {
                while tokio::time::Instant::now() < deadline {
                    match tokio::time::timeout_at(deadline + Duration::from_secs(5), attempt())
                        .await
                    {
                        Ok(Ok(())) => done.fetch_add(1, Ordering::Relaxed),
                        _ => failed.fetch_add(1, Ordering::Relaxed),
                    };
                }
            });
        }
        while clients.join_next().await.is_some() {}
    });
    Ok((done.load(Ordering::Relaxed), failed.load(Ordering::Relaxed)))
}

/// Opens `count` connections to `port`, each of which echoes one byte, and returns them idle.
pub fn hold(port: u16, count: usize) -> anyhow::Result<Vec<TcpStream>> {
    let started = Instant::now();
    let mut held = Vec::with_capacity(count);
    for n in 0..count {
        let mut stream = TcpStream::connect(("127.0.0.1", port))
            .with_context(|| format!("opening idle connection {n}"))?;
        stream.set_read_timeout(Some(Duration::from_secs(10)))?;
        stream.write_all(b"!")?;
        let mut echo = [0; 1];
        stream
            .read_exact(&mut echo)
            .with_context(|| format!("echo on idle connection {n}"))?;
        held.push(stream);
    }
    eprintln!(
        "  held {count} connections in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    Ok(held)
}

/// `flows` concurrent TCP ping-pongs against the echo backend at `port`: each sends 64 bytes,
/// waits for their echo, and sends again, for `duration`. Returns every round trip after the
/// first tenth of the time (the warm-up), in microseconds, and how many flows failed.
pub fn ping_pong_flows(
    port: u16,
    flows: usize,
    duration: Duration,
) -> anyhow::Result<(Vec<f64>, usize)> {
    const MESSAGE: [u8; 64] = [0x5a; 64];
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let started = tokio::time::Instant::now();
        let warm_until = started + duration / 10;
        let deadline = started + duration;
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..flows {
            tasks.spawn(async move {
                let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port)).await?;
                stream.set_nodelay(true)?;
                let mut samples = Vec::new();
                let mut reply = [0; MESSAGE.len()];
                loop {
                    let sent = tokio::time::Instant::now();
                    if sent >= deadline {
                        break;
                    }
                    stream.write_all(&MESSAGE).await?;
                    tokio::time::timeout(Duration::from_secs(5), stream.read_exact(&mut reply))
                        .await
                        .context("no echo within 5 s")??;
                    anyhow::ensure!(reply == MESSAGE, "the echo differs from the message");
                    if sent >= warm_until {
                        samples.push(sent.elapsed().as_secs_f64() * 1e6);
                    }
                }
                anyhow::Ok(samples)
            });
        }
        let mut all = Vec::new();
        let mut failed = 0;
        while let Some(joined) = tasks.join_next().await {
            match joined {
                Ok(Ok(samples)) => all.extend(samples),
                _ => failed += 1,
            }
        }
        Ok((all, failed))
    })
}

/// The `p`-th quantile (0 to 1, nearest rank) of `samples`.
pub fn percentile(samples: &mut [f64], p: f64) -> Option<f64> {
    if samples.is_empty() {
        return None;
    }
    samples.sort_by(f64::total_cmp);
    let rank = ((p * samples.len() as f64).ceil() as usize).clamp(1, samples.len());
    Some(samples[rank - 1])
}
