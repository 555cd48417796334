//! Quantities for people: counts, bytes, rates and durations formatted for messages and the text
//! report, and parsed from the command line and policy files (sizes, durations, percentages).

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

/// `n` and its noun, which takes an `s` unless `n` is 1: "1 keep-alive", "3 keep-alives".
pub fn plural(n: u64, noun: &str) -> String {
    format!("{n} {noun}{}", s(n))
}

/// The plural `s` of a noun counted `n` times: "" for 1, "s" otherwise.
pub fn s(n: u64) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
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

/// Parses `1600x900`: each side 200 to 8192 pixels, at most 40 megapixels (a 120 MB canvas).
pub fn parse_picture_size(s: &str) -> Result<(u32, u32), String> {
    let bad = || format!("`{s}` is not a picture size: write WIDTHxHEIGHT, e.g. 1600x900");
    let (w, h) = s.trim().split_once(['x', 'X']).ok_or_else(bad)?;
    let (w, h): (u32, u32) = (w.parse().map_err(|_| bad())?, h.parse().map_err(|_| bad())?);
    if !(200..=8192).contains(&w) || !(200..=8192).contains(&h) {
        return Err("each side of a picture is 200 to 8192 pixels".into());
    }
    if u64::from(w) * u64::from(h) > 40_000_000 {
        return Err("a picture is at most 40 megapixels".into());
    }
    Ok((w, h))
}

/// Parses `65536`, `64K`, `16M`, `1G` (binary multiples; `KiB`/`MiB`/`GiB` and `B` accepted).
pub fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: u64 = num
        .parse()
        .map_err(|_| format!("`{s}` is not a size: write e.g. 65536, 512K or 16M"))?;
    let shift = match unit.trim().to_ascii_uppercase().as_str() {
        "" | "B" => 0,
        "K" | "KB" | "KIB" => 10,
        "M" | "MB" | "MIB" => 20,
        "G" | "GB" | "GIB" => 30,
        u => return Err(format!("unknown unit `{u}`: use K, M or G")),
    };
    n.checked_mul(1 << shift)
        .ok_or_else(|| format!("`{s}` is too large"))
}

/// Parses `100ms`, `1s`, `1.5s`, `250us`, `500ns` into nanoseconds (at least 1 µs, at most an
/// hour).
pub fn parse_duration_ns(s: &str) -> Result<i64, String> {
    let s = s.trim();
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .ok_or_else(|| format!("`{s}` has no unit: write e.g. 100ms, 1s, 250us"))?;
    let (num, unit) = s.split_at(split);
    let v: f64 = num
        .parse()
        .map_err(|_| format!("`{num}` is not a number"))?;
    let scale = match unit {
        "ns" => 1.0,
        "us" | "µs" => 1e3,
        "ms" => 1e6,
        "s" => 1e9,
        _ => return Err(format!("unknown unit `{unit}`: use ns, us, ms or s")),
    };
    let ns = v * scale;
    if !(1e3..=3.6e12).contains(&ns) {
        return Err("the interval must be between 1us and 1 hour".into());
    }
    Ok(ns as i64)
}

pub fn parse_percent(s: &str) -> Result<f64, String> {
    let v: f64 = s
        .trim_end_matches('%')
        .parse()
        .map_err(|_| format!("`{s}` is not a number"))?;
    if (0.0..=100.0).contains(&v) {
        Ok(v)
    } else {
        Err("a percentage is between 0 and 100".into())
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
    fn plurals() {
        assert_eq!(plural(1, "keep-alive"), "1 keep-alive");
        assert_eq!(plural(0, "time"), "0 times");
        assert_eq!(plural(2, "place"), "2 places");
        assert_eq!(s(1), "");
        assert_eq!(s(11), "s");
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

    #[test]
    fn durations() {
        assert_eq!(parse_duration_ns("100ms"), Ok(100_000_000));
        assert_eq!(parse_duration_ns("1.5s"), Ok(1_500_000_000));
        assert_eq!(parse_duration_ns("250us"), Ok(250_000));
        assert!(parse_duration_ns("100").is_err());
        assert!(parse_duration_ns("5 parsecs").is_err());
        assert!(parse_duration_ns("0ms").is_err());
        assert!(parse_duration_ns("2h").is_err());
        assert_eq!(parse_percent("0.5%"), Ok(0.5));
        assert_eq!(parse_size("65536"), Ok(65536));
        assert_eq!(parse_size("64K"), Ok(65536));
        assert_eq!(parse_size("16MiB"), Ok(16 << 20));
        assert!(parse_size("lots").is_err());
        assert!(parse_size("5T").is_err());
        assert!(parse_size("99999999999G").is_err());
        assert!(parse_percent("150").is_err());
        assert_eq!(parse_picture_size("1600x900"), Ok((1600, 900)));
        assert!(parse_picture_size("1600").is_err());
        assert!(parse_picture_size("10x10").is_err());
        assert!(parse_picture_size("8192x8192").is_err());
    }
}
