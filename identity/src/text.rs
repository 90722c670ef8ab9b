//! Text that came from a caller, bounded before we repeat it: in an error answered to the
//! caller, an audit record or a log line, nothing the caller sent may take more than
//! [`ECHO_LIMIT`] characters, so that nothing we echo or store is attacker-sized.

/// The most characters of anything from a caller that we repeat anywhere.
pub const ECHO_LIMIT: usize = 256;

/// At most `max_chars` characters of `text`, ending in `…` where cut.
pub fn at_most(text: &str, max_chars: usize) -> String {
    match text.char_indices().nth(max_chars) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}

/// [`at_most`] in place, allocating only when `text` is cut.
pub fn bound(text: &mut String, max_chars: usize) {
    if let Some((cut, _)) = text.char_indices().nth(max_chars) {
        text.truncate(cut);
        text.push('…');
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cuts_on_a_character_boundary_and_says_so() {
        assert_eq!(at_most("short", 10), "short");
        assert_eq!(at_most("exactly10!", 10), "exactly10!");
        assert_eq!(at_most("élan vital", 4), "élan…");
        let mut long = "ü".repeat(1000);
        bound(&mut long, ECHO_LIMIT);
        assert_eq!(long.chars().count(), ECHO_LIMIT + 1);
        assert!(long.ends_with('…'));
    }
}
