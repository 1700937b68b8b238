//! A POSIX message queue as an endpoint: send messages into a queue and take them out again,
//! each whole and in order.
//!
//! `cargo run --example message_queue -- /socketry-example one two` prints `one` and `two`,
//! each on its own line; the queue is removed when the example is done with it.

#[tokio::main]
async fn main() -> Result<(), socketry::Error> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [name, messages @ ..] = args.as_slice() else {
        eprintln!("usage: message_queue /NAME MESSAGE...");
        std::process::exit(2);
    };
    // One queue read and written: what is sent is what is received next.
    let mut queue =
        socketry::connect(&format!("POSIXMQ-BIDIRECTIONAL:{name},unlink-close")).await?;
    let mut buf = vec![0; 64 * 1024];
    for message in messages {
        queue.write_all(message.as_bytes()).await?;
    }
    for _ in messages {
        if let Some(n) = queue.read(&mut buf).await? {
            println!("{}", String::from_utf8_lossy(&buf[..n]));
        }
    }
    Ok(())
}
