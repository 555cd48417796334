//! Formatting of quantities for people: counts, bytes, rates, durations. Shared by the findings'
//! messages and the text report.

/// Formats `n` with thousands separators.
pub fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Bytes with a binary-free SI unit (B, kB, MB, GB), as network people read them.
pub fn bytes(n: u64) -> String {
    let f = n as f64;
    match n {
        0..=9_999 => format!("{n} B"),
        10_000..=999_999 => format!("{:.1} kB", f / 1e3),
        1_000_000..=999_999_999 => format!("{:.1} MB", f / 1e6),
        _ => format!("{:.2} GB", f / 1e9),
    }
}

/// Bits per second with an SI unit (bit/s, kbit/s, Mbit/s, Gbit/s).
pub fn rate(bps: f64) -> String {
    match bps {
        b if b < 1e3 => format!("{b:.0} bit/s"),
        b if b < 1e6 => format!("{:.1} kbit/s", b / 1e3),
        b if b < 1e9 => format!("{:.1} Mbit/s", b / 1e6),
        b => format!("{:.2} Gbit/s", b / 1e9),
    }
}

/// A duration in seconds: µs below a millisecond, ms below a second.
pub fn duration(s: f64) -> String {
    if s < 1e-3 && s > 0.0 {
        format!("{:.0} µs", s * 1e6)
    } else if s < 1.0 {
        format!("{:.1} ms", s * 1e3)
    } else {
        format!("{s:.3} s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn number_formats() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(1234567), "1,234,567");
        assert_eq!(bytes(9999), "9999 B");
        assert_eq!(bytes(2_555_366), "2.6 MB");
    }

    #[test]
    fn units() {
        assert_eq!(rate(999.0), "999 bit/s");
        assert_eq!(rate(220e6), "220.0 Mbit/s");
        assert_eq!(rate(2.5e9), "2.50 Gbit/s");
        assert_eq!(duration(0.5537), "553.7 ms");
        assert_eq!(duration(2.0), "2.000 s");
        assert_eq!(duration(0.00025), "250 µs");
        assert_eq!(duration(0.0), "0.0 ms");
    }
}
