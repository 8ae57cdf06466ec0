//! "Did you mean ...?" for misspelt section, key and variable names.

/// The candidate closest to `word` (any case), if it is close enough to be a typo: at most two
/// edits, and fewer edits than `word` has characters so short words do not match everything.
pub(super) fn closest<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let word = word.to_ascii_lowercase();
    candidates
        .into_iter()
        .map(|c| (distance(&word, &c.to_ascii_lowercase()), c))
        .filter(|&(d, _)| d <= 2 && d < word.chars().count())
        .min_by_key(|&(d, _)| d)
        .map(|(_, c)| c)
}

/// Levenshtein distance: insertions, deletions and substitutions of one character.
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let substitution = diagonal + usize::from(ca != cb);
            diagonal = row[j + 1];
            row[j + 1] = substitution.min(row[j] + 1).min(diagonal + 1);
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distances() {
        assert_eq!(distance("", ""), 0);
        assert_eq!(distance("port", "port"), 0);
        assert_eq!(distance("annnounce_interval", "announce_interval"), 1);
        assert_eq!(distance("prot", "port"), 2);
        assert_eq!(distance("kitten", "sitting"), 3);
        assert_eq!(distance("", "abc"), 3);
    }

    #[test]
    fn suggests_only_near_misses() {
        let keys = ["port", "host", "announce_interval", "min_interval"];
        assert_eq!(
            closest("annnounce_interval", keys),
            Some("announce_interval")
        );
        assert_eq!(closest("PORTT", keys), Some("port"));
        assert_eq!(closest("min-interval", keys), Some("min_interval"));
        assert_eq!(closest("debug", keys), None);
        assert_eq!(closest("x", keys), None);
    }
}
