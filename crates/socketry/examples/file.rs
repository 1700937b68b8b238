//! Files as endpoints: write lines to a file socketry creates, then read them back.
//!
//! `cargo run --example file -- /tmp/notes.txt one two` writes `one` and `two`, a line each,
//! to `/tmp/notes.txt` (replacing what was there) and prints the file's contents.

#[tokio::main]
async fn main() -> Result<(), socketry::Error> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [path, lines @ ..] = args.as_slice() else {
        eprintln!("usage: file PATH LINE...");
        std::process::exit(2);
    };
    // CREATE makes the file (or empties it) and opens it for writing only.
    let mut file = socketry::connect(&format!("CREATE:'{path}'")).await?;
    for line in lines {
        file.write_all(format!("{line}\n").as_bytes()).await?;
    }
    drop(file);
    // OPEN reads an existing file; a read-only open has no writer to shut down.
    let mut file = socketry::connect(&format!("OPEN:'{path}',rdonly")).await?;
    print!("{}", String::from_utf8_lossy(&file.read_to_end().await?));
    Ok(())
}
