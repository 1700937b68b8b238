//! Log messages in socat's line format, `2026/11/21 16:30:00 socketry[1234] E message`, or
//! with `--log-format json` as one JSON object per line (`time`, `level`, `program`, `pid`,
//! `message`, and the event's own fields, typed: `peer`, `bytes_in`, `duration_s`,
//! `error_kind`, ...), to stderr, a file or syslog. The library logs through `tracing`; its
//! levels map to socat's letters: error E, warn W, info N (notice), debug I (info), trace D
//! (debug). In text, an event's fields are in its message already and are not repeated.

use std::fmt::Write as _;
use std::io::Write;
use std::os::unix::net::UnixDatagram;
use std::sync::Mutex;
use std::time::SystemTime;

use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::{Context, Layer};
use tracing_subscriber::prelude::*;

use serde_json::{Map, Value};

use crate::flags::{LogFormat, LogTarget, Plan};

enum Sink {
    Stderr,
    File(std::fs::File),
    Syslog {
        socket: Option<UnixDatagram>,
        facility: u8,
    },
}

/// Formats and writes log lines.
pub struct Logger {
    program: String,
    pid: u32,
    micros: bool,
    hostname: Option<String>,
    format: LogFormat,
    sink: Mutex<Sink>,
}

fn facility_code(name: &str) -> Option<u8> {
    let code = match name.to_ascii_lowercase().as_str() {
        "kern" => 0,
        "user" => 1,
        "mail" => 2,
        "daemon" => 3,
        "auth" => 4,
        "syslog" => 5,
        "lpr" => 6,
        "news" => 7,
        "uucp" => 8,
        "cron" => 9,
        "authpriv" => 10,
        "ftp" => 11,
        "local0" => 16,
        "local1" => 17,
        "local2" => 18,
        "local3" => 19,
        "local4" => 20,
        "local5" => 21,
        "local6" => 22,
        "local7" => 23,
        _ => return None,
    };
    Some(code)
}

fn level_name(level: &Level) -> &'static str {
    match *level {
        Level::ERROR => "error",
        Level::WARN => "warning",
        Level::INFO => "notice",
        Level::DEBUG => "info",
        Level::TRACE => "debug",
    }
}

fn letter(level: &Level) -> char {
    match *level {
        Level::ERROR => 'E',
        Level::WARN => 'W',
        Level::INFO => 'N',
        Level::DEBUG => 'I',
        Level::TRACE => 'D',
    }
}

impl Logger {
    pub fn new(plan: &Plan) -> anyhow::Result<Logger> {
        let sink = match &plan.log_target {
            LogTarget::Stderr => Sink::Stderr,
            LogTarget::File(path) => Sink::File(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)
                    .map_err(|e| anyhow::anyhow!("opening log file \"{}\": {e}", path.display()))?,
            ),
            LogTarget::Syslog { facility } => {
                let code = facility_code(facility).ok_or_else(|| {
                    anyhow::anyhow!("unknown syslog facility \"{facility}\" (expected daemon, user, local0..local7, ...)")
                })?;
                let socket = UnixDatagram::unbound()
                    .ok()
                    .filter(|s| s.connect("/dev/log").is_ok());
                Sink::Syslog {
                    socket,
                    facility: code,
                }
            }
        };
        let hostname = plan
            .log_hostname
            .then(|| {
                nix::unistd::gethostname()
                    .ok()
                    .map(|h| h.to_string_lossy().into_owned())
            })
            .flatten();
        Ok(Logger {
            program: plan
                .program_name
                .clone()
                .unwrap_or_else(|| "socketry".to_owned()),
            pid: std::process::id(),
            micros: plan.log_micros,
            hostname,
            format: plan.log_format,
            sink: Mutex::new(sink),
        })
    }

    /// Writes one message at `level`.
    /// A log line with its newline, so that one `write` puts it out whole: lines from
    /// concurrent tasks never interleave, and an exit cannot cut one short.
    fn whole_line(&self, level: &Level, message: &str, fields: &Map<String, Value>) -> String {
        let mut line = match self.format {
            LogFormat::Text => self.line(level, message),
            LogFormat::Json => self.json_line(level, message, fields),
        };
        line.push('\n');
        line
    }

    fn json_line(&self, level: &Level, message: &str, fields: &Map<String, Value>) -> String {
        let time = socketry::timestamp(SystemTime::now(), true)
            .replacen('/', "-", 2)
            .replacen(' ', "T", 1)
            + "Z";
        let mut object = Map::new();
        object.insert("time".into(), time.into());
        object.insert("level".into(), level_name(level).into());
        object.insert("program".into(), self.program.clone().into());
        object.insert("pid".into(), self.pid.into());
        if let Some(host) = &self.hostname {
            object.insert("host".into(), host.clone().into());
        }
        object.insert("message".into(), message.into());
        for (name, value) in fields {
            object.insert(name.clone(), value.clone());
        }
        Value::Object(object).to_string()
    }

    pub fn log(&self, level: &Level, message: &str) {
        self.log_event(level, message, &Map::new());
    }

    /// Logs a failure as `message`; in JSON with its kind (the OS error's, when one caused
    /// it).
    pub fn log_error(&self, error: &anyhow::Error, message: &str) {
        let mut fields = Map::new();
        let kind = error
            .chain()
            .find_map(|cause| cause.downcast_ref::<std::io::Error>())
            .map_or_else(|| "Other".to_owned(), |e| format!("{:?}", e.kind()));
        fields.insert("error_kind".into(), kind.into());
        self.log_event(&Level::ERROR, message, &fields);
    }

    /// Writes one message at `level`, with the event's fields for JSON.
    pub fn log_event(&self, level: &Level, message: &str, fields: &Map<String, Value>) {
        // One message is one line, and a terminal shows what a path or peer sent, never runs it.
        let message = shorten_long_words(&socketry::address::escape_controls(
            &without_os_error_numbers(message),
        ));
        let message = message.as_str();
        let Ok(mut sink) = self.sink.lock() else {
            return;
        };
        match &mut *sink {
            Sink::Syslog { socket, facility } => {
                let severity = match *level {
                    Level::ERROR => 3,
                    Level::WARN => 4,
                    Level::INFO => 5,
                    Level::DEBUG => 6,
                    Level::TRACE => 7,
                };
                let line = match self.format {
                    LogFormat::Text => format!(
                        "<{}>{}[{}]: {} {message}",
                        u32::from(*facility) * 8 + severity,
                        self.program,
                        self.pid,
                        letter(level)
                    ),
                    LogFormat::Json => format!(
                        "<{}>{}[{}]: {}",
                        u32::from(*facility) * 8 + severity,
                        self.program,
                        self.pid,
                        self.json_line(level, message, fields)
                    ),
                };
                match socket {
                    Some(socket) => {
                        let _ = socket.send(line.as_bytes());
                    }
                    None => {
                        let _ = std::io::stderr()
                            .write_all(self.whole_line(level, message, fields).as_bytes());
                    }
                }
            }
            Sink::Stderr => {
                let _ =
                    std::io::stderr().write_all(self.whole_line(level, message, fields).as_bytes());
            }
            Sink::File(file) => {
                let _ = file.write_all(self.whole_line(level, message, fields).as_bytes());
            }
        }
    }

    fn line(&self, level: &Level, message: &str) -> String {
        let mut line = socketry::timestamp(SystemTime::now(), self.micros);
        if let Some(host) = &self.hostname {
            let _ = write!(line, " {host}");
        }
        let _ = write!(
            line,
            " {}[{}] {} {message}",
            self.program,
            self.pid,
            letter(level)
        );
        line
    }
}

/// Cuts every word of a message well over [`socketry::address::QUOTE_MAX`] characters to that
/// many, with its length: an argument echoed in an error (a 5000-byte path in
/// `OPEN:...: opening ...`) is shown in part, as the address parser quotes it. A word the
/// parser has already quoted and cut (with its quotes and `...`) is left as it is.
fn shorten_long_words(message: &str) -> String {
    let max = socketry::address::QUOTE_MAX;
    if message.len() <= max + QUOTED_SLACK {
        return message.to_owned();
    }
    let mut out = String::with_capacity(message.len().min(4 * max));
    for (i, word) in message.split(' ').enumerate() {
        if i > 0 {
            out.push(' ');
        }
        let count = word.chars().count();
        if count > max + QUOTED_SLACK {
            out.extend(word.chars().take(max));
            let _ = write!(out, "... ({count} characters)");
        } else {
            out.push_str(word);
        }
    }
    out
}

/// Writes an error line in the log's default form, for a failure before the logger exists
/// (bad flags, a log file that cannot be opened) or outside it (`socketry bench`).
pub(crate) fn early_error(message: &str) {
    use std::io::Write as _;
    let _ = writeln!(
        std::io::stderr(),
        "{} socketry[{}] E {}",
        socketry::timestamp(std::time::SystemTime::now(), false),
        std::process::id(),
        socketry::address::escape_controls(&without_os_error_numbers(message))
    );
}

/// `message` without the " (os error N)" that the standard library puts after an OS error's
/// text: the text says what went wrong, as socat's messages do, and JSON logs carry the
/// error's kind in a field of its own.
fn without_os_error_numbers(message: &str) -> std::borrow::Cow<'_, str> {
    const MARK: &str = " (os error ";
    if !message.contains(MARK) {
        return std::borrow::Cow::Borrowed(message);
    }
    let mut out = String::with_capacity(message.len());
    let mut rest = message;
    while let Some(at) = rest.find(MARK) {
        let after = &rest[at + MARK.len()..];
        let digits = after.bytes().take_while(u8::is_ascii_digit).count();
        out.push_str(&rest[..at]);
        if digits > 0 && after[digits..].starts_with(')') {
            rest = &after[digits + 1..];
        } else {
            out.push_str(MARK);
            rest = after;
        }
    }
    out.push_str(rest);
    std::borrow::Cow::Owned(out)
}

/// Room beyond the quoting limit for a word the parser has quoted and cut already:
/// `"` + 200 characters + `..."` and punctuation after it.
const QUOTED_SLACK: usize = 8;

/// The `tracing` layer that hands every event to the [`Logger`], at the most detailed level
/// it logs (a session's messages lowered by `children-shutup` are checked against it again).
struct SocatFormat(std::sync::Arc<Logger>, Level);

/// An event's message, and its other fields as typed JSON values.
#[derive(Default)]
struct EventText {
    message: String,
    fields: Map<String, Value>,
}

impl Visit for EventText {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.message, "{value:?}");
        } else {
            self.fields
                .insert(field.name().to_owned(), format!("{value:?}").into());
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message.push_str(value);
        } else {
            self.fields.insert(field.name().to_owned(), value.into());
        }
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.fields.insert(field.name().to_owned(), value.into());
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.fields.insert(field.name().to_owned(), value.into());
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        self.fields.insert(field.name().to_owned(), value.into());
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.fields.insert(field.name().to_owned(), value.into());
    }
}

/// How many levels lower a session's messages are logged (`children-shutup`), kept with the
/// session's span.
struct Shutup(u64);

/// Reads the `children_shutup` field of a session's span.
#[derive(Default)]
struct ShutupField(Option<u64>);

impl Visit for ShutupField {
    fn record_debug(&mut self, _: &Field, _: &dyn std::fmt::Debug) {}

    fn record_u64(&mut self, field: &Field, value: u64) {
        if field.name() == socketry::serve::SHUTUP_FIELD {
            self.0 = Some(value);
        }
    }
}

/// `level` lowered by `steps`: an error becomes a warning, a notice info, and so on; `None`
/// past debug (the message is dropped).
fn lowered(level: Level, steps: u64) -> Option<Level> {
    const ORDER: [Level; 5] = [
        Level::ERROR,
        Level::WARN,
        Level::INFO,
        Level::DEBUG,
        Level::TRACE,
    ];
    let at = ORDER.iter().position(|l| *l == level)?;
    let to = usize::try_from(steps).ok()?.checked_add(at)?;
    ORDER.get(to).copied()
}

impl<S> Layer<S> for SocatFormat
where
    S: Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
{
    fn on_new_span(
        &self,
        attrs: &tracing::span::Attributes<'_>,
        id: &tracing::span::Id,
        ctx: Context<'_, S>,
    ) {
        let mut field = ShutupField::default();
        attrs.record(&mut field);
        if let (Some(steps), Some(span)) = (field.0, ctx.span(id)) {
            span.extensions_mut().insert(Shutup(steps));
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let steps: u64 = ctx
            .event_scope(event)
            .into_iter()
            .flatten()
            .filter_map(|span| span.extensions().get::<Shutup>().map(|s| s.0))
            .sum();
        let level = *event.metadata().level();
        let Some(level) = lowered(level, steps) else {
            return;
        };
        if level > self.1 {
            return;
        }
        let mut text = EventText::default();
        event.record(&mut text);
        self.0.log_event(&level, &text.message, &text.fields);
    }
}

/// Installs the logger as the global `tracing` subscriber at the plan's verbosity.
pub fn install(logger: std::sync::Arc<Logger>, verbosity: usize) {
    let max = match verbosity {
        0 => Level::WARN,
        1 => Level::INFO,
        2 => Level::DEBUG,
        _ => Level::TRACE,
    };
    let filter = tracing_subscriber::filter::LevelFilter::from_level(max);
    let _ = tracing_subscriber::registry()
        .with(SocatFormat(logger, max).with_filter(filter))
        .try_init();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn os_error_numbers_are_left_out_and_other_text_kept() {
        let cases = [
            (
                "opening \"/x\": No such file or directory (os error 2)",
                "opening \"/x\": No such file or directory",
            ),
            (
                "mptcp: refused (Protocol not available (os error 92)); using plain TCP",
                "mptcp: refused (Protocol not available); using plain TCP",
            ),
            (
                "odd (os error x) and (os error 3",
                "odd (os error x) and (os error 3",
            ),
            ("a (os error 1) b (os error 22)", "a b"),
            ("nothing to take out", "nothing to take out"),
        ];
        for (message, want) in cases {
            assert_eq!(without_os_error_numbers(message), want, "{message}");
        }
    }

    #[test]
    fn long_words_are_cut_with_their_length_and_short_ones_kept() {
        let long = "x".repeat(250);
        let cases: Vec<(String, String)> = vec![
            ("short message".into(), "short message".into()),
            (
                format!("OPEN:{long}: opening {long}: denied"),
                format!(
                    "{}... (256 characters) opening {}... (251 characters) denied",
                    &format!("OPEN:{long}:")[..200],
                    &format!("{long}:")[..200]
                ),
            ),
            ("y".repeat(208), "y".repeat(208)),
            (
                format!("\"{}...\":", "q".repeat(200)),
                format!("\"{}...\":", "q".repeat(200)),
            ),
        ];
        for (message, want) in cases {
            assert_eq!(shorten_long_words(&message), want);
        }
    }
}
