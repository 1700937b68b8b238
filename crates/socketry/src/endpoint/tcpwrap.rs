//! TCP wrappers' access tables (hosts_access(5)), read by socketry itself: `tcpwrap`,
//! `hosts-allow`, `hosts-deny` and `tcpwrap-etc` admit an internet peer as libwrap would,
//! without linking it. A peer is admitted when a rule of the allow table matches it, refused
//! when a rule of the deny table does, and admitted otherwise; a rule's `allow` or `deny`
//! option (hosts_options(5)) overrides its table. The tables are read for every peer, as
//! tcpd reads them, so an edit takes effect at the next peer. A missing table is an empty
//! one; a deny table that exists but cannot be read refuses everyone.
//!
//! A rule is `daemons : clients [: options]`. Daemon patterns match the daemon name
//! (`tcpwrap=NAME`, by default the program's name); client patterns match the peer's address
//! or the name its address resolves to: `ALL`, `KNOWN`, `UNKNOWN`, `LOCAL`, `PARANOID`,
//! `.domain`, `net.prefix.`, `n.n.n.n/m.m.m.m` and `/bits`, `[v6addr]` and `[v6addr]/bits`,
//! `*` and `?` wildcards, `/file` of patterns, and `EXCEPT` between lists. `@netgroup`
//! patterns and `user@host` other than `ALL@host` never match, as ident is never asked; the
//! options that run commands (`spawn`, `twist`) are not run, which is logged.

use std::cell::OnceCell;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};

use crate::address::{IpRange, OptionId, Options, Value};

/// Where the tables are when no option says otherwise.
const DEFAULT_ETC: &str = "/etc";

/// One address's TCP wrappers check: the daemon name its rules are matched against, and
/// its two tables.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TcpWrap {
    daemon: String,
    allow: PathBuf,
    deny: PathBuf,
}

/// What a table says of a peer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verdict {
    Allow,
    Deny,
}

impl TcpWrap {
    /// The check an address's options ask for: any of `tcpwrap`, `tcpwrap-etc`,
    /// `hosts-allow` and `hosts-deny` turns it on, as in socat.
    pub fn from_options(options: &Options) -> Option<TcpWrap> {
        let text = |id| match options.get(id) {
            Some(Value::Text(text)) => Some(text.clone()),
            _ => None,
        };
        let daemon = text(OptionId::TcpWrap);
        let etc = text(OptionId::TcpWrapEtc);
        let allow = text(OptionId::HostsAllow);
        let deny = text(OptionId::HostsDeny);
        if daemon.is_none() && etc.is_none() && allow.is_none() && deny.is_none() {
            return None;
        }
        let etc = PathBuf::from(etc.unwrap_or_else(|| DEFAULT_ETC.to_owned()));
        Some(TcpWrap {
            daemon: daemon.unwrap_or_else(crate::address::options::program_name),
            allow: allow.map_or_else(|| etc.join("hosts.allow"), PathBuf::from),
            deny: deny.map_or_else(|| etc.join("hosts.deny"), PathBuf::from),
        })
    }

    /// Why `peer` is refused, or `None` when the tables admit it.
    pub fn refusal(&self, peer: &SocketAddr) -> Option<String> {
        let client = Client::new(peer.ip());
        match self.verdict(&self.allow, Verdict::Allow, &client) {
            Ok(Some(Verdict::Allow)) => return None,
            Ok(Some(Verdict::Deny)) => {
                return Some(format!("denied by a rule of {}", self.allow.display()))
            }
            Ok(None) => {}
            Err(why) => tracing::warn!("tcpwrap: {why}; going on to the deny table"),
        }
        match self.verdict(&self.deny, Verdict::Deny, &client) {
            Ok(Some(Verdict::Deny)) => Some(format!("denied by {}", self.deny.display())),
            Ok(_) => None,
            Err(why) => Some(format!("tcpwrap: {why}")),
        }
    }

    /// The verdict of the first rule of `table` that matches `client` (`default` unless its
    /// options say otherwise), or `None` when none does.
    fn verdict(
        &self,
        table: &Path,
        default: Verdict,
        client: &Client,
    ) -> Result<Option<Verdict>, String> {
        let text = match std::fs::read_to_string(table) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => {
                return Err(format!(
                    "cannot read {}: {}",
                    table.display(),
                    crate::sys::error_text(&e)
                ))
            }
        };
        for (line, rule) in rules(&text) {
            let fields = split_fields(&rule);
            let [daemons, clients, options @ ..] = fields.as_slice() else {
                tracing::warn!("tcpwrap: {}:{line}: missing ':' separator", table.display());
                continue;
            };
            if !list_match(&tokens(daemons), &|p| self.daemon_match(p))
                || !list_match(&tokens(clients), &|p| client.matches(p))
            {
                continue;
            }
            let mut verdict = default;
            for option in options {
                match option.trim().to_ascii_lowercase().as_str() {
                    "allow" => verdict = Verdict::Allow,
                    "deny" => verdict = Verdict::Deny,
                    other => tracing::warn!(
                        "tcpwrap: {}:{line}: option \"{other}\" is not carried out (only allow and deny are)",
                        table.display()
                    ),
                }
            }
            tracing::debug!(
                "tcpwrap: {} matched by {}:{line}",
                client.addr,
                table.display()
            );
            return Ok(Some(verdict));
        }
        Ok(None)
    }

    fn daemon_match(&self, pattern: &str) -> bool {
        match pattern.split_once('@') {
            // A server-address qualifier: this listener's address is not asked, so only
            // a qualifier that matches every host counts.
            Some((daemon, host)) => host.eq_ignore_ascii_case("ALL") && self.daemon_match(daemon),
            None => {
                pattern.eq_ignore_ascii_case("ALL")
                    || wildcard_match(
                        &pattern.to_ascii_lowercase(),
                        &self.daemon.to_ascii_lowercase(),
                    )
            }
        }
    }
}

/// The rules of a table with their line numbers: comments and blank lines dropped, lines
/// ending in a backslash joined to the next.
fn rules(text: &str) -> Vec<(usize, String)> {
    let mut rules = Vec::new();
    let mut pending = String::new();
    let mut first = 0;
    for (i, line) in text.lines().enumerate() {
        if pending.is_empty() {
            first = i + 1;
        }
        match line.strip_suffix('\\') {
            Some(start) => {
                pending.push_str(start);
                pending.push(' ');
            }
            None => {
                pending.push_str(line);
                let rule = std::mem::take(&mut pending);
                let trimmed = rule.trim();
                if !trimmed.is_empty() && !trimmed.starts_with('#') {
                    rules.push((first, trimmed.to_owned()));
                }
            }
        }
    }
    rules
}

/// A rule's fields, split at colons outside brackets (`[::1]` keeps its own).
fn split_fields(rule: &str) -> Vec<String> {
    let mut fields = vec![String::new()];
    let mut depth = 0usize;
    for c in rule.chars() {
        match c {
            '[' => depth += 1,
            ']' => depth = depth.saturating_sub(1),
            ':' if depth == 0 => {
                fields.push(String::new());
                continue;
            }
            _ => {}
        }
        if let Some(field) = fields.last_mut() {
            field.push(c);
        }
    }
    fields
}

/// The patterns of a list, separated by commas and white space.
fn tokens(list: &str) -> Vec<&str> {
    list.split(|c: char| c == ',' || c.is_whitespace())
        .filter(|t| !t.is_empty())
        .collect()
}

/// Whether a pattern of `list` matches and no pattern after a following `EXCEPT` does
/// (libwrap's `list_match`, exceptions nesting to the right).
fn list_match(list: &[&str], matches: &dyn Fn(&str) -> bool) -> bool {
    for (i, token) in list.iter().enumerate() {
        if token.eq_ignore_ascii_case("EXCEPT") {
            return false;
        }
        if matches(token) {
            return match list[i + 1..]
                .iter()
                .position(|t| t.eq_ignore_ascii_case("EXCEPT"))
            {
                Some(at) => !list_match(&list[i + 1 + at + 1..], matches),
                None => true,
            };
        }
    }
    false
}

/// `*` (any run) and `?` (any one character) wildcards; everything else literally.
fn wildcard_match(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

/// The peer as hosts_access sees it: its address, and the name that resolves to it, looked
/// up only when a pattern needs it.
struct Client {
    addr: IpAddr,
    name: OnceCell<Option<String>>,
}

impl Client {
    fn new(addr: IpAddr) -> Client {
        // An IPv4 peer of an IPv6 socket is matched as the IPv4 address it is.
        let addr = match addr {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(addr, IpAddr::V4),
            v4 => v4,
        };
        Client {
            addr,
            name: OnceCell::new(),
        }
    }

    fn name(&self) -> Option<&str> {
        self.name
            .get_or_init(|| {
                crate::sys::socket::host_name_of(&SocketAddr::new(self.addr, 0))
                    .map(|n| n.to_ascii_lowercase())
            })
            .as_deref()
    }

    /// Whether the name the address resolves to resolves back to the address.
    fn confirmed(&self, name: &str) -> bool {
        use std::net::ToSocketAddrs;
        (name, 0)
            .to_socket_addrs()
            .is_ok_and(|mut addrs| addrs.any(|a| a.ip() == self.addr))
    }

    fn matches(&self, pattern: &str) -> bool {
        let upper = pattern.to_ascii_uppercase();
        match upper.as_str() {
            "ALL" => return true,
            "KNOWN" => return self.name().is_some(),
            "UNKNOWN" => return self.name().is_none(),
            "LOCAL" => return self.name().is_some_and(|n| !n.contains('.')),
            "PARANOID" => return self.name().is_some_and(|n| !self.confirmed(n)),
            _ => {}
        }
        if let Some((user, host)) = pattern.split_once('@').filter(|(u, _)| !u.is_empty()) {
            // Which user a peer is would need ident (RFC 931), which is never asked.
            return user.eq_ignore_ascii_case("ALL") && self.matches(host);
        }
        if pattern.starts_with('@') {
            tracing::debug!("tcpwrap: netgroup pattern {pattern} never matches");
            return false;
        }
        if pattern.starts_with('/') {
            return self.file_matches(Path::new(pattern));
        }
        if pattern.starts_with('[') || pattern.contains('/') {
            // libwrap's net/mask is `n.n.n.n/m.m.m.m`; `range=` writes it with a colon.
            let range = match pattern.split_once('/') {
                Some((net, mask)) if mask.parse::<std::net::Ipv4Addr>().is_ok() => {
                    format!("{net}:{mask}")
                }
                _ => pattern.to_owned(),
            };
            return range
                .parse::<IpRange>()
                .is_ok_and(|range| range.contains(self.addr));
        }
        let pattern = pattern.to_ascii_lowercase();
        let addr = self.addr.to_string();
        if pattern.contains(['*', '?']) {
            return wildcard_match(&pattern, &addr)
                || self.name().is_some_and(|n| wildcard_match(&pattern, n));
        }
        if pattern.ends_with('.') {
            return addr.starts_with(&pattern);
        }
        if pattern.starts_with('.') {
            return self.name().is_some_and(|n| n.ends_with(&pattern));
        }
        if let Ok(ip) = pattern.parse::<IpAddr>() {
            return ip == self.addr;
        }
        self.name().is_some_and(|n| n == pattern)
    }

    /// A `/file` pattern: the patterns in the file, any of which may match.
    fn file_matches(&self, path: &Path) -> bool {
        match std::fs::read_to_string(path) {
            Ok(text) => text
                .lines()
                .filter(|l| !l.trim_start().starts_with('#'))
                .flat_map(tokens)
                .any(|p| self.matches(p)),
            Err(e) => {
                tracing::warn!(
                    "tcpwrap: cannot read the pattern file {}: {}",
                    path.display(),
                    crate::sys::error_text(&e)
                );
                false
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wrap(dir: &Path, daemon: &str, allow: &str, deny: &str) -> TcpWrap {
        std::fs::write(dir.join("hosts.allow"), allow).unwrap();
        std::fs::write(dir.join("hosts.deny"), deny).unwrap();
        TcpWrap {
            daemon: daemon.to_owned(),
            allow: dir.join("hosts.allow"),
            deny: dir.join("hosts.deny"),
        }
    }

    fn admits(wrap: &TcpWrap, peer: &str) -> bool {
        wrap.refusal(&SocketAddr::new(peer.parse().unwrap(), 1000))
            .is_none()
    }

    #[test]
    fn allow_first_then_deny_then_admit() {
        let dir = tempfile::tempdir().unwrap();
        let w = wrap(dir.path(), "socat", "socat: 127.0.0.2\n", "ALL: ALL\n");
        assert!(admits(&w, "127.0.0.2"));
        assert!(!admits(&w, "127.0.0.1"));
        let w = wrap(dir.path(), "other", "socat: 127.0.0.2\n", "ALL: ALL\n");
        assert!(
            !admits(&w, "127.0.0.2"),
            "the allow rule is for another daemon"
        );
        let w = wrap(dir.path(), "other", "", "ALL: 10.\n");
        assert!(admits(&w, "127.0.0.2"), "matched by neither table");
        assert!(!admits(&w, "10.1.2.3"));
    }

    #[test]
    fn patterns() {
        let dir = tempfile::tempdir().unwrap();
        let cases = [
            ("ALL: [::1]", "::1", true),
            ("ALL: [::1]", "::2", false),
            ("ALL: [::]/64", "::2", true),
            ("ALL: 127.0.0.0/255.0.0.0", "127.9.9.9", true),
            ("ALL: 127.0.0.0/8", "128.0.0.1", false),
            ("ALL: 127.0.0.1", "::ffff:127.0.0.1", true),
            ("ALL: 127.*.1", "127.5.5.1", true),
            ("ALL: 127.0.0.? ", "127.0.0.7", true),
            ("ALL: 127. EXCEPT 127.0.0.1", "127.0.0.1", false),
            ("ALL: 127. EXCEPT 127.0.0.1", "127.0.0.2", true),
            ("ALL EXCEPT test: ALL", "127.0.0.2", false),
            ("te*: ALL", "127.0.0.2", true),
            ("ALL: @group", "127.0.0.2", false),
            ("ALL: ALL@127.0.0.2", "127.0.0.2", true),
            ("ALL: someone@127.0.0.2", "127.0.0.2", false),
        ];
        for (rule, peer, admitted) in cases {
            let w = wrap(dir.path(), "test", "", &format!("{rule}\n"));
            assert_eq!(admits(&w, peer), !admitted, "{rule} for {peer}");
        }
    }

    #[test]
    fn options_continuations_and_comments() {
        let dir = tempfile::tempdir().unwrap();
        let w = wrap(dir.path(), "test", "test : ALL : deny\n", "");
        assert!(!admits(&w, "127.0.0.1"), "a deny option in the allow table");
        let w = wrap(dir.path(), "test", "", "ALL : ALL : allow\n");
        assert!(admits(&w, "127.0.0.1"), "an allow option in the deny table");
        let w = wrap(
            dir.path(),
            "test",
            "# ALL: ALL\n\nno separator\n",
            "test, \\\n other: 127.0.0.1\n",
        );
        assert!(!admits(&w, "127.0.0.1"));
        assert!(admits(&w, "127.0.0.2"));
    }

    #[test]
    fn pattern_files_and_tables() {
        let dir = tempfile::tempdir().unwrap();
        let list = dir.path().join("list");
        std::fs::write(&list, "# peers\n10.0.0.1 127.0.0.3\n").unwrap();
        let w = wrap(
            dir.path(),
            "test",
            "",
            &format!("ALL: {}\n", list.display()),
        );
        assert!(!admits(&w, "127.0.0.3"));
        assert!(admits(&w, "127.0.0.4"));
        let missing = TcpWrap {
            daemon: "test".to_owned(),
            allow: dir.path().join("absent.allow"),
            deny: dir.path().join("absent.deny"),
        };
        assert!(admits(&missing, "127.0.0.1"), "missing tables are empty");
        let unreadable = TcpWrap {
            deny: dir.path().to_owned(),
            ..missing
        };
        assert!(
            !admits(&unreadable, "127.0.0.1"),
            "a deny table that cannot be read"
        );
    }

    #[test]
    fn wildcards() {
        assert!(wildcard_match("a*c", "abbbc"));
        assert!(wildcard_match("*", ""));
        assert!(!wildcard_match("a?c", "ac"));
        assert!(wildcard_match("*.example.com", "www.example.com"));
    }
}
