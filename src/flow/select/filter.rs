//! The `--filter` grammar: a small BPF-like language over flows, parsed by hand so that every
//! error points at the offending token with a caret (docs/selection.md).
//!
//! ```text
//! expr      = operand { ("and" | "&&") operand }      one operator per level:
//!           | operand { ("or"  | "||") operand }      mixing them needs parentheses
//! operand   = ("not" | "!") operand | "(" expr ")" | primitive
//! primitive = [role] "host" ADDR | [role] "net" ADDR/LEN | [role] "port" N
//!           | [role] "portrange" N-M | "tcp" | "udp" | "quic" | "tunnel"
//!           | "vni" N | "flow" ID
//! role      = "client" | "server"
//! ```
//!
//! Mixing `and` and `or` without parentheses is refused because BPF and Wireshark read it
//! differently: pcap-filter(7) gives them equal precedence, left to right (`a or b and c` is
//! `(a or b) and c`), Wireshark's display filters bind `and` tighter (`a or (b and c)`).

use std::fmt;
use std::net::IpAddr;

use super::Flow;
use crate::flow::Protocol;

/// Parentheses and `not`s nested deeper than this are refused (the parser recurses).
const MAX_DEPTH: usize = 64;

/// Which end of a flow a primitive looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Either,
    Client,
    Server,
}

/// An address prefix, `net 10.0.0.0/8`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Net {
    addr: IpAddr,
    len: u8,
}

impl Net {
    fn contains(self, a: IpAddr) -> bool {
        match (self.addr, a) {
            (IpAddr::V4(n), IpAddr::V4(a)) => {
                masked(n.to_bits().into(), self.len, 32) == masked(a.to_bits().into(), self.len, 32)
            }
            (IpAddr::V6(n), IpAddr::V6(a)) => {
                masked(n.to_bits(), self.len, 128) == masked(a.to_bits(), self.len, 128)
            }
            _ => false,
        }
    }
}

/// The top `len` of the `width` low bits of `v`.
fn masked(v: u128, len: u8, width: u32) -> u128 {
    let host_bits = width - u32::from(len);
    v.checked_shr(host_bits).unwrap_or(0)
}

/// One test on a flow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Prim {
    Host(Role, IpAddr),
    Net(Role, Net),
    Ports(Role, u16, u16),
    Protocol(Protocol),
    Quic,
    Tunnel,
    Vni(u32),
    Flow(u32),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expr {
    Prim(Prim),
    Not(Box<Expr>),
    And(Vec<Expr>),
    Or(Vec<Expr>),
}

/// A parsed `--filter`, with the text it came from.
#[derive(Debug, Clone)]
pub struct Filter {
    pub text: String,
    pub expr: Expr,
}

impl Filter {
    pub fn parse(text: &str) -> Result<Filter, FilterError> {
        let tokens = lex(text)?;
        let mut p = Parser {
            text,
            tokens,
            at: 0,
        };
        let expr = p.expr(0)?;
        if let Some(t) = p.peek() {
            let what = if t.kind == Tok::Close {
                "`)` without a matching `(`"
            } else {
                "expected `and` or `or` between two tests"
            };
            return Err(p.error_at(t, what));
        }
        Ok(Filter {
            text: text.to_string(),
            expr,
        })
    }

    pub fn matches(&self, f: &Flow) -> bool {
        self.expr.matches(f)
    }
}

impl Expr {
    pub fn matches(&self, f: &Flow) -> bool {
        match self {
            Expr::Prim(p) => p.matches(f),
            Expr::Not(e) => !e.matches(f),
            Expr::And(v) => v.iter().all(|e| e.matches(f)),
            Expr::Or(v) => v.iter().any(|e| e.matches(f)),
        }
    }
}

impl Prim {
    pub fn matches(&self, f: &Flow) -> bool {
        match *self {
            Prim::Host(role, a) => addresses(f, role).any(|x| x == a),
            Prim::Net(role, n) => addresses(f, role).any(|x| n.contains(x)),
            Prim::Ports(role, lo, hi) => ends(f, role).any(|e| (lo..=hi).contains(&e.port)),
            Prim::Protocol(p) => f.key.protocol == p,
            Prim::Quic => f.is_quic(),
            Prim::Tunnel => f.key.tunnel.is_some(),
            Prim::Vni(v) => f.key.tunnel.is_some_and(|t| t.vni == v) || f.reverse_vni == Some(v),
            Prim::Flow(id) => f.id == id,
        }
    }
}

/// The flow's inner endpoints of `role`.
fn ends(f: &Flow, role: Role) -> impl Iterator<Item = crate::flow::Endpoint> {
    let (c, s) = (f.client(), f.server());
    let pick = match role {
        Role::Either => [Some(c), Some(s)],
        Role::Client => [Some(c), None],
        Role::Server => [None, Some(s)],
    };
    pick.into_iter().flatten()
}

/// The addresses of `role`: the inner endpoint's and, in a tunnel, the outer (VTEP) one, as
/// Wireshark's `ip.addr` matches every IP layer of a frame.
fn addresses(f: &Flow, role: Role) -> impl Iterator<Item = IpAddr> {
    let outer = f
        .outer_client_server()
        .or_else(|| f.key.tunnel.map(|t| (t.outer[0], t.outer[1])));
    let outer = match (outer, role) {
        (None, _) => [None, None],
        (Some((c, s)), Role::Either) => [Some(c), Some(s)],
        (Some((c, _)), Role::Client) => [Some(c), None],
        (Some((_, s)), Role::Server) => [None, Some(s)],
    };
    ends(f, role)
        .map(|e| e.addr)
        .chain(outer.into_iter().flatten())
}

/// A filter that does not parse: what is wrong and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilterError {
    pub message: String,
    pub input: String,
    /// Byte range of the offending token (empty at the end of the input).
    pub start: usize,
    pub end: usize,
}

impl std::error::Error for FilterError {}

impl fmt::Display for FilterError {
    /// The message, then the filter with a caret under the offending token.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let col = |s: &str| s.chars().count();
        let before = self.input.get(..self.start).map_or(0, col);
        let width = self.input.get(self.start..self.end).map_or(0, col).max(1);
        let shown: String = self
            .input
            .chars()
            .map(|c| if c.is_whitespace() { ' ' } else { c })
            .collect();
        write!(
            f,
            "{}\n    {shown}\n    {}{}",
            self.message,
            " ".repeat(before),
            "^".repeat(width)
        )
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tok {
    Open,
    Close,
    Not,
    And,
    Or,
    Word,
}

#[derive(Debug, Clone, Copy)]
struct Token {
    kind: Tok,
    start: usize,
    end: usize,
}

fn error(text: &str, start: usize, end: usize, message: impl Into<String>) -> FilterError {
    FilterError {
        message: message.into(),
        input: text.to_string(),
        start,
        end,
    }
}

/// Splits the filter into tokens; words run until white space or one of `()!&|`.
fn lex(text: &str) -> Result<Vec<Token>, FilterError> {
    let mut out = Vec::new();
    let mut chars = text.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        let single = |kind| Token {
            kind,
            start: i,
            end: i + 1,
        };
        match c {
            c if c.is_whitespace() => {}
            '(' => out.push(single(Tok::Open)),
            ')' => out.push(single(Tok::Close)),
            '!' => out.push(single(Tok::Not)),
            '&' | '|' => {
                if chars.next_if(|&(_, n)| n == c).is_none() {
                    let op = if c == '&' { "&&" } else { "||" };
                    return Err(error(text, i, i + 1, format!("expected `{op}`")));
                }
                let kind = if c == '&' { Tok::And } else { Tok::Or };
                out.push(Token {
                    kind,
                    start: i,
                    end: i + 2,
                });
            }
            _ => {
                let mut end = i + c.len_utf8();
                while let Some((j, n)) =
                    chars.next_if(|&(_, n)| !n.is_whitespace() && !"()!&|".contains(n))
                {
                    end = j + n.len_utf8();
                }
                let word = &text[i..end];
                let kind = match word {
                    "and" => Tok::And,
                    "or" => Tok::Or,
                    "not" => Tok::Not,
                    _ => Tok::Word,
                };
                out.push(Token {
                    kind,
                    start: i,
                    end,
                });
            }
        }
    }
    Ok(out)
}

struct Parser<'a> {
    text: &'a str,
    tokens: Vec<Token>,
    at: usize,
}

impl<'a> Parser<'a> {
    fn peek(&self) -> Option<Token> {
        self.tokens.get(self.at).copied()
    }

    fn next(&mut self) -> Option<Token> {
        let t = self.peek();
        self.at += usize::from(t.is_some());
        t
    }

    fn word(&self, t: Token) -> &'a str {
        self.text.get(t.start..t.end).unwrap_or("")
    }

    fn error_at(&self, t: Token, message: impl Into<String>) -> FilterError {
        error(self.text, t.start, t.end, message)
    }

    fn error_at_end(&self, message: impl Into<String>) -> FilterError {
        let n = self.text.len();
        error(self.text, n, n, message)
    }

    /// Operands joined by one kind of operator.
    fn expr(&mut self, depth: usize) -> Result<Expr, FilterError> {
        let mut items = vec![self.operand(depth)?];
        let mut op: Option<Tok> = None;
        while let Some(t) = self.peek().filter(|t| matches!(t.kind, Tok::And | Tok::Or)) {
            if op.is_some_and(|o| o != t.kind) {
                return Err(self.error_at(
                    t,
                    "mixing `and` and `or` needs parentheses: BPF reads `a or b and c` as \
                     `(a or b) and c`, Wireshark as `a or (b and c)`",
                ));
            }
            op = Some(t.kind);
            self.next();
            items.push(self.operand(depth)?);
        }
        Ok(match op {
            None => items.pop().unwrap_or(Expr::And(Vec::new())),
            Some(Tok::Or) => Expr::Or(items),
            Some(_) => Expr::And(items),
        })
    }

    fn operand(&mut self, depth: usize) -> Result<Expr, FilterError> {
        let Some(t) = self.next() else {
            return Err(self.error_at_end("expected a test (host, net, port, tcp, udp, …)"));
        };
        if depth >= MAX_DEPTH {
            return Err(self.error_at(t, "nested too deeply"));
        }
        match t.kind {
            Tok::Not => Ok(Expr::Not(Box::new(self.operand(depth + 1)?))),
            Tok::Open => {
                let e = self.expr(depth + 1)?;
                match self.next() {
                    Some(c) if c.kind == Tok::Close => Ok(e),
                    Some(c) => Err(self.error_at(c, "expected `)`")),
                    None => Err(self.error_at(t, "this `(` is never closed")),
                }
            }
            Tok::Word => self.primitive(t).map(Expr::Prim),
            Tok::Close | Tok::And | Tok::Or => {
                Err(self.error_at(t, "expected a test (host, net, port, tcp, udp, …) here"))
            }
        }
    }

    fn primitive(&mut self, t: Token) -> Result<Prim, FilterError> {
        let (role, t) = match self.word(t) {
            "client" | "server" => {
                let role = if self.word(t) == "client" {
                    Role::Client
                } else {
                    Role::Server
                };
                let next = self
                    .next()
                    .filter(|n| matches!(self.word(*n), "host" | "net" | "port" | "portrange"));
                let n = next.ok_or_else(|| {
                    self.error_at(
                        t,
                        "expected `host`, `net`, `port` or `portrange` after this",
                    )
                })?;
                (role, n)
            }
            _ => (Role::Either, t),
        };
        Ok(match self.word(t) {
            "host" => Prim::Host(role, self.value(t, "an IP address", |w| w.parse().ok())?),
            "net" => Prim::Net(
                role,
                self.value(t, "a prefix such as 10.0.0.0/8", parse_net)?,
            ),
            "port" => {
                let p = self.value(t, "a port number (0-65535)", |w| w.parse().ok())?;
                Prim::Ports(role, p, p)
            }
            "portrange" => {
                let (lo, hi) = self.value(t, "a port range such as 8000-8080", parse_range)?;
                Prim::Ports(role, lo, hi)
            }
            "tcp" => Prim::Protocol(Protocol::Tcp),
            "udp" => Prim::Protocol(Protocol::Udp),
            "quic" => Prim::Quic,
            "tunnel" => Prim::Tunnel,
            "vni" => Prim::Vni(self.value(t, "a VNI (a number)", |w| w.parse().ok())?),
            "flow" => Prim::Flow(self.value(t, "a flow id (1, 2, …)", |w| {
                w.parse().ok().filter(|&id| id > 0)
            })?),
            w => return Err(self.error_at(t, unknown(w))),
        })
    }

    /// The word after keyword `k`, read by `parse`.
    fn value<T>(
        &mut self,
        k: Token,
        what: &str,
        parse: impl Fn(&str) -> Option<T>,
    ) -> Result<T, FilterError> {
        let key = self.word(k);
        match self.next() {
            Some(t) if t.kind == Tok::Word => parse(self.word(t))
                .ok_or_else(|| self.error_at(t, format!("expected {what} after `{key}`"))),
            Some(t) => Err(self.error_at(t, format!("expected {what} after `{key}`"))),
            None => Err(self.error_at_end(format!("expected {what} after `{key}`"))),
        }
    }
}

/// Why word `w` is not a test, with the likely intent.
fn unknown(w: &str) -> String {
    if matches!(w, "src" | "dst") {
        format!(
            "`{w}` is a packet's direction; a flow has a client and a server: write `client \
             host …` or `server port …`"
        )
    } else if w.contains("==")
        || w.contains('.') && w.chars().next().is_some_and(char::is_alphabetic)
    {
        format!(
            "`{w}` looks like a Wireshark display filter; this grammar is BPF-like: `host \
             10.0.0.1 and port 443` (docs/selection.md)"
        )
    } else {
        format!(
            "unknown test `{w}`: expected host, net, port, portrange, tcp, udp, quic, tunnel, \
             vni, flow, client or server"
        )
    }
}

/// `ADDR/LEN` with no bits set beyond the prefix (as tcpdump refuses "non-network bits set").
fn parse_net(w: &str) -> Option<Net> {
    let (a, l) = w.split_once('/')?;
    let addr: IpAddr = a.parse().ok()?;
    let len: u8 = l.parse().ok()?;
    let width = if addr.is_ipv4() { 32 } else { 128 };
    if u32::from(len) > width {
        return None;
    }
    let net = Net { addr, len };
    let bits = match addr {
        IpAddr::V4(v) => u128::from(v.to_bits()),
        IpAddr::V6(v) => v.to_bits(),
    };
    let host_bits = width - u32::from(len);
    let host_mask = 1u128.checked_shl(host_bits).map_or(u128::MAX, |m| m - 1);
    (bits & host_mask == 0).then_some(net)
}

/// `LO-HI` with `LO <= HI`.
fn parse_range(w: &str) -> Option<(u16, u16)> {
    let (lo, hi) = w.split_once('-')?;
    let (lo, hi): (u16, u16) = (lo.parse().ok()?, hi.parse().ok()?);
    (lo <= hi).then_some((lo, hi))
}
