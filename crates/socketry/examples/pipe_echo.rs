//! A pipe as an endpoint: what is written to it comes back from it, socat's echo idiom.
//!
//! `cargo run --example pipe_echo -- 'hello'` prints `hello` after it crossed an anonymous
//! pipe; `cargo run --example pipe_echo -- 'hello' /tmp/echo.fifo` uses a named pipe at that
//! path instead, created for the run and removed after it.

#[tokio::main]
async fn main() -> Result<(), socketry::Error> {
    let mut args = std::env::args().skip(1);
    let message = args.next().unwrap_or_else(|| "hello".to_owned());
    let address = match args.next() {
        Some(path) => format!("PIPE:'{path}'"),
        None => "PIPE".to_owned(),
    };
    let mut pipe = socketry::connect(&address).await?;
    pipe.write_all(message.as_bytes()).await?;
    // Closing the write end lets the read end reach EOF once the pipe is drained.
    pipe.shutdown_write().await?;
    println!("{}", String::from_utf8_lossy(&pipe.read_to_end().await?));
    Ok(())
}
