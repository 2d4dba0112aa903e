//! "Did you mean": the nearest candidate by edit distance.

/// The candidate closest to `name`, if it is close enough to be a likely typo.
pub fn nearest<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let lower = name.to_lowercase();
    let mut best: Option<(usize, &str)> = None;
    for c in candidates {
        if c == name {
            continue;
        }
        let cl = c.to_lowercase();
        let d = if cl == lower { 0 } else { strsim::damerau_levenshtein(&lower, &cl) };
        // Allow about one edit per three characters, at least one; a name that merely adds to
        // or drops the end of a candidate (`lowercase` for `lower`) also counts.
        let limit = (name.chars().count().max(c.chars().count()) / 3).max(1);
        let prefix = cl.len().min(lower.len()) >= 3 && (cl.starts_with(&lower) || lower.starts_with(&cl));
        let d = if prefix { d.min(limit) } else { d };
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
        assert_eq!(nearest("lowercase", ["lower", "upper"]), Some("lower"));
        assert_eq!(
            nearest("commerce.purchase", ["commerce.purchases", "commerce.productViews"]),
            Some("commerce.purchases")
        );
    }
}
