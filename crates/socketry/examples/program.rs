//! A program as an endpoint: run it, write to its standard input, read its output, and see how
//! it exited.
//!
//! `cargo run --example program -- 'hello world'` runs `tr a-z A-Z` on the message and prints
//! `HELLO WORLD` and then the program's exit.

#[tokio::main]
async fn main() -> Result<(), socketry::Error> {
    let message = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "hello".to_owned());
    // EXEC splits its command line into words itself, without a shell.
    let mut program = socketry::connect("EXEC:'tr a-z A-Z'").await?;
    program.write_all(message.as_bytes()).await?;
    // The program sees EOF on its standard input, finishes, and closes its output.
    program.shutdown_write().await?;
    let output = program.read_to_end().await?;
    println!("{}", String::from_utf8_lossy(&output));
    // The child is reaped only when asked: its exit status is the caller's to judge.
    for process in program.take_processes() {
        let name = process.description().to_owned();
        println!("{name} {}", process.finish().await?);
    }
    Ok(())
}
