//! Standard input and output as an endpoint: a filter that upper-cases what it reads.
//!
//! `echo hello | cargo run --example stdio_upper` prints `HELLO`.

#[tokio::main]
async fn main() -> Result<(), socketry::Error> {
    let mut stdio = socketry::connect("STDIO").await?;
    let mut buf = vec![0; 64 * 1024];
    while let Some(n) = stdio.read(&mut buf).await? {
        buf[..n].make_ascii_uppercase();
        stdio.write_all(&buf[..n]).await?;
    }
    Ok(())
}
