//! How values from outside appear in messages: an id can be anything a client sent (5,000
//! characters, say), so messages show at most its first [`ID_CHARS`] characters.

/// Characters of an id a message shows.
pub const ID_CHARS: usize = 64;

/// `id` for a message: whole when short, else its first [`ID_CHARS`] characters and `…`.
pub fn id(id: &str) -> String {
    match id.char_indices().nth(ID_CHARS) {
        None => id.to_string(),
        Some((cut, _)) => format!("{}…", &id[..cut]),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn long_ids_are_cut_on_a_character_boundary() {
        assert_eq!(super::id("abc"), "abc");
        let long = "中".repeat(5_000);
        let shown = super::id(&long);
        assert_eq!(shown.chars().count(), super::ID_CHARS + 1);
        assert!(shown.ends_with('…'));
        assert_eq!(super::id(&"x".repeat(64)), "x".repeat(64));
    }
}
