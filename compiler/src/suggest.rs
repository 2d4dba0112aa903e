//! "Did you mean": the nearest candidate by edit distance.

/// The candidate closest to `name`, if it is close enough to be a likely typo.
pub fn nearest<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let lower = name.to_lowercase();
    let mut best: Option<(usize, &str)> = None;
    for c in candidates {
        if c == name {
            continue;
        }
        let d = if c.to_lowercase() == lower { 0 } else { strsim::damerau_levenshtein(&lower, &c.to_lowercase()) };
        // Allow about one edit per three characters, at least one.
        let limit = (name.chars().count().max(c.chars().count()) / 3).max(1);
        if d <= limit && best.is_none_or(|(bd, bc)| d < bd || (d == bd && c < bc)) {
            best = Some((d, c));
        }
    }
    best.map(|(_, c)| c)
}

/// A help line `did you mean `x`?` for the nearest candidate.
pub fn did_you_mean<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<String> {
    nearest(name, candidates).map(|c| format!("did you mean `{c}`?"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_typos_and_case() {
        assert_eq!(nearest("Purchse", ["Purchase", "CartAdd"]), Some("Purchase"));
        assert_eq!(nearest("cartadd", ["Purchase", "CartAdd"]), Some("CartAdd"));
        assert_eq!(nearest("zzz", ["Purchase", "CartAdd"]), None);
        assert_eq!(
            nearest("commerce.purchase", ["commerce.purchases", "commerce.productViews"]),
            Some("commerce.purchases")
        );
    }
}
