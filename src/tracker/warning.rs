//! What the tracker tells a client besides the answer: warnings as values, which each
//! transport renders its own way (HTTP: one `warning message`, BEP 3; UDP: nothing, BEP 15 has
//! no place for them).

use crate::policy::ReportedIpRejection;
use std::fmt;

/// One warning about an announce that was answered anyway.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Warning {
    /// The reported `ip=` was not used, and why.
    ReportedIp(ReportedIpRejection),
    /// The client asked for more peers than `[TRACKER] max_numwant`; it got at most this many.
    NumwantCapped(u32),
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Warning::ReportedIp(why) => f.write_str(why.as_str()),
            Warning::NumwantCapped(n) => write!(f, "numwant capped at {n}"),
        }
    }
}

/// The warnings of one answer, joined as HTTP's `warning message` shows them (`; ` between
/// them); `None` when there are none.
pub fn joined(warnings: &[Warning]) -> Option<String> {
    let mut it = warnings.iter();
    let first = it.next()?;
    let mut text = first.to_string();
    for w in it {
        text.push_str("; ");
        text.push_str(&w.to_string());
    }
    Some(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_text_of_each_warning_and_of_both() {
        let ip = Warning::ReportedIp(ReportedIpRejection::NotVerified);
        let cap = Warning::NumwantCapped(200);
        assert_eq!(joined(&[]), None);
        assert_eq!(
            joined(&[ip]).unwrap(),
            "reported ip ignored: not verified by a trusted proxy"
        );
        assert_eq!(joined(&[cap]).unwrap(), "numwant capped at 200");
        assert_eq!(
            joined(&[ip, cap]).unwrap(),
            "reported ip ignored: not verified by a trusted proxy; numwant capped at 200"
        );
    }
}
